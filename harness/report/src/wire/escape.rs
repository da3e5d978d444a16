//! The one way octets are shown to people, in every report, transcript and message of the
//! harness: text as it is, and what would be invisible or ambiguous named in angle brackets, the
//! notation SPEC.md uses. CR is `<CR>`, LF `<LF>`, NUL `<NUL>`, any other control character and
//! every octet that is not UTF-8 `<xHH>`; a tab stays a tab.

use std::fmt::Write as _;

/// `bytes` shown as text (see the module documentation).
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "<x{b:02X}>");
        }
    }
    out
}

/// As [`escape`], with every run of more than [`RUN`] equal octets shortened to the first
/// one escaped and the count in braces: `a{5000}`, `<CR>{20}`. For the long, repetitive
/// inputs a fuzzer sends.
pub fn escape_runs(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut rest = bytes;
    while let Some(&first) = rest.first() {
        let run = rest.iter().take_while(|&&b| b == first).count();
        if run > RUN {
            let _ = write!(out, "{}{{{run}}}", escape(&[first]));
            rest = &rest[run..];
        } else {
            // Up to the next long run, escaped as a whole so that UTF-8 stays readable.
            let until = (1..rest.len())
                .find(|&i| {
                    let b = rest[i];
                    rest[i..].iter().take_while(|&&c| c == b).count() > RUN
                })
                .unwrap_or(rest.len());
            out.push_str(&escape(&rest[..until]));
            rest = &rest[until..];
        }
    }
    out
}

/// Runs of equal octets longer than this are shortened by [`escape_runs`].
pub const RUN: usize = 16;

fn push_char(out: &mut String, c: char) {
    match c {
        '\r' => out.push_str("<CR>"),
        '\n' => out.push_str("<LF>"),
        '\0' => out.push_str("<NUL>"),
        '\t' => out.push('\t'),
        c if c.is_control() => {
            let _ = write!(out, "<x{:02X}>", c as u32);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_controls_and_bad_utf8_are_named() {
        assert_eq!(escape(b"MAIL\0\r\n\xff"), "MAIL<NUL><CR><LF><xFF>");
        assert_eq!(escape("caf\u{e9}\t\x1b".as_bytes()), "caf\u{e9}\t<x1B>");
    }

    #[test]
    fn long_runs_are_counted() {
        assert_eq!(escape_runs(&[b'a'; 20]), "a{20}");
        assert_eq!(escape_runs(&[b'a'; RUN]), "a".repeat(RUN));
        let mut mixed = b"x\r\n".to_vec();
        mixed.extend([b'\r'; 30]);
        mixed.extend("\u{e9}.".as_bytes());
        assert_eq!(escape_runs(&mixed), "x<CR><LF><CR>{30}\u{e9}.");
    }
}
