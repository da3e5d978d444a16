//! One column of the comparison page: a run read back from its JSON report (schema
//! `mtpspec-report`, any version from 1 to the one this build writes: what the page reads is
//! the same in all of them). Only what the page shows is kept; each case's wire log is
//! rendered to a transcript as it is read and clipped, so a 10 MB DATA case does not become a
//! 10 MB table cell.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use base64::Engine;
use serde::Deserialize;

use crate::report::{SCHEMA, SCHEMA_VERSION, transcript};
use crate::runner::{CaseResult, Verdict, WireEvent, WireKind};
use crate::scenario::{Level, Protocol};

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
    pub started_at: String,
    pub duration_ms: u64,
    pub tool_version: String,
    /// `passed`, `failed` or `harness_error`.
    pub gate: String,
    pub exit_code: u8,
    pub counts: BTreeMap<Verdict, usize>,
    pub expected_failures: usize,
    /// Section id to title, as the run's report named them.
    pub section_titles: BTreeMap<String, String>,
    /// Requirement id to (level, text), as the run's report quoted them.
    pub requirements: BTreeMap<String, (String, String)>,
    pub cases: Vec<ColumnCase>,
    /// The run's robustness cases (none in a report written before they existed).
    pub robustness: Vec<ColumnRobustness>,
}

/// One robustness case of a run: its verdict and figures.
#[derive(Clone, Debug)]
pub struct ColumnRobustness {
    pub id: String,
    pub title: String,
    pub spec: Vec<String>,
    pub verdict: Verdict,
    pub reason: Option<String>,
    pub well_behaved: String,
    pub figures: Vec<String>,
}

/// One case of a run.
#[derive(Clone, Debug)]
pub struct ColumnCase {
    pub id: String,
    pub title: String,
    pub file: String,
    pub line: u64,
    pub spec: Vec<String>,
    pub level: Level,
    pub verdict: Verdict,
    pub reason: Option<String>,
    /// (expected, actual) of the step that went wrong.
    pub failure: Option<(String, String)>,
    /// The baseline's reason when it excuses this failure.
    pub expected_failure: Option<String>,
    /// The baseline's reason when it lists this case but the case now passes.
    pub now_passes: Option<String>,
    pub timed_out: bool,
    pub fallback: bool,
    /// The rendered wire log (times on), clipped to [`TRANSCRIPT_LINES`].
    pub transcript: String,
}

/// Why a JSON report could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadError {
    Json(serde_json::Error),
    /// Not an mtpspec report, or a schema version this build does not read.
    Schema {
        schema: String,
        version: u32,
    },
    UnknownVerdict {
        case: String,
        verdict: String,
    },
    BadBase64 {
        case: String,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(e) => write!(f, "not a JSON report: {e}"),
            Self::Schema { schema, version } => write!(
                f,
                "schema {schema:?} version {version}; this build reads {SCHEMA:?} versions 1 to {SCHEMA_VERSION}"
            ),
            Self::UnknownVerdict { case, verdict } => {
                write!(f, "case {case}: unknown verdict {verdict:?}")
            }
            Self::BadBase64 { case } => write!(f, "case {case}: wire data_base64 is not base64"),
        }
    }
}

// The JSON error's text is part of the message, so it is not also a `source`.
impl std::error::Error for LoadError {}

// The subset of the report schema the page reads; other fields are ignored so that additions
// still load. Versions 1 and 2 differ in nothing read here but `address` (2 only).
#[derive(Deserialize)]
struct Doc {
    schema: String,
    schema_version: u32,
}

#[derive(Deserialize)]
struct JsonReport {
    tool: JsonTool,
    target: String,
    /// The target as given, when `target` is its name (version 2).
    #[serde(default)]
    address: Option<String>,
    started_at: String,
    duration_ms: u64,
    gate: String,
    exit_code: u8,
    summary: JsonSummary,
    #[serde(default)]
    sections: Vec<JsonSection>,
    #[serde(default)]
    requirements: BTreeMap<String, JsonRequirement>,
    cases: Vec<JsonCase>,
    #[serde(default)]
    robustness: Vec<JsonRobustness>,
}

#[derive(Deserialize)]
struct JsonRobustness {
    id: String,
    title: String,
    #[serde(default)]
    spec: Vec<String>,
    verdict: String,
    reason: Option<String>,
    #[serde(default)]
    well_behaved: String,
    #[serde(default)]
    figures: Vec<String>,
}

#[derive(Deserialize)]
struct JsonTool {
    version: String,
}

#[derive(Deserialize)]
struct JsonSummary {
    #[serde(default)]
    expected_failures: usize,
}

#[derive(Deserialize)]
struct JsonSection {
    section: String,
    title: String,
}

