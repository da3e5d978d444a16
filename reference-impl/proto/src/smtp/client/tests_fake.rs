//! A scripted fake SMTP server for client tests: canned replies, checked command prefixes,
//! and a cut list that splits the server's byte stream anywhere.

use std::collections::VecDeque;

use super::*;

/// Answers each command line with the next canned reply, checking the line's prefix.
struct Fake {
    script: VecDeque<(&'static str, &'static str)>,
    buf: Vec<u8>,
    in_data: bool,
    /// Command lines received ("<data>" for a message).
    lines: Vec<String>,
}

impl Fake {
    fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = self.buf.drain(..at + 2).collect();
            let line = String::from_utf8_lossy(&line[..at]).into_owned();
            if self.in_data && line != "." {
                continue;
            }
            let (expected, reply) = self
                .script
                .pop_front()
                .unwrap_or_else(|| panic!("unscripted line {line:?} after {:?}", self.lines));
            assert!(
                line.to_ascii_uppercase()
                    .starts_with(&expected.to_ascii_uppercase()),
                "expected {expected:?}, got {line:?}"
            );
            self.lines.push(if self.in_data {
                "<data>".into()
            } else {
                line.clone()
            });
            self.in_data = line == "DATA" && reply.starts_with("354");
            out.extend_from_slice(reply.as_bytes());
        }
        out
    }
}

/// Runs a session; `cuts` are offsets in the server's byte stream where it is split.
pub(super) fn run_cut(
    options: ClientOptions,
    messages: Vec<Message>,
    script: &[(&'static str, &'static str)],
    cuts: &[usize],
) -> (Outcome, Vec<String>) {
    drive(options, messages, script, cuts, |client| {
        client.handle_closed("closed by the fake server")
    })
}

/// Runs a session whose server, when it has nothing more to say, stays silent until the
/// client's timeout runs out.
pub(super) fn run_timing_out(
    options: ClientOptions,
    messages: Vec<Message>,
    script: &[(&'static str, &'static str)],
) -> (Outcome, Vec<String>) {
    drive(
        options,
        messages,
        script,
        &[],
        ClientSession::handle_timeout,
    )
}

/// Runs a session; `silence` is what happens when the client waits and no reply comes.
fn drive(
    options: ClientOptions,
    messages: Vec<Message>,
    script: &[(&'static str, &'static str)],
    cuts: &[usize],
    silence: fn(&mut ClientSession),
) -> (Outcome, Vec<String>) {
    let mut script: VecDeque<_> = script.iter().copied().collect();
    let greeting = script.pop_front().expect("a greeting").1;
    let mut fake = Fake {
        script,
        buf: Vec::new(),
        in_data: false,
        lines: Vec::new(),
    };
    let mut client = ClientSession::new(options, messages);
    let mut offset = 0;
    let mut deliver = |client: &mut ClientSession, bytes: &[u8]| {
        let mut start = 0;
        for &cut in cuts {
            if cut > offset + start && cut < offset + bytes.len() {
                client.receive(&bytes[start..cut - offset]);
                start = cut - offset;
            }
        }
        client.receive(&bytes[start..]);
        offset += bytes.len();
    };
    deliver(&mut client, greeting.as_bytes());
    for _ in 0..1000 {
        match client.poll_event() {
            Some(Event::Transmit(bytes)) => {
                let reply = fake.feed(&bytes);
                deliver(&mut client, &reply);
            }
            Some(Event::StartTls) => client.tls_established(),
            Some(Event::Done(outcome)) => {
                assert!(fake.script.is_empty(), "unused script: {:?}", fake.script);
                return (*outcome, fake.lines);
            }
            None => silence(&mut client),
        }
    }
    panic!("session did not end");
}

pub(super) fn run(
    options: ClientOptions,
    messages: Vec<Message>,
    script: &[(&'static str, &'static str)],
) -> (Outcome, Vec<String>) {
    run_cut(options, messages, script, &[])
}
