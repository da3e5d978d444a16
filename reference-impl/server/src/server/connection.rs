//! One connection: feeds socket bytes to the sans-io session, writes its replies once per
//! read, performs the IO its actions ask for (durable store, status lookups, TLS upgrade,
//! close), keeps large message data on disk (`spool`) and owns its clocks: the TLS handshake and write timeouts (a silent close: no reply
//! can get through), the read deadline of `timers` and graceful shutdown (421 and close), and
//! the delay before the replies to a failed AUTH (by the address's recent failures).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use mtp_proto::smtp::server::{
    Action, ConnectionInfo, Delivery, MessageState, ServerSession, StatusInfo,
};
use mtp_proto::smtp::trace::Trace;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;

use super::Shared;
use super::spool::Spool;
use super::stream::{MaybeTls, write_out};
use super::table::Seat;
use super::timers::{Deadlines, auth_failure_delay};
use crate::store::{DeliveryStatus, NewMessage};

/// Serves one accepted connection until it closes.
pub(super) async fn serve<S>(
    stream: S,
    peer: SocketAddr,
    shared: &Shared,
    seat: &Seat,
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
        conn = conn.upgrade(acceptor, shared.handshake_timeout).await?;
        seat.engaged();
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
    let mut deadlines = Deadlines::new(shared.timers, Instant::now());
    // Dropped (its file removed) however this function returns.
    let mut spool = Spool::new(shared.spool.as_ref());
    // Failed AUTH exchanges whose delay has been served.
    let mut throttled = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // Before any reply goes out, the 535 among them included (also the final 421 of a
        // session closed by its errors).
        // Each failure waits for the connection's schedule and for its address's rate
        // limit, so that reconnecting after each guess gains nothing.
        let failures = session.auth_failures();
        if failures > throttled {
            let base = shared.timers.auth_failure_delay;
            let delay = (throttled + 1..=failures)
                .map(|n| {
                    let address = shared.auth_failures.record(peer.ip(), Instant::now(), base);
                    auth_failure_delay(base, n).max(address)
                })
                .sum();
            throttled = failures;
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => session.shutdown(),
            }
        }
        while let Some(action) = session.poll_action() {
            match action {
                Action::Deliver(delivery) => {
                    let result = deliver(shared, delivery, &mut spool, &peer).await;
                    session.delivered(result);
                }
                Action::QueryStatus(id) => session.status_answer(status_info(shared, &id)),
                Action::StartTls => {
                    write_out(&mut conn, &session.take_output(), shared.write_timeout).await?;
                    let acceptor = acceptor
                        .as_ref()
                        .ok_or_else(|| io::Error::other("STARTTLS without a certificate"))?;
                    seat.handshaking();
                    conn = std::mem::replace(&mut conn, MaybeTls::Upgrading)
                        .upgrade(acceptor, shared.handshake_timeout)
                        .await?;
                    seat.engaged();
                    deadlines.replied(Instant::now());
                }
                Action::Close => {
                    write_out(&mut conn, &session.take_output(), shared.write_timeout).await?;
                    let _ = conn.shutdown().await;
                    return Ok(());
                }
            }
        }
        spool.keep_up(&mut session).await?;
        if session.has_output() {
            write_out(&mut conn, &session.take_output(), shared.write_timeout).await?;
            deadlines.replied(Instant::now());
        }
        let deadline = deadlines.read_deadline(Instant::now());
        tokio::select! {
            read = tokio::time::timeout_at(deadline, conn.read(&mut buf)) => match read {
                // The client went away: a message in DATA is dropped, never stored in part.
                Ok(Ok(0)) => return Ok(()),
                Ok(Ok(n)) => {
                    seat.engaged();
                    session.receive(&buf[..n]);
                    deadlines.received(Instant::now(), n, session.in_data());
                }
                Ok(Err(e)) => return Err(e),
                // Silence, a command line or a data phase too slow: 421 4.4.2 and close.
                Err(_elapsed) => session.idle_timeout(),
            },
            _ = shutdown.changed() => session.shutdown(),
        }
    }
}

/// Makes the message durable (or, in sink mode, drops it): its id, or why not. The spooled
/// part of the message is read back here, and its file removed.
async fn deliver(
    shared: &Shared,
    delivery: Delivery,
    spool: &mut Spool<'_>,
    peer: &SocketAddr,
) -> Result<String, String> {
    let Some(counter) = &shared.sink else {
        let now = (shared.now_ms)();
        let message = new_message(delivery, spool, peer, &shared.config.hostname, now).await;
        let message = message.map_err(|e| {
            tracing::error!(%peer, error = %e, "spooled message data cannot be read back");
            crate::store::client_text(e.kind()).to_string()
        })?;
        let result = shared.store.append(message).await;
        if let Err(e) = &result {
            tracing::error!(%peer, error = %e, "store append failed");
        }
        return result.map_err(|e| e.to_string());
    };
    // Sink mode (benchmarks only): the message is dropped here.
    spool.discard();
    Ok(sink_id(counter))
}

/// The id a sink-mode 250 names: 12 hex digits like the store's, never stored or found again.
fn sink_id(counter: &AtomicU64) -> String {
    format!("{:012X}", counter.fetch_add(1, Ordering::Relaxed))
}

/// The message as stored: the content as received (its spooled part read back), with the
/// `Received:` trace field on top.
async fn new_message(
    delivery: Delivery,
    spool: &mut Spool<'_>,
    peer: &SocketAddr,
    host: &str,
    now_ms: u64,
) -> io::Result<NewMessage> {
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
    let trace = trace.into_bytes();
    let trace_len = trace.len();
    let data = spool
        .take_message(trace, delivery.taken, &delivery.data)
        .await?;
    Ok(NewMessage {
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
    })
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
