//! The relay section of the comparison: cells, links both ways, the smuggling summary, a target
//! with only a relay report, escaping.

use super::*;
use crate::html::{Column, Page, Pages, is_transcript_page_of, render};
use crate::json::SAMPLE;

fn case(id: &str, verdict: Verdict, reason: Option<&str>) -> RelayColumnCase {
    RelayColumnCase {
        id: id.to_string(),
        title: format!("title of {id}"),
        file: "scenarios/relay/content.yaml".to_string(),
        line: 7,
        spec: vec!["SMTP-RELAY-1".to_string()],
        level: Level::Must,
        verdict,
        reason: reason.map(str::to_string),
        token: "t1".to_string(),
        submission: Some("accepted: 250 ok".to_string()),
        judgements: vec![RelayJudgement {
            spec: "SMTP-RELAY-1".to_string(),
            level: Level::Must,
            check: "CRLF only".to_string(),
            verdict,
            detail: reason.map(str::to_string),
        }],
        submission_transcript: format!("C: MAIL FROM:<a@{id}>\nS: 250 ok\n"),
        next_hop_transcript: format!("[    4 ms] c1 C: RCPT TO:<rcpt-{id}@relay.test>\n"),
    }
}

fn relay(name: &str, cases: Vec<RelayColumnCase>, smuggling: Vec<RelaySmuggling>) -> RelayColumn {
    RelayColumn {
        name: name.to_string(),
        inject: "smtp://127.0.0.1:25".to_string(),
        listen: "127.0.0.1:2700".to_string(),
        tool_version: "0.1.0".to_string(),
        smuggling,
        cases,
    }
}

fn smuggled(ending: &str, case: &str, verdict: Verdict, outcome: &str) -> RelaySmuggling {
    RelaySmuggling {
        ending: ending.to_string(),
        case: case.to_string(),
        verdict,
        outcome: outcome.to_string(),
    }
}

fn pages(columns: &[Column], relay: &[RelayColumn]) -> Pages {
    render(&Page {
        title: "t",
        columns,
        relay,
        spec: None,
        file: "cmp.html",
    })
}

/// The `<section>` of this id on a transcript page.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!(" id=\"{id}\""))
        .unwrap_or_else(|| panic!("no {id}"));
    let start = html[..start].rfind("<section").expect("a section");
    let end = html[start..].find("</section>").expect("section ends");
    &html[start..start + end]
}

