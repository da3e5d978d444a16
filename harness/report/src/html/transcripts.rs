//! The transcript pages of the comparison: one file per target, next to the main page, each
//! case of that target's run in the main table's order as a `<section class="transcript">`
//! anchored like its row, with a link back to the row, then its relay cases (`relay_transcripts`).
//! Kept out of the main page so that the main page stays small: a reader opens one case's
//! transcript from its cell, and only that target's page is loaded.

use crate::verdict::Verdict;
use mtpspec_scenario::Level;
use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::relay::{RelayColumn, RelayColumnCase};
use super::{
    Column, ColumnCase, Group, Page, anchor, class, esc, head, level, relay_transcripts,
    requirement, url,
};

/// The most characters of a column's name that go into its file name.
const SLUG_MAX: usize = 40;

/// The transcript pages' file names, one per column name in the order given, for the main page
/// `main` (a file name, no directory): `<stem>-<slug>.html`, the stem being `main` without its
/// last extension and the slug the name lowercased, every run of characters other than
/// `a-z 0-9 . _` made one `-`, trimmed of leading and trailing `-` and `.`, cut to 40
/// characters (`target` when nothing is left). A slug an earlier column took gets `-2`, `-3`... so that no two columns
/// share a file, even on a file system that ignores case.
pub fn transcript_files(main: &str, names: &[&str]) -> Vec<String> {
    let stem = stem(main);
    let mut taken = BTreeSet::new();
    names
        .iter()
        .map(|name| {
            let base = slug(name);
            let mut candidate = base.clone();
            let mut n = 2;
            while !taken.insert(candidate.clone()) {
                candidate = format!("{base}-{n}");
                n += 1;
            }
            format!("{stem}-{candidate}.html")
        })
        .collect()
}

/// True when `text`, the start of a file (its first KiB is enough), is a transcript page
/// written for the main page `main` (a file name, no directory).
pub fn is_transcript_page_of(text: &str, main: &str) -> bool {
    text.contains(&marker(main))
}

/// The head element marking a transcript page of `main`.
fn marker(main: &str) -> String {
    format!(
        "<meta name=\"mtpspec-transcripts-of\" content=\"{}\">",
        esc(main)
    )
}

fn stem(main: &str) -> &str {
    match main.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => main,
    }
}

fn slug(name: &str) -> String {
    let mut mapped = String::with_capacity(name.len());
    for ch in name.chars() {
        let c = match ch.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '.' | '_') => c,
            _ => '-',
        };
        if !(c == '-' && mapped.ends_with('-')) {
            mapped.push(c);
        }
    }
    let trimmed = mapped.trim_matches(['-', '.']);
    // Only ASCII is left, so the cut falls between characters.
    let slug = trimmed[..trimmed.len().min(SLUG_MAX)].trim_matches(['-', '.']);
    if slug.is_empty() {
        "target".to_string()
    } else {
        slug.to_string()
    }
}

/// A target with a transcript page: its conformance run, its relay report, or both.
pub(super) struct Target<'a> {
    /// The target's name.
    pub(super) name: &'a str,
    /// Its conformance column.
    pub(super) column: Option<&'a Column>,
    /// Its relay report.
    pub(super) relay: Option<&'a RelayColumn>,
}

