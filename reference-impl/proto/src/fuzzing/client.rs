//! `client_session`: the SMTP/VMTP client state machine against arbitrary server bytes.
//!
//! The fuzzer chooses the client's options and messages, then either raw server bytes or a
//! sequence of canned replies (greeting, EHLO with any set of extensions, 354, 250, 4yz,
//! 5yz, 421, garbage), cut into chunks that are fed one at a time, each after the client has
//! written what it wanted to. The session must end (one `Done`, nothing after it), what it
//! wrote must be what its transcript says, and the order of what it wrote must respect the
//! protocol whatever the server said: the model in [`check_order`].

use std::collections::VecDeque;

use super::choices::Choices;
use crate::smtp::address::Mailbox;
use crate::smtp::client::TranscriptEntry;
use crate::smtp::client::{ClientOptions, ClientSession, Event, Message, Outcome, RcptStatus};
use crate::smtp::data::dot_stuff;
use crate::smtp::extension::{Extension, Extensions};
use crate::smtp::reply::Reply;

/// Runs one client session from the fuzzer's bytes and checks it.
pub fn client_session(data: &[u8]) {
    let mut c = Choices::new(data);
    let options = options(&mut c);
    let handshake_ok = c.flag();
    let messages = messages(&mut c);
    let chunks = if c.flag() {
        canned_replies(&mut c)
    } else {
        raw_chunks(&mut c)
    };
    let (outcome, wire) = drive(&options, messages.clone(), &chunks, handshake_ok);
    check_wire(&outcome, &messages, &wire);
    check_order(&options, &outcome);
    check_outcome(&options, &messages, &outcome);
}

fn options(c: &mut Choices<'_>) -> ClientOptions {
    let bits = c.byte();
    ClientOptions {
        helo_name: "client.example.test".into(),
        use_vmtp: bits & 1 != 0,
        pipelining: bits & 2 != 0,
        starttls: bits & 4 != 0,
        prefer_encrypt: bits & 8 != 0,
        require_tls: bits & 16 != 0,
        batch: bits & 32 != 0,
    }
}

const ADDRESSES: [&str; 5] = [
    "alice@example.test",
    "bob@example.test",
    "carol@other.test",
    "postmaster@example.test",
    "δοκιμή@example.test",
];

const BODIES: [&[u8]; 5] = [
    b"Subject: hi\r\n\r\nhello\r\n",
    b".leading dot\r\n..two\r\n.\r\n",
    b"caf\xc3\xa9 8bit\r\n",
    b"no final line end",
    b"",
];

fn mailbox(c: &mut Choices<'_>) -> Mailbox {
    let text = c.pick(&ADDRESSES);
    // The pool holds valid addresses only.
    Mailbox::parse(text).expect("pool addresses parse")
}

fn messages(c: &mut Choices<'_>) -> Vec<Message> {
    let count = 1 + c.below(3);
    let mut messages: Vec<Message> = Vec::new();
    for _ in 0..count {
        let data = if c.flag() {
            c.pick(&BODIES).to_vec()
        } else {
            c.bytes(64).to_vec()
        };
        let metadata = (0..c.below(3))
            .map(|i| (format!("key{i}"), c.text(8)))
            .collect();
        let mut message = Message {
            reverse_path: c.flag().then(|| mailbox(c)),
            recipients: (0..c.below(4)).map(|_| mailbox(c)).collect(),
            data,
            metadata,
            read_ack: c.flag(),
        };
        if let Some(previous) = messages.last().filter(|_| c.flag()) {
            message.reverse_path = previous.reverse_path.clone();
            message.recipients = previous.recipients.clone();
            message.read_ack = previous.read_ack;
        }
        messages.push(message);
    }
    messages
}

const EHLO_LINES: [&str; 10] = [
    "PIPELINING",
    "SIZE 1000000",
    "SIZE 10",
    "8BITMIME",
    "SMTPUTF8",
    "STARTTLS",
    "ENHANCEDSTATUSCODES",
    "CHUNKING",
    "VMTP VECMAIL METADATA ENCRYPT BATCH READACK STATUS",
    "VMTP",
];

