//! The listeners a case can run on: the usual ports of a mail server (MX, submission,
//! implicit TLS, MMTP, the HTTP gateway) and the special configurations some cases need. Part
//! of the scenario model (a case's `listener:` field); targets map each to an address.

use std::fmt;
use std::str::FromStr;

/// Which of a server's listeners a case talks to. Besides a server's usual listeners there
/// are *special* ones: listeners configured into a state a case cannot bring the main one
/// into (a deny list, a user list, small limits, a short idle timeout). The embedded reference
/// runs one of each; for another target, `mtpspec run --listener NAME=HOST:PORT` names them.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Deserialize,
    serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Listener {
    /// The MX listener (port 25): the target itself.
    #[default]
    Smtp,
    /// Submission (RFC 6409, port 587): AUTH required before MAIL.
    Submission,
    /// Implicit TLS (RFC 8314, port 465).
    Smtps,
    /// MMTP over plain TCP (seed §3.1, port 8025).
    Mmtp,
    /// MMTP over implicit TLS (port 8026).
    Mmtps,
    /// The HTTP gateway (`protocol: http` cases).
    Http,
    /// SMTP, refusing the harness's address (127.0.0.1) with a 554 greeting (a deny list).
    Denied,
    /// SMTP with a user list: `postmaster` exists in the local domain, other local parts not.
    Users,
    /// SMTP allowing at most
    /// `SPECIAL_CONNECTION_LIMIT` (the harness's `target` module) concurrent
    /// connections.
    Limited,
    /// SMTP with a short idle timeout (`SHORT_IDLE` (the harness's `target` module); at most
    /// 5 s).
    ShortIdle,
    /// MMTP (plain TCP) allowing at most
    /// `SPECIAL_CONNECTION_LIMIT` (the harness's `target` module) concurrent connections
    /// per client address.
    MmtpLimited,
    /// MMTP (plain TCP) with a short idle timeout (`SHORT_IDLE` (the harness's `target` module);
    /// at most 5 s).
    MmtpShortIdle,
}

impl Listener {
    /// Every listener, in the order reports and `--help` list them.
    pub const ALL: [Listener; 12] = [
        Self::Smtp,
        Self::Submission,
        Self::Smtps,
        Self::Mmtp,
        Self::Mmtps,
        Self::Http,
        Self::Denied,
        Self::Users,
        Self::Limited,
        Self::ShortIdle,
        Self::MmtpLimited,
        Self::MmtpShortIdle,
    ];

    /// Whether the listener speaks MMTP (JSON values) rather than SMTP.
    pub fn is_mmtp(self) -> bool {
        matches!(
            self,
            Self::Mmtp | Self::Mmtps | Self::MmtpLimited | Self::MmtpShortIdle
        )
    }

    /// Whether the listener speaks TLS from the first byte.
    pub fn is_implicit_tls(self) -> bool {
        matches!(self, Self::Smtps | Self::Mmtps)
    }

    /// Whether this is a special listener (a configuration of the server rather than one of
    /// its usual ports), named with `--listener NAME=HOST:PORT`.
    pub fn is_special(self) -> bool {
        matches!(
            self,
            Self::Denied
                | Self::Users
                | Self::Limited
                | Self::ShortIdle
                | Self::MmtpLimited
                | Self::MmtpShortIdle
        )
    }

    /// Whether a case on this listener waits for the server's (short) idle timeout.
    pub fn has_short_idle(self) -> bool {
        matches!(self, Self::ShortIdle | Self::MmtpShortIdle)
    }

    /// The `mtpspec run` option that names this listener of a target.
    pub fn run_option(self) -> String {
        if self.is_special() {
            format!("--listener {self}=HOST:PORT")
        } else {
            format!("--{self} HOST:PORT")
        }
    }
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Smtp => "smtp",
            Self::Submission => "submission",
            Self::Smtps => "smtps",
            Self::Mmtp => "mmtp",
            Self::Mmtps => "mmtps",
            Self::Http => "http",
            Self::Denied => "denied",
            Self::Users => "users",
            Self::Limited => "limited",
            Self::ShortIdle => "short-idle",
            Self::MmtpLimited => "mmtp-limited",
            Self::MmtpShortIdle => "mmtp-short-idle",
        })
    }
}

impl FromStr for Listener {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|l| l.to_string() == s)
            .ok_or_else(|| {
                let names: Vec<String> = Self::ALL.iter().map(ToString::to_string).collect();
                format!("no listener {s:?} (one of {})", names.join(", "))
            })
    }
}
