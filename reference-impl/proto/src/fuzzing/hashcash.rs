//! `hashcash_verify`: HashCash verification against arbitrary tokens and a model.
//!
//! Seed §3.4: "A valid token produces an SHA-256 hash with a specified number of leading
//! zeros." Any token: verify never panics, and accepts only a token whose hex SHA-256 starts
//! with at least the required number of `0` digits, whose resource names the packet's sender,
//! recipient and timestamp, and whose stamp is fresh; the key it returns is that SHA-256. A
//! token made by [`Stamp`] is accepted exactly when the model says so. And a token minted at
//! a small difficulty verifies, while no smaller counter meets that difficulty.

use sha2::{Digest, Sha256};

use super::choices::Choices;
use crate::mmtp::hashcash::{
    Freshness, HashcashToken, Policy, Stamp, leading_zero_hex_digits, meets, mint, verify,
};

const NAMES: [&str; 5] = [
    "(alice)%(example.com)",
    "(bob)%(example.com)",
    "",
    "a:b",
    "(δ)%(example.com)",
];

pub fn hashcash_verify(data: &[u8]) {
    let mut c = Choices::new(data);
    let policy = Policy {
        difficulty: c.below(4) as u32,
        freshness: Freshness {
            max_age_ms: 1000 * c.below(5) as u64,
            max_future_ms: 1000 * c.below(3) as u64,
        },
    };
    let now_ms = 1_625_849_600_000 + 1000 * c.below(8) as u64;
    let timestamp_ms = 1_625_849_600_000 + 1000 * c.below(8) as u64;
    let sender = c.pick(&NAMES);
    let recipient = c.pick(&NAMES);
    match c.below(3) {
        0 => {
            let token = HashcashToken {
                token: c.text(120),
                counter: u64::from(c.byte()) | u64::from(c.byte()) << 8 | u64::from(c.byte()) << 16,
            };
            check_any(&token, sender, recipient, timestamp_ms, &policy, now_ms);
        }
        1 => {
            let stamp = Stamp {
                difficulty: c.below(70) as u32,
                timestamp_ms,
                sender: sender.into(),
                recipient: recipient.into(),
            };
            let counter = u64::from(c.byte()) | u64::from(c.byte()) << 8;
            check_stamp(&stamp, counter, &policy, now_ms);
        }
        _ => {
            let stamp = Stamp {
                difficulty: c.below(3) as u32,
                timestamp_ms,
                sender: c.pick(&NAMES[..2]).into(),
                recipient: c.pick(&NAMES[..2]).into(),
            };
            check_mint(&stamp);
        }
    }
}

/// What an accepted token must be, whatever its text.
fn check_any(
    token: &HashcashToken,
    sender: &str,
    recipient: &str,
    timestamp_ms: u64,
    policy: &Policy,
    now_ms: u64,
) {
    let Ok(key) = verify(token, sender, recipient, timestamp_ms, policy, now_ms) else {
        return;
    };
    let digest: [u8; 32] = Sha256::digest(token.token.as_bytes()).into();
    assert_eq!(key.0, digest, "the replay key is the token's SHA-256");
    let fields: Vec<&str> = token.token.split(':').collect();
    assert_eq!(fields.len(), 9, "{:?}", token.token);
    let claimed: u32 = fields[1].parse().expect("accepted difficulty is a number");
    assert!(claimed >= policy.difficulty);
    assert!(hex_zeros(&digest) >= claimed, "accepted without the work");
    let ts = timestamp_ms.to_string();
    assert_eq!(
        (fields[2], fields[3], fields[4], fields[5]),
        (ts.as_str(), sender, recipient, ts.as_str())
    );
    assert_eq!(fields[7].parse::<u64>().ok(), Some(token.counter));
    assert!(policy.freshness.is_fresh(timestamp_ms, now_ms));
}

/// A well-formed token is accepted exactly when the model says so.
fn check_stamp(stamp: &Stamp, counter: u64, policy: &Policy, now_ms: u64) {
    let token = stamp.hashcash_token(counter);
    let result = verify(
        &token,
        &stamp.sender,
        &stamp.recipient,
        stamp.timestamp_ms,
        policy,
        now_ms,
    );
    let digest: [u8; 32] = Sha256::digest(token.token.as_bytes()).into();
    let expected = !stamp.sender.contains(':')
        && !stamp.recipient.contains(':')
        && stamp.difficulty <= 64
        && stamp.difficulty >= policy.difficulty
        && hex_zeros(&digest) >= stamp.difficulty
        && policy.freshness.is_fresh(stamp.timestamp_ms, now_ms);
    assert_eq!(result.is_ok(), expected, "{token:?}: {result:?}");
    check_any(
        &token,
        &stamp.sender,
        &stamp.recipient,
        stamp.timestamp_ms,
        policy,
        now_ms,
    );
}

/// mint → verify at a small difficulty; mint returns the first counter that meets it.
fn check_mint(stamp: &Stamp) {
    let counter = mint(stamp, 0..100_000).expect("difficulty ≤ 2 is met within 100,000 tries");
    let policy = Policy {
        difficulty: stamp.difficulty,
        freshness: Freshness::default(),
    };
    let token = stamp.hashcash_token(counter);
    let result = verify(
        &token,
        &stamp.sender,
        &stamp.recipient,
        stamp.timestamp_ms,
        &policy,
        stamp.timestamp_ms,
    );
    assert!(result.is_ok(), "minted {token:?}: {result:?}");
    for earlier in counter.saturating_sub(3)..counter {
        let digest = Sha256::digest(stamp.token(earlier).as_bytes());
        assert!(!meets(&digest, stamp.difficulty), "mint skipped {earlier}");
    }
}

/// The model of "leading zeros": `0` digits at the start of the lowercase hex digest.
fn hex_zeros(digest: &[u8; 32]) -> u32 {
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let zeros = hex.bytes().take_while(|&b| b == b'0').count() as u32;
    assert_eq!(leading_zero_hex_digits(digest), zeros);
    zeros
}
