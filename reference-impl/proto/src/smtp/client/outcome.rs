//! The result of a client session: per message and per recipient, the features used and
//! dropped (VMTP fallback), and the wire transcript for display.

use std::fmt;

use crate::smtp::address::Mailbox;
use crate::smtp::extension::Extensions;
use crate::smtp::reply::Reply;

/// Why a message (or the session) failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// 4yz replies, lost connections and timeouts: try again later. 5yz: do not.
    pub transient: bool,
    /// What went wrong, in words, for logs and the CLI.
    pub reason: String,
    /// The server's reply, when one caused the failure.
    pub reply: Option<Reply>,
    /// The connection was lost after the end of the data and before its reply: the server
    /// may have accepted the message.
    pub outcome_unknown: bool,
}

impl Failure {
    /// A failure with no reply behind it (a lost connection, a timeout, a TLS policy).
    pub fn new(transient: bool, reason: impl Into<String>) -> Self {
        Self {
            transient,
            reason: reason.into(),
            reply: None,
            outcome_unknown: false,
        }
    }

    /// A failure caused by `reply`: transient for 4yz, permanent otherwise.
    pub fn from_reply(reason: impl Into<String>, reply: &Reply) -> Self {
        Self {
            transient: reply.code.is_transient(),
            reason: reason.into(),
            reply: Some(reply.clone()),
            outcome_unknown: false,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.transient {
            "transient"
        } else {
            "permanent"
        };
        write!(f, "{} ({kind})", self.reason)?;
        if let Some(reply) = &self.reply {
            write!(f, ": {} {}", reply.code, reply.text())?;
        }
        Ok(())
    }
}

/// What happened to one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RcptStatus {
    /// RCPT (or VECMAIL) was never answered for it.
    NotTried,
    /// The server answered RCPT (or VECMAIL) with 2yz.
    Accepted(Reply),
    /// The server refused the recipient; a 4yz refusal may be retried, a 5yz not.
    Refused(Reply),
}

/// What happened to one recipient of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientResult {
    /// The recipient, as given in [`Message::recipients`](super::Message::recipients).
    pub mailbox: Mailbox,
    /// Whether the server took it.
    pub status: RcptStatus,
}

/// A message the server took: the final 250 and the id it named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// From `queued as ID` (or `id=ID`) in the final reply, when present.
    pub id: Option<String>,
    /// The server's final reply to the end of the data (or the last BDAT).
    pub reply: Reply,
}

/// The result of sending one [`Message`](super::Message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageOutcome {
    /// Delivered, or why not.
    pub result: Result<Delivered, Failure>,
    /// Every recipient of the message, in the order given.
    pub recipients: Vec<RecipientResult>,
    /// METADATA keys that did not reach the server.
    pub dropped_metadata: Vec<String>,
    /// The server accepted READACK for this message.
    pub read_ack: bool,
    /// Features used in this message's transaction (METADATA, VECMAIL, BATCH, READACK,
    /// PIPELINING, SIZE, 8BITMIME, SMTPUTF8), in the order first used; the session's
    /// [`Outcome::used`] also holds those used outside any transaction (STARTTLS).
    pub used: Vec<Feature>,
}

impl MessageOutcome {
    /// The recipients worth another attempt: all not yet accepted by a delivered message,
    /// unless their refusal (or the message's failure) was permanent.
    pub fn retry_recipients(&self) -> Vec<Mailbox> {
        let retry = |r: &&RecipientResult| match (&self.result, &r.status) {
            (_, RcptStatus::Refused(reply)) => reply.code.is_transient(),
            (Ok(_), _) => false,
            (Err(failure), _) => failure.transient,
        };
        self.recipients
            .iter()
            .filter(retry)
            .map(|r| r.mailbox.clone())
            .collect()
    }

    /// The server took the message (for the recipients it accepted).
    pub fn is_delivered(&self) -> bool {
        self.result.is_ok()
    }
}

/// A feature the client used or wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// PIPELINING (RFC 2920): commands sent in groups without waiting for each reply.
    Pipelining,
    /// SIZE (RFC 1870): the `SIZE=` parameter on MAIL.
    Size,
    /// 8BITMIME (RFC 6152): `BODY=8BITMIME` for a message with octets above 127.
    EightBitMime,
    /// SMTPUTF8 (RFC 6531): for addresses that are not ASCII.
    SmtpUtf8,
    /// STARTTLS (RFC 3207).
    StartTls,
    /// VMTP `ENCRYPT START` (seed 000): TLS started in band instead of STARTTLS.
    VmtpEncrypt,
    /// VMTP `VECMAIL` (seed 000): all recipients in one command instead of MAIL plus RCPTs.
    VmtpVecmail,
    /// VMTP `METADATA` (seed 000): key/value pairs attached to the message.
    VmtpMetadata,
    /// VMTP `READACK` (seed 000): a read receipt asked for.
    VmtpReadAck,
    /// VMTP `BATCH` (seed 000): several messages over one envelope.
    VmtpBatch,
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pipelining => "PIPELINING",
            Self::Size => "SIZE",
            Self::EightBitMime => "8BITMIME",
            Self::SmtpUtf8 => "SMTPUTF8",
            Self::StartTls => "STARTTLS",
            Self::VmtpEncrypt => "VMTP ENCRYPT",
            Self::VmtpVecmail => "VMTP VECMAIL",
            Self::VmtpMetadata => "VMTP METADATA",
            Self::VmtpReadAck => "VMTP READACK",
            Self::VmtpBatch => "VMTP BATCH",
        })
    }
}

