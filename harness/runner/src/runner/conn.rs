//! One client connection of a case. Every connection of the case writes what it sends and
//! receives to the case's wire log ([`crate::wire::WireLog`]).

use std::time::Duration;

use mtp_proto::smtp::reply::{Reply, ReplyError, ReplyParser};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::json_reader::{JsonReader, NotJson};
use crate::target::{BoxStream, Listener, Target, TargetError, tls};
use crate::wire::{WireKind, WireLog};

/// Why no reply could be read.
#[derive(Debug)]
pub enum ReadFailure {
    /// Nothing complete within the timeout; the partial bytes, if any.
    Timeout {
        /// The bytes of an incomplete reply read before the timeout (empty when none came).
        partial: Vec<u8>,
    },
    /// The target closed the connection first.
    Closed {
        /// The bytes of an incomplete reply read before the close.
        partial: Vec<u8>,
    },
    /// The bytes are not an SMTP reply.
    Malformed(ReplyError),
    /// The bytes are not a JSON value (on an MMTP connection).
    NotJson(NotJson),
    /// A local I/O or TLS error: the harness's trouble, not the target's.
    Io(String),
}

impl std::fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let partial = |f: &mut std::fmt::Formatter<'_>, bytes: &[u8]| {
            if bytes.is_empty() {
                Ok(())
            } else {
                write!(f, " after {:?}", String::from_utf8_lossy(bytes))
            }
        };
        match self {
            Self::Timeout { partial: bytes } => {
                f.write_str("no complete reply in time")?;
                partial(f, bytes)
            }
            Self::Closed { partial: bytes } => {
                f.write_str("the connection was closed")?;
                partial(f, bytes)
            }
            Self::Malformed(e) => write!(f, "not an SMTP reply: {e}"),
            Self::NotJson(e) => write!(f, "not a JSON value: {}", e.error),
            Self::Io(e) => f.write_str(e),
        }
    }
}

enum ReadOutcome {
    Data,
    Eof,
    Timeout,
}

/// How received bytes are split: SMTP replies, or JSON values (MMTP).
#[derive(Debug)]
enum Reader {
    Smtp(ReplyParser),
    Json(JsonReader),
}

impl Reader {
    fn feed(&mut self, bytes: &[u8]) {
        match self {
            Self::Smtp(p) => p.feed(bytes),
            Self::Json(r) => r.feed(bytes),
        }
    }

    fn buffered(&self) -> &[u8] {
        match self {
            Self::Smtp(p) => p.buffered(),
            Self::Json(r) => r.buffered(),
        }
    }

    fn take_buffered(&mut self) -> Vec<u8> {
        match self {
            Self::Smtp(p) => p.take_buffered(),
            Self::Json(r) => r.take_buffered(),
        }
    }
}

/// One open connection.
pub struct Conn {
    id: u8,
    stream: BoxStream,
    _guard: Option<Box<dyn std::any::Any + Send>>,
    tls: bool,
    parser: Reader,
    /// The HashCash difficulty an MMTP welcome on this connection announced.
    pub mmtp_difficulty: Option<u32>,
    /// Whether a JSON value has been read (the first one is the welcome).
    json_seen: bool,
    /// SMTP replies read so far (the first is the greeting).
    pub replies_read: usize,
    peer_closed: bool,
    log: WireLog,
}

impl Conn {
    /// Opens a connection to `listener` of `target` within `timeout` (an implicit-TLS
    /// handshake included), to be logged in `log` as connection `id`.
    pub async fn open(
        target: &dyn Target,
        listener: Listener,
        id: u8,
        log: &WireLog,
        timeout: Duration,
    ) -> Result<Conn, TargetError> {
        let connected = tokio::time::timeout(timeout, target.connect_to(listener))
            .await
            .map_err(|_| TargetError::ConnectTimeout {
                target: target.name(),
                ms: timeout.as_millis() as u64,
            })??;
        let note = if connected.tls {
            "implicit TLS"
        } else {
            "plain"
        };
        log.record(id, WireKind::Connected, connected.tls, note.as_bytes());
        Ok(Conn {
            id,
            stream: connected.stream,
            _guard: connected.guard,
            tls: connected.tls,
            parser: if listener.is_mmtp() {
                Reader::Json(JsonReader::new())
            } else {
                Reader::Smtp(ReplyParser::new())
            },
            mmtp_difficulty: None,
            json_seen: false,
            replies_read: 0,
            peer_closed: false,
            log: log.clone(),
        })
    }

