//! Verdicts and the result of one case.
//!
//! PASS; FAIL (a MUST broken); WARN (a SHOULD broken); UNSUPPORTED (an optional extension not
//! offered and correctly refused, or a MAY the target chose differently); SKIP (could not be
//! judged here: an extension missing without a fallback, no mailbox observer); ERROR (the
//! harness or the network failed: never counted against the target).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::wire::WireEvent;
use mtpspec_scenario::{Level, Protocol};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Pass,
    Fail,
    Warn,
    Unsupported,
    Skip,
    Error,
}

impl Verdict {
    pub const ALL: [Verdict; 6] = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::Warn,
        Verdict::Unsupported,
        Verdict::Skip,
        Verdict::Error,
    ];

    /// What a broken expectation means at `level`.
    pub fn for_failure(level: Level) -> Verdict {
        match level {
            Level::Must => Verdict::Fail,
            Level::Should => Verdict::Warn,
            Level::May => Verdict::Unsupported,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Warn => "WARN",
            Verdict::Unsupported => "UNSUPPORTED",
            Verdict::Skip => "SKIP",
            Verdict::Error => "ERROR",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The step that went wrong, and how.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FailureDetail {
    /// The step's number in the list that ran (`steps` or `fallback`), counting from 1.
    pub step: usize,
    /// Where the step is written.
    pub line: u64,
    pub description: String,
    pub expected: String,
    pub actual: String,
}

/// Whether a baseline lists the case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum BaselineMark {
    /// Listed, and it failed as expected: not counted against the gate.
    ExpectedFailure(String),
    /// Listed, but it passes now: the entry is stale.
    NowPasses(String),
}

/// Everything known about one case after it ran.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseResult {
    pub id: String,
    pub title: String,
    pub file: String,
    pub line: u64,
    pub spec: Vec<String>,
    pub level: Level,
    // Defaults: what a report written before the field existed implies.
    #[serde(default)]
    pub protocol: Protocol,
    pub verdict: Verdict,
    /// One line: why the verdict is not PASS.
    pub reason: Option<String>,
    pub failure: Option<FailureDetail>,
    /// The case hit its deadline.
    #[serde(default)]
    pub timed_out: bool,
    /// The target refused the case's connection (a connection or rate limit): the runner
    /// runs it again alone.
    #[serde(skip)]
    pub refused: bool,
    /// The fallback steps ran instead of the main ones.
    #[serde(default)]
    pub fallback: bool,
    #[serde(default, with = "crate::millis", rename = "duration_ms")]
    pub duration: Duration,
    pub baseline: Option<BaselineMark>,
    #[serde(default)]
    pub wire: Vec<WireEvent>,
    /// `(value, placeholder)` pairs that make the transcript independent of the run.
    #[serde(skip)]
    pub redactions: Vec<(String, String)>,
}

impl CaseResult {
    /// Counts against the gate: FAIL (and WARN when strict) not excused by the baseline.
    pub fn is_gate_failure(&self, strict: bool) -> bool {
        let bad = self.verdict == Verdict::Fail || (strict && self.verdict == Verdict::Warn);
        bad && !matches!(self.baseline, Some(BaselineMark::ExpectedFailure(_)))
    }
}

/// A baseline entry that no longer describes the target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleEntry {
    pub id: String,
    pub reason: String,
    /// What is wrong with the entry.
    pub problem: String,
}
