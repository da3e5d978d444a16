//! The JSON report, both ways: [`RunReport`] written as is (`mtpspec run --report-json`) and
//! read back (`mtpspec compare --from-json`, CI tools). The document carries `schema`
//! (`mtpspec-report`) and `schema_version`; wire data is text when it is UTF-8 and
//! `data_base64` otherwise. This build reads every version up to the one it writes: a version
//! 1 report is brought up to date as it is read (its `failure.step` counted from 0, its
//! `address` was its `target`, and it had no `findings`); version 3 added `failure.observed`
//! (what the target did, as data), which older reports lack.

use std::fmt;

use serde::Deserialize;

use super::{RunReport, SCHEMA, SCHEMA_VERSION};

/// The report as pretty-printed JSON, in the current schema version ([`SCHEMA_VERSION`]).
pub fn to_string(report: &RunReport) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report)
}

/// The JSON documents mtpspec writes, by schema name, as people know them (for errors).
const DOCUMENTS: &[(&str, &str)] = &[
    (SCHEMA, "a conformance report of `mtpspec run`"),
    (
        "mtpspec-relay-report",
        "a relay report of `mtpspec relay-test`",
    ),
];

/// Why a JSON document of mtpspec could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// Not JSON, or not the shape of the document (a missing key, a verdict this build does
    /// not know).
    Json(serde_json::Error),
    /// Another schema, or a version of this one that this build does not read.
    Schema {
        /// The document's `schema`.
        schema: String,
        /// The document's `schema_version`.
        version: u32,
        /// The schema that was expected.
        expected: &'static str,
        /// The newest version of it this build reads (from 1).
        newest: u32,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(e) => write!(f, "not a JSON document of mtpspec: {e}"),
            Self::Schema {
                schema,
                version,
                expected,
                newest,
            } => {
                write!(
                    f,
                    "schema {schema:?} version {version}; this build reads {expected:?} \
                     versions 1 to {newest}"
                )?;
                match DOCUMENTS.iter().find(|(name, _)| name == schema) {
                    Some((_, what)) if schema != expected => write!(f, " (this is {what})"),
                    _ => Ok(()),
                }
            }
        }
    }
}

// The JSON error's text is part of the message, so it is not also a `source`.
impl std::error::Error for ReadError {}

/// What every version of every mtpspec JSON document starts with.
#[derive(Debug, Deserialize)]
pub struct Head {
    /// The schema's name.
    pub schema: String,
    /// Its version.
    pub schema_version: u32,
}

/// Reads the head of `text`, refusing a document of another schema than `expected` or of a
/// version other than 1 to `newest`, before any of its content is read.
pub fn read_head(text: &str, expected: &'static str, newest: u32) -> Result<Head, ReadError> {
    let head: Head = serde_json::from_str(text).map_err(ReadError::Json)?;
    if head.schema != expected || !(1..=newest).contains(&head.schema_version) {
        return Err(ReadError::Schema {
            schema: head.schema,
            version: head.schema_version,
            expected,
            newest,
        });
    }
    Ok(head)
}

/// Reads a JSON report of any version up to [`SCHEMA_VERSION`], brought up to date.
pub fn from_str(text: &str) -> Result<RunReport, ReadError> {
    let head = read_head(text, SCHEMA, SCHEMA_VERSION)?;
    let mut report: RunReport = serde_json::from_str(text).map_err(ReadError::Json)?;
    if head.schema_version == 1 {
        for case in &mut report.cases {
            if let Some(failure) = &mut case.failure {
                failure.step += 1;
            }
        }
        report.address = report.target.clone();
        report.findings = super::findings(&report.cases, None, &Default::default());
    }
    report.schema_version = SCHEMA_VERSION;
    Ok(report)
}

/// A small report in the JSON schema, for tests.
#[cfg(test)]
pub(crate) const SAMPLE: &str = r#"{
      "schema": "mtpspec-report", "schema_version": 1,
      "tool": {"name": "mtpspec", "version": "0.1.0"},
      "target": "smtp://127.0.0.1:2525", "started_at": "2026-11-22T22:05:19Z",
      "duration_ms": 1200, "strict": false, "gate": "failed", "exit_code": 1,
      "summary": {"total": 2, "counts": {"PASS": 1, "FAIL": 1}, "expected_failures": 0},
      "sections": [{"section": "SMTP-DATA", "title": "Mail data", "counts": {}}],
      "requirements": {"SMTP-DATA-3": {"level": "MUST", "text": "Only <CRLF>.<CRLF> ends", "section": "SMTP-DATA"}},
      "future_field": [1, 2, 3],
      "cases": [
        {"id": "a", "title": "A", "file": "s.yaml", "line": 1, "spec": ["SMTP-DATA-3"],
         "level": "must", "protocol": "smtp", "verdict": "FAIL", "reason": "got 250",
         "failure": {"step": 0, "line": 3, "description": "d", "expected": "5yz", "actual": "250"},
         "timed_out": false, "fallback": false, "duration_ms": 3,
         "baseline": {"status": "expected_failure", "reason": "known"},
         "wire": [
           {"at_ms": 0.5, "conn": 1, "kind": "received", "tls": false, "data": "220 hi\r\n"},
           {"at_ms": 1.0, "conn": 1, "kind": "sent", "tls": false, "data_base64": "/w0K"},
           {"at_ms": 2.0, "conn": 1, "kind": "teleported", "tls": false, "data": "x"}
         ]},
        {"id": "b", "title": "B", "file": "s.yaml", "line": 9, "spec": [], "level": "should",
         "protocol": "smtp", "verdict": "PASS", "reason": null, "failure": null,
         "timed_out": false, "fallback": false, "duration_ms": 1, "baseline": null, "wire": []}
      ]}"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_other_schemas_and_verdicts() {
        let newer = SCHEMA_VERSION + 1;
        for version in [0, newer] {
            let other = SAMPLE.replace(
                "\"schema_version\": 1",
                &format!("\"schema_version\": {version}"),
            );
            assert!(matches!(
                from_str(&other),
                Err(ReadError::Schema { version: v, .. }) if v == version
            ));
        }
        let named = SAMPLE
            .replace(
                "\"schema_version\": 1",
                &format!("\"schema_version\": {SCHEMA_VERSION}"),
            )
            .replace(
                "\"target\": \"smtp://127.0.0.1:2525\"",
                "\"target\": \"postfix\", \"address\": \"smtp://127.0.0.1:2525\"",
            );
        let report = from_str(&named).expect("the current version loads");
        assert_eq!(report.target, "postfix");
        assert_eq!(report.address, "smtp://127.0.0.1:2525");
        let bad = SAMPLE.replace("\"PASS\", \"reason\"", "\"MAYBE\", \"reason\"");
        let error = from_str(&bad).unwrap_err().to_string();
        assert!(error.contains("MAYBE"), "{error}");
        assert!(matches!(from_str("[]"), Err(ReadError::Json(_))));
    }

    #[test]
    fn a_version_1_report_is_brought_up_to_date() {
        let report = from_str(SAMPLE).unwrap();
        assert_eq!(report.schema_version, SCHEMA_VERSION);
        let failure = report.cases[0].failure.as_ref().unwrap();
        assert_eq!(failure.step, 1, "version 1 counted steps from 0");
        assert_eq!(report.address, report.target);
        let findings: Vec<&str> = report.findings.iter().map(|f| f.case.as_str()).collect();
        assert_eq!(findings, ["a"]);
    }
}
