//! HashCash stamps: minting over a counter range and strict verification.
//!
//! Seed §3.4: "Before sending a message, clients MUST compute a token that meets a
//! server-defined difficulty … `"1:difficulty:timestamp:resource::counter:"` … A valid token
//! produces an SHA-256 hash with a specified number of leading zeros." The original's resource
//! is `sender:recipient:timestamp`, so a token reads
//! `1:<d>:<ts>:<sender>:<recipient>:<ts>::<counter>:`, and "leading zeros" are hex digits of
//! the lowercase hex digest, not bits (DESIGN). The seed's own example (§10.1,
//! `"1:4:1625849600000:(alice)%(example.com):(bob)%(example.com)::1234:"`) has the resource
//! `sender:recipient` without the second timestamp; §3.4 leaves the resource open, so that
//! eight-field form is accepted too (the timestamp is then the one after the difficulty).
//! Minting always writes the original's nine fields.
//!
//! The original server only hashed the token. DESIGN adds what the spec implies (§7.3:
//! "Resource validation on server before accepting messages"): the resource names the packet's
//! sender, recipient and timestamp, the counter field equals the `counter` number, the
//! timestamp is fresh, and a token is never accepted twice. The last needs state across
//! connections, so [`verify`] returns a [`TokenKey`] and the driver keeps the replay cache.
//!
//! Minting is a pure function over a counter range, so a driver can split the search across
//! threads and stop it between ranges.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The only stamp version there is.
pub const VERSION: &str = "1";

/// Difficulties above this cannot be met: a SHA-256 hex digest has 64 digits.
pub const MAX_DIFFICULTY: u32 = 64;

/// `meta.hashcashToken` of a packet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashcashToken {
    /// The token text, `1:<d>:<ts>:<sender>:<recipient>:<ts>::<counter>:`.
    pub token: String,
    /// "The value that produces a valid hash" (seed §3.4).
    pub counter: u64,
}

/// What a stamp is bound to; with a counter it makes a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Required leading `0` hex digits of the token's SHA-256 (at most [`MAX_DIFFICULTY`]).
    pub difficulty: u32,
    /// The packet's `meta.timestamp`, Unix milliseconds.
    pub timestamp_ms: u64,
    /// The packet's `sender`, `(name)%(domain)`.
    pub sender: String,
    /// The packet's `recipient`, `(name)%(domain)`.
    pub recipient: String,
}

impl Stamp {
    /// Everything before the counter: `1:<d>:<ts>:<sender>:<recipient>:<ts>::`.
    pub fn prefix(&self) -> String {
        format!(
            "{VERSION}:{d}:{ts}:{s}:{r}:{ts}::",
            d = self.difficulty,
            ts = self.timestamp_ms,
            s = self.sender,
            r = self.recipient
        )
    }

    /// The whole token text for `counter`: the prefix, the counter and a final `:`.
    pub fn token(&self, counter: u64) -> String {
        format!("{}{counter}:", self.prefix())
    }

    /// The token for `counter`, as a packet carries it.
    pub fn hashcash_token(&self, counter: u64) -> HashcashToken {
        HashcashToken {
            token: self.token(counter),
            counter,
        }
    }
}

/// Number of leading `0` digits of the hex form of `digest`.
pub fn leading_zero_hex_digits(digest: &[u8]) -> u32 {
    let mut zeros = 0;
    for byte in digest {
        if *byte == 0 {
            zeros += 2;
            continue;
        }
        if *byte < 0x10 {
            zeros += 1;
        }
        break;
    }
    zeros
}

/// True when `digest` in hex starts with `difficulty` zeros.
pub fn meets(digest: &[u8], difficulty: u32) -> bool {
    leading_zero_hex_digits(digest) >= difficulty
}

