//! `mtpspec compare` with relay reports, as a user meets it: a relay report written by the
//! relay report type (as `relay-test --report-json` writes it) is read back by
//! `compare --relay-json` into the outbound section of the page, beside a conformance report of
//! the same target and a target with a relay report only; the relay schema round-trips; a file
//! of another schema or a newer version is refused (exit 2) with the file named. Every test runs
//! the real binary on files in a temporary directory.

// A test crate: its helpers unwrap, and a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use mtpspec::relay::report::{ReadError, SCHEMA_VERSION};
use mtpspec::relay::submit::Submitted;
use mtpspec::relay::{RelayOutcome, RelayReport, Smuggling};
use mtpspec::servetest::judge::Judged;
use mtpspec::servetest::record::{Event, EventKind, Side};
use mtpspec::{Level, Verdict};

fn mtpspec(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mtpspec"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run mtpspec")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn event(ms: u64, kind: EventKind) -> Event {
    Event {
        conn: 1,
        at: Duration::from_millis(ms),
        kind,
    }
}

/// A relay case as `relay-test` records it; the next hop's data holds hostile text.
fn outcome(id: &str, verdict: Verdict, reason: Option<&str>) -> RelayOutcome {
    RelayOutcome {
        id: id.to_string(),
        title: format!("Case {id} <relayed> & \"quoted\""),
        file: "scenarios/relay/content.yaml".to_string(),
        line: 7,
        spec: vec!["SMTP-RELAY-1".to_string()],
        level: Level::Must,
        verdict,
        reason: reason.map(str::to_string),
        token: "t0123456789abc".to_string(),
        submission: Some(Submitted::Accepted {
            reply: "250 2.0.0 queued as <Q1>".to_string(),
            extra: vec![],
        }),
        submission_transcript: vec![
            "S: 220 mx.example ESMTP".to_string(),
            format!("C: MAIL FROM:<sender-{id}@return.relay.test>"),
            "S: 250 2.1.0 Ok".to_string(),
        ],
        judgements: vec![Judged {
            spec: "SMTP-RELAY-1".to_string(),
            level: Level::Must,
            check: "every content that arrived has CRLF line endings only".to_string(),
            verdict,
            detail: reason.map(str::to_string),
        }],
        events: vec![
            event(0, EventKind::Connected),
            event(
                1,
                EventKind::Command {
                    line: format!("RCPT TO:<rcpt-{id}@relay.test>"),
                    tls: false,
                },
            ),
            event(
                2,
                EventKind::Data {
                    text: "Subject: x\r\n\r\n</pre><script>alert('x')</script>\r\n".to_string(),
                    complete: true,
                },
            ),
            event(3, EventKind::Closed { by: Side::Client }),
        ],
        smuggling: None,
        duration: Duration::from_millis(1520),
    }
}

/// A relay report of two cases, one of them smuggling an ending the target forwarded.
fn relay_report(target: &str) -> RelayReport {
    let mut cr = outcome(
        "relay-smuggling-cr-dot-cr",
        Verdict::Fail,
        Some("a bare <CR> reached the next hop"),
    );
    cr.smuggling = Some(Smuggling {
        ending: "<CR>.<CR>".to_string(),
        case: cr.id.clone(),
        verdict: Verdict::Fail,
        outcome: "forwarded unchanged: a bare CR reached the next hop (octet 40)".to_string(),
        received: Some("one<CR>.<CR>MAIL FROM:<x>".to_string()),
    });
    RelayReport::new(
        target.to_string(),
        "smtp://127.0.0.1:2525".to_string(),
        "127.0.0.1:2700".to_string(),
        vec![outcome("relay-bare-lf-lines", Verdict::Pass, None), cr],
    )
}

/// A conformance report (`run --report-json`) of one case.
const CONFORMANCE: &str = r#"{"schema": "mtpspec-report", "schema_version": 1,
  "tool": {"name": "mtpspec", "version": "0.1.0"},
  "target": "smtp://127.0.0.1:2525", "started_at": "2026-01-01T00:00:00Z",
  "duration_ms": 5, "gate": "passed", "exit_code": 0, "summary": {"expected_failures": 0},
  "cases": [{"id": "a", "title": "A", "file": "s.yaml", "line": 1, "spec": ["SMTP-DATA-3"],
    "level": "must", "verdict": "PASS", "reason": null, "failure": null, "baseline": null,
    "wire": [{"at_ms": 1.0, "conn": 1, "kind": "received", "tls": false, "data": "250 ok\r\n"}]}]}"#;

fn write_json(path: &Path, report: &RelayReport) {
    std::fs::write(path, serde_json::to_string_pretty(report).unwrap()).unwrap();
}

#[test]
fn the_relay_schema_round_trips() {
    let report = relay_report("pf");
    let written = serde_json::to_string_pretty(&report).unwrap();
    let read = RelayReport::from_json(&written).unwrap();
    assert_eq!(
        serde_json::to_value(&read).unwrap(),
        serde_json::to_value(&report).unwrap()
    );
    assert_eq!(read.cases[1].events.len(), 4);
    assert_eq!(read.cases[1].duration, Duration::from_millis(1520));
    assert_eq!(read.smuggling[0].ending, "<CR>.<CR>");
    assert_eq!(read.summary[&Verdict::Fail], 1);
}

