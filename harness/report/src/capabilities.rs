//! What a target advertised, as the probe found it and a report records it: the greeting, the
//! EHLO keywords in plaintext and after STARTTLS, and the MMTP welcome. Read back from a
//! report, the extensions are parsed again from the keyword lines.

use mtp_proto::smtp::extension::Extensions;
use mtpspec_scenario::{Keyword, Protocol};
use serde::Serialize;

/// What an MMTP welcome said.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MmtpWelcome {
    /// `message`, as received.
    pub message: String,
    /// `features.tls`.
    pub tls: bool,
    /// `features.pgp`.
    pub pgp: bool,
    /// `difficulty`, when announced (the original does not).
    pub difficulty: Option<u32>,
}

/// What the target advertised. Read back from a report, the extensions are parsed again from
/// the keyword lines.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[serde(from = "CapabilitiesRecord")]
pub struct Capabilities {
    /// The greeting line, as received.
    pub greeting: String,
    /// The first word of the greeting: the name the target calls itself.
    pub hostname: String,
    /// EHLO keyword lines in plaintext (or on an implicit-TLS connection).
    pub keywords: Vec<String>,
    /// EHLO keyword lines after STARTTLS, when it was offered and worked.
    pub tls_keywords: Option<Vec<String>>,
    /// Anything odd the probe noticed.
    pub notes: Vec<String>,
    /// The MMTP welcome, when the target has an MMTP listener.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mmtp: Option<MmtpWelcome>,
    #[serde(skip)]
    plain: Extensions,
    #[serde(skip)]
    tls: Option<Extensions>,
}

impl Capabilities {
    /// Whether the target advertises `keyword`, in plaintext or over TLS.
    pub fn offers(&self, keyword: &Keyword) -> bool {
        keyword.offered_by(&self.plain) || self.tls.as_ref().is_some_and(|t| keyword.offered_by(t))
    }

    /// The SIZE maximum the target advertises (RFC 1870), when it gives one above 0; over TLS
    /// if it said so there.
    pub fn size_max(&self) -> Option<u64> {
        self.tls
            .as_ref()
            .and_then(Extensions::max_size)
            .or_else(|| self.plain.max_size())
            .filter(|&n| n > 0)
    }

    /// Whether a case of `protocol` may run: for MMTP, `PGP` and `TLS` are the welcome's
    /// features; otherwise, EHLO keywords.
    pub fn offers_for(&self, protocol: Protocol, keyword: &Keyword) -> bool {
        if protocol != Protocol::Mmtp {
            return self.offers(keyword);
        }
        let Some(welcome) = &self.mmtp else {
            return false;
        };
        match keyword.keyword.as_str() {
            "PGP" => welcome.pgp,
            "TLS" => welcome.tls,
            _ => false,
        }
    }

    /// Records the extensions EHLO advertised in plaintext (or on an implicit-TLS connection),
    /// and their keyword lines.
    pub fn set_plain(&mut self, plain: Extensions) {
        self.keywords = keyword_lines(&plain);
        self.plain = plain;
    }

    /// Records the extensions EHLO advertised after STARTTLS, and their keyword lines.
    pub fn set_tls(&mut self, tls: Extensions) {
        self.tls_keywords = Some(keyword_lines(&tls));
        self.tls = Some(tls);
    }

    /// Capabilities from EHLO keyword lines (for tests and library users).
    pub fn from_keywords(keywords: &[&str]) -> Self {
        let keywords: Vec<String> = keywords.iter().map(|k| k.to_string()).collect();
        Self {
            plain: extensions_of(&keywords),
            keywords,
            ..Self::default()
        }
    }
}

/// The extensions that EHLO keyword lines (`SIZE 1000`, `PIPELINING`) advertise.
fn extensions_of(keywords: &[String]) -> Extensions {
    let lines: Vec<String> = std::iter::once("probe".to_string())
        .chain(keywords.iter().cloned())
        .collect();
    let reply = mtp_proto::smtp::reply::Reply::multiline(
        mtp_proto::smtp::reply::ReplyCode::OK,
        None,
        lines,
    );
    Extensions::from_ehlo(&reply)
}

/// [`Capabilities`] as a report holds them.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct CapabilitiesRecord {
    greeting: String,
    hostname: String,
    keywords: Vec<String>,
    tls_keywords: Option<Vec<String>>,
    notes: Vec<String>,
    mmtp: Option<MmtpWelcome>,
}

impl From<CapabilitiesRecord> for Capabilities {
    fn from(record: CapabilitiesRecord) -> Capabilities {
        Capabilities {
            plain: extensions_of(&record.keywords),
            tls: record.tls_keywords.as_deref().map(extensions_of),
            greeting: record.greeting,
            hostname: record.hostname,
            keywords: record.keywords,
            tls_keywords: record.tls_keywords,
            notes: record.notes,
            mmtp: record.mmtp,
        }
    }
}

fn keyword_lines(extensions: &Extensions) -> Vec<String> {
    extensions
        .keywords
        .iter()
        .map(|(k, params)| {
            std::iter::once(k.clone())
                .chain(params.iter().cloned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}