    /// Whether the first JSON value (the MMTP welcome) has been read.
    pub fn welcome_read(&self) -> bool {
        self.json_seen
    }

    /// Whether the connection is inside TLS now (implicit TLS, or after STARTTLS).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Writes `bytes`, `chunk` bytes at a time with `pause` between chunks. A target that
    /// already closed the connection is not an error here: the next read reports it.
    pub async fn write(
        &mut self,
        bytes: &[u8],
        chunk: Option<usize>,
        pause: Duration,
    ) -> Result<(), String> {
        let size = chunk.unwrap_or(bytes.len()).max(1);
        for (i, piece) in bytes.chunks(size).enumerate() {
            if i > 0 && !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            if self.peer_closed {
                self.log.record(
                    self.id,
                    WireKind::Note,
                    self.tls,
                    b"not sent: the target closed the connection",
                );
                return Ok(());
            }
            let result = async {
                self.stream.write_all(piece).await?;
                self.stream.flush().await
            }
            .await;
            match result {
                Ok(()) => self.log.record(self.id, WireKind::Sent, self.tls, piece),
                Err(e) if is_peer_gone(&e) => {
                    self.mark_closed(&e.to_string());
                    return Ok(());
                }
                Err(e) => return Err(format!("write failed: {e}")),
            }
        }
        Ok(())
    }

    fn mark_closed(&mut self, why: &str) {
        if !self.peer_closed {
            self.peer_closed = true;
            self.log
                .record(self.id, WireKind::PeerClosed, self.tls, why.as_bytes());
        }
    }

    async fn read_some(&mut self, timeout: Duration) -> Result<ReadOutcome, String> {
        if self.peer_closed {
            return Ok(ReadOutcome::Eof);
        }
        let mut buf = vec![0u8; 16 * 1024];
        match tokio::time::timeout(timeout, self.stream.read(&mut buf)).await {
            Err(_) => Ok(ReadOutcome::Timeout),
            Ok(Ok(0)) => {
                self.mark_closed("");
                Ok(ReadOutcome::Eof)
            }
            Ok(Ok(n)) => {
                self.log
                    .record(self.id, WireKind::Received, self.tls, &buf[..n]);
                self.parser.feed(&buf[..n]);
                Ok(ReadOutcome::Data)
            }
            Ok(Err(e)) if is_peer_gone(&e) => {
                self.mark_closed(&e.to_string());
                Ok(ReadOutcome::Eof)
            }
            Ok(Err(e)) => Err(format!("read failed: {e}")),
        }
    }

    /// Reads one whole reply.
    pub async fn read_reply(&mut self, timeout: Duration) -> Result<Reply, ReadFailure> {
        let reply = self
            .read_next(timeout, |reader| match reader {
                Reader::Smtp(parser) => parser
                    .next_reply()
                    .map(|r| r.map_err(ReadFailure::Malformed)),
                Reader::Json(_) => Some(Err(ReadFailure::Io(
                    "an SMTP reply was expected on an MMTP connection".into(),
                ))),
            })
            .await?;
        self.replies_read += 1;
        Ok(reply)
    }

