//! Wire logs as text: one line per protocol line, client and server marked, the connection
//! number and TLS leg on every line, unusual line ends and bytes made visible. The normalized
//! form (run-dependent values redacted, no times) is what snapshots store.

use std::fmt::Write as _;
use std::sync::LazyLock;

use regex::Regex;

use crate::verdict::CaseResult;
use crate::wire::{WireEvent, WireKind, escape};

/// Lines longer than this are shortened (start, byte count, end).
const LONG_LINE: usize = 1024;

/// Renders a wire log. With `times`, each line starts with the milliseconds since the case
/// began.
pub fn render(events: &[WireEvent], times: bool) -> String {
    render_lines(events, times, LineEnd::Crlf)
}

/// Renders a case's wire log with the line end of its protocol: CRLF for SMTP and VMTP, LF for
/// MMTP (where each JSON value ends with `\n`).
pub fn render_case(result: &CaseResult, times: bool) -> String {
    let end = match result.protocol {
        mtpspec_scenario::Protocol::Mmtp => LineEnd::Lf,
        _ => LineEnd::Crlf,
    };
    render_lines(&result.wire, times, end)
}

/// What ends a line without being shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LineEnd {
    Crlf,
    Lf,
    /// LF, and long lines are kept whole (to be shortened after redaction).
    LfWhole,
}

fn render_lines(events: &[WireEvent], times: bool, end: LineEnd) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < events.len() {
        let first = &events[i];
        let mut data = first.data.clone();
        let mut j = i + 1;
        if matches!(first.kind, WireKind::Sent | WireKind::Received) {
            while j < events.len()
                && events[j].kind == first.kind
                && events[j].conn == first.conn
                && events[j].tls == first.tls
            {
                data.extend_from_slice(&events[j].data);
                j += 1;
            }
        }
        let prefix = {
            let time = if times {
                format!("{:>7} ", format!("+{}ms", first.at.as_millis()))
            } else {
                String::new()
            };
            let leg = if first.tls { "tls" } else { "   " };
            format!("{time}#{} {leg} ", first.conn)
        };
        match first.kind {
            WireKind::Sent | WireKind::Received => {
                let who = if first.kind == WireKind::Sent {
                    "C:"
                } else {
                    "S:"
                };
                for line in split_lines(&data, end) {
                    let _ = writeln!(out, "{prefix}{who} {line}");
                }
            }
            kind => {
                let note = String::from_utf8_lossy(&first.data);
                let text = match kind {
                    WireKind::Connected => format!("connected ({note})"),
                    WireKind::TlsStarted => format!("TLS established ({note})"),
                    WireKind::Discarded => format!("discarded before TLS: {}", escape(&first.data)),
                    WireKind::PeerClosed if note.is_empty() => "closed by the target".into(),
                    WireKind::PeerClosed => format!("closed by the target ({note})"),
                    WireKind::ClientClosed => "closed by the harness".into(),
                    _ => note.into_owned(),
                };
                let _ = writeln!(out, "{prefix}-- {text}");
            }
        }
        i = j;
    }
    out
}

/// Splits at LF; CRLF line ends are implied (or, with `LineEnd::Lf`, LF ones), others shown
/// (`<LF>` for a bare LF, `<no line end>` for a trailing partial line).
fn split_lines(data: &[u8], end: LineEnd) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (line, ending, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(lf) if end != LineEnd::Crlf => (&rest[..lf], "", &rest[lf + 1..]),
            Some(lf) if lf > 0 && rest[lf - 1] == b'\r' => (&rest[..lf - 1], "", &rest[lf + 1..]),
            Some(lf) => (&rest[..lf], "<LF>", &rest[lf + 1..]),
            None => (rest, "<no line end>", &rest[rest.len()..]),
        };
        let line = escape(line);
        let line = if end == LineEnd::LfWhole {
            line
        } else {
            shorten(&line)
        };
        lines.push(format!("{line}{ending}"));
        rest = next;
    }
    lines
}

/// Keeps the start and the end of a long line. Both cuts move to a delimiter so that a unique
/// per-case value is never cut in half (it must stay whole to be redacted in snapshots).
fn shorten(line: &str) -> String {
    if line.len() <= LONG_LINE {
        return line.to_string();
    }
    let delimiter = |c: char| ",<>@ :;=".contains(c);
    let chars: Vec<char> = line.chars().collect();
    let mut head_end = 200.min(chars.len());
    while head_end > 0 && !delimiter(chars[head_end - 1]) {
        head_end -= 1;
    }
    let mut tail_start = chars.len().saturating_sub(60).max(head_end);
    while tail_start < chars.len() && !delimiter(chars[tail_start]) {
        tail_start += 1;
    }
    let head: String = chars[..head_end].iter().collect();
    let tail: String = chars[tail_start..].iter().collect();
    format!(
        "{head}<… {} more …>{tail}",
        line.len() - head.len() - tail.len()
    )
}

