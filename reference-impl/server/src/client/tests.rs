//! Driver tests over loopback TCP: a tiny accept loop feeds `ServerSession` (with STARTTLS
//! and implicit TLS on a generated certificate), and the client delivers, pins, times out
//! and retries against it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mtp_proto::smtp::Mailbox;
use mtp_proto::smtp::client::Feature;
use mtp_proto::smtp::server::{
    Action, ConnectionInfo, Delivery, MessageState, ServerConfig, ServerSession, StatusInfo,
};
use rcgen::PublicKeyData;
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::queue::{Disposition, RetryPolicy};
use super::retry::run_queue;
use super::status::{StatusAnswer, query_status};
use super::tls::{Verify, client_config};
use super::*;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct TestServer {
    addr: String,
    stored: Arc<Mutex<Vec<Delivery>>>,
    cert: CertificateDer<'static>,
    spki: Vec<u8>,
}

/// Serves SMTP/VMTP on a loopback port. The first `refuse` connections get a 421 greeting.
async fn serve(implicit: bool, refuse: usize) -> TestServer {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = key.cert.der().clone();
    let spki = key.signing_key.subject_public_key_info();
    let pkcs8 = PrivatePkcs8KeyDer::from(key.signing_key.serialize_der());
    let tls = rustls::ServerConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], PrivateKeyDer::Pkcs8(pkcs8))
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let mut config = ServerConfig::new("mx.example.test", vec!["example.test".into()]);
    config.tls_available = true;
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stored = Arc::new(Mutex::new(Vec::new()));
    let store = stored.clone();
    tokio::spawn(async move {
        for n in 0.. {
            let (mut tcp, _) = listener.accept().await.unwrap();
            if n < refuse {
                let _ = tcp.write_all(b"421 4.3.2 busy, try later\r\n").await;
                continue;
            }
            let (config, acceptor, store) = (config.clone(), acceptor.clone(), store.clone());
            tokio::spawn(async move {
                let stream: Box<dyn Io> = if implicit {
                    Box::new(acceptor.accept(tcp).await.unwrap())
                } else {
                    Box::new(tcp)
                };
                let info = ConnectionInfo {
                    peer: "test".into(),
                    tls: implicit,
                    ..ConnectionInfo::default()
                };
                let session = ServerSession::new(config, info);
                let _ = serve_connection(stream, session, acceptor, store).await;
            });
        }
    });
    TestServer {
        addr,
        stored,
        cert,
        spki,
    }
}

async fn serve_connection(
    mut stream: Box<dyn Io>,
    mut session: ServerSession,
    acceptor: TlsAcceptor,
    store: Arc<Mutex<Vec<Delivery>>>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 8192];
    loop {
        stream.write_all(&session.take_output()).await?;
        while let Some(action) = session.poll_action() {
            stream.write_all(&session.take_output()).await?;
            match action {
                Action::Deliver(d) => {
                    let n = {
                        let mut stored = store.lock().unwrap();
                        stored.push(d);
                        stored.len()
                    };
                    session.delivered(Ok(format!("ID{n}")));
                }
                Action::QueryStatus(id) => {
                    let known = id == "ID1" && !store.lock().unwrap().is_empty();
                    let info = StatusInfo {
                        state: MessageState::Delivered,
                        at_ms: None,
                    };
                    session.status_answer(known.then_some(info));
                }
                Action::StartTls => stream = Box::new(acceptor.accept(stream).await?),
                Action::Close => return stream.shutdown().await,
            }
            stream.write_all(&session.take_output()).await?;
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        session.receive(&buf[..n]);
    }
}

fn message() -> Message {
    Message {
        reverse_path: Some(Mailbox::parse("alice@client.example").unwrap()),
        recipients: vec![Mailbox::parse("bob@example.test").unwrap()],
        data: b"Subject: t\r\n\r\nhello\r\n".to_vec(),
        metadata: vec![("k".into(), "v".into())],
        read_ack: false,
    }
}

fn target(server: &TestServer, mode: TlsMode, verify: Verify) -> Target {
    Target::new(
        &server.addr,
        mode,
        client_config(&verify).unwrap(),
        Some("localhost"),
    )
    .unwrap()
}

fn timeouts() -> Timeouts {
    Timeouts::uniform(Duration::from_secs(5))
}

#[tokio::test]
async fn delivers_over_plain_tcp() {
    let server = serve(false, 0).await;
    let t = target(&server, TlsMode::Plain, Verify::Insecure);
    let outcome = deliver(&t, ClientOptions::default(), vec![message()], &timeouts()).await;
    assert!(outcome.all_delivered(), "{}", outcome.transcript_text());
    let id = outcome.messages[0].result.as_ref().unwrap().id.clone();
    assert_eq!(id.as_deref(), Some("ID1"));
    let stored = server.stored.lock().unwrap();
    assert_eq!(stored[0].metadata, [("k".to_string(), "v".to_string())]);
    assert!(!outcome.tls);
}

