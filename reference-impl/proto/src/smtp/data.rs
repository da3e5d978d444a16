//! The DATA receiver (dot-unstuffing) and the matching dot-stuffing encoder.
//!
//! RFC 5321 §4.1.1.4: "The mail data are terminated by a line containing only a period, that
//! is, the character sequence "`<CRLF>.<CRLF>`"". §4.5.2: "If the first character [of a line] is
//! a period and there are other characters on the line, the first character is deleted."
//!
//! Policy (SPEC: SMTP-DATA, SMTP-SMUGGLING): a line starts only after CRLF. A bare CR or a bare
//! LF never ends a line, so `<LF>.<LF>`, `<CR>.<CR>` and every other mixed form are ordinary
//! data and are kept as received; only `<CRLF>.<CRLF>` ends the data. SMTP smuggling is
//! therefore impossible by construction. Text lines over the limit (1000 octets with CRLF,
//! RFC 5321 §4.5.3.1.6) and messages over the size limit are consumed to the end and then
//! refused as a whole; nothing partial is handed on. The unstuffed octets go into a
//! [`MessageBody`], from which a driver may take them as they arrive.

use super::body::MessageBody;

/// Why received mail data cannot be accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataProblem {
    /// More octets than the size limit (552).
    TooBig,
    /// A text line over the line limit (552 5.6.0).
    LineTooLong,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At the start of a line: right after CRLF or at the start of the data.
    LineStart,
    Middle,
    /// Just after a CR inside a line.
    Cr,
    /// A period at the start of a line has been seen (and held back).
    Dot,
    /// A period and a CR at the start of a line.
    DotCr,
}

/// Receives mail data after a 354 until `<CRLF>.<CRLF>`.
#[derive(Debug)]
pub struct DataReceiver {
    state: State,
    body: MessageBody,
    line_len: usize,
    max_line: usize,
    line_too_long: bool,
}

impl DataReceiver {
    /// A receiver for one message of at most `max_size` octets, with text lines of at most
    /// `max_line` octets including CRLF (RFC 5321 §4.5.3.1.6).
    pub fn new(max_size: u64, max_line: usize) -> Self {
        Self::for_body(MessageBody::new(0, max_size), max_line)
    }

    /// Receives into `body` (empty, numbered by the session).
    pub fn for_body(body: MessageBody, max_line: usize) -> Self {
        Self {
            state: State::LineStart,
            body,
            line_len: 0,
            max_line,
            line_too_long: false,
        }
    }

    /// Consumes mail data from `input`; returns the octets consumed and whether the end of
    /// data was reached (the bytes after it belong to the next command).
    pub fn feed(&mut self, input: &[u8]) -> (usize, bool) {
        let mut i = 0;
        while i < input.len() {
            if self.state == State::Middle {
                let run = input[i..]
                    .iter()
                    .position(|&b| b == b'\r')
                    .unwrap_or(input.len() - i);
                self.emit(&input[i..i + run]);
                i += run;
                if i == input.len() {
                    break;
                }
            }
            let b = input[i];
            i += 1;
            self.state = match self.state {
                State::LineStart if b == b'.' => State::Dot,
                State::Dot if b == b'\r' => State::DotCr,
                State::DotCr if b == b'\n' => return (i, true),
                State::DotCr => {
                    // ".<CR>x": the period was stuffing; keep the CR and go on.
                    self.emit(b"\r");
                    self.after_cr(b)
                }
                State::Cr => self.after_cr(b),
                State::LineStart | State::Middle | State::Dot => {
                    self.emit(&[b]);
                    if b == b'\r' { State::Cr } else { State::Middle }
                }
            };
        }
        (i, false)
    }

    fn after_cr(&mut self, b: u8) -> State {
        self.emit(&[b]);
        match b {
            b'\n' => {
                self.line_len = 0;
                State::LineStart
            }
            b'\r' => State::Cr,
            _ => State::Middle,
        }
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.line_len += bytes.len();
        if self.line_len > self.max_line {
            self.line_too_long = true;
        }
        self.body.push(bytes);
    }

    /// The message so far (a driver may take its octets as they arrive).
    pub fn body(&self) -> &MessageBody {
        &self.body
    }

    /// The message so far, for the driver to [`take`](MessageBody::take) octets from.
    pub fn body_mut(&mut self) -> &mut MessageBody {
        &mut self.body
    }

    /// Why the message cannot be accepted, if it cannot.
    pub fn problem(&self) -> Option<DataProblem> {
        if self.body.too_big() {
            Some(DataProblem::TooBig)
        } else if self.line_too_long {
            Some(DataProblem::LineTooLong)
        } else {
            None
        }
    }

