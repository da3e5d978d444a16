//! The terminal report: a progress bar while cases run (one line per case when stderr is not a
//! terminal), then a summary by spec section, each failure with its requirement text, expected
//! and actual and its transcript, and the gate's decision.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::Instant;

use super::{Finding, RunReport, transcript};
use crate::verdict::{BaselineMark, CaseResult, Verdict};
use mtpspec_scenario::Case;
use mtpspec_scenario::spec::Spec;

/// Transcript lines shown per failure in the terminal (the reports keep them all).
const TRANSCRIPT_LINES: usize = 40;

fn paint(text: &str, verdict: Verdict, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    let code = match verdict {
        Verdict::Pass => "32",
        Verdict::Fail => "1;31",
        Verdict::Warn => "33",
        Verdict::Unsupported => "36",
        Verdict::Skip => "2",
        Verdict::Error => "1;35",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Progress on stderr while cases run.
pub struct Progress {
    total: usize,
    done: usize,
    counts: [usize; 6],
    tty: bool,
    color: bool,
    started: Instant,
    enabled: bool,
}

impl Progress {
    /// A bar for `total` cases on stderr, drawn only when `enabled` and stderr is a terminal;
    /// `color`: whether that terminal gets ANSI colors (`mtp_server::cli::output::use_color`).
    pub fn new(total: usize, enabled: bool, color: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        let progress = Self {
            total,
            done: 0,
            counts: [0; 6],
            tty,
            color: color && tty,
            started: Instant::now(),
            enabled,
        };
        if enabled && tty {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{}", progress.bar());
            let _ = err.flush();
        }
        progress
    }

    /// Counts a finished case and shows it: on a terminal, a line for a case that did not
    /// PASS and the bar redrawn; otherwise one `[done/total] VERDICT id` line per case.
    pub fn case_done(&mut self, result: &CaseResult) {
        self.done += 1;
        if let Some(i) = Verdict::ALL.iter().position(|v| *v == result.verdict) {
            self.counts[i] += 1;
        }
        if !self.enabled {
            return;
        }
        let mut err = std::io::stderr().lock();
        let verdict = paint(
            &format!("{:<11}", result.verdict.as_str()),
            result.verdict,
            self.color,
        );
        if self.tty {
            if result.verdict != Verdict::Pass {
                let _ = writeln!(err, "\r\x1b[2K{verdict} {}", result.id);
            }
            let _ = write!(err, "\r\x1b[2K{}", self.bar());
        } else {
            let _ = writeln!(
                err,
                "[{}/{}] {verdict} {}",
                self.done, self.total, result.id
            );
        }
        let _ = err.flush();
    }

    fn bar(&self) -> String {
        const WIDTH: usize = 30;
        let filled = (self.done * WIDTH).checked_div(self.total).unwrap_or(WIDTH);
        let counts: Vec<String> = Verdict::ALL
            .iter()
            .zip(self.counts)
            .filter(|(_, n)| *n > 0)
            .map(|(v, n)| paint(&format!("{v} {n}"), *v, self.color))
            .collect();
        format!(
            "[{}{}] {}/{} {:.1}s  {}",
            "#".repeat(filled),
            "-".repeat(WIDTH - filled),
            self.done,
            self.total,
            self.started.elapsed().as_secs_f64(),
            counts.join("  ")
        )
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if self.enabled && self.tty {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

/// The summary printed after a run.
pub fn summary(report: &RunReport, color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "mtpspec {}: {} cases against {} in {:.1} s{}\n",
        report.tool.version,
        report.summary.total,
        report.target,
        report.duration.as_secs_f64(),
        if report.strict { " (strict)" } else { "" }
    );
    let caps = &report.capabilities;
    let _ = writeln!(out, "Greeting: {}", caps.greeting);
    let _ = writeln!(out, "EHLO: {}", caps.keywords.join(", "));
    if let Some(tls) = &caps.tls_keywords {
        let _ = writeln!(out, "EHLO over TLS: {}", tls.join(", "));
    }
    for note in &caps.notes {
        let _ = writeln!(out, "Probe: {note}");
    }
    sections(&mut out, report);
    if !report.findings.is_empty() {
        out.push_str("\nFailures, warnings and errors, most serious first\n\n");
        for (finding, case) in report.finding_cases() {
            failure(&mut out, finding, case, report, color);
        }
    }
    let others: Vec<&CaseResult> = report
        .cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Skip | Verdict::Unsupported))
        .collect();
    if !others.is_empty() {
        out.push_str("\nUnsupported and skipped\n\n");
        for c in others {
            let verdict = paint(&format!("{:<11}", c.verdict.as_str()), c.verdict, color);
            let _ = writeln!(
                out,
                "{verdict} {}: {}",
                c.id,
                c.reason.as_deref().unwrap_or("")
            );
        }
    }
    out.push_str(&super::robustness::text(report, |text, v| {
        paint(text, v, color)
    }));
    footer(&mut out, report, color);
    out
}

fn sections(out: &mut String, report: &RunReport) {
    let width = report
        .sections
        .iter()
        .map(|s| s.section.len() + 1 + s.title.chars().count().min(36))
        .max()
        .unwrap_or(10)
        .max(16);
    let _ = writeln!(
        out,
        "\n{:<width$}  PASS  FAIL  WARN  UNSUP  SKIP  ERROR",
        "By spec section"
    );
    for s in &report.sections {
        let title: String = s.title.chars().take(36).collect();
        let n = |v| match s.counts.get(&v).copied().unwrap_or(0) {
            0 => ".".to_string(),
            n => n.to_string(),
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:>4}  {:>4}  {:>4}  {:>5}  {:>4}  {:>5}",
            format!("{} {title}", s.section),
            n(Verdict::Pass),
            n(Verdict::Fail),
            n(Verdict::Warn),
            n(Verdict::Unsupported),
            n(Verdict::Skip),
            n(Verdict::Error)
        );
    }
    let _ = writeln!(
        out,
        "(a case counts once in each section it cites, so the sections add up to more than the cases)"
    );
}

fn failure(
    out: &mut String,
    finding: &Finding,
    case: &CaseResult,
    report: &RunReport,
    color: bool,
) {
    let verdict = paint(
        &format!("{:<5}", case.verdict.as_str()),
        case.verdict,
        color,
    );
    let _ = writeln!(
        out,
        "{verdict} {}: {} ({}:{})",
        case.id, case.title, case.file, case.line
    );
    if let Some(consequence) = &finding.consequence {
        let _ = writeln!(out, "      consequence: {consequence}");
    }
    if let Some(remedy) = &finding.remedy {
        let _ = writeln!(out, "      remedy: {remedy}");
    }
    if let Some(BaselineMark::ExpectedFailure(reason)) = &case.baseline {
        let _ = writeln!(out, "      expected failure (baseline): {reason}");
    }
    for id in &case.spec {
        match report.requirements.get(id) {
            Some(r) => {
                let _ = writeln!(out, "      {id} {}: {}", r.level, r.text);
                if !r.rfc_text.is_empty() {
                    let _ = writeln!(out, "        RFC text: {}", r.rfc_text);
                }
            }
            None => {
                let _ = writeln!(out, "      {id}");
            }
        }
    }
    if case.timed_out {
        let _ = writeln!(
            out,
            "      deadline: {}",
            case.reason.as_deref().unwrap_or("")
        );
    }
    if let Some(f) = &case.failure {
        let _ = writeln!(
            out,
            "      step {} (line {}): {}",
            f.step, f.line, f.description
        );
        if !f.expected.is_empty() {
            let _ = writeln!(out, "        expected: {}", f.expected);
        }
        let _ = writeln!(out, "        actual:   {}", f.actual);
    } else if let Some(reason) = &case.reason {
        let _ = writeln!(out, "      {reason}");
    }
    if !case.wire.is_empty() {
        let text = transcript::render(&case.wire, true);
        let lines: Vec<&str> = text.lines().collect();
        out.push_str("      transcript:\n");
        if lines.len() > TRANSCRIPT_LINES {
            let _ = writeln!(
                out,
                "        … {} earlier lines (see --report-md/--report-json)",
                lines.len() - TRANSCRIPT_LINES
            );
        }
        for line in &lines[lines.len().saturating_sub(TRANSCRIPT_LINES)..] {
            let _ = writeln!(out, "        {line}");
        }
    }
    out.push('\n');
}

/// The findings, one line each, most serious first: the summary right above the gate.
fn findings(out: &mut String, report: &RunReport, color: bool) {
    if report.findings.is_empty() {
        let _ = writeln!(out, "\nFindings: none (no FAIL, WARN or ERROR)");
        return;
    }
    let _ = writeln!(
        out,
        "\nFindings, most serious first: {}",
        report.findings_line()
    );
    let width = report
        .findings
        .iter()
        .map(|f| f.kind().len())
        .max()
        .unwrap_or(0);
    for (finding, case) in report.finding_cases() {
        let verdict = paint(
            &format!("{:<5}", case.verdict.as_str()),
            case.verdict,
            color,
        );
        let expected = if finding.expected_failure {
            " (expected, baseline)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {:<width$}  {verdict} {}: {}{expected}",
            finding.kind(),
            case.id,
            case.title
        );
    }
}

fn footer(out: &mut String, report: &RunReport, color: bool) {
    findings(out, report, color);
    let counts: Vec<String> = Verdict::ALL
        .iter()
        .map(|v| {
            paint(
                &format!("{} {v}", report.count(*v)),
                *v,
                color && report.count(*v) > 0,
            )
        })
        .collect();
    let _ = write!(out, "\nResult: {}", counts.join(", "));
    if report.summary.expected_failures > 0 {
        let _ = write!(
            out,
            " ({} expected failures, baseline)",
            report.summary.expected_failures
        );
    }
    out.push('\n');
    if let Some(line) = super::robustness::counts_line(report) {
        let _ = writeln!(out, "{line}");
    }
    let timed_out: Vec<&str> = report
        .cases
        .iter()
        .filter(|c| c.timed_out)
        .map(|c| c.id.as_str())
        .collect();
    if !timed_out.is_empty() {
        let _ = writeln!(out, "Timed out (deadline): {}", timed_out.join(", "));
    }
    for s in &report.stale_baseline {
        let _ = writeln!(out, "Stale baseline entry `{}`: {}", s.id, s.problem);
    }
    let _ = writeln!(
        out,
        "Gate: {} (exit {})",
        report.gate_text(),
        report.exit_code
    );
}

/// `--list`: the cases that would run.
pub fn list(cases: &[Case], spec: Option<&Spec>) -> String {
    let id_width = cases.iter().map(|c| c.id.len()).max().unwrap_or(2).max(2);
    let spec_width = cases
        .iter()
        .map(|c| c.spec.join(",").len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!(
        "{:<id_width$}  {:<6}  {:<5}  {:<spec_width$}  TITLE\n",
        "ID", "LEVEL", "PROTO", "SPEC"
    );
    for c in cases {
        let requires = if c.requires.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = c.requires.iter().map(ToString::to_string).collect();
            format!(" [requires {}]", list.join(", "))
        };
        let _ = writeln!(
            out,
            "{:<id_width$}  {:<6}  {:<5}  {:<spec_width$}  {}{requires}",
            c.id,
            c.level.to_string(),
            c.protocol.to_string(),
            c.spec.join(","),
            c.title
        );
    }
    let unknown: Vec<String> = match spec {
        Some(spec) => cases
            .iter()
            .flat_map(|c| {
                c.spec
                    .iter()
                    .filter(|id| spec.get(id).is_none())
                    .map(move |id| format!("{} cites {id}", c.id))
            })
            .collect(),
        None => Vec::new(),
    };
    let _ = writeln!(out, "{} case(s)", cases.len());
    for u in unknown {
        let _ = writeln!(out, "warning: {u}, which SPEC.md does not have");
    }
    out
}
