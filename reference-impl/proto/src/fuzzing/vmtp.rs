//! `vmtp_session`: the server session driven by a command grammar that favours the VMTP verbs
//! (VECMAIL, METADATA, BATCH, READACK, STATUS) among SMTP ones, BDAT chunks and junk lines.
//!
//! The session is driven interactively, one command (or one message's data after a 354) at a
//! time, and the invariants are checked per step: exactly one reply per complete command; no
//! more stored messages per envelope than its BATCH count (one without BATCH), all of them
//! with that envelope; every 250 after the data names the id the store gave, in order. Then
//! the same bytes are sent again, all at once or one byte at a time, with the same answers to
//! the session's actions: the replies must be the same bytes (pipelining and chunking change
//! nothing).

use std::collections::VecDeque;
use std::sync::Arc;

use super::all_replies;
use super::choices::Choices;
use crate::smtp::data::dot_stuff;
use crate::smtp::reply::Reply;
use crate::smtp::server::{
    Action, ConnectionInfo, Delivery, MessageState, ServerConfig, ServerSession, StatusInfo,
};

/// The driver's answer to one action, recorded so a replay answers the same.
#[derive(Clone, Debug)]
enum Answer {
    Stored(Result<String, String>),
    Status(Option<StatusInfo>),
}

pub fn vmtp_session(data: &[u8]) {
    let mut c = Choices::new(data);
    let byte_by_byte = c.flag();
    let mut model = Model::default();
    let mut session = new_session();
    let mut input = Vec::new();
    let mut output = session.take_output();
    assert_eq!(all_replies(&output).len(), 1, "one greeting");
    for _ in 0..64 {
        if c.is_empty() || session.is_closed() {
            break;
        }
        let item = if session.in_data() {
            dot_stuff(c.bytes(64))
        } else {
            command(&mut c, &model.ids)
        };
        session.receive(&item);
        input.extend_from_slice(&item);
        model.run_actions(&mut session, &mut c);
        let out = session.take_output();
        let replies = all_replies(&out);
        assert_eq!(
            replies.len(),
            1,
            "one reply to {:?}, got {replies:?}",
            String::from_utf8_lossy(&item)
        );
        model.replied(&item, &replies[0]);
        output.extend_from_slice(&out);
    }
    replay(&input, &model.answers, &output, byte_by_byte);
}

fn new_session() -> ServerSession {
    let mut config = ServerConfig::new("mx.example.test", vec!["example.test".into()]);
    config.limits.max_batch = 5;
    config.limits.max_metadata_entries = 4;
    config.limits.max_metadata_bytes = 64;
    config.limits.max_errors = 1000;
    ServerSession::new(Arc::new(config), ConnectionInfo::default())
}

const ADDRESSES: [&str; 6] = [
    "alice@example.test",
    "bob@example.test",
    "carol@other.test",
    "postmaster@example.test",
    "",
    "no-at-sign",
];

