//! Server responses: the welcome, the OK replies of each action and `ERROR` with a code.
//!
//! Seed §6.8: "All operations may return error responses: `{status: "ERROR", message:
//! String}`". DESIGN adds a machine-readable `code`. The message texts are the original
//! server's where it had one, so a client matching on them keeps working.

use std::fmt;

use serde::Serialize;
use serde_json::value::RawValue;

use super::json::Json;
use super::tags::TagCounts;

/// The machine-readable `code` of an `ERROR` response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The bytes are not JSON (or not UTF-8, or too deeply nested for the parser).
    BadJson,
    /// JSON, but not `{"action": String, "data": Object}` with the fields the action needs.
    BadRequest,
    /// The `action` is not one of the seed §6 actions (matched case-sensitively).
    UnknownAction,
    /// An address is not `(name)%(domain)` (seed §3.3).
    InvalidAddress,
    /// A packet field is missing or of the wrong type.
    BadPacket,
    /// The messageHash does not match the content (seed §4.3).
    IntegrityFailed,
    /// The `hashcashToken` is not a token of the expected form (seed §3.4, DESIGN).
    HashcashMalformed,
    /// The token claims fewer zeros than the server's difficulty.
    HashcashTooEasy,
    /// The token's resource names another sender, recipient or timestamp.
    HashcashResourceMismatch,
    /// The counter inside the token differs from the `counter` field beside it.
    HashcashCounterMismatch,
    /// The hash does not have the zeros the token claims.
    HashcashInvalid,
    /// The token's timestamp is outside the server's freshness window.
    HashcashStale,
    /// The token was already accepted once (DESIGN: a token is never accepted twice).
    HashcashReplayed,
    /// `tagFilters` is not an object of category name to array of strings (seed §8.3).
    BadTagFilter,
    /// REGISTER_KEY or REQUEST_PUBLIC_KEY on a server with PGP off (welcome `features.pgp: false`).
    PgpDisabled,
    /// REGISTER_KEY with a public key the driver could not read as an OpenPGP key.
    InvalidKey,
    /// Another key is already registered for the address.
    KeyConflict,
    /// REQUEST_PUBLIC_KEY for an address with no registered key.
    KeyNotFound,
    /// A JSON value over the size limit; the connection is closed.
    TooLarge,
    /// Nesting beyond the framing limit; the connection is closed.
    TooDeep,
    /// Too many connections from this address; the connection is closed.
    RateLimited,
    /// Too many malformed requests; the connection is closed.
    TooManyErrors,
    /// No request for the idle timeout; the connection is closed.
    Timeout,
    /// The server is shutting down; the connection is closed.
    ShuttingDown,
    /// The server failed (the store did not take the message).
    Internal,
}

impl ErrorCode {
    /// The wire form, e.g. `"HASHCASH_STALE"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadJson => "BAD_JSON",
            Self::BadRequest => "BAD_REQUEST",
            Self::UnknownAction => "UNKNOWN_ACTION",
            Self::InvalidAddress => "INVALID_ADDRESS",
            Self::BadPacket => "BAD_PACKET",
            Self::IntegrityFailed => "INTEGRITY_FAILED",
            Self::HashcashMalformed => "HASHCASH_MALFORMED",
            Self::HashcashTooEasy => "HASHCASH_TOO_EASY",
            Self::HashcashResourceMismatch => "HASHCASH_RESOURCE_MISMATCH",
            Self::HashcashCounterMismatch => "HASHCASH_COUNTER_MISMATCH",
            Self::HashcashInvalid => "HASHCASH_INVALID",
            Self::HashcashStale => "HASHCASH_STALE",
            Self::HashcashReplayed => "HASHCASH_REPLAYED",
            Self::BadTagFilter => "BAD_TAG_FILTER",
            Self::PgpDisabled => "PGP_DISABLED",
            Self::InvalidKey => "INVALID_KEY",
            Self::KeyConflict => "KEY_CONFLICT",
            Self::KeyNotFound => "KEY_NOT_FOUND",
            Self::TooLarge => "TOO_LARGE",
            Self::TooDeep => "TOO_DEEP",
            Self::RateLimited => "RATE_LIMITED",
            Self::TooManyErrors => "TOO_MANY_ERRORS",
            Self::Timeout => "TIMEOUT",
            Self::ShuttingDown => "SHUTTING_DOWN",
            Self::Internal => "INTERNAL",
        }
    }

    /// Every code, for documentation and scenario checks.
    pub const ALL: [ErrorCode; 25] = [
        Self::BadJson,
        Self::BadRequest,
        Self::UnknownAction,
        Self::InvalidAddress,
        Self::BadPacket,
        Self::IntegrityFailed,
        Self::HashcashMalformed,
        Self::HashcashTooEasy,
        Self::HashcashResourceMismatch,
        Self::HashcashCounterMismatch,
        Self::HashcashInvalid,
        Self::HashcashStale,
        Self::HashcashReplayed,
        Self::BadTagFilter,
        Self::PgpDisabled,
        Self::InvalidKey,
        Self::KeyConflict,
        Self::KeyNotFound,
        Self::TooLarge,
        Self::TooDeep,
        Self::RateLimited,
        Self::TooManyErrors,
        Self::Timeout,
        Self::ShuttingDown,
        Self::Internal,
    ];

    /// Parses a wire code.
    pub fn parse(code: &str) -> Option<ErrorCode> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// An `ERROR` response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The machine-readable reason, sent as `code`.
    pub code: ErrorCode,
    /// The human-readable text, sent as `message`.
    pub message: String,
}

