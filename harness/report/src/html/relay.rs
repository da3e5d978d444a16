//! The outbound side on the comparison page: `mtpspec relay-test` reports, one column per
//! target, reduced to what the page shows ([`RelayColumn`]; the caller builds it from the relay
//! report, whose schema lives with relay mode). On the main page, after the conformance
//! tables, the section `#relay-section`: the smuggling summary (`#relay-smuggling`: per ending
//! what each target did, and which endings it forwarded unchanged), the verdict counts
//! (`#relay-summary`) and one row per relay case (`#relay`, `tr[data-relay-case]`,
//! `td.cell[data-target][data-verdict]` linking the case on the target's transcript page). The
//! case sections of the transcript pages are `relay_transcripts`'s.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{
    Counted, NOT_RUN, Page, class, esc, level, requirement_cell, summary_row, url, verdict_cell,
    verdict_rows,
};
use crate::verdict::Verdict;
use mtpspec_scenario::Level;

/// How the relay report words an ending that reached the next hop as it was submitted (its
/// smuggling outcome starts with it).
pub const FORWARDED: &str = "forwarded unchanged";

/// One target's relay report, as the page shows it.
#[derive(Clone, Debug)]
pub struct RelayColumn {
    /// The column's name (the same as the target's conformance column, when it has one).
    pub name: String,
    /// Where the harness submitted (`relay-test --inject`).
    pub inject: String,
    /// Where the harness played the next hop (`relay-test --listen`).
    pub listen: String,
    /// The version of mtpspec that wrote the report.
    pub tool_version: String,
    /// What the target did with each smuggling ending, in the report's order.
    pub smuggling: Vec<RelaySmuggling>,
    /// The relay cases, in run order.
    pub cases: Vec<RelayColumnCase>,
}

/// What a target did with one smuggling ending.
#[derive(Clone, Debug)]
pub struct RelaySmuggling {
    /// The ending, as `<CR>.<CR>`: the row it goes in.
    pub ending: String,
    /// The case that smuggled it.
    pub case: String,
    /// That case's verdict.
    pub verdict: Verdict,
    /// What the target did, in one line (starting with [`FORWARDED`] when the ending reached
    /// the next hop as it was).
    pub outcome: String,
}

/// One relay case of a target.
#[derive(Clone, Debug)]
pub struct RelayColumnCase {
    /// The case's id: the row it goes in.
    pub id: String,
    /// The case's title.
    pub title: String,
    /// The scenario file the case is in.
    pub file: String,
    /// The line of that file where the case starts.
    pub line: u64,
    /// The SPEC.md requirement ids it cites.
    pub spec: Vec<String>,
    /// The highest level of its judgements.
    pub level: Level,
    /// The case's verdict.
    pub verdict: Verdict,
    /// One line: why the verdict is not PASS, and notes.
    pub reason: Option<String>,
    /// The case's token (in its envelope).
    pub token: String,
    /// How the submission went, in one line (none when it was not tried).
    pub submission: Option<String>,
    /// Each judgement of the case.
    pub judgements: Vec<RelayJudgement>,
    /// The harness's session with the target (`C:`/`S:` lines), clipped.
    pub submission_transcript: String,
    /// The next hop's sessions that carried the case's token, rendered, clipped.
    pub next_hop_transcript: String,
}

/// One judgement of a relay case.
#[derive(Clone, Debug)]
pub struct RelayJudgement {
    /// The requirement judged.
    pub spec: String,
    /// The judgement's level.
    pub level: Level,
    /// What was checked, in one line.
    pub check: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// What was seen, when the verdict is not PASS.
    pub detail: Option<String>,
}

impl RelayColumn {
    /// How many of the target's relay cases got `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.cases.iter().filter(|c| c.verdict == verdict).count()
    }

    /// The target's relay case with this id; `None` when its run did not include it.
    pub fn case(&self, id: &str) -> Option<&RelayColumnCase> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// The endings the target forwarded unchanged to the next hop.
    pub fn forwarded(&self) -> Vec<&str> {
        self.smuggling
            .iter()
            .filter(|s| s.forwarded())
            .map(|s| s.ending.as_str())
            .collect()
    }
}

impl RelaySmuggling {
    /// Whether the ending reached the next hop as it was submitted.
    pub fn forwarded(&self) -> bool {
        self.outcome.starts_with(FORWARDED)
    }