fn address(c: &mut Choices<'_>) -> &'static str {
    c.pick(&ADDRESSES)
}

/// One command line (with CRLF), or a BDAT command with its chunk.
fn command(c: &mut Choices<'_>, ids: &[String]) -> Vec<u8> {
    let line = match c.below(20) {
        0 => "EHLO client.example.test".to_string(),
        1 => "HELO client.example.test".to_string(),
        2 => format!("MAIL FROM:<{}>{}", address(c), size(c)),
        3 => format!("RCPT TO:<{}>", address(c)),
        4 | 5 => {
            let to: Vec<&str> = (0..1 + c.below(3)).map(|_| address(c)).collect();
            format!(
                "VECMAIL FROM:<{}> TO:<{}>{}",
                address(c),
                to.join(","),
                size(c)
            )
        }
        6 | 7 => format!(
            "METADATA {} {}",
            c.pick(&["k", "Lang", "lang", "x-y_z.1", ".bad", ""]),
            printable(c, 24)
        ),
        8 | 9 => format!("BATCH {}", c.pick(&["0", "1", "2", "3", "5", "6", "x", ""])),
        10 => "READACK".to_string(),
        11 | 12 => "DATA".to_string(),
        13 => match ids.is_empty() || c.flag() {
            true => format!("STATUS {}", c.pick(&["0123456789AB", "not-an-id", ""])),
            false => format!("STATUS {}", ids[c.below(ids.len())]),
        },
        14 => c
            .pick(&["RSET", "NOOP", "QUIT", "STARTTLS", "ENCRYPT START"])
            .to_string(),
        15 => return bdat(c),
        _ => {
            // A BDAT line is complete only with its chunk: that is the branch above.
            let text = printable(c, 40);
            match text.trim_start().get(..4) {
                Some(verb) if verb.eq_ignore_ascii_case("BDAT") => format!("X{text}"),
                _ => text,
            }
        }
    };
    let line = if c.byte() < 32 {
        line.to_ascii_lowercase()
    } else {
        line
    };
    format!("{line}\r\n").into_bytes()
}

fn size(c: &mut Choices<'_>) -> String {
    match c.below(4) {
        0 => " SIZE=10".into(),
        1 => " SIZE=100000000".into(),
        _ => String::new(),
    }
}

/// Fuzzer text without CR (a CR LF would end the line early and make two commands).
fn printable(c: &mut Choices<'_>, max: usize) -> String {
    c.text(max).replace('\r', " ")
}

fn bdat(c: &mut Choices<'_>) -> Vec<u8> {
    let chunk = c.bytes(32);
    let last = if c.flag() { " LAST" } else { "" };
    let mut bytes = format!("BDAT {}{last}\r\n", chunk.len()).into_bytes();
    bytes.extend_from_slice(chunk);
    bytes
}

/// What the checks remember across steps.
#[derive(Default)]
struct Model {
    /// Ids the store gave, in order.
    ids: Vec<String>,
    answers: Vec<Answer>,
    /// The accepted envelope: its BATCH count and the messages stored with it.
    batch: Option<u32>,
    stored: Vec<Delivery>,
    envelope: bool,
}

impl Model {
    fn run_actions(&mut self, session: &mut ServerSession, c: &mut Choices<'_>) {
        for _ in 0..8 {
            let Some(action) = session.poll_action() else {
                return;
            };
            match action {
                Action::Deliver(delivery) => {
                    let answer = self.stored(delivery, c);
                    self.answers.push(Answer::Stored(answer.clone()));
                    session.delivered(answer);
                }
                Action::QueryStatus(_) => {
                    let info = c.flag().then_some(StatusInfo {
                        state: MessageState::Pending,
                        at_ms: None,
                    });
                    self.answers.push(Answer::Status(info));
                    session.status_answer(info);
                }
                Action::StartTls => panic!("TLS is not offered, so never started"),
                Action::Close => {}
            }
        }
    }

    /// DESIGN: "Then n DATA segments reuse the envelope ... after the n-th the transaction
    /// ends"; without BATCH a transaction carries one message.
    fn stored(&mut self, delivery: Delivery, c: &mut Choices<'_>) -> Result<String, String> {
        assert!(
            self.envelope,
            "a message stored without an accepted envelope"
        );
        assert!(
            !delivery.recipients.is_empty(),
            "a message with no recipient"
        );
        if let Some(first) = self.stored.first() {
            assert_eq!(
                (&first.reverse_path, &first.recipients),
                (&delivery.reverse_path, &delivery.recipients),
                "a batch reuses its envelope"
            );
        }
        self.stored.push(delivery);
        let limit = self.batch.unwrap_or(1) as usize;
        assert!(
            self.stored.len() <= limit,
            "{} messages stored for an envelope with BATCH {:?}",
            self.stored.len(),
            self.batch
        );
        if c.byte() == 0xFF {
            return Err("disk full".into());
        }
        let id = format!("{:012X}", self.ids.len() + 1);
        self.ids.push(id.clone());
        Ok(id)
    }

    /// Follows the envelope from the replies, and checks the final reply after the data.
    fn replied(&mut self, item: &[u8], reply: &Reply) {
        let upper = String::from_utf8_lossy(item).to_ascii_uppercase();
        let verb = upper.split([' ', '\r']).next().unwrap_or_default();
        let ok = reply.code.is_positive();
        match verb {
            "MAIL" | "VECMAIL" if ok => {
                self.envelope = true;
                self.batch = None;
                self.stored.clear();
            }
            "BATCH" if ok => {
                assert!(self.stored.is_empty(), "BATCH accepted inside a batch");
                self.batch = upper[6..].trim().parse().ok();
            }
            "RSET" | "EHLO" | "HELO" if ok => {
                self.envelope = false;
                self.batch = None;
                self.stored.clear();
            }
            _ => {}
        }
        if reply.text().contains("queued as") {
            let id = self
                .ids
                .last()
                .expect("a 250 after the data names a stored id");
            assert!(
                reply.text().ends_with(&format!("queued as {id}")),
                "{reply:?} does not name {id}"
            );
        }
    }
}

/// The same input again, pipelined (all at once) or one byte at a time, with the same
/// answers: the output must not change.
fn replay(input: &[u8], answers: &[Answer], expected: &[u8], byte_by_byte: bool) {
    let mut session = new_session();
    let mut answers: VecDeque<Answer> = answers.iter().cloned().collect();
    let mut output = session.take_output();
    let chunks: Vec<&[u8]> = if byte_by_byte {
        input.chunks(1).collect()
    } else {
        vec![input]
    };
    for chunk in chunks {
        session.receive(chunk);
        while let Some(action) = session.poll_action() {
            if action == Action::Close {
                continue;
            }
            match (action, answers.pop_front()) {
                (Action::Deliver(_), Some(Answer::Stored(a))) => session.delivered(a),
                (Action::QueryStatus(_), Some(Answer::Status(a))) => session.status_answer(a),
                (action, answer) => panic!("replay asked {action:?}, recorded {answer:?}"),
            }
        }
        output.extend(session.take_output());
    }
    assert!(
        output == expected,
        "pipelined replies differ:\n{}\nvs one at a time:\n{}",
        String::from_utf8_lossy(&output),
        String::from_utf8_lossy(expected)
    );
}
