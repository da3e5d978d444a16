//! Where the harness hands the target each message (`--inject`): `smtp://HOST:PORT`, an MTA
//! that relays what it received by SMTP ([`super::submit`]), or `http://HOST:PORT`, the
//! reference's HTTP gateway, which builds the message itself from JSON and delivers it through
//! its retry queue ([`super::gateway`]).

use std::fmt;
use std::str::FromStr;

/// The target's submission side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inject {
    /// An SMTP listener, `HOST:PORT`: the harness is a relay client the target trusts.
    Smtp(String),
    /// The reference gateway's base URL, `http://HOST:PORT`.
    Gateway(String),
}

impl Inject {
    /// Whether the target builds the message it sends itself (the gateway) rather than
    /// relaying the octets it received.
    pub fn composes(&self) -> bool {
        matches!(self, Inject::Gateway(_))
    }
}

impl FromStr for Inject {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "expected smtp://HOST:PORT or http://HOST:PORT (the reference gateway), not {text:?}"
            )
        };
        let (scheme, rest) = text.split_once("://").ok_or_else(bad)?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let host_port = rest.rsplit_once(':').is_some_and(|(h, p)| {
            !h.is_empty() && !h.contains('/') && p.parse::<u16>().is_ok_and(|p| p > 0)
        });
        match scheme {
            "smtp" if host_port => Ok(Inject::Smtp(rest.to_string())),
            "http" if host_port => Ok(Inject::Gateway(format!("http://{rest}"))),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Inject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inject::Smtp(addr) => write!(f, "smtp://{addr}"),
            Inject::Gateway(base) => f.write_str(base),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_and_http_addresses_parse_and_anything_else_is_refused_with_the_forms() {
        assert_eq!(
            "smtp://127.0.0.1:25".parse(),
            Ok(Inject::Smtp("127.0.0.1:25".into()))
        );
        assert_eq!(
            "http://127.0.0.1:8080/".parse(),
            Ok(Inject::Gateway("http://127.0.0.1:8080".into()))
        );
        for bad in [
            "127.0.0.1:25",
            "smtp://:25",
            "smtp://h:0",
            "https://h:1",
            "http://h:1/send",
            "smtp://h",
        ] {
            let err = bad.parse::<Inject>().expect_err(bad);
            assert!(
                err.contains("smtp://HOST:PORT or http://HOST:PORT"),
                "{err}"
            );
        }
        assert!(Inject::Gateway("http://h:1".into()).composes());
        assert_eq!(Inject::Smtp("h:1".into()).to_string(), "smtp://h:1");
    }
}
