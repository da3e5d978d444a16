//! The server end of one client connection: bytes in and out over a plain stream or TLS,
//! command lines split and recorded the moment they arrive, message data read to CRLF "."
//! CRLF, and the STARTTLS switch. Every read is bounded by the case deadline. Knows nothing of
//! the script: [`super::session`] decides what to answer. Generic over the stream, so the same
//! scripted server runs on a tokio socket (serve-test, relay-test) and on turmoil's simulated
//! TCP (the simulation's next hop).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::record::{EventKind, Recorder, Side};

/// A command line longer than this without a line end is taken as a line anyway.
const MAX_LINE: usize = 64 * 1024;
/// Message data beyond this is dropped from the record (the end is still looked for).
const MAX_DATA: usize = 4 * 1024 * 1024;

/// Why a connection ended.
#[derive(Debug)]
pub enum End {
    /// The client closed (or reset) the connection.
    ClientClosed,
    /// The case deadline passed.
    Deadline,
    /// The TLS handshake failed.
    Tls,
}

enum Stream<S> {
    Plain(S),
    Tls(Box<TlsStream<S>>),
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream<S> {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
        }
    }

    async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        async fn go<W: AsyncWrite + Unpin>(s: &mut W, bytes: &[u8]) -> std::io::Result<()> {
            s.write_all(bytes).await?;
            s.flush().await
        }
        match self {
            Stream::Plain(s) => go(s, bytes).await,
            Stream::Tls(s) => go(s.as_mut(), bytes).await,
        }
    }

    async fn shutdown(&mut self) {
        // The peer may be gone already; nothing to do about a failed shutdown.
        let _ = match self {
            Stream::Plain(s) => s.shutdown().await,
            Stream::Tls(s) => s.shutdown().await,
        };
    }
}

/// A command line waiting to be answered, with the index of its recorded event.
pub struct Pending {
    /// The command line, without its line ending.
    pub line: String,
    /// The index of its [`EventKind::Command`] event in the case's log: what the reply to
    /// it names as `answers`.
    pub event: usize,
}

/// The server end of one connection: the stream (plain, then TLS after STARTTLS), the octets
/// read but not yet split into lines, the command lines not yet answered, and the log they
/// are recorded in.
pub struct Wire<S> {
    /// `None` only while the TLS handshake owns the socket.
    stream: Option<Stream<S>>,
    buf: Vec<u8>,
    pending: VecDeque<Pending>,
    /// Whether TLS is on (a STARTTLS handshake completed).
    pub tls: bool,
    eof: bool,
    /// The connection's number in the case, from 1; every event recorded here carries it.
    pub conn: u32,
    /// The case's log, shared with its other connections.
    pub rec: Recorder,
    /// The case deadline: reads, the writing of replies and the TLS handshake give up at it
    /// ([`End::Deadline`]).
    pub deadline: Instant,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire<S> {
    /// A plain connection (a TCP socket, real or simulated), numbered `conn` in the case,
    /// recording into `rec` and bounded by `deadline`. Records nothing itself: the session
    /// records the connection.
    pub fn new(stream: S, conn: u32, rec: Recorder, deadline: Instant) -> Self {
        Self {
            stream: Some(Stream::Plain(stream)),
            buf: Vec::new(),
            pending: VecDeque::new(),
            tls: false,
            eof: false,
            conn,
            rec,
            deadline,
        }
    }

    fn record(&self, kind: EventKind) -> usize {
        self.rec.push(self.conn, kind)
    }

    /// Reads once (until `until`); `Ok(false)` when `until` passed first.
    async fn fill(&mut self, until: Instant) -> Result<bool, End> {
        if self.eof {
            return Err(End::ClientClosed);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(End::ClientClosed);
        };
        let mut chunk = [0u8; 16 * 1024];
        match tokio::time::timeout_at(until.min(self.deadline), stream.read(&mut chunk)).await {
            Err(_) if until < self.deadline => Ok(false),
            Err(_) => Err(End::Deadline),
            Ok(Ok(0) | Err(_)) => {
                self.eof = true;
                Err(End::ClientClosed)
            }
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
        }
    }

    /// Moves every complete line in the buffer to the queue, recording each as it arrives.
    fn split_lines(&mut self) {
        while let Some(pos) = self
            .buf
            .iter()
            .position(|&b| b == b'\n')
            .or_else(|| (self.buf.len() > MAX_LINE).then(|| self.buf.len() - 1))
        {
            let raw: Vec<u8> = self.buf.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&raw);
            let line = text.strip_suffix('\n').unwrap_or(&text);
            let line = line.strip_suffix('\r').unwrap_or(line).to_string();
            let event = self.record(EventKind::Command {
                line: line.clone(),
                tls: self.tls,
            });
            self.pending.push_back(Pending { line, event });
        }
    }

