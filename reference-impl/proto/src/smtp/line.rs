//! Splitting client input into command lines.
//!
//! RFC 5321 §2.3.8: lines end with CRLF, and "the character sequence CRLF ... MUST NOT be
//! recognized" any other way. A bare CR or LF therefore stays inside the line (the command
//! parser then refuses it), and only CRLF ends a line. RFC 5321 §4.5.3.1.4 sets 512 octets
//! (CRLF included) as the minimum command line length a server must accept (the floor here;
//! the server's default is 4096, for every command). Longer lines are consumed up to their
//! CRLF and reported once, so the session can answer 500 and go on.

/// Input bytes not yet consumed, with a read position so that taking a line is cheap.
#[derive(Debug, Default)]
pub struct InputBuffer {
    bytes: Vec<u8>,
    pos: usize,
}

impl InputBuffer {
    /// Appends received bytes, first reclaiming the space of what was consumed.
    pub fn extend(&mut self, input: &[u8]) {
        if self.pos > 0 && self.pos == self.bytes.len() {
            self.bytes.clear();
            self.pos = 0;
        } else if self.pos > 4096 && self.pos * 2 > self.bytes.len() {
            self.bytes.drain(..self.pos);
            self.pos = 0;
        }
        self.bytes.extend_from_slice(input);
    }

    /// The bytes not yet consumed.
    pub fn unread(&self) -> &[u8] {
        &self.bytes[self.pos..]
    }

    /// Marks `n` more bytes as consumed (at most all of them).
    pub fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.bytes.len());
    }

    /// True when every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.pos == self.bytes.len()
    }

    /// Drops everything unread: RFC 3207 §4.2 requires discarding plaintext that followed
    /// STARTTLS.
    pub fn clear(&mut self) -> usize {
        let dropped = self.bytes.len() - self.pos;
        self.bytes.clear();
        self.pos = 0;
        dropped
    }
}

/// One result of line splitting.
#[derive(Debug, PartialEq, Eq)]
pub enum LineEvent {
    /// A complete line, without its CRLF.
    Line(Vec<u8>),
    /// A line longer than the limit was consumed through its CRLF.
    TooLong,
}

/// Finds CRLF-terminated lines of at most `max_len` octets (CRLF included).
#[derive(Debug)]
pub struct LineSplitter {
    max_len: usize,
    /// True while skipping the rest of an over-long line.
    discarding: bool,
}

impl LineSplitter {
    /// A splitter for lines of at most `max_len` octets with CRLF; raised to 512 if lower (RFC 5321
    /// §4.5.3.1.4).
    pub fn new(max_len: usize) -> Self {
        Self {
            max_len: max_len.max(512),
            discarding: false,
        }
    }

    /// The next line from `input`, consuming it; `None` until a CRLF arrives. A line over the limit
    /// is consumed and reported once as [`LineEvent::TooLong`].
    pub fn next_line(&mut self, input: &mut InputBuffer) -> Option<LineEvent> {
        let unread = input.unread();
        let Some(end) = find_crlf(unread) else {
            // Keep the final byte: it may be the CR of a CRLF split across reads.
            if unread.len() > self.max_len {
                let keep = usize::from(unread.last() == Some(&b'\r'));
                input.consume(unread.len() - keep);
                self.discarding = true;
            }
            return None;
        };
        let line = unread[..end].to_vec();
        input.consume(end + 2);
        if std::mem::take(&mut self.discarding) || end + 2 > self.max_len {
            return Some(LineEvent::TooLong);
        }
        Some(LineEvent::Line(line))
    }
}

/// Position of the first CRLF.
pub fn find_crlf(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = bytes[from..].iter().position(|&b| b == b'\r') {
        let at = from + i;
        if bytes.get(at + 1) == Some(&b'\n') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines(chunks: &[&[u8]], max: usize) -> Vec<LineEvent> {
        let mut input = InputBuffer::default();
        let mut splitter = LineSplitter::new(max);
        let mut out = Vec::new();
        for chunk in chunks {
            input.extend(chunk);
            while let Some(event) = splitter.next_line(&mut input) {
                out.push(event);
            }
        }
        out
    }

    #[test]
    fn only_crlf_ends_a_line() {
        let got = lines(&[b"NOOP a\nb\rc\r\nQUIT\r\n"], 512);
        assert_eq!(
            got,
            [
                LineEvent::Line(b"NOOP a\nb\rc".to_vec()),
                LineEvent::Line(b"QUIT".to_vec())
            ]
        );
    }

    #[test]
    fn long_line_reported_once_then_next_line_works() {
        let long = vec![b'x'; 10_000];
        let got = lines(&[&long[..5000], &long[5000..], b"\r\nNOOP\r\n"], 512);
        assert_eq!(got, [LineEvent::TooLong, LineEvent::Line(b"NOOP".to_vec())]);
        let exactly = [vec![b'y'; 510], b"\r\n".to_vec()].concat();
        assert_eq!(lines(&[&exactly], 512).len(), 1);
        assert!(matches!(lines(&[&exactly], 512)[0], LineEvent::Line(_)));
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_lines(bytes in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'a')], 0..2000), cut in any::<usize>()) {
            let cut = cut % (bytes.len() + 1);
            prop_assert_eq!(lines(&[&bytes], 512), lines(&[&bytes[..cut], &bytes[cut..]], 512));
            let one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
            prop_assert_eq!(lines(&[&bytes], 512), lines(&one_by_one, 512));
        }
    }
}
