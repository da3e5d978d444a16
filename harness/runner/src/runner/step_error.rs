//! Why a step of a case did not succeed: the error every kind of step returns (SMTP, MMTP,
//! HTTP, mailbox checks), which the runner turns into the case's verdict.

use mtp_proto::smtp::reply::Reply;
use mtpspec_report::verdict::Observed;

/// The requirement every reply line is held to: a code, `-` or SP, text, CRLF.
pub(crate) const REPLY_SYNTAX: &str = "SMTP-SYNTAX-11";

/// Why a step did not succeed.
#[derive(Debug)]
pub(crate) enum StepError {
    /// The target did not do what the scenario expects: the expectation, what happened in
    /// words, and what was observed as data where the step observed the target.
    Failed {
        expected: String,
        actual: String,
        observed: Option<Observed>,
    },
    /// The harness, the network or an observer failed.
    Harness(String),
    /// The case cannot be judged here (no credentials for it).
    Skip(String),
    /// The target refused the connection itself (a 421 greeting, an MMTP `RATE_LIMITED`
    /// welcome): a connection or rate limit, to be retried with less parallelism.
    Refused(String),
    /// The target answered 421 in the middle of the session, which RFC 5321 allows at any
    /// time: the case's requirement could not be judged on this connection.
    ServiceClosing(String),
    /// The target's reply breaks a MUST of the reply syntax (a line ended by a bare LF, codes
    /// that differ within a reply): that is [`REPLY_SYNTAX`]'s failure whatever the case
    /// checks, so it is filed under that requirement rather than the case's.
    MalformedReply(String),
    /// A step inside an `expect_one_of` branch did not succeed.
    InBranch {
        line: u64,
        description: String,
        error: Box<StepError>,
    },
}

impl StepError {
    /// A failure with nothing observed as data (a content or JSON mismatch: `actual` says it).
    pub(crate) fn failed(expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Self::Failed {
            expected: expected.into(),
            actual: actual.into(),
            observed: None,
        }
    }

    /// A failure where the step observed `observed`.
    pub(crate) fn observed(
        expected: impl Into<String>,
        actual: impl Into<String>,
        observed: Observed,
    ) -> Self {
        Self::Failed {
            expected: expected.into(),
            actual: actual.into(),
            observed: Some(observed),
        }
    }

    /// `reply` did not meet `expected`; `why`, when given, says how.
    pub(crate) fn reply(expected: impl Into<String>, reply: &Reply, why: Option<&str>) -> Self {
        let shown = show_reply(reply);
        let actual = match why {
            Some(why) => format!("{shown} ({why})"),
            None => shown,
        };
        Self::observed(expected, actual, observed_reply(reply))
    }

    /// The same failure, held to another expectation (a step that reads a reply for its own
    /// check names what it expected).
    pub(crate) fn expecting(self, expected: impl Into<String>) -> Self {
        match self {
            Self::Failed {
                actual, observed, ..
            } => Self::Failed {
                expected: expected.into(),
                actual,
                observed,
            },
            other => other,
        }
    }

    /// The innermost step that failed: its line, its description and its error, given the
    /// line and description of the top-level step it ran under.
    pub(crate) fn locate(self, line: u64, description: String) -> (u64, String, StepError) {
        match self {
            Self::InBranch {
                line,
                description: inner,
                error,
            } => error.locate(line, format!("{description} → {inner}")),
            other => (line, description, other),
        }
    }
}

/// A reply as the reports show it in words: its lines, joined by ` | `.
pub(crate) fn show_reply(reply: &Reply) -> String {
    reply.to_string().trim_end().replace("\r\n", " | ")
}

/// A reply as data.
pub(crate) fn observed_reply(reply: &Reply) -> Observed {
    Observed::Reply {
        code: reply.code.get(),
        enhanced: reply.enhanced.map(|e| e.to_string()),
        lines: reply.lines.clone(),
    }
}
