//! The report of one relay-test run: per case its verdict, how the submission went, each
//! judgement with its requirement, and the next hop's transcript; above them, per smuggling
//! ending, what the target did with it, with the octets as received. Rendered as JSON (a
//! versioned schema) and Markdown.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::model::RelayCase;
use super::submit::{Submitted, clip};
use crate::servetest::judge::Judged;
use crate::servetest::record::{Event, render};
use mtpspec_runner::report::markdown::cell;
use mtpspec_runner::runner::Verdict;
use mtpspec_scenario::Level;

pub const SCHEMA: &str = "mtpspec-relay-report";
pub const SCHEMA_VERSION: u32 = 1;

/// What the target did with one smuggling ending.
#[derive(Clone, Debug, Serialize)]
pub struct Smuggling {
    /// The ending, as `<LF>.<CR><LF>`.
    pub ending: String,
    pub case: String,
    pub verdict: Verdict,
    /// One line: forwarded unchanged, normalised, refused, returned, nothing arrived.
    pub outcome: String,
    /// The data as received at the next hop (escaped), when some arrived.
    pub received: Option<String>,
}

/// One case's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct RelayOutcome {
    pub id: String,
    pub title: String,
    pub file: String,
    pub line: u64,
    pub spec: Vec<String>,
    pub level: Level,
    pub verdict: Verdict,
    /// One line: why the verdict is not PASS (or why a refusal passed).
    pub reason: Option<String>,
    /// The case's unique token (in the recipient `rcpt-TOKEN@relay.test`).
    pub token: String,
    pub submission: Option<Submitted>,
    /// The harness's session with the target.
    pub submission_transcript: Vec<String>,
    pub judgements: Vec<Judged>,
    /// The next hop's sessions that carried the token.
    pub events: Vec<Event>,
    pub smuggling: Option<Smuggling>,
    #[serde(rename = "duration_ms", with = "mtpspec_runner::millis")]
    pub duration: Duration,
}

impl RelayOutcome {
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
        self.judgements
            .iter()
            .find(|j| j.verdict == self.verdict && self.verdict != Verdict::Pass)
            .map(|j| {
                format!(
                    "{} ({} {}): {}",
                    j.check,
                    j.spec,
                    j.level,
                    j.detail.as_deref().unwrap_or("")
                )
            })
    }
}

/// Everything about one target.
#[derive(Clone, Debug, Serialize)]
pub struct RelayReport {
    pub schema: &'static str,
    pub schema_version: u32,
    pub tool_version: &'static str,
    /// The target's name (`--target-name`).
    pub target: String,
    /// Where the harness submitted (`--inject`).
    pub inject: String,
    /// Where the next hop listened (`--listen`).
    pub listen: String,
    pub summary: BTreeMap<Verdict, usize>,
    pub smuggling: Vec<Smuggling>,
    pub cases: Vec<RelayOutcome>,
}

impl RelayReport {
    pub fn new(target: String, inject: String, listen: String, cases: Vec<RelayOutcome>) -> Self {
        let mut summary: BTreeMap<Verdict, usize> = Verdict::ALL.iter().map(|v| (*v, 0)).collect();
        for c in &cases {
            *summary.entry(c.verdict).or_default() += 1;
        }
        let smuggling = cases.iter().filter_map(|c| c.smuggling.clone()).collect();
        Self {
            schema: SCHEMA,
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION"),
            target,
            inject,
            listen,
            summary,
            smuggling,
            cases,
        }
    }

    fn count(&self, v: Verdict) -> usize {
        self.summary.get(&v).copied().unwrap_or(0)
    }

    /// 0 no FAIL; 1 a FAIL; 3 an ERROR and no FAIL (as `mtpspec run`).
    pub fn exit_code(&self) -> u8 {
        if self.count(Verdict::Fail) > 0 {
            1
        } else if self.count(Verdict::Error) > 0 {
            3
        } else {
            0
        }
    }

    pub fn summary_line(&self) -> String {
        let parts: Vec<String> = Verdict::ALL
            .iter()
            .map(|v| format!("{} {v}", self.count(*v)))
            .collect();
        format!(
            "{}: {} relay cases: {}",
            self.target,
            self.cases.len(),
            parts.join(", ")
        )
    }

    /// One line per smuggling ending, for the terminal and the Markdown report.
    pub fn smuggling_lines(&self) -> Vec<String> {
        self.smuggling
            .iter()
            .map(|s| format!("{:<16} {:<5} {}", s.ending, s.verdict, s.outcome))
            .collect()
    }

    pub fn to_json(&self) -> String {
        // Every field is a plain string, number, list or map: serializing cannot fail.
        serde_json::to_string_pretty(self).expect("report serializes")
    }

    pub fn to_markdown(&self) -> String {
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
                    s.received
                        .as_deref()
                        .map_or(String::new(), |r| format!("`{}`", cell(&clip(r, 400))))
                );
            }
            md.push('\n');
        }
        let _ = writeln!(
            md,
            "## Cases\n\n| Case | Requirements | Verdict | Why |\n| --- | --- | --- | --- |"
        );
        for c in &self.cases {
            let _ = writeln!(
                md,
                "| [{}](#{}) | {} | **{}** | {} |",
                c.id,
                c.id.replace('.', ""),
                c.spec.join(", "),
                c.verdict,
                cell(c.reason.as_deref().unwrap_or(""))
            );
        }
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
    if !c.judgements.is_empty() {
        let _ = writeln!(
            md,
            "| Requirement | Level | Check | Verdict | Seen |\n| --- | --- | --- | --- | --- |"
        );
        for j in &c.judgements {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                j.spec,
                j.level,
                cell(&j.check),
                j.verdict,
                cell(&clip(j.detail.as_deref().unwrap_or(""), 1500))
            );
        }
        md.push('\n');
    }
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
