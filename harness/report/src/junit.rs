//! JUnit XML, one `<testsuite>` per spec section (a case's first cited section), one
//! `<testcase>` per case. FAIL is a `<failure>`, ERROR an `<error>`, SKIP and UNSUPPORTED
//! `<skipped>`, WARN a `<failure>` only with `--strict`. Cases excused by the baseline are
//! `<skipped>`; a stale baseline entry is a `<failure>`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::RunReport;
use super::transcript;
use crate::verdict::{BaselineMark, CaseResult, Verdict};

/// The report as a JUnit XML document (`mtpspec run --junit`).
pub fn to_string(report: &RunReport) -> String {
    let mut suites: BTreeMap<String, Vec<&CaseResult>> = BTreeMap::new();
    for case in &report.cases {
        let section = case
            .spec
            .first()
            .map_or("UNCITED", |id| mtpspec_scenario::section_of(id))
            .to_string();
        suites.entry(section).or_default().push(case);
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let (failures, errors, skipped) = totals(report.cases.iter(), report.strict);
    let _ = writeln!(
        out,
        "<testsuites name=\"mtpspec\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{:.3}\">",
        report.cases.len(),
        report.duration.as_secs_f64()
    );
    for (section, cases) in &suites {
        let (failures, errors, skipped) = totals(cases.iter().copied(), report.strict);
        let time: f64 = cases.iter().map(|c| c.duration.as_secs_f64()).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time:.3}\">",
            xml(section),
            cases.len()
        );
        for case in cases {
            testcase(&mut out, case, section, report);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

enum Outcome {
    Pass,
    Failure,
    Error,
    Skipped,
}

fn outcome(case: &CaseResult, strict: bool) -> Outcome {
    match (&case.baseline, case.verdict) {
        (Some(BaselineMark::ExpectedFailure(_)), _) => Outcome::Skipped,
        (Some(BaselineMark::NowPasses(_)), _) => Outcome::Failure,
        (_, Verdict::Pass) => Outcome::Pass,
        (_, Verdict::Warn) if !strict => Outcome::Pass,
        (_, Verdict::Fail | Verdict::Warn) => Outcome::Failure,
        (_, Verdict::Error) => Outcome::Error,
        (_, Verdict::Skip | Verdict::Unsupported) => Outcome::Skipped,
    }
}

fn totals<'a>(cases: impl Iterator<Item = &'a CaseResult>, strict: bool) -> (usize, usize, usize) {
    cases.fold((0, 0, 0), |(f, e, s), c| match outcome(c, strict) {
        Outcome::Failure => (f + 1, e, s),
        Outcome::Error => (f, e + 1, s),
        Outcome::Skipped => (f, e, s + 1),
        Outcome::Pass => (f, e, s),
    })
}

fn testcase(out: &mut String, case: &CaseResult, section: &str, report: &RunReport) {
    let _ = writeln!(
        out,
        "    <testcase name=\"{}\" classname=\"mtpspec.{}.{}\" file=\"{}\" line=\"{}\" time=\"{:.3}\">",
        xml(&case.id),
        case.protocol,
        xml(section),
        xml(&case.file),
        case.line,
        case.duration.as_secs_f64()
    );
    let message = format!("{}: {}", case.verdict, case.reason.as_deref().unwrap_or(""));
    let body = details(case, report);
    match outcome(case, report.strict) {
        Outcome::Pass => {}
        Outcome::Failure => {
            let (kind, message) = match &case.baseline {
                Some(BaselineMark::NowPasses(reason)) => (
                    "STALE_BASELINE".to_string(),
                    format!("listed in the baseline ({reason}) but now {}", case.verdict),
                ),
                _ => (case.verdict.to_string(), message),
            };
            let _ = writeln!(
                out,
                "      <failure type=\"{kind}\" message=\"{}\">{}</failure>",
                xml(&message),
                xml(&body)
            );
        }
        Outcome::Error => {
            let _ = writeln!(
                out,
                "      <error message=\"{}\">{}</error>",
                xml(&message),
                xml(&body)
            );
        }
        Outcome::Skipped => {
            let message = match &case.baseline {
                Some(BaselineMark::ExpectedFailure(reason)) => {
                    format!("expected failure ({}, baseline): {reason}", case.verdict)
                }
                _ => message,
            };
            let _ = writeln!(out, "      <skipped message=\"{}\"/>", xml(&message));
        }
    }
    if case.verdict != Verdict::Pass && !case.wire.is_empty() {
        let _ = writeln!(
            out,
            "      <system-out>{}</system-out>",
            xml(&transcript::render(&case.wire, true))
        );
    }
    out.push_str("    </testcase>\n");
}

fn details(case: &CaseResult, report: &RunReport) -> String {
    let mut text = String::new();
    for id in &case.spec {
        if let Some(r) = report.requirements.get(id) {
            let _ = writeln!(text, "{id} ({}): {}", r.level, r.text);
        }
    }
    if let Some(f) = &case.failure {
        let _ = writeln!(text, "step {} (line {}): {}", f.step, f.line, f.description);
        if !f.expected.is_empty() {
            let _ = writeln!(text, "expected: {}", f.expected);
        }
        let _ = writeln!(text, "actual:   {}", f.actual);
    }
    text
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 cannot carry.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' => out.push(c),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(xml("a<b & \"c\"\0"), "a&lt;b &amp; &quot;c&quot;\\x00");
    }
}
