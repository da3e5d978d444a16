//! The side-by-side HTML page of `mtpspec compare`: several runs as columns, every case as a
//! row grouped by SPEC.md section, a colour *and* a text label per verdict, the verdict counts
//! of each run at the top, and each case's transcript one click away.
//!
//! The page is one self-contained file: inline CSS, no script, no external resource. A cell
//! links to `#tC-R`, a `<section class="transcript">` that CSS shows only while it is the
//! URL's `:target` (a panel over the table with a link back to the row); without CSS every
//! transcript simply follows the table. Every text that comes from a run (ids, titles,
//! reasons, wire bytes) is escaped.
//!
//! Stable hooks for checkers (`.ci/html-check` reads them from the rendered DOM): the
//! `#summary` table (`tr[data-verdict]`, `td[data-target]`), the `#legend` items
//! (`data-verdict`, `data-colour`), and the `#cases` table (`tr[data-case]`,
//! `td.cell[data-target][data-verdict]` whose text starts with the verdict label). The
//! robustness cases are a table of their own, `#robustness` (`tr[data-robustness]`), outside
//! the summary counts, which are the scenarios'.

mod column;
mod robustness;

use std::collections::BTreeMap;
use std::fmt::Write as _;

pub use column::{Column, ColumnCase, ColumnRobustness, LoadError, TRANSCRIPT_LINES, clip};

use crate::runner::Verdict;
use crate::scenario::Level;
use crate::spec::{Spec, section_of};

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

/// What the page shows.
pub struct Page<'a> {
    pub title: &'a str,
    pub columns: &'a [Column],
    /// For section order and titles and requirement levels; the runs' own copies are used
    /// when it is absent.
    pub spec: Option<&'a Spec>,
}

/// Renders the page.
pub fn render(page: &Page<'_>) -> String {
    let groups = groups(page);
    let mut out = String::with_capacity(1 << 20);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"mtpspec {}\">\n<title>{}</title>\n<style>\n{}{}</style>\n\
         </head>\n<body>\n<h1>{}</h1>\n",
        env!("CARGO_PKG_VERSION"),
        esc(page.title),
        include_str!("html/style.css"),
        verdict_css(),
        esc(page.title),
    );
    let cases: usize = groups.iter().map(|g| g.rows.len()).sum();
    let _ = writeln!(
        out,
        "<p>{} cases, {} targets. Each cell links to that case's wire transcript on that target. \
         <span class=\"differs\">differs</span> marks a case the targets judged differently \
         (SKIP, ERROR and NOT RUN are not compared).</p>",
        cases,
        page.columns.len()
    );
    summary(&mut out, page.columns);
    legend(&mut out);
    section_index(&mut out, &groups);
    case_table(&mut out, page, &groups);
    robustness::table(&mut out, page.columns);
    transcripts(&mut out, page, &groups);
    out.push_str("</body>\n</html>\n");
    out
}

/// A row: one case, described by the first run that has it.
struct Row<'a> {
    case: &'a ColumnCase,
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

fn summary(out: &mut String, columns: &[Column]) {
    out.push_str("<h2>Summary</h2>\n<table id=\"summary\">\n<thead><tr><th>Verdict</th>");
    for c in columns {
        let _ = write!(out, "<th data-target=\"{0}\">{0}</th>", esc(&c.name));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
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
                esc(&c.name),
                c.count(verdict)
            );
        }
        out.push_str("</tr>\n");
    }
    let mut info_row = |key: &str, label: &str, value: &dyn Fn(&Column) -> String| {
        let _ = write!(out, "<tr data-info=\"{key}\"><th>{label}</th>");
        for c in columns {
            let _ = write!(
                out,
                "<td data-target=\"{}\">{}</td>",
                esc(&c.name),
                esc(&value(c))
            );
        }
        out.push_str("</tr>\n");
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
    out.push_str("</tbody>\n</table>\n");
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

fn section_index(out: &mut String, groups: &[Group<'_>]) {
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
    out.push_str("</ul>\n");
}

fn case_table(out: &mut String, page: &Page<'_>, groups: &[Group<'_>]) {
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
            case_row(out, page, row, r);
            r += 1;
        }
        out.push_str("</tbody>\n");
    }
    out.push_str("</table>\n");
}

