//! A finding as a scenario (the format of scenarios/README.md) that `mtpspec run --scenarios
//! FILE --target URL` replays: the minimized session's exact writes, in hex, and after each the
//! behaviour RFC 5321 demands (one well-formed reply per command, silence after them, a close
//! only after 221, a greeting on a fresh connection). It passes on a correct server and fails
//! while the bug is there.

use std::fmt::Write;

use super::driver::{Event, Outcome};
use super::oracle::{Kind, plain_known_verb};
use mtpspec_runner::wire::escape_runs as escape;

/// Any reply code; the syntax is what the case checks (the runner's parser fails a malformed
/// line).
const ANY: &str = "[2xx, 3xx, 4xx, 5xx]";

/// Any reply code but 500 (SMTP-SYNTAX-3: a known verb is never "unrecognized").
const NOT_500: &str = "[2xx, 3xx, 4xx, 501, 502, 503, 504, 505, 506, 507, 508, 509, 51x, 52x, 53x, 54x, 55x, 56x, 57x, 58x, 59x]";

/// What a finding's case says about itself.
pub struct CaseInfo<'a> {
    /// The case id (`fuzz-<target>-<kind>-<n>`).
    pub id: &'a str,
    /// The finding's kind: it picks the spec id, the level (`should` for reply text and a
    /// close after an error, else `must`) and the checks after each write.
    pub kind: Kind,
    /// The case's one-line title.
    pub title: &'a str,
    /// The case's description: how it was found and the rule it breaks.
    pub description: &'a str,
}

/// The YAML of a one-case scenario file reproducing `outcome`.
pub fn scenario(info: &CaseInfo<'_>, outcome: &Outcome) -> String {
    let mut y = String::new();
    let _ = writeln!(y, "- id: {}", info.id);
    let _ = writeln!(y, "  title: {}", quote(info.title));
    let _ = writeln!(y, "  spec: [{}]", info.kind.spec_id());
    let level = if matches!(info.kind, Kind::ReplyText | Kind::CloseAfterError) {
        "should"
    } else {
        "must"
    };
    let _ = writeln!(y, "  level: {level}");
    let _ = writeln!(y, "  description: {}", quote(info.description));
    let _ = writeln!(y, "  deadline_ms: 60000");
    let _ = writeln!(y, "  steps:");
    y.push_str(&steps(info.kind, outcome));
    y
}

fn steps(kind: Kind, outcome: &Outcome) -> String {
    let mut y = String::from("    - expect: 220\n");
    let expect = if kind == Kind::ReplyText {
        // RFC 5321 §4.2 textstring; well-formed UTF-8 allowed (RFC 6531). Lines are joined by LF.
        format!("{{code: {ANY}, text: '^[^\\x00-\\x08\\x0b-\\x1f\\x7f]*$'}}")
    } else {
        ANY.to_string()
    };
    let last_sent = outcome
        .events
        .iter()
        .rposition(|e| matches!(e, Event::Sent { .. }));
    let after_quit = outcome.anomaly.as_ref().is_some_and(|a| a.op.is_none())
        && outcome
            .events
            .iter()
            .any(|e| matches!(e, Event::Received(r) if r.code == 221));
    for (n, event) in outcome.events.iter().enumerate() {
        match event {
            Event::Sent { pieces, owed, .. } => {
                write_step(&mut y, pieces);
                // A 221 among the replies owed (QUIT, or a server closing) ends the exchange; a
                // 221 past them is a reply for nothing, which the silence check catches.
                let quits = replies_after(outcome, n)
                    .iter()
                    .take(*owed)
                    .position(|&c| c == 221);
                let sent = pieces.concat();
                let lines: Vec<&[u8]> = sent.split(|&b| b == b'\n').collect();
                for j in 0..quits.map_or(*owed, |q| q + 1) {
                    let known = kind == Kind::UnrecognizedKnownVerb
                        && Some(n) == last_sent
                        && lines
                            .get(j)
                            .is_some_and(|l| plain_known_verb(l.strip_suffix(b"\r").unwrap_or(l)));
                    let e = if known { NOT_500 } else { &expect };
                    let _ = writeln!(y, "    - expect: {e}");
                }
                if quits.is_some() {
                    y.push_str("    - expect_close\n");
                } else if Some(n) == last_sent
                    && matches!(
                        kind,
                        Kind::ExtraReply
                            | Kind::UnexpectedClose
                            | Kind::Reset
                            | Kind::CloseAfterError
                    )
                    && !after_quit
                {
                    y.push_str("    - expect_silence: 500\n");
                }
            }
            Event::Tls => y.push_str("    - tls_handshake\n"),
            Event::Note(note) => {
                let _ = writeln!(y, "    # {}", note.replace('\n', " "));
            }
            Event::Received(_) => {}
        }
    }
    if kind == Kind::Crash {
        y.push_str("    # the port must still greet a new connection\n");
        y.push_str("    - connection: 2\n    - expect: 220\n    - ehlo\n    - send: QUIT\n    - expect: 221\n");
    }
    y
}

/// The codes of the replies between event `n` and the next write.
fn replies_after(outcome: &Outcome, n: usize) -> Vec<u16> {
    outcome.events[n + 1..]
        .iter()
        .take_while(|e| !matches!(e, Event::Sent { .. }))
        .filter_map(|e| match e {
            Event::Received(r) => Some(r.code),
            _ => None,
        })
        .collect()
}

fn write_step(y: &mut String, pieces: &[Vec<u8>]) {
    let all: Vec<u8> = pieces.concat();
    let _ = writeln!(y, "    # C: {}", escape(&all));
    let first = pieces.first().map_or(0, Vec::len);
    let regular = pieces.len() > 1
        && pieces[..pieces.len() - 1].iter().all(|p| p.len() == first)
        && pieces.last().is_some_and(|p| p.len() <= first);
    if pieces.len() == 1 || regular {
        let chunk = if regular {
            format!(", chunk: {first}")
        } else {
            String::new()
        };
        let _ = writeln!(y, "    - write: {{hex: \"{}\"{chunk}}}", hex(&all));
    } else {
        for piece in pieces {
            let _ = writeln!(y, "    - write: {{hex: \"{}\"}}", hex(piece));
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A YAML double-quoted scalar (JSON string syntax is a subset of it).
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}
