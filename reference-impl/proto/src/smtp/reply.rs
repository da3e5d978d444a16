//! SMTP replies: reply codes, enhanced status codes, the reply encoder and an incremental parser.
//!
//! RFC 5321 §4.2: "An SMTP reply consists of a three digit number (transmitted as three
//! numeric characters) followed by some text unless specified otherwise in this document."
//! Multi-line replies repeat the code on every line, with `-` after it on all lines but the
//! last. RFC 2034 puts the enhanced status code (RFC 3463 `class.subject.detail`) at the start
//! of the text of every line.

use std::fmt;

/// A three-digit SMTP reply code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(u16);

impl ReplyCode {
    /// 214 Help message (RFC 5321 §4.2.2).
    pub const HELP: Self = Self(214);
    /// 220 `<domain>` Service ready (RFC 5321 §4.2.2): the greeting, and the go-ahead for STARTTLS.
    pub const SERVICE_READY: Self = Self(220);
    /// 221 `<domain>` Service closing transmission channel (RFC 5321 §4.2.2): the answer to QUIT.
    pub const CLOSING: Self = Self(221);
    /// 235 Authentication succeeded (RFC 4954 §6).
    pub const AUTH_SUCCEEDED: Self = Self(235);
    /// 250 Requested mail action okay, completed (RFC 5321 §4.2.2).
    pub const OK: Self = Self(250);
    /// 252 Cannot VRFY user, but will accept message and attempt delivery (RFC 5321 §4.2.2).
    pub const CANNOT_VRFY: Self = Self(252);
    /// 334 AUTH continuation (RFC 4954 §4): the text is a base64 server challenge.
    pub const AUTH_CONTINUE: Self = Self(334);
    /// 354 Start mail input; end with `<CRLF>.<CRLF>` (RFC 5321 §4.2.2).
    pub const START_MAIL_INPUT: Self = Self(354);
    /// 421 `<domain>` Service not available, closing transmission channel (RFC 5321 §4.2.3).
    pub const SERVICE_UNAVAILABLE: Self = Self(421);
    /// 451 Requested action aborted: local error in processing (RFC 5321 §4.2.3).
    pub const LOCAL_ERROR: Self = Self(451);
    /// 452 Requested action not taken: insufficient system storage (RFC 5321 §4.2.3); also too
    /// many recipients (§4.5.3.1.10).
    pub const INSUFFICIENT_STORAGE: Self = Self(452);
    /// 454 TLS not available due to temporary reason (RFC 3207 §4).
    pub const TLS_UNAVAILABLE: Self = Self(454);
    /// 500 Syntax error, command unrecognized, including a command line too long (RFC 5321 §4.2.3).
    pub const SYNTAX_ERROR: Self = Self(500);
    /// 501 Syntax error in parameters or arguments (RFC 5321 §4.2.3).
    pub const PARAMETER_SYNTAX_ERROR: Self = Self(501);
    /// 502 Command not implemented (RFC 5321 §4.2.3).
    pub const NOT_IMPLEMENTED: Self = Self(502);
    /// 503 Bad sequence of commands (RFC 5321 §4.2.3).
    pub const BAD_SEQUENCE: Self = Self(503);
    /// 504 Command parameter not implemented (RFC 5321 §4.2.3).
    pub const PARAMETER_NOT_IMPLEMENTED: Self = Self(504);
    /// 530 Authentication required (RFC 4954 §6).
    pub const AUTH_REQUIRED: Self = Self(530);
    /// 535 Authentication credentials invalid (RFC 4954 §6).
    pub const AUTH_INVALID: Self = Self(535);
    /// 538 Encryption required for requested authentication mechanism (RFC 4954 §6).
    pub const ENCRYPTION_REQUIRED: Self = Self(538);
    /// 550 Requested action not taken: mailbox unavailable, e.g. not found, no access, or refused
    /// for policy reasons (RFC 5321 §4.2.3).
    pub const MAILBOX_UNAVAILABLE: Self = Self(550);
    /// 552 Requested mail action aborted: exceeded storage allocation (RFC 5321 §4.2.3); the
    /// message is over the size limit (RFC 1870).
    pub const EXCEEDED_STORAGE: Self = Self(552);
    /// 553 Requested action not taken: mailbox name not allowed, e.g. bad syntax (RFC 5321 §4.2.3).
    pub const MAILBOX_NAME_INVALID: Self = Self(553);
    /// 554 Transaction failed; in the greeting, "No SMTP service here" (RFC 5321 §4.2.3).
    pub const TRANSACTION_FAILED: Self = Self(554);
    /// 555 MAIL FROM/RCPT TO parameters not recognized or not implemented (RFC 5321 §4.2.3).
    pub const PARAMETERS_NOT_RECOGNIZED: Self = Self(555);

