//! One MMTP connection: feeds socket bytes to the sans-io session, writes its responses once
//! per read, performs the IO its actions ask for (replay cache, key registry, store) and
//! enforces the idle timeout, the write timeout (a client that does not read its responses is
//! dropped) and graceful shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mtp_proto::mmtp::server::{Action, ConnectionInfo, Delivery, MailboxEntry, ServerSession};
use mtp_proto::mmtp::tags::Tags;
use serde_json::value::RawValue;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use super::Shared;
use crate::server::write_out;
use crate::store::{NewMessage, StoredMessage};

/// The store's `protocol` of MMTP messages.
pub const PROTOCOL: &str = "MMTP";

/// Serves one accepted connection until it closes.
pub(super) async fn serve<S>(
    stream: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    implicit_tls: bool,
    shutdown: watch::Receiver<bool>,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    if !implicit_tls {
        return run(stream, peer, shared, false, shutdown).await;
    }
    let acceptor = shared
        .tls
        .clone()
        .ok_or_else(|| io::Error::other("implicit TLS without a certificate"))?;
    let handshake = tokio::time::timeout(shared.idle_timeout, acceptor.accept(stream));
    let stream = handshake
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
    run(stream, peer, shared, true, shutdown).await
}

async fn run<S>(
    mut conn: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    tls: bool,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let now = shared.now_ms;
    let mut session = ServerSession::new(shared.config.clone(), ConnectionInfo { tls }, now());
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while let Some(action) = session.poll_action() {
            if let Action::Close = action {
                write_out(&mut conn, &session.take_output(), shared.write_timeout).await?;
                let _ = conn.shutdown().await;
                linger(&mut conn, &mut buf).await;
                return Ok(());
            }
            if let Action::Drain(_) = action {
                // The response goes out before the messages leave the store (at least once).
                write_out(&mut conn, &session.take_output(), shared.write_timeout).await?;
            }
            perform(&mut session, action, &shared, peer, tls).await;
        }
        if session.has_output() {
            write_out(&mut conn, &session.take_output(), shared.write_timeout).await?;
        }
        tokio::select! {
            read = tokio::time::timeout(shared.idle_timeout, conn.read(&mut buf)) => match read {
                Ok(Ok(0)) => {
                    if !session.is_idle() {
                        tracing::debug!(%peer, "client closed in the middle of a request");
                    }
                    return Ok(());
                }
                Ok(Ok(n)) => session.receive(&buf[..n], now()),
                Ok(Err(e)) => return Err(e),
                Err(_elapsed) => session.idle_timeout(),
            },
            _ = shutdown.changed() => session.shutdown(),
        }
    }
}

/// How long a closing connection keeps reading.
const LINGER: Duration = Duration::from_secs(1);
/// How much it reads at most meanwhile.
const LINGER_BYTES: usize = 16 * 1024 * 1024;

/// Closing a socket with unread input makes the kernel answer with a reset, which can destroy
/// the final ERROR before the client reads it (after TOO_LARGE there usually is unread
/// input). So after sending it and half-closing, read and drop what the client still sends,
/// briefly, as HTTP servers do on a lingering close.
async fn linger<S: AsyncRead + Unpin>(conn: &mut S, buf: &mut [u8]) {
    let deadline = tokio::time::Instant::now() + LINGER;
    let mut budget = LINGER_BYTES;
    while budget > 0 {
        match tokio::time::timeout_at(deadline, conn.read(buf)).await {
            Ok(Ok(n)) if n > 0 => budget = budget.saturating_sub(n),
            _ => return,
        }
    }
}

