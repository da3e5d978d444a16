//! SHA-256 as MMTP uses it: lowercase hex digests, and the messageHash of a packet's content.
//!
//! Seed §4.3: "Each message includes a `messageHash` field containing an SHA-256 hash of the
//! `content` object." DESIGN: the lowercase hex SHA-256 of the compact JSON of `content` in
//! its received key order.

use sha2::{Digest, Sha256};

use super::json::Json;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// The messageHash of a packet whose `content` is `content`.
pub fn message_hash(content: &Json) -> String {
    sha256_hex(content.to_compact_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_vector() {
        let content =
            Json::from_slice(br#"{"subject":"Hello","body":"Hello, this is a test message."}"#)
                .unwrap();
        assert_eq!(
            message_hash(&content),
            "3a9666079b04bb05ba63fecef2cf7dbb3ffdb658b1c73f8d9bc481e96e4e3235"
        );
    }

    #[test]
    fn whitespace_is_not_hashed_but_order_is() {
        let spaced = Json::from_slice(
            b"{ \"subject\" : \"Hello\",\n  \"body\" : \"Hello, this is a test message.\" }",
        )
        .unwrap();
        assert_eq!(
            message_hash(&spaced),
            "3a9666079b04bb05ba63fecef2cf7dbb3ffdb658b1c73f8d9bc481e96e4e3235"
        );
        let swapped =
            Json::from_slice(br#"{"body":"Hello, this is a test message.","subject":"Hello"}"#)
                .unwrap();
        assert_ne!(message_hash(&swapped), message_hash(&spaced));
    }

    #[test]
    fn hex_of_known_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