    /// The next command line; `Err(End::ClientClosed)` once the client closed.
    pub async fn next_command(&mut self) -> Result<Pending, End> {
        loop {
            if let Some(p) = self.pending.pop_front() {
                return Ok(p);
            }
            self.fill(self.deadline).await?;
            self.split_lines();
        }
    }

    /// Keeps reading (and recording) command lines for `pause` while a reply is held back.
    /// A close by the client ends the pause early; it is noticed at the next read.
    pub async fn pause(&mut self, pause: Duration) -> Result<(), End> {
        let until = Instant::now() + pause;
        loop {
            match self.fill(until).await {
                Ok(true) => self.split_lines(),
                // Paused long enough, or the client is gone (noticed at the next read).
                Ok(false) | Err(End::ClientClosed) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads message data up to CRLF "." CRLF. Lines that arrived before the 354 (queued as
    /// commands, and recorded so) are taken back as data, with CRLF endings. Returns the data as sent
    /// (the octets as they arrived) and whether its end arrived.
    pub async fn read_data(&mut self) -> Result<(Vec<u8>, bool), End> {
        let mut data: Vec<u8> = Vec::new();
        for p in self.pending.drain(..) {
            data.extend_from_slice(p.line.as_bytes());
            data.extend_from_slice(b"\r\n");
        }
        data.append(&mut self.buf);
        // RFC 5321 §4.1.1.4: "the mail data are terminated by a line containing only a
        // period, that is, the character sequence "<CRLF>.<CRLF>"". Data that starts with
        // "." CRLF is an empty message, the CRLF being the DATA command's own.
        loop {
            let end = if data.starts_with(b".\r\n") {
                Some(0)
            } else {
                find(&data, b"\r\n.\r\n").map(|p| p + 2)
            };
            if let Some(pos) = end {
                self.buf = data.split_off(pos + 3);
                data.truncate(pos);
                self.split_lines();
                return Ok((data, true));
            }
            match self.fill(self.deadline).await {
                Ok(_) => {
                    data.append(&mut self.buf);
                    if data.len() > MAX_DATA {
                        let keep = data.split_off(data.len() - 8);
                        data.truncate(MAX_DATA);
                        data.extend_from_slice(&keep);
                    }
                }
                Err(_) => return Ok((data, false)),
            }
        }
    }

    /// Writes reply lines (CRLF added) and any injected lines in one write.
    pub async fn send(
        &mut self,
        lines: &[String],
        inject: &[String],
        answers: Option<usize>,
    ) -> Result<(), End> {
        let mut bytes = Vec::new();
        for l in lines.iter().chain(inject) {
            bytes.extend_from_slice(l.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        self.record(EventKind::Reply {
            lines: lines.to_vec(),
            answers,
        });
        if !inject.is_empty() {
            self.record(EventKind::Injected {
                lines: inject.to_vec(),
            });
        }
        if bytes.is_empty() {
            return Ok(());
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(End::ClientClosed);
        };
        match tokio::time::timeout_at(self.deadline, stream.write_all(&bytes)).await {
            Err(_) => Err(End::Deadline),
            Ok(Err(_)) => Err(End::ClientClosed),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Server side of the STARTTLS switch: plaintext already received after the command is
    /// thrown away (RFC 3207 §4.2 has the server discard it), then the handshake.
    pub async fn start_tls(&mut self, config: &Arc<ServerConfig>) -> Result<(), End> {
        let discarded = self.buf.len()
            + self
                .pending
                .drain(..)
                .map(|p| p.line.len() + 2)
                .sum::<usize>();
        self.buf.clear();
        if discarded > 0 {
            self.record(EventKind::Discarded { bytes: discarded });
        }
        let Some(Stream::Plain(tcp)) = self.stream.take() else {
            self.record(EventKind::TlsFailed {
                error: "TLS is already on".into(),
            });
            return Err(End::Tls);
        };
        let accept = TlsAcceptor::from(config.clone()).accept(tcp);
        match tokio::time::timeout_at(self.deadline, accept).await {
            Err(_) => Err(End::Deadline),
            Ok(Err(e)) => {
                self.record(EventKind::TlsFailed {
                    error: e.to_string(),
                });
                Err(End::Tls)
            }
            Ok(Ok(tls)) => {
                self.stream = Some(Stream::Tls(Box::new(tls)));
                self.tls = true;
                self.record(EventKind::TlsStarted);
                Ok(())
            }
        }
    }

    /// Closes from the server side.
    pub async fn close(&mut self) {
        if let Some(mut stream) = self.stream.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
        }
        self.record(EventKind::Closed { by: Side::Server });
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
