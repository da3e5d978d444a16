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

/// A case's verdict, written in upper case in the JSON report (`"verdict": "FAIL"`) and as a
/// key of the verdict counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// `PASS`: the target did what the case expects.
    Pass,
    /// `FAIL`: a MUST broken; counts against the gate.
    Fail,
    /// `WARN`: a SHOULD broken; counts against the gate only with `--strict`.
    Warn,
    /// `UNSUPPORTED`: an optional extension not offered and correctly refused, or a MAY the
    /// target chose differently.
    Unsupported,
    /// `SKIP`: not judged here (an extension missing without a fallback, no mailbox
    /// observer, a case that does not apply to the target).
    Skip,
    /// `ERROR`: the harness, the network or an observer failed; never counted against the
    /// target.
    Error,
}

impl Verdict {
    /// Every verdict, in the order the reports count them.
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

    /// The verdict as the reports write it: `PASS`, `FAIL`, ...
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
    /// Where the step is written: its line in the scenario file (of the step inside a
    /// branch, when that is what went wrong).
    pub line: u64,
    /// The step in words, its variables expanded (`send "QUIT"`, `write 1024 bytes`).
    pub description: String,
    /// What the case expected (`5yz`); empty for an ERROR or SKIP, which expected nothing
    /// in particular.
    pub expected: String,
    /// What the target did instead, or what went wrong (`250`, `the deadline passed`).
    pub actual: String,
    /// What the target did, as data, when the step observed the target (absent for an
    /// ERROR or SKIP, for a content or JSON mismatch, and in reports before version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<Observed>,
}

/// What a failing step observed of the target, as data for tools that read the JSON report
/// (`"observed": {"kind": "reply", "code": 250, "enhanced": "2.0.0", "lines": ["Ok"]}`); [`FailureDetail::actual`]
/// says the same in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Observed {
    /// A complete reply: its code, its enhanced status code, and the text of each line.
    Reply {
        /// The three-digit reply code.
        code: u16,
        /// The RFC 3463 enhanced status code the reply's lines start with (`5.1.1`), if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        enhanced: Option<String>,
        /// Each line's text after the code, separator and enhanced status code.
        lines: Vec<String>,
    },
    /// No complete reply within the step's wait.
    NoReply {
        /// How long the step waited, in milliseconds.
        waited_ms: u64,
        /// What arrived of a reply that never ended (lossy UTF-8; empty when nothing did).
        partial: String,
    },
    /// The target closed the connection where the step expected more.
    Closed {
        /// What arrived of a reply before the close (lossy UTF-8).
        partial: String,
    },
    /// The connection was still open after the step's wait, where it expected a close.
    StillOpen {
        /// How long the step waited, in milliseconds.
        waited_ms: u64,
    },
    /// Octets the target sent where the step expected a close and nothing more.
    Received {
        /// The octets, lossy UTF-8.
        text: String,
    },
    /// A reply that breaks the reply syntax of RFC 5321 §4.2.
    Malformed {
        /// What is wrong with it.
        why: String,
    },
    /// A delivery check: how many messages in the target's mailbox matched the selector.
    Messages {
        /// The number of matching messages.
        matched: usize,
    },
    /// An HTTP response (the gateway cases).
    Http {
        /// The response's status code.
        status: u16,
    },
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
    /// The case's id, unique among the scenarios (what baselines list).
    pub id: String,
    /// The case's title.
    pub title: String,
    /// The scenario file the case is in, as the harness was given it.
    pub file: String,
    /// The line of the scenario file where the case starts.
    pub line: u64,
    /// The SPEC.md requirement ids the case cites (`SMTP-DATA-3`); a malformed reply makes
    /// this the reply-syntax requirement whatever the case cites.
    pub spec: Vec<String>,
    /// The case's level, `must`, `should` or `may`: what a broken expectation makes the
    /// verdict (FAIL, WARN, UNSUPPORTED).
    pub level: Level,
    /// What the case speaks: `smtp` (the default when absent), `vmtp`, `mmtp` or `http`.
    // Defaults: what a report written before the field existed implies.
    #[serde(default)]
    pub protocol: Protocol,
    /// The case's verdict.
    pub verdict: Verdict,
    /// One line: why the verdict is not PASS.
    pub reason: Option<String>,
    /// The step that went wrong (null when none did, or the case did not run).
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
    /// `duration_ms`: how long the case took, in whole milliseconds (0 when absent).
    #[serde(default, with = "crate::millis", rename = "duration_ms")]
    pub duration: Duration,
    /// How the baseline lists the case: `{"status": "expected_failure" | "now_passes",
    /// "reason": ...}`; null when it does not.
    pub baseline: Option<BaselineMark>,
    /// Everything the case's connections sent and received, in order (empty when absent).
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
    /// The case id the entry lists.
    pub id: String,
    /// The entry's reason, as the baseline gives it.
    pub reason: String,
    /// What is wrong with the entry.
    pub problem: String,
}