const REPLIES: [&str; 22] = [
    "220 mx.example.test ESMTP\r\n",
    "250 2.0.0 Ok\r\n",
    "250 2.0.0 Ok: queued as 0123456789AB\r\n",
    "354 End data with <CR><LF>.<CR><LF>\r\n",
    "221 2.0.0 Bye\r\n",
    "421 4.3.2 Shutting down\r\n",
    "450 4.2.0 Busy\r\n",
    "451 4.3.0 Local error\r\n",
    "452 4.5.3 Too many\r\n",
    "454 4.7.0 TLS not available\r\n",
    "500 5.5.2 What\r\n",
    "501 5.5.4 Syntax\r\n",
    "502 5.5.1 Not implemented\r\n",
    "503 5.5.1 Bad sequence\r\n",
    "550 5.1.1 No such user\r\n",
    "552 5.3.4 Too big\r\n",
    "554 5.7.1 Go away\r\n",
    "555 5.5.4 Parameters\r\n",
    "334 \r\n",
    "garbage\r\n",
    "250-unfinished\r\n",
    "220 2.0.0 Ready to start TLS\r\n",
];

/// An EHLO reply offering the extensions whose bits are set.
fn ehlo_reply(bits: u16) -> String {
    let mut lines = vec!["mx.example.test"];
    lines.extend(
        EHLO_LINES
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, l)| *l),
    );
    let last = lines.len() - 1;
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("250{}{l}\r\n", if i == last { ' ' } else { '-' }))
        .collect()
}

/// Up to 64 chunks of one to three canned replies, some split in two.
fn canned_replies(c: &mut Choices<'_>) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    while !c.is_empty() && chunks.len() < 64 {
        let mut chunk = Vec::new();
        for _ in 0..1 + c.below(3) {
            match c.below(REPLIES.len() + 2) {
                i if i < REPLIES.len() => chunk.extend_from_slice(REPLIES[i].as_bytes()),
                _ => {
                    let bits = u16::from(c.byte()) | u16::from(c.byte()) << 8;
                    chunk.extend_from_slice(ehlo_reply(bits).as_bytes());
                }
            }
        }
        if c.flag() {
            let cut = c.below(chunk.len() + 1);
            chunks.push(chunk[..cut].to_vec());
            chunk.drain(..cut);
        }
        chunks.push(chunk);
    }
    chunks
}

/// The remaining bytes cut at up to eight fuzzer-chosen points.
fn raw_chunks(c: &mut Choices<'_>) -> Vec<Vec<u8>> {
    let cuts: Vec<u8> = (0..c.below(9)).map(|_| c.byte()).collect();
    let rest = c.rest();
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|&p| usize::from(p) * rest.len() / 256)
        .collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for end in points.into_iter().chain([rest.len()]) {
        chunks.push(rest[start..end].to_vec());
        start = end;
    }
    chunks
}

/// Feeds the chunks one by one, doing what the client asks in between, then closes the
/// connection. Returns the outcome and every byte the client wrote.
fn drive(
    options: &ClientOptions,
    messages: Vec<Message>,
    chunks: &[Vec<u8>],
    handshake_ok: bool,
) -> (Outcome, Vec<u8>) {
    let mut client = ClientSession::new(options.clone(), messages);
    let mut outcome = None;
    let mut wire = Vec::new();
    let mut chunks = chunks.iter();
    loop {
        drain(&mut client, &mut outcome, &mut wire, handshake_ok);
        match chunks.next() {
            Some(chunk) => client.receive(chunk),
            None => break,
        }
    }
    client.handle_closed("the connection closed");
    drain(&mut client, &mut outcome, &mut wire, handshake_ok);
    assert!(client.is_done(), "a closed connection ends the session");
    assert!(client.poll_event().is_none());
    (outcome.expect("a finished session reports Done"), wire)
}

fn drain(
    client: &mut ClientSession,
    outcome: &mut Option<Outcome>,
    wire: &mut Vec<u8>,
    handshake_ok: bool,
) {
    while let Some(event) = client.poll_event() {
        assert!(outcome.is_none(), "event {event:?} after Done");
        match event {
            Event::Transmit(bytes) => wire.extend_from_slice(&bytes),
            Event::StartTls if handshake_ok => client.tls_established(),
            Event::StartTls => client.handle_closed("TLS handshake failed"),
            Event::Done(done) => *outcome = Some(*done),
        }
    }
}

