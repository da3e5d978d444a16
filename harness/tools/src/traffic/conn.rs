//! One SMTP client connection of the load generator: connect, greeting, EHLO, optional
//! STARTTLS, and reading replies through the core's reply parser. The load worker decides what
//! to write; this owns the socket and the bytes read from it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use mtp_proto::smtp::reply::{Reply, ReplyParser};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::stats::{LoadReport, Phase};

/// Plain TCP or TLS after STARTTLS.
pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Why a delivery attempt failed; the text is the key errors are counted under.
#[derive(Debug)]
pub(super) struct Failure(pub String);

impl Failure {
    fn io(what: &str, e: std::io::Error) -> Self {
        Self(format!("{what}: {}", e.kind()))
    }
}

pub(super) struct Conn {
    stream: Box<dyn Io>,
    parser: ReplyParser,
    buf: Box<[u8]>,
}

impl Conn {
    /// Connects, reads the 220, sends EHLO (and STARTTLS, then EHLO again, with `tls`).
    pub(super) async fn open(
        target: SocketAddr,
        tls: Option<&Arc<ClientConfig>>,
        report: &mut LoadReport,
    ) -> Result<Self, Failure> {
        let t = Instant::now();
        let stream = TcpStream::connect(target)
            .await
            .map_err(|e| Failure::io("connect", e))?;
        stream
            .set_nodelay(true)
            .map_err(|e| Failure::io("connect", e))?;
        let mut conn = Self {
            stream: Box::new(stream),
            parser: ReplyParser::new(),
            buf: vec![0; 16 * 1024].into_boxed_slice(),
        };
        conn.expect(220, "greeting").await?;
        report.record(Phase::Connect, t.elapsed());
        let t = Instant::now();
        conn.ehlo().await?;
        if let Some(config) = tls {
            conn.send(b"STARTTLS\r\n").await?;
            conn.expect(220, "STARTTLS").await?;
            // RFC 3207 §4.2: the client MUST discard any knowledge obtained before TLS, and
            // nothing the server sent after the 220 belongs to the TLS session.
            conn.parser.take_buffered();
            let name = ServerName::try_from(target.ip().to_string())
                .map_err(|e| Failure(format!("TLS: {e}")))?;
            let plain = std::mem::replace(&mut conn.stream, Box::new(tokio::io::empty()));
            let tls = TlsConnector::from(config.clone())
                .connect(name, plain)
                .await
                .map_err(|e| Failure::io("TLS handshake", e))?;
            conn.stream = Box::new(tls);
            conn.ehlo().await?;
        }
        report.record(Phase::Ehlo, t.elapsed());
        Ok(conn)
    }

    async fn ehlo(&mut self) -> Result<(), Failure> {
        self.send(b"EHLO load.mtpspec.test\r\n").await?;
        self.expect(250, "EHLO").await
    }

    /// The next complete reply.
    pub(super) async fn reply(&mut self) -> Result<Reply, Failure> {
        loop {
            if let Some(reply) = self.parser.next_reply() {
                return reply.map_err(|e| Failure(format!("bad reply: {e}")));
            }
            let n = self
                .stream
                .read(&mut self.buf)
                .await
                .map_err(|e| Failure::io("read", e))?;
            if n == 0 {
                return Err(Failure("connection closed".into()));
            }
            self.parser.feed(&self.buf[..n]);
        }
    }

    /// Reads one reply and fails, naming the code and the command, unless it is `code`.
    pub(super) async fn expect(&mut self, code: u16, after: &str) -> Result<(), Failure> {
        let reply = self.reply().await?;
        if reply.code.get() == code {
            Ok(())
        } else {
            Err(Failure(format!("{} after {after}", reply.code)))
        }
    }

    pub(super) async fn send(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.stream
            .write_all(bytes)
            .await
            .map_err(|e| Failure::io("write", e))
    }

    /// QUIT and its 221, errors ignored (the message counts are already final).
    pub(super) async fn quit(mut self) {
        if self.send(b"QUIT\r\n").await.is_ok() {
            let _ = self.expect(221, "QUIT").await;
        }
    }
}