    /// A code in 200..=599, the range RFC 5321 §4.2 defines.
    pub fn new(code: u16) -> Option<Self> {
        (200..=599).contains(&code).then_some(Self(code))
    }

    /// The numeric code, 200..=599.
    pub fn get(self) -> u16 {
        self.0
    }

    /// The first digit: 2 positive completion, 3 intermediate, 4 transient, 5 permanent.
    pub fn class(self) -> u8 {
        (self.0 / 100) as u8
    }

    /// 2yz: Positive Completion (RFC 5321 §4.2.1).
    pub fn is_positive(self) -> bool {
        self.class() == 2
    }

    /// 3yz: Positive Intermediate; the client sends more (DATA content, an AUTH response).
    pub fn is_intermediate(self) -> bool {
        self.class() == 3
    }

    /// 4yz: Transient Negative Completion; the same command may succeed later.
    pub fn is_transient(self) -> bool {
        self.class() == 4
    }

    /// 5yz: Permanent Negative Completion; repeating the command will not help.
    pub fn is_permanent(self) -> bool {
        self.class() == 5
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

/// An RFC 3463 enhanced status code `class.subject.detail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2 success, 4 persistent transient failure, 5 permanent failure (RFC 3463 §3.1).
    pub class: u8,
    /// What the status is about, e.g. 1 addressing, 5 protocol, 7 security (RFC 3463 §3.2).
    pub subject: u16,
    /// The precise condition within the subject (RFC 3463 §3.3 onwards).
    pub detail: u16,
}

impl EnhancedCode {
    /// The code `class.subject.detail`; no range check (see [`EnhancedCode::parse`]).
    pub const fn new(class: u8, subject: u16, detail: u16) -> Self {
        Self {
            class,
            subject,
            detail,
        }
    }

    /// Parses `2.1.5` style text. RFC 3463: class is 2, 4 or 5; subject and detail are
    /// 1 to 3 digits.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.');
        let class = parts.next()?;
        let subject = parts.next()?;
        let detail = parts.next()?;
        if parts.next().is_some() {
            return None;
        }
        let digits = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
        };
        if !(digits(class, 1) && digits(subject, 3) && digits(detail, 3)) {
            return None;
        }
        let class: u8 = class.parse().ok()?;
        if !matches!(class, 2 | 4 | 5) {
            return None;
        }
        Some(Self::new(
            class,
            subject.parse().ok()?,
            detail.parse().ok()?,
        ))
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One whole SMTP reply, possibly multi-line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code, the same on every line.
    pub code: ReplyCode,
    /// The RFC 3463 code at the start of every line's text (RFC 2034), if the reply has one.
    pub enhanced: Option<EnhancedCode>,
    /// The text of each line, without code, separator, enhanced code or CRLF. Never empty.
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply.
    pub fn new(code: ReplyCode, enhanced: Option<EnhancedCode>, text: impl Into<String>) -> Self {
        Self {
            code,
            enhanced,
            lines: vec![text.into()],
        }
    }

    /// A reply with an enhanced status code.
    pub fn with_status(code: ReplyCode, enhanced: EnhancedCode, text: impl Into<String>) -> Self {
        Self::new(code, Some(enhanced), text)
    }

    /// A multi-line reply (RFC 5321 §4.2.1); panics if `lines` is empty.
    pub fn multiline(code: ReplyCode, enhanced: Option<EnhancedCode>, lines: Vec<String>) -> Self {
        assert!(!lines.is_empty(), "a reply has at least one line");
        Self {
            code,
            enhanced,
            lines,
        }
    }

    /// The text of all lines joined with a space.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// Appends the wire form to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let last = self.lines.len() - 1;
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            let text = match self.enhanced {
                Some(e) if line.is_empty() => e.to_string(),
                Some(e) => format!("{e} {line}"),
                None => line.clone(),
            };
            out.extend_from_slice(format!("{}{}{}\r\n", self.code, sep, text).as_bytes());
        }
    }

    /// The wire form: each line `code[-| ][enhanced ]text` CRLF.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

