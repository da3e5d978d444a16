//! Finding the client's content in what a server delivered: the body exactly, the client's
//! own header fields unchanged and in order, and whole header fields the server added, told
//! apart by where they went: above the client's content (trace fields, RFC 5321 §4.4) or among
//! and below the client's own fields (a `Date:` or `Message-ID:` an MX should not add, §6.4);
//! and, without the client's content to go by, the content after the fields usually added.

/// Where the client's content is in a delivered message.
#[derive(Debug, PartialEq)]
pub(crate) struct Found<'a> {
    /// Whole header fields the server put above the client's content.
    pub above: &'a [u8],
    /// Names of the whole header fields the server put among or below the client's own.
    pub inside: Vec<String>,
}

/// Finds `want` (the content as the client sent it) in `got` (as delivered); `None` when the
/// body differs, a client field is missing, changed or moved, or something other than whole
/// header fields was added.
pub(crate) fn find<'a>(got: &'a [u8], want: &[u8]) -> Option<Found<'a>> {
    if let Some(above) = got.strip_suffix(want)
        && is_header_fields(above)
    {
        return Some(Found {
            above,
            inside: Vec::new(),
        });
    }
    let (want_fields, want_rest) = split_header(want)?;
    let (got_fields, got_rest) = split_header(got)?;
    if want_rest != got_rest || want_fields.is_empty() {
        return None;
    }
    // The client's fields must appear in order; the first of them ends what is "above".
    let mut wanted = want_fields.iter().peekable();
    let mut first = None;
    let mut inside = Vec::new();
    for (i, field) in got_fields.iter().enumerate() {
        if wanted.peek() == Some(&field) {
            wanted.next();
            first.get_or_insert(i);
        } else if first.is_some() {
            inside.push(field_name(field));
        }
    }
    let first = first?;
    if wanted.next().is_some() {
        return None;
    }
    let above_len: usize = got_fields[..first].iter().map(|f| f.len()).sum();
    Some(Found {
        above: &got[..above_len],
        inside,
    })
}

/// Header fields a receiving server commonly puts on top of the content: trace fields (RFC
/// 5321 §4.4, RFC 5322 §3.6.7), `Received-SPF` (RFC 7208 §9.1), `Authentication-Results`
/// (RFC 8601), `ARC-*` (RFC 8617), `DKIM-Signature` (RFC 6376), delivery fields and every
/// `X-` field a site adds. Only used to find the client's content for `contains` checks; an
/// exact `data` check accepts any header fields added above the client's content.
const ADDED_ON_TOP: [&str; 8] = [
    "return-path:",
    "received:",
    "received-spf:",
    "delivered-to:",
    "authentication-results:",
    "dkim-signature:",
    "arc-",
    "x-",
];

/// The content after the header fields a receiving server puts on top (`ADDED_ON_TOP`),
/// with their continuation lines.
pub fn content_after_trace(data: &[u8]) -> &[u8] {
    let mut rest = data;
    let mut in_added = false;
    loop {
        let Some(end) = rest.iter().position(|&b| b == b'\n').map(|i| i + 1) else {
            return rest;
        };
        let line = &rest[..end];
        let continuation = in_added && matches!(line.first(), Some(b' ' | b'\t'));
        let starts_added = ADDED_ON_TOP.iter().any(|name| {
            line.len() >= name.len() && line[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        });
        if !(continuation || starts_added && field_name_len(line).is_some()) {
            return rest;
        }
        in_added = true;
        rest = &rest[end..];
    }
}

/// Whether `bytes` is zero or more whole header fields (RFC 5322 §2.2: `name:` then the body,
/// continuation lines start with SP or HTAB), each line ended by a line end.
pub(crate) fn is_header_fields(bytes: &[u8]) -> bool {
    split_header(bytes).is_some_and(|(_, rest)| rest.is_empty())
}

/// The length of the field name that starts `line` (RFC 5322 §3.6.8: printable US-ASCII
/// except colon, then a colon).
pub(crate) fn field_name_len(line: &[u8]) -> Option<usize> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = &line[..colon];
    (!name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b))).then_some(colon)
}

fn field_name(field: &[u8]) -> String {
    let end = field_name_len(field).unwrap_or(0);
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// The leading header fields of `bytes`, each with its continuation lines and line ends, and
/// what follows them (the blank line and the body, or nothing). `None` when a line before
/// that is neither a field nor a continuation.
fn split_header(bytes: &[u8]) -> Option<(Vec<&[u8]>, &[u8])> {
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let end = bytes[at..].iter().position(|&b| b == b'\n')? + at + 1;
        let line = &bytes[at..end];
        match line.first() {
            Some(b' ' | b'\t') => {
                let last = fields.last_mut()?;
                *last = &bytes[at - last.len()..end];
            }
            _ if field_name_len(line).is_some() => fields.push(line),
            _ => break,
        }
        at = end;
    }
    Some((fields, &bytes[at..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_trace_fields_only_at_the_top() {
        let data = b"Return-Path: <a@b>\r\nReceived: from x\r\n\tby y; date\r\nSubject: s\r\nReceived: z\r\n\r\nbody\r\n";
        assert_eq!(
            content_after_trace(data),
            b"Subject: s\r\nReceived: z\r\n\r\nbody\r\n"
        );
        assert_eq!(content_after_trace(b"Subject: s\r\n"), b"Subject: s\r\n");
        assert_eq!(content_after_trace(b""), b"");
    }

    const WANT: &[u8] = b"Subject: s\r\nFrom: a@b\r\n\r\nbody\r\n";

    #[test]
    fn fields_above_are_allowed_and_told_apart() {
        let above = b"Received-SPF: pass (x)\r\nAuthentication-Results: mx;\r\n\tspf=pass\r\nX-Spam-Status: No\r\nSubject: s\r\nFrom: a@b\r\n\r\nbody\r\n";
        let found = find(above, WANT).unwrap();
        assert!(found.above.starts_with(b"Received-SPF") && found.above.ends_with(b"No\r\n"));
        assert!(found.inside.is_empty());
        assert_eq!(find(WANT, WANT).unwrap().above, b"");
    }

    #[test]
    fn fields_added_among_the_clients_are_named() {
        let inside =
            b"Received: x\r\nSubject: s\r\nDate: d\r\nFrom: a@b\r\nMessage-ID: <m>\r\n\r\nbody\r\n";
        let found = find(inside, WANT).unwrap();
        assert_eq!(found.above, b"Received: x\r\n");
        assert_eq!(found.inside, ["Date", "Message-ID"]);
    }

    #[test]
    fn a_changed_body_or_client_field_is_not_the_content() {
        assert!(
            find(
                b"Received: x\r\nSubject: s\r\nFrom: a@b\r\n\r\nbody!\r\n",
                WANT
            )
            .is_none()
        );
        assert!(find(b"Subject: S\r\nFrom: a@b\r\n\r\nbody\r\n", WANT).is_none());
        assert!(find(b"From: a@b\r\nSubject: s\r\n\r\nbody\r\n", WANT).is_none());
        assert!(find(b"junk\r\nSubject: s\r\nFrom: a@b\r\n\r\nbody\r\n", WANT).is_none());
        assert!(find(b"Subject: s\r\n\r\nbody\r\n", WANT).is_none());
    }

    #[test]
    fn a_body_without_header_takes_fields_above_only() {
        assert!(find(b"Received: x\r\nline\r\n", b"line\r\n").is_some());
        assert!(find(b"Received: x\r\nother\r\n", b"line\r\n").is_none());
    }
}