impl Refusal {
    /// A refusal with `code` and the text sent as `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The original's text for a malformed request.
    pub fn bad_json() -> Self {
        Self::new(
            ErrorCode::BadJson,
            "Invalid request format. Must be valid JSON.",
        )
    }

    /// The original's text for an address that is not `(name)%(domain)` (seed §3.3).
    pub fn invalid_address() -> Self {
        Self::new(ErrorCode::InvalidAddress, "Invalid email format")
    }

    /// The refusal of a key action on a server without PGP.
    pub fn pgp_disabled() -> Self {
        Self::new(
            ErrorCode::PgpDisabled,
            "PGP support is not enabled on this server",
        )
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// One response value, ready to be written.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Response<'a> {
    /// The welcome the server sends on connect (seed §5.2).
    Welcome {
        /// Always [`OK`].
        status: &'static str,
        /// `MMTP Server Ready`, with optional info after it.
        message: String,
        /// What the server supports.
        features: Features,
        /// The HashCash difficulty, in leading hex `0` digits (DESIGN's addition to the seed).
        difficulty: u32,
    },
    /// `{"status":"ERROR","message":..,"code":..}` (seed §6.8 plus DESIGN's `code`).
    Error {
        /// Always [`ERROR`].
        status: &'static str,
        /// The human-readable text.
        message: &'a str,
        /// The machine-readable reason.
        code: ErrorCode,
    },
    /// The answer to SEND (seed §6.1).
    Sent {
        /// Always [`OK`].
        status: &'static str,
        /// `Message delivered successfully`.
        message: &'static str,
        /// The packet's `meta.messageId`, echoed as the client sent it.
        #[serde(rename = "messageId")]
        message_id: &'a str,
        /// The packet's `meta.encrypted`.
        encrypted: bool,
        /// The packet's `meta.signed`.
        signed: bool,
        /// The server's own signature check: absent when it had no key to check with.
        #[serde(rename = "signatureVerified", skip_serializing_if = "Option::is_none")]
        signature_verified: Option<bool>,
    },
    /// The answer to RECEIVE and RECEIVE_FILTERED (seed §6.2, §6.6).
    Messages {
        /// Always [`OK`].
        status: &'static str,
        /// The packets handed out, as stored.
        messages: Vec<&'a RawValue>,
        /// The number of packets in `messages`.
        count: usize,
        /// RECEIVE_FILTERED only: the request's `tagFilters`, echoed.
        #[serde(rename = "tagFilters", skip_serializing_if = "Option::is_none")]
        tag_filters: Option<&'a Json>,
    },
    /// The answer to CHECK (seed §6.3).
    Counts {
        /// Always [`OK`].
        status: &'static str,
        /// Messages in the mailbox that match the request's `tagFilters`.
        count: usize,
        /// All messages in the mailbox.
        #[serde(rename = "totalCount")]
        total_count: usize,
        /// For each tag category and value, the number of messages in the mailbox that carry it.
        #[serde(rename = "tagCounts")]
        tag_counts: TagCounts,
    },
    /// A bare success with a text: the answer to REGISTER_KEY (seed §6.4).
    Message {
        /// Always [`OK`].
        status: &'static str,
        /// What was done, e.g. `Public key registered successfully`.
        message: &'static str,
    },
    /// The answer to REQUEST_PUBLIC_KEY (seed §6.5).
    PublicKey {
        /// Always [`OK`].
        status: &'static str,
        /// The address asked for, `(name)%(domain)`.
        email: &'a str,
        /// The ASCII-armored OpenPGP public key, as registered.
        #[serde(rename = "publicKey")]
        public_key: &'a str,
    },
    /// The answer to GET_TAG_CATEGORIES (seed §6.7).
    TagCategories {
        /// Always [`OK`].
        status: &'static str,
        /// Each category with its predefined values (seed §8.2; `custom` with none).
        #[serde(rename = "tagCategories")]
        tag_categories: Json,
    },
}

/// `features` of the welcome (seed §5.2).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Features {
    /// The server has a TLS listener (as in the original: not whether this connection is TLS).
    pub tls: bool,
    /// PGP actions (REGISTER_KEY, REQUEST_PUBLIC_KEY, signature checks) are enabled.
    pub pgp: bool,
}

/// The `status` of every successful response.
pub const OK: &str = "OK";
/// The `status` of an error response.
pub const ERROR: &str = "ERROR";

impl Response<'_> {
    /// Compact JSON followed by `\n` (DESIGN).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        // Serializing these types cannot fail: all keys are strings and RawValues are valid.
        serde_json::to_writer(&mut *out, self).expect("response serializes");
        out.push(b'\n');
    }

    /// The `ERROR` response for `refusal`.
    pub fn error(refusal: &Refusal) -> Response<'_> {
        Response::Error {
            status: ERROR,
            message: &refusal.message,
            code: refusal.code,
        }
    }
}

/// The bytes of an `ERROR` response, for a driver that refuses a connection before any
/// session exists (the per-address connection limit).
pub fn refusal_bytes(refusal: &Refusal) -> Vec<u8> {
    let mut out = Vec::new();
    Response::error(refusal).encode_into(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn error_shape() {
        let bytes = refusal_bytes(&Refusal::invalid_address());
        assert_eq!(
            bytes,
            b"{\"status\":\"ERROR\",\"message\":\"Invalid email format\",\"code\":\"INVALID_ADDRESS\"}\n"
        );
    }
}
