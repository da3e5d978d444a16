//! AUTH PLAIN (RFC 4954, RFC 4616) and the small base64 decoder it needs.
//!
//! RFC 4616 §2: `message = [authzid] UTF8NUL authcid UTF8NUL passwd`.

use super::config::ServerConfig;

/// The outcome of one PLAIN response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PlainOutcome {
    /// The credentials match; carries the authenticated user (the authcid).
    Success(String),
    BadCredentials,
    /// Not base64 at all (501).
    NotBase64,
    /// Base64, but not `authzid NUL authcid NUL passwd` in UTF-8 (535, like bad credentials).
    Malformed,
}

/// Checks a base64 PLAIN response against the configured credentials.
pub(crate) fn check_plain(config: &ServerConfig, response: &str) -> PlainOutcome {
    let Some(decoded) = decode_base64(response) else {
        return PlainOutcome::NotBase64;
    };
    let mut parts = decoded.split(|&b| b == 0);
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return PlainOutcome::Malformed;
    };
    let (Ok(authzid), Ok(user), Ok(password)) = (
        std::str::from_utf8(authzid),
        std::str::from_utf8(user),
        std::str::from_utf8(password),
    ) else {
        return PlainOutcome::Malformed;
    };
    let known = config
        .credentials
        .iter()
        .any(|(u, p)| u == user && p == password);
    if known && (authzid.is_empty() || authzid == user) {
        PlainOutcome::Success(user.to_string())
    } else {
        PlainOutcome::BadCredentials
    }
}

/// Decodes standard base64 with padding; `=` alone is the empty string (RFC 4954 §4).
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    if text == "=" {
        return Some(Vec::new());
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (i, quad) in bytes.chunks(4).enumerate() {
        let last = i == bytes.len() / 4 - 1;
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64() {
        assert_eq!(
            decode_base64("AGFsaWNlAHNlY3JldA==").unwrap(),
            b"\0alice\0secret"
        );
        assert_eq!(decode_base64("YWJj").unwrap(), b"abc");
        assert_eq!(decode_base64("=").unwrap(), b"");
        assert!(decode_base64("YW=j").is_none());
        assert!(decode_base64("YWJ").is_none());
    }

    #[test]
    fn checks_credentials() {
        let mut config = ServerConfig::new("mx", vec![]);
        config.credentials.push(("alice".into(), "secret".into()));
        assert_eq!(
            check_plain(&config, "AGFsaWNlAHNlY3JldA=="),
            PlainOutcome::Success("alice".into())
        );
        assert_eq!(
            check_plain(&config, "AGFsaWNlAHdyb25n"),
            PlainOutcome::BadCredentials
        );
        assert_eq!(check_plain(&config, "!!!!"), PlainOutcome::NotBase64);
        assert_eq!(check_plain(&config, "="), PlainOutcome::Malformed);
        assert_eq!(check_plain(&config, "YWxpY2U="), PlainOutcome::Malformed);
    }
}
