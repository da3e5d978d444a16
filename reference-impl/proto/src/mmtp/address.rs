//! MMTP addresses: `(localpart)%(domain)`.
//!
//! Seed §3.3: "The format MUST follow this regular expression:
//! `/^\([a-zA-Z0-9._-]+\)%\([a-zA-Z0-9.-]+\)$/`". The parser below is that expression written
//! out by hand (no regex engine in the core). The original server checked it only for RECEIVE,
//! CHECK and the key actions; DESIGN makes SEND check sender and recipient too.

use std::fmt;

/// A syntactically valid MMTP address, as written by the client.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Address {
    local: String,
    domain: String,
}

/// Why a string is not an MMTP address.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressError {
    /// Not of the shape `(…)%(…)`.
    Shape,
    /// A character outside `[a-zA-Z0-9._-]` in the local part.
    LocalPart,
    /// A character outside `[a-zA-Z0-9.-]` in the domain.
    Domain,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Shape => "not of the form (name)%(domain)",
            Self::LocalPart => "the name may only hold letters, digits, '.', '_' and '-'",
            Self::Domain => "the domain may only hold letters, digits, '.' and '-'",
        })
    }
}

impl std::error::Error for AddressError {}

impl Address {
    /// Parses the whole string; nothing may precede or follow the address.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let inner = text
            .strip_prefix('(')
            .and_then(|s| s.strip_suffix(')'))
            .ok_or(AddressError::Shape)?;
        // The local part cannot hold ')' or '%', so the first ")%(" is the separator.
        let (local, domain) = inner.split_once(")%(").ok_or(AddressError::Shape)?;
        let local_ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
        let domain_ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-');
        if local.is_empty() || domain.is_empty() {
            return Err(AddressError::Shape);
        }
        if !local.bytes().all(local_ok) {
            return Err(AddressError::LocalPart);
        }
        if !domain.bytes().all(domain_ok) {
            // `(a)%(b)%(c)` splits as local `a`, domain `b)%(c`: still a shape problem.
            return Err(if domain.contains([')', '(', '%']) {
                AddressError::Shape
            } else {
                AddressError::Domain
            });
        }
        Ok(Self {
            local: local.to_owned(),
            domain: domain.to_owned(),
        })
    }

    /// The name inside the first parentheses, as written (case kept).
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The domain inside the second parentheses, as written (case kept).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The key of this address's mailbox: the name exactly, the domain in lowercase (domain
    /// names are case-insensitive; the original server compared whole strings).
    pub fn mailbox_key(&self) -> String {
        format!("({})%({})", self.local, self.domain.to_ascii_lowercase())
    }

    /// True when `text` is an MMTP address.
    pub fn is_valid(text: &str) -> bool {
        Self::parse(text).is_ok()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({})%({})", self.local, self.domain)
    }
}

impl std::str::FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("(alice)%(example.com)")]
    #[case("(support)%(company.org)")]
    #[case("(newsletter)%(news.service)")]
    #[case("(a.b_c-d)%(x-y.z)")]
    #[case("(A1)%(B2)")]
    #[case("(.)%(.)")]
    fn accepts_the_seed_forms(#[case] text: &str) {
        let address = Address::parse(text).unwrap();
        assert_eq!(address.to_string(), text);
    }

    #[rstest]
    #[case("alice@example.com", AddressError::Shape)]
    #[case("(alice)%(example.com) ", AddressError::Shape)]
    #[case(" (alice)%(example.com)", AddressError::Shape)]
    #[case("(alice)%(example.com)\n", AddressError::Shape)]
    #[case("()%(example.com)", AddressError::Shape)]
    #[case("(alice)%()", AddressError::Shape)]
    #[case("(alice)(example.com)", AddressError::Shape)]
    #[case("(alice)%(b)%(c)", AddressError::Shape)]
    #[case("(al ice)%(example.com)", AddressError::LocalPart)]
    #[case("(al+ice)%(example.com)", AddressError::LocalPart)]
    #[case("(alicé)%(example.com)", AddressError::LocalPart)]
    #[case("(alice)%(exa_mple.com)", AddressError::Domain)]
    #[case("(alice)%(example.com:25)", AddressError::Domain)]
    #[case("", AddressError::Shape)]
    fn refuses_everything_else(#[case] text: &str, #[case] error: AddressError) {
        assert_eq!(Address::parse(text), Err(error));
    }

    #[test]
    fn mailbox_key_folds_only_the_domain() {
        let address = Address::parse("(Bob)%(Example.COM)").unwrap();
        assert_eq!(address.mailbox_key(), "(Bob)%(example.com)");
    }
}
