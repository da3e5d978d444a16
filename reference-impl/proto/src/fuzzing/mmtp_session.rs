//! `mmtp_session`: the MMTP server session ([`crate::mmtp::server`]) on any bytes, in any
//! chunking, with any answers from its driver.
//!
//! Invariants (DESIGN; SPEC.md MMTP-TRANSPORT-5 to 7):
//! - the output is a sequence of JSON objects, each ended by `\n`, each with a string
//!   `status`; the first is the welcome, with the configured `difficulty`;
//! - "Every request gets exactly one response, in the order the requests were sent": with
//!   every action answered, a session still open has answered exactly as many values as a
//!   decoder with the same limits finds in the input (errors included); a closed one at most
//!   one more (its closing notice);
//! - at most one action is outstanding at a time, and a closed session takes no more input;
//! - the input split anywhere gives the same output as the input whole.

use std::sync::Arc;

use serde_json::value::RawValue;

use super::choices::Choices;
use super::mmtp::split;
use crate::mmtp::framing::{FrameLimits, JsonDecoder};
use crate::mmtp::server::{
    Action, ConnectionInfo, KeyError, MailboxEntry, ServerSession, SessionConfig,
};
use crate::mmtp::tags::Tags;

const NOW_MS: u64 = 1_700_000_000_000;

pub fn mmtp_session(data: &[u8]) {
    let mut c = Choices::new(data);
    let config = SessionConfig {
        difficulty: c.below(8) as u32,
        tls_available: c.flag(),
        pgp: c.flag(),
        frame: FrameLimits {
            max_value: 16 + c.below(4096),
            max_depth: 1 + c.below(40),
        },
        max_errors: 1 + c.below(24),
        ..SessionConfig::default()
    };
    let tls = c.flag();
    let time_out = c.flag();
    let answers = c.bytes(64).to_vec();
    let cuts: Vec<u8> = (0..c.below(8)).map(|_| c.byte()).collect();
    let stream = c.rest();

    let config = Arc::new(config);
    let whole = run(&config, tls, &answers, &[stream], time_out);
    let parts = run(&config, tls, &answers, &split(stream, &cuts), time_out);
    assert_eq!(whole.output, parts.output, "chunking changed the responses");

    let responses = check_output(&whole.output, config.difficulty);
    let mut decoder = JsonDecoder::new(config.frame);
    decoder.push(stream);
    let mut values = 0;
    while let Some(frame) = decoder.next_value() {
        values += 1;
        if frame.is_err_and(|e| e.is_fatal()) {
            break;
        }
    }
    // The welcome, then one response per value; a close adds its notice.
    let answered = responses - 1;
    if whole.closed {
        assert!(
            answered <= values + 1,
            "{answered} responses to {values} values"
        );
    } else {
        assert_eq!(answered, values, "responses and values differ");
    }
}

struct Outcome {
    output: Vec<u8>,
    closed: bool,
}

/// Feeds `chunks` to a new session, answering every action from `answers` (cycled), and
/// times the session out at the end when told to and it is idle.
fn run(
    config: &Arc<SessionConfig>,
    tls: bool,
    answers: &[u8],
    chunks: &[&[u8]],
    time_out: bool,
) -> Outcome {
    let mut session = ServerSession::new(config.clone(), ConnectionInfo { tls }, NOW_MS);
    let mut driver = Driver {
        answers,
        next: 0,
        closed: false,
    };
    let mut output = session.take_output();
    for chunk in chunks {
        session.receive(chunk, NOW_MS);
        driver.answer_all(&mut session);
        output.extend(session.take_output());
        if driver.closed {
            // A closed session takes no more input and says nothing more.
            session.receive(
                b"{\"action\":\"CHECK\",\"address\":\"(a)%(b.c)\"}\n",
                NOW_MS,
            );
            assert!(session.poll_action().is_none() && !session.has_output());
            break;
        }
    }
    if time_out && !driver.closed && session.is_idle() {
        session.idle_timeout();
        driver.answer_all(&mut session);
        assert!(
            driver.closed && session.is_closed(),
            "an idle timeout closes"
        );
        output.extend(session.take_output());
    }
    Outcome {
        output,
        closed: session.is_closed(),
    }
}

/// Answers actions with choices read from fuzzer bytes.
struct Driver<'a> {
    answers: &'a [u8],
    next: usize,
    closed: bool,
}

