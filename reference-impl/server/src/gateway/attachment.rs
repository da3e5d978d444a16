//! An attachment of a submitted message: its media type (RFC 2045 §5.1, parameters kept),
//! its content, and how that content travels in its MIME part.
//!
//! Leaf types travel in base64. RFC 2045 §6.4 allows no encoding but 7bit, 8bit or binary
//! for a composite type, and RFC 2046 §5.2.2 and §5.2.3 allow only 7bit for message/partial
//! and message/external-body; so `multipart/*` and `message/*` (except message/global, which
//! RFC 6532 §3.5 lets be encoded) travel unencoded. Their line ends are made CRLF (the
//! canonical form of a message), then they go as 7bit when every octet is ASCII, else as 8bit
//! (the upstream must offer 8BITMIME, RFC 6152, or that delivery fails and says so). Content
//! that neither allows (a NUL, a line over 998 octets, 8-bit octets where only 7bit is
//! allowed) is refused: binary would need BINARYMIME, which the gateway does not use.

use std::fmt;

/// RFC 5322 §2.1.1: 998 octets on a line, CRLF not counted.
const MAX_LINE: usize = 998;
/// A media type is one header line.
const MAX_MEDIA_TYPE: usize = 998;

/// A media type with its parameters: `type/subtype` lowercased, parameter names lowercased,
/// values as given (mail-builder quotes them, or encodes them per RFC 2231 when not ASCII).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaType {
    essence: String,
    params: Vec<(String, String)>,
}

/// How an attachment's content is written in its part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    /// Base64: leaf types, and `message/global`.
    Base64,
    /// Unencoded, every octet ASCII: `7bit`.
    SevenBit,
    /// Unencoded with 8-bit octets: `8bit`, which needs the upstream's 8BITMIME (RFC 6152).
    EightBit,
}

impl Transfer {
    /// The Content-Transfer-Encoding of an unencoded part.
    pub fn unencoded_name(self) -> Option<&'static str> {
        match self {
            Transfer::Base64 => None,
            Transfer::SevenBit => Some("7bit"),
            Transfer::EightBit => Some("8bit"),
        }
    }
}

/// One checked attachment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The file name in the part's Content-Disposition, as the client gave it (one line, not
    /// empty).
    pub filename: String,
    /// The part's Content-Type.
    pub media_type: MediaType,
    /// Canonical (CRLF line ends) when `transfer` is not base64.
    pub data: Vec<u8>,
    /// How `data` is written in the part.
    pub transfer: Transfer,
}

impl Attachment {
    /// Decides how `data` travels; an error is about the content.
    pub fn new(filename: String, media_type: MediaType, data: Vec<u8>) -> Result<Self, String> {
        let (data, transfer) = match media_type.unencoded() {
            None => (data, Transfer::Base64),
            Some(eight_bit_allowed) => {
                let data = canonical(&data);
                let transfer = unencoded(&data, eight_bit_allowed, &media_type.essence)?;
                (data, transfer)
            }
        };
        Ok(Self {
            filename,
            media_type,
            data,
            transfer,
        })
    }
}

impl MediaType {
    /// `type/subtype *(; attribute=value)` with RFC 2045 tokens and quoted strings; spaces
    /// around the separators are allowed, comments and RFC 2231 `name*` parameters are not.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_MEDIA_TYPE {
            return Err(format!("{} octets; at most {MAX_MEDIA_TYPE}", text.len()));
        }
        let expected = "expected a media type like text/plain or text/plain; charset=utf-8";
        let (kind, rest) = token(skip_ws(text)).ok_or(expected)?;
        let rest = rest.strip_prefix('/').ok_or(expected)?;
        let (subtype, mut rest) = token(rest).ok_or(expected)?;
        let essence = format!("{kind}/{subtype}").to_ascii_lowercase();
        let mut params: Vec<(String, String)> = Vec::new();
        loop {
            rest = skip_ws(rest);
            let Some(after) = rest.strip_prefix(';') else {
                if rest.is_empty() {
                    break;
                }
                return Err(format!("expected \";\" before {rest:?}"));
            };
            rest = skip_ws(after);
            if rest.is_empty() {
                break; // a trailing ";", as some clients send
            }
            let (name, value, after) = parameter(rest)?;
            if params.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                return Err(format!("the parameter {name} is given twice"));
            }
            params.push((name.to_ascii_lowercase(), value));
            rest = after;
        }
        let media_type = Self { essence, params };
        if media_type.essence.starts_with("multipart/") && media_type.param("boundary").is_none() {
            return Err("a multipart type needs its boundary parameter".into());
        }
        Ok(media_type)
    }

    /// `type/subtype`, lowercase.
    pub fn essence(&self) -> &str {
        &self.essence
    }

    /// The parameters in the order given: names lowercase, values as given.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `None` for a type that travels in base64; else whether 8bit is allowed.
    fn unencoded(&self) -> Option<bool> {
        let (kind, subtype) = self.essence.split_once('/')?;
        match (kind, subtype) {
            ("multipart", _) => Some(true),
            ("message", "global") => None,
            ("message", "partial" | "external-body") => Some(false),
            ("message", _) => Some(true),
            _ => None,
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.essence)?;
        for (name, value) in &self.params {
            write!(f, "; {name}={value:?}")?;
        }
        Ok(())
    }
}

fn skip_ws(text: &str) -> &str {
    text.trim_start_matches([' ', '\t'])
}

