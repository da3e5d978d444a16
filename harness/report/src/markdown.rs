//! The Markdown report, for an operator to triage: the target's name, the findings most
//! serious first (security consequences, then MUSTs, then SHOULDs) and the gate's decision at
//! the top; then the counts, by verdict and by spec section; every finding in the same order
//! with its requirement text, expected and actual, and its transcript; then a table of all
//! cases.

use std::fmt::Write as _;

use super::{Finding, RunReport, transcript};
use crate::verdict::{BaselineMark, CaseResult, Verdict};

/// The report as a Markdown document (`mtpspec run --report-md`).
pub fn to_string(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# mtpspec report: {}\n", report.target);
    if report.address != report.target {
        let _ = write!(out, "Target `{}`. ", report.address);
    }
    if !report.capabilities.greeting.is_empty() {
        let _ = write!(out, "Greeting `{}`. ", report.capabilities.greeting);
    }
    let _ = writeln!(
        out,
        "Run at {} with mtpspec {}: {} cases in {:.1} s{}.\n",
        report.started_at,
        report.tool.version,
        report.summary.total,
        report.duration.as_secs_f64(),
        if report.strict { ", strict" } else { "" },
    );
    if report.findings.is_empty() {
        out.push_str("## Findings\n\nNone: no FAIL, WARN or ERROR.\n\n");
    } else {
        let _ = writeln!(
            out,
            "## Findings\n\nMost serious first: {}.\n",
            report.findings_line()
        );
        out.push_str(
            "| Kind | Verdict | Case | Title | Baseline |\n| --- | --- | --- | --- | --- |\n",
        );
        for (finding, case) in report.finding_cases() {
            let _ = writeln!(
                out,
                "| {} | {} | `{}` | {} | {} |",
                finding.kind(),
                case.verdict,
                case.id,
                cell(&case.title),
                if finding.expected_failure {
                    "expected"
                } else {
                    ""
                }
            );
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "**Gate: {}** (exit {}).\n",
        report.gate_text(),
        report.exit_code
    );
    out.push_str("## Counts\n\n| Verdict | Cases |\n| --- | ---: |\n");
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
    out.push_str("\n## By spec section\n\nA case counts once in each section it cites, so the sections add up to more than the cases.\n\n| Section | Title | PASS | FAIL | WARN | UNSUPPORTED | SKIP | ERROR |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
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
    if !report.findings.is_empty() {
        out.push_str("\n## Failures, warnings and errors, most serious first\n");
        for (finding, case) in report.finding_cases() {
            case_details(&mut out, finding, case, report);
        }
    }
    out.push_str(&robustness(report));
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

fn case_details(out: &mut String, finding: &Finding, case: &CaseResult, report: &RunReport) {
    let consequence = finding
        .consequence
        .as_ref()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\n### {}{consequence} `{}`: {}\n",
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
    if let Some(remedy) = &finding.remedy {
        let _ = writeln!(out, "- Remedy: {remedy}");
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
            f.step, f.line, f.description
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

/// Text for a Markdown table cell: `|` escaped, line breaks as spaces. Every Markdown
/// report's tables use it.
pub fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The robustness section: a table, then each case's details.
fn robustness(report: &RunReport) -> String {
    let mut out = String::new();
    if report.robustness.is_empty() {
        return out;
    }
    out.push_str(
        "\n## Robustness\n\nAttacks run one at a time after the scenarios, each bounded in time and \
         connections (SPEC.md, ROBUST part: SHOULD at most, so WARN at worst). How long a \
         stalled connection survived is a figure, not a fault (RFC 5321 §4.5.3.2.7); the \
         verdict is about fresh clients being greeted while the attack holds.\n\n\
         | Case | Verdict | Spec | Figures |\n| --- | --- | --- | --- |\n",
    );
    for r in &report.robustness {
        let figures = if r.figures.is_empty() {
            r.reason.clone().unwrap_or_default()
        } else {
            r.figures_inline()
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            r.id,
            r.verdict,
            r.spec.join(", "),
            cell(&figures)
        );
    }
    for r in &report.robustness {
        let _ = writeln!(out, "\n### {} `{}`: {}\n", r.verdict, r.id, r.title);
        let _ = writeln!(out, "- A well-behaved server {}.", r.well_behaved);
        if let Some(reason) = &r.reason {
            let _ = writeln!(out, "- {reason}");
        }
        for line in &r.figures {
            let _ = writeln!(out, "- {line}");
        }
    }
    out
}
