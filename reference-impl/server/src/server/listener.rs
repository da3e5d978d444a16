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
    /// One accepted connection.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Waits for the next connection: the stream and the client's address. An error may
    /// concern only that connection; [`next_connection`] decides whether to go on.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;

    /// The address bound, with the port chosen when port 0 was asked for.
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
/// file descriptors, say) never ends the listener: a connection the client aborted before it was
/// accepted is skipped, any other error is retried after a pause that doubles while the errors
/// go on (10 ms to 1 s, so a descriptor shortage costs no busy loop), and a burst is logged
/// twice, at its first error and when accepting works again. Shared by the SMTP and MMTP
/// accept loops.
pub async fn next_connection<L: Listener>(
    listener: &mut L,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<(L::Stream, SocketAddr)> {
    let mut failures = 0u32;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return None,
        };
        let e = match accepted {
            Ok(pair) => {
                if failures > 0 {
                    tracing::info!(failures, "accepting again after errors");
                }
                return Some(pair);
            }
            Err(e) if is_per_connection(&e) => {
                tracing::debug!(error = %e, "connection gone before accept");
                continue;
            }
            Err(e) => e,
        };
        if failures == 0 {
            tracing::warn!(error = %e, "accept failed; retrying with backoff");
        }
        failures = failures.saturating_add(1);
        tokio::time::sleep(accept_backoff(failures)).await;
    }
}

/// Errors of one connection, not of the listener.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// The pause after the `failures`-th consecutive accept error.
fn accept_backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(7);
    Duration::from_millis(10 << doublings).min(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_back_off_up_to_a_second() {
        let pauses: Vec<u64> = [1, 2, 3, 7, 8, 100]
            .map(|n| accept_backoff(n).as_millis() as u64)
            .to_vec();
        assert_eq!(pauses, [10, 20, 40, 640, 1000, 1000]);
    }
}
