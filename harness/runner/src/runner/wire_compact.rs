//! Keeps a case's wire log readable and its reports small: a run of bytes written (or read)
//! on one connection without a reply in between, longer than [`KEEP_HEAD`] + [`KEEP_TAIL`],
//! keeps its first and last lines and says how much of the middle is not shown. A 10 MB
//! message sent to test a size limit is then a few dozen lines in every report instead of
//! 131,000, while what a reader needs (how it starts, how it ends, how long it was) stays.

use crate::wire::{WireEvent, WireKind};

/// Octets kept from the start of a long run (cut back to a line end when there is one).
pub(crate) const KEEP_HEAD: usize = 4 * 1024;
/// Octets kept from the end of a long run (cut forward to a line start when there is one).
pub(crate) const KEEP_TAIL: usize = 1024;

/// The log with every long run shortened; other events unchanged and in order.
pub(crate) fn compact(events: Vec<WireEvent>) -> Vec<WireEvent> {
    let mut out = Vec::with_capacity(events.len());
    let mut events = events.into_iter().peekable();
    while let Some(first) = events.next() {
        if !matches!(first.kind, WireKind::Sent | WireKind::Received) {
            out.push(first);
            continue;
        }
        let mut run = vec![first];
        while let Some(next) = events.next_if(|e| same_run(&run[0], e)) {
            run.push(next);
        }
        let total: usize = run.iter().map(|e| e.data.len()).sum();
        if total <= KEEP_HEAD + KEEP_TAIL {
            out.extend(run);
        } else {
            out.extend(shorten(run));
        }
    }
    out
}

fn same_run(first: &WireEvent, next: &WireEvent) -> bool {
    next.kind == first.kind && next.conn == first.conn && next.tls == first.tls
}

/// One long run as its head, a note, and its tail.
fn shorten(run: Vec<WireEvent>) -> [WireEvent; 3] {
    let last_at = run.last().map(|e| e.at).unwrap_or_default();
    let first = &run[0];
    let (at, conn, kind, tls) = (first.at, first.conn, first.kind, first.tls);
    let data: Vec<u8> = run.iter().flat_map(|e| e.data.iter().copied()).collect();
    let head_end = data[..KEEP_HEAD]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(KEEP_HEAD, |lf| lf + 1);
    let tail_from = data.len() - KEEP_TAIL;
    let tail_start = data[tail_from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(tail_from, |lf| tail_from + lf + 1)
        .min(data.len());
    let hidden = &data[head_end..tail_start];
    let lines = hidden.iter().filter(|&&b| b == b'\n').count();
    let who = if kind == WireKind::Sent {
        "sent by the harness"
    } else {
        "sent by the target"
    };
    let note = format!(
        "{} octets ({lines} line ends) {who} not shown; {} in this write run",
        hidden.len(),
        data.len()
    );
    let event = |at, kind, data: &[u8]| WireEvent {
        at,
        conn,
        kind,
        tls,
        data: data.to_vec(),
    };
    [
        event(at, kind, &data[..head_end]),
        event(last_at, WireKind::Note, note.as_bytes()),
        event(last_at, kind, &data[tail_start..]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sent(data: &[u8]) -> WireEvent {
        WireEvent {
            at: Duration::ZERO,
            conn: 1,
            kind: WireKind::Sent,
            tls: false,
            data: data.to_vec(),
        }
    }

    #[test]
    fn short_runs_are_untouched() {
        let events = vec![sent(b"MAIL FROM:<a@b>\r\n"), sent(b"RCPT TO:<c@d>\r\n")];
        assert_eq!(compact(events.clone()), events);
    }

    #[test]
    fn a_long_run_keeps_whole_lines_at_both_ends_and_counts_the_rest() {
        let line =
            b"0123456789012345678901234567890123456789012345678901234567890123456789012345\r\n";
        let mut events = vec![sent(b"DATA\r\n")];
        events.extend((0..1000).map(|_| sent(line)));
        events.push(sent(b".\r\n"));
        let out = compact(events);
        assert_eq!(out.len(), 3);
        let (head, note, tail) = (&out[0], &out[1], &out[2]);
        assert!(head.data.starts_with(b"DATA\r\n") && head.data.ends_with(b"\r\n"));
        assert!(tail.data.ends_with(b"\r\n.\r\n") && tail.data.starts_with(b"0123"));
        assert!(head.data.len() <= KEEP_HEAD && tail.data.len() <= KEEP_TAIL);
        let hidden = 6 + 1000 * line.len() + 3 - head.data.len() - tail.data.len();
        let text = String::from_utf8_lossy(&note.data);
        assert_eq!(note.kind, WireKind::Note);
        assert!(text.starts_with(&format!("{hidden} octets")), "{text}");
    }

    #[test]
    fn a_reply_between_writes_ends_a_run() {
        let big = vec![b'x'; KEEP_HEAD];
        let mut reply = sent(b"250 ok\r\n");
        reply.kind = WireKind::Received;
        let events = vec![sent(&big), reply, sent(&big)];
        assert_eq!(compact(events.clone()), events);
    }
}
