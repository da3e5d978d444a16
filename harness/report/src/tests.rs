//! The reports an operator triages: findings most serious first (SPEC.md's consequences,
//! then MUSTs, then SHOULDs, then errors), the target named in the title, the findings'
//! summary above the gate line, and step numbers counted from 1 in every format.

use std::time::{Duration, SystemTime};

use super::{ReportInput, RunReport, markdown, terminal};
use crate::capabilities::Capabilities;
use crate::verdict::{BaselineMark, CaseResult, FailureDetail, Observed, Verdict};
use mtpspec_scenario::spec::Spec;
use mtpspec_scenario::{Level, Protocol};

const SPEC: &str = "# SMTP\n\n## DATA: Mail data\n\n\
| ID | Level | Requirement | Source |\n| --- | --- | --- | --- |\n\
| SMTP-DATA-1 | MUST | a MUST | RFC 5321 |\n\
| SMTP-DATA-2 | SHOULD | a SHOULD | RFC 5321 |\n\
| SMTP-DATA-6 | MUST | durable | RFC 5321 |\n\
| SMTP-DATA-14 | MUST | bare LF dot | RFC 5321 |\n\n\
# Consequences\n\n| Consequence | What a failure lets happen | Requirements |\n| --- | --- | --- |\n\
| smuggling | forged mail | SMTP-DATA-14 |\n\
| lost mail | mail gone | SMTP-DATA-6 |\n";

fn case(id: &str, spec: &str, verdict: Verdict) -> CaseResult {
    CaseResult {
        id: id.into(),
        title: format!("title of {id}"),
        file: "scenarios/x.yaml".into(),
        line: 1,
        spec: vec![spec.into()],
        level: Level::Must,
        protocol: Protocol::Smtp,
        verdict,
        reason: Some("why".into()),
        failure: None,
        timed_out: false,
        refused: false,
        fallback: false,
        duration: Duration::ZERO,
        baseline: None,
        wire: Vec::new(),
        redactions: Vec::new(),
    }
}

/// In file order: a WARN, a MUST broken, an error, lost mail, a pass and smuggling (an
/// expected failure, whose failing step is the third).
fn report() -> RunReport {
    let spec = Spec::parse(SPEC).unwrap();
    let mut smuggled = case("smuggled", "SMTP-DATA-14", Verdict::Fail);
    smuggled.baseline = Some(BaselineMark::ExpectedFailure("known".into()));
    smuggled.failure = Some(FailureDetail {
        step: 3,
        line: 12,
        description: "expect 250".into(),
        expected: "1 message(s)".into(),
        actual: "2 message(s)".into(),
        observed: Some(Observed::Messages { matched: 2 }),
    });
    let cases = vec![
        case("should-broken", "SMTP-DATA-2", Verdict::Warn),
        case("must-broken", "SMTP-DATA-1", Verdict::Fail),
        case("harness-error", "SMTP-DATA-1", Verdict::Error),
        case("lost", "SMTP-DATA-6", Verdict::Fail),
        case("passed", "SMTP-DATA-14", Verdict::Pass),
        smuggled,
    ];
    RunReport::new(ReportInput {
        target: "postfix".into(),
        address: "smtp://127.0.0.1:2525".into(),
        started: SystemTime::UNIX_EPOCH,
        duration: Duration::from_secs(1),
        strict: false,
        capabilities: Capabilities::default(),
        cases,
        spec: Some(&spec),
        stale_baseline: Vec::new(),
        remedies: [(
            "smuggled".to_string(),
            "Postfix: smtpd_forbid_bare_newline = normalize".to_string(),
        )]
        .into(),
    })
}

/// Where each of `needles` first appears in `text`, in the order given.
fn positions(text: &str, needles: &[&str]) -> Vec<usize> {
    needles
        .iter()
        .map(|n| {
            text.find(n)
                .unwrap_or_else(|| panic!("{n:?} not in:\n{text}"))
        })
        .collect()
}

fn is_ascending(list: &[usize]) -> bool {
    list.windows(2).all(|w| w[0] < w[1])
}

const MOST_SERIOUS_FIRST: [&str; 5] = [
    "smuggled",
    "lost",
    "must-broken",
    "should-broken",
    "harness-error",
];

#[test]
fn findings_are_ordered_by_consequence_then_level() {
    let report = report();
    let order: Vec<&str> = report.findings.iter().map(|f| f.case.as_str()).collect();
    assert_eq!(order, MOST_SERIOUS_FIRST);
    let kinds: Vec<&str> = report.findings.iter().map(|f| f.kind()).collect();
    assert_eq!(kinds, ["smuggling", "lost mail", "MUST", "SHOULD", "ERROR"]);
    assert_eq!(
        report.findings_line(),
        "1 smuggling, 1 lost mail, 1 MUST broken, 1 SHOULD broken, 1 ERROR, of which 1 expected (baseline)"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["findings"][0]["consequence"], "smuggling");
    assert_eq!(json["findings"][0]["expected_failure"], true);
    assert_eq!(
        json["findings"][0]["remedy"],
        "Postfix: smtpd_forbid_bare_newline = normalize"
    );
    assert_eq!(
        json["requirements"]["SMTP-DATA-6"]["consequence"],
        "lost mail"
    );
    assert_eq!(json["address"], "smtp://127.0.0.1:2525");
    assert_eq!(json["schema_version"], super::SCHEMA_VERSION);
}