/// Why a wanted feature was not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The client was told not to use VMTP.
    Disabled,
    /// The server does not advertise it.
    NotOffered,
    /// The server refused the command; the client went on without it.
    Refused(Reply),
}

/// A feature the client wanted and went without, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DroppedFeature {
    /// The feature not used.
    pub feature: Feature,
    /// Why it was not used.
    pub reason: DropReason,
}

impl fmt::Display for DroppedFeature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            DropReason::Disabled => write!(f, "{} not used: VMTP is disabled", self.feature),
            DropReason::NotOffered => {
                write!(f, "the server does not support {}", self.feature)
            }
            DropReason::Refused(r) => write!(
                f,
                "the server refused {} ({} {})",
                self.feature,
                r.code,
                r.text()
            ),
        }
    }
}

/// One line of the wire exchange, for display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TranscriptEntry {
    /// A command line, without CRLF.
    Sent(String),
    /// Message data after a 354: its size on the wire.
    SentData(usize),
    /// A reply from the server, all its lines.
    Received(Reply),
    /// The TLS handshake completed.
    TlsStarted,
    /// A remark of the client's own, such as plaintext discarded before TLS.
    Note(String),
}

impl fmt::Display for TranscriptEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sent(line) => write!(f, "C: {line}"),
            Self::SentData(n) => write!(f, "C: <message data, {n} octets, ending with .>"),
            Self::Received(reply) => {
                let text = reply.to_string();
                let lines: Vec<String> = text.lines().map(|l| format!("S: {l}")).collect();
                f.write_str(&lines.join("\n"))
            }
            Self::TlsStarted => f.write_str("-- TLS handshake complete --"),
            Self::Note(note) => write!(f, "-- {note} --"),
        }
    }
}

/// Everything a finished session reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// One entry per message given, in order.
    pub messages: Vec<MessageOutcome>,
    /// The reply to the single command of [`super::ClientSession::command`].
    pub command_reply: Option<Reply>,
    /// What the last EHLO advertised (empty after HELO).
    pub extensions: Extensions,
    /// The session was encrypted when mail was sent.
    pub tls: bool,
    /// Features used at least once, in the order first used.
    pub used: Vec<Feature>,
    /// Features wanted but not used, each with its reason; the session went on without them.
    pub dropped: Vec<DroppedFeature>,
    /// A failure of the whole session (greeting, TLS policy, connection), if any.
    pub error: Option<Failure>,
    /// Every line sent and received, in order.
    pub transcript: Vec<TranscriptEntry>,
}

impl Outcome {
    /// No session failure, and every message delivered.
    pub fn all_delivered(&self) -> bool {
        self.error.is_none() && self.messages.iter().all(MessageOutcome::is_delivered)
    }

    /// The transcript as text (`C:` and `S:` lines, `-- notes --`), as the CLI prints it.
    pub fn transcript_text(&self) -> String {
        let lines: Vec<String> = self.transcript.iter().map(|e| e.to_string()).collect();
        lines.join("\n")
    }
}

/// The message id a final reply names: `queued as ID` (Postfix, the reference) or `id=ID`
/// (Exim); `None` when neither is present.
pub fn message_id(reply: &Reply) -> Option<String> {
    let text = reply.text();
    let lower = text.to_ascii_lowercase();
    let word = if let Some(at) = lower.find("queued as ") {
        text[at + 10..].split_whitespace().next()
    } else {
        text.split_whitespace().find_map(|w| {
            w.get(..3)
                .filter(|p| p.eq_ignore_ascii_case("id="))
                .map(|_| &w[3..])
        })
    }?;
    let id = word.trim_matches(|c: char| "<>[](),;.".contains(c));
    (!id.is_empty()).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::reply::ReplyCode;

    fn ok(text: &str) -> Reply {
        Reply::new(ReplyCode::OK, None, text)
    }

    #[test]
    fn finds_message_ids() {
        assert_eq!(message_id(&ok("Ok: queued as ID1")).as_deref(), Some("ID1"));
        assert_eq!(
            message_id(&ok("OK id=1abc-0002-XY")).as_deref(),
            Some("1abc-0002-XY")
        );
        assert_eq!(
            message_id(&ok("Queued as <A1B2>.")).as_deref(),
            Some("A1B2")
        );
        assert_eq!(message_id(&ok("OK")), None);
    }
}