/// What the client wrote is exactly what its transcript says: each command line with CRLF,
/// and each message data is the dot-stuffed form of one of the messages.
fn check_wire(outcome: &Outcome, messages: &[Message], wire: &[u8]) {
    let mut rest = wire;
    for entry in &outcome.transcript {
        match entry {
            TranscriptEntry::Sent(line) => {
                let expected = format!("{line}\r\n");
                assert!(
                    rest.starts_with(expected.as_bytes()),
                    "transcript says {line:?}, wire has {:?}",
                    String::from_utf8_lossy(&rest[..rest.len().min(80)])
                );
                rest = &rest[expected.len()..];
            }
            TranscriptEntry::SentData(n) => {
                assert!(*n <= rest.len(), "message data beyond the wire");
                let (body, after) = rest.split_at(*n);
                assert!(
                    messages.iter().any(|m| dot_stuff(&m.data) == body),
                    "message data that is no message"
                );
                rest = after;
            }
            _ => {}
        }
    }
    assert!(rest.is_empty(), "bytes written that the transcript lacks");
}

/// One command on the wire, as the model tracks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sent {
    Hello { extended: bool },
    Tls,
    Mail,
    Data,
    Body,
    Quit,
    Other,
}

impl Sent {
    /// RFC 2920 §3.1: "EHLO, DATA, VRFY, EXPN, TURN, QUIT, and NOOP ... can only appear as
    /// the last command in a group"; STARTTLS too (RFC 3207 §4.2), and the message data.
    fn ends_group(self) -> bool {
        !matches!(self, Sent::Mail | Sent::Other)
    }
}

/// The order the client wrote in, checked against what it had received.
#[derive(Debug, Default)]
struct Order {
    greeted: bool,
    outstanding: VecDeque<Sent>,
    pipelining: bool,
    tls: bool,
    need_ehlo: bool,
    mail_sent: bool,
    /// MAIL (for RCPT) or MAIL/VECMAIL (for DATA) since the last EHLO, HELO or RSET.
    mail_open: bool,
    vec_open: bool,
    /// A 354 answered DATA and the message data (or a lone ".") has not followed yet.
    go_ahead: bool,
    quit: bool,
    /// A reply came with no command outstanding: only QUIT may follow.
    unexpected: bool,
}

fn check_order(options: &ClientOptions, outcome: &Outcome) {
    if show_transcript() {
        eprintln!("{}", outcome.transcript_text());
    }
    let mut order = Order::default();
    for entry in &outcome.transcript {
        match entry {
            TranscriptEntry::Received(reply) => order.received(options, reply),
            TranscriptEntry::Sent(line) => order.sent_line(options, line),
            TranscriptEntry::SentData(_) => {
                assert!(order.go_ahead, "message data without a 3yz to DATA");
                order.go_ahead = false;
                order.before_send(Sent::Body);
            }
            TranscriptEntry::TlsStarted => {
                assert!(!order.tls, "TLS started twice");
                order.tls = true;
                order.need_ehlo = true;
                order.pipelining = false;
            }
            TranscriptEntry::Note(_) => {}
        }
    }
    assert_eq!(
        outcome.tls, order.tls,
        "Outcome::tls matches the transcript"
    );
}

/// `MTP_FUZZ_TRANSCRIPT=1` prints each session's transcript, to see why an input fails.
fn show_transcript() -> bool {
    static SHOW: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SHOW.get_or_init(|| std::env::var_os("MTP_FUZZ_TRANSCRIPT").is_some())
}

impl Order {
    fn received(&mut self, options: &ClientOptions, reply: &Reply) {
        if !self.greeted {
            self.greeted = true;
            return;
        }
        let Some(sent) = self.outstanding.pop_front() else {
            self.unexpected = true;
            return;
        };
        match sent {
            Sent::Hello { extended: true } if reply.code.is_positive() => {
                let ext = Extensions::from_ehlo(reply);
                self.pipelining = options.pipelining && ext.has(Extension::Pipelining);
            }
            Sent::Hello { .. } if reply.code.is_positive() => self.pipelining = false,
            // RFC 5321 §4.2.1: the first digit carries the meaning; any 3yz is the go-ahead.
            Sent::Data if reply.code.is_intermediate() => self.go_ahead = true,
            _ => {}
        }
    }