#[test]
fn the_markdown_names_the_target_and_summarises_before_the_gate() {
    let md = markdown::to_string(&report());
    assert!(md.starts_with("# mtpspec report: postfix\n"), "{md}");
    assert!(md.contains("Target `smtp://127.0.0.1:2525`"), "{md}");
    let top = positions(&md, &["## Findings", "**Gate: FAILED", "## Counts"]);
    assert!(is_ascending(&top), "{top:?}");
    // The summary table and the details, most serious first.
    let table: Vec<String> = MOST_SERIOUS_FIRST
        .iter()
        .map(|id| format!("| `{id}` |"))
        .collect();
    let table: Vec<&str> = table.iter().map(String::as_str).collect();
    assert!(is_ascending(&positions(&md, &table)));
    let details_at = md.find("## Failures, warnings and errors").unwrap();
    let details = &md[details_at..md.find("## All cases").unwrap()];
    let headings: Vec<String> = MOST_SERIOUS_FIRST
        .iter()
        .map(|id| format!("`{id}`:"))
        .collect();
    let headings: Vec<&str> = headings.iter().map(String::as_str).collect();
    assert!(is_ascending(&positions(details, &headings)), "{details}");
    assert!(
        details.contains("### FAIL (smuggling) `smuggled`"),
        "{details}"
    );
    assert!(
        details.contains("- Step 3 (line 12): expect 250")
            && details.contains("- Remedy: Postfix: smtpd_forbid_bare_newline = normalize"),
        "{details}"
    );
    assert!(md.contains("A case counts once in each section it cites"));
}

#[test]
fn the_terminal_lists_the_findings_right_above_the_gate() {
    let text = terminal::summary(&report(), false);
    let findings_at = text
        .find("Findings, most serious first: 1 smuggling")
        .unwrap();
    let gate_at = text.find("Gate: FAILED").unwrap();
    let tail = &text[findings_at..gate_at];
    let lines: Vec<String> = MOST_SERIOUS_FIRST
        .iter()
        .map(|id| format!(" {id}: "))
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert!(is_ascending(&positions(tail, &lines)), "{tail}");
    assert!(
        tail.contains("smuggled: title of smuggled (expected, baseline)"),
        "{tail}"
    );
    let details = &text[..findings_at];
    assert!(
        details.contains("step 3 (line 12): expect 250"),
        "{details}"
    );
    assert!(details.contains("consequence: smuggling"), "{details}");
    assert!(
        details.contains("remedy: Postfix: smtpd_forbid_bare_newline = normalize"),
        "{details}"
    );
}

/// The schema is one type both ways: a report written and read back is the same report, wire
/// bytes (text and not), robustness figures and capabilities included.
#[test]
fn the_json_report_reads_back_as_written() {
    use crate::robustness_result::{Measured, RobustnessResult, RssFigure};
    use crate::wire::{WireEvent, WireKind};

    let mut report = report();
    report.cases[0].wire = vec![
        WireEvent {
            at: Duration::from_micros(1_234),
            conn: 1,
            kind: WireKind::Received,
            tls: false,
            data: b"220 hi\r\n".to_vec(),
        },
        WireEvent {
            at: Duration::from_micros(2_500),
            conn: 1,
            kind: WireKind::Sent,
            tls: true,
            data: b"\xff\x00 not UTF-8".to_vec(),
        },
    ];
    report.cases[0].failure = Some(FailureDetail {
        step: 2,
        line: 7,
        description: "send \"RCPT TO:<x@example.test>\"".into(),
        expected: "5yz".into(),
        actual: "250 2.1.5 Ok".into(),
        observed: Some(Observed::Reply {
            code: 250,
            enhanced: Some("2.1.5".into()),
            lines: vec!["Ok".into()],
        }),
    });
    report.capabilities = Capabilities::from_keywords(&["SIZE 1000", "PIPELINING"]);
    report.robustness = vec![RobustnessResult {
        id: "robust-tls-stall".into(),
        title: "stalled TLS handshakes".into(),
        spec: vec!["ROBUST-SMTP-1".into()],
        level: Level::Should,
        verdict: Verdict::Warn,
        reason: Some("a fresh client waited 9.1 s for its greeting".into()),
        well_behaved: "greets fresh clients in time".into(),
        figures: vec!["32 connections held".into()],
        measured: Some(Measured {
            connections: 32,
            refused: 1,
            closed_after_ms: vec![30_000, 30_010],
            open_at_cap: 29,
            cap_ms: 60_000,
            fresh_client_from: "127.0.0.2".into(),
            probes: 6,
            greeted: 5,
            slowest_greeting_ms: Some(9_100),
            greeted_after_attack: true,
            sent_octets: 4_096,
            rss: Some(RssFigure {
                pid: 42,
                in_process: false,
                before_kib: 10_240,
                peak_kib: 12_288,
            }),
        }),
        duration: Duration::from_millis(61_500),
    }];
    let written = super::json::to_string(&report).unwrap();
    let read = super::json::from_str(&written).unwrap();
    assert_eq!(super::json::to_string(&read).unwrap(), written);
    assert_eq!(read.cases[0].wire, report.cases[0].wire);
    assert_eq!(
        read.cases[0]
            .failure
            .as_ref()
            .and_then(|f| f.observed.clone()),
        report.cases[0]
            .failure
            .as_ref()
            .and_then(|f| f.observed.clone()),
        "what the target did, as data"
    );
    assert!(written.contains(r#""kind": "reply""#), "{written}");
    assert_eq!(
        read.capabilities.size_max(),
        Some(1000),
        "extensions parsed again"
    );
}