/// Why a server's reply could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyError {
    /// The line does not start with three digits in 200..=599 and a separator.
    Malformed {
        /// The offending line, without its line end.
        line: Vec<u8>,
    },
    /// A continuation line carries a different code than the first line.
    CodeMismatch {
        /// The code of the reply's first line.
        first: ReplyCode,
        /// The code of the continuation line that differs.
        found: ReplyCode,
    },
    /// A line longer than the parser's limit.
    TooLong,
    /// A line ended by a bare LF instead of CRLF (tolerated by `ReplyParser::lenient`).
    BareLf,
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed { line } => write!(
                f,
                "malformed reply line {:?}",
                String::from_utf8_lossy(line)
            ),
            Self::CodeMismatch { first, found } => write!(
                f,
                "continuation line has code {found}, first line had {first}"
            ),
            Self::TooLong => f.write_str("reply line too long"),
            Self::BareLf => f.write_str("reply line ended by a bare LF"),
        }
    }
}

impl std::error::Error for ReplyError {}

/// Splits a byte stream from a server into replies. Feed bytes, then call `next` until it
/// returns `None` ("need more bytes" is a normal state, not an error).
#[derive(Debug)]
pub struct ReplyParser {
    buf: Vec<u8>,
    pending: Option<(ReplyCode, Vec<String>)>,
    max_line: usize,
    accept_bare_lf: bool,
}

impl Default for ReplyParser {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplyParser {
    /// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets; this parser allows 4 KiB so
    /// that it can report an over-long line of a misbehaving server instead of choking on it.
    pub fn new() -> Self {
        Self {
            buf: Vec::new(),
            pending: None,
            max_line: 4096,
            accept_bare_lf: false,
        }
    }

    /// A parser that also ends lines at a bare LF, for talking to sloppy servers.
    pub fn lenient() -> Self {
        Self {
            accept_bare_lf: true,
            ..Self::new()
        }
    }

    /// Appends bytes received from the server.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet part of a complete reply.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Takes the unparsed bytes out (used when a TLS handshake starts right after a 220).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// The next complete reply: `None` until one has arrived. After an error, the reply it was
    /// in is dropped and parsing goes on with the next line.
    pub fn next_reply(&mut self) -> Option<Result<Reply, ReplyError>> {
        loop {
            let Some(lf) = self.buf.iter().position(|&b| b == b'\n') else {
                if self.buf.len() > self.max_line {
                    self.buf.clear();
                    self.pending = None;
                    return Some(Err(ReplyError::TooLong));
                }
                return None;
            };
            let line: Vec<u8> = self.buf.drain(..=lf).collect();
            let content = match line.strip_suffix(b"\r\n") {
                Some(c) => c,
                None if self.accept_bare_lf => &line[..line.len() - 1],
                None => {
                    self.pending = None;
                    return Some(Err(ReplyError::BareLf));
                }
            };
            match self.line(content) {
                Ok(Some(reply)) => return Some(Ok(reply)),
                Ok(None) => continue,
                Err(e) => {
                    self.pending = None;
                    return Some(Err(e));
                }
            }
        }
    }

