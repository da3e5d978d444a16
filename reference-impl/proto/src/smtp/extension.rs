//! Service extensions: the typed set a server offers and the EHLO reply a client reads.
//!
//! RFC 5321 §4.1.1.1: the EHLO reply's first line carries the server's domain, every further
//! line one `ehlo-keyword *(SP ehlo-param)`. Keywords are case-insensitive.

use super::reply::Reply;

/// An extension mtpspec knows by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Extension {
    /// `PIPELINING` (RFC 2920): commands may be sent in groups without waiting for each reply.
    Pipelining,
    /// `SIZE [max]` (RFC 1870): the `SIZE=` MAIL parameter and the server's size limit.
    Size,
    /// `8BITMIME` (RFC 6152): the `BODY=8BITMIME` MAIL parameter.
    EightBitMime,
    /// `SMTPUTF8` (RFC 6531): UTF-8 in addresses and headers.
    SmtpUtf8,
    /// `ENHANCEDSTATUSCODES` (RFC 2034): replies carry RFC 3463 codes.
    EnhancedStatusCodes,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `CHUNKING` (RFC 3030): the BDAT command.
    Chunking,
    /// `AUTH mechanisms` (RFC 4954).
    Auth,
    /// `VMTP [verbs]` (seed 000; DESIGN: optionally followed by [`VMTP_VERBS`]).
    Vmtp,
    /// `HELP` (RFC 5321 §4.1.1.8), as in the seed's example EHLO reply.
    Help,
}

impl Extension {
    /// Every extension mtpspec knows by name.
    pub const ALL: [Extension; 10] = [
        Self::Pipelining,
        Self::Size,
        Self::EightBitMime,
        Self::SmtpUtf8,
        Self::EnhancedStatusCodes,
        Self::StartTls,
        Self::Chunking,
        Self::Auth,
        Self::Vmtp,
        Self::Help,
    ];

    /// The EHLO keyword, upper-case.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Pipelining => "PIPELINING",
            Self::Size => "SIZE",
            Self::EightBitMime => "8BITMIME",
            Self::SmtpUtf8 => "SMTPUTF8",
            Self::EnhancedStatusCodes => "ENHANCEDSTATUSCODES",
            Self::StartTls => "STARTTLS",
            Self::Chunking => "CHUNKING",
            Self::Auth => "AUTH",
            Self::Vmtp => "VMTP",
            Self::Help => "HELP",
        }
    }

    /// The extension named by an EHLO keyword, case-insensitively.
    pub fn from_keyword(keyword: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|e| e.keyword().eq_ignore_ascii_case(keyword))
    }
}

/// The VMTP verbs a server can list after its `VMTP` keyword.
pub const VMTP_VERBS: [&str; 6] = [
    "VECMAIL", "METADATA", "ENCRYPT", "BATCH", "READACK", "STATUS",
];

/// What an EHLO reply advertised.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    /// The server's domain and greeting text (the first line).
    pub greeting: String,
    /// `(KEYWORD in upper case, params)` per line, in the order advertised.
    pub keywords: Vec<(String, Vec<String>)>,
}

impl Extensions {
    /// Reads an EHLO reply: its first line is the greeting, each further line a keyword.
    pub fn from_ehlo(reply: &Reply) -> Self {
        let greeting = reply.lines.first().cloned().unwrap_or_default();
        let keywords = reply
            .lines
            .iter()
            .skip(1)
            .filter_map(|line| {
                let mut words = line.split_ascii_whitespace();
                let keyword = words.next()?.to_ascii_uppercase();
                Some((keyword, words.map(str::to_string).collect()))
            })
            .collect();
        Self { greeting, keywords }
    }

    /// Whether `keyword` was advertised (case-insensitive).
    pub fn has_keyword(&self, keyword: &str) -> bool {
        self.keywords
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(keyword))
    }

    /// Whether `extension` was advertised; for VMTP also the word `VMTP` in the greeting line
    /// (DESIGN, the seed's example).
    pub fn has(&self, extension: Extension) -> bool {
        self.has_keyword(extension.keyword())
            || (extension == Extension::Vmtp && self.vmtp_in_greeting())
    }

    /// The parameters of `keyword`'s line, if it was advertised.
    pub fn params(&self, keyword: &str) -> Option<&[String]> {
        self.keywords
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
            .map(|(_, p)| p.as_slice())
    }

    /// RFC 1870: `SIZE` with an optional maximum; 0 or absent means no fixed limit.
    pub fn max_size(&self) -> Option<u64> {
        self.params("SIZE")?
            .first()?
            .parse()
            .ok()
            .filter(|&n| n > 0)
    }

    /// DESIGN: clients also accept the word VMTP in the first EHLO line (the seed's form).
    fn vmtp_in_greeting(&self) -> bool {
        self.greeting
            .split_ascii_whitespace()
            .skip(1)
            .any(|w| w.eq_ignore_ascii_case("VMTP"))
    }

    /// Whether the server offers one VMTP verb. A bare `VMTP` keyword (or VMTP in the greeting)
    /// offers all of them; a list offers those listed.
    pub fn vmtp_verb(&self, verb: &str) -> bool {
        match self.params("VMTP") {
            Some([]) => true,
            Some(list) => list.iter().any(|v| v.eq_ignore_ascii_case(verb)),
            None => self.vmtp_in_greeting(),
        }
    }

    /// Mechanisms listed after `AUTH`.
    pub fn auth_mechanisms(&self) -> Vec<String> {
        self.params("AUTH")
            .map(|p| p.iter().map(|m| m.to_ascii_uppercase()).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::reply::ReplyCode;

    fn ehlo(lines: &[&str]) -> Extensions {
        Extensions::from_ehlo(&Reply::multiline(
            ReplyCode::OK,
            None,
            lines.iter().map(|s| s.to_string()).collect(),
        ))
    }

    #[test]
    fn reads_keywords_and_params() {
        let ext = ehlo(&[
            "mx.example hi",
            "SIZE 1000",
            "pipelining",
            "VMTP VECMAIL METADATA",
            "AUTH PLAIN login",
        ]);
        assert!(ext.has(Extension::Pipelining));
        assert_eq!(ext.max_size(), Some(1000));
        assert!(ext.vmtp_verb("vecmail"));
        assert!(!ext.vmtp_verb("BATCH"));
        assert_eq!(ext.auth_mechanisms(), ["PLAIN", "LOGIN"]);
    }

    #[test]
    fn vmtp_in_first_line_offers_every_verb() {
        let ext = ehlo(&["vmtp.example.com VMTP", "SIZE 10485760", "HELP"]);
        assert!(ext.has(Extension::Vmtp));
        assert!(ext.vmtp_verb("BATCH"));
        assert!(!ehlo(&["VMTP.example.com hello"]).has(Extension::Vmtp));
    }
}