#[tokio::test]
async fn starttls_with_a_pinned_key_and_a_wrong_pin() {
    let server = serve(false, 0).await;
    let pin: [u8; 32] = Sha256::digest(&server.spki).into();
    let options = ClientOptions {
        starttls: true,
        require_tls: true,
        ..ClientOptions::default()
    };
    let t = target(&server, TlsMode::StartTls, Verify::PinSha256(pin));
    let outcome = deliver(&t, options.clone(), vec![message()], &timeouts()).await;
    assert!(
        outcome.all_delivered() && outcome.tls,
        "{}",
        outcome.transcript_text()
    );
    assert!(outcome.used.contains(&Feature::StartTls));
    assert!(server.stored.lock().unwrap()[0].tls);

    let t = target(&server, TlsMode::StartTls, Verify::PinSha256([7; 32]));
    let outcome = deliver(&t, options, vec![message()], &timeouts()).await;
    let failure = outcome.messages[0].result.as_ref().unwrap_err();
    assert!(
        failure.reason.contains("does not match the pinned"),
        "{failure}"
    );
    assert_eq!(server.stored.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn implicit_tls_trusting_a_given_root() {
    let server = serve(true, 0).await;
    let mut roots = RootCertStore::empty();
    roots.add(server.cert.clone()).unwrap();
    let options = ClientOptions {
        require_tls: true,
        ..ClientOptions::default()
    };
    let t = target(&server, TlsMode::Implicit, Verify::Roots(Arc::new(roots)));
    let outcome = deliver(&t, options, vec![message()], &timeouts()).await;
    assert!(
        outcome.all_delivered() && outcome.tls,
        "{}",
        outcome.transcript_text()
    );
    let empty = Verify::Roots(Arc::new(RootCertStore::empty()));
    let outcome = deliver(
        &target(&server, TlsMode::Implicit, empty),
        ClientOptions::default(),
        vec![message()],
        &timeouts(),
    )
    .await;
    assert!(outcome.messages[0].result.as_ref().unwrap_err().transient);
}

#[tokio::test]
async fn silent_server_times_out_and_refused_connection_is_transient() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let hold = tokio::spawn(async move {
        let (_socket, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let config = client_config(&Verify::Insecure).unwrap();
    let t = Target::new(&addr, TlsMode::Plain, config.clone(), None).unwrap();
    let short = Timeouts::uniform(Duration::from_millis(200));
    let outcome = deliver(&t, ClientOptions::default(), vec![message()], &short).await;
    let failure = outcome.error.unwrap();
    assert!(
        failure.transient && failure.reason.contains("Greeting"),
        "{failure}"
    );
    hold.abort();
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let t = Target::new(&addr, TlsMode::Plain, config, None).unwrap();
    let outcome = deliver(&t, ClientOptions::default(), vec![message()], &short).await;
    assert!(outcome.error.unwrap().reason.contains("cannot connect"));
}

#[tokio::test]
async fn queue_retries_after_a_421_greeting() {
    let server = serve(false, 2).await;
    let t = target(&server, TlsMode::Plain, Verify::Insecure);
    let policy = RetryPolicy {
        initial: Duration::from_millis(20),
        max_interval: Duration::from_millis(50),
        max_age: Duration::from_secs(10),
    };
    let mut seen = Vec::new();
    let last = run_queue(
        &t,
        &ClientOptions::default(),
        vec![message()],
        &timeouts(),
        policy,
        |a| seen.push(a.disposition.clone()),
    )
    .await;
    assert_eq!(seen.len(), 3);
    assert!(matches!(seen[0], Disposition::Retry { recipients: 1, .. }));
    assert_eq!(last[0].disposition, Disposition::Done);
    assert!(last[0].outcome.all_delivered());
}

#[tokio::test]
async fn status_lookup() {
    let server = serve(false, 0).await;
    let t = target(&server, TlsMode::Plain, Verify::Insecure);
    let (answer, _) = query_status(&t, ClientOptions::default(), "ID1", &timeouts()).await;
    assert!(matches!(answer, StatusAnswer::Unknown(_)), "{answer:?}");
    deliver(&t, ClientOptions::default(), vec![message()], &timeouts()).await;
    let (answer, _) = query_status(&t, ClientOptions::default(), "ID1", &timeouts()).await;
    assert!(matches!(answer, StatusAnswer::Known { ref state, .. } if state == "DELIVERED"));
}