static PATTERNS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    // Literal patterns: compiling them cannot fail.
    let re = |p: &str| Regex::new(p).expect("valid regex");
    vec![
        (
            re(
                r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun), +\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d(:\d\d)? ([+-]\d{4}|[A-Z]{1,5})",
            ),
            "[date]",
        ),
        (
            re(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)"),
            "[time]",
        ),
        (re(r"\[?\b\d{1,3}(\.\d{1,3}){3}\b\]?(:\d{1,5})?"), "[addr]"),
        (re(r"(?i)(queued as) [A-Za-z0-9._-]+"), "$1 [id]"),
        (re(r"\b[0-9A-F]{12,64}\b"), "[id]"),
        // MMTP: HashCash counters and Unix-millisecond times (13 digits, 2001 to 2286).
        (re(r#""counter":\d+"#), r#""counter":[n]"#),
        (re(r"\b(counter|has) \d+\b"), "$1 [n]"),
        (re(r"\b1\d{12}\b"), "[ms]"),
    ]
});

/// HTTP (gateway) answers: message sizes and elided strings depend on the lengths of ids;
/// gateway ids (`<ms hex>.<pid hex>.<n>`) that no step captured; whether the outbox happened
/// to group messages into one VMTP BATCH depends on timing.
static HTTP_PATTERNS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    // Literal patterns: compiling them cannot fail.
    let re = |p: &str| Regex::new(p).expect("valid regex");
    vec![
        (re(r#""VMTP BATCH",?"#), ""),
        (re(r#""size":\d+"#), r#""size":[n]"#),
        (re(r#""\[\d+ chars\]""#), r#""[n chars]""#),
        (
            re(r"\b[0-9a-f]{9,16}\.[0-9a-f]{1,8}\.\d+\b"),
            "[gateway id]",
        ),
    ]
});

static HTTP_TIME: LazyLock<Regex> = LazyLock::new(|| {
    // A literal pattern: compiling it cannot fail.
    Regex::new(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)").expect("valid regex")
});

/// The transcript without times and without anything that changes from run to run: the
/// case's unique values become their `{{names}}`, the server's name `[host]`, and dates,
/// addresses, ports and message ids placeholders.
///
/// MMTP lines (JSON values with hashes, tokens and counters of varying length) are shortened
/// after the redactions, so that a shortened line reads the same in every run.
pub fn normalized(result: &CaseResult) -> String {
    let mmtp = result.protocol == mtpspec_scenario::Protocol::Mmtp;
    let mut text = if mmtp {
        render_lines(&result.wire, false, LineEnd::LfWhole)
    } else {
        render_case(result, false)
    };
    if result.protocol == mtpspec_scenario::Protocol::Http {
        // Times first: a captured time (`opened_at`) may equal another time in the answer.
        text = HTTP_TIME.replace_all(&text, "[time]").into_owned();
    }
    for (value, name) in &result.redactions {
        text = text.replace(value.as_str(), name);
    }
    for (pattern, replacement) in PATTERNS.iter() {
        text = pattern.replace_all(&text, *replacement).into_owned();
    }
    if result.protocol == mtpspec_scenario::Protocol::Http {
        for (pattern, replacement) in HTTP_PATTERNS.iter() {
            text = pattern.replace_all(&text, *replacement).into_owned();
        }
    }
    if mmtp {
        text = text.lines().map(|l| format!("{}\n", shorten(l))).collect();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn event(kind: WireKind, tls: bool, data: &[u8]) -> WireEvent {
        WireEvent {
            at: Duration::from_millis(3),
            conn: 1,
            kind,
            tls,
            data: data.to_vec(),
        }
    }

    #[test]
    fn renders_lines_and_odd_bytes() {
        let events = [
            event(WireKind::Connected, false, b"plain"),
            event(WireKind::Received, false, b"220 mx ESMTP\r\n"),
            event(WireKind::Sent, false, b"D"),
            event(WireKind::Sent, false, b"ATA x\nY\r\0\xff\r\n."),
            event(WireKind::TlsStarted, true, b"TLSv1_3"),
        ];
        let text = render(&events, false);
        assert_eq!(
            text,
            "#1     -- connected (plain)\n#1     S: 220 mx ESMTP\n#1     C: DATA x<LF>\n#1     C: Y<CR><NUL><xFF>\n#1     C: .<no line end>\n#1 tls -- TLS established (TLSv1_3)\n"
        );
        assert!(render(&events, true).starts_with("   +3ms #1"));
    }

    #[test]
    fn normalizes() {
        let mut result = CaseResult {
            id: "x".into(),
            title: String::new(),
            file: String::new(),
            line: 1,
            spec: vec![],
            level: mtpspec_scenario::Level::Must,
            protocol: mtpspec_scenario::Protocol::Smtp,
            verdict: crate::verdict::Verdict::Pass,
            reason: None,
            failure: None,
            timed_out: false,
            refused: false,
            fallback: false,
            duration: Duration::ZERO,
            baseline: None,
            wire: vec![event(
                WireKind::Received,
                false,
                b"250 2.0.0 Ok: queued as 00000000002A for m-1@x at 127.0.0.1:2525 Sun, 22 Nov 2026 20:31:00 +0000\r\n",
            )],
            redactions: vec![("m-1@x".into(), "{{rcpt}}".into())],
        };
        assert_eq!(
            normalized(&result),
            "#1     S: 250 2.0.0 Ok: queued as [id] for {{rcpt}} at [addr] [date]\n"
        );
        result.wire[0].data = b"250 2.0.0 0123456789AB DELIVERED 2026-11-22T20:14:00Z\r\n".to_vec();
        assert_eq!(
            normalized(&result),
            "#1     S: 250 2.0.0 [id] DELIVERED [time]\n"
        );
    }
}