/// Searches `range` in order for the first counter whose token meets the stamp's difficulty.
///
/// The SHA-256 state after the prefix's whole blocks is computed once and cloned per try,
/// so a try costs one or two compressions.
pub fn mint(stamp: &Stamp, range: Range<u64>) -> Option<u64> {
    let mut prefixed = Sha256::new();
    prefixed.update(stamp.prefix().as_bytes());
    let mut digits = [0u8; 20];
    for counter in range {
        let mut hasher = prefixed.clone();
        hasher.update(decimal(counter, &mut digits));
        hasher.update(b":");
        if meets(&hasher.finalize(), stamp.difficulty) {
            return Some(counter);
        }
    }
    None
}

/// `n` in decimal, written into the end of `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// How far a stamp's timestamp may be from the server's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Freshness {
    /// Oldest accepted age. The replay cache must remember tokens at least this long.
    pub max_age_ms: u64,
    /// Clock skew tolerated for timestamps in the future.
    pub max_future_ms: u64,
}

impl Default for Freshness {
    /// One hour back (minting at difficulty 6 in JavaScript takes minutes), five minutes ahead.
    fn default() -> Self {
        Self {
            max_age_ms: 60 * 60 * 1000,
            max_future_ms: 5 * 60 * 1000,
        }
    }
}

impl Freshness {
    /// Whether `timestamp_ms` lies within the window around `now_ms` (both Unix milliseconds).
    pub fn is_fresh(&self, timestamp_ms: u64, now_ms: u64) -> bool {
        timestamp_ms.saturating_add(self.max_age_ms) >= now_ms
            && timestamp_ms <= now_ms.saturating_add(self.max_future_ms)
    }
}

/// The server's requirements on a stamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The least difficulty accepted, in leading `0` hex digits.
    pub difficulty: u32,
    /// How far from the server's clock a stamp's timestamp may be.
    pub freshness: Freshness,
}

/// What must not be accepted twice: the SHA-256 of the token text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenKey(pub [u8; 32]);

impl fmt::Display for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::digest::hex(&self.0))
    }
}

/// Why a stamp is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashcashError {
    /// Not `1:<d>:<ts>:<sender>:<recipient>:<ts>::<counter>:` (or the seed example's form
    /// without the second `<ts>`).
    Malformed(&'static str),
    /// The token claims less work than the server asks for.
    Insufficient {
        /// The difficulty the token states.
        claimed: u32,
        /// The server's difficulty.
        required: u32,
    },
    /// The resource names another sender, recipient or timestamp than the packet.
    ResourceMismatch(&'static str),
    /// The counter in the token differs from the `counter` field.
    CounterMismatch {
        /// The counter written in the token text.
        in_token: u64,
        /// The `counter` number beside it.
        field: u64,
    },
    /// The hash does not start with the claimed number of zeros.
    NotEnoughWork {
        /// The difficulty the token states.
        claimed: u32,
        /// Leading `0` hex digits its SHA-256 actually has.
        zeros: u32,
    },
    /// The timestamp is outside the freshness window.
    Stale {
        /// The token's timestamp, Unix milliseconds.
        timestamp_ms: u64,
        /// The server's clock at verification, Unix milliseconds.
        now_ms: u64,
    },
}

impl fmt::Display for HashcashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "malformed token: {what}"),
            Self::Insufficient { claimed, required } => {
                write!(f, "difficulty {claimed} is below the required {required}")
            }
            Self::ResourceMismatch(what) => {
                write!(f, "the token's {what} does not match the packet")
            }
            Self::CounterMismatch { in_token, field } => {
                write!(
                    f,
                    "the token's counter {in_token} differs from counter {field}"
                )
            }
            Self::NotEnoughWork { claimed, zeros } => {
                write!(f, "the hash has {zeros} leading zeros, {claimed} claimed")
            }
            Self::Stale {
                timestamp_ms,
                now_ms,
            } => write!(
                f,
                "timestamp {timestamp_ms} is not fresh (server time {now_ms})"
            ),
        }
    }
}

impl std::error::Error for HashcashError {}

