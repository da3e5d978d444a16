//! The reference server and client on turmoil's network: a [`Listener`] over turmoil's TCP,
//! and [`Tap`], the client-side stream wrapper that paces writes (a slow uplink), checks every
//! reply the server sends for well-formedness independently of the client, counts the replies
//! that reached the client and when it last read or wrote, and tells when the client is in
//! the middle of a message's data (for `kill_mid_data`).

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use mtp_proto::smtp::reply::{ReplyCode, ReplyParser};
use mtp_server::server::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::trace::sim_now;

/// The server's SMTP port inside the simulation.
pub const SMTP_PORT: u16 = 25;

/// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with its CRLF.
const MAX_REPLY_LINE: usize = 512;

/// turmoil's listener, for [`mtp_server::server::RunningServer::start_with_store`].
pub struct SimListener(pub turmoil::net::TcpListener);

impl Listener for SimListener {
    type Stream = turmoil::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(Self::Stream, SocketAddr)> {
        self.0.accept().await
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// What a [`Tap`] saw on one connection; the client host and the harness read it.
#[derive(Debug, Default)]
pub struct Probe {
    parser: ReplyParser,
    /// Replies that were not well formed, as text.
    pub malformed: Vec<String>,
    /// Replies read so far, well formed or not.
    pub replies: usize,
    /// When the client last read or wrote (simulated time).
    pub last_io: Duration,
    /// The longest the client went without reading or writing between two of them.
    pub longest_silence: Duration,
    /// The server said 354 and the terminating `CRLF.CRLF` has not been written yet.
    in_body: bool,
    body_written: usize,
    /// The last bytes written, to find the terminator across writes.
    tail: Vec<u8>,
}

impl Probe {
    /// Message data has been written and its end has not.
    pub fn mid_data(&self) -> bool {
        self.in_body && self.body_written > 0
    }

    /// Notes a read or a write now.
    fn io(&mut self) {
        let now = sim_now();
        self.longest_silence = self.longest_silence.max(now.saturating_sub(self.last_io));
        self.last_io = now;
    }

    fn read(&mut self, bytes: &[u8]) {
        self.io();
        self.parser.feed(bytes);
        while let Some(parsed) = self.parser.next_reply() {
            self.replies += 1;
            match parsed {
                Err(e) => self.malformed.push(e.to_string()),
                Ok(reply) => {
                    let long = reply.text().lines().any(|l| l.len() + 6 > MAX_REPLY_LINE);
                    if long {
                        self.malformed
                            .push(format!("reply line over 512 octets: {reply}"));
                    }
                    if reply.code == ReplyCode::START_MAIL_INPUT {
                        self.in_body = true;
                        self.body_written = 0;
                        // The data starts at a line start: a lone "." ends it at once.
                        self.tail = b"\r\n".to_vec();
                    }
                }
            }
        }
    }

    fn wrote(&mut self, bytes: &[u8]) {
        self.io();
        if !self.in_body {
            return;
        }
        self.body_written += bytes.len();
        self.tail.extend_from_slice(bytes);
        if self.tail.windows(5).any(|w| w == b"\r\n.\r\n") {
            self.in_body = false;
            self.tail.clear();
        } else {
            let keep = self.tail.len().saturating_sub(4);
            self.tail.drain(..keep);
        }
    }
}

/// A client stream that records into a [`Probe`] and optionally paces its writes.
pub struct Tap<S> {
    inner: S,
    probe: Rc<RefCell<Probe>>,
    /// At most this many octets per write, then a pause.
    pace: Option<(usize, Duration)>,
    pause: Option<Pin<Box<Sleep>>>,
}

impl<S> Tap<S> {
    /// Wraps `inner`, recording into `probe`; with `pace = Some((chunk, gap))` each write
    /// takes at most `chunk` octets and is followed by a pause of `gap` (simulated time).
    pub fn new(inner: S, probe: Rc<RefCell<Probe>>, pace: Option<(usize, Duration)>) -> Self {
        Self {
            inner,
            probe,
            pace,
            pause: None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        this.probe.borrow_mut().read(&buf.filled()[before..]);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(pause) = &mut this.pause {
            ready!(pause.as_mut().poll(cx));
            this.pause = None;
        }
        let len = this
            .pace
            .map_or(buf.len(), |(chunk, _)| buf.len().min(chunk));
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &buf[..len]))?;
        this.probe.borrow_mut().wrote(&buf[..n]);
        if let Some((_, gap)) = this.pace {
            this.pause = Some(Box::pin(tokio::time::sleep(gap)));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_tracks_message_data_and_bad_replies() {
        let mut probe = Probe::default();
        probe.wrote(b"DATA\r\n");
        assert!(!probe.mid_data());
        probe.read(b"354 go ahead\r\n");
        probe.wrote(b"Subject: x\r\n\r\nbody");
        assert!(probe.mid_data());
        probe.wrote(b"\r\n.");
        assert!(probe.mid_data());
        probe.wrote(b"\r\n");
        assert!(!probe.mid_data());
        probe.read(b"250 ok\r\nhello\r\n");
        assert_eq!(probe.replies, 3);
        assert_eq!(probe.malformed.len(), 1);
    }
}
