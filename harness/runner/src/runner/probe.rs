//! The capability probe: one connection before any case runs, to learn what the target
//! advertises (in plaintext and, when it offers STARTTLS, over TLS), and one to its MMTP
//! listener, if it has one, for the welcome. Cases whose `requires` are not advertised run
//! their fallback or are skipped.

use std::time::Duration;

use mtp_proto::smtp::extension::Extensions;
use serde::Serialize;

use super::RunOptions;
use super::conn::Conn;
use crate::scenario::Keyword;
use crate::target::{Listener, Target, TargetError};
use crate::wire::WireLog;

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
    pub mmtp: Option<super::mmtp_probe::MmtpWelcome>,
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
    pub fn offers_for(&self, protocol: crate::scenario::Protocol, keyword: &Keyword) -> bool {
        if protocol != crate::scenario::Protocol::Mmtp {
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
    mmtp: Option<super::mmtp_probe::MmtpWelcome>,
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

pub(crate) async fn probe(
    target: &dyn Target,
    options: &RunOptions,
) -> Result<Capabilities, TargetError> {
    let listeners = target.listeners();
    let smtp = listeners.contains(&Listener::Smtp);
    let mut caps = if smtp {
        smtp_probe(target, options).await?
    } else {
        Capabilities::default()
    };
    let mmtp = [Listener::Mmtp, Listener::Mmtps]
        .into_iter()
        .find(|l| listeners.contains(l));
    if let Some(listener) = mmtp {
        match super::mmtp_probe::probe(target, listener, options).await {
            Ok(welcome) => caps.mmtp = Some(welcome),
            // Only MMTP to probe: without it nothing can run.
            Err(e) if !smtp => return Err(e),
            Err(e) => caps.notes.push(format!("MMTP: {e}")),
        }
    }
    Ok(caps)
}

async fn smtp_probe(
    target: &dyn Target,
    options: &RunOptions,
) -> Result<Capabilities, TargetError> {
    let log = WireLog::new();
    let timeout = options.step_timeout;
    let mut conn = Conn::open(target, Listener::Smtp, 1, &log, options.connect_timeout).await?;
    let probe_error = |what: &str| TargetError::Probe(format!("{} {what}", target.name()));
    let greeting = conn
        .read_reply(timeout)
        .await
        .map_err(|e| probe_error(&format!("sent no greeting: {e}")))?;
    if !greeting.code.is_positive() {
        return Err(probe_error(&format!(
            "greeted with {}",
            greeting.to_string().trim_end()
        )));
    }
    let mut caps = Capabilities {
        greeting: greeting.lines.first().cloned().unwrap_or_default(),
        hostname: greeting
            .lines
            .first()
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_default()
            .to_string(),
        ..Capabilities::default()
    };
    caps.plain = ehlo(&mut conn, options, timeout)
        .await
        .unwrap_or_else(|why| {
            caps.notes.push(format!("EHLO: {why}"));
            Extensions::default()
        });
    caps.keywords = keyword_lines(&caps.plain);
    let starttls = Keyword {
        keyword: "STARTTLS".into(),
        param: None,
    };
    if !conn.is_tls() && starttls.offered_by(&caps.plain) {
        match upgrade(&mut conn, target, options, timeout).await {
            Ok(tls) => {
                caps.tls_keywords = Some(keyword_lines(&tls));
                caps.tls = Some(tls);
            }
            Err(why) => caps.notes.push(format!("STARTTLS: {why}")),
        }
    }
    let _ = conn.write(b"QUIT\r\n", None, Duration::ZERO).await;
    let _ = conn.read_reply(Duration::from_millis(500)).await;
    conn.close().await;
    Ok(caps)
}

async fn ehlo(
    conn: &mut Conn,
    options: &RunOptions,
    timeout: Duration,
) -> Result<Extensions, String> {
    let line = format!("EHLO {}\r\n", options.vars.helo);
    conn.write(line.as_bytes(), None, Duration::ZERO).await?;
    let reply = conn
        .read_reply(timeout)
        .await
        .map_err(|e| format!("{e:?}"))?;
    if reply.code.get() != 250 {
        return Err(format!("answered {}", reply.to_string().trim_end()));
    }
    Ok(Extensions::from_ehlo(&reply))
}

async fn upgrade(
    conn: &mut Conn,
    target: &dyn Target,
    options: &RunOptions,
    timeout: Duration,
) -> Result<Extensions, String> {
    conn.write(b"STARTTLS\r\n", None, Duration::ZERO).await?;
    let reply = conn
        .read_reply(timeout)
        .await
        .map_err(|e| format!("{e:?}"))?;
    if reply.code.get() != 220 {
        return Err(format!("answered {}", reply.to_string().trim_end()));
    }
    conn.start_tls(target).await.map_err(|e| e.to_string())?;
    ehlo(conn, options, timeout).await
}