impl Driver<'_> {
    fn pick(&mut self, n: u8) -> u8 {
        let byte = match self.answers {
            [] => 0,
            all => all[self.next % all.len()],
        };
        self.next += 1;
        byte % n
    }

    fn answer_all(&mut self, session: &mut ServerSession) {
        while let Some(action) = session.poll_action() {
            // One action at a time: the next comes only after this one is answered.
            assert!(
                matches!(action, Action::Close) || session.poll_action().is_none(),
                "two actions outstanding"
            );
            self.answer(session, action);
        }
    }

    fn answer(&mut self, session: &mut ServerSession, action: Action) {
        match action {
            Action::ClaimToken { .. } => session.token_claimed(match self.pick(3) {
                0 => Ok(true),
                1 => Ok(false),
                _ => Err("replay cache unavailable".into()),
            }),
            Action::VerifySignature(_) => session.signature_checked(match self.pick(3) {
                0 => Some(true),
                1 => Some(false),
                _ => None,
            }),
            Action::Deliver(_) => session.delivered(match self.pick(2) {
                0 => Ok(format!("{:012X}", self.next)),
                _ => Err("disk full".into()),
            }),
            Action::ListMailbox { with_packets, .. } => {
                let entries = (0..self.pick(4))
                    .map(|i| MailboxEntry {
                        id: format!("M{i}"),
                        tags: Tags::default(),
                        packet: with_packets.then(|| {
                            // A literal, valid JSON value.
                            RawValue::from_string(format!("{{\"meta\":{{\"n\":{i}}}}}"))
                                .expect("valid JSON")
                        }),
                    })
                    .collect();
                session.mailbox(entries);
            }
            Action::Drain(_) => session.drained(match self.pick(2) {
                0 => Ok(()),
                _ => Err("disk full".into()),
            }),
            Action::RegisterKey { .. } => session.key_registered(match self.pick(4) {
                0 => Ok(()),
                1 => Err(KeyError::Invalid("not a key".into())),
                2 => Err(KeyError::Conflict),
                _ => Err(KeyError::Failed("registry unavailable".into())),
            }),
            Action::LookupKey { .. } => session.key_found(match self.pick(2) {
                0 => Some("-----BEGIN PGP PUBLIC KEY BLOCK-----".into()),
                _ => None,
            }),
            Action::Close => self.closed = true,
        }
    }
}

/// Checks the output's shape and returns how many responses it holds.
fn check_output(output: &[u8], difficulty: u32) -> usize {
    assert!(
        output.is_empty() || output.ends_with(b"\n"),
        "a response not ended by \\n"
    );
    let mut count = 0;
    for line in output.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let value: serde_json::Value =
            serde_json::from_slice(line).unwrap_or_else(|e| panic!("a response is not JSON: {e}"));
        assert!(
            value
                .get("status")
                .is_some_and(serde_json::Value::is_string),
            "a response without a status: {value}"
        );
        if count == 0 {
            assert_eq!(value["difficulty"], difficulty, "the welcome: {value}");
        }
        count += 1;
    }
    assert!(count >= 1, "no welcome");
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmtp::hashcash::{Stamp, mint};
    use crate::mmtp::packet::{NewPacket, PacketType, build, plain_content};

    const ALICE: &str = "(alice)%(example.com)";
    const BOB: &str = "(bob)%(example.com)";

    /// The decision bytes `mmtp_session` reads first, for a roomy session at difficulty 0
    /// whose driver always takes its first answer (token new, stored, empty mailbox, key
    /// registered and found), then `stream` cut in three places.
    fn input(stream: &[u8]) -> Vec<u8> {
        // difficulty 0, TLS listener, pgp, max_value 16 + 4095, max_depth 40, max_errors 24,
        // plain connection, time out at the end, answers [0], three cuts.
        let mut data = vec![0, 1, 1, 0x0f, 0xff, 39, 23, 0, 1, 1, 0, 3, 10, 100, 200];
        data.extend_from_slice(stream);
        data
    }

    /// A SEND whose packet passes every check at difficulty 0 and NOW_MS.
    fn valid_send() -> String {
        let stamp = Stamp {
            difficulty: 0,
            timestamp_ms: NOW_MS,
            sender: ALICE.into(),
            recipient: BOB.into(),
        };
        let counter = mint(&stamp, 0..u64::MAX).expect("difficulty 0 takes any counter");
        let packet = build(NewPacket {
            kind: PacketType::Send,
            message_id: "m-1".into(),
            timestamp_ms: NOW_MS,
            sender: ALICE.into(),
            recipient: BOB.into(),
            content: plain_content("Hello", "Hello, this is a test message."),
            hashcash: stamp.hashcash_token(counter),
            tags: None,
            signature: None,
            encrypted: None,
        });
        format!(
            r#"{{"action":"SEND","data":{{"packet":{}}}}}"#,
            packet.to_compact_string()
        )
    }

    fn every_request() -> Vec<u8> {
        let lines = [
            valid_send(),
            format!(r#"{{"action":"CHECK","data":{{"email":"{BOB}"}}}}"#),
            format!(r#"{{"action":"RECEIVE","data":{{"email":"{BOB}"}}}}"#),
            format!(r#"{{"action":"REQUEST_PUBLIC_KEY","data":{{"email":"{ALICE}"}}}}"#),
            format!(r#"{{"action":"REGISTER_KEY","data":{{"email":"{ALICE}","publicKey":"k"}}}}"#),
            r#"{"action":"GET_TAG_CATEGORIES","data":{}}"#.into(),
            "not json at all".into(),
            r#"{"action":"NOPE","data":{}}"#.into(),
        ];
        lines
            .iter()
            .flat_map(|l| format!("{l}\n").into_bytes())
            .collect()
    }

    #[test]
    fn every_request_kind_is_answered_and_a_valid_send_is_delivered() {
        let data = input(&every_request());
        mmtp_session(&data);
        let config = Arc::new(SessionConfig {
            difficulty: 0,
            ..SessionConfig::default()
        });
        let outcome = run(&config, false, &[0], &[&every_request()], true);
        let text = String::from_utf8(outcome.output).unwrap();
        // The welcome, eight answers, and the idle timeout's notice.
        assert_eq!(text.lines().count(), 10, "{text}");
        assert!(text.contains("Message delivered successfully"), "{text}");
        assert!(text.contains("TIMEOUT"), "{text}");
        assert!(outcome.closed);
    }

    #[test]
    fn a_truncated_value_is_not_answered() {
        let mut stream = every_request();
        stream.extend_from_slice(br#"{"action":"CHECK","da"#);
        mmtp_session(&input(&stream));
    }
}
