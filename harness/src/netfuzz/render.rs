//! Showing octets to people: escapes for control and 8-bit octets, and a session's wire
//! events as a `C:`/`S:` transcript.

use std::fmt::Write;

use super::driver::Event;

/// Printable ASCII as is; CR, LF, TAB, NUL as `\r`, `\n`, `\t`, `\0`; other octets `\xNN`.
/// Runs of one repeated octet longer than 16 are shortened to `a{5000}`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let run = bytes[i..].iter().take_while(|&&c| c == b).count();
        if run > 16 {
            let _ = write!(out, "{}{{{run}}}", one(b));
            i += run;
            continue;
        }
        out.push_str(&one(b));
        i += 1;
    }
    out
}

fn one(b: u8) -> String {
    match b {
        b'\r' => "\\r".into(),
        b'\n' => "\\n".into(),
        b'\t' => "\\t".into(),
        0 => "\\0".into(),
        b'\\' => "\\\\".into(),
        0x20..=0x7e => (b as char).to_string(),
        _ => format!("\\x{b:02x}"),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(escape(b"MAIL\0\r\n\xff"), "MAIL\\0\\r\\n\\xff");
        assert_eq!(escape(&[b'a'; 20]), "a{20}");
    }
}
