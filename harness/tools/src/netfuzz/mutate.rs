//! Mutations of command lines and builders of mail bodies: long arguments, odd octets (NUL,
//! bare LF and CR, 8-bit, controls), case changes, missing brackets, hostile ESMTP parameters,
//! truncation; bodies with dot-stuffing, 8-bit and long lines, and smuggling-style endings. Every
//! result keeps the [`Session`](super::session::Session) invariants: no CRLF inside a command
//! line, exactly one `CRLF . CRLF` at the end of a body.

use crate::rng::Rng;

use super::session::{Line, find, strip_crlf};

/// Parameters a MAIL or RCPT line may carry, hostile or not (RFC 1870 SIZE, RFC 6152 BODY,
/// RFC 6531 SMTPUTF8, RFC 3461 RET/ENVID, unknown ones, malformed ones).
const PARAMS: &[&str] = &[
    " SIZE=99999999999999999999999",
    " SIZE=18446744073709551616",
    " SIZE=-1",
    " SIZE=",
    " SIZE=1 SIZE=2",
    " BODY=junk",
    " BODY=8BITMIME",
    " BODY=BINARYMIME",
    " SMTPUTF8",
    " X-FUZZ=1",
    " RET=FULL ENVID=fuzz",
    " =",
    " AUTH=<>",
    " NOTIFY=NEVER,SUCCESS",
];

/// Applies one or two random mutations to `line`.
pub fn mutate_line(rng: &mut Rng, line: &mut Line) {
    let rounds = 1 + rng.below(2);
    for _ in 0..rounds {
        let tag = mutate_once(rng, &mut line.content);
        line.tags.push(tag);
    }
    strip_crlf(&mut line.content);
    line.tags.sort_unstable();
    line.tags.dedup();
}

fn mutate_once(rng: &mut Rng, c: &mut Vec<u8>) -> &'static str {
    match rng.below(14) {
        0 => {
            for b in c.iter_mut() {
                if b.is_ascii_alphabetic() && rng.chance(0.5) {
                    *b ^= 0x20;
                }
            }
            "case"
        }
        1 => {
            let n = [100, 600, 1100, 5000][rng.below(4) as usize];
            let at = insert_point(rng, c);
            c.splice(at..at, std::iter::repeat_n(b'a', n));
            "long-arg"
        }
        2 => insert(rng, c, b"\0", "nul"),
        3 => insert(rng, c, b"\n", "bare-lf"),
        4 => insert(rng, c, b"\r", "bare-cr"),
        5 => {
            let bytes: Vec<u8> = (0..1 + rng.below(4))
                .map(|_| 0x80 + rng.below(0x80) as u8)
                .collect();
            insert(rng, c, &bytes, "8bit")
        }
        6 => {
            let ctl = [0x01, 0x07, 0x08, 0x0b, 0x0c, 0x1b, 0x7f][rng.below(7) as usize];
            insert(rng, c, &[ctl], "ctl")
        }
        7 => {
            c.retain(|&b| b != b'<' && b != b'>');
            "no-brackets"
        }
        8 => {
            c.extend_from_slice(PARAMS[rng.below(PARAMS.len() as u64) as usize].as_bytes());
            "param"
        }
        9 => {
            let at = rng.below(c.len() as u64 + 1) as usize;
            c.truncate(at);
            "truncate"
        }
        10 => {
            let ws = [b" ".as_slice(), b"   ", b"\t", b" \t "][rng.below(4) as usize];
            insert(rng, c, ws, "spaces")
        }
        11 => {
            let a = rng.below(c.len() as u64 + 1) as usize;
            let b = a + rng.below((c.len() - a) as u64 + 1) as usize;
            let dup = c[a..b].to_vec();
            c.splice(b..b, dup);
            "dup"
        }
        12 => {
            let verb_end = c.iter().position(|&b| b == b' ').unwrap_or(c.len());
            let verb: Vec<u8> = (0..1 + rng.below(8))
                .map(|_| b'A' + rng.below(26) as u8)
                .collect();
            c.splice(..verb_end, verb);
            "verb"
        }
        _ => {
            let utf8 = ["é", "ü", "😀", "日本"][rng.below(4) as usize];
            insert(rng, c, utf8.as_bytes(), "utf8")
        }
    }
}

