//! The checks of a SEND, in order: packet shape, addresses, integrity, HashCash. What needs
//! the driver (the replay cache, the sender's key, the store) follows as actions.

use crate::mmtp::address::Address;
use crate::mmtp::digest::message_hash;
use crate::mmtp::hashcash::{self, HashcashError, TokenKey};
use crate::mmtp::json::Json;
use crate::mmtp::packet::Packet;
use crate::mmtp::response::{ErrorCode, Refusal};
use crate::mmtp::tags::Tags;

use super::SessionConfig;

/// A signature the driver is asked to verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureCheck {
    /// The sender's mailbox key: whose registered key to use.
    pub signer: String,
    /// The signed bytes: the compact JSON of the plaintext content.
    pub data: String,
    /// The armored detached signature.
    pub signature: String,
}

/// A SEND that passed the checks the session can make alone.
#[derive(Debug)]
pub(super) struct SendJob {
    pub packet: Json,
    pub message_id: String,
    pub sender: String,
    pub recipient: String,
    pub mailbox: String,
    pub encrypted: bool,
    pub signed: bool,
    pub tags: Tags,
    pub token: TokenKey,
    pub timestamp_ms: u64,
    pub signature: Option<SignatureCheck>,
    /// Set by the server only (DESIGN: "a client-sent value is never trusted").
    pub signature_verified: Option<bool>,
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub(super) fn check(packet: Json, config: &SessionConfig, now_ms: u64) -> Result<SendJob, Refusal> {
    let typed = Packet::from_json(&packet)
        .map_err(|e| Refusal::new(ErrorCode::BadPacket, format!("Invalid packet: {e}")))?;
    // Seed §3.3: "The format MUST follow this regular expression" (DESIGN: SEND checks both).
    let address = |text: &str, role: &str| {
        Address::parse(text).map_err(|e| {
            Refusal::new(
                ErrorCode::InvalidAddress,
                format!("Invalid email format: {role} {e}"),
            )
        })
    };
    let sender = address(&typed.sender, "sender")?;
    let recipient = address(&typed.recipient, "recipient")?;
    if typed.meta.message_id.is_empty() {
        return Err(Refusal::new(
            ErrorCode::BadPacket,
            "Invalid packet: empty meta.messageId",
        ));
    }
    check_integrity(&typed)?;
    // Seed §3.4: "The HashCash token MUST be included in each message"; §7.3: "Resource
    // validation on server before accepting messages".
    let token = hashcash::verify(
        &typed.meta.hashcash_token,
        &typed.sender,
        &typed.recipient,
        typed.meta.timestamp,
        &config.policy(),
        now_ms,
    )
    .map_err(hashcash_refusal)?;
    let signature = match (
        &typed.verification.signature,
        typed.meta.signed,
        typed.meta.encrypted,
    ) {
        // Seed §4.4: "A detached signature is created for the `content` object". Over an
        // encrypted message it covers the plaintext, which the server never sees.
        (Some(signature), true, false) => Some(SignatureCheck {
            signer: sender.mailbox_key(),
            data: typed.content.to_compact_string(),
            signature: signature.clone(),
        }),
        _ => None,
    };
    Ok(SendJob {
        tags: Tags::process(typed.meta.tags.as_ref()),
        message_id: typed.meta.message_id,
        mailbox: recipient.mailbox_key(),
        sender: typed.sender,
        recipient: typed.recipient,
        encrypted: typed.meta.encrypted,
        signed: typed.meta.signed,
        timestamp_ms: typed.meta.timestamp,
        token,
        signature,
        signature_verified: None,
        packet,
    })
}

/// Seed §4.3: "Each message includes a `messageHash` field containing an SHA-256 hash of the
/// `content` object. This allows recipients to verify message integrity." For an encrypted
/// message the hash is of the plaintext (as the original client computes it), so the server
/// checks only its form.
fn check_integrity(packet: &Packet) -> Result<(), Refusal> {
    let failed = || Refusal::new(ErrorCode::IntegrityFailed, "Message integrity check failed");
    let claimed = packet
        .verification
        .message_hash
        .as_deref()
        .ok_or_else(failed)?;
    if packet.meta.encrypted {
        if packet.encrypted_text().is_none() {
            return Err(Refusal::new(
                ErrorCode::BadPacket,
                "Invalid packet: encrypted content must be {\"encrypted\": String}",
            ));
        }
        return if is_sha256_hex(claimed) {
            Ok(())
        } else {
            Err(failed())
        };
    }
    if packet.content.as_object().is_none() {
        return Err(Refusal::new(
            ErrorCode::BadPacket,
            "Invalid packet: content must be an object",
        ));
    }
    if message_hash(&packet.content) == claimed {
        Ok(())
    } else {
        Err(failed())
    }
}

fn hashcash_refusal(error: HashcashError) -> Refusal {
    let code = match error {
        HashcashError::Malformed(_) => ErrorCode::HashcashMalformed,
        HashcashError::Insufficient { .. } => ErrorCode::HashcashTooEasy,
        HashcashError::ResourceMismatch(_) => ErrorCode::HashcashResourceMismatch,
        HashcashError::CounterMismatch { .. } => ErrorCode::HashcashCounterMismatch,
        HashcashError::NotEnoughWork { .. } => ErrorCode::HashcashInvalid,
        HashcashError::Stale { .. } => ErrorCode::HashcashStale,
    };
    hashcash_failure(code, &error.to_string())
}

/// The original's text, with the reason after it.
pub(super) fn hashcash_failure(code: ErrorCode, reason: &str) -> Refusal {
    Refusal::new(
        code,
        format!("HashCash verification failed - potential spam: {reason}"),
    )
}

impl SendJob {
    /// The packet as stored and handed to the recipient: tags processed, `signatureVerified`
    /// the server's own finding or absent.
    pub(crate) fn finished_packet(&mut self) -> String {
        // A claim of verification the client put beside its signature is not the server's
        // finding either (MMTP-SIGNATURE-3): it goes.
        if let Some(verification) = self
            .packet
            .as_object_mut()
            .and_then(|p| p.get_mut("verification"))
            .and_then(Json::as_object_mut)
        {
            verification.remove("signatureVerified");
        }
        // `meta` is an object: the typed view was read from this value.
        let meta = self
            .packet
            .as_object_mut()
            .and_then(|p| p.get_mut("meta"))
            .and_then(Json::as_object_mut);
        if let Some(meta) = meta {
            if meta.get("tags").is_some() {
                meta.insert("tags", self.tags.to_json());
            }
            match self.signature_verified {
                Some(verified) => meta.insert("signatureVerified", Json::Bool(verified)),
                None => {
                    meta.remove("signatureVerified");
                }
            }
        }
        self.packet.to_compact_string()
    }
}