    /// The message (without the terminating `.CRLF`) less the octets taken from
    /// [`DataReceiver::body_mut`], or why it cannot be accepted.
    pub fn finish(self) -> Result<Vec<u8>, DataProblem> {
        self.finish_body().map(MessageBody::into_held)
    }

    /// [`DataReceiver::finish`] with the count of octets taken.
    pub fn finish_body(self) -> Result<MessageBody, DataProblem> {
        match self.problem() {
            Some(p) => Err(p),
            None => Ok(self.body),
        }
    }
}

/// Encodes a message for DATA: a CRLF is added if the message does not end with one, every
/// period at the start of a line is doubled, and `.CRLF` is appended.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut line_start = true;
    let mut prev = 0u8;
    for &b in message {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = prev == b'\r' && b == b'\n';
        prev = b;
    }
    if !message.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    fn receive(chunks: &[&[u8]]) -> (Result<Vec<u8>, DataProblem>, Vec<u8>) {
        let mut rx = DataReceiver::new(1 << 20, 1000);
        let mut rest = Vec::new();
        let mut done = false;
        for chunk in chunks {
            if done {
                rest.extend_from_slice(chunk);
                continue;
            }
            let (n, end) = rx.feed(chunk);
            if end {
                done = true;
                rest.extend_from_slice(&chunk[n..]);
            }
        }
        assert!(done, "end of data not found");
        (rx.finish(), rest)
    }

    #[test]
    fn unstuffs_and_stops_at_crlf_dot_crlf() {
        let (msg, rest) = receive(&[b"Subject: x\r\n\r\n..hidden\r\n.\r\nQUIT\r\n"]);
        assert_eq!(msg.unwrap(), b"Subject: x\r\n\r\n.hidden\r\n");
        assert_eq!(rest, b"QUIT\r\n");
    }

    #[test]
    fn empty_message() {
        assert_eq!(receive(&[b".\r\n"]).0.unwrap(), b"");
    }

    #[rstest]
    #[case(b"a\n.\nMAIL FROM:<x@y>\r\n.\r\n", b"a\n.\nMAIL FROM:<x@y>\r\n")]
    #[case(b"a\r\n.\nb\r\n.\r\n", b"a\r\n\nb\r\n")]
    #[case(b"a\r.\rb\r\n.\r\n", b"a\r.\rb\r\n")]
    #[case(b"a\n.\r\nb\r\n.\r\n", b"a\n.\r\nb\r\n")]
    #[case(b"a\r\n.\rb\r\n.\r\n", b"a\r\n\rb\r\n")]
    fn bare_cr_and_lf_never_end_data(#[case] wire: &[u8], #[case] message: &[u8]) {
        let (msg, rest) = receive(&[wire]);
        assert_eq!(msg.unwrap(), message);
        assert!(rest.is_empty());
    }

    #[test]
    fn limits_are_reported_after_the_end() {
        let mut rx = DataReceiver::new(10, 1000);
        let (_, end) = rx.feed(b"0123456789abcdef\r\n.\r\n");
        assert!(end);
        assert_eq!(rx.finish(), Err(DataProblem::TooBig));
        let long = [vec![b'x'; 999], b"\r\n.\r\n".to_vec()].concat();
        let mut rx = DataReceiver::new(1 << 20, 1000);
        assert!(rx.feed(&long).1);
        assert_eq!(rx.finish(), Err(DataProblem::LineTooLong));
        let ok = [vec![b'x'; 998], b"\r\n.\r\n".to_vec()].concat();
        let mut rx = DataReceiver::new(1 << 20, 1000);
        assert!(rx.feed(&ok).1);
        assert!(rx.finish().is_ok());
    }

    proptest! {
        #[test]
        fn dot_stuffing_round_trips_arbitrary_bytes(
            body in proptest::collection::vec(prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), any::<u8>()], 0..300),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let wire = dot_stuff(&body);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (wire.len() + 1)).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut start = 0;
            for cut in cuts.into_iter().chain([wire.len()]) {
                chunks.push(&wire[start..cut]);
                start = cut;
            }
            let (msg, rest) = receive(&chunks);
            let mut expected = body.clone();
            if !expected.ends_with(b"\r\n") { expected.extend_from_slice(b"\r\n"); }
            prop_assert_eq!(msg.unwrap(), expected);
            prop_assert!(rest.is_empty());
        }
    }
}