    /// Reads one whole JSON value. The first value of the connection (the MMTP welcome) sets
    /// [`Conn::mmtp_difficulty`] when it has a numeric `difficulty`.
    pub async fn read_json(&mut self, timeout: Duration) -> Result<Value, ReadFailure> {
        let value = self
            .read_next(timeout, |reader| match reader {
                Reader::Json(reader) => {
                    reader.next_value().map(|r| r.map_err(ReadFailure::NotJson))
                }
                Reader::Smtp(_) => Some(Err(ReadFailure::Io(
                    "a JSON value was expected on an SMTP connection".into(),
                ))),
            })
            .await?;
        if !self.json_seen {
            self.json_seen = true;
            self.mmtp_difficulty = value
                .get("difficulty")
                .and_then(Value::as_u64)
                .and_then(|d| u32::try_from(d).ok());
        }
        Ok(value)
    }

    /// Reads until `next` finds a whole item in what arrived, the target closes, or `timeout`.
    async fn read_next<T>(
        &mut self,
        timeout: Duration,
        mut next: impl FnMut(&mut Reader) -> Option<Result<T, ReadFailure>>,
    ) -> Result<T, ReadFailure> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(item) = next(&mut self.parser) {
                return item;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.read_some(left).await.map_err(ReadFailure::Io)? {
                ReadOutcome::Data => {}
                ReadOutcome::Eof => {
                    return Err(ReadFailure::Closed {
                        partial: self.parser.take_buffered(),
                    });
                }
                ReadOutcome::Timeout => {
                    return Err(ReadFailure::Timeout {
                        partial: self.parser.buffered().to_vec(),
                    });
                }
            }
        }
    }

    /// Waits for the target to close: `Ok(bytes received first)` once it has, `Err(bytes)`
    /// when it is still open after `timeout`.
    pub async fn wait_close(
        &mut self,
        timeout: Duration,
    ) -> Result<Result<Vec<u8>, Vec<u8>>, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut early = self.parser.take_buffered();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let outcome = self.read_some(left).await?;
            early.extend(self.parser.take_buffered());
            match outcome {
                ReadOutcome::Data => {}
                ReadOutcome::Eof => return Ok(Ok(early)),
                ReadOutcome::Timeout => return Ok(Err(early)),
            }
        }
    }

    /// `Ok(None)` when nothing arrives for `duration`; `Ok(Some(bytes))` for what did arrive
    /// (empty when the connection closed instead).
    pub async fn silence(&mut self, duration: Duration) -> Result<Option<Vec<u8>>, String> {
        if !self.parser.buffered().is_empty() {
            return Ok(Some(self.parser.take_buffered()));
        }
        let deadline = tokio::time::Instant::now() + duration;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.read_some(left).await? {
                ReadOutcome::Timeout => return Ok(None),
                ReadOutcome::Data => {
                    let bytes = self.parser.take_buffered();
                    // A JSON reader drops whitespace between values: nothing to report.
                    if !bytes.is_empty() {
                        return Ok(Some(bytes));
                    }
                }
                ReadOutcome::Eof => return Ok(Some(Vec::new())),
            }
        }
    }

    /// Runs the client TLS handshake. Bytes read before it are thrown away (and logged as
    /// such): nothing the target sent in plaintext after its 220 may count as a reply.
    pub async fn start_tls(&mut self, target: &dyn Target) -> Result<(), TargetError> {
        let stale = self.parser.take_buffered();
        if !stale.is_empty() {
            self.log
                .record(self.id, WireKind::Discarded, self.tls, &stale);
        }
        self.parser = Reader::Smtp(ReplyParser::new());
        let placeholder: BoxStream =
            Box::new(tokio::io::join(tokio::io::empty(), tokio::io::sink()));
        let plain = std::mem::replace(&mut self.stream, placeholder);
        let (stream, info) = tls::connect(plain, target.tls_server_name()).await?;
        self.stream = stream;
        self.tls = true;
        let note = format!("{} {}", info.version, info.cipher);
        self.log
            .record(self.id, WireKind::TlsStarted, true, note.as_bytes());
        Ok(())
    }

    /// Closes from the client side.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_millis(200), self.stream.shutdown()).await;
        self.log
            .record(self.id, WireKind::ClientClosed, self.tls, b"");
    }
}

fn is_peer_gone(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        BrokenPipe | ConnectionReset | ConnectionAborted | UnexpectedEof
    )
}
