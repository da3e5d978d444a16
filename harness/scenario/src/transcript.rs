//! The terse `C:`/`S:` transcript form, read into ordinary steps.
//!
//! ```text
//! S: 220                      expect a 220 (anything after the code is commentary)
//! C: EHLO {{client}}          send the line, CRLF appended
//! S: 250-mx.example.test      a continuation line of a multi-line reply: commentary only
//! S: 250 SIZE 10485760        the reply's last line: expect 250
//! S: 250|251 /queued as/      alternatives, and a /regex/ the reply text must match
//! S: <silence 500>            nothing arrives for 500 ms
//! S: <close>                  the server closes the connection
//! # a comment; blank lines are ignored
//! ```

use super::expect::{CodeSet, ExpectReply, Pattern};
use super::model::{LocatedStep, Step};
use super::vars::Template;

/// A transcript line that cannot be read: its 1-based line in the file, and why.
#[derive(Debug, PartialEq, Eq)]
pub struct TranscriptError {
    /// The 1-based line of the offending transcript line in the scenario file.
    pub line: u64,
    /// The column of the `transcript:` value in the file (the same for every line of it).
    pub column: u64,
    /// What is wrong with the line (an unknown prefix, a bad code pattern or regex, ...).
    pub message: String,
}

/// Reads `text`, whose first line is line `first_line` (column `column`) of the file.
pub fn parse(
    text: &str,
    first_line: u64,
    column: u64,
) -> Result<Vec<LocatedStep>, TranscriptError> {
    let mut steps = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = first_line + i as u64;
        let err = |message: String| TranscriptError {
            line,
            column,
            message,
        };
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let step = if let Some(rest) = trimmed.strip_prefix("C:") {
            let text = rest.strip_prefix(' ').unwrap_or(rest);
            Some(Step::Send(Template::parse(text).map_err(err)?))
        } else if let Some(rest) = trimmed.strip_prefix("S:") {
            server_line(rest.trim()).map_err(err)?
        } else {
            return Err(err(format!(
                "transcript lines start with `C:` or `S:` (or `#` for a comment), not {trimmed:?}"
            )));
        };
        if let Some(step) = step {
            steps.push(LocatedStep { step, line, column });
        }
    }
    Ok(steps)
}

fn server_line(rest: &str) -> Result<Option<Step>, String> {
    if let Some(inner) = rest.strip_prefix('<').and_then(|r| r.strip_suffix('>')) {
        let mut words = inner.split_whitespace();
        return match (words.next(), words.next(), words.next()) {
            (Some("close"), None, _) => Ok(Some(Step::ExpectClose)),
            (Some("silence"), Some(ms), None) => ms
                .trim_end_matches("ms")
                .parse()
                .map(|ms| Some(Step::ExpectSilence(ms)))
                .map_err(|_| format!("bad duration {ms:?} in <silence MS>")),
            _ => Err(format!(
                "unknown server event <{inner}> (expected <close> or <silence MS>)"
            )),
        };
    }
    let (codes, text) = rest.split_once(' ').unwrap_or((rest, ""));
    let bytes = codes.as_bytes();
    if bytes.len() > 3 && bytes[3] == b'-' && bytes[..3].iter().all(u8::is_ascii_digit) {
        return Ok(None);
    }
    let mut expect = ExpectReply::code(CodeSet::parse(codes)?);
    let text = text.trim();
    if let Some(pattern) = text.strip_prefix('/').and_then(|t| t.strip_suffix('/')) {
        expect.any_of[0].text = Some(Pattern::new(pattern)?);
    }
    Ok(Some(Step::Expect(expect)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_session() {
        let steps = parse(
            "S: 220 mx ESMTP\nC: EHLO {{client}}\nS: 250-mx\nS: 250 SIZE\n\n# note\nC:\nS: 250|251 /queued/\nS: <silence 300>\nS: <close>\n",
            10,
            5,
        )
        .unwrap();
        let kinds: Vec<String> = steps
            .iter()
            .map(|s| {
                format!("{:?}", s.step)
                    .split('(')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "Expect",
                "Send",
                "Expect",
                "Send",
                "Expect",
                "ExpectSilence",
                "ExpectClose"
            ]
        );
        assert_eq!(steps[2].line, 13);
        let Step::Expect(e) = &steps[4].step else {
            panic!()
        };
        assert_eq!(e.to_string(), "250|251, text /queued/");
        let Step::Send(t) = &steps[3].step else {
            panic!()
        };
        assert_eq!(t.as_str(), "");
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("S: 220\nX: what\n", 4, 5).unwrap_err();
        assert_eq!(e.line, 5);
        assert!(parse("S: 2y0\n", 1, 1).is_err());
        assert!(parse("S: <later>\n", 1, 1).is_err());
    }
}
