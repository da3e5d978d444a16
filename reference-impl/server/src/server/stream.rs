//! A connection that starts in plain text and may be upgraded to TLS in place (STARTTLS,
//! VMTP ENCRYPT START) or start with TLS (implicit TLS listeners).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

pub enum MaybeTls<S> {
    Plain(S),
    Tls(Box<TlsStream<S>>),
    /// Only while an upgrade is in progress.
    Upgrading,
}

impl<S: AsyncRead + AsyncWrite + Unpin> MaybeTls<S> {
    /// Runs the TLS handshake over the plain stream.
    pub async fn upgrade(self, acceptor: &TlsAcceptor) -> io::Result<Self> {
        match self {
            Self::Plain(stream) => Ok(Self::Tls(Box::new(acceptor.accept(stream).await?))),
            _ => Err(io::Error::other("TLS is already active")),
        }
    }
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
