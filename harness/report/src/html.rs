//! The side-by-side HTML pages of `mtpspec compare`: several runs as columns, every case as a
//! row grouped by SPEC.md section, a colour *and* a text label per verdict, the verdict counts
//! of each run at the top, and each case's transcript one click away.
//!
//! A comparison is a main page and one transcript page per run, side by side in one directory:
//! `index.html` (the `--html` path) and `index-<target>.html` ([`transcript_files`]: the main
//! page's stem, `-`, the column name lowercased, every run of characters other than
//! `a-z 0-9 . _` made one `-`, at most 40 characters, and `-2`, `-3`... after a name an
//! earlier column already took, so two targets never share a file). The main page holds the
//! tables only. A cell links to `index-<target>.html#case-<id>`, a
//! `<section class="transcript">` on that target's page, which links back to the row,
//! `index.html#case-<id>` (`row-N`, N the row's place in the table, for an id with characters
//! other than `A-Z a-z 0-9 . _ -`). Every page is static and self-contained apart from those
//! links: inline CSS, no script, no external resource, so the pages work from `file://`, and
//! the main page stays small however many targets there are. Every text that comes from a run
//! (ids, titles, reasons, wire bytes) is escaped; file names are percent-encoded in links.
//!
//! A transcript page carries `<meta name="mtpspec-transcripts-of" content="index.html">`
//! ([`is_transcript_page_of`]); `mtpspec compare` overwrites only files so marked (or absent),
//! and removes such pages of the same main page that the new comparison no longer has (a target
//! dropped), so that no stale transcript page is left beside the new main page.
//!
//! Stable hooks for checkers (`.ci/html-check` reads them from the rendered DOM): on the main
//! page, the `#summary` table (`tr[data-verdict]`, `td[data-target]`, and
//! `tr[data-info="transcripts"]` linking each target's page), the `#legend` items
//! (`data-verdict`, `data-colour`), and the `#cases` table (`tr[data-case]`,
//! `td.cell[data-target][data-verdict]` whose text starts with the verdict label and whose
//! link is the transcript). The robustness cases are a table of their own, `#robustness`
//! (`tr[data-robustness]`), outside the summary counts, which are the scenarios'. On a
//! transcript page, `body[data-target]` and `section.transcript[data-case][data-verdict]`, whose
//! first link leads back to the case's row.
//!
//! Relay reports (`mtpspec relay-test`, [`RelayColumn`]) add a section after the conformance
//! tables, `#relay-section` (its hooks: `#relay-smuggling`, `#relay-summary`, `#relay`
//! with `tr[data-relay-case]` and `td.cell[data-target][data-verdict]`), and on the target's
//! transcript page a section of `section.relay-transcript[data-relay-case][data-verdict]`
//! anchored `relay-case-<id>`. A target has one transcript page whatever it has: conformance
//! transcripts, relay transcripts or both ([`target_names`]).

mod column;
mod relay;
mod relay_transcripts;
mod robustness;
mod transcripts;

use std::collections::BTreeMap;
use std::fmt::Write as _;

pub use column::{Column, ColumnCase, ColumnRobustness, TRANSCRIPT_LINES, clip};
pub use relay::{FORWARDED, RelayColumn, RelayColumnCase, RelayJudgement, RelaySmuggling};
pub use transcripts::{is_transcript_page_of, transcript_files};

use crate::verdict::Verdict;
use mtpspec_scenario::Level;
use mtpspec_scenario::section_of;
use mtpspec_scenario::spec::Spec;

/// Each verdict's cell colour and what it means; light colours under black text, so the label
/// stays readable in colour, in grey and in print.
pub const VERDICTS: [(Verdict, &str, &str); 6] = [
    (Verdict::Pass, "#9fdc9f", "every expectation met"),
    (Verdict::Fail, "#f08c8c", "a MUST broken"),
    (Verdict::Warn, "#ffd36b", "a SHOULD broken"),
    (
        Verdict::Unsupported,
        "#a9c8f0",
        "optional extension not offered and correctly refused, or a MAY chosen differently",
    ),
    (
        Verdict::Skip,
        "#d6d6d6",
        "not judged here (extension missing, no mailbox observer)",
    ),
    (
        Verdict::Error,
        "#c9a3ee",
        "the harness or network failed (not the target's fault)",
    ),
];

/// The label of a cell whose run did not include the case.
pub const NOT_RUN: &str = "NOT RUN";