fn case_row(out: &mut String, page: &Page<'_>, row: &Row<'_>, r: usize) {
    let case = row.case;
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
        "<tr id=\"r{r}\" data-case=\"{0}\"><th class=\"case\" scope=\"row\"><code>{0}</code>{1}<div class=\"title\">{2}</div></th><td>{3}</td><td class=\"reqs\">",
        esc(&case.id),
        if differs {
            "<span class=\"differs\">differs</span>"
        } else {
            ""
        },
        esc(&case.title),
        level(case.level)
    );
    for (i, id) in case.spec.iter().enumerate() {
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
    for (c, column) in page.columns.iter().enumerate() {
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
                let _ = write!(
                    out,
                    "<td class=\"cell {0}\" data-target=\"{1}\" data-verdict=\"{2}\"><a href=\"#t{c}-{r}\" title=\"{3}\">{2}</a>{note}</td>",
                    class(result.verdict),
                    esc(&column.name),
                    result.verdict,
                    esc(result.reason.as_deref().unwrap_or("open the transcript")),
                );
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

fn transcripts(out: &mut String, page: &Page<'_>, groups: &[Group<'_>]) {
    out.push_str("<h2>Transcripts</h2>\n<div id=\"transcripts\">\n");
    let rows = groups.iter().flat_map(|g| &g.rows);
    for (r, row) in rows.enumerate() {
        for (c, column) in page.columns.iter().enumerate() {
            if let Some(result) = column.case(&row.case.id) {
                transcript(out, page, column, result, c, r);
            }
        }
    }
    out.push_str("</div>\n");
}

fn transcript(
    out: &mut String,
    page: &Page<'_>,
    column: &Column,
    case: &ColumnCase,
    c: usize,
    r: usize,
) {
    let _ = write!(
        out,
        "<section class=\"transcript\" id=\"t{c}-{r}\">\n<p class=\"close\"><a href=\"#r{r}\">&larr; back to the table</a></p>\n\
         <h3><span class=\"badge {0}\">{1}</span> <code>{2}</code> on {3}</h3>\n<p>{4}</p>\n<dl>\n\
         <dt>Scenario</dt><dd><code>{5}:{6}</code> ({7})</dd>\n",
        class(case.verdict),
        case.verdict,
        esc(&case.id),
        esc(&column.name),
        esc(&case.title),
        esc(&case.file),
        case.line,
        level(case.level),
    );
    let mut item = |term: &str, text: &str| {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(term), esc(text));
    };
    for id in &case.spec {
        match requirement(page, id) {
            Some((level, text)) => item(&format!("{id} ({level})"), &text),
            None => item(id, ""),
        }
    }
    if let Some(reason) = &case.reason {
        item("Why", reason);
    }
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
    use super::column::SAMPLE;
    use super::*;

    fn column(name: &str, json: &str) -> Column {
        Column::from_json(name, json).expect("sample loads")
    }

    #[test]
    fn escapes() {
        assert_eq!(
            esc(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn renders_columns_rows_and_transcripts() {
        let other = SAMPLE
            .replace(
                "\"FAIL\", \"reason\": \"got 250\"",
                "\"PASS\", \"reason\": null",
            )
            .replace(r#""id": "b""#, r#""id": "c""#);
        let columns = [column("pf", SAMPLE), column("ref", &other)];
        let html = render(&Page {
            title: "t",
            columns: &columns,
            spec: None,
        });
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(!html.contains("<script"), "no script");
        assert!(!html.contains("src="), "no external resource");
        // Case a: FAIL (excused) on pf, PASS on ref; marked as differing.
        assert!(html.contains(
            "<td class=\"cell v-fail\" data-target=\"pf\" data-verdict=\"FAIL\"><a href=\"#t0-0\" title=\"got 250\">FAIL</a><span class=\"note\">expected (baseline)</span></td>"
        ));
        assert!(html.contains(
            "<td class=\"cell v-pass\" data-target=\"ref\" data-verdict=\"PASS\"><a href=\"#t1-0\""
        ));
        // Once in the introduction, once on case a (b and c are each in one run only).
        assert_eq!(
            html.matches("<span class=\"differs\">differs</span>")
                .count(),
            2
        );
        // b only in pf, c only in ref.
        assert!(html.contains(&format!(
            "<td class=\"cell v-none\" data-target=\"ref\" data-verdict=\"{NOT_RUN}\">"
        )));
        assert_eq!(html.matches("<tr id=\"r").count(), 3);
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
        // Transcripts: one per present cell, escaped.
        assert_eq!(html.matches("<section class=\"transcript\"").count(), 4);
        assert!(html.contains("id=\"t0-0\""));
        assert!(html.contains("S: 220 hi"));
        // Every verdict has a colour and a legend entry.
        for (v, colour, _) in VERDICTS {
            assert!(html.contains(&format!(".{} {{ background: {colour}; }}", class(v))));
            assert!(html.contains(&format!("data-verdict=\"{v}\" data-colour=\"{colour}\"")));
        }
    }

    #[test]
    fn skip_is_not_a_difference() {
        let skipped = SAMPLE.replace(
            "\"FAIL\", \"reason\": \"got 250\"",
            "\"SKIP\", \"reason\": \"x\"",
        );
        let columns = [column("pf", SAMPLE), column("ref", &skipped)];
        let html = render(&Page {
            title: "t",
            columns: &columns,
            spec: None,
        });
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
            .replace("\"got 250\"", r#""\"><b>x</b>""#);
        let columns = [column("p<f>&\"", &evil)];
        let html = render(&Page {
            title: "<t>",
            columns: &columns,
            spec: None,
        });
        assert!(!html.contains("<script"));
        assert!(!html.contains("<img"));
        assert!(!html.contains("<b>x"));
        assert!(!html.contains("p<f>"));
        assert!(html.contains("<title>&lt;t&gt;</title>"));
        assert!(html.contains("data-target=\"p&lt;f&gt;&amp;&quot;\""));
    }

    #[test]
    fn sections_follow_spec_order() {
        let spec = Spec::parse(
            "# SMTP\n\n## RSET: RSET\n\n| ID | Level | Requirement | Source |\n| --- | --- | --- | --- |\n| SMTP-RSET-1 | MUST | r | x |\n\n## DATA: Data from SPEC\n\n| ID | Level | Requirement | Source |\n| --- | --- | --- | --- |\n| SMTP-DATA-3 | SHOULD | d | x |\n",
        )
        .expect("spec parses");
        let two = SAMPLE.replace(r#""spec": []"#, r#""spec": ["SMTP-RSET-1"]"#);
        let columns = [column("pf", &two)];
        let html = render(&Page {
            title: "t",
            columns: &columns,
            spec: Some(&spec),
        });
        let rset = html.find("data-section=\"SMTP-RSET\"").expect("RSET group");
        let data = html.find("data-section=\"SMTP-DATA\"").expect("DATA group");
        assert!(rset < data, "SPEC.md order");
        assert!(html.contains("SMTP-DATA Data from SPEC</th>"));
        assert!(
            html.contains(">SMTP-DATA-3 SHOULD</span>"),
            "level from SPEC.md"
        );
    }
}