/// RFC 2045 `token`: ASCII without space, controls and tspecials.
fn token(text: &str) -> Option<(&str, &str)> {
    let end = text
        .find(|c: char| {
            !c.is_ascii() || c.is_ascii_control() || c == ' ' || "()<>@,;:\\\"/[]?=".contains(c)
        })
        .unwrap_or(text.len());
    (end > 0).then(|| text.split_at(end))
}

/// `attribute = value`, the value a token or a quoted string.
fn parameter(text: &str) -> Result<(&str, String, &str), String> {
    let (name, rest) = token(text).ok_or_else(|| format!("expected a parameter at {text:?}"))?;
    if name.contains('*') {
        return Err(format!(
            "{name}: RFC 2231 parameters are not taken; give the value as it is (UTF-8 is encoded as needed)"
        ));
    }
    let rest = skip_ws(rest)
        .strip_prefix('=')
        .ok_or_else(|| format!("the parameter {name} has no value"))?;
    let rest = skip_ws(rest);
    if let Some(quoted) = rest.strip_prefix('"') {
        let (value, rest) = quoted_string(quoted).ok_or_else(|| {
            format!("the parameter {name}: the quoted string is not closed or has a line break")
        })?;
        return Ok((name, value, rest));
    }
    let (value, rest) = token(rest).ok_or_else(|| {
        format!("the parameter {name}: expected a token or a quoted string as its value")
    })?;
    Ok((name, value.to_string(), rest))
}

/// The rest of a quoted string after its opening quote: the value, and what follows.
fn quoted_string(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        let c = match c {
            '"' => return Some((value, &text[i + 1..])),
            '\\' => chars.next()?.1,
            c => c,
        };
        if c.is_control() && c != '\t' {
            return None;
        }
        value.push(c);
    }
    None
}

/// Line ends as CRLF: a bare LF or a bare CR becomes CRLF.
fn canonical(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if data.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            octet => out.push(octet),
        }
        i += 1;
    }
    out
}

/// 7bit or 8bit for canonical `data`, or why it can be neither.
fn unencoded(data: &[u8], eight_bit_allowed: bool, essence: &str) -> Result<Transfer, String> {
    if data.contains(&0) {
        return Err(format!(
            "a {essence} attachment travels unencoded (RFC 2045 §6.4) and cannot carry a NUL octet"
        ));
    }
    for (n, line) in data.split(|&b| b == b'\n').enumerate() {
        let length = line.strip_suffix(b"\r").unwrap_or(line).len();
        if length > MAX_LINE {
            return Err(format!(
                "line {} is {length} octets; a {essence} attachment travels unencoded (RFC 2045 §6.4) and its lines hold at most {MAX_LINE}",
                n + 1
            ));
        }
    }
    if data.is_ascii() {
        return Ok(Transfer::SevenBit);
    }
    if !eight_bit_allowed {
        return Err(format!(
            "a {essence} attachment travels only as 7bit (RFC 2046 §5.2), and this one has octets above 127"
        ));
    }
    Ok(Transfer::EightBit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_media_types_with_parameters() {
        let t = MediaType::parse(" Text/Plain ; Charset=\"utf-8\" ;format=flowed;").unwrap();
        assert_eq!(t.essence(), "text/plain");
        assert_eq!(
            t.params(),
            [
                ("charset".into(), "utf-8".into()),
                ("format".into(), "flowed".into())
            ]
        );
        let q = MediaType::parse(r#"application/x; name="a \"b\"; c""#).unwrap();
        assert_eq!(q.params()[0].1, "a \"b\"; c");
        assert_eq!(q.to_string(), r#"application/x; name="a \"b\"; c""#);
        for bad in [
            "text",
            "text/",
            "/plain",
            "text/plain; charset",
            "text/plain; charset=",
            "text/plain charset=utf-8",
            "text/plain; a=1; A=2",
            "text/plain; a=\"open",
            "text/plain; a=\"line\nbreak\"",
            "text/plain; title*=utf-8''x",
            "text/plain (comment)",
            "text/pl@in",
            "multipart/mixed",
        ] {
            assert!(MediaType::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn composite_types_travel_unencoded_or_not_at_all() {
        let attach = |t: &str, data: &[u8]| {
            Attachment::new("f".into(), MediaType::parse(t).unwrap(), data.to_vec())
        };
        let a = attach("message/rfc822", b"Subject: x\n\nhi\r\n").unwrap();
        assert_eq!(
            (a.transfer, a.data.as_slice()),
            (Transfer::SevenBit, &b"Subject: x\r\n\r\nhi\r\n"[..])
        );
        assert_eq!(
            attach("message/rfc822", "é".as_bytes()).unwrap().transfer,
            Transfer::EightBit
        );
        assert_eq!(
            attach("image/png", b"\0\xff").unwrap().transfer,
            Transfer::Base64
        );
        assert_eq!(
            attach("message/global", b"\0").unwrap().transfer,
            Transfer::Base64
        );
        assert!(attach("message/partial; id=1; number=1", "é".as_bytes()).is_err());
        assert!(attach("message/rfc822", b"a\0b").is_err());
        assert!(attach("message/rfc822", &[b'a'; 999]).is_err());
        assert!(attach("message/rfc822", &[b'a'; 998]).is_ok());
        assert_eq!(canonical(b"a\rb\r\nc\n"), b"a\r\nb\r\nc\r\n");
    }
}
