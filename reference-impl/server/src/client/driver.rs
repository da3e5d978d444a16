//! The tokio driver of a [`ClientSession`]: connect, implicit TLS or the in-band upgrade the
//! session asks for, reads under the RFC 5321 §4.5.3.2 timeouts, writes, and the outcome.
//!
//! [`drive`] is generic over any `AsyncRead + AsyncWrite` stream, so the turmoil simulation
//! can run the same code over its simulated TCP.

use std::sync::Arc;
use std::time::Duration;

use mtp_proto::smtp::client::{ClientSession, Event, Outcome, Wait};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// How TLS is used on the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text; never upgrade.
    Plain,
    /// Upgrade in band (STARTTLS, or VMTP ENCRYPT START) when offered.
    StartTls,
    /// TLS from the first byte (RFC 8314, port 465).
    Implicit,
}

/// RFC 5321 §4.5.3.2 timeouts, plus connect and handshake limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect: 1 minute.
    pub connect: Duration,
    /// A TLS handshake, implicit or after an in-band upgrade: 1 minute.
    pub tls_handshake: Duration,
    /// Initial 220 message: 5 minutes.
    pub greeting: Duration,
    /// MAIL command: 5 minutes.
    pub mail: Duration,
    /// RCPT command: 5 minutes.
    pub rcpt: Duration,
    /// DATA initiation: 2 minutes.
    pub data_init: Duration,
    /// Data block (each write): 3 minutes.
    pub data_block: Duration,
    /// DATA termination: 10 minutes.
    pub data_termination: Duration,
    /// Other commands (EHLO, RSET, QUIT, VMTP verbs): 5 minutes.
    pub command: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        let min = |m: u64| Duration::from_secs(60 * m);
        Self {
            connect: min(1),
            tls_handshake: min(1),
            greeting: min(5),
            mail: min(5),
            rcpt: min(5),
            data_init: min(2),
            data_block: min(3),
            data_termination: min(10),
            command: min(5),
        }
    }
}

impl Timeouts {
    /// The same limit everywhere (tests, and impatient command-line use).
    pub fn uniform(limit: Duration) -> Self {
        Self {
            connect: limit,
            tls_handshake: limit,
            greeting: limit,
            mail: limit,
            rcpt: limit,
            data_init: limit,
            data_block: limit,
            data_termination: limit,
            command: limit,
        }
    }

    /// The limit for the reply the session is waiting for.
    pub fn for_wait(&self, wait: Wait) -> Duration {
        match wait {
            Wait::Greeting => self.greeting,
            Wait::Mail => self.mail,
            Wait::Rcpt => self.rcpt,
            Wait::DataInit => self.data_init,
            Wait::DataTermination => self.data_termination,
            Wait::Command => self.command,
        }
    }
}

/// The TLS side of a connection: the connector and the name the certificate must match.
#[derive(Clone)]
pub struct TlsSetup {
    /// Whether TLS comes first, after an in-band upgrade, or never.
    pub mode: TlsMode,
    /// The connector built from the client's rustls configuration (how certificates are checked).
    pub connector: TlsConnector,
    /// The name the server's certificate must match.
    pub server_name: ServerName<'static>,
}

impl TlsSetup {
    /// A TLS side in `mode` with `config`'s certificate checks, expecting `server_name`.
    pub fn new(
        mode: TlsMode,
        config: Arc<rustls::ClientConfig>,
        server_name: ServerName<'static>,
    ) -> Self {
        Self {
            mode,
            connector: TlsConnector::from(config),
            server_name,
        }
    }
}

enum Conn<S> {
    Plain(S),
    Tls(Box<TlsStream<S>>),
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf).await,
            Conn::Tls(s) => s.read(buf).await,
        }
    }

    async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.write_all(bytes).await,
            Conn::Tls(s) => s.write_all(bytes).await,
        }?;
        match self {
            Conn::Plain(s) => s.flush().await,
            Conn::Tls(s) => s.flush().await,
        }
    }

    async fn shutdown(&mut self) {
        // The session is over either way; a failed close changes nothing.
        let _ = match self {
            Conn::Plain(s) => s.shutdown().await,
            Conn::Tls(s) => s.shutdown().await,
        };
    }
}

async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    tls: &TlsSetup,
    timeouts: &Timeouts,
) -> Result<Conn<S>, String> {
    let connect = tls.connector.connect(tls.server_name.clone(), stream);
    match timeout(timeouts.tls_handshake, connect).await {
        Ok(Ok(stream)) => Ok(Conn::Tls(Box::new(stream))),
        Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
        Err(_) => Err("TLS handshake timed out".into()),
    }
}

/// Runs `session` over `stream` until it is done.
pub async fn drive<S>(
    stream: S,
    mut session: ClientSession,
    tls: &TlsSetup,
    timeouts: &Timeouts,
) -> Outcome
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = if tls.mode == TlsMode::Implicit {
        match handshake(stream, tls, timeouts).await {
            Ok(conn) => {
                session.set_implicit_tls();
                Some(conn)
            }
            Err(reason) => {
                session.handle_closed(reason);
                None
            }
        }
    } else {
        Some(Conn::Plain(stream))
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while let Some(event) = session.poll_event() {
            let Some(c) = conn.as_mut() else {
                // Without a connection the session has been told and only Done is left.
                if let Event::Done(outcome) = event {
                    return *outcome;
                }
                continue;
            };
            match event {
                Event::Transmit(bytes) => {
                    match timeout(timeouts.data_block, c.write_all(&bytes)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => session.handle_closed(format!("write failed: {e}")),
                        Err(_) => session.handle_closed("timed out writing to the server"),
                    }
                }
                Event::StartTls => conn = upgrade(conn.take(), &mut session, tls, timeouts).await,
                Event::Done(outcome) => {
                    c.shutdown().await;
                    return *outcome;
                }
            }
        }
        let Some(c) = conn.as_mut() else {
            unreachable!(
                "the connection is dropped only with handle_closed, which ends the session"
            );
        };
        let wait = session.waiting_for().unwrap_or(Wait::Command);
        match timeout(timeouts.for_wait(wait), c.read(&mut buf)).await {
            Err(_) => session.handle_timeout(),
            Ok(Ok(0)) => session.handle_closed("connection closed by the server"),
            Ok(Ok(n)) => session.receive(&buf[..n]),
            Ok(Err(e)) => session.handle_closed(format!("read failed: {e}")),
        }
    }
}

async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    conn: Option<Conn<S>>,
    session: &mut ClientSession,
    tls: &TlsSetup,
    timeouts: &Timeouts,
) -> Option<Conn<S>> {
    let Some(Conn::Plain(stream)) = conn else {
        session.handle_closed("TLS requested on a connection that is already encrypted");
        return None;
    };
    match handshake(stream, tls, timeouts).await {
        Ok(conn) => {
            session.tls_established();
            Some(conn)
        }
        Err(reason) => {
            session.handle_closed(reason);
            None
        }
    }
}
