//! One fuzzing connection: bounded writes and reads of whole replies, each line held to the
//! reply syntax as it arrives ([`super::oracle::check_line`]).

use std::io::ErrorKind;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::oracle::{LineFault, RawReply, check_line};
use mtpspec_runner::target::BoxStream;

/// The longest reply line kept before it is called malformed (RFC 5321 §4.5.3.1.5 allows
/// 512 octets; servers go past that in practice).
const MAX_LINE: usize = 8192;

/// Why a reply could not be read.
#[derive(Debug)]
pub(super) enum ReadFail {
    /// Nothing complete within the timeout; the octets of a partial reply, if any.
    Timeout(Vec<u8>),
    /// The peer closed the connection.
    Eof(Vec<u8>),
    /// The connection was reset or failed.
    Reset(std::io::Error),
    /// A line broke the reply syntax.
    Fault(LineFault, Vec<u8>),
}

/// The session's connection (plain, or TLS after an upgrade) and the octets read from it
/// that no reply has consumed yet.
pub(super) struct Conn {
    /// The stream; the driver swaps it for its TLS wrapping after STARTTLS.
    pub(super) stream: BoxStream,
    buf: Vec<u8>,
}

impl Conn {
    /// A connection over `stream`, nothing read yet.
    pub(super) fn new(stream: BoxStream) -> Self {
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    /// Octets received but not yet read as a reply.
    pub(super) fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Writes `bytes`, bounded by `timeout` (a server that stops reading fills the socket).
    pub(super) async fn write(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), ReadFail> {
        match tokio::time::timeout(timeout, async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        })
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ReadFail::Reset(e)),
            Err(_) => Err(ReadFail::Timeout(Vec::new())),
        }
    }

    /// Reads one whole reply. Every line is checked; a continuation line must repeat the
    /// first line's code (RFC 5321 §4.2.1).
    pub(super) async fn reply(&mut self, timeout: Duration) -> Result<RawReply, ReadFail> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut lines: Vec<Vec<u8>> = Vec::new();
        let mut first: Option<u16> = None;
        loop {
            let line = self.line(deadline, &lines).await?;
            let partial = || [lines.concat(), line.clone()].concat();
            let (code, last) = check_line(&line).map_err(|f| ReadFail::Fault(f, partial()))?;
            if let Some(first) = first.filter(|&f| f != code) {
                let fault = LineFault::Malformed(format!(
                    "continuation line has code {code}, the reply began with {first}"
                ));
                return Err(ReadFail::Fault(fault, partial()));
            }
            first = Some(code);
            lines.push(line);
            if last {
                return Ok(RawReply { code, lines });
            }
        }
    }

    /// Waits up to `window` for any octet: `Ok(false)` when none came, `Ok(true)` when some
    /// did (they stay buffered), `Err` on close or reset.
    pub(super) async fn anything_within(&mut self, window: Duration) -> Result<bool, ReadFail> {
        if !self.buf.is_empty() {
            return Ok(true);
        }
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout(window, self.stream.read(&mut chunk)).await {
            Err(_) => Ok(false),
            Ok(Ok(0)) => Err(ReadFail::Eof(Vec::new())),
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Ok(Err(e)) => Err(classify(e, Vec::new())),
        }
    }

    async fn line(
        &mut self,
        deadline: tokio::time::Instant,
        before: &[Vec<u8>],
    ) -> Result<Vec<u8>, ReadFail> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(lf) = self.buf.iter().position(|&b| b == b'\n') {
                return Ok(self.buf.drain(..=lf).collect());
            }
            if self.buf.len() > MAX_LINE {
                let line = std::mem::take(&mut self.buf);
                let fault =
                    LineFault::Malformed(format!("reply line longer than {MAX_LINE} octets"));
                return Err(ReadFail::Fault(fault, line));
            }
            let partial = || [before.concat(), self.buf.clone()].concat();
            let n = match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Err(_) => return Err(ReadFail::Timeout(partial())),
                Ok(Ok(0)) => return Err(ReadFail::Eof(partial())),
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(classify(e, partial())),
            };
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn classify(e: std::io::Error, partial: Vec<u8>) -> ReadFail {
    match e.kind() {
        // A TLS stream reports the peer's close without close_notify this way.
        ErrorKind::UnexpectedEof => ReadFail::Eof(partial),
        _ => ReadFail::Reset(e),
    }
}