/// Does what `action` asks and gives the session its answer.
async fn perform(
    session: &mut ServerSession,
    action: Action,
    shared: &Shared,
    peer: SocketAddr,
    tls: bool,
) {
    match action {
        Action::ClaimToken { key, timestamp_ms } => {
            let cache = shared.replay.clone();
            let claimed = blocking(move || cache.claim(&key, timestamp_ms)).await;
            let claimed = claimed.and_then(|r| r.map_err(|e| e.to_string()));
            if let Err(e) = &claimed {
                tracing::error!(%peer, error = %e, "replay cache failed");
            }
            session.token_claimed(claimed);
        }
        Action::VerifySignature(check) => {
            let keys = shared.keys.clone();
            let verified = blocking(move || keys.verify(&check)).await;
            session.signature_checked(verified.unwrap_or(None));
        }
        Action::Deliver(delivery) => {
            let message = new_message(*delivery, peer, tls, (shared.now_ms)());
            let result = shared.store.append(message).await;
            if let Err(e) = &result {
                tracing::error!(%peer, error = %e, "store append failed");
            }
            session.delivered(result.map_err(|e| e.to_string()));
        }
        Action::ListMailbox {
            mailbox,
            with_packets,
        } => session.mailbox(list(shared, &mailbox, with_packets)),
        Action::Drain(ids) => {
            let result = shared.store.remove(&ids).await;
            if let Err(e) = &result {
                tracing::error!(%peer, error = %e, "removing received messages failed");
            }
            session.drained(result.map_err(|e| e.to_string()));
        }
        Action::RegisterKey {
            mailbox, armored, ..
        } => {
            let keys = shared.keys.clone();
            let result = blocking(move || keys.register(&mailbox, &armored)).await;
            let result = result
                .map_err(mtp_proto::mmtp::server::KeyError::Failed)
                .and_then(|r| r);
            session.key_registered(result);
        }
        Action::LookupKey { mailbox } => session.key_found(shared.keys.armored(&mailbox)),
        // Handled by the caller, which owns the stream.
        Action::Close => {}
    }
}

/// Runs CPU or disk work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| format!("worker failed: {e}"))
}

/// What the store keeps of an MMTP message: the packet as the body, the envelope in the
/// common fields, and the MMTP specifics in `extra.mmtp`.
fn new_message(delivery: Delivery, peer: SocketAddr, tls: bool, now_ms: u64) -> NewMessage {
    let extra = serde_json::json!({
        "mmtp": {
            "messageId": delivery.message_id,
            "recipient": delivery.recipient,
            "timestamp": delivery.timestamp_ms,
            "tags": delivery.tags,
            "encrypted": delivery.encrypted,
            "signed": delivery.signed,
            "signatureVerified": delivery.signature_verified,
        }
    });
    NewMessage {
        reverse_path: delivery.sender,
        recipients: vec![delivery.mailbox],
        data: delivery.packet.into_bytes(),
        received_at_ms: now_ms,
        peer: peer.to_string(),
        tls,
        protocol: PROTOCOL.to_owned(),
        extra: Some(extra),
        ..NewMessage::default()
    }
}

/// The tags stored with a message.
pub fn stored_tags(message: &StoredMessage) -> Tags {
    message
        .message
        .extra
        .as_ref()
        .and_then(|extra| extra.get("mmtp"))
        .and_then(|mmtp| mmtp.get("tags"))
        .and_then(|tags| serde_json::from_value(tags.clone()).ok())
        .unwrap_or_default()
}

fn list(shared: &Shared, mailbox: &str, with_packets: bool) -> Vec<MailboxEntry> {
    let mut entries = Vec::new();
    for stored in shared.store.for_recipient(mailbox) {
        if stored.message.protocol != PROTOCOL {
            continue;
        }
        let packet = if with_packets {
            let text = shared
                .store
                .data(&stored.id)
                .map_err(|e| e.to_string())
                .and_then(|bytes| String::from_utf8(bytes).map_err(|e| e.to_string()))
                .and_then(|text| RawValue::from_string(text).map_err(|e| e.to_string()));
            match text {
                Ok(packet) => Some(packet),
                Err(e) => {
                    // Left in the store, never handed out or drained.
                    tracing::error!(id = %stored.id, error = %e, "unreadable MMTP message");
                    continue;
                }
            }
        } else {
            None
        };
        entries.push(MailboxEntry {
            tags: stored_tags(&stored),
            id: stored.id,
            packet,
        });
    }
    entries
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpSocket;
    use tokio::time::{Instant, timeout};

    use crate::mmtp::{MmtpOptions, RunningMmtp};

    /// A client that sends requests and never reads the responses is dropped once the server
    /// has waited the write timeout on them; before, it held its connection for ever.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_never_reads_its_responses_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = MmtpOptions::ephemeral(dir.path().to_path_buf());
        options.write_timeout = Duration::from_secs(1);
        let server = RunningMmtp::start(options).await.unwrap();
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(server.mmtp_addr().unwrap()).await.unwrap();
        let check = r#"{"action":"CHECK","data":{"email":"(bob)%(example.com)"}}"#;
        let flood = check.repeat(2_000);
        let started = Instant::now();
        let mut dropped = false;
        while started.elapsed() < Duration::from_secs(30) {
            match timeout(Duration::from_secs(1), stream.write_all(flood.as_bytes())).await {
                Ok(Ok(())) | Err(_) => {}
                Ok(Err(_)) => {
                    dropped = true;
                    break;
                }
            }
        }
        assert!(dropped, "the server still holds a client that never reads");
        server.shutdown().await;
    }
}