/// The parts of a token, borrowed from its text.
struct Parsed<'a> {
    difficulty: u32,
    /// One in the seed example's form, two in the original's.
    timestamps: Vec<&'a str>,
    sender: &'a str,
    recipient: &'a str,
    counter: u64,
}

fn parse(token: &str) -> Result<Parsed<'_>, HashcashError> {
    // MMTP addresses cannot hold ':', so the fields split cleanly.
    let fields: Vec<&str> = token.split(':').collect();
    let (version, d, timestamps, sender, recipient, empty, counter, end) = match fields[..] {
        // The original's resource, `sender:recipient:timestamp`.
        [version, d, ts1, sender, recipient, ts2, empty, counter, end] => (
            version,
            d,
            vec![ts1, ts2],
            sender,
            recipient,
            empty,
            counter,
            end,
        ),
        // Seed §10.1's example: the resource is `sender:recipient`.
        [version, d, ts, sender, recipient, empty, counter, end] => {
            (version, d, vec![ts], sender, recipient, empty, counter, end)
        }
        _ => {
            return Err(HashcashError::Malformed(
                "expected 8 or 9 ':'-separated fields",
            ));
        }
    };
    if version != VERSION {
        return Err(HashcashError::Malformed("version is not 1"));
    }
    if !empty.is_empty() || !end.is_empty() {
        return Err(HashcashError::Malformed(
            "the extension and trailing fields must be empty",
        ));
    }
    let number = |s: &str, what| {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HashcashError::Malformed(what));
        }
        s.parse::<u64>().map_err(|_| HashcashError::Malformed(what))
    };
    let difficulty = number(d, "difficulty is not a number")?;
    let difficulty = u32::try_from(difficulty)
        .ok()
        .filter(|d| *d <= MAX_DIFFICULTY)
        .ok_or(HashcashError::Malformed("difficulty above 64"))?;
    Ok(Parsed {
        difficulty,
        timestamps,
        sender,
        recipient,
        counter: number(counter, "counter is not a number")?,
    })
}

/// Verifies `stamp` for a packet from `sender` to `recipient` stamped `timestamp_ms`.
///
/// Checks run cheapest first, so each error names the first thing wrong: shape, difficulty,
/// resource, counter, work, freshness. On success the caller must still check the returned
/// key against its replay cache.
pub fn verify(
    stamp: &HashcashToken,
    sender: &str,
    recipient: &str,
    timestamp_ms: u64,
    policy: &Policy,
    now_ms: u64,
) -> Result<TokenKey, HashcashError> {
    let parsed = parse(&stamp.token)?;
    if parsed.difficulty < policy.difficulty {
        return Err(HashcashError::Insufficient {
            claimed: parsed.difficulty,
            required: policy.difficulty,
        });
    }
    let ts = timestamp_ms.to_string();
    if parsed.sender != sender {
        return Err(HashcashError::ResourceMismatch("sender"));
    }
    if parsed.recipient != recipient {
        return Err(HashcashError::ResourceMismatch("recipient"));
    }
    if parsed.timestamps.iter().any(|t| *t != ts) {
        return Err(HashcashError::ResourceMismatch("timestamp"));
    }
    if parsed.counter != stamp.counter {
        return Err(HashcashError::CounterMismatch {
            in_token: parsed.counter,
            field: stamp.counter,
        });
    }
    let digest: [u8; 32] = Sha256::digest(stamp.token.as_bytes()).into();
    let zeros = leading_zero_hex_digits(&digest);
    if zeros < parsed.difficulty {
        return Err(HashcashError::NotEnoughWork {
            claimed: parsed.difficulty,
            zeros,
        });
    }
    if !policy.freshness.is_fresh(timestamp_ms, now_ms) {
        return Err(HashcashError::Stale {
            timestamp_ms,
            now_ms,
        });
    }
    Ok(TokenKey(digest))
}

#[cfg(test)]
#[path = "hashcash_tests.rs"]
mod tests;