/// The group of cases that cite no requirement (last on the page).
const NO_REQUIREMENT: &str = "(no requirement)";

/// What the pages show.
pub struct Page<'a> {
    /// The main page's title (its `<title>` and heading).
    pub title: &'a str,
    /// The runs compared, one column each, left to right.
    pub columns: &'a [Column],
    /// The relay reports, one column each in the relay section, left to right; a name may be
    /// a conformance column's (the same target) or a target of its own.
    pub relay: &'a [RelayColumn],
    /// For section order and titles and requirement levels; the runs' own copies are used
    /// when it is absent.
    pub spec: Option<&'a Spec>,
    /// The main page's file name (`index.html`, no directory): the transcript pages are named
    /// after it ([`transcript_files`]) and link back to it.
    pub file: &'a str,
}

/// The rendered comparison: the main page and, in column order, one transcript page per
/// column, each to be written next to the main page under its [`TranscriptPage::file`].
pub struct Pages {
    /// The main page's HTML, to be written under [`Page::file`].
    pub main: String,
    /// The transcript pages, one per target in [`target_names`] order.
    pub transcripts: Vec<TranscriptPage>,
}

/// One target's transcript page.
pub struct TranscriptPage {
    /// The target's name.
    pub target: String,
    /// The file name, in the main page's directory (from [`transcript_files`]).
    pub file: String,
    /// The page's HTML.
    pub html: String,
}

/// The targets that get a transcript page, in the order their files are named
/// ([`transcript_files`]): the conformance columns, then the relay reports' targets that have
/// no conformance column, each in the order given.
pub fn target_names<'a>(columns: &[&'a str], relay: &[&'a str]) -> Vec<&'a str> {
    let mut names = columns.to_vec();
    for name in relay {
        if !names.contains(name) {
            names.push(name);
        }
    }
    names
}

/// Renders the main page and the transcript pages.
pub fn render(page: &Page<'_>) -> Pages {
    let groups = groups(page);
    let column_names: Vec<&str> = page.columns.iter().map(|c| c.name.as_str()).collect();
    let relay_names: Vec<&str> = page.relay.iter().map(|c| c.name.as_str()).collect();
    let names = target_names(&column_names, &relay_names);
    let files = transcript_files(page.file, &names);
    let by_name: BTreeMap<&str, &str> = names
        .iter()
        .copied()
        .zip(files.iter().map(String::as_str))
        .collect();
    let mut out = String::with_capacity(1 << 18);
    head(&mut out, page.title, "");
    let _ = writeln!(out, "<body>\n<h1>{}</h1>", esc(page.title));
    if !page.columns.is_empty() {
        let cases: usize = groups.iter().map(|g| g.rows.len()).sum();
        let _ = writeln!(
            out,
            "<p>{} cases, {} targets. Each cell links to that case's wire transcript, on the \
             target's page of transcripts (a file per target, next to this one). \
             <span class=\"differs\">differs</span> marks a case the targets judged differently \
             (SKIP, ERROR and NOT RUN are not compared).</p>",
            cases,
            page.columns.len()
        );
        summary(&mut out, page.columns, &files);
    }
    legend(&mut out);
    if !page.columns.is_empty() {
        section_index(&mut out, &groups, !page.relay.is_empty());
        case_table(&mut out, page, &groups, &files);
        robustness::table(&mut out, page.columns);
    }
    relay::section(&mut out, page, &by_name);
    out.push_str("</body>\n</html>\n");
    let relay_rows = relay::rows(page.relay);
    let transcripts = names
        .iter()
        .zip(files)
        .map(|(name, file)| {
            let target = transcripts::Target {
                name,
                column: page.columns.iter().find(|c| c.name == *name),
                relay: page.relay.iter().find(|c| c.name == *name),
            };
            TranscriptPage {
                target: name.to_string(),
                html: transcripts::page(page, &groups, &relay_rows, &target),
                file,
            }
        })
        .collect();
    Pages {
        main: out,
        transcripts,
    }
}

/// The document's start up to `</head>`: the inline style sheet, and `extra` in the head.
fn head(out: &mut String, title: &str, extra: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"mtpspec {}\">\n{extra}<title>{}</title>\n<style>\n{}{}</style>\n\
         </head>\n",
        env!("CARGO_PKG_VERSION"),
        esc(title),
        include_str!("html/style.css"),
        verdict_css(),
    );
}

/// A row: one case, described by the first run that has it.
struct Row<'a> {
    case: &'a ColumnCase,
}

