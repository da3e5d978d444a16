//! Targets: what the harness connects to. The embedded reference (in-process, the default),
//! `smtp://host:port`, `smtps://host:port` (implicit TLS), `mmtp://host:port` and
//! `mmtps://host:port` (MMTP, plain and implicit TLS), `http://host:port` (the HTTP
//! gateway) and `exec:COMMAND` (a server spoken
//! to over its stdin and stdout, such as `exim -bs`). A case picks one of a target's
//! [`Listener`]s, special ones included. Each hands out fresh connections as
//! byte streams; the runner never knows which kind it talks to.

pub mod embedded;
pub mod exec;
pub mod http;
pub mod multi;
pub mod observer;
pub mod special;
pub mod tcp;
pub mod tls;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

pub use crate::scenario::Listener;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};

pub use embedded::EmbeddedTarget;
pub use exec::ExecTarget;
pub use http::HttpTarget;
pub use multi::MultiTarget;
pub use observer::{CommandObserver, MaildirObserver, ObservedMessage, Observer, ObserverError};
pub use tcp::TcpTarget;

/// A boxed future, so that [`Target`] and [`Observer`] can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A bidirectional byte stream: TCP, TLS over TCP, a child's stdin and stdout.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A [`Stream`] of any kind, boxed: what every target hands out.
pub type BoxStream = Box<dyn Stream>;

/// A fresh connection to a target.
pub struct Connected {
    /// The connection's octets, both ways.
    pub stream: BoxStream,
    /// Already inside TLS (implicit TLS).
    pub tls: bool,
    /// Whatever must live as long as the connection (a child process).
    pub guard: Option<Box<dyn std::any::Any + Send>>,
}

/// The connection limit of the `limited` and `mmtp-limited` listeners: a case with one
/// connection more than this sees the refusal.
pub const SPECIAL_CONNECTION_LIMIT: usize = 2;

/// The embedded reference's idle timeout on the `short-idle` and `mmtp-short-idle` listeners.
/// Another target's may be longer, up to 5 s: the cases wait that long (and some more) for the
/// timeout to strike.
pub const SHORT_IDLE: std::time::Duration = std::time::Duration::from_secs(2);

/// Something the harness can open SMTP connections to.
pub trait Target: Send + Sync {
    /// How the target is named in reports (`smtp://127.0.0.1:2525`).
    fn name(&self) -> String;
    /// A connection to the main listener.
    fn connect(&self) -> BoxFuture<'_, Result<Connected, TargetError>>;
    /// The listeners the target has besides the main one.
    fn listeners(&self) -> Vec<Listener> {
        vec![Listener::Smtp]
    }
    /// A connection to one of [`Target::listeners`].
    fn connect_to(&self, listener: Listener) -> BoxFuture<'_, Result<Connected, TargetError>> {
        match listener {
            Listener::Smtp => self.connect(),
            other => Box::pin(async move { Err(TargetError::NoListener(other)) }),
        }
    }
    /// The base URL of the HTTP listener (`http://127.0.0.1:8080`), when the target has one
    /// (then [`Target::listeners`] includes [`Listener::Http`]).
    fn http_base(&self) -> Option<String> {
        None
    }
    /// The name sent in the TLS handshake (SNI); certificates are not checked.
    fn tls_server_name(&self) -> ServerName<'static>;
    /// An observer of the target's mailbox that comes with it (the embedded store).
    fn observer(&self) -> Option<Arc<dyn Observer>> {
        None
    }
    /// The local domain, when the target knows it.
    fn domain(&self) -> Option<String> {
        None
    }
    /// AUTH credentials `(user, password)`, when the target knows some.
    fn credentials(&self) -> Option<(String, String)> {
        None
    }
    /// Whether this is mtpspec's own reference (snapshots are kept only for it).
    fn is_reference(&self) -> bool {
        false
    }
    /// Stops what the target started (the embedded server).
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// Why a target could not be reached or started. Never the target's fault in a verdict: a
/// case that hits one of these is ERROR.
#[derive(Debug)]
#[non_exhaustive]
pub enum TargetError {
    /// `--target` is not one of the known forms.
    BadSpec(String),
    /// A listener's address is not `HOST:PORT`.
    BadListener {
        /// The listener given (`submission`, `short-idle`, ...).
        listener: Listener,
        /// The address given for it.
        addr: String,
    },
    /// Connecting failed (refused, unreachable, no such host).
    Connect {
        /// The target's name, or for the embedded reference which listener at which address.
        target: String,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// Connecting took longer than the connect timeout (`RunOptions::connect_timeout`).
    ConnectTimeout {
        /// The target's name.
        target: String,
        /// The timeout that passed, in milliseconds.
        ms: u64,
    },
    /// An `exec:` target's command could not be found or started.
    Spawn {
        /// The command as given after `exec:`.
        command: String,
        /// Why it could not run (`NotFound` when the program is not on `PATH`).
        error: std::io::Error,
    },
    /// The TLS client could not be set up, or a handshake (implicit TLS or after STARTTLS)
    /// failed; the text says what a plain-text answer to the handshake likely means.
    Tls(String),
    /// The embedded reference server could not start.
    Embedded(String),
    /// The capability probe found no usable SMTP server.
    Probe(String),
    /// The async runtime could not start.
    Runtime(std::io::Error),
    /// The target has no such listener configured.
    NoListener(Listener),
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadSpec(s) => write!(
                f,
                "bad target {s:?}: expected `embedded`, smtp://HOST:PORT, smtps://HOST:PORT, mmtp://HOST:PORT, mmtps://HOST:PORT, http://HOST:PORT or exec:COMMAND"
            ),
            Self::BadListener { listener, addr } => {
                write!(f, "the {listener} listener takes HOST:PORT, not {addr:?}")
            }
            Self::Connect { target, error } => write!(f, "cannot connect to {target}: {error}"),
            Self::ConnectTimeout { target, ms } => {
                write!(f, "connecting to {target} took longer than {ms} ms")
            }
            Self::Spawn { command, error } => write!(f, "cannot run {command:?}: {error}"),
            Self::Tls(e) => write!(f, "TLS error: {e}"),
            Self::Embedded(e) => write!(f, "the embedded reference server did not start: {e}"),
            Self::Probe(e) => write!(f, "capability probe failed: {e}"),
            Self::Runtime(e) => write!(f, "cannot start the async runtime: {e}"),
            Self::NoListener(l) => write!(f, "the target has no {l} listener"),
        }
    }
}

