//! Entry points for the cargo-fuzz targets in `fuzz/` and for replaying their corpora as
//! ordinary tests on stable. Each function takes raw fuzzer bytes, runs one parser or session
//! and asserts the invariants that must hold for any input. Not a public API.
//!
//! The SMTP codecs and the server session are here; the client session, the VMTP-heavy server
//! session, MMTP framing and packets, the MMTP server session, HashCash and tags each have a
//! submodule.

mod choices;
mod client;
mod hashcash;
mod mmtp;
mod mmtp_session;
mod tags;
mod vmtp;

pub use client::client_session;
pub use hashcash::hashcash_verify;
pub use mmtp::{mmtp_framing, mmtp_packet};
pub use mmtp_session::mmtp_session;
pub use tags::tags;
pub use vmtp::vmtp_session;

use std::sync::Arc;

use crate::smtp::command::Command;
use crate::smtp::data::{DataReceiver, dot_stuff};
use crate::smtp::reply::{Reply, ReplyParser};
use crate::smtp::server::{Action, ConnectionInfo, ServerConfig, ServerSession, StatusInfo};

/// A command line parses or is refused; what parses re-encodes to a line that parses the same.
pub fn command_line(data: &[u8]) {
    if let Ok(command) = Command::parse(data) {
        let line = command.to_line();
        let again = Command::parse(line.trim_end_matches("\r\n").as_bytes());
        assert_eq!(again.as_ref(), Ok(&command), "re-parse of {line:?}");
    }
}

/// Any byte stream splits into replies or errors; every reply re-encodes to itself.
pub fn reply_stream(data: &[u8]) {
    let mut parser = ReplyParser::new();
    parser.feed(data);
    while let Some(result) = parser.next_reply() {
        if let Ok(reply) = result {
            let mut again = ReplyParser::new();
            again.feed(&reply.to_bytes());
            assert_eq!(again.next_reply(), Some(Ok(reply)));
        }
    }
}

/// Dot-stuffing then receiving gives the message back (with a final CRLF), and raw input
/// split at any point gives the same result as unsplit.
pub fn data_round_trip(data: &[u8]) {
    let (split, body) = match data.split_first() {
        Some((&s, rest)) => (s as usize, rest),
        None => (0, data),
    };
    let wire = dot_stuff(body);
    let mut receiver = DataReceiver::new(u64::MAX, usize::MAX);
    let (used, done) = receiver.feed(&wire);
    assert!(
        done && used == wire.len(),
        "stuffed data must end exactly at its terminator"
    );
    let mut expected = body.to_vec();
    if !expected.ends_with(b"\r\n") {
        expected.extend_from_slice(b"\r\n");
    }
    assert_eq!(receiver.finish().ok(), Some(expected));

    let cut = split % (body.len() + 1);
    let whole = receive_raw(&[body]);
    let parts = receive_raw(&[&body[..cut], &body[cut..]]);
    assert_eq!(whole, parts);
}

fn receive_raw(chunks: &[&[u8]]) -> (usize, bool, Option<Vec<u8>>) {
    let mut receiver = DataReceiver::new(1 << 20, 1000);
    let mut consumed = 0;
    for chunk in chunks {
        let (used, done) = receiver.feed(chunk);
        consumed += used;
        if done {
            return (consumed, true, receiver.finish().ok());
        }
    }
    (consumed, false, None)
}

/// Drives a whole server session with the fuzzer's bytes, cut into chunks at the positions the
/// first bytes choose. Invariants: no panic; everything written parses as well-formed replies;
/// never more stored messages than end-of-data points the session reached.
pub fn server_session(data: &[u8]) {
    let mut config = ServerConfig::new("mx.example.test", vec!["example.test".into()]);
    config.tls_available = true;
    config.credentials.push(("alice".into(), "secret".into()));
    let mut session = ServerSession::new(Arc::new(config), ConnectionInfo::default());
    let (cuts, input) = data.split_at(data.len().min(4));
    let mut output = Vec::new();
    let mut delivered = 0usize;
    let mut start = 0;
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|&c| (c as usize * input.len()) / 256)
        .collect();
    points.sort_unstable();
    for end in points.into_iter().chain([input.len()]) {
        session.receive(&input[start..end.max(start)]);
        start = end.max(start);
        while let Some(action) = session.poll_action() {
            match action {
                Action::Deliver(_) => {
                    delivered += 1;
                    session.delivered(Ok(format!("{delivered:012X}")));
                }
                Action::QueryStatus(_) => session.status_answer(None::<StatusInfo>),
                Action::StartTls | Action::Close => {}
            }
        }
        output.extend(session.take_output());
    }
    let replies = all_replies(&output);
    // The final reply to a stored message is `250 2.0.0 Ok: queued as <id>` (SPEC.md
    // SMTP-DATA-7); other 250 replies may echo the client's words, "queued as" included (an
    // address `<"queued as"@x>`), so only a reply that starts so counts.
    let final_ok = replies
        .iter()
        .filter(|r| {
            r.code.get() == 250
                && r.lines
                    .first()
                    .is_some_and(|line| line.starts_with("Ok: queued as "))
        })
        .count();
    assert_eq!(
        final_ok, delivered,
        "every stored message got exactly one 250 with its id"
    );
}

fn all_replies(bytes: &[u8]) -> Vec<Reply> {
    let mut parser = ReplyParser::new();
    parser.feed(bytes);
    let replies: Vec<Reply> = std::iter::from_fn(|| parser.next_reply())
        .map(|r| r.expect("the server writes well-formed replies"))
        .collect();
    assert!(
        parser.buffered().is_empty(),
        "output ends on a reply boundary"
    );
    replies
}