/// The fragment naming row `r`, case `id`, on the main page and on every transcript page:
/// `case-<id>` when the id is only `A-Z a-z 0-9 . _ -` (as every scenario id is), else `row-<r>`.
fn anchor(id: &str, r: usize) -> String {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"._-".contains(&b);
    if !id.is_empty() && id.bytes().all(plain) {
        format!("case-{id}")
    } else {
        format!("row-{r}")
    }
}

struct Group<'a> {
    section: String,
    title: String,
    rows: Vec<Row<'a>>,
}

/// The union of the runs' cases, grouped by the section of each case's first requirement ID,
/// sections in SPEC.md order (unknown ones after, by name; cases citing nothing last), cases in the order the runs list them.
fn groups<'a>(page: &Page<'a>) -> Vec<Group<'a>> {
    let mut order: Vec<String> = Vec::new();
    let mut by_section: BTreeMap<String, Vec<Row<'a>>> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for column in page.columns {
        for case in &column.cases {
            if !seen.insert(case.id.as_str()) {
                continue;
            }
            let section = case
                .spec
                .first()
                .map_or(NO_REQUIREMENT, |id| section_of(id))
                .to_string();
            if !by_section.contains_key(&section) {
                order.push(section.clone());
            }
            by_section.entry(section).or_default().push(Row { case });
        }
    }
    let rank = |s: &str| {
        if s == NO_REQUIREMENT {
            return usize::MAX;
        }
        page.spec
            .and_then(|spec| spec.sections.iter().position(|x| x.id == s))
            .unwrap_or(usize::MAX - 1)
    };
    order.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    order
        .into_iter()
        .map(|section| Group {
            title: section_title(page, &section),
            rows: by_section.remove(&section).unwrap_or_default(),
            section,
        })
        .collect()
}

fn section_title(page: &Page<'_>, section: &str) -> String {
    page.spec
        .and_then(|s| s.section_title(section))
        .map(str::to_string)
        .or_else(|| {
            page.columns
                .iter()
                .find_map(|c| c.section_titles.get(section).cloned())
        })
        .unwrap_or_default()
}

/// A requirement's level and text, from SPEC.md or else from a run's report.
fn requirement(page: &Page<'_>, id: &str) -> Option<(String, String)> {
    if let Some(r) = page.spec.and_then(|s| s.get(id)) {
        return Some((r.level.to_string(), r.text.clone()));
    }
    page.columns
        .iter()
        .find_map(|c| c.requirements.get(id).cloned())
}

/// The requirements a case cites, each with its level and its text on hover; ends the
/// table cell the caller opened.
fn requirement_cell(out: &mut String, page: &Page<'_>, spec: &[String]) {
    for (i, id) in spec.iter().enumerate() {
        if i > 0 {
            out.push_str("<br>");
        }
        match requirement(page, id) {
            Some((level, text)) => {
                let _ = write!(
                    out,
                    "<span title=\"{}\">{} {}</span>",
                    esc(&text),
                    esc(id),
                    esc(&level)
                );
            }
            None => out.push_str(&esc(id)),
        }
    }
    out.push_str("</td>");
}

/// A verdict cell: the verdict linking `href` (already escaped), the reason as a tooltip
/// (none when there is none: the link says what it is), and `note` (HTML) after the link.
fn verdict_cell(
    out: &mut String,
    verdict: Verdict,
    target: &str,
    href: &str,
    reason: Option<&str>,
    note: &str,
) {
    let title = reason
        .map(|r| format!(" title=\"{}\"", esc(r)))
        .unwrap_or_default();
    let _ = write!(
        out,
        "<td class=\"cell {0}\" data-target=\"{1}\" data-verdict=\"{2}\"><a href=\"{href}\"{title}>{2}</a>{note}</td>",
        class(verdict),
        esc(target),
        verdict,
    );
}

/// A column of a summary table: a target's name and its count of each verdict.
trait Counted {
    fn name(&self) -> &str;
    fn count(&self, verdict: Verdict) -> usize;
}

impl Counted for Column {
    fn name(&self) -> &str {
        &self.name
    }
    fn count(&self, verdict: Verdict) -> usize {
        Column::count(self, verdict)
    }
}

