//! The gateway's upstream, given as a URL: `smtp://HOST:PORT` (plain text),
//! `smtp+starttls://HOST:PORT` (upgrade with STARTTLS, or VMTP ENCRYPT, when offered) or
//! `smtps://HOST:PORT` (implicit TLS).

use std::fmt;

use crate::client::tls::{TlsSetupError, Verify, client_config};
use crate::client::{Target, TlsMode};

/// Where and how the gateway delivers.
#[derive(Clone)]
pub struct Upstream {
    /// The URL as given.
    pub url: String,
    /// The `HOST:PORT` of the URL, with the URL's TLS mode and the certificate checks asked for.
    pub target: Target,
    /// Upgrade in band when offered.
    pub starttls: bool,
}

/// Why an upstream URL was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum UpstreamError {
    /// Not `smtp://`, `smtp+starttls://` or `smtps://` with a host and a port.
    BadUrl(String),
    /// The TLS client configuration for the upstream could not be built.
    Tls(TlsSetupError),
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadUrl(why) => f.write_str(why),
            Self::Tls(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for UpstreamError {}

impl Upstream {
    /// Parses `url`; certificates are checked as `verify` says (TLS modes only).
    pub fn parse(url: &str, verify: &Verify) -> Result<Self, UpstreamError> {
        let bad = |why: &str| {
            UpstreamError::BadUrl(format!(
                "upstream {url:?}: {why} (expected smtp://HOST:PORT, smtp+starttls://HOST:PORT or smtps://HOST:PORT)"
            ))
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let mode = match scheme.to_ascii_lowercase().as_str() {
            "smtp" => TlsMode::Plain,
            "smtp+starttls" => TlsMode::StartTls,
            "smtps" => TlsMode::Implicit,
            _ => return Err(bad("unknown scheme")),
        };
        let addr = rest.strip_suffix('/').unwrap_or(rest);
        if addr.contains(['/', '?', '#', '@']) {
            return Err(bad("only a host and a port may follow the scheme"));
        }
        let port_ok = addr.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !port_ok {
            return Err(bad("a host and a port are required"));
        }
        let config = client_config(verify).map_err(UpstreamError::Tls)?;
        let target = Target::new(addr, mode, config, None).map_err(|e| bad(&e))?;
        Ok(Self {
            url: url.to_string(),
            target,
            starttls: mode == TlsMode::StartTls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_schemes() {
        let v = Verify::Insecure;
        assert_eq!(
            Upstream::parse("smtp://127.0.0.1:25", &v)
                .unwrap()
                .target
                .tls
                .mode,
            TlsMode::Plain
        );
        assert!(
            Upstream::parse("smtp+starttls://mx.example:587/", &v)
                .unwrap()
                .starttls
        );
        assert_eq!(
            Upstream::parse("smtps://[::1]:465", &v)
                .unwrap()
                .target
                .addr,
            "[::1]:465"
        );
        for bad in [
            "127.0.0.1:25",
            "http://x:1",
            "smtp://host",
            "smtp://:25",
            "smtp://h:25/x",
            "smtp://h:0",
        ] {
            assert!(Upstream::parse(bad, &v).is_err(), "{bad}");
        }
    }
}
