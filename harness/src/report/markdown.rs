//! The Markdown report: summary, counts by spec section, every non-passing case with its
//! requirement text, expected and actual, and its transcript, then a table of all cases.

use std::fmt::Write as _;

use super::{RunReport, transcript};
use crate::runner::{BaselineMark, CaseResult, Verdict};

pub fn to_string(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# mtpspec report: {}\n", report.target);
    let _ = writeln!(
        out,
        "Run at {} with mtpspec {}: {} cases in {:.1} s{}. Gate: **{}** (exit {}).\n",
        report.started_at,
        report.tool.version,
        report.summary.total,
        report.duration.as_secs_f64(),
        if report.strict { ", strict" } else { "" },
        match report.gate {
            super::Gate::Passed => "passed",
            super::Gate::Failed => "failed",
            super::Gate::HarnessError => "harness error",
        },
        report.exit_code
    );
    out.push_str("| Verdict | Cases |\n| --- | ---: |\n");
    for v in Verdict::ALL {
        let _ = writeln!(out, "| {v} | {} |", report.count(v));
    }
    if report.summary.expected_failures > 0 {
        let _ = writeln!(
            out,
            "| (expected failures, baseline) | {} |",
            report.summary.expected_failures
        );
    }
    out.push_str("\n## By spec section\n\n| Section | Title | PASS | FAIL | WARN | UNSUPPORTED | SKIP | ERROR |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for s in &report.sections {
        let n = |v| s.counts.get(&v).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            s.section,
            cell(&s.title),
            n(Verdict::Pass),
            n(Verdict::Fail),
            n(Verdict::Warn),
            n(Verdict::Unsupported),
            n(Verdict::Skip),
            n(Verdict::Error)
        );
    }
    if !report.stale_baseline.is_empty() {
        out.push_str("\n## Stale baseline entries\n\n");
        for s in &report.stale_baseline {
            let _ = writeln!(
                out,
                "- `{}`: {} (listed because: {})",
                s.id, s.problem, s.reason
            );
        }
    }
    let notable: Vec<&CaseResult> = report
        .cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Warn | Verdict::Error))
        .collect();
    if !notable.is_empty() {
        out.push_str("\n## Failures, warnings and errors\n");
        for case in notable {
            case_details(&mut out, case, report);
        }
    }
    out.push_str(&super::robustness::markdown(report));
    out.push_str("\n## All cases\n\n| Case | Verdict | Spec | Title | Reason |\n| --- | --- | --- | --- | --- |\n");
    for c in &report.cases {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            c.id,
            c.verdict,
            c.spec.join(", "),
            cell(&c.title),
            cell(c.reason.as_deref().unwrap_or(""))
        );
    }
    out
}

fn case_details(out: &mut String, case: &CaseResult, report: &RunReport) {
    let _ = writeln!(
        out,
        "\n### {} `{}`: {}\n",
        case.verdict, case.id, case.title
    );
    let _ = writeln!(
        out,
        "- Scenario: `{}:{}` ({} level)",
        case.file, case.line, case.level
    );
    if let Some(BaselineMark::ExpectedFailure(reason)) = &case.baseline {
        let _ = writeln!(out, "- Expected failure (baseline): {reason}");
    }
    for id in &case.spec {
        match report.requirements.get(id) {
            Some(r) => {
                let _ = writeln!(out, "- {id} ({}): {}", r.level, r.text);
                if !r.rfc_text.is_empty() {
                    let _ = writeln!(out, "  - RFC text: {}", r.rfc_text);
                }
            }
            None => {
                let _ = writeln!(out, "- {id}");
            }
        }
    }
    if let Some(f) = &case.failure {
        let _ = writeln!(
            out,
            "- Step {} (line {}): {}",
            f.step + 1,
            f.line,
            f.description
        );
        if !f.expected.is_empty() {
            let _ = writeln!(out, "- Expected: {}", f.expected);
        }
        let _ = writeln!(out, "- Actual: {}", f.actual);
    } else if let Some(reason) = &case.reason {
        let _ = writeln!(out, "- {reason}");
    }
    if !case.wire.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>Transcript</summary>\n\n```text\n{}```\n\n</details>",
            transcript::render(&case.wire, true)
        );
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
