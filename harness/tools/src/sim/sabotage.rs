//! The deliberately broken clients of [`Sabotage`], at the wire: a stream wrapper between the
//! reference client and turmoil's socket that drops the client's QUIT and closes instead,
//! takes the transparency dots out of what it writes, or reads PIPELINING into the next
//! hop's EHLO reply. The outbound checks must catch each; a client that is not sabotaged at
//! the wire passes through untouched. (The queue-level sabotages, giving up at once and
//! resending an accepted message, live in [`super::client`].)

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::scenario::Sabotage;

/// The client's stream, broken as `kind` says.
pub struct Saboteur<S> {
    inner: S,
    kind: Option<Sabotage>,
    /// Octets written by the client, transformed, not yet on the wire.
    out: Vec<u8>,
    /// Octets read and rewritten, not yet handed to the client.
    inbound: Vec<u8>,
    /// The next octet written starts a line.
    line_start: bool,
    /// The last octet written was a "." that started a line.
    dot: bool,
    /// `skip-quit`: QUIT was swallowed; the connection reads as closed from then on.
    quit_gone: bool,
    /// `pipeline-unadvertised`: EHLO went out and its reply is still to be rewritten.
    ehlo_sent: bool,
}

impl<S> Saboteur<S> {
    /// Wraps `inner`; `None` (or a sabotage of the queue, not the wire) passes everything
    /// through.
    pub fn new(inner: S, kind: Option<Sabotage>) -> Self {
        Self {
            inner,
            kind,
            out: Vec::new(),
            inbound: Vec::new(),
            line_start: true,
            dot: false,
            quit_gone: false,
            ehlo_sent: false,
        }
    }

    fn at_wire(&self) -> bool {
        matches!(
            self.kind,
            Some(Sabotage::SkipQuit | Sabotage::Unstuffed | Sabotage::PipelineUnadvertised)
        )
    }

    /// Appends `bytes` to `out`, broken as the sabotage says.
    fn transform(&mut self, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            if self.quit_gone {
                return;
            }
            let rest = &bytes[i..];
            if self.line_start {
                match self.kind {
                    Some(Sabotage::SkipQuit) if rest.starts_with(b"QUIT\r\n") => {
                        self.quit_gone = true;
                        return;
                    }
                    Some(Sabotage::PipelineUnadvertised) if rest.starts_with(b"EHLO ") => {
                        self.ehlo_sent = true;
                    }
                    _ => {}
                }
            }
            // `unstuffed`: the dot added for transparency (the second of ".." at a line
            // start) never goes out.
            let unstuff = self.kind == Some(Sabotage::Unstuffed) && self.dot && b == b'.';
            self.dot = self.line_start && b == b'.';
            self.line_start = b == b'\n';
            if !unstuff {
                self.out.push(b);
            }
        }
    }

    /// The first line of an EHLO reply says PIPELINING follows.
    fn advertise_pipelining(&mut self) {
        let Some(end) = self.inbound.windows(2).position(|w| w == b"\r\n") else {
            return;
        };
        self.ehlo_sent = false;
        let first = &self.inbound[..end];
        if !first.starts_with(b"250") || first.len() < 4 {
            return;
        }
        let last = first[3] == b' ';
        let mut line = first.to_vec();
        line[3] = b'-';
        line.extend_from_slice(b"\r\n");
        line.extend_from_slice(if last {
            b"250 PIPELINING"
        } else {
            b"250-PIPELINING"
        });
        self.inbound.splice(..end, line);
    }
}

impl<S: AsyncWrite + Unpin> Saboteur<S> {
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.out.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Saboteur<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.quit_gone {
            // The client "closed": it reads the end of the stream.
            return Poll::Ready(Ok(()));
        }
        // Bounded: each round either reads more octets or returns.
        while this.ehlo_sent && this.inbound.len() < 64 * 1024 {
            let mut chunk = [0u8; 4096];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                this.ehlo_sent = false;
                break;
            }
            this.inbound.extend_from_slice(read.filled());
            this.advertise_pipelining();
        }
        if !this.inbound.is_empty() {
            let n = this.inbound.len().min(buf.remaining());
            buf.put_slice(&this.inbound[..n]);
            this.inbound.drain(..n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Saboteur<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.at_wire() {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        ready!(this.poll_drain(cx))?;
        this.transform(buf);
        // What does not go out now goes at the next write or flush.
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(kind: Sabotage, writes: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut s = Saboteur::new((), Some(kind));
        for w in writes {
            s.transform(w);
        }
        (s.out, s.quit_gone)
    }

    #[test]
    fn unstuffing_takes_the_transparency_dot_out_across_writes() {
        let (out, _) = written(
            Sabotage::Unstuffed,
            &[b"DATA\r\n", b"a\r\n..x\r\n.", b".\r\n..\r\n.\r\n"],
        );
        assert_eq!(out, b"DATA\r\na\r\n.x\r\n.\r\n.\r\n.\r\n");
    }

    #[test]
    fn quit_is_swallowed_and_the_rest_with_it() {
        let (out, gone) = written(Sabotage::SkipQuit, &[b"RSET\r\nQUIT\r\n"]);
        assert_eq!(out, b"RSET\r\n");
        assert!(gone);
    }

    #[test]
    fn pipelining_is_read_into_the_ehlo_reply() {
        let mut s = Saboteur::new((), Some(Sabotage::PipelineUnadvertised));
        s.transform(b"EHLO c.example\r\n");
        assert!(s.ehlo_sent);
        s.inbound = b"250 hop.example\r\n".to_vec();
        s.advertise_pipelining();
        assert_eq!(s.inbound, b"250-hop.example\r\n250 PIPELINING\r\n");
        s.inbound = b"250-hop.example\r\n250 8BITMIME\r\n".to_vec();
        s.advertise_pipelining();
        assert_eq!(
            s.inbound,
            b"250-hop.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
        );
    }
}