#[test]
fn relay_cells_link_to_their_transcripts_and_back() {
    let pf = relay(
        "pf",
        vec![
            case("relay-crlf", Verdict::Pass, None),
            case(
                "relay-cr-dot-cr",
                Verdict::Fail,
                Some("a bare CR reached the next hop"),
            ),
        ],
        vec![smuggled(
            "<CR>.<CR>",
            "relay-cr-dot-cr",
            Verdict::Fail,
            "forwarded unchanged: a bare CR reached the next hop (octet 9)",
        )],
    );
    // A target with a relay report only: a column of its own, and a page of its own.
    let ex = relay(
        "ex",
        vec![case("relay-crlf", Verdict::Warn, Some("8-bit raw"))],
        vec![],
    );
    let columns = [Column::from_json("pf", SAMPLE).expect("sample loads")];
    let pages = pages(&columns, &[pf, ex]);
    let html = &pages.main;
    let files: Vec<(&str, &str)> = pages
        .transcripts
        .iter()
        .map(|p| (p.target.as_str(), p.file.as_str()))
        .collect();
    assert_eq!(files, [("pf", "cmp-pf.html"), ("ex", "cmp-ex.html")]);

    // After the conformance table; the relay-only target is not a conformance column.
    let relay_at = html
        .find("<h2 id=\"relay-section\">Outbound (relay mode)</h2>")
        .expect("relay section");
    assert!(html.find("<table id=\"cases\">").expect("cases") < relay_at);
    assert!(!html[..relay_at].contains("data-target=\"ex\""));
    assert!(html.contains("<li><a href=\"#relay-section\">Outbound (relay mode)</a></li>"));

    // One row per case, a cell per target: verdict, colour, reason on hover, the link.
    assert_eq!(html.matches("<tr id=\"relay-case-").count(), 2);
    assert!(html.contains(
        "<tr id=\"relay-case-relay-cr-dot-cr\" data-relay-case=\"relay-cr-dot-cr\"><th class=\"case\" scope=\"row\"><code>relay-cr-dot-cr</code><div class=\"title\">title of relay-cr-dot-cr</div></th><td>MUST</td><td class=\"reqs\">SMTP-RELAY-1</td>"
    ));
    assert!(html.contains(
        "<td class=\"cell v-fail\" data-target=\"pf\" data-verdict=\"FAIL\"><a href=\"cmp-pf.html#relay-case-relay-cr-dot-cr\" title=\"a bare CR reached the next hop\">FAIL</a></td>"
    ));
    assert!(html.contains(
        "<td class=\"cell v-pass\" data-target=\"pf\" data-verdict=\"PASS\"><a href=\"cmp-pf.html#relay-case-relay-crlf\">PASS</a></td>"
    ));
    assert!(html.contains(
        "<td class=\"cell v-warn\" data-target=\"ex\" data-verdict=\"WARN\"><a href=\"cmp-ex.html#relay-case-relay-crlf\" title=\"8-bit raw\">WARN</a></td>"
    ));
    assert!(html.contains(&format!(
        "<td class=\"cell v-none\" data-target=\"ex\" data-verdict=\"{NOT_RUN}\">{NOT_RUN}</td>"
    )));

    // The smuggling summary: what was forwarded unchanged, per target, and per ending.
    assert!(html.contains(
        "<tr data-info=\"forwarded\"><th>Forwarded unchanged</th><td data-target=\"pf\" data-forwarded=\"1\"><strong>&lt;CR&gt;.&lt;CR&gt;</strong></td><td data-target=\"ex\" data-forwarded=\"0\"><strong>none</strong></td></tr>"
    ));
    assert!(html.contains(
        "<td class=\"cell v-fail\" data-target=\"pf\" data-verdict=\"FAIL\" data-forwarded=\"yes\"><a href=\"cmp-pf.html#relay-case-relay-cr-dot-cr\" title=\"forwarded unchanged: a bare CR reached the next hop (octet 9)\">forwarded unchanged</a></td>"
    ));
    // The counts.
    assert!(html.contains(
        "<tr data-verdict=\"FAIL\"><th><span class=\"badge v-fail\">FAIL</span></th><td data-target=\"pf\">1</td><td data-target=\"ex\">0</td></tr>"
    ));
    // No transcript on the main page.
    assert!(!html.contains("<section"));
    assert!(!html.contains("MAIL FROM:"));

    // pf's page: its conformance transcripts, then its relay cases, each linking back.
    let pf_page = &pages.transcripts[0].html;
    assert!(pf_page.contains("<section class=\"transcript\" id=\"case-a\""));
    assert!(pf_page.find("id=\"case-a\"") < pf_page.find("id=\"relay-section\""));
    let cr = section(pf_page, "relay-case-relay-cr-dot-cr");
    assert!(cr.starts_with(
        "<section class=\"relay-transcript\" id=\"relay-case-relay-cr-dot-cr\" data-relay-case=\"relay-cr-dot-cr\" data-verdict=\"FAIL\">\n\
         <p class=\"back\"><a href=\"cmp.html#relay-case-relay-cr-dot-cr\">&larr; back to the table</a></p>"
    ));
    assert!(cr.contains(
        "<pre class=\"submission\">C: MAIL FROM:&lt;a@relay-cr-dot-cr&gt;\nS: 250 ok\n</pre>"
    ));
    assert!(cr.contains("<pre class=\"next-hop\">[    4 ms] c1 C: RCPT TO:&lt;rcpt-relay-cr-dot-cr@relay.test&gt;\n</pre>"));
    assert!(cr.contains("<dt>Why</dt><dd>a bare CR reached the next hop</dd>"));
    assert!(pf_page.contains("<li><code>&lt;CR&gt;.&lt;CR&gt;</code> <span class=\"badge v-fail\">FAIL</span> forwarded unchanged"));
    // ex's page: its relay case only, marked as a transcript page of the main page.
    let ex_page = &pages.transcripts[1].html;
    assert!(is_transcript_page_of(ex_page, "cmp.html"));
    assert!(ex_page.contains("<body class=\"transcripts\" data-target=\"ex\">"));
    assert!(!ex_page.contains("class=\"transcript\""));
    assert_eq!(
        ex_page
            .matches("<section class=\"relay-transcript\"")
            .count(),
        1
    );
    assert!(section(ex_page, "relay-case-relay-crlf").contains("data-verdict=\"WARN\""));

    // Every relay link of the main page leads to a relay section of that id on the named page,
    // and every section's first link back to a row of that id.
    let mut cells = 0;
    for rest in html.split("href=\"").skip(1) {
        let link = &rest[..rest.find('"').expect("closed")];
        let Some((file, fragment)) = link.split_once("#relay-case-") else {
            continue;
        };
        let page = pages
            .transcripts
            .iter()
            .find(|p| p.file == file)
            .expect("page");
        let id = format!("relay-case-{fragment}");
        let found = section(&page.html, &id);
        let back = format!("<a href=\"cmp.html#{id}\">");
        assert!(found.contains(&back), "{link}");
        assert!(html.contains(&format!("<tr id=\"{id}\"")));
        cells += 1;
    }
    assert_eq!(cells, 4, "three verdict cells and one smuggling cell");
}

