//! The robustness table of the comparison page: one row per robustness case, one cell per run
//! with its verdict and figures (how long the stalled connections survived, the fresh
//! clients' greetings, the memory). Apart from the `#cases` table and the summary counts,
//! which are the scenarios'.

use std::fmt::Write as _;

use super::{Column, class, esc};

/// Writes the `#robustness` table; nothing when no run has robustness cases.
pub(super) fn table(out: &mut String, columns: &[Column]) {
    let mut ids: Vec<(&str, &str, String)> = Vec::new();
    for column in columns {
        for r in &column.robustness {
            if !ids.iter().any(|(id, _, _)| *id == r.id) {
                ids.push((&r.id, &r.title, r.spec.join(", ")));
            }
        }
    }
    if ids.is_empty() {
        return;
    }
    out.push_str(
        "<h2 id=\"robustness-section\">Robustness</h2>\n<p>Attacks run one at a time after the \
         scenarios, each bounded in time and connections (SPEC.md, ROBUST part: SHOULD at most). \
         How long a stalled connection survived is a figure, not a fault; the verdict is about \
         fresh clients being greeted while the attack holds.</p>\n<table id=\"robustness\">\n\
         <thead><tr><th>Case</th>",
    );
    for c in columns {
        let _ = write!(out, "<th data-target=\"{0}\">{0}</th>", esc(&c.name));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (id, title, spec) in ids {
        let _ = write!(
            out,
            "<tr data-robustness=\"{0}\"><th><code>{0}</code><br>{1}<br><small>{2}</small></th>",
            esc(id),
            esc(title),
            esc(&spec)
        );
        for c in columns {
            match c.robustness.iter().find(|r| r.id == id) {
                Some(r) => {
                    let _ = write!(
                        out,
                        "<td class=\"{}\" data-target=\"{}\" data-verdict=\"{}\"><strong>{}</strong>",
                        class(r.verdict),
                        esc(&c.name),
                        r.verdict,
                        r.verdict
                    );
                    if let Some(reason) = &r.reason {
                        let _ = write!(out, "<br>{}", esc(reason));
                    }
                    if !r.figures.is_empty() {
                        out.push_str("<ul>");
                        for line in &r.figures {
                            let _ = write!(out, "<li>{}</li>", esc(line));
                        }
                        out.push_str("</ul>");
                    }
                    out.push_str("</td>");
                }
                None => {
                    let _ = write!(
                        out,
                        "<td data-target=\"{}\">{}</td>",
                        esc(&c.name),
                        super::NOT_RUN
                    );
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}