    /// The outcome's first words (`forwarded unchanged`, `normalised`, `refused at
    /// submission`), for a table cell.
    fn label(&self) -> &str {
        let end = self.outcome.find([':', '(']).unwrap_or(self.outcome.len());
        self.outcome[..end].trim()
    }
}

/// The fragment naming relay row `r`, case `id`, on the main page and on the transcript pages:
/// `relay-case-<id>` when the id is only `A-Z a-z 0-9 . _ -`, else `relay-row-<r>` (apart from
/// the conformance rows' `case-` and `row-`).
pub(super) fn anchor(id: &str, r: usize) -> String {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"._-".contains(&b);
    if !id.is_empty() && id.bytes().all(plain) {
        format!("relay-case-{id}")
    } else {
        format!("relay-row-{r}")
    }
}

/// The relay cases of every column, each once, in the order the columns list them: the rows.
pub(super) fn rows(columns: &[RelayColumn]) -> Vec<&RelayColumnCase> {
    let mut rows: Vec<&RelayColumnCase> = Vec::new();
    for column in columns {
        for case in &column.cases {
            if !rows.iter().any(|r| r.id == case.id) {
                rows.push(case);
            }
        }
    }
    rows
}

/// Writes the main page's relay section; nothing when there is no relay report. `files` maps
/// each target's name to its transcript page.
pub(super) fn section(out: &mut String, page: &Page<'_>, files: &BTreeMap<&str, &str>) {
    let columns = page.relay;
    if columns.is_empty() {
        return;
    }
    let rows = rows(columns);
    let _ = writeln!(
        out,
        "<h2 id=\"relay-section\">Outbound (relay mode)</h2>\n<p>{} relay cases, {} targets \
         (<code>mtpspec relay-test</code>, scenarios/relay): the harness submitted each crafted \
         message to the target as a relay client it trusts, played the next hop the target \
         relayed it to, and judged what arrived. Each cell links to the case's transcripts on \
         the target's page: the submission and the next hop's sessions.</p>",
        rows.len(),
        columns.len()
    );
    smuggling(out, columns, &rows, files);
    summary(out, columns, files);
    cases(out, page, &rows, files);
}

/// The cell of the target `name` linking `anchor` on its transcript page.
fn link(files: &BTreeMap<&str, &str>, name: &str, anchor: &str) -> String {
    let file = files.get(name).copied().unwrap_or_default();
    format!("{}#{anchor}", esc(&url(file)))
}