#[test]
fn another_schema_or_a_newer_version_is_refused_with_the_file_named() {
    let json = serde_json::to_string_pretty(&relay_report("pf")).unwrap();
    let newer = json.replace(
        &format!("\"schema_version\": {SCHEMA_VERSION}"),
        &format!("\"schema_version\": {}", SCHEMA_VERSION + 1),
    );
    assert_ne!(newer, json);
    assert!(matches!(
        RelayReport::from_json(&newer),
        Err(ReadError::Schema { version, .. }) if version == SCHEMA_VERSION + 1
    ));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("newer.json"), &newer).unwrap();
    std::fs::write(d.join("run.json"), CONFORMANCE).unwrap();
    for (file, says) in [
        ("newer.json", "version 2"),
        ("run.json", "a conformance report of `mtpspec run`"),
    ] {
        let given = format!("pf={file}");
        let out = mtpspec(
            d,
            &["compare", "--relay-json", &given, "--html", "i.html", "-q"],
        );
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let said = text(&out);
        assert!(said.contains(file), "names the file: {said}");
        assert!(said.contains(says), "{said}");
        assert!(said.contains("mtpspec-relay-report"), "{said}");
        assert!(!d.join("i.html").exists(), "nothing written");
    }
}

#[test]
fn relay_reports_join_the_page_and_link_their_transcripts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("pf.json"), CONFORMANCE).unwrap();
    write_json(&d.join("pf-relay.json"), &relay_report("pf"));
    let mut ex = relay_report("ex");
    ex.cases.truncate(1);
    ex.cases[0].verdict = Verdict::Warn;
    ex.cases[0].reason = Some("8-bit content \"raw\" <to> a 7-bit hop".to_string());
    write_json(&d.join("ex-relay.json"), &ex);
    let out = mtpspec(
        d,
        &[
            "compare",
            "--from-json",
            "pf=pf.json",
            "--relay-json",
            "pf=pf-relay.json",
            "--relay-json",
            "ex=ex-relay.json",
            "--html",
            "index.html",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("1 targets, 2 relay reports"),
        "{}",
        text(&out)
    );
    let read = |name: &str| std::fs::read_to_string(d.join(name)).unwrap();
    let main = read("index.html");
    // The conformance table first, the outbound section after it.
    let relay_at = main
        .find("<h2 id=\"relay-section\">Outbound (relay mode)</h2>")
        .unwrap();
    assert!(main.find("<table id=\"cases\">").unwrap() < relay_at);
    assert!(main.contains("<a href=\"index-pf.html#case-a\">PASS</a>"));
    // One row per relay case, one cell per target with a relay report.
    assert_eq!(main.matches("<tr id=\"relay-case-").count(), 2);
    assert!(main.contains(
        "<td class=\"cell v-fail\" data-target=\"pf\" data-verdict=\"FAIL\"><a href=\"index-pf.html#relay-case-relay-smuggling-cr-dot-cr\" title=\"a bare &lt;CR&gt; reached the next hop\">FAIL</a></td>"
    ));
    assert!(main.contains(
        "<td class=\"cell v-warn\" data-target=\"ex\" data-verdict=\"WARN\"><a href=\"index-ex.html#relay-case-relay-bare-lf-lines\" title=\"8-bit content &quot;raw&quot; &lt;to&gt; a 7-bit hop\">WARN</a></td>"
    ));
    assert!(main.contains("data-target=\"ex\" data-verdict=\"NOT RUN\">NOT RUN</td>"));
    assert!(main.contains("<div class=\"title\">Case relay-bare-lf-lines &lt;relayed&gt; &amp; &quot;quoted&quot;</div>"));
    // The smuggling summary: pf forwarded <CR>.<CR> unchanged.
    assert!(main.contains(
        "<td data-target=\"pf\" data-forwarded=\"1\"><strong>&lt;CR&gt;.&lt;CR&gt;</strong></td>"
    ));
    assert!(!main.contains("<script"), "hostile text escaped");

    // pf's page: the conformance transcript and the relay ones; ex has a page of its own.
    let pf = read("index-pf.html");
    assert!(pf.contains("<section class=\"transcript\" id=\"case-a\""));
    let start = pf
        .find("id=\"relay-case-relay-smuggling-cr-dot-cr\"")
        .unwrap();
    let case = &pf[start..start + pf[start..].find("</section>").unwrap()];
    assert!(case.contains("<a href=\"index.html#relay-case-relay-smuggling-cr-dot-cr\">"));
    assert!(
        case.contains("C: MAIL FROM:&lt;sender-relay-smuggling-cr-dot-cr@return.relay.test&gt;")
    );
    // The next hop's sessions as relay-test renders them, escaped.
    assert!(
        case.contains("[    1 ms] c1 C: RCPT TO:&lt;rcpt-relay-smuggling-cr-dot-cr@relay.test&gt;"),
        "{case}"
    );
    assert!(
        case.contains("&lt;/pre&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
        "{case}"
    );
    assert!(!pf.contains("<script"));
    let ex_page = read("index-ex.html");
    assert!(ex_page.contains("<body class=\"transcripts\" data-target=\"ex\">"));
    assert!(ex_page.contains("id=\"relay-case-relay-bare-lf-lines\" data-relay-case=\"relay-bare-lf-lines\" data-verdict=\"WARN\""));

    // Without the relay report of ex, its page goes (the target is no longer compared).
    let out = mtpspec(
        d,
        &[
            "compare",
            "--from-json",
            "pf=pf.json",
            "--relay-json",
            "pf=pf-relay.json",
            "--html",
            "index.html",
            "-q",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!d.join("index-ex.html").exists());
    // The same name twice among the relay reports is a usage error.
    let out = mtpspec(
        d,
        &[
            "compare",
            "--relay-json",
            "pf=pf-relay.json",
            "--relay-json",
            "pf=ex-relay.json",
            "--html",
            "index.html",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
