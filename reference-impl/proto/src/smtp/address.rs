//! Mailboxes and paths of the MAIL, RCPT and VECMAIL commands (RFC 5321 §4.1.2, RFC 6531 §3.3).
//!
//! ```text
//! Path      = "<" [ A-d-l ":" ] Mailbox ">"
//! Mailbox   = Local-part "@" ( Domain / address-literal )
//! Local-part = Dot-string / Quoted-string
//! Domain    = sub-domain *("." sub-domain)
//! ```
//! Non-ASCII is allowed in atoms, quoted strings and domain labels (RFC 6531); whether it is
//! acceptable in a given transaction (the SMTPUTF8 parameter) is the session's decision, so a
//! parsed mailbox remembers whether it needs SMTPUTF8.

use std::fmt;

/// `local-part@domain`, as written by the client (quotes kept in a quoted local part).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// The Local-part as written: a Dot-string, or a Quoted-string with its quotes and escapes.
    pub local_part: String,
    /// A domain (possibly with U-labels, RFC 6531) or an address literal such as `[192.0.2.1]`.
    pub domain: String,
}

impl Mailbox {
    /// True when the mailbox holds non-ASCII text and so needs the SMTPUTF8 extension.
    pub fn needs_utf8(&self) -> bool {
        !self.local_part.is_ascii() || !self.domain.is_ascii()
    }

    /// The local part without surrounding quotes, for user lookups.
    pub fn unquoted_local(&self) -> String {
        match self
            .local_part
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
        {
            Some(inner) => inner
                .replace("\\\\", "\u{0}")
                .replace('\\', "")
                .replace('\u{0}', "\\"),
            None => self.local_part.clone(),
        }
    }

    /// Parses a whole `local@domain` string (no angle brackets).
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let (mailbox, rest) = parse_mailbox(text)?;
        if !rest.is_empty() {
            return Err(AddressError::Trailing);
        }
        Ok(mailbox)
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local_part, self.domain)
    }
}

/// The argument of MAIL FROM or RCPT TO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Path {
    /// `<>`: the null reverse-path of bounces (RFC 5321 §4.5.5).
    Null,
    /// `<Postmaster>` without a domain, which RCPT must accept (RFC 5321 §4.1.1.3).
    Postmaster,
    /// `<local@domain>`, any source route dropped (RFC 5321 §4.1.2).
    Mailbox(Mailbox),
}

impl Path {
    /// The mailbox, unless the path is `<>` or `<Postmaster>`.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            Path::Mailbox(m) => Some(m),
            _ => None,
        }
    }

    /// True when the mailbox holds non-ASCII text, so the transaction needs SMTPUTF8 (RFC 6531).
    pub fn needs_utf8(&self) -> bool {
        self.mailbox().is_some_and(Mailbox::needs_utf8)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Null => f.write_str("<>"),
            Path::Postmaster => f.write_str("<Postmaster>"),
            Path::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

/// Why a path or mailbox does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressError {
    /// No `<` before the path, or no `>` (or `,` in VECMAIL) after it.
    MissingBrackets,
    /// A Local-part that is neither a Dot-string nor a Quoted-string (RFC 5321 §4.1.2).
    BadLocalPart,
    /// No `@` after the Local-part; also `<>` where the null path is not allowed.
    MissingAt,
    /// Neither a domain nor an address literal (RFC 5321 §4.1.2, §4.1.3).
    BadDomain,
    /// A source route (`@a,@b:`) that is not a list of `@domain`.
    BadSourceRoute,
    /// Text right after the path or mailbox where a space or the end belongs.
    Trailing,
    /// Longer than the RFC 5321 §4.5.3.1 limits (local part 64, domain 255, path 256 octets).
    TooLong,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MissingBrackets => "path must be enclosed in <>",
            Self::BadLocalPart => "invalid local part",
            Self::MissingAt => "mailbox needs local-part@domain",
            Self::BadDomain => "invalid domain",
            Self::BadSourceRoute => "invalid source route",
            Self::Trailing => "unexpected characters after the address",
            Self::TooLong => "path too long",
        })
    }
}

impl std::error::Error for AddressError {}

