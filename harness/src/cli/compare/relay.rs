//! `mtpspec compare --relay-json`: a relay report (`mtpspec relay-test --report-json`) read back
//! with its own schema type ([`RelayReport::from_json`], which refuses another schema or a newer
//! version) and reduced to a column of the page's outbound section: the submission transcript
//! and the next hop's sessions rendered as `relay-test` renders them, clipped like the
//! conformance transcripts.

use std::path::Path;

use anyhow::Context;
use mtpspec::relay::{RelayOutcome, RelayReport};
use mtpspec::report::html::{
    RelayColumn, RelayColumnCase, RelayJudgement, RelaySmuggling, TRANSCRIPT_LINES, clip,
};
use mtpspec::servetest::record::render;

/// Reads the relay report at `path` as column `name`; the error names the file.
pub(super) fn load(name: &str, path: &Path) -> anyhow::Result<RelayColumn> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let report = RelayReport::from_json(&text)
        .with_context(|| format!("--relay-json {name}: {}", path.display()))?;
    Ok(column(name, report))
}

/// The page's column of a relay report.
pub(super) fn column(name: &str, report: RelayReport) -> RelayColumn {
    RelayColumn {
        name: name.to_string(),
        inject: report.inject,
        listen: report.listen,
        tool_version: report.tool_version,
        smuggling: report
            .smuggling
            .into_iter()
            .map(|s| RelaySmuggling {
                ending: s.ending,
                case: s.case,
                verdict: s.verdict,
                outcome: s.outcome,
            })
            .collect(),
        cases: report.cases.into_iter().map(case).collect(),
    }
}

fn case(c: RelayOutcome) -> RelayColumnCase {
    let mut submission_transcript = c.submission_transcript.join("\n");
    if !submission_transcript.is_empty() {
        submission_transcript.push('\n');
    }
    RelayColumnCase {
        submission: c.submission.as_ref().map(|s| s.describe()),
        submission_transcript: clip(&submission_transcript, TRANSCRIPT_LINES),
        next_hop_transcript: clip(&render(&c.events), TRANSCRIPT_LINES),
        judgements: c
            .judgements
            .into_iter()
            .map(|j| RelayJudgement {
                spec: j.spec,
                level: j.level,
                check: j.check,
                verdict: j.verdict,
                detail: j.detail,
            })
            .collect(),
        id: c.id,
        title: c.title,
        file: c.file,
        line: c.line,
        spec: c.spec,
        level: c.level,
        verdict: c.verdict,
        reason: c.reason,
        token: c.token,
    }
}
