//! The relay-case model: the message the harness submits to the target (envelope options and
//! content), the script the next hop plays (servetest's [`ServerScript`]), and the judgements
//! made on what arrived there. A relay case is data (`scenarios/relay/*.yaml`, read by
//! [`super::load`]); nothing here touches a socket.

use std::path::PathBuf;
use std::sync::Arc;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::servetest::model::{ServerScript, pat};
use mtpspec_scenario::Level;

/// The domain the target routes to the harness's next hop; recipients are `rcpt-TOKEN@` it.
pub const RELAY_DOMAIN: &str = "relay.test";
/// The sender's domain, a subdomain of [`RELAY_DOMAIN`], so that notifications to the sender
/// also arrive at the next hop.
pub const RETURN_DOMAIN: &str = "return.relay.test";

/// One relay case.
#[derive(Clone, Debug)]
pub struct RelayCase {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub message: Message,
    /// What a refusal of the submission means.
    pub refused: OnRefused,
    /// The next hop's script for every connection until one carrying the case's token arrived.
    pub next_hop: Arc<ServerScript>,
    /// The script for the connections after that one (retries, notifications).
    pub later: Arc<ServerScript>,
    pub judge: Vec<Judgement>,
    pub file: PathBuf,
    pub line: u64,
}

impl RelayCase {
    /// Every requirement ID the judgements cite, in order, without repeats.
    pub fn spec(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for j in &self.judge {
            if !ids.contains(&j.spec) {
                ids.push(j.spec.clone());
            }
        }
        ids
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

/// What the harness submits.
#[derive(Clone, Debug)]
pub struct Message {
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
    pub spec: String,
    pub level: Level,
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
    /// The notification is an RFC 3464 DSN naming the recipient, `Action: failed`, Status 5.
    Dsn,
}

impl Check {
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
        }
    }
}
