//! A fresh client is served at once while TLS handshakes stall in every seat: over loopback,
//! a full connection table evicts its oldest connection still in a handshake, and refuses with
//! `421` only once every seat is held by a client that has spoken.

use std::time::Duration;

use tokio::net::TcpStream;

use super::tests::{BOUND, closed_within, expect, greeted, reply, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_client_takes_the_seat_of_the_oldest_stalled_handshake() {
    let dir = tempfile::tempdir().unwrap();
    // A handshake timeout far beyond the bounds below: only preemption can free a seat.
    let server = start(dir.path(), |o| {
        o.handshake_timeout = Duration::from_secs(600);
        o.max_connections = 3;
    })
    .await;
    let (smtp, smtps) = (server.smtp_addr().unwrap(), server.smtps_addr().unwrap());
    let mut stalled = Vec::new();
    for _ in 0..3 {
        stalled.push(TcpStream::connect(smtps).await.unwrap());
    }
    // Each fresh client that speaks evicts the oldest stalled handshake, in order.
    let mut clients = Vec::new();
    for (oldest, stalled) in stalled.iter_mut().enumerate() {
        let (mut client, mut pending) = greeted(smtp).await;
        expect(&mut client, &mut pending, "EHLO c", "250 ").await;
        assert!(
            closed_within(stalled, BOUND).await,
            "stalled handshake {oldest} still open"
        );
        clients.push((client, pending));
    }
    // Every seat is held by a client that has spoken: the next one is refused.
    let mut refused = TcpStream::connect(smtp).await.unwrap();
    let refusal = reply(&mut refused, &mut Vec::new()).await;
    assert!(refusal.starts_with("421 "), "{refusal}");
    for (client, pending) in &mut clients {
        expect(client, pending, "NOOP", "250 ").await;
    }
    server.shutdown().await;
}
