//! Checks on the lines and octets that reached the next hop, on every content the case brought
//! (copies, and notifications carrying the message) and on the commands: line ends, line
//! length, dot-stuffing, octets above 0x7F, and UTF-8 in addresses and header fields.

use super::arrived::Arrived;
use super::content::{bare_line_end, header_fields};
use super::judge::{shown, where_};
use crate::servetest::judge::Finding;
use crate::servetest::record::EventKind;
use mtpspec_runner::wire::escape;

/// The most a line may have, its CRLF included.
const LINE_MAX: usize = 1000;

fn no_content() -> Finding {
    Finding::NotReached("no message content arrived".into())
}

/// The data's lines as the next hop reads them (cut at CRLF), each with its offset, without
/// its CRLF.
fn crlf_lines(data: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= data.len() {
            return None;
        }
        let start = at;
        let end = data[at..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(data.len(), |p| at + p);
        at = end + 2;
        Some((start, &data[start..end]))
    })
}

/// RFC 5321 §2.3.8: "SMTP client implementations MUST NOT transmit these characters except
/// when they are intended as line terminators and then MUST, as indicated above, transmit them
/// only as a `<CRLF>` sequence."
pub fn crlf_only(arrived: &Arrived) -> Finding {
    let mut any = false;
    for (t, data) in arrived.contents() {
        any = true;
        if let Some((what, at)) = bare_line_end(data) {
            return Finding::Broken(format!(
                "bare {what} at octet {at} of the data on {}; the data as received: {}",
                where_(t),
                shown(data)
            ));
        }
    }
    if any { Finding::Ok } else { no_content() }
}

/// RFC 6152 §3: "the client SMTP must not, under any circumstances, attempt to transfer a
/// content that contains characters outside of the US-ASCII octet range (hex 00-7F)" to a
/// server that does not advertise 8BITMIME.
pub fn seven_bit(arrived: &Arrived) -> Finding {
    let mut any = false;
    for (t, data) in arrived.contents() {
        any = true;
        if let Some(at) = data.iter().position(|b| *b > 0x7F) {
            let from = at.saturating_sub(40);
            let to = (at + 40).min(data.len());
            return Finding::Broken(format!(
                "octet 0x{:02X} at {at} of the data on {}: ...{}...",
                data[at],
                where_(t),
                escape(&data[from..to])
            ));
        }
    }
    if let Some(line) = non_ascii_command(arrived) {
        return Finding::Broken(format!("a command with 8-bit octets: {line}"));
    }
    if any { Finding::Ok } else { no_content() }
}

fn non_ascii_command(arrived: &Arrived) -> Option<String> {
    arrived.events.iter().find_map(|e| match &e.kind {
        EventKind::Command { line, .. } if !line.is_ascii() => Some(line.clone()),
        _ => None,
    })
}

/// RFC 5321 §4.5.3.1.6: "The maximum total length of a text line including the `<CRLF>` is
/// 1000 octets (not counting the leading dot duplicated for transparency)." / §4.5.3.1:
/// "Objects larger than these sizes SHOULD be avoided when possible." Judged on the copies of
/// the message (a notification quoting it is the notification's matter).
pub fn line_limit(arrived: &Arrived) -> Finding {
    let mut any = false;
    for t in arrived.sent() {
        let data = t.data.as_deref().unwrap_or_default();
        any = true;
        for (at, line) in crlf_lines(data) {
            let stuffed = usize::from(line.starts_with(b".."));
            let length = line.len() + 2 - stuffed;
            if length > LINE_MAX {
                return Finding::Broken(format!(
                    "a line of {length} octets with its CRLF at octet {at} of the data on {}: \
                     {}",
                    where_(t),
                    shown(&line[..line.len().min(120)])
                ));
            }
        }
    }
    if any { Finding::Ok } else { no_content() }
}

/// RFC 5321 §4.5.2: "Before sending a line of mail text, the SMTP client checks the first
/// character of the line. If it is a period, one additional period is inserted at the
/// beginning of the line." A line sent so starts with two dots; one that starts with a single
/// dot was not stuffed, and the next hop deletes its dot (a lone "." ends the data there).
pub fn dot_stuffed(arrived: &Arrived) -> Finding {
    let mut any = false;
    for (t, data) in arrived.contents() {
        any = true;
        if let Some((at, line)) =
            crlf_lines(data).find(|(_, l)| l.starts_with(b".") && !l.starts_with(b".."))
        {
            return Finding::Broken(format!(
                "a line starting with a single \".\" at octet {at} of the data on {} (not \
                 dot-stuffed: the next hop deletes the dot): {}",
                where_(t),
                shown(&line[..line.len().min(120)])
            ));
        }
    }
    if any { Finding::Ok } else { no_content() }
}

/// RFC 6531 §3.2: "If the SMTPUTF8 SMTP extension is not offered by the SMTP server, the
/// SMTPUTF8-aware SMTP client MUST NOT transmit an internationalized email address and MUST
/// NOT transmit a mail message containing internationalized mail headers as described in RFC
/// 6532 \[RFC6532\] at any level within its MIME structure". Judged on the commands and on the
/// top-level header section of every content that arrived.
pub fn ascii_envelope_and_headers(arrived: &Arrived) -> Finding {
    if let Some(line) = non_ascii_command(arrived) {
        return Finding::Broken(format!("a command with a UTF-8 address: {line}"));
    }
    for (t, data) in arrived.contents() {
        let (fields, _) = header_fields(data);
        if let Some(field) = fields.iter().find(|f| !f.is_ascii()) {
            return Finding::Broken(format!(
                "a header field with UTF-8 on {}: {}",
                where_(t),
                shown(field)
            ));
        }
    }
    Finding::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_at_crlf() {
        let lines: Vec<_> = crlf_lines(b"a\r\n..b\r\nc\nd\r\n").collect();
        assert_eq!(lines, [(0, &b"a"[..]), (3, b"..b"), (8, b"c\nd")]);
    }
}