#[derive(Deserialize)]
struct JsonRequirement {
    level: String,
    text: String,
}

#[derive(Deserialize)]
struct JsonCase {
    id: String,
    title: String,
    file: String,
    line: u64,
    spec: Vec<String>,
    level: Level,
    #[serde(default)]
    protocol: Protocol,
    verdict: String,
    reason: Option<String>,
    failure: Option<JsonFailure>,
    #[serde(default)]
    timed_out: bool,
    #[serde(default)]
    fallback: bool,
    baseline: Option<JsonBaseline>,
    #[serde(default)]
    wire: Vec<JsonWire>,
}

#[derive(Deserialize)]
struct JsonFailure {
    expected: String,
    actual: String,
}

#[derive(Deserialize)]
struct JsonBaseline {
    status: String,
    reason: String,
}

#[derive(Deserialize)]
struct JsonWire {
    at_ms: f64,
    conn: u8,
    kind: String,
    tls: bool,
    data: Option<String>,
    data_base64: Option<String>,
}

impl Column {
    /// Reads a JSON report written by `mtpspec run --report-json`.
    pub fn from_json(name: &str, text: &str) -> Result<Column, LoadError> {
        let doc: Doc = serde_json::from_str(text).map_err(LoadError::Json)?;
        if doc.schema != SCHEMA || !(1..=SCHEMA_VERSION).contains(&doc.schema_version) {
            return Err(LoadError::Schema {
                schema: doc.schema,
                version: doc.schema_version,
            });
        }
        let report: JsonReport = serde_json::from_str(text).map_err(LoadError::Json)?;
        let mut counts: BTreeMap<Verdict, usize> = Verdict::ALL.iter().map(|&v| (v, 0)).collect();
        let mut cases = Vec::with_capacity(report.cases.len());
        for case in report.cases {
            let case = ColumnCase::from_json(case)?;
            *counts.entry(case.verdict).or_default() += 1;
            cases.push(case);
        }
        let robustness = report
            .robustness
            .into_iter()
            .map(|r| {
                Ok(ColumnRobustness {
                    verdict: verdict_named(&r.id, &r.verdict)?,
                    id: r.id,
                    title: r.title,
                    spec: r.spec,
                    reason: r.reason,
                    well_behaved: r.well_behaved,
                    figures: r.figures,
                })
            })
            .collect::<Result<Vec<_>, LoadError>>()?;
        Ok(Column {
            name: name.to_string(),
            target: report.address.unwrap_or(report.target),
            started_at: report.started_at,
            duration_ms: report.duration_ms,
            tool_version: report.tool.version,
            gate: report.gate,
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
            cases,
            robustness,
        })
    }

    pub fn count(&self, verdict: Verdict) -> usize {
        self.counts.get(&verdict).copied().unwrap_or(0)
    }

    pub fn case(&self, id: &str) -> Option<&ColumnCase> {
        self.cases.iter().find(|c| c.id == id)
    }
}

/// The verdict a report spells `name`, for case `id`.
fn verdict_named(id: &str, name: &str) -> Result<Verdict, LoadError> {
    Verdict::ALL
        .into_iter()
        .find(|v| v.as_str() == name)
        .ok_or_else(|| LoadError::UnknownVerdict {
            case: id.to_string(),
            verdict: name.to_string(),
        })
}

impl ColumnCase {
    fn from_json(case: JsonCase) -> Result<ColumnCase, LoadError> {
        let verdict = verdict_named(&case.id, &case.verdict)?;
        let events = case
            .wire
            .into_iter()
            .map(|w| wire_event(w, &case.id))
            .collect::<Result<Vec<_>, _>>()?;
        let (expected_failure, now_passes) = match case.baseline {
            Some(b) if b.status == "expected_failure" => (Some(b.reason), None),
            Some(b) => (None, Some(b.reason)),
            None => (None, None),
        };
        let transcript = rendered(&case.id, case.level, case.protocol, verdict, events);
        Ok(ColumnCase {
            verdict,
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
        })
    }
}

/// The transcript as `mtpspec run` renders it for the case's protocol (times on), clipped.
fn rendered(
    id: &str,
    level: Level,
    protocol: Protocol,
    verdict: Verdict,
    wire: Vec<WireEvent>,
) -> String {
    let result = CaseResult {
        id: id.to_string(),
        title: String::new(),
        file: String::new(),
        line: 0,
        spec: Vec::new(),
        level,
        protocol,
        verdict,
        reason: None,
        failure: None,
        timed_out: false,
        refused: false,
        fallback: false,
        duration: Duration::ZERO,
        baseline: None,
        wire,
        redactions: Vec::new(),
    };
    clip(&transcript::render_case(&result, true), TRANSCRIPT_LINES)
}