impl std::error::Error for TargetError {}

/// A parsed `--target` value. `HOST` may be a name or an IP address (an IPv6 one in
/// brackets, `[::1]`); a trailing `/` is ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetSpec {
    /// `embedded` (or `reference`): mtpspec's reference server, started in this process
    /// with every listener, its own mailbox observer, domain and credentials.
    Embedded,
    /// `smtp://HOST:PORT`: an SMTP listener, plain (STARTTLS when the server offers it).
    Smtp {
        /// A host name or IP address, without brackets.
        host: String,
        /// The TCP port.
        port: u16,
    },
    /// `smtps://HOST:PORT`: an SMTP listener with implicit TLS (TLS from the first octet).
    Smtps {
        /// A host name or IP address, without brackets.
        host: String,
        /// The TCP port.
        port: u16,
    },
    /// `mmtp://HOST:PORT`: an MMTP listener, plain.
    Mmtp {
        /// A host name or IP address, without brackets.
        host: String,
        /// The TCP port.
        port: u16,
    },
    /// `mmtps://HOST:PORT`: an MMTP listener with implicit TLS.
    Mmtps {
        /// A host name or IP address, without brackets.
        host: String,
        /// The TCP port.
        port: u16,
    },
    /// `http://HOST:PORT`: the HTTP gateway alone.
    Http {
        /// A host name or IP address, without brackets.
        host: String,
        /// The TCP port.
        port: u16,
    },
    /// `exec:COMMAND`: a server spoken to over its stdin and stdout (`exim -bs`), started
    /// afresh for every connection; the text after `exec:`, run by the shell.
    Exec(String),
}

