//! The report of one client: per case its verdict, each judgement with its requirement, the
//! client's exit status and output, and the transcript. Rendered as JSON (a versioned schema)
//! and Markdown; the verdicts are the suite's own ([`Verdict`]).

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::client::ClientRun;
use super::judge::{Judged, verdict_reason};
use super::model::{ClientCase, Mode};
use super::record::{Event, render};
use super::reporting::{
    CaseRow, JudgedReport, Summary, cases_table, clip_block, counts, judgements_table, tally,
};
use mtpspec_runner::runner::Verdict;

pub const SCHEMA: &str = "mtpspec-client-report";
pub const SCHEMA_VERSION: u32 = 1;

/// One case's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct CaseOutcome {
    pub id: String,
    pub title: String,
    pub file: String,
    pub line: u64,
    pub spec: Vec<String>,
    pub mode: Mode,
    pub verdict: Verdict,
    /// One line: why the verdict is not PASS.
    pub reason: Option<String>,
    pub judgements: Vec<Judged>,
    pub client: Option<ClientRun>,
    pub events: Vec<Event>,
    #[serde(rename = "duration_ms", with = "mtpspec_report::millis")]
    pub duration: Duration,
}

impl CaseOutcome {
    fn base(case: &ClientCase, verdict: Verdict) -> Self {
        Self {
            id: case.id.clone(),
            title: case.title.clone(),
            file: case.file.display().to_string(),
            line: case.line,
            spec: case.spec(),
            mode: case.mode,
            verdict,
            reason: None,
            judgements: Vec::new(),
            client: None,
            events: Vec::new(),
            duration: Duration::ZERO,
        }
    }

    /// A case that was not played (SKIP) or could not be (ERROR).
    pub fn not_run(case: &ClientCase, verdict: Verdict, reason: String) -> Self {
        Self {
            reason: Some(reason),
            ..Self::base(case, verdict)
        }
    }

    pub fn judged(
        case: &ClientCase,
        verdict: Verdict,
        judgements: Vec<Judged>,
        events: Vec<Event>,
        client: Option<ClientRun>,
        duration: Duration,
    ) -> Self {
        let reason = verdict_reason(&judgements, verdict);
        Self {
            reason,
            judgements,
            events,
            client,
            duration,
            ..Self::base(case, verdict)
        }
    }

    /// The wire transcript as text.
    pub fn transcript(&self) -> String {
        render(&self.events)
    }
}

/// Everything about one client.
#[derive(Clone, Debug, Serialize)]
pub struct ClientReport {
    pub schema: &'static str,
    pub schema_version: u32,
    pub tool_version: &'static str,
    /// The client's name, as given by `--client-name`.
    pub client: String,
    /// The command template (placeholders not filled in).
    pub command: Option<String>,
    pub summary: Summary,
    pub cases: Vec<CaseOutcome>,
}

impl ClientReport {
    pub fn new(client: String, command: Option<String>, cases: Vec<CaseOutcome>) -> Self {
        let summary = tally(cases.iter().map(|c| c.verdict));
        Self {
            schema: SCHEMA,
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION"),
            client,
            command,
            summary,
            cases,
        }
    }
}

impl JudgedReport for ClientReport {
    fn summary(&self) -> &Summary {
        &self.summary
    }

    fn summary_line(&self) -> String {
        format!(
            "{}: {} cases: {}",
            self.client,
            self.cases.len(),
            counts(&self.summary)
        )
    }

    /// The report as Markdown: the cases table, then each case with its judgements, the
    /// client's exit status and output, and the transcript.
    fn to_markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Client report: {}\n", self.client);
        let _ = writeln!(
            md,
            "mtpspec {} `serve-test`: the harness plays a scripted SMTP server \
             (scenarios/clients) and judges the client that connects.\n",
            self.tool_version
        );
        if let Some(cmd) = &self.command {
            let _ = writeln!(md, "Client command: `{cmd}`\n");
        }
        let _ = writeln!(md, "Result: {}\n", self.summary_line());
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

fn case_markdown(md: &mut String, c: &CaseOutcome) {
    let _ = writeln!(
        md,
        "\n## {}\n\n{} ({}:{}). Verdict: **{}**.\n",
        c.id, c.title, c.file, c.line, c.verdict
    );
    if let Some(reason) = &c.reason
        && c.judgements.is_empty()
    {
        let _ = writeln!(md, "{reason}\n");
    }
    judgements_table(md, &c.judgements, None);
    if let Some(run) = &c.client {
        let status = match (run.exit_code, run.timed_out) {
            (Some(code), _) => format!("exit status {code}"),
            (None, true) => "killed at the case deadline".to_string(),
            (None, false) => "killed by a signal".to_string(),
        };
        let _ = writeln!(
            md,
            "Client: {status} after {} ms.\n",
            run.duration.as_millis()
        );
        if !run.output.trim().is_empty() {
            let _ = writeln!(
                md,
                "```text\n{}\n```\n",
                clip_block(run.output.trim_end(), 3000)
            );
        }
    }
    if !c.events.is_empty() {
        let _ = writeln!(
            md,
            "<details><summary>Transcript</summary>\n\n```text\n{}```\n\n</details>",
            clip_block(&c.transcript(), 12000)
        );
    }
}
