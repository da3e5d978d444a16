//! A fuzzing session's wire events as a `C:`/`S:` transcript, its octets shown the harness's
//! one way ([`mtpspec_runner::wire::escape_runs`]: `<CR><LF>`, `<xHH>`, long runs counted).

use std::fmt::Write;

use super::driver::Event;
use mtpspec_runner::wire::escape_runs as escape;

/// The events as a transcript: `C:` for each write (`|` between writes of one operation),
/// `S:` for each reply line, `--` for markers (TLS started, closed, notes).
pub fn transcript(events: &[Event]) -> String {
    let mut out = String::new();
    for event in events {
        match event {
            Event::Sent { pieces, .. } => {
                let shown: Vec<String> = pieces.iter().map(|p| escape(p)).collect();
                let _ = writeln!(out, "C: {}", shown.join(" | "));
            }
            Event::Received(reply) => {
                for line in &reply.lines {
                    let _ = writeln!(out, "S: {}", escape(line));
                }
            }
            Event::Tls => out.push_str("-- TLS handshake\n"),
            Event::Note(note) => {
                let _ = writeln!(out, "-- {note}");
            }
        }
    }
    out
}
