//! The robustness section of the terminal report: each case's verdict, what a well-behaved
//! server does, and the figures measured (survival of the stalled connections, the fresh
//! clients' greetings, the target's memory). The Markdown report renders its own
//! ([`crate::markdown`]), the HTML page its own (`html/robustness.rs`).

use std::fmt::Write as _;

use super::RunReport;
use crate::verdict::Verdict;

/// The terminal's section; empty when no robustness case ran or was skipped.
pub fn text(report: &RunReport, paint: impl Fn(&str, Verdict) -> String) -> String {
    let mut out = String::new();
    if report.robustness.is_empty() {
        return out;
    }
    out.push_str("\nRobustness (one attack at a time, after the scenarios)\n\n");
    for r in &report.robustness {
        let verdict = paint(&format!("{:<11}", r.verdict.as_str()), r.verdict);
        let _ = writeln!(
            out,
            "{verdict} {} ({:.1} s): {}",
            r.id,
            r.duration.as_secs_f64(),
            r.title
        );
        if let Some(reason) = &r.reason {
            let _ = writeln!(out, "            {reason}");
        }
        for line in &r.figures {
            let _ = writeln!(out, "            - {line}");
        }
    }
    out
}

/// One line for the summary footer: `Robustness: 5 PASS, 1 WARN`.
pub fn counts_line(report: &RunReport) -> Option<String> {
    if report.robustness.is_empty() {
        return None;
    }
    let counts: Vec<String> = Verdict::ALL
        .iter()
        .filter(|v| report.robustness_count(**v) > 0)
        .map(|v| format!("{} {v}", report.robustness_count(*v)))
        .collect();
    Some(format!("Robustness: {}", counts.join(", ")))
}
