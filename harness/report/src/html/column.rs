//! One column of the comparison page: a run's report (fresh, or read back from its JSON with
//! [`crate::json::from_str`]), reduced to what the page shows. Each case's wire log
//! is rendered to a transcript and clipped, so a 10 MB DATA case does not become a 10 MB
//! table cell.

use std::collections::BTreeMap;

use crate::json::{self, ReadError};
use crate::verdict::{BaselineMark, CaseResult, Verdict};
use crate::{Gate, RunReport, transcript};
use mtpspec_scenario::Level;

/// Transcripts longer than this many lines keep their start and end.
pub const TRANSCRIPT_LINES: usize = 400;
/// Of a clipped transcript, the lines kept at the end.
const TRANSCRIPT_TAIL: usize = 80;

/// A run, as one column of the page.
#[derive(Clone, Debug)]
pub struct Column {
    /// The name given on the command line (`postfix`).
    pub name: String,
    /// What the run was pointed at (`smtp://127.0.0.1:2525`).
    pub target: String,
    /// When the run started (the report's `started_at`, RFC 3339).
    pub started_at: String,
    /// How long the run took, in whole milliseconds (the report's `duration_ms`).
    pub duration_ms: u64,
    /// The version of mtpspec that ran (`tool.version`).
    pub tool_version: String,
    /// `passed`, `failed` or `harness_error`.
    pub gate: String,
    /// The exit code the run ended with (0, 1 or 3).
    pub exit_code: u8,
    /// Verdict to its number of scenario cases, every verdict present.
    pub counts: BTreeMap<Verdict, usize>,
    /// FAIL/WARN results the run's baseline excused.
    pub expected_failures: usize,
    /// Section id to title, as the run's report named them.
    pub section_titles: BTreeMap<String, String>,
    /// Requirement id to (level, text), as the run's report quoted them.
    pub requirements: BTreeMap<String, (String, String)>,
    /// The run's scenario cases, in its report's order.
    pub cases: Vec<ColumnCase>,
    /// The run's robustness cases (none in a report written before they existed).
    pub robustness: Vec<ColumnRobustness>,
}

/// One robustness case of a run: its verdict and figures.
#[derive(Clone, Debug)]
pub struct ColumnRobustness {
    /// The case's id (`robust-tls-handshake-stall`): the row it goes in.
    pub id: String,
    /// The case's title.
    pub title: String,
    /// The SPEC.md requirement ids it checks.
    pub spec: Vec<String>,
    /// `PASS`, `WARN` or `SKIP`.
    pub verdict: Verdict,
    /// Why the verdict is not PASS.
    pub reason: Option<String>,
    /// What a well-behaved server does under the attack.
    pub well_behaved: String,
    /// The figure lines, as every report prints them.
    pub figures: Vec<String>,
}

/// One case of a run.
#[derive(Clone, Debug)]
pub struct ColumnCase {
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
    /// The case's level in this run (`must`, `should`, `may`).
    pub level: Level,
    /// The case's verdict in this run.
    pub verdict: Verdict,
    /// One line: why the verdict is not PASS.
    pub reason: Option<String>,
    /// (expected, actual) of the step that went wrong.
    pub failure: Option<(String, String)>,
    /// The baseline's reason when it excuses this failure.
    pub expected_failure: Option<String>,
    /// The baseline's reason when it lists this case but the case now passes.
    pub now_passes: Option<String>,
    /// The case hit its deadline.
    pub timed_out: bool,
    /// The fallback steps ran instead of the main ones.
    pub fallback: bool,
    /// The rendered wire log (times on), clipped to [`TRANSCRIPT_LINES`].
    pub transcript: String,
}

impl Column {
    /// Reads a JSON report written by `mtpspec run --report-json` (any version this build
    /// reads, [`crate::json::from_str`]).
    pub fn from_json(name: &str, text: &str) -> Result<Column, ReadError> {
        json::from_str(text).map(|report| Column::from_report(name, report))
    }

