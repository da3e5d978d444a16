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

/// The JSON schema's name (`schema` in every client report).
pub const SCHEMA: &str = "mtpspec-client-report";
/// The JSON schema's version (`schema_version`).
pub const SCHEMA_VERSION: u32 = 1;

/// One case's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct CaseOutcome {
    /// The case id.
    pub id: String,
    /// The case title.
    pub title: String,
    /// The scenario file the case is written in.
    pub file: String,
    /// The 1-based line its list item starts on.
    pub line: u64,
    /// The requirement IDs its judgements cite, in order, without repeats.
    pub spec: Vec<String>,
    /// What the client was asked to do (`{mode}`).
    pub mode: Mode,
    /// The worst verdict of its judgements; SKIP when the client lacks a feature the case
    /// requires, ERROR when the case could not be played.
    pub verdict: Verdict,
    /// One line: why the verdict is not PASS.
    pub reason: Option<String>,
    /// Each judgement's outcome, in the order the case writes them; empty when the case
    /// was not played.
    pub judgements: Vec<Judged>,
    /// How the client command ended; `None` without `--client-cmd`, or when the case was
    /// not played.
    pub client: Option<ClientRun>,
    /// The log of every connection of the case, which the judgements read and the
    /// transcript shows.
    pub events: Vec<Event>,
    /// How long the case took, from its start until it was judged (in JSON `duration_ms`,
    /// whole milliseconds); zero when it was not played.
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

    /// A case played and judged: its `verdict` (the worst of `judgements`), the record of
    /// its connections, the client's run when the harness started one, and how long it took;
    /// the reason is taken from the first judgement that gave the verdict.
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
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The mtpspec version that wrote it.
    pub tool_version: &'static str,
    /// The client's name, as given by `--client-name`.
    pub client: String,
    /// The command template (placeholders not filled in).
    pub command: Option<String>,
    /// How many cases got each verdict.
    pub summary: Summary,
    /// Each case's outcome, in the order the cases ran.
    pub cases: Vec<CaseOutcome>,
}

impl ClientReport {
    /// The report on `client` (its name) run by `command` (the template, if the harness
    /// started it), with the verdicts of `cases` counted.
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
