//! The relay part of a target's transcript page: after its conformance transcripts (or alone,
//! for a target with only a relay report), the section `#relay-section`, and in it each relay
//! case as a `<section class="relay-transcript">` anchored like its row on the main page
//! (`data-relay-case`, `data-verdict`), whose first link leads back to that row: the case's
//! judgements, the harness's submission to the target and the next hop's sessions.

use std::fmt::Write as _;

use super::relay::{RelayColumn, RelayColumnCase, anchor_of};
use super::transcripts::{Head, Kind, item, section_head};
use super::{Page, class, esc, level};

/// Writes the relay section of `column`'s page; `rows` are the main page's relay rows, `main`
/// the main page's URL, escaped.
pub(super) fn section(
    out: &mut String,
    page: &Page<'_>,
    rows: &[&RelayColumnCase],
    column: &RelayColumn,
    main: &str,
) {
    let _ = writeln!(
        out,
        "<h2 id=\"relay-section\">Outbound (relay mode)</h2>\n<p><code>mtpspec relay-test</code> \
         by mtpspec {0}: {1} relay cases, each message submitted to <code>{2}</code> and relayed \
         by the target to the next hop the harness played on <code>{3}</code>. Each links back \
         to its row on <a href=\"{main}#relay-section\">the comparison</a>.</p>",
        esc(&column.tool_version),
        column.cases.len(),
        esc(&column.inject),
        esc(&column.listen),
    );
    if !column.smuggling.is_empty() {
        out.push_str("<ul class=\"smuggling\">\n");
        for s in &column.smuggling {
            let _ = writeln!(
                out,
                "<li><code>{}</code> <span class=\"badge {}\">{}</span> {}</li>",
                esc(&s.ending),
                class(s.verdict),
                s.verdict,
                esc(&s.outcome)
            );
        }
        out.push_str("</ul>\n");
    }
    // In the main table's order, so that the page reads like the table.
    for row in rows {
        if let Some(case) = column.case(&row.id) {
            transcript(out, page, column, case, &anchor_of(rows, &case.id), main);
        }
    }
}

/// One relay case's section.
fn transcript(
    out: &mut String,
    page: &Page<'_>,
    column: &RelayColumn,
    case: &RelayColumnCase,
    anchor: &str,
    main: &str,
) {
    section_head(
        out,
        page,
        &Head {
            kind: Kind::Relay,
            anchor,
            main,
            verdict: case.verdict,
            id: &case.id,
            target: &column.name,
            title: &case.title,
            file: &case.file,
            line: case.line,
            level: case.level,
            spec: &case.spec,
            reason: case.reason.as_deref(),
        },
    );
    let mut item = |term: &str, text: &str| item(out, term, text);
    item("Token", &case.token);
    if let Some(submission) = &case.submission {
        item("Submission", submission);
    }
    out.push_str("</dl>\n");
    judgements(out, case);
    let _ = write!(
        out,
        "<h4>Submission (the harness to the target)</h4>\n<pre class=\"submission\">{}</pre>\n\
         <h4>At the next hop (the target to the harness)</h4>\n<pre class=\"next-hop\">{}</pre>\n\
         </section>\n",
        esc(or_none(
            &case.submission_transcript,
            "(no session: the submission was not tried)"
        )),
        esc(or_none(
            &case.next_hop_transcript,
            "(no session at the next hop carried the case's token)"
        )),
    );
}

fn judgements(out: &mut String, case: &RelayColumnCase) {
    if case.judgements.is_empty() {
        return;
    }
    out.push_str(
        "<table class=\"judgements\">\n<thead><tr><th>Requirement</th><th>Level</th>\
         <th>Check</th><th>Verdict</th><th>What was seen</th></tr></thead>\n<tbody>\n",
    );
    for j in &case.judgements {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            esc(&j.spec),
            level(j.level),
            esc(&j.check),
            class(j.verdict),
            j.verdict,
            esc(j.detail.as_deref().unwrap_or_default())
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

fn or_none<'a>(text: &'a str, none: &'a str) -> &'a str {
    if text.trim().is_empty() { none } else { text }
}
