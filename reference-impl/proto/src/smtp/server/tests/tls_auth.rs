//! STARTTLS and ENCRYPT START, AUTH PLAIN, the submission listener and the AUTH= parameter.

use super::*;

#[test]
fn starttls_discards_pipelined_plaintext_and_resets() {
    let d = session(b"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<evil@x.example>\r\n");
    assert_eq!(d.codes(), [220, 250, 220]);
    assert_eq!(d.last(), "220 2.0.0 Ready to start TLS");
    assert_eq!(d.tls_starts, 1);
    assert!(d.session.discarded_after_tls > 0);
    let mut d = d;
    d.feed(b"MAIL FROM:<a@x.example>\r\nEHLO c\r\nSTARTTLS\r\n");
    assert_eq!(d.codes(), [220, 250, 220, 503, 250, 503]);
    assert_eq!(d.last(), "503 5.5.1 TLS already active");
    assert_eq!(d.text().matches("STARTTLS").count(), 1, "advertised once");
}

#[test]
fn starttls_refused_inside_a_transaction_and_without_a_certificate() {
    let d =
        session(b"EHLO c\r\nMAIL FROM:<a@x.example>\r\nSTARTTLS\r\nRCPT TO:<b@example.test>\r\n");
    assert_eq!(d.codes(), [220, 250, 250, 503, 250]);
    assert_eq!(
        d.replies()[3],
        "503 5.5.1 TLS cannot start inside a mail transaction"
    );
    let mut c = config();
    c.tls_available = false;
    let mut d = Driver::new(c);
    d.feed(b"EHLO c\r\nSTARTTLS\r\nENCRYPT START\r\nSTARTTLS now\r\nNOOP\r\n");
    assert_eq!(d.codes(), [220, 250, 454, 454, 501, 250]);
    assert_eq!(d.replies()[2], "454 4.7.0 TLS not available");
    assert!(!d.text().contains("STARTTLS\r\n") && !d.text().contains("ENCRYPT"));
    assert_eq!(d.tls_starts, 0);
}

#[test]
fn auth_plain_needs_tls() {
    let mut c = config();
    c.credentials.push(("alice".into(), "secret".into()));
    c.submission = true;
    let mut d = Driver::new(c.clone());
    d.feed(b"EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<a@x.example>\r\n");
    assert_eq!(d.codes(), [220, 250, 538, 530]);
    assert_eq!(
        d.replies()[2],
        "538 5.7.11 Encryption required for requested authentication mechanism"
    );
    assert_eq!(d.last(), "530 5.7.0 Must issue a STARTTLS command first");
    assert!(
        !d.text().contains("AUTH PLAIN\r\n"),
        "not advertised before TLS"
    );
    let mut d = tls_session(c);
    d.feed(b"EHLO c\r\nMAIL FROM:<a@x.example>\r\nAUTH PLAIN\r\nAGFsaWNlAHdyb25n\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<z@remote.example>\r\n");
    assert_eq!(d.codes(), [220, 250, 530, 334, 535, 235, 503, 250, 250]);
    assert!(d.text().contains("250-AUTH PLAIN\r\n"));
    assert_eq!(d.replies()[2], "530 5.7.0 Authentication required");
    assert_eq!(d.replies()[3], "334 ");
    assert_eq!(d.replies()[6], "503 5.5.1 Already authenticated");
}

/// RFC 4954 §4: `*` cancels with 501 5.7.0, undecodable base64 is 501 5.5.2; a PLAIN message
/// that decodes but is malformed fails as bad credentials (535).
#[test]
fn auth_failures() {
    let mut d = tls_session(config());
    d.feed(b"EHLO c\r\nAUTH PLAIN\r\n*\r\nAUTH PLAIN !!!!\r\nAUTH PLAIN =\r\nAUTH PLAIN YWxpY2U=\r\nAUTH CRAM-MD5\r\nMAIL FROM:<a@x.example>\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    assert_eq!(
        d.codes(),
        [220, 250, 334, 501, 501, 535, 535, 504, 250, 503]
    );
    let replies = d.replies();
    assert_eq!(replies[3], "501 5.7.0 Authentication cancelled");
    assert_eq!(replies[4], "501 5.5.2 Cannot decode the AUTH response");
    assert_eq!(replies[5], "535 5.7.8 Authentication credentials invalid");
    assert_eq!(replies[7], "504 5.5.4 Unrecognized authentication type");
    assert_eq!(
        replies[9],
        "503 5.5.1 AUTH not allowed inside a mail transaction"
    );
    // Only the 535s count as failed AUTH exchanges: the driver delays its replies by them.
    assert_eq!(d.session.auth_failures(), 2);
}

/// RFC 4954 §4: an over-long line in the exchange fails the AUTH with 500 5.5.6.
#[test]
fn over_long_auth_response_ends_the_exchange() {
    let mut c = config();
    c.submission = true;
    let mut d = tls_session(c);
    let long = "A".repeat(5000);
    d.feed(format!("EHLO c\r\nAUTH PLAIN\r\n{long}\r\nMAIL FROM:<a@x.example>\r\n").as_bytes());
    assert_eq!(d.codes(), [220, 250, 334, 500, 530]);
    assert_eq!(
        d.replies()[3],
        "500 5.5.6 Authentication Exchange line is too long"
    );
    // A PLAIN response with three 255-octet fields fits the default line limit.
    let mut d = tls_session(config());
    let field = "u".repeat(255);
    let response = base64(format!("{field}\0{field}\0{field}").as_bytes());
    d.feed(format!("EHLO c\r\nAUTH PLAIN {response}\r\n").as_bytes());
    assert_eq!(d.codes(), [220, 250, 535]);
}

/// RFC 4954 §5: AUTH= is accepted (also unauthenticated) where AUTH is advertised, and is an
/// unknown parameter (555, RFC 5321 §4.1.1.11) where it is not.
#[test]
fn auth_parameter_only_where_auth_is_advertised() {
    let d = session(b"EHLO c\r\nMAIL FROM:<a@x.example> AUTH=<>\r\n");
    assert_eq!(d.codes(), [220, 250, 555]);
    assert_eq!(d.last(), "555 5.5.4 Unsupported parameter AUTH");
    let mut d = tls_session(config());
    d.feed(b"EHLO c\r\nMAIL FROM:<a@x.example> AUTH=a+40x.example\r\nRSET\r\nMAIL FROM:<a@x.example> AUTH\r\n");
    assert_eq!(d.codes(), [220, 250, 250, 250, 501]);
    assert_eq!(d.last(), "501 5.5.4 Bad value for the AUTH parameter");
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