fn header(out: &mut String, first: &str, columns: &[RelayColumn]) {
    let _ = write!(out, "<thead><tr><th>{first}</th>");
    for c in columns {
        let _ = write!(out, "<th data-target=\"{0}\">{0}</th>", esc(&c.name));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
}

/// The anchor of the row of case `id`.
pub(super) fn anchor_of(rows: &[&RelayColumnCase], id: &str) -> String {
    anchor(
        id,
        rows.iter().position(|r| r.id == id).unwrap_or(rows.len()),
    )
}

/// Per ending, what each target did; above, the endings each forwarded unchanged.
fn smuggling(
    out: &mut String,
    columns: &[RelayColumn],
    rows: &[&RelayColumnCase],
    files: &BTreeMap<&str, &str>,
) {
    let mut endings: Vec<&str> = Vec::new();
    for c in columns {
        for s in &c.smuggling {
            if !endings.contains(&s.ending.as_str()) {
                endings.push(&s.ending);
            }
        }
    }
    if endings.is_empty() {
        return;
    }
    out.push_str(
        "<h3>Outbound smuggling</h3>\n<p>Per smuggling ending, what the target did with a \
         message carrying it: forwarded unchanged (the ending and the commands after it reach \
         the next hop, which may end the data there), normalised to CRLF, or refused. The \
         colour is the case's verdict.</p>\n<table id=\"relay-smuggling\">\n",
    );
    header(out, "Ending", columns);
    out.push_str("<tr data-info=\"forwarded\"><th>Forwarded unchanged</th>");
    for c in columns {
        let forwarded = c.forwarded();
        let text = if forwarded.is_empty() {
            "none".to_string()
        } else {
            forwarded.join(" ")
        };
        let _ = write!(
            out,
            "<td data-target=\"{}\" data-forwarded=\"{}\"><strong>{}</strong></td>",
            esc(&c.name),
            forwarded.len(),
            esc(&text)
        );
    }
    out.push_str("</tr>\n");
    for ending in endings {
        let _ = write!(
            out,
            "<tr data-ending=\"{0}\"><th><code>{0}</code></th>",
            esc(ending)
        );
        for c in columns {
            let found = c.smuggling.iter().find(|s| s.ending == ending);
            match found {
                Some(s) => {
                    let _ = write!(
                        out,
                        "<td class=\"cell {0}\" data-target=\"{1}\" data-verdict=\"{2}\" \
                         data-forwarded=\"{3}\"><a href=\"{4}\" title=\"{5}\">{6}</a></td>",
                        class(s.verdict),
                        esc(&c.name),
                        s.verdict,
                        if s.forwarded() { "yes" } else { "no" },
                        link(files, &c.name, &anchor_of(rows, &s.case)),
                        esc(&s.outcome),
                        esc(s.label()),
                    );
                }
                None => {
                    let _ = write!(
                        out,
                        "<td class=\"cell v-none\" data-target=\"{}\">{NOT_RUN}</td>",
                        esc(&c.name)
                    );
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

impl Counted for RelayColumn {
    fn name(&self) -> &str {
        &self.name
    }
    fn count(&self, verdict: Verdict) -> usize {
        RelayColumn::count(self, verdict)
    }
}

/// The verdict counts of each target's relay cases, where it ran and its transcript page.
fn summary(out: &mut String, columns: &[RelayColumn], files: &BTreeMap<&str, &str>) {
    out.push_str("<h3>Relay cases</h3>\n<table id=\"relay-summary\">\n");
    header(out, "Verdict", columns);
    verdict_rows(out, columns);
    let mut info_row = |key: &str, label: &str, value: &dyn Fn(&RelayColumn) -> String| {
        summary_row(out, columns, key, label, value);
    };
    info_row("total", "Cases", &|c| c.cases.len().to_string());
    info_row("inject", "Submitted to", &|c| c.inject.clone());
    info_row("listen", "Next hop", &|c| c.listen.clone());
    info_row("tool", "mtpspec version", &|c| c.tool_version.clone());
    out.push_str("<tr data-info=\"transcripts\"><th>Transcripts</th>");
    for c in columns {
        let file = files.get(c.name.as_str()).copied().unwrap_or_default();
        let _ = write!(
            out,
            "<td data-target=\"{}\"><a href=\"{}#relay-section\">{}</a></td>",
            esc(&c.name),
            esc(&url(file)),
            esc(file)
        );
    }
    out.push_str("</tr>\n</tbody>\n</table>\n");
}

/// One row per relay case, one verdict cell per target.
fn cases(
    out: &mut String,
    page: &Page<'_>,
    rows: &[&RelayColumnCase],
    files: &BTreeMap<&str, &str>,
) {
    out.push_str(
        "<table id=\"relay\">\n<thead><tr><th>Case</th><th>Level</th><th>Requirements</th>",
    );
    for c in page.relay {
        let _ = write!(
            out,
            "<th data-target=\"{0}\">{0}<br><small>{1}</small></th>",
            esc(&c.name),
            esc(&c.inject)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (r, row) in rows.iter().enumerate() {
        let anchor = anchor(&row.id, r);
        let _ = write!(
            out,
            "<tr id=\"{anchor}\" data-relay-case=\"{0}\"><th class=\"case\" scope=\"row\"><code>{0}</code><div class=\"title\">{1}</div></th><td>{2}</td><td class=\"reqs\">",
            esc(&row.id),
            esc(&row.title),
            level(row.level)
        );
        requirement_cell(out, page, &row.spec);
        for c in page.relay {
            match c.case(&row.id) {
                Some(case) => {
                    let href = link(files, &c.name, &anchor);
                    let reason = case.reason.as_deref();
                    verdict_cell(out, case.verdict, &c.name, &href, reason, "");
                }
                None => {
                    let _ = write!(
                        out,
                        "<td class=\"cell v-none\" data-target=\"{}\" data-verdict=\"{NOT_RUN}\">{NOT_RUN}</td>",
                        esc(&c.name)
                    );
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

#[cfg(test)]
#[path = "relay_tests.rs"]
mod tests;
