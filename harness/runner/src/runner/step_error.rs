//! Why a step of a case did not succeed: the error every kind of step returns (SMTP, MMTP,
//! HTTP, mailbox checks), which the runner turns into the case's verdict.

/// The requirement every reply line is held to: a code, `-` or SP, text, CRLF.
pub(crate) const REPLY_SYNTAX: &str = "SMTP-SYNTAX-11";

/// Why a step did not succeed.
#[derive(Debug)]
pub(crate) enum StepError {
    /// The target did not do what the scenario expects.
    Failed { expected: String, actual: String },
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
    pub(crate) fn failed(expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Self::Failed {
            expected: expected.into(),
            actual: actual.into(),
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