/// Parses `<...>` at the start of `text`; returns the path and the text after `>`.
/// `<>` is accepted only when `allow_null`, `<Postmaster>` only when `allow_postmaster`.
pub fn parse_path(
    text: &str,
    allow_null: bool,
    allow_postmaster: bool,
) -> Result<(Path, &str), AddressError> {
    let inner = text
        .strip_prefix('<')
        .ok_or(AddressError::MissingBrackets)?;
    if let Some(rest) = inner.strip_prefix('>') {
        return if allow_null {
            Ok((Path::Null, rest))
        } else {
            Err(AddressError::MissingAt)
        };
    }
    let inner = skip_source_route(inner)?;
    if allow_postmaster
        && inner
            .get(..11)
            .is_some_and(|p| p.eq_ignore_ascii_case("postmaster>"))
    {
        return Ok((Path::Postmaster, &inner[11..]));
    }
    let (mailbox, rest) = parse_mailbox(inner)?;
    let rest = rest
        .strip_prefix('>')
        .ok_or(AddressError::MissingBrackets)?;
    // RFC 5321 §4.5.3.1.3: "The maximum total length of a reverse-path or forward-path is 256
    // octets (including the punctuation and element separators)."
    if text.len() - rest.len() > MAX_PATH {
        return Err(AddressError::TooLong);
    }
    Ok((Path::Mailbox(mailbox), rest))
}

/// RFC 5321 §4.5.3.1.1: "The maximum total length of a user name or other local-part is 64
/// octets."
pub const MAX_LOCAL_PART: usize = 64;
/// RFC 5321 §4.5.3.1.2: "The maximum total length of a domain name or number is 255 octets."
pub const MAX_DOMAIN: usize = 255;
/// RFC 5321 §4.5.3.1.3, angle brackets included.
pub const MAX_PATH: usize = 256;

/// RFC 5321 §4.1.2: servers MUST accept an A-d-l (`@one,@two:`) and SHOULD ignore it.
fn skip_source_route(text: &str) -> Result<&str, AddressError> {
    if !text.starts_with('@') {
        return Ok(text);
    }
    let colon = text.find(':').ok_or(AddressError::BadSourceRoute)?;
    for hop in text[..colon].split(',') {
        let domain = hop.strip_prefix('@').ok_or(AddressError::BadSourceRoute)?;
        if !is_domain(domain) {
            return Err(AddressError::BadSourceRoute);
        }
    }
    Ok(&text[colon + 1..])
}

/// Parses `local@domain` at the start of `text`, stopping at `>`, `,`, a space or the end.
pub fn parse_mailbox(text: &str) -> Result<(Mailbox, &str), AddressError> {
    let local_len = local_part_len(text).ok_or(AddressError::BadLocalPart)?;
    let (local, rest) = text.split_at(local_len);
    let rest = rest.strip_prefix('@').ok_or(AddressError::MissingAt)?;
    let end = rest.find(['>', ',', ' ']).unwrap_or(rest.len());
    let (domain, rest) = rest.split_at(end);
    // The limits of RFC 5321 §4.5.3.1.1 and §4.5.3.1.2 (see the constants); a mailbox also
    // has to fit in a 256-octet path with its two angle brackets (§4.5.3.1.3).
    if local.len() > MAX_LOCAL_PART
        || domain.len() > MAX_DOMAIN
        || local.len() + 1 + domain.len() > MAX_PATH - 2
    {
        return Err(AddressError::TooLong);
    }
    if !(is_domain(domain) || is_address_literal(domain)) {
        return Err(AddressError::BadDomain);
    }
    Ok((
        Mailbox {
            local_part: local.to_string(),
            domain: domain.to_string(),
        },
        rest,
    ))
}

/// RFC 5322 atext, extended by RFC 6531 with any non-ASCII character.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// Length in bytes of the Dot-string or Quoted-string at the start of `text`.
fn local_part_len(text: &str) -> Option<usize> {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut escaped = false;
        for (i, c) in quoted.char_indices() {
            match (escaped, c) {
                (true, ' '..='~') => escaped = false,
                (true, _) => return None,
                (false, '\\') => escaped = true,
                (false, '"') => return Some(i + 2),
                (false, c) if c == ' ' || c == '!' || ('#'..='~').contains(&c) || !c.is_ascii() => {
                }
                _ => return None,
            }
        }
        return None;
    }
    let end = text
        .find(|c: char| !(is_atext(c) || c == '.'))
        .unwrap_or(text.len());
    let dot_string = &text[..end];
    let well_formed = !dot_string.is_empty() && dot_string.split('.').all(|atom| !atom.is_empty());
    well_formed.then_some(end)
}