    /// The column of a run's report.
    pub fn from_report(name: &str, report: RunReport) -> Column {
        let counts: BTreeMap<Verdict, usize> = Verdict::ALL
            .iter()
            .map(|&v| (v, report.cases.iter().filter(|c| c.verdict == v).count()))
            .collect();
        Column {
            name: name.to_string(),
            target: report.address,
            started_at: report.started_at,
            duration_ms: u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
            tool_version: report.tool.version,
            gate: match report.gate {
                Gate::Passed => "passed",
                Gate::Failed => "failed",
                Gate::HarnessError => "harness_error",
            }
            .to_string(),
            exit_code: report.exit_code,
            counts,
            expected_failures: report.summary.expected_failures,
            section_titles: report
                .sections
                .into_iter()
                .map(|s| (s.section, s.title))
                .collect(),
            requirements: report
                .requirements
                .into_iter()
                .map(|(id, r)| (id, (r.level, r.text)))
                .collect(),
            cases: report
                .cases
                .into_iter()
                .map(ColumnCase::from_result)
                .collect(),
            robustness: report
                .robustness
                .into_iter()
                .map(|r| ColumnRobustness {
                    id: r.id,
                    title: r.title,
                    spec: r.spec,
                    verdict: r.verdict,
                    reason: r.reason,
                    well_behaved: r.well_behaved,
                    figures: r.figures,
                })
                .collect(),
        }
    }

    /// How many of the run's scenario cases got `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.counts.get(&verdict).copied().unwrap_or(0)
    }

    /// The run's case with this id; `None` when the run did not include it.
    pub fn case(&self, id: &str) -> Option<&ColumnCase> {
        self.cases.iter().find(|c| c.id == id)
    }
}

impl ColumnCase {
    fn from_result(case: CaseResult) -> ColumnCase {
        let (expected_failure, now_passes) = match &case.baseline {
            Some(BaselineMark::ExpectedFailure(reason)) => (Some(reason.clone()), None),
            Some(BaselineMark::NowPasses(reason)) => (None, Some(reason.clone())),
            None => (None, None),
        };
        // The transcript as `mtpspec run` renders it for the case's protocol (times on),
        // clipped.
        let transcript = clip(&transcript::render_case(&case, true), TRANSCRIPT_LINES);
        ColumnCase {
            verdict: case.verdict,
            title: case.title,
            file: case.file,
            line: case.line,
            spec: case.spec,
            level: case.level,
            reason: case.reason,
            failure: case.failure.map(|f| (f.expected, f.actual)),
            expected_failure,
            now_passes,
            timed_out: case.timed_out,
            fallback: case.fallback,
            transcript,
            id: case.id,
        }
    }
}

/// The first and last lines of a long text, with the number left out between them.
pub fn clip(text: &str, max_lines: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= max_lines {
        return text.to_string();
    }
    let tail = TRANSCRIPT_TAIL.min(max_lines / 2);
    let head = max_lines - tail;
    let mut out = String::new();
    for line in &lines[..head] {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&format!(
        "[... {} lines left out here; the JSON report has them all ...]\n",
        lines.len() - head - tail
    ));
    for line in &lines[lines.len() - tail..] {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::SAMPLE;

    #[test]
    fn reads_a_report() {
        let column = Column::from_json("pf", SAMPLE).expect("sample loads");
        assert_eq!(column.name, "pf");
        assert_eq!(column.count(Verdict::Fail), 1);
        assert_eq!(column.count(Verdict::Error), 0);
        assert_eq!(column.section_titles["SMTP-DATA"], "Mail data");
        let a = column.case("a").expect("case a");
        assert_eq!(a.expected_failure.as_deref(), Some("known"));
        assert_eq!(a.failure, Some(("5yz".into(), "250".into())));
        assert!(a.transcript.contains("S: 220 hi"), "{}", a.transcript);
        assert!(a.transcript.contains("C: <xFF>"), "{}", a.transcript);
        assert!(
            a.transcript.contains("-- teleported: x"),
            "{}",
            a.transcript
        );
        assert_eq!(column.case("b").expect("case b").level, Level::Should);
    }

    #[test]
    fn clips_long_transcripts() {
        let text: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        let clipped = clip(&text, 100);
        assert_eq!(clipped.lines().count(), 101);
        assert!(clipped.starts_with("line 0\n"));
        assert!(clipped.contains("[... 900 lines left out"));
        assert!(clipped.ends_with("line 999\n"));
        assert_eq!(clip("a\nb\n", 100), "a\nb\n");
    }
}
