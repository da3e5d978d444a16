//! Message content as octets: filling in a case's placeholders, the transparency procedure both
//! ways (the harness dot-stuffs what it submits; the next hop removes one dot from what
//! arrives), bare line ends, and header fields split as they arrived (folding kept).

/// The values a case's content refers to: `{{token}}`, `{{rcpt}}`, `{{sender}}`,
/// `{{xHH}}`, one octet written in hex (an octet above 0x7F that is not UTF-8, say), and
/// `{{long}}`, a line of [`LONG_LINE`] octets (no line end) with dots in the middle.
#[derive(Clone, Debug)]
pub struct Vars {
    /// The case's unique token.
    pub token: String,
    /// The default recipient, `rcpt-TOKEN@relay.test`.
    pub rcpt: String,
    /// The default reverse-path, `sender-TOKEN@return.relay.test`.
    pub sender: String,
}

/// The length of `{{long}}`: over the 998 octets of text a line may have (RFC 5321
/// §4.5.3.1.6).
pub const LONG_LINE: usize = 1100;

/// `{{long}}`: 986 letters, then `.b` pairs up to [`LONG_LINE`] octets, so that a line cut
/// anywhere from octet 986 on may start with ".", which then must be dot-stuffed.
pub fn long_line() -> Vec<u8> {
    let mut line = vec![b'a'; 986];
    while line.len() < LONG_LINE {
        line.extend_from_slice(b".b");
    }
    line.truncate(LONG_LINE);
    line
}

/// Whether every `{{...}}` in `text` is a known placeholder.
pub fn check_placeholders(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            return Err("a `{{` without its `}}`".into());
        };
        let name = &rest[start + 2..start + len];
        if !matches!(name, "token" | "rcpt" | "sender" | "long") && octet(name).is_none() {
            return Err(format!(
                "unknown placeholder `{{{{{name}}}}}` (known: token, rcpt, sender, long, xHH)"
            ));
        }
        rest = &rest[start + len + 2..];
    }
    Ok(())
}

fn octet(name: &str) -> Option<u8> {
    let hex = name.strip_prefix('x')?;
    (hex.len() == 2).then(|| u8::from_str_radix(hex, 16).ok())?
}

/// The content with its placeholders filled in, as octets (checked at load time; an unknown
/// one is left as written).
pub fn render(text: &str, vars: &Vars) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.extend_from_slice(&rest.as_bytes()[..start]);
        let after = &rest[start + 2..];
        let Some(len) = after.find("}}") else {
            break;
        };
        let name = &after[..len];
        match name {
            "token" => out.extend_from_slice(vars.token.as_bytes()),
            "rcpt" => out.extend_from_slice(vars.rcpt.as_bytes()),
            "sender" => out.extend_from_slice(vars.sender.as_bytes()),
            "long" => out.extend_from_slice(&long_line()),
            other => match octet(other) {
                Some(b) => out.push(b),
                None => out.extend_from_slice(format!("{{{{{other}}}}}").as_bytes()),
            },
        }
        rest = &after[len + 2..];
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

/// The data the harness writes after the 354: the content exactly as the case wrote it
/// (dot-stuffing is the case's to write, so that a bare CR or LF and a "." after it go on the
/// wire as an attacker would send them), then CRLF "." CRLF, with a CRLF first when the
/// content does not end with one.
pub fn terminate(content: &[u8]) -> Vec<u8> {
    let mut out = content.to_vec();
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// The receiving side of the transparency procedure: one leading dot removed from each line
/// (at the start, or after a CRLF). The next hop's record is read so; so is the submitted
/// content, for what the target should have stored.
///
/// RFC 5321 §4.5.2: "When a line of mail text is received by the SMTP server, it checks the
/// line. ... If the first character is a period and there are other characters on the line,
/// the first character is deleted."
pub fn unstuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for (i, &b) in data.iter().enumerate() {
        if b == b'.' && (i == 0 || data[..i].ends_with(b"\r\n")) {
            continue;
        }
        out.push(b);
    }
    out
}

pub use crate::servetest::judge::bare_line_end;

