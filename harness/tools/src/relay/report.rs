//! The report of one relay-test run: per case its verdict, how the submission went, each
//! judgement with its requirement, and the next hop's transcript; above them, per smuggling
//! ending, what the target did with it, with the octets as received. Rendered as JSON (a
//! versioned schema, written by `relay-test` and read back by [`RelayReport::from_json`] for
//! `mtpspec compare --relay-json`: one type both ways) and Markdown; the counts, tables and
//! exit code are serve-test's ([`crate::servetest::reporting`]).

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::model::RelayCase;
use super::submit::Submitted;
use crate::servetest::judge::{Judged, verdict_reason};
use crate::servetest::record::{Event, render};
use crate::servetest::reporting::{
    CaseRow, JudgedReport, Summary, cases_table, clip, counts, judgements_table, tally,
};
pub use mtpspec_runner::report::json::ReadError;
use mtpspec_runner::report::json::read_head;
use mtpspec_runner::report::markdown::cell;
use mtpspec_runner::runner::Verdict;
use mtpspec_scenario::Level;

/// The JSON schema's name.
pub const SCHEMA: &str = "mtpspec-relay-report";
/// The JSON schema's version.
pub const SCHEMA_VERSION: u32 = 1;

/// What the target did with one smuggling ending.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Smuggling {
    /// The ending, as `<LF>.<CR><LF>`.
    pub ending: String,
    /// The case that smuggled it.
    pub case: String,
    /// That case's verdict.
    pub verdict: Verdict,
    /// One line: forwarded unchanged, normalised, refused, returned, nothing arrived.
    pub outcome: String,
    /// The data as received at the next hop (escaped), when some arrived.
    pub received: Option<String>,
}

/// One case's outcome.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RelayOutcome {
    /// The case id.
    pub id: String,
    /// The case title.
    pub title: String,
    /// The file the case is written in.
    pub file: String,
    /// The line it starts on.
    pub line: u64,
    /// The requirements it cites.
    pub spec: Vec<String>,
    /// The highest level of its judgements.
    pub level: Level,
    /// The case's verdict: the worst of its judgements, or why it was not judged.
    pub verdict: Verdict,
    /// One line: why the verdict is not PASS (or why a refusal passed), and notes on what
    /// happened (a duplicate, unasked replies).
    pub reason: Option<String>,
    /// The case's unique token (in the recipient `rcpt-TOKEN@relay.test`).
    pub token: String,
    /// How the submission went.
    pub submission: Option<Submitted>,
    /// The harness's session with the target.
    pub submission_transcript: Vec<String>,
    /// Each judgement's outcome.
    pub judgements: Vec<Judged>,
    /// The next hop's sessions that carried the token.
    pub events: Vec<Event>,
    /// For a smuggling case: what the target did with the ending.
    pub smuggling: Option<Smuggling>,
    /// How long the case took.
    #[serde(rename = "duration_ms", with = "mtpspec_runner::millis")]
    pub duration: Duration,
}

impl RelayOutcome {
    /// A case not judged yet (SKIP, no reason) with its token.
    pub fn new(case: &RelayCase, token: &str) -> Self {
        Self {
            id: case.id.clone(),
            title: case.title.clone(),
            file: case.file.display().to_string(),
            line: case.line,
            spec: case.spec(),
            level: case.level(),
            verdict: Verdict::Skip,
            reason: None,
            token: token.to_string(),
            submission: None,
            submission_transcript: Vec::new(),
            judgements: Vec::new(),
            events: Vec::new(),
            smuggling: None,
            duration: Duration::ZERO,
        }
    }

    /// The reason from the first judgement that gave the case its verdict.
    pub fn reason_from_judgements(&self) -> Option<String> {
        verdict_reason(&self.judgements, self.verdict)
    }

    /// Adds `note` to the reason (after it, when there is one).
    pub fn note(&mut self, note: String) {
        self.reason = Some(match self.reason.take() {
            Some(reason) => format!("{reason}; {note}"),
            None => note,
        });
    }
}

/// Everything about one target.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RelayReport {
    /// [`SCHEMA`].
    pub schema: String,
    /// [`SCHEMA_VERSION`] (a report read back: the version it was written in).
    pub schema_version: u32,
    /// The mtpspec version that wrote it.
    pub tool_version: String,
    /// The target's name (`--target-name`).
    pub target: String,
    /// Where the harness submitted (`--inject`).
    pub inject: String,
    /// Where the next hop listened (`--listen`).
    pub listen: String,
    /// How many cases got each verdict.
    pub summary: Summary,
    /// What the target did with each smuggling ending.
    pub smuggling: Vec<Smuggling>,
    /// Every case's outcome, in run order.
    pub cases: Vec<RelayOutcome>,
}