/// A summary table's rows of verdict counts, one per verdict.
fn verdict_rows<C: Counted>(out: &mut String, columns: &[C]) {
    for (verdict, _, _) in VERDICTS {
        let _ = write!(
            out,
            "<tr data-verdict=\"{0}\"><th><span class=\"badge {1}\">{0}</span></th>",
            verdict,
            class(verdict)
        );
        for c in columns {
            let _ = write!(
                out,
                "<td data-target=\"{}\">{}</td>",
                esc(c.name()),
                c.count(verdict)
            );
        }
        out.push_str("</tr>\n");
    }
}

/// A summary table's row `key` (`data-info`), labelled `label`: `value` of each column.
fn summary_row<C: Counted>(
    out: &mut String,
    columns: &[C],
    key: &str,
    label: &str,
    value: &dyn Fn(&C) -> String,
) {
    let _ = write!(out, "<tr data-info=\"{key}\"><th>{label}</th>");
    for c in columns {
        let _ = write!(
            out,
            "<td data-target=\"{}\">{}</td>",
            esc(c.name()),
            esc(&value(c))
        );
    }
    out.push_str("</tr>\n");
}

fn summary(out: &mut String, columns: &[Column], files: &[String]) {
    out.push_str("<h2>Summary</h2>\n<table id=\"summary\">\n<thead><tr><th>Verdict</th>");
    for c in columns {
        let _ = write!(out, "<th data-target=\"{0}\">{0}</th>", esc(&c.name));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    verdict_rows(out, columns);
    let mut info_row = |key: &str, label: &str, value: &dyn Fn(&Column) -> String| {
        summary_row(out, columns, key, label, value);
    };
    info_row("total", "Cases", &|c| c.cases.len().to_string());
    info_row("expected", "Expected failures (baseline)", &|c| {
        c.expected_failures.to_string()
    });
    info_row("gate", "Gate (exit code)", &|c| {
        format!("{} ({})", c.gate.replace('_', " "), c.exit_code)
    });
    info_row("target", "Target", &|c| c.target.clone());
    info_row("started", "Run at", &|c| c.started_at.clone());
    info_row("duration", "Duration", &|c| {
        format!("{:.1} s", c.duration_ms as f64 / 1000.0)
    });
    info_row("tool", "mtpspec version", &|c| c.tool_version.clone());
    out.push_str("<tr data-info=\"transcripts\"><th>Transcripts</th>");
    for (c, file) in columns.iter().zip(files) {
        let _ = write!(
            out,
            "<td data-target=\"{}\"><a href=\"{}\">{}</a></td>",
            esc(&c.name),
            esc(&url(file)),
            esc(file)
        );
    }
    out.push_str("</tr>\n</tbody>\n</table>\n");
}

fn legend(out: &mut String) {
    out.push_str("<h2>Verdicts</h2>\n<ul id=\"legend\">\n");
    for (verdict, colour, meaning) in VERDICTS {
        let _ = writeln!(
            out,
            "<li data-verdict=\"{verdict}\" data-colour=\"{colour}\"><span class=\"badge {}\">{verdict}</span> {}</li>",
            class(verdict),
            esc(meaning)
        );
    }
    let _ = writeln!(
        out,
        "<li data-verdict=\"{NOT_RUN}\"><span class=\"badge v-none\">{NOT_RUN}</span> the run did not include the case</li>\n</ul>"
    );
}

fn section_index(out: &mut String, groups: &[Group<'_>], relay: bool) {
    out.push_str("<h2>Sections</h2>\n<ul id=\"sections\">\n");
    for (g, group) in groups.iter().enumerate() {
        let _ = writeln!(
            out,
            "<li><a href=\"#g{g}\">{}</a> {} ({})</li>",
            esc(&group.section),
            esc(&group.title),
            group.rows.len()
        );
    }
    if relay {
        out.push_str("<li><a href=\"#relay-section\">Outbound (relay mode)</a></li>\n");
    }
    out.push_str("</ul>\n");
}

fn case_table(out: &mut String, page: &Page<'_>, groups: &[Group<'_>], files: &[String]) {
    out.push_str("<h2>Cases</h2>\n<table id=\"cases\">\n<thead><tr><th>Case</th><th>Level</th><th>Requirements</th>");
    for c in page.columns {
        let _ = write!(
            out,
            "<th data-target=\"{0}\">{0}<br><small>{1}</small></th>",
            esc(&c.name),
            esc(&c.target)
        );
    }
    out.push_str("</tr></thead>\n");
    let width = 3 + page.columns.len();
    let mut r = 0;
    for (g, group) in groups.iter().enumerate() {
        let _ = writeln!(
            out,
            "<tbody id=\"g{g}\" data-section=\"{0}\">\n<tr class=\"section\"><th colspan=\"{width}\">{0} {1}</th></tr>",
            esc(&group.section),
            esc(&group.title)
        );
        for row in &group.rows {
            case_row(out, page, row, r, files);
            r += 1;
        }
        out.push_str("</tbody>\n");
    }
    out.push_str("</table>\n");
}

fn case_row(out: &mut String, page: &Page<'_>, row: &Row<'_>, r: usize, files: &[String]) {
    let case = row.case;
    let anchor = anchor(&case.id, r);
    // Only judged verdicts are compared: a case a run lacks, could not judge (SKIP) or could
    // not run (ERROR) says nothing about how that target behaves.
    let verdicts: Vec<Verdict> = page
        .columns
        .iter()
        .filter_map(|c| c.case(&case.id).map(|x| x.verdict))
        .filter(|v| !matches!(v, Verdict::Skip | Verdict::Error))
        .collect();
    let differs = verdicts.windows(2).any(|w| w[0] != w[1]);
    let _ = write!(
        out,
        "<tr id=\"{anchor}\" data-case=\"{0}\"><th class=\"case\" scope=\"row\"><code>{0}</code>{1}<div class=\"title\">{2}</div></th><td>{3}</td><td class=\"reqs\">",
        esc(&case.id),
        if differs {
            "<span class=\"differs\">differs</span>"
        } else {
            ""
        },
        esc(&case.title),
        level(case.level)
    );
    requirement_cell(out, page, &case.spec);
    for (column, file) in page.columns.iter().zip(files) {
        match column.case(&case.id) {
            Some(result) => {
                let note = if result.expected_failure.is_some() {
                    "<span class=\"note\">expected (baseline)</span>"
                } else if result.now_passes.is_some() {
                    "<span class=\"note\">baseline stale</span>"
                } else if result.timed_out {
                    "<span class=\"note\">timed out</span>"
                } else if result.fallback {
                    "<span class=\"note\">fallback</span>"
                } else {
                    ""
                };
                let href = format!("{}#{anchor}", esc(&url(file)));
                let reason = result.reason.as_deref();
                verdict_cell(out, result.verdict, &column.name, &href, reason, note);
            }
            None => {
                let _ = write!(
                    out,
                    "<td class=\"cell v-none\" data-target=\"{}\" data-verdict=\"{NOT_RUN}\">{NOT_RUN}</td>",
                    esc(&column.name)
                );
            }
        }
    }
    out.push_str("</tr>\n");
}

fn verdict_css() -> String {
    VERDICTS
        .iter()
        .map(|(v, colour, _)| format!(".{} {{ background: {colour}; }}\n", class(*v)))
        .collect()
}

fn class(verdict: Verdict) -> String {
    format!("v-{}", verdict.as_str().to_ascii_lowercase())
}

fn level(level: Level) -> &'static str {
    match level {
        Level::Must => "MUST",
        Level::Should => "SHOULD",
        Level::May => "MAY",
    }
}