#[test]
fn a_page_of_relay_reports_only() {
    let pages = pages(
        &[],
        &[relay(
            "pf",
            vec![case("relay-crlf", Verdict::Pass, None)],
            vec![],
        )],
    );
    let html = &pages.main;
    assert!(!html.contains("<table id=\"cases\">"));
    assert!(!html.contains("<table id=\"summary\">"));
    assert!(
        html.contains("<ul id=\"legend\">"),
        "the colours are explained"
    );
    assert!(html.contains("<table id=\"relay\">"));
    assert!(
        !html.contains("<table id=\"relay-smuggling\">"),
        "no smuggling case ran"
    );
    assert_eq!(pages.transcripts.len(), 1);
}

#[test]
fn hostile_relay_text_is_escaped() {
    let mut evil = case("relay-x", Verdict::Fail, Some("\"><b>reason</b>"));
    evil.title = "<script>alert(1)</script>".to_string();
    evil.submission_transcript = "S: 250 </pre><img src=x onerror=alert(1)>&amp;".to_string();
    evil.next_hop_transcript = "   | <i>data</i>'\"".to_string();
    evil.judgements[0].detail = Some("</td><u>d</u>".to_string());
    let mut odd = case("a b#<c>", Verdict::Pass, None);
    odd.token = "<tok>".to_string();
    let column = relay(
        "p<f>&\"",
        vec![evil, odd],
        vec![smuggled(
            "<LF>.<LF>",
            "a b#<c>",
            Verdict::Pass,
            "refused at submission (<x>)",
        )],
    );
    let pages = pages(&[], &[column]);
    let page = &pages.transcripts[0];
    assert_eq!(page.file, "cmp-p-f.html");
    for html in [&pages.main, &page.html] {
        assert!(!html.contains("<script"));
        assert!(!html.contains("<img"));
        assert!(!html.contains("<b>reason"));
        assert!(!html.contains("<i>data"));
        assert!(!html.contains("<u>d"));
        assert!(!html.contains("<tok>"));
        assert!(!html.contains("p<f>"));
        assert!(html.contains("data-target=\"p&lt;f&gt;&amp;&quot;\""));
    }
    assert!(
        pages
            .main
            .contains("title=\"&quot;&gt;&lt;b&gt;reason&lt;/b&gt;\"")
    );
    assert!(pages.main.contains("<code>&lt;LF&gt;.&lt;LF&gt;</code>"));
    assert!(
        page.html
            .contains("S: 250 &lt;/pre&gt;&lt;img src=x onerror=alert(1)&gt;&amp;amp;")
    );
    assert!(
        page.html
            .contains("   | &lt;i&gt;data&lt;/i&gt;&#39;&quot;")
    );
    // An id that cannot be a fragment: the row's place names it, on both pages.
    assert!(
        pages
            .main
            .contains("<tr id=\"relay-row-1\" data-relay-case=\"a b#&lt;c&gt;\">")
    );
    assert!(pages.main.contains("href=\"cmp-p-f.html#relay-row-1\""));
    assert!(section(&page.html, "relay-row-1").contains("<a href=\"cmp.html#relay-row-1\">"));
}
