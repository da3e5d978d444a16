//! What the reports of `serve-test` (one client) and `relay-test` (one MTA's outbound side)
//! share: the verdict counts and the exit code they give, the summary line, the JSON
//! rendering, the Markdown tables of cases and of judgements, and cutting long text to a
//! readable length. Each report keeps its own schema and headings.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::judge::Judged;
use mtpspec_runner::report::markdown::cell;
use mtpspec_runner::runner::Verdict;

/// How many cases got each verdict (every verdict present, zero or not).
pub type Summary = BTreeMap<Verdict, usize>;

/// A report `serve-test` or `relay-test` writes: the CLI prints its summary line, writes it
/// as JSON and Markdown, and exits with its code.
pub trait JudgedReport: Serialize {
    /// The count per verdict.
    fn summary(&self) -> &Summary;
    /// One line: the name, the number of cases and the count per verdict.
    fn summary_line(&self) -> String;
    /// The report as Markdown.
    fn to_markdown(&self) -> String;

    /// 0 no FAIL; 1 a FAIL; 3 an ERROR and no FAIL (as `mtpspec run`).
    fn exit_code(&self) -> u8 {
        exit_code(self.summary())
    }

    /// The report as pretty JSON (its versioned schema).
    fn to_json(&self) -> String {
        // Reports hold plain strings, numbers, lists and maps: serializing cannot fail.
        serde_json::to_string_pretty(self).expect("report serializes")
    }
}

/// The count per verdict of `verdicts`.
pub fn tally(verdicts: impl IntoIterator<Item = Verdict>) -> Summary {
    let mut summary: Summary = Verdict::ALL.iter().map(|v| (*v, 0)).collect();
    for v in verdicts {
        *summary.entry(v).or_default() += 1;
    }
    summary
}

/// 0 no FAIL; 1 a FAIL; 3 an ERROR and no FAIL (as `mtpspec run`).
pub fn exit_code(summary: &Summary) -> u8 {
    let count = |v: Verdict| summary.get(&v).copied().unwrap_or(0);
    if count(Verdict::Fail) > 0 {
        1
    } else if count(Verdict::Error) > 0 {
        3
    } else {
        0
    }
}

/// `3 PASS, 0 FAIL, ...`: every verdict with its count, in the suite's order.
pub fn counts(summary: &Summary) -> String {
    Verdict::ALL
        .iter()
        .map(|v| format!("{} {v}", summary.get(v).copied().unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One row of the cases table: id, requirements, verdict and why.
pub struct CaseRow<'a> {
    /// The case id (also the anchor of its section).
    pub id: &'a str,
    /// The requirements it cites.
    pub spec: &'a [String],
    /// Its verdict.
    pub verdict: Verdict,
    /// Why the verdict is not PASS, if it is not.
    pub reason: Option<&'a str>,
}

/// The table of cases, each linking to its section below.
pub fn cases_table<'a>(md: &mut String, rows: impl IntoIterator<Item = CaseRow<'a>>) {
    let _ = writeln!(
        md,
        "| Case | Requirements | Verdict | Why |\n| --- | --- | --- | --- |"
    );
    for c in rows {
        let _ = writeln!(
            md,
            "| [{}](#{}) | {} | **{}** | {} |",
            c.id,
            c.id.replace('.', ""),
            c.spec.join(", "),
            c.verdict,
            cell(c.reason.unwrap_or(""))
        );
    }
}

/// The table of a case's judgements (nothing when there are none); what was seen is cut to
/// `detail_max` octets when given.
pub fn judgements_table(md: &mut String, judged: &[Judged], detail_max: Option<usize>) {
    if judged.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "| Requirement | Level | Check | Verdict | Seen |\n| --- | --- | --- | --- | --- |"
    );
    for j in judged {
        let detail = j.detail.as_deref().unwrap_or("");
        let seen = match detail_max {
            Some(max) => clip(detail, max),
            None => detail.to_string(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            j.spec,
            j.level,
            cell(&j.check),
            j.verdict,
            cell(&seen)
        );
    }
    md.push('\n');
}

/// `text` cut to about `max` octets on a character boundary: the part kept and how many
/// octets were left out (0 when none).
fn cut(text: &str, max: usize) -> (&str, usize) {
    if text.len() <= max {
        return (text, 0);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], text.len() - end)
}

/// `text` cut to about `max` octets, with ` ... (N more octets)` when cut: for one line.
pub fn clip(text: &str, max: usize) -> String {
    match cut(text, max) {
        (all, 0) => all.to_string(),
        (kept, more) => format!("{kept} ... ({more} more octets)"),
    }
}

/// `text` cut to about `max` octets, with a line `... (N more octets)` when cut: for a block.
pub fn clip_block(text: &str, max: usize) -> String {
    match cut(text, max) {
        (all, 0) => all.to_string(),
        (kept, more) => format!("{kept}\n... ({more} more octets)\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_codes() {
        let s = tally([Verdict::Pass, Verdict::Error, Verdict::Pass]);
        assert_eq!(exit_code(&s), 3);
        assert!(counts(&s).starts_with("2 PASS"), "{}", counts(&s));
        assert_eq!(exit_code(&tally([Verdict::Fail, Verdict::Error])), 1);
        assert_eq!(exit_code(&tally([])), 0);
    }

    #[test]
    fn clipping_keeps_characters_whole() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("aéb", 2), "a ... (3 more octets)");
        assert_eq!(clip_block("abcd", 2), "ab\n... (2 more octets)\n");
    }
}
