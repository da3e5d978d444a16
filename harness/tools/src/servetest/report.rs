//! The report of one client: per case its verdict, each judgement with its requirement, the
//! client's exit status and output, and the transcript. Rendered as JSON (a versioned schema)
//! and Markdown; the verdicts are the suite's own ([`Verdict`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::client::ClientRun;
use super::judge::Judged;
use super::model::{ClientCase, Mode};
use super::record::{Event, render};
use mtpspec_runner::report::markdown::cell;
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
        let reason = judgements
            .iter()
            .find(|j| j.verdict == verdict && verdict != Verdict::Pass)
            .map(|j| {
                format!(
                    "{} ({} {}): {}",
                    j.check,
                    j.spec,
                    j.level,
                    j.detail.as_deref().unwrap_or("")
                )
            });
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
    pub summary: BTreeMap<Verdict, usize>,
    pub cases: Vec<CaseOutcome>,
}

impl ClientReport {
    pub fn new(client: String, command: Option<String>, cases: Vec<CaseOutcome>) -> Self {
        let mut summary: BTreeMap<Verdict, usize> = Verdict::ALL.iter().map(|v| (*v, 0)).collect();
        for c in &cases {
            *summary.entry(c.verdict).or_default() += 1;
        }
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

    /// 0 no FAIL; 1 a FAIL; 3 an ERROR and no FAIL (as `mtpspec run`).
    pub fn exit_code(&self) -> u8 {
        if self.summary.get(&Verdict::Fail).is_some_and(|n| *n > 0) {
            1
        } else if self.summary.get(&Verdict::Error).is_some_and(|n| *n > 0) {
            3
        } else {
            0
        }
    }

    pub fn summary_line(&self) -> String {
        let parts: Vec<String> = Verdict::ALL
            .iter()
            .map(|v| format!("{} {v}", self.summary.get(v).copied().unwrap_or(0)))
            .collect();
        format!(
            "{}: {} cases: {}",
            self.client,
            self.cases.len(),
            parts.join(", ")
        )
    }

    pub fn to_json(&self) -> String {
        // Every field is a plain string, number, list or map: serializing cannot fail.
        serde_json::to_string_pretty(self).expect("report serializes")
    }

    pub fn to_markdown(&self) -> String {
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
        let _ = writeln!(
            md,
            "| Case | Requirements | Verdict | Why |\n| --- | --- | --- | --- |"
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
                cell(j.detail.as_deref().unwrap_or(""))
            );
        }
        md.push('\n');
    }
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
            let _ = writeln!(md, "```text\n{}\n```\n", clip(run.output.trim_end(), 3000));
        }
    }
    if !c.events.is_empty() {
        let _ = writeln!(
            md,
            "<details><summary>Transcript</summary>\n\n```text\n{}```\n\n</details>",
            clip(&c.transcript(), 12000)
        );
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n... ({} more octets)\n", &text[..end], text.len() - end)
}