/// A file name as a relative URL: every byte but `A-Z a-z 0-9 . _ ~ -` percent-encoded, so
/// that a name with `#`, `?`, `%`, a space or a non-ASCII letter still leads to its file.
fn url(file: &str) -> String {
    let mut out = String::with_capacity(file.len());
    for b in file.bytes() {
        if b.is_ascii_alphanumeric() || b"._~-".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Text for an HTML element or a quoted attribute.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::SAMPLE;

    fn column(name: &str, json: &str) -> Column {
        Column::from_json(name, json).expect("sample loads")
    }

    fn render_as(file: &str, title: &str, columns: &[Column], spec: Option<&Spec>) -> Pages {
        render(&Page {
            title,
            columns,
            relay: &[],
            spec,
            file,
        })
    }

    /// Every `href="..."` of a page, unescaped of `&amp;`.
    fn links(html: &str) -> Vec<String> {
        html.split("href=\"")
            .skip(1)
            .map(|rest| rest[..rest.find('"').expect("closed")].replace("&amp;", "&"))
            .collect()
    }

    /// The text between the start of the element with this id and the end of its section.
    fn section<'a>(html: &'a str, id: &str) -> &'a str {
        let start = html
            .find(&format!("<section class=\"transcript\" id=\"{id}\""))
            .unwrap_or_else(|| panic!("no section {id}"));
        let end = html[start..].find("</section>").expect("section ends");
        &html[start..start + end]
    }

    #[test]
    fn escapes() {
        assert_eq!(
            esc(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(url("a b#%?ü.html"), "a%20b%23%25%3F%C3%BC.html");
        assert_eq!(url("index-exim_4.96~x.html"), "index-exim_4.96~x.html");
    }

    #[test]
    fn renders_columns_rows_and_transcript_pages() {
        let other = SAMPLE
            .replace(
                "\"FAIL\", \"reason\": \"got 250\"",
                "\"PASS\", \"reason\": null",
            )
            .replace(r#""id": "b""#, r#""id": "c""#);
        let columns = [column("pf", SAMPLE), column("ref", &other)];
        let pages = render_as("cmp.html", "t", &columns, None);
        let html = &pages.main;
        assert!(html.starts_with("<!DOCTYPE html>"));
        for page in std::iter::once(html).chain(pages.transcripts.iter().map(|p| &p.html)) {
            assert!(!page.contains("<script"), "no script");
            assert!(!page.contains("src="), "no external resource");
            assert!(!page.contains("<link"), "no external style sheet");
        }
        // One transcript page per column, named after the main page and the column.
        let files: Vec<(&str, &str)> = pages
            .transcripts
            .iter()
            .map(|p| (p.target.as_str(), p.file.as_str()))
            .collect();
        assert_eq!(files, [("pf", "cmp-pf.html"), ("ref", "cmp-ref.html")]);
        // Case a: FAIL (excused) on pf, PASS on ref; marked as differing. Each cell links to
        // the case on its target's transcript page.
        assert!(html.contains(
            "<td class=\"cell v-fail\" data-target=\"pf\" data-verdict=\"FAIL\"><a href=\"cmp-pf.html#case-a\" title=\"got 250\">FAIL</a><span class=\"note\">expected (baseline)</span></td>"
        ));
        assert!(html.contains(
            "<td class=\"cell v-pass\" data-target=\"ref\" data-verdict=\"PASS\"><a href=\"cmp-ref.html#case-a\">PASS</a><span class=\"note\">expected (baseline)</span></td>"
        ));
        assert!(html.contains("<tr id=\"case-a\" data-case=\"a\">"));
        // The summary links each target's transcript page.
        assert!(html.contains(
            "<tr data-info=\"transcripts\"><th>Transcripts</th><td data-target=\"pf\"><a href=\"cmp-pf.html\">cmp-pf.html</a></td><td data-target=\"ref\"><a href=\"cmp-ref.html\">cmp-ref.html</a></td></tr>"
        ));
        // Once in the introduction, once on case a (b and c are each in one run only).
        assert_eq!(
            html.matches("<span class=\"differs\">differs</span>")
                .count(),
            2
        );
        // b only in pf, c only in ref: a NOT RUN cell has no link.
        assert!(html.contains(&format!(
            "<td class=\"cell v-none\" data-target=\"ref\" data-verdict=\"{NOT_RUN}\">{NOT_RUN}</td>"
        )));
        assert_eq!(html.matches("<tr id=\"case-").count(), 3);
        // Grouped: SMTP-DATA with its title from the report; b and c have no requirement.
        assert!(html.contains("data-section=\"SMTP-DATA\""));
        assert!(html.contains("SMTP-DATA Mail data</th>"));
        assert!(html.contains("data-section=\"(no requirement)\""));
        // Requirement id with level, its text escaped in the tooltip.
        assert!(html.contains(
            "<span title=\"Only &lt;CRLF&gt;.&lt;CRLF&gt; ends\">SMTP-DATA-3 MUST</span>"
        ));
        // Summary counts per target.
        assert!(html.contains("<tr data-verdict=\"FAIL\"><th><span class=\"badge v-fail\">FAIL</span></th><td data-target=\"pf\">1</td><td data-target=\"ref\">0</td></tr>"));
        // Every verdict has a colour and a legend entry.
        for (v, colour, _) in VERDICTS {
            assert!(html.contains(&format!(".{} {{ background: {colour}; }}", class(v))));
            assert!(html.contains(&format!("data-verdict=\"{v}\" data-colour=\"{colour}\"")));
        }

        // The main page holds no transcript: no section, no wire bytes, no case details.
        assert!(!html.contains("<section"));
        assert!(!html.contains("<pre"));
        assert!(!html.contains("S: 220 hi"));
        assert!(!html.contains("<dt>Expected failure (baseline)</dt>"));

        // pf's page: its two cases, in the table's order, each with its transcript and a link
        // back to its row; the verdict badge in the same colours.
        let pf = &pages.transcripts[0].html;
        assert!(is_transcript_page_of(pf, "cmp.html"));
        assert!(!is_transcript_page_of(pf, "other.html"));
        assert!(
            !is_transcript_page_of(html, "cmp.html"),
            "the main page is not one"
        );
        assert!(pf.contains("<body class=\"transcripts\" data-target=\"pf\">"));
        assert_eq!(pf.matches("<section class=\"transcript\"").count(), 2);
        let a = section(pf, "case-a");
        assert!(a.starts_with(
            "<section class=\"transcript\" id=\"case-a\" data-case=\"a\" data-verdict=\"FAIL\">\n\
             <p class=\"back\"><a href=\"cmp.html#case-a\">&larr; back to the table</a></p>"
        ));
        assert!(a.contains("<span class=\"badge v-fail\">FAIL</span> <code>a</code> on pf"));
        assert!(a.contains("S: 220 hi"), "{a}");
        assert!(
            a.contains("<dt>SMTP-DATA-3 (MUST)</dt><dd>Only &lt;CRLF&gt;.&lt;CRLF&gt; ends</dd>")
        );
        assert!(a.contains("<dt>Expected failure (baseline)</dt><dd>known</dd>"));
        assert!(
            pf.find("id=\"case-a\"") < pf.find("id=\"case-b\""),
            "table order"
        );
        assert!(pf.contains(".v-fail { background: #f08c8c; }"));
        // ref's page: a and c, not b (which ref did not run).
        let reference = &pages.transcripts[1].html;
        assert!(section(reference, "case-a").contains("data-verdict=\"PASS\""));
        assert!(reference.contains("id=\"case-c\""));
        assert!(!reference.contains("id=\"case-b\""));

        // Every link resolves: a cell's to a section of that id on the named page, a
        // section's back to a row of that id on the main page.
        let mut cells = 0;
        for link in links(html) {
            let (file, fragment) = link.split_once('#').unwrap_or((&link, ""));
            if file.is_empty() {
                assert!(html.contains(&format!(" id=\"{fragment}\"")), "{link}");
                continue;
            }
            let page = pages
                .transcripts
                .iter()
                .find(|p| p.file == file)
                .unwrap_or_else(|| panic!("{link}: no such page"));
            if !fragment.is_empty() {
                section(&page.html, fragment);
                cells += 1;
            }
        }
        assert_eq!(cells, 4, "one link per cell that ran");
        for page in &pages.transcripts {
            for link in links(&page.html) {
                let (file, fragment) = link.split_once('#').unwrap_or((&link, ""));
                assert_eq!(file, "cmp.html");
                assert!(
                    fragment.is_empty() || html.contains(&format!("<tr id=\"{fragment}\"")),
                    "{link}"
                );
            }
        }
    }

    #[test]
    fn the_main_page_does_not_grow_with_transcripts() {
        let long_wire: String = (0..300)
            .map(|i| format!("{{\"at_ms\": 3.0, \"conn\": 1, \"kind\": \"received\", \"tls\": false, \"data\": \"250-line {i}\\r\\n\"}},"))
            .collect();
        let long = SAMPLE.replace(
            r#""wire": [
           {"at_ms": 0.5"#,
            &format!("\"wire\": [{long_wire}\n{{\"at_ms\": 0.5"),
        );
        assert_ne!(long, SAMPLE);
        let short = render_as("i.html", "t", &[column("pf", SAMPLE)], None);
        let long = render_as("i.html", "t", &[column("pf", &long)], None);
        assert_eq!(short.main, long.main);
        assert!(long.transcripts[0].html.contains("250-line 299"));
        assert!(long.transcripts[0].html.len() > short.transcripts[0].html.len() + 300 * 10);
    }

    #[test]
    fn links_survive_odd_file_names_and_case_ids() {
        // A case id a hand-edited report could hold: not usable as a fragment, so the row's
        // place names it, on both pages.
        let odd = SAMPLE.replace(r#""id": "a""#, r#""id": "a b#<c>""#);
        let pages = render_as("my page#1.html", "t", &[column("Post Fix", &odd)], None);
        assert_eq!(pages.transcripts[0].file, "my page#1-post-fix.html");
        assert!(
            pages
                .main
                .contains("<tr id=\"row-0\" data-case=\"a b#&lt;c&gt;\">")
        );
        assert!(
            pages
                .main
                .contains("<a href=\"my%20page%231-post-fix.html#row-0\"")
        );
        let page = &pages.transcripts[0].html;
        assert!(is_transcript_page_of(page, "my page#1.html"));
        let row = section(page, "row-0");
        assert!(row.contains("data-case=\"a b#&lt;c&gt;\""));
        assert!(row.contains("<a href=\"my%20page%231.html#row-0\">"));
        // b keeps its id-derived anchor.
        assert!(page.contains("id=\"case-b\""));
    }

    #[test]
    fn skip_is_not_a_difference() {
        let skipped = SAMPLE.replace(
            "\"FAIL\", \"reason\": \"got 250\"",
            "\"SKIP\", \"reason\": \"x\"",
        );
        let columns = [column("pf", SAMPLE), column("ref", &skipped)];
        let html = render_as("i.html", "t", &columns, None).main;
        assert!(html.contains("data-target=\"ref\" data-verdict=\"SKIP\""));
        // Only the introduction's example.
        assert_eq!(html.matches("<span class=\"differs\">").count(), 1);
    }

    #[test]
    fn hostile_text_is_escaped_everywhere() {
        let evil = SAMPLE
            .replace(
                "\"title\": \"A\"",
                r#""title": "<script>alert(1)</script>""#,
            )
            .replace("220 hi", "220 </pre><img src=x onerror=alert(1)>")
            .replace("\"got 250\"", r#""\"><b>x</b>""#)
            .replace("\"known\"", r#""</dd><i>k</i>""#);
        let columns = [column("p<f>&\"", &evil)];
        let pages = render_as("i.html", "<t>", &columns, None);
        let page = &pages.transcripts[0];
        assert_eq!(page.file, "i-p-f.html");
        for html in [&pages.main, &page.html] {
            assert!(!html.contains("<script"));
            assert!(!html.contains("<img"));
            assert!(!html.contains("<b>x"));
            assert!(!html.contains("<i>k"));
            assert!(!html.contains("p<f>"));
            assert!(html.contains("data-target=\"p&lt;f&gt;&amp;&quot;\""));
        }
        assert!(pages.main.contains("<title>&lt;t&gt;</title>"));
        assert!(
            page.html
                .contains("<title>&lt;t&gt;: transcripts on p&lt;f&gt;&amp;&quot;</title>")
        );
        // The wire bytes are on the transcript page, escaped.
        assert!(
            page.html
                .contains("220 &lt;/pre&gt;&lt;img src=x onerror=alert(1)&gt;")
        );
        assert!(
            page.html
                .contains("<dd>&lt;/dd&gt;&lt;i&gt;k&lt;/i&gt;</dd>")
        );
        assert!(
            page.html
                .contains("<h1>Transcripts on p&lt;f&gt;&amp;&quot;</h1>")
        );
    }

    #[test]
    fn sections_follow_spec_order() {
        let spec = Spec::parse(
            "# SMTP\n\n## RSET: RSET\n\n| ID | Level | Requirement | Source |\n| --- | --- | --- | --- |\n| SMTP-RSET-1 | MUST | r | x |\n\n## DATA: Data from SPEC\n\n| ID | Level | Requirement | Source |\n| --- | --- | --- | --- |\n| SMTP-DATA-3 | SHOULD | d | x |\n",
        )
        .expect("spec parses");
        let two = SAMPLE.replace(r#""spec": []"#, r#""spec": ["SMTP-RSET-1"]"#);
        let columns = [column("pf", &two)];
        let pages = render_as("i.html", "t", &columns, Some(&spec));
        let html = &pages.main;
        let rset = html.find("data-section=\"SMTP-RSET\"").expect("RSET group");
        let data = html.find("data-section=\"SMTP-DATA\"").expect("DATA group");
        assert!(rset < data, "SPEC.md order");
        assert!(html.contains("SMTP-DATA Data from SPEC</th>"));
        assert!(
            html.contains(">SMTP-DATA-3 SHOULD</span>"),
            "level from SPEC.md"
        );
        // The transcript page follows the same order, with the same section headings.
        let page = &pages.transcripts[0].html;
        let rset = page.find("id=\"case-b\"").expect("b, citing RSET");
        let data = page.find("id=\"case-a\"").expect("a, citing DATA");
        assert!(rset < data, "SPEC.md order");
        assert!(page.contains("data-section=\"SMTP-DATA\">SMTP-DATA Data from SPEC</h2>"));
        assert!(section(page, "case-a").contains("<dt>SMTP-DATA-3 (SHOULD)</dt><dd>d</dd>"));
    }
}
