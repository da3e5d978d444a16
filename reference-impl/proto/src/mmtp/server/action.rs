//! What the session asks of its driver ([`Action`]) and the values the driver answers with.

use serde_json::value::RawValue;

use super::SignatureCheck;
use crate::mmtp::hashcash::TokenKey;
use crate::mmtp::tags::Tags;

/// A message the driver must store durably before the session answers OK.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// The recipient's mailbox key ([`crate::mmtp::Address::mailbox_key`]).
    pub mailbox: String,
    /// The packet's `sender`, `(name)%(domain)` as the client wrote it.
    pub sender: String,
    /// The packet's `recipient`, `(name)%(domain)` as the client wrote it.
    pub recipient: String,
    /// The client's `meta.messageId`, kept as sent.
    pub message_id: String,
    /// The packet as stored: compact JSON, received key order, server-set fields.
    pub packet: String,
    /// The packet's tags after [`Tags::process`], for RECEIVE_FILTERED and CHECK.
    pub tags: Tags,
    /// The packet's `meta.encrypted`.
    pub encrypted: bool,
    /// The packet's `meta.signed`.
    pub signed: bool,
    /// The server's own signature check; `None` when unsigned, when no key is registered for
    /// the signer, or with PGP off.
    pub signature_verified: Option<bool>,
    /// The packet's `meta.timestamp`, Unix milliseconds.
    pub timestamp_ms: u64,
}

/// One stored message, as the driver lists a mailbox.
#[derive(Clone, Debug)]
pub struct MailboxEntry {
    /// The store's id, handed back in [`Action::Drain`].
    pub id: String,
    /// The tags stored with the message, matched against `tagFilters`.
    pub tags: Tags,
    /// The stored packet; present when the listing asked for packets.
    pub packet: Option<Box<RawValue>>,
}

/// Why a key registration failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// Not an OpenPGP public key (the reason is shown to the client).
    Invalid(String),
    /// Another key is registered for the address; MMTP has no authentication that could allow
    /// replacing it.
    Conflict,
    /// The registry failed.
    Failed(String),
}

/// Work the driver must do for the session. Exhaustive on purpose: a new action must fail
/// to compile in every driver until the driver performs it.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Record the token in the replay cache unless present, then call
    /// [`super::ServerSession::token_claimed`]: `Ok(true)` when it was new.
    ClaimToken {
        /// The token's identity: SHA-256 of its text.
        key: TokenKey,
        /// The stamp's timestamp (Unix milliseconds), so the cache can forget the token once
        /// it is too old to pass the freshness check anyway.
        timestamp_ms: u64,
    },
    /// Verify with the signer's registered key, then call [`super::ServerSession::signature_checked`].
    VerifySignature(SignatureCheck),
    /// Store durably, then call [`super::ServerSession::delivered`].
    Deliver(Box<Delivery>),
    /// List a mailbox in delivery order, then call [`super::ServerSession::mailbox`].
    ListMailbox {
        /// The mailbox key, as in [`Delivery::mailbox`].
        mailbox: String,
        /// Include each stored packet; false for CHECK, which needs only the tags.
        with_packets: bool,
    },
    /// Write pending output first, then remove these messages durably and call
    /// [`super::ServerSession::drained`].
    Drain(Vec<String>),
    /// Parse and register the key, then call [`super::ServerSession::key_registered`].
    RegisterKey {
        /// The mailbox key of the address, as in [`Delivery::mailbox`].
        mailbox: String,
        /// The address as the client wrote it, `(name)%(domain)`.
        email: String,
        /// The ASCII-armored OpenPGP public key.
        armored: String,
    },
    /// Look the key up, then call [`super::ServerSession::key_found`].
    LookupKey {
        /// The mailbox key of the address asked for.
        mailbox: String,
    },
    /// Write pending output, then close the connection.
    Close,
}

/// Facts about the connection the driver knows.
#[derive(Clone, Debug, Default)]
pub struct ConnectionInfo {
    /// Implicit TLS.
    pub tls: bool,
}