/// `sub-domain *("." sub-domain)`, each label a letter-digit-hyphen string (or a U-label)
/// that neither starts nor ends with a hyphen.
pub fn is_domain(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 255
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii())
        })
}

/// `[IPv4]`, `[IPv6:...]` or a general `[tag:content]` literal (RFC 5321 §4.1.3).
pub fn is_address_literal(text: &str) -> bool {
    let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) else {
        return false;
    };
    if let Some(v6) = inner
        .strip_prefix("IPv6:")
        .or_else(|| inner.strip_prefix("ipv6:"))
    {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    if inner.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    match inner.split_once(':') {
        Some((tag, content)) => {
            is_domain(tag)
                && !content.is_empty()
                && content
                    .bytes()
                    .all(|b| (33..=90).contains(&b) || (94..=126).contains(&b))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("<a@b.example>", "a@b.example")]
    #[case("<\"john doe\"@example.com>", "\"john doe\"@example.com")]
    #[case("<@relay.example,@other.example:u@example.com>", "u@example.com")]
    #[case("<u@[192.0.2.1]>", "u@[192.0.2.1]")]
    #[case("<u@[IPv6:::1]>", "u@[IPv6:::1]")]
    #[case("<用户@例子.广告>", "用户@例子.广告")]
    fn parses_paths(#[case] input: &str, #[case] mailbox: &str) {
        let (path, rest) = parse_path(input, false, false).unwrap();
        assert_eq!(path.mailbox().unwrap().to_string(), mailbox);
        assert_eq!(rest, "");
    }

    #[rstest]
    #[case("a@b.example")]
    #[case("<a@b.example")]
    #[case("<a.@b.example>")]
    #[case("<a@-b.example>")]
    #[case("<a@b..example>")]
    #[case("<@b.example>")]
    #[case("<a b@c.example>")]
    #[case("<ab.example>")]
    fn rejects_bad_paths(#[case] input: &str) {
        assert!(parse_path(input, true, true).is_err(), "{input}");
    }

    #[test]
    fn null_and_postmaster() {
        assert_eq!(
            parse_path("<> SIZE=1", true, false).unwrap(),
            (Path::Null, " SIZE=1")
        );
        assert!(parse_path("<>", false, true).is_err());
        assert_eq!(
            parse_path("<POSTMASTER>", false, true).unwrap().0,
            Path::Postmaster
        );
        assert!(parse_path("<Postmaster>", false, false).is_err());
    }

    #[test]
    fn length_limits_of_rfc_5321() {
        let local = |n: usize| "l".repeat(n);
        // A valid domain of n octets: labels of 63 octets joined by dots.
        let domain = |n: usize| {
            let mut d = String::new();
            while d.len() + 64 <= n {
                d.push_str(&"d".repeat(63));
                d.push('.');
            }
            d.push_str(&"d".repeat(n - d.len()));
            d
        };
        assert!(parse_path(&format!("<{}@x.example>", local(64)), false, false).is_ok());
        assert_eq!(
            parse_path(&format!("<{}@x.example>", local(65)), false, false),
            Err(AddressError::TooLong)
        );
        assert!(parse_path(&format!("<a@{}>", domain(252)), false, false).is_ok());
        assert_eq!(
            parse_path(&format!("<a@{}>", domain(256)), false, false),
            Err(AddressError::TooLong)
        );
        // 64 + 1 + 190 = 255 octets of mailbox: 257 with the brackets.
        assert_eq!(
            parse_path(&format!("<{}@{}>", local(64), domain(190)), false, false),
            Err(AddressError::TooLong)
        );
        assert!(parse_path(&format!("<{}@{}>", local(64), domain(189)), false, false).is_ok());
        // A source route counts toward the path.
        let route = format!("@{},", domain(120)).repeat(2);
        let path = format!("<{}:a@b.example>", route.trim_end_matches(','));
        assert_eq!(parse_path(&path, false, false), Err(AddressError::TooLong));
    }

    #[test]
    fn utf8_detection_and_unquoting() {
        assert!(Mailbox::parse("ü@example.com").unwrap().needs_utf8());
        assert!(!Mailbox::parse("u@example.com").unwrap().needs_utf8());
        assert_eq!(
            Mailbox::parse("\"a\\\"b\"@x.example")
                .unwrap()
                .unquoted_local(),
            "a\"b"
        );
    }
}