impl FromStr for TargetSpec {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, TargetError> {
        let bad = || TargetError::BadSpec(s.to_string());
        if s == "embedded" || s == "reference" {
            return Ok(Self::Embedded);
        }
        if let Some(command) = s.strip_prefix("exec:") {
            return if command.trim().is_empty() {
                Err(bad())
            } else {
                Ok(Self::Exec(command.to_string()))
            };
        }
        let (scheme, rest) = s.split_once("://").ok_or_else(bad)?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if host.is_empty() {
            return Err(bad());
        }
        match scheme {
            "smtp" => Ok(Self::Smtp { host, port }),
            "smtps" => Ok(Self::Smtps { host, port }),
            "mmtp" => Ok(Self::Mmtp { host, port }),
            "mmtps" => Ok(Self::Mmtps { host, port }),
            "http" => Ok(Self::Http { host, port }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Embedded => f.write_str("embedded"),
            Self::Smtp { host, port } => write!(f, "smtp://{}:{port}", bracket(host)),
            Self::Smtps { host, port } => write!(f, "smtps://{}:{port}", bracket(host)),
            Self::Mmtp { host, port } => write!(f, "mmtp://{}:{port}", bracket(host)),
            Self::Mmtps { host, port } => write!(f, "mmtps://{}:{port}", bracket(host)),
            Self::Http { host, port } => write!(f, "http://{}:{port}", bracket(host)),
            Self::Exec(c) => write!(f, "exec:{c}"),
        }
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Opens (for the embedded reference: starts) the target `spec` names.
pub async fn open(spec: &TargetSpec) -> Result<Arc<dyn Target>, TargetError> {
    Ok(match spec {
        TargetSpec::Embedded => Arc::new(EmbeddedTarget::start().await?),
        TargetSpec::Smtp { host, port } => Arc::new(TcpTarget::new(host, *port, false)),
        TargetSpec::Smtps { host, port } => Arc::new(TcpTarget::new(host, *port, true)),
        TargetSpec::Mmtp { host, port } => Arc::new(TcpTarget::mmtp(host, *port, false)),
        TargetSpec::Mmtps { host, port } => Arc::new(TcpTarget::mmtp(host, *port, true)),
        TargetSpec::Http { host, port } => Arc::new(HttpTarget::new(host, *port)),
        TargetSpec::Exec(command) => Arc::new(ExecTarget::open(command)?),
    })
}

/// `target` with more listeners (`--submission`, `--smtps`, `--mmtp`, `--mmtps`, `--http`,
/// `--listener NAME=`), each at `HOST:PORT`.
pub fn with_listeners(
    target: Arc<dyn Target>,
    extra: &[(Listener, String)],
) -> Result<Arc<dyn Target>, TargetError> {
    if extra.is_empty() {
        return Ok(target);
    }
    let mut multi = MultiTarget::new(target);
    for (listener, addr) in extra {
        let (host, port) = addr
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
            .ok_or_else(|| TargetError::BadListener {
                listener: *listener,
                addr: addr.clone(),
            })?;
        let tls = listener.is_implicit_tls();
        let target: Arc<dyn Target> = if *listener == Listener::Http {
            Arc::new(HttpTarget::new(host, port))
        } else if listener.is_mmtp() {
            Arc::new(TcpTarget::mmtp(host, port, tls))
        } else {
            Arc::new(TcpTarget::new(host, port, tls))
        };
        multi = multi.with(*listener, target);
    }
    Ok(Arc::new(multi))
}

/// The SNI name for a host: a DNS name, or an IP address.
pub(crate) fn server_name(host: &str) -> ServerName<'static> {
    ServerName::try_from(host.to_string())
        .unwrap_or_else(|_| ServerName::try_from("localhost").expect("a valid DNS name literal"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_names_round_trip() {
        for listener in Listener::ALL {
            let name = listener.to_string();
            assert_eq!(name.parse::<Listener>().unwrap(), listener);
            // Scenario files name listeners the way `Display` and `--listener` do.
            let yaml: Listener = serde_saphyr::from_str(&name).unwrap();
            assert_eq!(yaml, listener);
        }
        assert_eq!(Listener::MmtpShortIdle.to_string(), "mmtp-short-idle");
        assert!(Listener::MmtpLimited.is_mmtp() && Listener::MmtpLimited.is_special());
        assert!(!Listener::Denied.is_mmtp() && !Listener::Denied.is_implicit_tls());
        assert!(Listener::Mmtps.is_implicit_tls() && !Listener::Mmtps.is_special());
        assert_eq!(
            Listener::ShortIdle.run_option(),
            "--listener short-idle=HOST:PORT"
        );
        assert_eq!(Listener::Smtps.run_option(), "--smtps HOST:PORT");
        let e = "shortidle".parse::<Listener>().unwrap_err();
        assert!(e.contains("short-idle"), "{e}");
    }

    #[test]
    fn parses_targets() {
        assert_eq!(
            "embedded".parse::<TargetSpec>().unwrap(),
            TargetSpec::Embedded
        );
        assert_eq!(
            "smtp://127.0.0.1:2525".parse::<TargetSpec>().unwrap(),
            TargetSpec::Smtp {
                host: "127.0.0.1".into(),
                port: 2525
            }
        );
        assert_eq!(
            "smtps://[::1]:465"
                .parse::<TargetSpec>()
                .unwrap()
                .to_string(),
            "smtps://[::1]:465"
        );
        assert_eq!(
            "exec:exim -bs".parse::<TargetSpec>().unwrap(),
            TargetSpec::Exec("exim -bs".into())
        );
        assert_eq!(
            "mmtps://127.0.0.1:8026"
                .parse::<TargetSpec>()
                .unwrap()
                .to_string(),
            "mmtps://127.0.0.1:8026"
        );
        assert_eq!(
            "mmtp://h:8025".parse::<TargetSpec>().unwrap(),
            TargetSpec::Mmtp {
                host: "h".into(),
                port: 8025
            }
        );
        assert_eq!(
            "http://127.0.0.1:8080/"
                .parse::<TargetSpec>()
                .unwrap()
                .to_string(),
            "http://127.0.0.1:8080"
        );
        for bad in ["ftp://x:1", "smtp://x", "smtp://:25", "exec:", "x"] {
            assert!(bad.parse::<TargetSpec>().is_err(), "{bad}");
        }
    }
}
