//! One connection: feeds socket bytes to the sans-io session, writes its replies once per
//! read, performs the IO its actions ask for (durable store, status lookups, TLS upgrade,
//! close) and enforces the idle timeout and graceful shutdown with 421.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mtp_proto::smtp::server::{
    Action, ConnectionInfo, Delivery, MessageState, ServerSession, StatusInfo,
};
use mtp_proto::smtp::trace::Trace;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use super::Shared;
use super::stream::MaybeTls;
use crate::store::{DeliveryStatus, NewMessage};

/// Serves one accepted connection until it closes.
pub(super) async fn serve<S>(
    stream: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    implicit_tls: bool,
    submission: bool,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut conn = MaybeTls::Plain(stream);
    let acceptor = shared.tls.clone();
    if implicit_tls {
        let acceptor = acceptor
            .as_ref()
            .ok_or_else(|| io::Error::other("implicit TLS without a certificate"))?;
        conn = conn.upgrade(acceptor).await?;
    }
    let config = if submission {
        shared.submission_config.clone()
    } else {
        shared.config.clone()
    };
    let denied = shared.deny.contains(&peer.ip().to_canonical());
    let mut session = ServerSession::new(
        config,
        ConnectionInfo {
            peer: peer.to_string(),
            tls: implicit_tls,
            denied,
        },
    );
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while let Some(action) = session.poll_action() {
            match action {
                Action::Deliver(delivery) => {
                    let result = match &shared.sink {
                        // Sink mode (benchmarks only): the message is dropped here.
                        Some(counter) => Ok(sink_id(counter)),
                        None => {
                            shared
                                .store
                                .append(new_message(
                                    delivery,
                                    &peer,
                                    &shared.config.hostname,
                                    (shared.now_ms)(),
                                ))
                                .await
                        }
                    };
                    if let Err(e) = &result {
                        tracing::error!(%peer, error = %e, "store append failed");
                    }
                    session.delivered(result.map_err(|e| e.to_string()));
                }
                Action::QueryStatus(id) => session.status_answer(status_info(&shared, &id)),
                Action::StartTls => {
                    conn.write_all(&session.take_output()).await?;
                    conn.flush().await?;
                    let acceptor = acceptor
                        .as_ref()
                        .ok_or_else(|| io::Error::other("STARTTLS without a certificate"))?;
                    conn = std::mem::replace(&mut conn, MaybeTls::Upgrading)
                        .upgrade(acceptor)
                        .await?;
                }
                Action::Close => {
                    conn.write_all(&session.take_output()).await?;
                    conn.flush().await?;
                    let _ = conn.shutdown().await;
                    return Ok(());
                }
            }
        }
        if session.has_output() {
            conn.write_all(&session.take_output()).await?;
        }
        tokio::select! {
            read = tokio::time::timeout(shared.idle_timeout, conn.read(&mut buf)) => match read {
                // The client went away: a message in DATA is dropped, never stored in part.
                Ok(Ok(0)) => return Ok(()),
                Ok(Ok(n)) => session.receive(&buf[..n]),
                Ok(Err(e)) => return Err(e),
                Err(_elapsed) => session.idle_timeout(),
            },
            _ = shutdown.changed() => session.shutdown(),
        }
    }
}

/// The id a sink-mode 250 names: 12 hex digits like the store's, never stored or found again.
fn sink_id(counter: &AtomicU64) -> String {
    format!("{:012X}", counter.fetch_add(1, Ordering::Relaxed))
}

/// The message as stored: the content as received, with the `Received:` trace field on top.
fn new_message(delivery: Delivery, peer: &SocketAddr, host: &str, now_ms: u64) -> NewMessage {
    let trace = Trace {
        helo: &delivery.helo,
        peer_ip: peer.ip(),
        host,
        protocol: delivery.protocol,
        tls: delivery.tls,
        authenticated: delivery.auth.is_some(),
        recipients: &delivery.recipients,
        at_ms: now_ms,
    }
    .received_field();
    let mut data = trace.into_bytes();
    let trace_len = data.len();
    data.extend_from_slice(&delivery.data);
    NewMessage {
        reverse_path: delivery.reverse_path,
        recipients: delivery.recipients,
        metadata: delivery.metadata,
        read_ack: delivery.read_ack,
        data,
        trace_len,
        received_at_ms: now_ms,
        helo: delivery.helo,
        peer: peer.to_string(),
        tls: delivery.tls,
        auth: delivery.auth,
        protocol: delivery.protocol.to_string(),
        extra: None,
    }
}

/// STATUS: DELIVERED carries the time the message was stored (local delivery is the store),
/// OPENED the time of the first read, PENDING no time.
fn status_info(shared: &Shared, id: &str) -> Option<StatusInfo> {
    let stored = shared.store.get(id)?;
    let (state, at_ms) = match stored.status {
        DeliveryStatus::Pending => (MessageState::Pending, None),
        DeliveryStatus::Delivered => (MessageState::Delivered, Some(stored.message.received_at_ms)),
        DeliveryStatus::Opened => (MessageState::Opened, stored.opened_at_ms),
    };
    Some(StatusInfo { state, at_ms })
}
