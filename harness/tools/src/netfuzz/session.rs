//! The fuzzer's unit of work: a session, a list of operations on one connection, each of which
//! owes a known number of replies. The invariants that make that count knowable live here
//! ([`Session::is_valid`]); the generator, the mutator and the minimizer only ever produce
//! sessions that satisfy them, so a reply count that differs is the server's doing.

/// How the octets of one operation are cut into writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunking {
    /// One write.
    Whole,
    /// Writes of at most this many octets (1: byte by byte).
    Every(usize),
    /// A write ends after every CR that precedes an LF: the CRLF arrives split.
    MidCrlf,
}

impl Chunking {
    /// The byte ranges of each write of `bytes`.
    pub fn pieces(&self, bytes: &[u8]) -> Vec<Vec<u8>> {
        match self {
            Self::Whole => vec![bytes.to_vec()],
            Self::Every(n) => bytes.chunks((*n).max(1)).map(<[u8]>::to_vec).collect(),
            Self::MidCrlf => {
                let mut out = Vec::new();
                let mut start = 0;
                for i in 0..bytes.len() {
                    if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                        out.push(bytes[start..=i].to_vec());
                        start = i + 1;
                    }
                }
                if start < bytes.len() {
                    out.push(bytes[start..].to_vec());
                }
                out
            }
        }
    }

    /// A short name for it: `whole`, `every-N`, `mid-crlf`.
    pub fn label(&self) -> String {
        match self {
            Self::Whole => "whole".into(),
            Self::Every(n) => format!("every-{n}"),
            Self::MidCrlf => "mid-crlf".into(),
        }
    }
}

/// One command line. `content` is what precedes the CRLF the driver appends; it never holds a
/// CRLF itself, so the line is exactly one command to a server that ends lines only at CRLF
/// (RFC 5321 §2.3.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The verb the generator meant (before mutation), for reports and signatures.
    pub verb: &'static str,
    /// The octets sent before the CRLF, mutations included.
    pub content: Vec<u8>,
    /// The mutations applied (`bare-lf`, `nul`, `long-arg`, ...).
    pub tags: Vec<&'static str>,
}

impl Line {
    /// An unmutated line of `verb` whose octets are `content` (without CRLF).
    pub fn new(verb: &'static str, content: impl Into<Vec<u8>>) -> Self {
        Self {
            verb,
            content: content.into(),
            tags: Vec::new(),
        }
    }

    /// The octets on the wire: `content` and its CRLF.
    pub fn wire(&self) -> Vec<u8> {
        let mut out = self.content.clone();
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// What a session does, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Command lines in one write sequence (a pipelined group when more than one): one reply
    /// each, in order (RFC 2920 §3.2).
    Group {
        /// The lines, in the order sent.
        lines: Vec<Line>,
        /// How their octets, taken together, are cut into writes.
        chunking: Chunking,
    },
    /// Mail data, sent only when the previous operation ended with a 354; `body` ends with the
    /// one `CRLF . CRLF` it contains, so one final reply is owed.
    Data {
        /// The octets sent after the 354, as they are, ending with the one `CRLF . CRLF`.
        body: Vec<u8>,
        /// What the body holds: odd lines (`dot`, `long-line`, `8bit`, `bare-lf`, `bare-cr`,
        /// `nul`) and a smuggling-style ending (`smuggle:lf-dot-lf`, ...).
        tags: Vec<&'static str>,
        /// How the body is cut into writes.
        chunking: Chunking,
    },
    /// `BDAT n [LAST]` and its n octets (RFC 3030), sent only when CHUNKING is advertised and
    /// the driver saw MAIL and RCPT accepted; one reply.
    Bdat {
        /// The chunk's octets (part of a generated body), sent as they are.
        payload: Vec<u8>,
        /// `BDAT n LAST`: the message ends with this chunk.
        last: bool,
        /// How the command and its chunk are cut into writes.
        chunking: Chunking,
    },
    /// STARTTLS (or VMTP's `ENCRYPT START`) alone; on 220 the driver runs the TLS handshake
    /// and the rest of the session goes over TLS.
    StartTls {
        /// `STARTTLS` or `ENCRYPT START`.
        command: &'static str,
    },
}

impl Op {
    /// The mutation tags of this operation, sorted and deduplicated (finding signatures).
    pub fn tags(&self) -> Vec<&'static str> {
        let mut tags: Vec<&'static str> = match self {
            Self::Group { lines, chunking } => {
                let mut t: Vec<_> = lines.iter().flat_map(|l| l.tags.iter().copied()).collect();
                if *chunking != Chunking::Whole {
                    t.push("chunked");
                }
                t
            }
            Self::Data { tags, .. } => tags.clone(),
            Self::Bdat { .. } => vec!["bdat"],
            Self::StartTls { .. } => vec!["tls"],
        };
        tags.sort_unstable();
        tags.dedup();
        tags
    }

    /// A short description: the verbs of a group, `DATA body`, `BDAT`, `STARTTLS`.
    pub fn summary(&self) -> String {
        match self {
            Self::Group { lines, .. } => lines.iter().map(|l| l.verb).collect::<Vec<_>>().join(" "),
            Self::Data { .. } => "<data>".into(),
            Self::Bdat { last, .. } => if *last { "BDAT LAST" } else { "BDAT" }.into(),
            Self::StartTls { command } => (*command).into(),
        }
    }

    fn is_valid(&self) -> bool {
        match self {
            Self::Group { lines, .. } => {
                !lines.is_empty() && lines.iter().all(|l| !contains(&l.content, b"\r\n"))
            }
            Self::Data { body, .. } => data_is_valid(body),
            Self::Bdat { .. } | Self::StartTls { .. } => true,
        }
    }
}

