//! The `Received:` trace field a server puts at the beginning of every message it accepts.
//!
//! RFC 5321 §4.4: "When an SMTP server receives a message for delivery or further processing,
//! it MUST insert trace ("time stamp" or "Received") information at the beginning of the
//! message content". The field follows §4.4's `Stamp` grammar:
//!
//! ```text
//! Received: from <helo> ([<peer address>])
//!     by <host> with <ESMTP|ESMTPS|ESMTPA|ESMTPSA|SMTP>
//!     for <recipient>; <date-time>
//! ```
//!
//! The `with` keywords are RFC 3848's; `for` is given only for a single recipient, so that a
//! message to several does not disclose the others (§7.2).

use crate::time::rfc5322;

/// What the trace field records about one accepted message.
#[derive(Clone, Debug)]
pub struct Trace<'a> {
    /// The client's EHLO or HELO argument.
    pub helo: &'a str,
    /// The client's IP address, without port.
    pub peer_ip: std::net::IpAddr,
    /// The server's own host name.
    pub host: &'a str,
    /// "SMTP" after HELO, "ESMTP" after EHLO (VMTP is an ESMTP extension).
    pub protocol: &'a str,
    /// The session was encrypted: `ESMTPS` (RFC 3848).
    pub tls: bool,
    /// The client authenticated: `ESMTPA` (RFC 3848).
    pub authenticated: bool,
    /// The accepted recipients; with exactly one, the field gets a `for` clause.
    pub recipients: &'a [String],
    /// Unix milliseconds.
    pub at_ms: u64,
}

impl Trace<'_> {
    /// The RFC 3848 `with` keyword.
    fn with(&self) -> &'static str {
        match (self.protocol == "SMTP", self.tls, self.authenticated) {
            (true, _, _) => "SMTP",
            (false, false, false) => "ESMTP",
            (false, true, false) => "ESMTPS",
            (false, false, true) => "ESMTPA",
            (false, true, true) => "ESMTPSA",
        }
    }

    /// The whole field, folded, ending in CRLF.
    pub fn received_field(&self) -> String {
        let literal = match self.peer_ip.to_canonical() {
            std::net::IpAddr::V4(ip) => format!("[{ip}]"),
            std::net::IpAddr::V6(ip) => format!("[IPv6:{ip}]"),
        };
        // The HELO argument is kept only when it is a plain domain or address literal, so
        // the field stays well formed whatever the client sent.
        let helo = if is_domain_or_literal(self.helo) {
            self.helo
        } else {
            "unknown"
        };
        let for_clause = match self.recipients {
            [one] => format!("\r\n\tfor <{one}>"),
            _ => String::new(),
        };
        format!(
            "Received: from {helo} ({literal})\r\n\tby {} with {}{for_clause}; {}\r\n",
            self.host,
            self.with(),
            rfc5322(self.at_ms)
        )
    }
}

/// Letters, digits, `-` and `.` (a domain), or `[...]` without CR, LF or brackets inside.
fn is_domain_or_literal(s: &str) -> bool {
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'[' && b != b']' && b != b'\\');
    }
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace<'a>(helo: &'a str, recipients: &'a [String]) -> Trace<'a> {
        Trace {
            helo,
            peer_ip: "127.0.0.1".parse().unwrap(),
            host: "mx.example.test",
            protocol: "ESMTP",
            tls: true,
            authenticated: false,
            recipients,
            at_ms: 1_795_379_460_000,
        }
    }

    #[test]
    fn names_the_helo_the_peer_and_one_recipient() {
        let one = ["a@example.test".to_string()];
        assert_eq!(
            trace("client.example.org", &one).received_field(),
            "Received: from client.example.org ([127.0.0.1])\r\n\tby mx.example.test with \
             ESMTPS\r\n\tfor <a@example.test>; Sun, 22 Nov 2026 20:31:00 +0000\r\n"
        );
    }

    #[test]
    fn leaves_out_several_recipients_and_a_malformed_helo() {
        let two = ["a@example.test".to_string(), "b@example.test".to_string()];
        let field = trace("bad name\r\nX: y", &two).received_field();
        assert!(field.starts_with("Received: from unknown ([127.0.0.1])\r\n"));
        assert!(!field.contains("for <"));
        assert_eq!(field.matches("\r\n").count(), 2);
        let literal = trace("[192.0.2.1]", &two).received_field();
        assert!(literal.starts_with("Received: from [192.0.2.1] ([127.0.0.1])"));
    }
}
