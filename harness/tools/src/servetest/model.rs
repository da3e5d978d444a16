//! The client-scenario model: what the scripted server sends (greeting, EHLO keywords, a reply
//! rule per command, delays, closes, an injected reply after STARTTLS's 220, a TLS upgrade)
//! and the judgements made on the client from what it did.
//!
//! A client case is data (`scenarios/clients/*.yaml`, read by [`super::load`]); nothing here
//! touches a socket. The server side of the suite has its own model in `mtpspec_scenario`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use serde::{Deserialize, Serialize};

use mtpspec_scenario::Level;
use mtpspec_scenario::load::Located;

/// What the client under test is asked to do, substituted into `--client-cmd` as `{mode}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Plain SMTP, no TLS.
    #[default]
    Plain,
    /// Upgrade with STARTTLS (the server's certificate is self-signed: the client must not
    /// verify it).
    Starttls,
}

impl Mode {
    /// The mode as written in the YAML and as substituted for `{mode}`: `plain` or
    /// `starttls`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Starttls => "starttls",
        }
    }
}

/// A feature a client may lack; cases needing one the client was not declared to have are
/// SKIP (`--client-features`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Feature {
    /// The client speaks the VMTP verbs (VECMAIL, METADATA, ...).
    Vmtp,
}

impl std::str::FromStr for Feature {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "vmtp" => Ok(Feature::Vmtp),
            other => Err(format!("unknown client feature `{other}` (known: vmtp)")),
        }
    }
}

/// One client case: a server script and the judgements on what the client did.
#[derive(Clone, Debug)]
pub struct ClientCase {
    /// `id:` unique across the client cases, `[a-z0-9][a-z0-9._-]*`; what `--case` globs
    /// match.
    pub id: String,
    /// `title:` one line, shown in every report: what the client should do.
    pub title: String,
    /// `description:` the RFC text the judgements enforce, for readers of the report.
    pub description: Option<String>,
    /// `requires:` the client features the case needs; without all of them declared
    /// (`--client-features`) the case is SKIP and the client is not started.
    pub requires: Vec<Feature>,
    /// `mode:` what the client is asked to do (`{mode}`): plain SMTP or STARTTLS.
    pub mode: Mode,
    /// `from:` the sender the client is given (`{from}`); [`super::load::DEFAULT_FROM`]
    /// unless the case names one.
    pub from: String,
    /// `to:` the recipients the client is given (`{to}`, space-separated), never empty;
    /// [`super::load::DEFAULT_TO`] unless the case names them.
    pub to: Vec<String>,
    /// The message the client is given (written to the file `{body}`).
    pub body: String,
    /// `deadline_ms:` how long the whole case may take (the client run and every
    /// connection; the judging comes after), 20 s unless the case says otherwise. A client
    /// still running then is killed; without `--client-cmd` it counts from the first
    /// connection.
    pub deadline: Duration,
    /// `server:` the script played on every connection of the case.
    pub server: Arc<ServerScript>,
    /// `judge:` what is judged of the client, each with its requirement; never empty.
    pub judge: Vec<Judgement>,
    /// The scenario file the case was loaded from (as the loader was given it).
    pub file: PathBuf,
    /// The 1-based line where the case's list item starts in `file`.
    pub line: u64,
}

impl ClientCase {
    /// Every requirement ID the judgements cite, in order, without repeats.
    pub fn spec(&self) -> Vec<String> {
        cited(self.judge.iter().map(|j| j.spec.as_str()))
    }
}

impl Located for ClientCase {
    fn id(&self) -> &str {
        &self.id
    }
    fn file(&self) -> &Path {
        &self.file
    }
    fn line(&self) -> u64 {
        self.line
    }
}

/// The requirement IDs `specs` names, in order, without repeats (a case's citations, from its
/// judgements).
pub fn cited<'a>(specs: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for spec in specs {
        if !ids.iter().any(|id| id == spec) {
            ids.push(spec.to_string());
        }
    }
    ids
}

/// What the fake server does on every connection of a case.
#[derive(Clone, Debug)]
pub struct ServerScript {
    /// The greeting lines (written out with their codes); none closes the connection at
    /// once, before any greeting.
    pub greeting: Vec<String>,
    /// `greeting_delay_ms:` how long the server waits after the connection is accepted
    /// before greeting (reading and recording whatever the client sends meanwhile).
    pub greeting_delay: Duration,
    /// EHLO keyword lines after the first (hostname) line, before TLS.
    pub ehlo: Vec<String>,
    /// EHLO keyword lines once TLS is on.
    pub ehlo_tls: Vec<String>,
    /// A pause before every reply (while the server keeps reading), so that a client which
    /// does not wait for replies shows it.
    pub reply_delay: Duration,
    /// Overrides of the default replies, first match wins.
    pub rules: Vec<Rule>,
}

impl ServerScript {
    /// Whether the EHLO reply before TLS advertises `keyword`.
    pub fn advertises(&self, keyword: &str) -> bool {
        self.ehlo.iter().any(|line| {
            line.split_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
        })
    }
}

/// The pseudo-command a rule names to answer the end of the message data.
pub const END_OF_DATA: &str = "END-OF-DATA";

/// A reply rule: for a command matching `on` (its `nth` occurrence, or every one), what the
/// server answers and does.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Case-insensitive, anchored at the start of the command line.
    pub on: Regex,
    /// Only the nth command matching `on` on the connection (1-based).
    pub nth: Option<u32>,
    /// Reply lines, codes included; `None` keeps the default reply, an empty list sends none.
    pub reply: Option<Vec<String>>,
    /// `delay_ms:` a pause before this reply, while the server keeps reading and recording;
    /// when not zero it replaces the script's `reply_delay` for this reply.
    pub delay: Duration,
    /// Lines sent in the same write right after the reply (before a TLS handshake).
    pub inject: Vec<String>,
    /// Start a TLS handshake after the reply (as STARTTLS's 220).
    pub tls: bool,
    /// Close the connection after the reply, having read on for `linger`.
    pub close: bool,
    /// `linger_ms:` with `close`, how long the server goes on reading (and recording) after
    /// the reply before it closes; 1 s unless the rule says otherwise.
    pub linger: Duration,
}