    /// RFC 5321 §4.1.1 and RFC 2920: checks common to every write.
    fn before_send(&mut self, sent: Sent) {
        assert!(self.greeted, "{sent:?} written before the greeting");
        assert!(!self.quit, "{sent:?} written after QUIT");
        if self.unexpected {
            assert_eq!(sent, Sent::Quit, "only QUIT after an unexpected reply");
        }
        if !self.pipelining {
            assert!(
                self.outstanding.is_empty(),
                "{sent:?} written without PIPELINING while {:?} wait for replies",
                self.outstanding
            );
        }
        assert!(
            !self.outstanding.iter().any(|s| s.ends_group()),
            "{sent:?} pipelined after {:?}, which ends a group",
            self.outstanding
        );
        self.outstanding.push_back(sent);
    }

    fn sent_line(&mut self, options: &ClientOptions, line: &str) {
        let upper = line.to_ascii_uppercase();
        let verb = upper.split(' ').next().unwrap_or_default();
        if self.go_ahead {
            // RFC 2920 §3.1: a 354 nobody wants is answered by ending the empty message.
            assert_eq!(line, ".", "after 354 only the message data may follow");
            self.go_ahead = false;
            return self.before_send(Sent::Body);
        }
        if self.need_ehlo {
            // RFC 3207 §4.2: after TLS the client "SHOULD send an EHLO command as the first
            // command".
            assert!(verb == "EHLO" || verb == "QUIT", "{line} first after TLS");
            self.need_ehlo = false;
        }
        let transaction = matches!(
            verb,
            "MAIL" | "VECMAIL" | "RCPT" | "DATA" | "BDAT" | "METADATA" | "BATCH" | "READACK"
        );
        if options.require_tls && transaction {
            assert!(self.tls, "{line} sent in plain text with require_tls");
        }
        let sent = match verb {
            "EHLO" | "HELO" => {
                self.mail_open = false;
                self.vec_open = false;
                Sent::Hello {
                    extended: verb == "EHLO",
                }
            }
            "STARTTLS" | "ENCRYPT" => {
                assert!(!self.tls, "{line} on an encrypted session");
                assert!(!self.mail_sent, "{line} after mail was sent");
                Sent::Tls
            }
            "MAIL" | "VECMAIL" => {
                self.mail_sent = true;
                self.mail_open = verb == "MAIL";
                self.vec_open = verb == "VECMAIL";
                Sent::Mail
            }
            "RCPT" => {
                assert!(self.mail_open, "RCPT without MAIL");
                Sent::Other
            }
            "DATA" => {
                assert!(self.mail_open || self.vec_open, "DATA without an envelope");
                Sent::Data
            }
            "RSET" => {
                self.mail_open = false;
                self.vec_open = false;
                Sent::Other
            }
            "QUIT" => Sent::Quit,
            _ => Sent::Other,
        };
        self.before_send(sent);
        if sent == Sent::Quit {
            self.quit = true;
        }
    }
}

/// The outcome agrees with the transcript: a message counts as delivered only when the data
/// was sent and answered 2yz, and `require_tls` keeps mail off a plain session.
fn check_outcome(options: &ClientOptions, messages: &[Message], outcome: &Outcome) {
    assert_eq!(outcome.messages.len(), messages.len());
    let mut body_replies = VecDeque::new();
    let mut accepted_bodies = 0usize;
    let mut greeted = false;
    for entry in &outcome.transcript {
        match entry {
            TranscriptEntry::Sent(_) => body_replies.push_back(false),
            TranscriptEntry::SentData(_) => body_replies.push_back(true),
            TranscriptEntry::Received(reply) if greeted => {
                let body = body_replies.pop_front() == Some(true);
                accepted_bodies += usize::from(body && reply.code.is_positive());
            }
            TranscriptEntry::Received(_) => greeted = true,
            _ => {}
        }
    }
    let delivered = outcome.messages.iter().filter(|m| m.is_delivered()).count();
    assert!(
        delivered <= accepted_bodies,
        "{delivered} delivered, {accepted_bodies} message data accepted"
    );
    if options.require_tls && !outcome.tls {
        assert_eq!(delivered, 0, "delivered without TLS under require_tls");
    }
    for message in &outcome.messages {
        if let Ok(delivered) = &message.result {
            assert!(delivered.reply.code.is_positive());
        }
        for recipient in &message.recipients {
            match &recipient.status {
                RcptStatus::Accepted(reply) => assert!(reply.code.is_positive()),
                RcptStatus::Refused(reply) => assert!(!reply.code.is_positive()),
                RcptStatus::NotTried => {}
            }
        }
    }
}
