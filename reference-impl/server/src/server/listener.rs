//! The listener abstraction the server is generic over, so that the same accept loop runs on
//! `tokio::net` and, in the simulation, on `turmoil::net`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

/// Something that accepts byte-stream connections.
pub trait Listener: Send + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;

    fn local_addr(&self) -> io::Result<SocketAddr>;
}

impl Listener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(Self::Stream, SocketAddr)> {
        let (stream, peer) = tokio::net::TcpListener::accept(self).await?;
        // Replies are written once per read; Nagle would only delay them.
        stream.set_nodelay(true)?;
        Ok((stream, peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        tokio::net::TcpListener::local_addr(self)
    }
}

/// The next accepted connection, or `None` once shutdown is signalled. An accept error (out of
/// file descriptors, say) is logged and retried after a short pause rather than ending the
/// listener. Shared by the SMTP and MMTP accept loops.
pub async fn next_connection<L: Listener>(
    listener: &mut L,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<(L::Stream, SocketAddr)> {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return None,
        };
        match accepted {
            Ok(pair) => return Some(pair),
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
