//! The relay-case model: the message the harness submits to the target (envelope options and
//! content), the script the next hop plays (servetest's [`ServerScript`]), and the judgements
//! made on what arrived there. A relay case is data (`scenarios/relay/*.yaml`, read by
//! [`super::load`]); nothing here touches a socket.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::servetest::model::{ServerScript, cited, pat};
use mtpspec_scenario::Level;
use mtpspec_scenario::load::Located;

/// The domain the target routes to the harness's next hop; recipients are `rcpt-TOKEN@` it.
pub const RELAY_DOMAIN: &str = "relay.test";
/// The sender's domain, a subdomain of [`RELAY_DOMAIN`], so that notifications to the sender
/// also arrive at the next hop.
pub const RETURN_DOMAIN: &str = "return.relay.test";

/// One relay case.
#[derive(Clone, Debug)]
pub struct RelayCase {
    /// Unique across the relay cases, `[a-z0-9][a-z0-9._-]*`.
    pub id: String,
    /// One line: what the case checks.
    pub title: String,
    /// More about the case, for people.
    pub description: Option<String>,
    /// What the harness submits.
    pub message: Message,
    /// What a refusal of the submission means.
    pub refused: OnRefused,
    /// The next hop's script for the first connections ([`RelayCase::later_after`]).
    pub next_hop: Arc<ServerScript>,
    /// The script for the connections after them (retries, notifications).
    pub later: Arc<ServerScript>,
    /// Which connections get `next_hop`.
    pub later_after: LaterAfter,
    /// What is judged, each with its requirement.
    pub judge: Vec<Judgement>,
    /// The file the case is written in.
    pub file: PathBuf,
    /// The line its list item starts on.
    pub line: u64,
}

impl Located for RelayCase {
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

impl RelayCase {
    /// Every requirement ID the judgements cite, in order, without repeats.
    pub fn spec(&self) -> Vec<String> {
        cited(self.judge.iter().map(|j| j.spec.as_str()))
    }

    /// The highest level of its judgements (MUST above SHOULD above MAY).
    pub fn level(&self) -> Level {
        self.judge
            .iter()
            .map(|j| j.level)
            .min()
            .unwrap_or(Level::May)
    }

    /// Whether the case is about outbound smuggling (its verdict is the headline of reports).
    pub fn is_smuggling(&self) -> bool {
        self.smuggled_ending().is_some()
    }

    /// The end-of-data variant the content smuggles, shown as `<LF>.<CR><LF>`, if any.
    pub fn smuggled_ending(&self) -> Option<&str> {
        self.message.ending.as_deref()
    }
}

/// Which connections to the next hop get the case's `next_hop` script; the rest get `later`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LaterAfter {
    /// Every connection until one carrying the case's token has come (a refusal at RCPT
    /// or after the data, then a retry).
    #[default]
    Token,
    /// Only the first connection of the case (a greeting refused, or a connection closed at
    /// once: the target never names the message on it).
    FirstConnection,
}

/// What the harness submits.
#[derive(Clone, Debug)]
pub struct Message {
    /// The reverse-path, placeholders not filled in (`{{sender}}`); empty for `MAIL FROM:<>`.
    pub reverse_path: String,
    /// The recipients, placeholders not filled in (`{{rcpt}}`); each names the case's token.
    pub recipients: Vec<String>,
    /// `BODY=8BITMIME` on MAIL (the case is SKIP when the target does not offer 8BITMIME).
    pub body_8bitmime: bool,
    /// `SMTPUTF8` on MAIL (SKIP without the extension).
    pub smtputf8: bool,
    /// The data as sent after the 354, placeholders not filled in: every octet (a bare CR or
    /// LF, the transparency dots) goes on the wire as written, and the harness adds only the
    /// final CRLF "." CRLF. What the target should store is this less one leading dot per
    /// line (RFC 5321 §4.5.2).
    pub content: String,
    /// For smuggling cases: the end-of-data variant in the content, as the report names it.
    pub ending: Option<String>,
}

/// What a refusal of the submission (at DATA or the end of data) means for the case.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnRefused {
    /// The stage cannot be set: SKIP.
    #[default]
    Skip,
    /// Refusing the content is one of the behaviours the cited requirements allow: PASS.
    Pass,
}

/// One judgement: the check, the requirement it enforces and how much it weighs.
#[derive(Clone, Debug)]
pub struct Judgement {
    /// The SPEC.md requirement it enforces.
    pub spec: String,
    /// What a failure weighs: FAIL for `must`, WARN for `should`, UNSUPPORTED for `may`.
    pub level: Level,
    /// What must hold.
    pub check: Check,
    /// Where the judgement is written.
    pub line: u64,
}

