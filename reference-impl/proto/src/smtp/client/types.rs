//! What the client is given (messages and options) and what it hands back to its driver
//! (events and the kind of timeout that applies while it waits).

use crate::smtp::address::Mailbox;

use super::outcome::Outcome;

/// One message to send: the envelope and the RFC 5322 text, plus the VMTP extras.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The reverse-path; `None` is the null path `<>` of bounces (RFC 5321 §4.5.5).
    pub reverse_path: Option<Mailbox>,
    /// The forward-paths, one RCPT each (or one VECMAIL for all).
    pub recipients: Vec<Mailbox>,
    /// The whole message (headers and body) with CRLF line ends, not dot-stuffed.
    pub data: Vec<u8>,
    /// VMTP METADATA pairs; reported as dropped when the server does not take them.
    pub metadata: Vec<(String, String)>,
    /// Ask for a VMTP read receipt (READACK).
    pub read_ack: bool,
}

impl Message {
    /// The size RFC 1870 declares: the octets of the message with a final CRLF, before
    /// dot-stuffing.
    pub fn size(&self) -> u64 {
        let crlf = if self.data.ends_with(b"\r\n") { 0 } else { 2 };
        (self.data.len() + crlf) as u64
    }

    /// RFC 6152: octets above 127 need `BODY=8BITMIME`.
    pub fn has_8bit(&self) -> bool {
        self.data.iter().any(|&b| b >= 0x80)
    }

    /// RFC 6531: non-ASCII addresses need the SMTPUTF8 parameter.
    pub fn needs_smtputf8(&self) -> bool {
        self.reverse_path.as_ref().is_some_and(Mailbox::needs_utf8)
            || self.recipients.iter().any(Mailbox::needs_utf8)
    }

    /// Whether `other` can share this message's envelope in a VMTP BATCH.
    pub(super) fn same_envelope(&self, other: &Message) -> bool {
        self.reverse_path == other.reverse_path
            && self.recipients == other.recipients
            && self.read_ack == other.read_ack
    }
}

/// How the client behaves; the driver owns sockets, TLS and timers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOptions {
    /// The domain (or address literal) sent with EHLO/HELO.
    pub helo_name: String,
    /// Use VMTP verbs when the server advertises them.
    pub use_vmtp: bool,
    /// Pipeline commands (RFC 2920) when the server advertises PIPELINING.
    pub pipelining: bool,
    /// Upgrade with STARTTLS when offered (RFC 3207).
    pub starttls: bool,
    /// Use VMTP `ENCRYPT START` when offered and STARTTLS is not.
    pub prefer_encrypt: bool,
    /// Send no mail unless the session is encrypted.
    pub require_tls: bool,
    /// Send several messages with the same envelope in one VMTP BATCH when offered.
    pub batch: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            helo_name: "localhost".into(),
            use_vmtp: true,
            pipelining: true,
            starttls: false,
            prefer_encrypt: false,
            require_tls: false,
            batch: true,
        }
    }
}

/// Work for the driver, from [`super::ClientSession::poll_event`].
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Write these bytes to the server, in order.
    Transmit(Vec<u8>),
    /// Run the TLS client handshake now, then call [`super::ClientSession::tls_established`]
    /// (or `handle_closed` when it fails).
    StartTls,
    /// The session is over: close the connection.
    Done(Box<Outcome>),
}

/// What the client is waiting for, so the driver can pick the RFC 5321 §4.5.3.2 timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wait {
    /// The 220 greeting (5 minutes).
    Greeting,
    /// The reply to MAIL or VECMAIL (5 minutes).
    Mail,
    /// The reply to RCPT (5 minutes).
    Rcpt,
    /// The 354 after DATA (2 minutes).
    DataInit,
    /// The reply after the end of data (10 minutes).
    DataTermination,
    /// Any other reply (5 minutes, as MAIL).
    Command,
}
