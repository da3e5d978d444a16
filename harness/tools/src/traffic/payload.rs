//! The bytes a load worker sends, built once per worker: the envelope group (MAIL, RCPT...,
//! DATA) and the dot-stuffed message filler; only the few header bytes that make each message
//! unique are formatted per message, into a buffer the worker reuses.

use std::io::Write;

use mtp_proto::smtp::data::dot_stuff;

use super::LoadOptions;

pub(super) struct Payload {
    /// `MAIL FROM`, one `RCPT TO` per recipient and `DATA`, each with its CRLF.
    pub(super) envelope: Vec<u8>,
    /// RCPT commands in the envelope (at least 1).
    pub(super) recipients: usize,
    sender: String,
    /// The message after its headers, dot-stuffed, ending with `.CRLF`.
    tail: Vec<u8>,
}

/// One filler line (74 octets with its CRLF).
const LINE: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij\r\n";

impl Payload {
    /// Builds the envelope (MAIL, one RCPT per recipient, DATA) and the filler for `options`,
    /// so that each message is about `options.size` octets (never less than its headers).
    pub(super) fn new(options: &LoadOptions) -> Self {
        let recipients = options.recipients.max(1);
        let mut envelope = format!("MAIL FROM:<{}>\r\n", options.sender);
        for r in 0..recipients {
            envelope.push_str(&format!(
                "RCPT TO:<load{r}@{}>\r\n",
                options.recipient_domain
            ));
        }
        envelope.push_str("DATA\r\n");
        let mut payload = Self {
            envelope: envelope.into_bytes(),
            recipients,
            sender: options.sender.clone(),
            tail: Vec::new(),
        };
        let mut headers = Vec::new();
        payload.write_headers(&mut headers, 0);
        let mut body = b"\r\n".to_vec();
        while headers.len() + body.len() + LINE.len() <= options.size {
            body.extend_from_slice(LINE);
        }
        payload.tail = dot_stuff(&body);
        payload
    }

    /// Room for one message plus the next envelope.
    pub(super) fn capacity(&self) -> usize {
        self.envelope.len() + self.tail.len() + 256
    }

    /// The envelope's command lines, one per write (without PIPELINING).
    pub(super) fn envelope_lines(&self) -> Vec<&[u8]> {
        self.envelope.split_inclusive(|&b| b == b'\n').collect()
    }

    fn write_headers(&self, out: &mut Vec<u8>, n: u64) {
        // Writing into a Vec cannot fail.
        let _ = write!(
            out,
            "From: <{}>\r\nSubject: mtpspec load {n}\r\nMessage-ID: <load-{n}@mtpspec.test>\r\n",
            self.sender
        );
    }

    /// Appends message `n` as DATA content: headers, filler, `.CRLF`. No header line starts
    /// with a period, so only the filler needed stuffing.
    pub(super) fn write_message(&self, out: &mut Vec<u8>, n: u64) {
        self.write_headers(out, n);
        out.extend_from_slice(&self.tail);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn options(size: usize, recipients: usize) -> LoadOptions {
        LoadOptions {
            target: ([127, 0, 0, 1], 25).into(),
            sessions: 1,
            messages: 1,
            recipients,
            size,
            pipelining: true,
            reuse: true,
            starttls: false,
            sender: "load@client.example".into(),
            recipient_domain: "example.test".into(),
            rate: None,
            duration: Some(Duration::from_secs(1)),
        }
    }

    #[test]
    fn message_is_about_the_size_asked_and_ends_with_the_dot() {
        for size in [0, 100, 1024, 100_000] {
            let payload = Payload::new(&options(size, 1));
            let mut out = Vec::new();
            payload.write_message(&mut out, 12345);
            assert!(out.ends_with(b"\r\n.\r\n"), "{size}");
            let message = out.len() - 3;
            // Headers of a larger message number are a few octets longer than message 0's.
            let slack = 16;
            assert!(message <= size.max(100) + slack, "{size}: {message}");
            assert!(message + LINE.len() + slack > size, "{size}: {message}");
        }
    }

    #[test]
    fn envelope_has_one_rcpt_per_recipient() {
        let payload = Payload::new(&options(10, 3));
        let lines = payload.envelope_lines();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], b"MAIL FROM:<load@client.example>\r\n");
        assert_eq!(lines[3], b"RCPT TO:<load2@example.test>\r\n");
        assert_eq!(lines[4], b"DATA\r\n");
    }
}