fn wire_event(w: JsonWire, case: &str) -> Result<WireEvent, LoadError> {
    let mut data = match (w.data, w.data_base64) {
        (Some(text), _) => text.into_bytes(),
        (None, Some(b64)) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| LoadError::BadBase64 {
                case: case.to_string(),
            })?,
        (None, None) => Vec::new(),
    };
    let kind = match w.kind.as_str() {
        "connected" => WireKind::Connected,
        "sent" => WireKind::Sent,
        "received" => WireKind::Received,
        "tls_started" => WireKind::TlsStarted,
        "discarded" => WireKind::Discarded,
        "peer_closed" => WireKind::PeerClosed,
        "client_closed" => WireKind::ClientClosed,
        "note" => WireKind::Note,
        // A kind added after this build: shown as a note rather than refused.
        other => {
            let mut note = format!("{other}: ").into_bytes();
            note.append(&mut data);
            data = note;
            WireKind::Note
        }
    };
    Ok(WireEvent {
        at: Duration::from_secs_f64(w.at_ms.max(0.0) / 1000.0),
        conn: w.conn,
        kind,
        tls: w.tls,
        data,
    })
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

/// A small report in the JSON schema, for tests.
#[cfg(test)]
pub(crate) const SAMPLE: &str = r#"{
      "schema": "mtpspec-report", "schema_version": 1,
      "tool": {"name": "mtpspec", "version": "0.1.0"},
      "target": "smtp://127.0.0.1:2525", "started_at": "2026-11-22T22:05:19Z",
      "duration_ms": 1200, "strict": false, "gate": "failed", "exit_code": 1,
      "summary": {"total": 2, "counts": {"PASS": 1, "FAIL": 1}, "expected_failures": 0},
      "sections": [{"section": "SMTP-DATA", "title": "Mail data", "counts": {}}],
      "requirements": {"SMTP-DATA-3": {"level": "MUST", "text": "Only <CRLF>.<CRLF> ends", "section": "SMTP-DATA"}},
      "future_field": [1, 2, 3],
      "cases": [
        {"id": "a", "title": "A", "file": "s.yaml", "line": 1, "spec": ["SMTP-DATA-3"],
         "level": "must", "protocol": "smtp", "verdict": "FAIL", "reason": "got 250",
         "failure": {"step": 0, "line": 3, "description": "d", "expected": "5yz", "actual": "250"},
         "timed_out": false, "fallback": false, "duration_ms": 3,
         "baseline": {"status": "expected_failure", "reason": "known"},
         "wire": [
           {"at_ms": 0.5, "conn": 1, "kind": "received", "tls": false, "data": "220 hi\r\n"},
           {"at_ms": 1.0, "conn": 1, "kind": "sent", "tls": false, "data_base64": "/w0K"},
           {"at_ms": 2.0, "conn": 1, "kind": "teleported", "tls": false, "data": "x"}
         ]},
        {"id": "b", "title": "B", "file": "s.yaml", "line": 9, "spec": [], "level": "should",
         "protocol": "smtp", "verdict": "PASS", "reason": null, "failure": null,
         "timed_out": false, "fallback": false, "duration_ms": 1, "baseline": null, "wire": []}
      ]}"#;

#[cfg(test)]
mod tests {
    use super::*;

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
    fn refuses_other_schemas_and_verdicts() {
        let newer = SCHEMA_VERSION + 1;
        for version in [0, newer] {
            let other = SAMPLE.replace(
                "\"schema_version\": 1",
                &format!("\"schema_version\": {version}"),
            );
            assert!(matches!(
                Column::from_json("x", &other),
                Err(LoadError::Schema { version: v, .. }) if v == version
            ));
        }
        let named = SAMPLE
            .replace(
                "\"schema_version\": 1",
                &format!("\"schema_version\": {SCHEMA_VERSION}"),
            )
            .replace(
                "\"target\": \"smtp://127.0.0.1:2525\"",
                "\"target\": \"postfix\", \"address\": \"smtp://127.0.0.1:2525\"",
            );
        let column = Column::from_json("x", &named).expect("the current version loads");
        assert_eq!(
            column.target, "smtp://127.0.0.1:2525",
            "the address, not the name"
        );
        let bad = SAMPLE.replace("\"PASS\", \"reason\"", "\"MAYBE\", \"reason\"");
        assert!(matches!(
            Column::from_json("x", &bad),
            Err(LoadError::UnknownVerdict { .. })
        ));
        assert!(matches!(
            Column::from_json("x", "[]"),
            Err(LoadError::Json(_))
        ));
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
