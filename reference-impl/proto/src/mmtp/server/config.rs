//! What a server session is configured with.

use crate::mmtp::framing::FrameLimits;
use crate::mmtp::hashcash::{Freshness, Policy};

/// The original server's default difficulty.
pub const DEFAULT_DIFFICULTY: u32 = 5;

#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// HashCash difficulty in hex zeros, announced in the welcome (DESIGN).
    pub difficulty: u32,
    pub freshness: Freshness,
    /// The server has a TLS listener (`features.tls` of the welcome, as in the original).
    pub tls_available: bool,
    /// Key registry and signature verification (`features.pgp`).
    pub pgp: bool,
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
    pub fn policy(&self) -> Policy {
        Policy {
            difficulty: self.difficulty,
            freshness: self.freshness,
        }
    }
}