/// One judgement on the client: the check, the requirement it enforces and how much it
/// weighs.
#[derive(Clone, Debug)]
pub struct Judgement {
    /// `spec:` the SPEC.md requirement the check enforces (`SMTP-CLIENT-8`).
    pub spec: String,
    /// `level:` what a failure weighs: FAIL for `must`, WARN for `should`, UNSUPPORTED for
    /// `may`.
    pub level: Level,
    /// `check:` what must hold of the recorded sessions or of the client's run.
    pub check: Check,
    /// Where the judgement is written.
    pub line: u64,
}

/// What the client must (not) have done, read from the recorded sessions.
#[derive(Clone, Debug)]
pub enum Check {
    /// No command line on any connection matches.
    Never(Regex),
    /// Some command line matches.
    Sends(Regex),
    /// At most `max` command lines match.
    MaxCount {
        /// `pattern:` the command pattern counted.
        pattern: Regex,
        /// `max:` how many matching commands are allowed, over all connections.
        max: u32,
    },
    /// After the server's reply to the first command matching `reply_to`, the client sends
    /// no command on that connection except ones matching `allow`.
    NothingAfter {
        /// `reply_to:` the command whose reply (the first such command's) ends what the
        /// client may send on that connection.
        reply_to: Regex,
        /// `allow:` the commands still allowed after that reply (QUIT, say); none when
        /// absent.
        allow: Option<Regex>,
    },
    /// The first command after the reply to the first command matching `after` matches
    /// `expect`.
    NextCommand {
        /// `after:` the command (its first occurrence) after whose reply the next command is
        /// judged.
        after: Regex,
        /// `expect:` what the client's next command on that connection must match.
        expect: Regex,
    },
    /// For each command matching, no other command arrives before its reply was sent.
    WaitsForReply(Regex),
    /// Nothing arrives before the greeting was sent.
    SilentBeforeGreeting,
    /// Exactly this many messages got a 2yz reply to their end of data.
    Delivered(u32),
    /// The first message's data holds every `include` line and no `exclude` line (lines as
    /// sent, dot-stuffing included, split at any line end: CRLF is [`Check::DataCrlf`]'s).
    DataLines {
        /// `include:` lines the data must hold, each equal to a whole line (line end
        /// removed).
        include: Vec<String>,
        /// `exclude:` lines the data must not hold, each compared with whole lines.
        exclude: Vec<String>,
    },
    /// The first message's data has no bare LF and no bare CR.
    DataCrlf,
    /// At most this many connections during the case.
    MaxConnections(u32),
    /// The client's last command on its first connection is QUIT.
    EndsWithQuit,
    /// The client command's exit status (only with `--client-cmd`).
    Exit(ExitExpect),
    /// The client command's output (standard output and error) matches; case-insensitive,
    /// anywhere in the text (only with `--client-cmd`).
    Output(Regex),
}

/// The exit status the `exit:` check expects of the client command (`success` or `failure`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExitExpect {
    /// Exit status 0: the client reports the message sent.
    Success,
    /// A non-zero exit status: the client reports the failure.
    Failure,
}

impl Check {
    /// One line for reports.
    pub fn describe(&self) -> String {
        match self {
            Check::Never(re) => format!("never sends a command matching /{}/", pat(re)),
            Check::Sends(re) => format!("sends a command matching /{}/", pat(re)),
            Check::MaxCount { pattern, max } => {
                format!(
                    "sends a command matching /{}/ at most {max} time(s)",
                    pat(pattern)
                )
            }
            Check::Output(re) => format!("its output matches /{}/", pat(re)),
            Check::NothingAfter { reply_to, allow } => match allow {
                Some(allow) => format!(
                    "after the reply to /{}/ sends nothing but /{}/ on that connection",
                    pat(reply_to),
                    pat(allow)
                ),
                None => format!(
                    "after the reply to /{}/ sends nothing on that connection",
                    pat(reply_to)
                ),
            },
            Check::NextCommand { after, expect } => format!(
                "the command after the reply to /{}/ matches /{}/",
                pat(after),
                pat(expect)
            ),
            Check::WaitsForReply(re) => format!(
                "waits for the reply to each command matching /{}/ before sending more",
                pat(re)
            ),
            Check::SilentBeforeGreeting => "sends nothing before the greeting".to_string(),
            Check::Delivered(n) => format!("{n} message(s) delivered (2yz after the data)"),
            Check::DataLines { include, exclude } => {
                format!("data lines include {include:?} and exclude {exclude:?}")
            }
            Check::DataCrlf => "data has CRLF line endings only".to_string(),
            Check::MaxConnections(n) => format!("at most {n} connection(s)"),
            Check::EndsWithQuit => "ends the session with QUIT".to_string(),
            Check::Exit(ExitExpect::Success) => "exits 0 (reports success)".to_string(),
            Check::Exit(ExitExpect::Failure) => "exits non-zero (reports the failure)".to_string(),
        }
    }
}

/// A pattern as the scenario wrote it, without the case-insensitive anchoring the loader adds.
pub fn pat(re: &Regex) -> &str {
    let s = re.as_str();
    s.strip_prefix("(?i)^(?:")
        .and_then(|s| s.strip_suffix(')'))
        .or_else(|| s.strip_prefix("(?i)"))
        .unwrap_or(s)
}