    fn line(&mut self, content: &[u8]) -> Result<Option<Reply>, ReplyError> {
        if content.len() > self.max_line {
            return Err(ReplyError::TooLong);
        }
        let malformed = || ReplyError::Malformed {
            line: content.to_vec(),
        };
        if content.len() < 3 || !content[..3].iter().all(u8::is_ascii_digit) {
            return Err(malformed());
        }
        let code: u16 = std::str::from_utf8(&content[..3])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(malformed)?;
        let code = ReplyCode::new(code).ok_or_else(malformed)?;
        let (last, text) = match content.get(3) {
            None => (true, ""),
            Some(b' ') => (
                true,
                std::str::from_utf8(&content[4..]).map_err(|_| malformed())?,
            ),
            Some(b'-') => (
                false,
                std::str::from_utf8(&content[4..]).map_err(|_| malformed())?,
            ),
            Some(_) => return Err(malformed()),
        };
        let (first, mut lines) = self.pending.take().unwrap_or((code, Vec::new()));
        if first != code {
            return Err(ReplyError::CodeMismatch { first, found: code });
        }
        lines.push(text.to_string());
        if !last {
            self.pending = Some((code, lines));
            return Ok(None);
        }
        Ok(Some(split_enhanced(code, lines)))
    }
}

/// Takes the enhanced status code off every line when the first line carries one that
/// agrees with the reply code's class.
fn split_enhanced(code: ReplyCode, mut lines: Vec<String>) -> Reply {
    let first = lines[0].split(' ').next().and_then(EnhancedCode::parse);
    let Some(enhanced) = first.filter(|e| e.class == code.class()) else {
        return Reply {
            code,
            enhanced: None,
            lines,
        };
    };
    let prefix = enhanced.to_string();
    let all_carry = lines
        .iter()
        .all(|l| l == &prefix || l.starts_with(&format!("{prefix} ")));
    if !all_carry {
        return Reply {
            code,
            enhanced: None,
            lines,
        };
    }
    for line in &mut lines {
        *line = line.get(prefix.len() + 1..).unwrap_or("").to_string();
    }
    Reply {
        code,
        enhanced: Some(enhanced),
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(bytes: &[u8]) -> Vec<Result<Reply, ReplyError>> {
        let mut p = ReplyParser::new();
        p.feed(bytes);
        std::iter::from_fn(|| p.next_reply()).collect()
    }

    #[test]
    fn multiline_with_enhanced_codes() {
        let replies = parse_all(b"250-2.0.0 first\r\n250 2.0.0 second\r\n");
        let reply = replies[0].clone().unwrap();
        assert_eq!(reply.code, ReplyCode::OK);
        assert_eq!(reply.enhanced, Some(EnhancedCode::new(2, 0, 0)));
        assert_eq!(reply.lines, ["first", "second"]);
    }

    #[test]
    fn ehlo_reply_keeps_keywords() {
        let reply = parse_all(b"250-mx.example greets you\r\n250-SIZE 100\r\n250 PIPELINING\r\n")
            [0]
        .clone()
        .unwrap();
        assert_eq!(reply.enhanced, None);
        assert_eq!(
            reply.lines,
            ["mx.example greets you", "SIZE 100", "PIPELINING"]
        );
    }

    #[test]
    fn rejects_code_mismatch_and_garbage() {
        assert!(matches!(
            parse_all(b"250-a\r\n251 b\r\n")[0],
            Err(ReplyError::CodeMismatch { .. })
        ));
        assert!(matches!(
            parse_all(b"hello\r\n")[0],
            Err(ReplyError::Malformed { .. })
        ));
        assert!(matches!(
            parse_all(b"250xtext\r\n")[0],
            Err(ReplyError::Malformed { .. })
        ));
        assert!(matches!(parse_all(b"250 ok\n")[0], Err(ReplyError::BareLf)));
    }

    #[test]
    fn bare_code_is_a_reply() {
        assert_eq!(parse_all(b"250\r\n")[0].clone().unwrap().lines, [""]);
    }

    fn arb_reply() -> impl Strategy<Value = Reply> {
        let text = "[ -~]{0,40}".prop_filter("no leading enhanced code", |t: &String| {
            t.split(' ').next().and_then(EnhancedCode::parse).is_none()
        });
        (
            200u16..600,
            proptest::option::of((0u16..1000, 0u16..1000)),
            proptest::collection::vec(text, 1..5),
        )
            .prop_map(|(code, enh, lines)| {
                let code = ReplyCode::new(code).unwrap();
                let enhanced = enh
                    .filter(|_| matches!(code.class(), 2 | 4 | 5))
                    .map(|(s, d)| EnhancedCode::new(code.class(), s, d));
                Reply {
                    code,
                    enhanced,
                    lines,
                }
            })
    }

    proptest! {
        #[test]
        fn decode_encode_round_trip(reply in arb_reply()) {
            let bytes = reply.to_bytes();
            let parsed = parse_all(&bytes);
            prop_assert_eq!(parsed.len(), 1);
            prop_assert_eq!(parsed[0].clone().unwrap(), reply);
        }

        #[test]
        fn any_chunking_gives_the_same_replies(replies in proptest::collection::vec(arb_reply(), 1..4), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
            let bytes: Vec<u8> = replies.iter().flat_map(|r| r.to_bytes()).collect();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut parser = ReplyParser::new();
            let mut got = Vec::new();
            let mut start = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                parser.feed(&bytes[start..cut]);
                start = cut;
                while let Some(r) = parser.next_reply() { got.push(r.unwrap()); }
            }
            prop_assert_eq!(got, replies);
        }
    }
}
