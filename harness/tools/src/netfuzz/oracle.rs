//! The oracles: what counts as a finding. Reply syntax (RFC 5321 §4.2), reply text, and the
//! kinds of misbehaviour the driver reports (a missing reply, a reply for nothing, a close
//! without 221 or 421, a reset, a crash).

use std::fmt;

/// What went wrong, from the client's side of the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// No reply within the deadline for a command that owes one (a hang).
    Hang,
    /// A reply that answers nothing the client sent (desynchronization).
    ExtraReply,
    /// A reply line that breaks the RFC 5321 §4.2 syntax.
    MalformedReply,
    /// Reply text with octets outside RFC 5321's `textstring` (controls, invalid 8-bit).
    ReplyText,
    /// The server closed the connection with replies owed and no 421 or 221 before.
    UnexpectedClose,
    /// The connection was reset with replies owed.
    Reset,
    /// The server answered a command with a 4yz or 5yz other than 421, then closed.
    CloseAfterError,
    /// A plain command line with a verb every server implements got 500 ("command
    /// unrecognized") instead of 501 for its arguments.
    UnrecognizedKnownVerb,
    /// After the session, the port no longer greets a fresh connection.
    Crash,
}

impl Kind {
    /// Every kind, a crash first.
    pub const ALL: [Kind; 9] = [
        Kind::Crash,
        Kind::Hang,
        Kind::ExtraReply,
        Kind::MalformedReply,
        Kind::UnexpectedClose,
        Kind::Reset,
        Kind::CloseAfterError,
        Kind::UnrecognizedKnownVerb,
        Kind::ReplyText,
    ];

    /// Its kebab-case name, as case ids, file names and reports write it (`extra-reply`).
    pub fn slug(self) -> &'static str {
        match self {
            Self::Hang => "hang",
            Self::ExtraReply => "extra-reply",
            Self::MalformedReply => "malformed-reply",
            Self::ReplyText => "reply-text",
            Self::UnexpectedClose => "unexpected-close",
            Self::Reset => "reset",
            Self::CloseAfterError => "close-after-error",
            Self::UnrecognizedKnownVerb => "500-to-known-verb",
            Self::Crash => "crash",
        }
    }

    /// The rule the finding breaks, quoted in reports.
    pub fn rule(self) -> &'static str {
        match self {
            Self::Hang | Self::ExtraReply => {
                "SMTP-SYNTAX-11 (RFC 5321 §4.2): each command gets exactly one reply; SMTP-PIPELINING-1 (RFC 2920 §3.2): one reply per pipelined command, in the order sent"
            }
            Self::MalformedReply => {
                "RFC 5321 §4.2: Reply-line = *( Reply-code \"-\" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF; Reply-code = %x32-35 %x30-35 %x30-39"
            }
            Self::ReplyText => {
                "RFC 5321 §4.2: textstring = 1*(%d09 / %d32-126) ; HT, SP, Printable US-ASCII"
            }
            Self::UnexpectedClose | Self::Reset => {
                "SMTP-SYNTAX-11 (RFC 5321 §4.2): each command gets exactly one reply; RFC 5321 §3.8: the server closes the connection only after QUIT and its 221, after a 421, or after a timeout"
            }
            Self::UnrecognizedKnownVerb => {
                "SMTP-SYNTAX-3 (RFC 5321 §4.2.2): 500 is \"Syntax error, command unrecognized\", 501 \"Syntax error in parameters or arguments\"; a known verb with malformed arguments gets 501"
            }
            Self::CloseAfterError => {
                "RFC 5321 §3.8: under normal circumstances the server closes the connection only after QUIT and its 221, after a 421, or after a timeout; §7.8 leaves room for closing on abusive clients, and 421 (\"closing transmission channel\", §4.2.2) is the reply that announces a close. Judged as a SHOULD"
            }
            Self::Crash => {
                "SMTP-GREETING-1 (RFC 5321 §3.1, §4.3.1): a new connection is greeted with 220 before the client says anything"
            }
        }
    }

    /// The SPEC.md requirement a reproducing scenario cites.
    pub fn spec_id(self) -> &'static str {
        match self {
            Self::Crash => "SMTP-GREETING-1",
            Self::CloseAfterError => "SMTP-LIMITS-6",
            Self::UnrecognizedKnownVerb => "SMTP-SYNTAX-3",
            _ => "SMTP-SYNTAX-11",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// One reply as received: its code and raw lines (each with its CRLF).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawReply {
    /// The reply code (that of the last line, which ends the reply).
    pub code: u16,
    /// The octets of each line, CRLF included.
    pub lines: Vec<Vec<u8>>,
}

