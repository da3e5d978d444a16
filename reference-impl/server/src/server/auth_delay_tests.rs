//! Failed AUTH replies are rate limited per client address: over loopback, a client that
//! reconnects after every wrong guess is slowed, not only one that stays on its connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Barrier;
use tokio::time::Instant;

use super::auth_failures::AuthFailures;
use super::tests::{expect, reply, start};
use crate::client::tls::{Verify, client_config};

/// The base delay of a failed AUTH.
const BASE: Duration = Duration::from_millis(200);

/// "alice" / "wrong".
const WRONG: &str = "AUTH PLAIN AGFsaWNlAHdyb25n\r\n";

/// One wrong guess on a new implicit-TLS connection, sent once every connection is ready;
/// how long its `535` took.
async fn guess_on_a_new_connection(smtps: SocketAddr, ready: Arc<Barrier>) -> Duration {
    let connector = tokio_rustls::TlsConnector::from(client_config(&Verify::Insecure).unwrap());
    let tcp = TcpStream::connect(smtps).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let mut pending = Vec::new();
    assert!(reply(&mut tls, &mut pending).await.starts_with("220 "));
    expect(&mut tls, &mut pending, "EHLO c", "250 ").await;
    ready.wait().await;
    let started = Instant::now();
    tls.write_all(WRONG.as_bytes()).await.unwrap();
    let answer = reply(&mut tls, &mut pending).await;
    assert!(answer.starts_with("535 5.7.8 "), "{answer}");
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reconnects_after_every_wrong_guess_is_still_slowed() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |o| {
        o.auth_failure_delay = BASE;
    })
    .await;
    let smtps = server.smtps_addr().unwrap();
    // Ten guesses past the burst, each the first on its own connection, sent together once
    // every connection has been greeted (so that slow handshakes on a loaded machine do not
    // spread them out and pay the address's debt back meanwhile). One connection's schedule
    // alone would answer every one after BASE; the address's rate limit queues them BASE
    // apart, so the last waits about ten times BASE. The bound is a floor the server itself
    // imposes, so a slow machine cannot break it; half the queue leaves room for the guesses
    // not arriving at one instant.
    let guesses = AuthFailures::BURST as usize + 10;
    let ready = Arc::new(Barrier::new(guesses));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..guesses {
        tasks.spawn(guess_on_a_new_connection(smtps, Arc::clone(&ready)));
    }
    let waits = tasks.join_all().await;
    let longest = waits.iter().max().copied().unwrap_or_default();
    assert!(longest >= 5 * BASE, "{waits:?}");
    server.shutdown().await;
}