fn insert_point(rng: &mut Rng, c: &[u8]) -> usize {
    rng.below(c.len() as u64 + 1) as usize
}

fn insert(rng: &mut Rng, c: &mut Vec<u8>, bytes: &[u8], tag: &'static str) -> &'static str {
    let at = insert_point(rng, c);
    c.splice(at..at, bytes.iter().copied());
    tag
}

/// Endings that some servers take for the end of data and RFC 5321 §4.1.1.4 does not: only
/// `CRLF . CRLF` ends it.
const SMUGGLE: &[(&str, &[u8])] = &[
    ("smuggle:lf-dot-lf", b"\n.\n"),
    ("smuggle:lf-dot-crlf", b"\n.\r\n"),
    ("smuggle:crlf-dot-lf", b"\r\n.\n"),
    ("smuggle:cr-dot-cr", b"\r.\r"),
    ("smuggle:cr-dot-crlf", b"\r.\r\n"),
    ("smuggle:crlf-dot-cr", b"\r\n.\r"),
];

/// A mail body for DATA: headers, a few odd lines, maybe a smuggling-style ending followed by
/// a smuggled transaction, then the real `CRLF . CRLF`. Returns the bytes and their tags.
pub fn body(rng: &mut Rng, sender: &str, rcpt: &str, n: u64) -> (Vec<u8>, Vec<&'static str>) {
    let mut tags = Vec::new();
    let mut lines: Vec<Vec<u8>> = vec![
        format!("From: <{sender}>").into_bytes(),
        format!("To: <{rcpt}>").into_bytes(),
        format!("Subject: mtpspec fuzz {n}").into_bytes(),
        Vec::new(),
    ];
    for _ in 0..rng.below(6) {
        let (line, tag) = body_line(rng);
        lines.push(line);
        tags.extend(tag);
    }
    lines.push(b"end".to_vec());
    let mut out = lines.join(b"\r\n".as_slice());
    if rng.chance(0.35) {
        let (tag, seq) = SMUGGLE[rng.below(SMUGGLE.len() as u64) as usize];
        let mut smuggled = out.clone();
        smuggled.extend_from_slice(seq);
        smuggled.extend_from_slice(
            format!(
                "MAIL FROM:<smuggled@example.org>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\nSubject: smuggled {n}\r\n\r\nx"
            )
            .as_bytes(),
        );
        if no_early_end(&smuggled) {
            out = smuggled;
            tags.push(tag);
        }
    }
    out.extend_from_slice(b"\r\n.\r\n");
    tags.sort_unstable();
    tags.dedup();
    (out, tags)
}

fn body_line(rng: &mut Rng) -> (Vec<u8>, Option<&'static str>) {
    match rng.below(8) {
        0 => (b"..a line that started with a dot".to_vec(), Some("dot")),
        1 => (vec![b'x'; 1200], Some("long-line")),
        2 => (b"caf\xe9 \xff\xfe 8-bit".to_vec(), Some("8bit")),
        3 => (b"bare\nLF inside".to_vec(), Some("bare-lf")),
        4 => (b"bare\rCR inside".to_vec(), Some("bare-cr")),
        5 => (b"NUL\0inside".to_vec(), Some("nul")),
        6 => (b"..".to_vec(), Some("dot")),
        _ => (b"plain text line".to_vec(), None),
    }
}

fn no_early_end(body_so_far: &[u8]) -> bool {
    let mut seen = b"\r\n".to_vec();
    seen.extend_from_slice(body_so_far);
    find(&seen, b"\r\n.\r\n").is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netfuzz::session::{Chunking, Op, Session};

    #[test]
    fn mutated_lines_and_bodies_keep_the_invariants() {
        let mut rng = Rng::new(7);
        for n in 0..2000 {
            let mut line = Line::new("MAIL", b"MAIL FROM:<a@example.org>".to_vec());
            mutate_line(&mut rng, &mut line);
            let (body, tags) = body(&mut rng, "a@example.org", "b@example.test", n);
            let session = Session {
                ops: vec![
                    Op::Group {
                        lines: vec![line],
                        chunking: Chunking::Whole,
                    },
                    Op::Data {
                        body,
                        tags,
                        chunking: Chunking::Whole,
                    },
                ],
            };
            assert!(session.is_valid(), "{session:?}");
        }
    }
}