/// A generated session: what one connection sends after the greeting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The operations, in order.
    pub ops: Vec<Op>,
}

impl Session {
    /// Whether every operation owes a reply count the driver can know (no CRLF inside a
    /// command line; exactly one end-of-data at the end of each body).
    pub fn is_valid(&self) -> bool {
        self.ops.iter().all(Op::is_valid)
    }

    /// Command lines and bodies in the session.
    pub fn commands(&self) -> usize {
        self.ops
            .iter()
            .map(|op| match op {
                Op::Group { lines, .. } => lines.len(),
                _ => 1,
            })
            .sum()
    }
}

/// The classes of odd octets in a command line's content (CRLF excluded): what a finding's
/// minimized input still holds, whatever mutation put it there.
pub fn byte_classes(content: &[u8]) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut add = |yes: bool, tag| {
        if yes {
            out.push(tag);
        }
    };
    add(content.contains(&0), "nul");
    add(content.contains(&b'\n'), "bare-lf");
    add(content.contains(&b'\r'), "bare-cr");
    add(content.iter().any(|&b| b >= 0x80), "8bit");
    add(
        content
            .iter()
            .any(|&b| (b < 0x20 && !matches!(b, 0 | b'\t' | b'\r' | b'\n')) || b == 0x7f),
        "ctl",
    );
    add(content.len() > 510, "long-line");
    out
}

impl Op {
    /// What the minimized operation still holds: the octet classes of its command lines, the
    /// smuggling-style endings of its body.
    pub fn residue(&self) -> Vec<&'static str> {
        match self {
            Self::Group { lines, .. } => lines
                .iter()
                .flat_map(|l| byte_classes(&l.content))
                .collect(),
            Self::Data { tags, .. } => tags
                .iter()
                .copied()
                .filter(|t| t.starts_with("smuggle:"))
                .collect(),
            Self::Bdat { .. } => vec!["bdat"],
            Self::StartTls { .. } => vec!["tls"],
        }
    }
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// RFC 5321 §4.1.1.4: "the mail data is terminated by a line containing only a period, that
/// is, the character sequence "<CRLF>.<CRLF>"". The CRLF that ended DATA counts as the first
/// one, so the body must hold that sequence exactly once, at its end.
fn data_is_valid(body: &[u8]) -> bool {
    let mut seen = b"\r\n".to_vec();
    seen.extend_from_slice(body);
    find(&seen, b"\r\n.\r\n") == Some(seen.len() - 5)
}

/// Removes every CRLF from a line's content (keeping the CR), so the line stays one command.
pub(crate) fn strip_crlf(content: &mut Vec<u8>) {
    let mut i = 0;
    while i + 1 < content.len() {
        if content[i] == b'\r' && content[i + 1] == b'\n' {
            content.remove(i + 1);
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_split_as_named() {
        assert_eq!(Chunking::Every(2).pieces(b"abcde").len(), 3);
        assert_eq!(
            Chunking::MidCrlf.pieces(b"A\r\nB\r\n"),
            vec![b"A\r".to_vec(), b"\nB\r".to_vec(), b"\n".to_vec()]
        );
        assert_eq!(Chunking::Whole.pieces(b"xy"), vec![b"xy".to_vec()]);
    }

    #[test]
    fn data_needs_exactly_one_terminator_at_the_end() {
        assert!(data_is_valid(b"a\r\n.\r\n"));
        assert!(data_is_valid(b".\r\n"));
        assert!(!data_is_valid(b".\r\nx\r\n.\r\n"));
        assert!(!data_is_valid(b"a\r\n.\r\nb\r\n.\r\n"));
        assert!(data_is_valid(b"a\n.\nb\r\n.\r\n"));
        let mut c = b"A\r\nB\r\r\n".to_vec();
        strip_crlf(&mut c);
        assert!(!contains(&c, b"\r\n"));
    }
}