/// `text` with its placeholders filled in, as text (an address of a case).
pub fn render_text(text: &str, vars: &Vars) -> String {
    String::from_utf8_lossy(&render(text, vars)).into_owned()
}

/// The header fields of `content`, each as it arrived (continuation lines and CRLFs
/// included), up to the empty line; and the offset where the body starts.
pub fn header_fields(content: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut start = None;
    let mut at = 0;
    while at < content.len() {
        let end = content[at..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(content.len(), |p| at + p + 2);
        let line = &content[at..end];
        if line == b"\r\n" {
            if let Some(s) = start.take() {
                fields.push(&content[s..at]);
            }
            return (fields, end);
        }
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !continuation {
            if let Some(s) = start.take() {
                fields.push(&content[s..at]);
            }
            start = Some(at);
        }
        at = end;
    }
    if let Some(s) = start {
        fields.push(&content[s..]);
    }
    (fields, content.len())
}

/// Whether a header field (as [`header_fields`] gives it) has the name `name`.
pub fn is_field(field: &[u8], name: &str) -> bool {
    field.len() > name.len()
        && field[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        && field[name.len()..]
            .iter()
            .find(|b| **b != b' ' && **b != b'\t')
            .is_some_and(|b| *b == b':')
}

/// The field's value: after the colon, unfolded, trimmed.
pub fn field_value(field: &[u8]) -> String {
    let text = String::from_utf8_lossy(field);
    let value = text.split_once(':').map_or("", |(_, v)| v);
    value
        .replace("\r\n", "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars {
            token: "t1".into(),
            rcpt: "rcpt-t1@relay.test".into(),
            sender: "sender-t1@return.relay.test".into(),
        }
    }

    #[test]
    fn placeholders_fill_in_and_unknown_ones_are_refused() {
        assert_eq!(
            render("a {{token}} <{{rcpt}}> {{x80}}{{xff}}", &vars()),
            b"a t1 <rcpt-t1@relay.test> \x80\xff"
        );
        assert!(check_placeholders("{{token}} {{sender}} {{x0a}} {{long}}").is_ok());
        let long = render("{{long}}", &vars());
        assert_eq!(long.len(), LONG_LINE);
        assert_eq!(&long[984..990], b"aa.b.b");
        assert!(check_placeholders("{{nope}}").is_err());
        assert!(check_placeholders("{{x8}}").is_err());
        assert!(check_placeholders("{{token").is_err());
    }

    #[test]
    fn dot_removal_and_the_end_of_data() {
        let sent = terminate(b"..\r\n...x\r\n..x\r\nbefore\n.\nafter\r\n");
        assert_eq!(
            sent,
            b"..\r\n...x\r\n..x\r\nbefore\n.\nafter\r\n.\r\n".to_vec()
        );
        // The next hop reads up to CRLF "." CRLF, keeping the CRLF before it.
        let data = &sent[..sent.len() - 3];
        assert_eq!(
            unstuff(data),
            b".\r\n..x\r\n.x\r\nbefore\n.\nafter\r\n".to_vec()
        );
        assert_eq!(terminate(b"x"), b"x\r\n.\r\n".to_vec());
    }

    #[test]
    fn bare_line_ends_are_found() {
        assert_eq!(bare_line_end(b"a\r\nb\r\n"), None);
        assert_eq!(bare_line_end(b"a\r\nb\nc"), Some(("LF", 4)));
        assert_eq!(bare_line_end(b"a\rb"), Some(("CR", 1)));
        assert_eq!(bare_line_end(b"a\r"), Some(("CR", 1)));
        assert_eq!(bare_line_end(b"\n"), Some(("LF", 0)));
    }

    #[test]
    fn header_fields_keep_folding() {
        let msg = b"Received: from a\r\n\tby b; x\r\nSubject: s\r\n\r\nbody\r\n";
        let (fields, body) = header_fields(msg);
        assert_eq!(
            fields,
            [&b"Received: from a\r\n\tby b; x\r\n"[..], b"Subject: s\r\n"]
        );
        assert_eq!(&msg[body..], b"body\r\n");
        assert!(is_field(fields[0], "received"));
        assert!(!is_field(fields[1], "Sub"));
        assert_eq!(field_value(fields[0]), "from a by b; x");
    }
}