/// How one reply line breaks the syntax.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineFault {
    /// The line breaks the reply grammar (no CRLF, no 2yz-5yz code, no SP or `-` after it):
    /// a [`Kind::MalformedReply`]. The text shows the line.
    Malformed(String),
    /// The text holds controls or invalid 8-bit outside `textstring`: a [`Kind::ReplyText`].
    Text(String),
}

/// A reply line, checked: `(code, is_last)`.
///
/// RFC 5321 §4.2: `Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP
/// textstring ] CRLF`, `Reply-code = %x32-35 %x30-35 %x30-39`, `textstring = 1*(%d09 /
/// %d32-126)`. Text is also accepted when it is well-formed UTF-8 (RFC 6531 lets an SMTPUTF8 server
/// send it), so only controls and invalid 8-bit octets count against it.
pub fn check_line(line: &[u8]) -> Result<(u16, bool), LineFault> {
    let show = || mtpspec_runner::wire::escape_runs(line);
    let Some(content) = line.strip_suffix(b"\r\n") else {
        return Err(LineFault::Malformed(format!(
            "line not ended by CRLF: {}",
            show()
        )));
    };
    let digits = content.get(..3).unwrap_or(content);
    let valid_code = digits.len() == 3
        && (b'2'..=b'5').contains(&digits[0])
        && (b'0'..=b'5').contains(&digits[1])
        && digits[2].is_ascii_digit();
    if !valid_code {
        return Err(LineFault::Malformed(format!(
            "no reply code 2yz-5yz: {}",
            show()
        )));
    }
    let code = u16::from(digits[0] - b'0') * 100
        + u16::from(digits[1] - b'0') * 10
        + u16::from(digits[2] - b'0');
    let (last, text) = match content.get(3) {
        None => (true, &[][..]),
        Some(b' ') => (true, &content[4..]),
        Some(b'-') => (false, &content[4..]),
        Some(_) => {
            return Err(LineFault::Malformed(format!(
                "code not followed by SP, '-' or CRLF: {}",
                show()
            )));
        }
    };
    let controls = text.iter().any(|&b| b != b'\t' && (b < 0x20 || b == 0x7f));
    if controls || std::str::from_utf8(text).is_err() {
        return Err(LineFault::Text(format!(
            "reply text outside textstring: {}",
            show()
        )));
    }
    Ok((code, last))
}

/// RFC 5321 §4.5.1: "in order to make SMTP workable, the following minimum implementation
/// MUST be provided by all receivers": EHLO, HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, VRFY.
const REQUIRED_VERBS: &[&str] = &[
    "EHLO", "HELO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT", "VRFY",
];

/// Whether a command line's content is plain (printable ASCII, at most 510 octets, so neither
/// its length nor odd octets excuse a 500) and starts with a verb every server implements
/// (verbs are case-insensitive, RFC 5321 §2.4).
pub fn plain_known_verb(content: &[u8]) -> bool {
    if content.len() > 510 || !content.iter().all(|b| (0x20..=0x7e).contains(b)) {
        return false;
    }
    let verb = content.split(|&b| b == b' ').next().unwrap_or_default();
    REQUIRED_VERBS
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(verb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_lines() {
        assert_eq!(check_line(b"250 ok\r\n"), Ok((250, true)));
        assert_eq!(check_line(b"250-PIPELINING\r\n"), Ok((250, false)));
        assert_eq!(check_line(b"354\r\n"), Ok((354, true)));
        assert_eq!(check_line(b"250 caf\xc3\xa9\r\n"), Ok((250, true)));
        for bad in [
            &b"250 ok\n"[..],
            b"25 ok\r\n",
            b"199 x\r\n",
            b"260 x\r\n",
            b"250x\r\n",
            b"hello\r\n",
        ] {
            assert!(
                matches!(check_line(bad), Err(LineFault::Malformed(_))),
                "{bad:?}"
            );
        }
        assert!(plain_known_verb(b"mail FROM:<a@"));
        assert!(!plain_known_verb(b"MAIL\tFROM:<a@>"));
        assert!(!plain_known_verb(b"EXPN x"));
        assert!(!plain_known_verb(b"MAIL FROM:<\xff>"));
        assert!(matches!(
            check_line(b"500 \0x\r\n"),
            Err(LineFault::Text(_))
        ));
        assert!(matches!(
            check_line(b"500 \xff\r\n"),
            Err(LineFault::Text(_))
        ));
    }
}
