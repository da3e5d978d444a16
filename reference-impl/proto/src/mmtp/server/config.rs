//! What a server session is configured with.

use crate::mmtp::framing::FrameLimits;
use crate::mmtp::hashcash::{Freshness, Policy};

/// The original server's default difficulty.
pub const DEFAULT_DIFFICULTY: u32 = 5;

/// How every MMTP server session is set up; shared by all connections of a listener.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// HashCash difficulty in hex zeros, announced in the welcome (DESIGN).
    pub difficulty: u32,
    /// The window around the server's clock a stamp's timestamp must fall in.
    pub freshness: Freshness,
    /// The server has a TLS listener (`features.tls` of the welcome, as in the original).
    pub tls_available: bool,
    /// Key registry and signature verification (`features.pgp`).
    pub pgp: bool,
    /// Limits on one JSON value read from the stream (size, nesting).
    pub frame: FrameLimits,
    /// Malformed requests (bad JSON, bad shape, unknown action) before the server closes.
    pub max_errors: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            difficulty: DEFAULT_DIFFICULTY,
            freshness: Freshness::default(),
            tls_available: false,
            pgp: true,
            frame: FrameLimits::default(),
            max_errors: 20,
        }
    }
}

impl SessionConfig {
    /// The HashCash requirements [`hashcash::verify`](crate::mmtp::hashcash::verify) checks a
    /// stamp against.
    pub fn policy(&self) -> Policy {
        Policy {
            difficulty: self.difficulty,
            freshness: self.freshness,
        }
    }
}