/// One target's transcript page; `relay_rows` are the main page's relay rows.
pub(super) fn page(
    page: &Page<'_>,
    groups: &[Group<'_>],
    relay_rows: &[&RelayColumnCase],
    target: &Target<'_>,
) -> String {
    let main = esc(&url(page.file));
    let mut out = String::with_capacity(1 << 19);
    head(
        &mut out,
        &format!("{}: transcripts on {}", page.title, target.name),
        &format!("{}\n", marker(page.file)),
    );
    let _ = write!(
        out,
        "<body class=\"transcripts\" data-target=\"{0}\">\n\
         <p class=\"close\"><a href=\"{main}\">&larr; {1}</a></p>\n\
         <h1>Transcripts on {0}</h1>\n",
        esc(target.name),
        esc(page.title),
    );
    if let Some(column) = target.column {
        conformance(&mut out, groups, column, page, &main);
    }
    if let Some(relay) = target.relay {
        relay_transcripts::section(&mut out, page, relay_rows, relay, &main);
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The conformance run's cases; `main` is the main page's URL, escaped.
fn conformance(
    out: &mut String,
    groups: &[Group<'_>],
    column: &Column,
    page: &Page<'_>,
    main: &str,
) {
    let _ = writeln!(
        out,
        "<p>Target <code>{0}</code>, run at {1} by mtpspec {2}: {3} cases, each case's wire \
         transcript with what was expected and what came. Each links back to its row on \
         <a href=\"{main}\">the comparison</a>.</p>",
        esc(&column.target),
        esc(&column.started_at),
        esc(&column.tool_version),
        column.cases.len(),
    );
    let mut r = 0;
    for (g, group) in groups.iter().enumerate() {
        let mut heading = false;
        for row in &group.rows {
            if let Some(case) = column.case(&row.case.id) {
                if !heading {
                    let _ = writeln!(
                        out,
                        "<h2 id=\"g{g}\" data-section=\"{0}\">{0} {1}</h2>",
                        esc(&group.section),
                        esc(&group.title)
                    );
                    heading = true;
                }
                transcript(out, page, column, case, &anchor(&case.id, r), main);
            }
            r += 1;
        }
    }
}

/// One case's section; `main` is the main page's URL, escaped.
fn transcript(
    out: &mut String,
    page: &Page<'_>,
    column: &Column,
    case: &ColumnCase,
    anchor: &str,
    main: &str,
) {
    section_head(
        out,
        page,
        &Head {
            kind: Kind::Conformance,
            anchor,
            main,
            verdict: case.verdict,
            id: &case.id,
            target: &column.name,
            title: &case.title,
            file: &case.file,
            line: case.line,
            level: case.level,
            spec: &case.spec,
            reason: case.reason.as_deref(),
        },
    );
    let mut item = |term: &str, text: &str| item(out, term, text);
    if let Some((expected, actual)) = &case.failure {
        if !expected.is_empty() {
            item("Expected", expected);
        }
        item("Actual", actual);
    }
    if let Some(reason) = &case.expected_failure {
        item("Expected failure (baseline)", reason);
    }
    if let Some(reason) = &case.now_passes {
        item("Baseline entry now passes", reason);
    }
    let _ = write!(
        out,
        "</dl>\n<pre>{}</pre>\n</section>\n",
        esc(&case.transcript)
    );
}

/// Which kind of transcript section.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    /// A conformance case (`section.transcript`, `data-case`).
    Conformance,
    /// A relay case (`section.relay-transcript`, `data-relay-case`).
    Relay,
}

/// What the head of a case's transcript section shows.
pub(super) struct Head<'a> {
    pub(super) kind: Kind,
    /// The section's id, the same as its row's on the main page.
    pub(super) anchor: &'a str,
    /// The main page's URL, escaped.
    pub(super) main: &'a str,
    pub(super) verdict: Verdict,
    pub(super) id: &'a str,
    /// The target's name.
    pub(super) target: &'a str,
    pub(super) title: &'a str,
    pub(super) file: &'a str,
    pub(super) line: u64,
    pub(super) level: Level,
    /// The requirements the case cites.
    pub(super) spec: &'a [String],
    pub(super) reason: Option<&'a str>,
}

/// Opens a case's section: the link back to its row, the verdict, the title, where it is
/// written, each requirement with its text, and the reason; leaves the `<dl>` open for the
/// caller's own items ([`item`]).
pub(super) fn section_head(out: &mut String, page: &Page<'_>, head: &Head<'_>) {
    let (class_name, data, suffix) = match head.kind {
        Kind::Conformance => ("transcript", "data-case", ""),
        Kind::Relay => ("relay-transcript", "data-relay-case", " (relay)"),
    };
    let _ = write!(
        out,
        "<section class=\"{class_name}\" id=\"{anchor}\" {data}=\"{2}\" data-verdict=\"{1}\">\n\
         <p class=\"back\"><a href=\"{main}#{anchor}\">&larr; back to the table</a></p>\n\
         <h3><span class=\"badge {0}\">{1}</span> <code>{2}</code> on {3}{suffix}</h3>\n<p>{4}</p>\n<dl>\n\
         <dt>Scenario</dt><dd><code>{5}:{6}</code> ({7})</dd>\n",
        class(head.verdict),
        head.verdict,
        esc(head.id),
        esc(head.target),
        esc(head.title),
        esc(head.file),
        head.line,
        level(head.level),
        anchor = head.anchor,
        main = head.main,
    );
    for id in head.spec {
        match requirement(page, id) {
            Some((level, text)) => item(out, &format!("{id} ({level})"), &text),
            None => item(out, id, ""),
        }
    }
    if let Some(reason) = head.reason {
        item(out, "Why", reason);
    }
}

/// One term and its text in a section's `<dl>`, both escaped.
pub(super) fn item(out: &mut String, term: &str, text: &str) {
    let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(term), esc(text));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_distinct() {
        assert_eq!(
            transcript_files("index.html", &["postfix", "exim-bs", "v1.2_x"]),
            [
                "index-postfix.html",
                "index-exim-bs.html",
                "index-v1.2_x.html"
            ]
        );
        // Case folded (one file on a case-insensitive file system), so numbered; a name that
        // looks like a numbered one does not take a file already given.
        assert_eq!(
            transcript_files("cmp.html", &["Ref", "ref", "ref-2", "REF"]),
            [
                "cmp-ref.html",
                "cmp-ref-2.html",
                "cmp-ref-2-2.html",
                "cmp-ref-3.html"
            ]
        );
        // Path separators, dots, quotes, markup and letters beyond ASCII never reach the name.
        let hostile = transcript_files(
            "page",
            &["../../etc/passwd", "<b>\"x\"</b>", "ß", "..", "a b/c\\d"],
        );
        assert_eq!(
            hostile,
            [
                "page-etc-passwd.html",
                "page-b-x-b.html",
                "page-target.html",
                "page-target-2.html",
                "page-a-b-c-d.html"
            ]
        );
        let long = "x".repeat(300);
        let files = transcript_files("a.b.html", &[long.as_str()]);
        assert_eq!(files[0], format!("a.b-{}.html", "x".repeat(SLUG_MAX)));
        for file in hostile.iter().chain(&files) {
            assert!(
                file.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
                "{file}"
            );
        }
    }

    #[test]
    fn the_marker_names_its_main_page() {
        let head = format!("<!DOCTYPE html>\n<head>\n{}\n", marker("index.html"));
        assert!(is_transcript_page_of(&head, "index.html"));
        assert!(!is_transcript_page_of(&head, "other.html"));
        assert!(!is_transcript_page_of(
            "<!DOCTYPE html>\n<p>notes</p>",
            "index.html"
        ));
    }
}