impl RelayReport {
    /// The report of `cases` against the target `target`.
    pub fn new(target: String, inject: String, listen: String, cases: Vec<RelayOutcome>) -> Self {
        let summary = tally(cases.iter().map(|c| c.verdict));
        let smuggling = cases.iter().filter_map(|c| c.smuggling.clone()).collect();
        Self {
            schema: SCHEMA.to_string(),
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            target,
            inject,
            listen,
            summary,
            smuggling,
            cases,
        }
    }

    /// Reads a report written by `relay-test --report-json`: schema [`SCHEMA`], any version
    /// from 1 to [`SCHEMA_VERSION`]. A document of another schema (a conformance report of
    /// `mtpspec run`) or of a newer version is refused before its content is read.
    pub fn from_json(text: &str) -> Result<RelayReport, ReadError> {
        read_head(text, SCHEMA, SCHEMA_VERSION)?;
        serde_json::from_str(text).map_err(ReadError::Json)
    }

    /// One line per smuggling ending, for the terminal and the Markdown report.
    pub fn smuggling_lines(&self) -> Vec<String> {
        self.smuggling
            .iter()
            .map(|s| format!("{:<16} {:<5} {}", s.ending, s.verdict, s.outcome))
            .collect()
    }
}

impl JudgedReport for RelayReport {
    fn summary(&self) -> &Summary {
        &self.summary
    }

    fn summary_line(&self) -> String {
        format!(
            "{}: {} relay cases: {}",
            self.target,
            self.cases.len(),
            counts(&self.summary)
        )
    }

    fn to_markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Relay report: {}\n", self.target);
        let _ = writeln!(
            md,
            "mtpspec {} `relay-test`: the harness submitted each message to {} and played the \
             next hop on {} (scenarios/relay), judging what the target relayed.\n",
            self.tool_version, self.inject, self.listen
        );
        let _ = writeln!(md, "Result: {}\n", self.summary_line());
        if !self.smuggling.is_empty() {
            let _ = writeln!(
                md,
                "## Outbound smuggling\n\n| Ending | Verdict | What the target did | Data as \
                 received at the next hop |\n| --- | --- | --- | --- |"
            );
            for s in &self.smuggling {
                let _ = writeln!(
                    md,
                    "| `{}` | **{}** | {} | {} |",
                    s.ending,
                    s.verdict,
                    cell(&s.outcome),
                    s.received.as_deref().map_or(String::new(), |r| {
                        format!("`{}`", cell(&clip(&body_of(r), 400)))
                    })
                );
            }
            md.push('\n');
        }
        let _ = writeln!(md, "## Cases\n");
        cases_table(
            &mut md,
            self.cases.iter().map(|c| CaseRow {
                id: &c.id,
                spec: &c.spec,
                verdict: c.verdict,
                reason: c.reason.as_deref(),
            }),
        );
        for c in &self.cases {
            case_markdown(&mut md, c);
        }
        md
    }
}

fn case_markdown(md: &mut String, c: &RelayOutcome) {
    let _ = writeln!(
        md,
        "\n### {}\n\n{} ({}:{}). Token `{}`. Verdict: **{}**.\n",
        c.id, c.title, c.file, c.line, c.token, c.verdict
    );
    if let Some(reason) = &c.reason {
        let _ = writeln!(md, "{}\n", cell(reason));
    }
    judgements_table(md, &c.judgements, Some(1500));
    if !c.submission_transcript.is_empty() {
        let _ = writeln!(
            md,
            "<details><summary>Submission</summary>\n\n```text\n{}\n```\n\n</details>\n",
            clip(&c.submission_transcript.join("\n"), 6000)
        );
    }
    if !c.events.is_empty() {
        let _ = writeln!(
            md,
            "<details><summary>At the next hop</summary>\n\n```text\n{}```\n\n</details>",
            clip(&render(&c.events), 12000)
        );
    }
}

/// The body of escaped message data, where a smuggling ending and what follows it stand: the
/// header block is left out (said so), so that a table cell shows the octets that matter.
fn body_of(received: &str) -> String {
    match received.split_once("<CR><LF><CR><LF>") {
        Some((_, body)) => format!("(header fields left out) {body}"),
        None => received.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::body_of;

    #[test]
    fn the_table_shows_the_body_where_the_ending_is() {
        let data = "Received: from x<CR><LF>Subject: s<CR><LF><CR><LF>one<CR>.<CR>MAIL FROM:<x>";
        assert_eq!(
            body_of(data),
            "(header fields left out) one<CR>.<CR>MAIL FROM:<x>"
        );
        assert_eq!(body_of("no header block"), "no header block");
    }
}
