//! A connection that starts in plain text and may be upgraded to TLS in place (STARTTLS,
//! VMTP ENCRYPT START) or start with TLS (implicit TLS listeners), and the two bounds on a
//! client's cooperation with its bytes: the handshake timeout and the write timeout.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

pub(super) enum MaybeTls<S> {
    Plain(S),
    Tls(Box<TlsStream<S>>),
    /// Only while an upgrade is in progress.
    Upgrading,
}

impl<S: AsyncRead + AsyncWrite + Unpin> MaybeTls<S> {
    /// Runs the TLS handshake over the plain stream. A client that does not complete it
    /// within `timeout` (silence, or a byte now and then) fails it with `TimedOut`: nothing can
    /// be said to it in SMTP mid-handshake, so the caller closes without a reply.
    pub(super) async fn upgrade(
        self,
        acceptor: &TlsAcceptor,
        timeout: Duration,
    ) -> io::Result<Self> {
        let Self::Plain(stream) = self else {
            return Err(io::Error::other("TLS is already active"));
        };
        match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
            Ok(tls) => Ok(Self::Tls(Box::new(tls?))),
            Err(_elapsed) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS handshake timed out",
            )),
        }
    }
}

/// Writes and flushes `bytes`. A client that keeps them from leaving (it does not read, and
/// the socket buffers are full) for `timeout` fails the write with `TimedOut`; the caller then
/// drops the connection without a reply, which could not get through either. Used by the SMTP
/// and MMTP connections.
pub(crate) async fn write_out<S>(conn: &mut S, bytes: &[u8], timeout: Duration) -> io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    let write = async {
        conn.write_all(bytes).await?;
        conn.flush().await
    };
    tokio::time::timeout(timeout, write)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the client does not read"))?
}

fn upgrading() -> io::Error {
    io::Error::other("stream used during a TLS upgrade")
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTls<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_read(cx, buf),
            Self::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTls<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_write(cx, buf),
            Self::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s).poll_flush(cx),
            Self::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s).poll_shutdown(cx),
            Self::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }
}