/// What must hold of the sessions that arrived at the next hop for the case's token.
#[derive(Clone, Debug)]
pub enum Check {
    /// Every message content that arrived (copies and notifications) has no bare CR and no
    /// bare LF.
    CrlfOnly,
    /// No octet above 0x7F in any content or command that arrived.
    SevenBit,
    /// At most this many copies of the message were accepted by the next hop.
    MaxCopies(u32),
    /// Exactly this many copies.
    Copies(u32),
    /// No command on the case's connections matches.
    Never(Regex),
    /// Each command matching waits for the previous reply (servetest's check).
    WaitsForReply(Regex),
    /// The copy's content, after the next hop's dot removal and below the fields the target
    /// added at the top, is the submitted content, octet for octet.
    ContentUnchanged,
    /// The copy's first header field is a `Received:` field with a FROM clause that the
    /// submitted content did not have.
    ReceivedOnTop,
    /// The submitted `Received:` fields are the last `Received:` fields of the copy, same
    /// octets and order.
    ReceivedKept,
    /// A copy was accepted on a later connection than the first attempt.
    Retried,
    /// A notification (`MAIL FROM:<>` to the sender) arrived.
    Notification,
    /// No notification arrived.
    NoNotification,
    /// The notification is an RFC 3464 DSN naming the refused recipients, `Action: failed`,
    /// Status 5.
    Dsn,
    /// The notifications name every recipient the next hop refused for good and report no
    /// recipient it accepted as failed.
    NamesOnlyRefused,
    /// Every recipient the next hop accepted at RCPT got the message in that transaction.
    AcceptedDelivered,
    /// No line of any content that arrived is longer than 1000 octets with its CRLF (the
    /// transparency dot not counted).
    LineLimit,
    /// Every line that arrived starting with "." starts with ".." (dot-stuffed).
    DotStuffed,
    /// No content of the message reached the next hop (no DATA got 354 for its recipients).
    ContentNotSent,
    /// No octet above 0x7F in any command or in the top-level header section of any content.
    AsciiEnvelopeAndHeaders,
    /// The copies have the submitted reverse-path (`MAIL FROM:<>` for a null one).
    ReversePathKept,
    /// The copies have exactly the submitted recipients, no more, no fewer, none rewritten.
    RecipientsKept,
    /// The recipients went in one transaction: the content was sent once.
    OneTransaction,
    /// Some command on the case's connections matches (servetest's check).
    Sends(Regex),
    /// The command after the reply to the first one matching `after` matches `expect`
    /// (servetest's check).
    NextCommand {
        /// The command whose reply is awaited.
        after: Regex,
        /// What the next command must be.
        expect: Regex,
    },
    /// Each command sent under TLS matching waits for its own reply; SKIP when no such command
    /// came (the target did not use TLS).
    WaitsForReplyUnderTls(Regex),
    /// The first connection of the case ends with QUIT (after a refused greeting).
    FirstConnectionQuits,
    /// No command on the first connection of the case matches.
    FirstConnectionNever(Regex),
}

impl Check {
    /// Whether the check is about what a relay does with a message it received by SMTP
    /// (trace fields, notifications by mail): it binds an SMTP server, not a target that
    /// took the message by other means and built it itself (the gateway).
    pub fn binds_a_relay(&self) -> bool {
        matches!(
            self,
            Check::ReceivedOnTop
                | Check::ReceivedKept
                | Check::Notification
                | Check::NoNotification
                | Check::Dsn
                | Check::NamesOnlyRefused
        )
    }

    /// One line for reports.
    pub fn describe(&self) -> String {
        match self {
            Check::CrlfOnly => "every content that arrived has CRLF line endings only".into(),
            Check::SevenBit => "no octet above 0x7F arrives".into(),
            Check::MaxCopies(n) => format!("at most {n} copy(ies) of the message arrive"),
            Check::Copies(n) => format!("exactly {n} copy(ies) of the message arrive"),
            Check::Never(re) => format!("no command matching /{}/ arrives", pat(re)),
            Check::WaitsForReply(re) => format!(
                "each command matching /{}/ waits for the previous reply",
                pat(re)
            ),
            Check::ContentUnchanged => {
                "below the fields added at the top, the content arrives as submitted".into()
            }
            Check::ReceivedOnTop => "a `Received: from` field is added at the top".into(),
            Check::ReceivedKept => {
                "the submitted Received fields arrive unchanged, in order, below it".into()
            }
            Check::Retried => "the message arrives on a later connection (a retry)".into(),
            Check::Notification => "a notification with MAIL FROM:<> reaches the sender".into(),
            Check::NoNotification => "no notification is sent".into(),
            Check::Dsn => {
                "the notification is a DSN: multipart/report, the recipient, Action: failed, \
                 Status 5.x.x"
                    .into()
            }
            Check::NamesOnlyRefused => {
                "the notification names the refused recipients and reports no accepted one as \
                 failed"
                    .into()
            }
            Check::AcceptedDelivered => {
                "every recipient accepted at RCPT gets the message in that transaction".into()
            }
            Check::LineLimit => {
                "no line longer than 1000 octets (998 and CRLF) arrives at the next hop".into()
            }
            Check::DotStuffed => "every line that starts with \".\" arrives dot-stuffed".into(),
            Check::ContentNotSent => "the message's content is not sent to the next hop".into(),
            Check::AsciiEnvelopeAndHeaders => {
                "no UTF-8 address in the commands and no UTF-8 header field in the content".into()
            }
            Check::ReversePathKept => "the copy has the submitted reverse-path".into(),
            Check::RecipientsKept => {
                "the copies have the submitted recipients, none added, dropped or rewritten".into()
            }
            Check::OneTransaction => {
                "the recipients go in one transaction: the content is sent once".into()
            }
            Check::Sends(re) => format!("a command matching /{}/ is sent", pat(re)),
            Check::NextCommand { after, expect } => format!(
                "the command after the reply to /{}/ matches /{}/",
                pat(after),
                pat(expect)
            ),
            Check::WaitsForReplyUnderTls(re) => format!(
                "each command matching /{}/ under TLS waits for its own reply",
                pat(re)
            ),
            Check::FirstConnectionQuits => "the first connection ends with QUIT".into(),
            Check::FirstConnectionNever(re) => {
                format!("no command matching /{}/ on the first connection", pat(re))
            }
        }
    }
}
