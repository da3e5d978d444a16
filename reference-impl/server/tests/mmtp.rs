//! The MMTP reference server end to end over loopback TCP: send, check, receive and drain;
//! implicit TLS; HashCash replay refused across a restart and messages durable across it;
//! real OpenPGP signatures (valid, forged, client-claimed) and encryption the server never
//! opens; the per-address connection limit released on close; and hostile input (garbage,
//! truncated JSON, deep nesting, huge numbers, wrong types, invalid UTF-8, oversize values)
//! answered with an ERROR or a clean close while another connection keeps being served.

// A test crate: its helpers unwrap, and a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use mtp_proto::mmtp::digest::message_hash;
use mtp_proto::mmtp::json::Json;
use mtp_proto::mmtp::packet::PacketType;
use mtp_server::client::tls::Verify;
use mtp_server::mmtp::client::{
    Client, ClientError, ClientOptions, Compose, Reply, compose, new_message_id,
};
use mtp_server::mmtp::mint::MintOptions;
use mtp_server::mmtp::pgp::{PublicKey, SecretKey};
use mtp_server::mmtp::{MmtpOptions, RunningMmtp};
use mtp_server::server::system_now_ms;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ALICE: &str = "(alice)%(example.com)";
const BOB: &str = "(bob)%(example.com)";

async fn start(dir: &Path, edit: impl FnOnce(&mut MmtpOptions)) -> RunningMmtp {
    let mut options = MmtpOptions::ephemeral(dir.to_path_buf());
    edit(&mut options);
    RunningMmtp::start(options).await.expect("server starts")
}

async fn connect(server: &RunningMmtp) -> Client {
    let addr = server.mmtp_addr().unwrap().to_string();
    Client::connect(&addr, &ClientOptions::default())
        .await
        .expect("connects")
}

fn message(subject: &str) -> Compose {
    Compose {
        sender: ALICE.into(),
        recipient: BOB.into(),
        subject: subject.into(),
        body: format!("Body of {subject}.\nSecond line."),
        tags: None,
        kind: PacketType::Send,
        sign: None,
        encrypt_to: None,
        difficulty: 2,
        timestamp_ms: system_now_ms(),
        message_id: new_message_id(),
    }
}

async fn packet(message: Compose) -> Json {
    tokio::task::spawn_blocking(move || {
        let options = MintOptions {
            threads: 1,
            ..MintOptions::default()
        };
        compose(message, &options, &AtomicBool::new(false), |_| {}).unwrap()
    })
    .await
    .unwrap()
}

fn json(text: &str) -> Json {
    Json::from_slice(text.as_bytes()).unwrap()
}

fn code(reply: &Reply) -> &str {
    reply
        .error()
        .unwrap_or_else(|| panic!("expected an error: {reply}"))
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_check_receive_drains_and_the_hash_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let mut client = connect(&server).await;
    assert_eq!(client.welcome().difficulty, Some(2));
    assert!(client.welcome().pgp && client.welcome().tls);

    let mut first = message("first");
    first.tags = Some(json(r#"{"priority":["high","huge"],"custom":["x"]}"#));
    let id = first.message_id.clone();
    let reply = client.send(packet(first).await).await.unwrap();
    assert!(reply.is_ok(), "{reply}");
    assert_eq!(reply.str("messageId"), Some(id.as_str()));
    let mut second = message("second");
    second.tags = Some(json(r#"{"priority":["low"]}"#));
    assert!(client.send(packet(second).await).await.unwrap().is_ok());

    let check = client
        .check(BOB, Some(json(r#"{"priority":["high"]}"#)))
        .await
        .unwrap();
    assert_eq!(
        (check.u64("count"), check.u64("totalCount")),
        (Some(1), Some(2))
    );
    assert_eq!(
        check.get("tagCounts").unwrap().to_string(),
        r#"{"priority":{"high":1,"low":1},"custom":{"x":1}}"#
    );

    let high = client
        .receive_filtered(BOB, json(r#"{"priority":["high"]}"#))
        .await
        .unwrap();
    assert_eq!(high.messages().len(), 1, "{high}");
    let packet = high.messages()[0].as_object().unwrap();
    let content = packet.get("content").unwrap();
    let claimed = packet
        .get("verification")
        .unwrap()
        .as_object()
        .unwrap()
        .get("messageHash");
    assert_eq!(
        claimed.and_then(Json::as_str),
        Some(message_hash(content).as_str())
    );
    let meta = packet.get("meta").unwrap().as_object().unwrap();
    assert_eq!(
        meta.get("tags").unwrap().to_string(),
        r#"{"priority":["high"],"custom":["x"]}"#
    );

    let rest = client.receive(BOB).await.unwrap();
    assert_eq!(rest.u64("count"), Some(1));
    assert_eq!(client.receive(BOB).await.unwrap().u64("count"), Some(0));
    assert!(server.store().is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let options = ClientOptions {
        tls: Some(Verify::Insecure),
        ..ClientOptions::default()
    };
    let addr = server.mmtps_addr().unwrap().to_string();
    let mut client = Client::connect(&addr, &options).await.unwrap();
    assert!(
        client
            .welcome()
            .message
            .contains("MMTP Server Ready (Secure Connection)")
    );
    let reply = client
        .send(packet(message("over TLS")).await)
        .await
        .unwrap();
    assert!(reply.is_ok(), "{reply}");
    let categories = client.tag_categories().await.unwrap();
    assert!(categories.get("tagCategories").is_some());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_are_refused_and_mail_kept_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let mut client = connect(&server).await;
    let sent = packet(message("once")).await;
    assert!(client.send(sent.clone()).await.unwrap().is_ok());
    assert_eq!(
        code(&client.send(sent.clone()).await.unwrap()),
        "HASHCASH_REPLAYED"
    );
    drop(client);
    server.shutdown().await;

    let server = start(dir.path(), |_| {}).await;
    let mut client = connect(&server).await;
    assert_eq!(code(&client.send(sent).await.unwrap()), "HASHCASH_REPLAYED");
    let received = client.receive(BOB).await.unwrap();
    assert_eq!(received.u64("count"), Some(1), "{received}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_are_verified_by_the_server_alone() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let mut client = connect(&server).await;
    let alice = SecretKey::generate(&format!("Alice <{ALICE}>"), None).unwrap();
    let mallory = SecretKey::generate("Mallory", None).unwrap();
    let alice_public = alice.public_key().to_armored().unwrap();
    let reply = client.register_key(ALICE, &alice_public).await.unwrap();
    assert_eq!(
        reply.str("message"),
        Some("Public key registered successfully")
    );
    let taken = client
        .register_key(ALICE, &mallory.public_key().to_armored().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&taken), "KEY_CONFLICT");
    let junk = client
        .register_key(BOB, "-----BEGIN PGP PUBLIC KEY BLOCK-----\nnope")
        .await
        .unwrap();
    assert_eq!(code(&junk), "INVALID_KEY");
    let fetched = client.request_public_key(ALICE).await.unwrap();
    assert_eq!(fetched.str("publicKey"), Some(alice_public.as_str()));
    assert_eq!(
        code(&client.request_public_key(BOB).await.unwrap()),
        "KEY_NOT_FOUND"
    );

    let mut signed = message("signed");
    signed.sign = Some(alice.clone());
    let reply = client.send(packet(signed).await).await.unwrap();
    assert_eq!(
        reply.get("signatureVerified"),
        Some(&Json::Bool(true)),
        "{reply}"
    );

    let mut forged = message("forged");
    forged.sign = Some(mallory);
    let reply = client.send(packet(forged).await).await.unwrap();
    assert_eq!(
        reply.get("signatureVerified"),
        Some(&Json::Bool(false)),
        "{reply}"
    );

    // An unsigned packet claiming verification: the claim is dropped.
    let mut claimed = packet(message("claimed")).await;
    let meta = claimed.as_object_mut().unwrap().get_mut("meta").unwrap();
    meta.as_object_mut()
        .unwrap()
        .insert("signatureVerified", Json::Bool(true));
    assert!(
        client
            .send(claimed)
            .await
            .unwrap()
            .get("signatureVerified")
            .is_none()
    );

    let received = client.receive(BOB).await.unwrap();
    let verified: Vec<Option<Json>> = received
        .messages()
        .iter()
        .map(|m| {
            let meta = m
                .as_object()
                .unwrap()
                .get("meta")
                .unwrap()
                .as_object()
                .unwrap();
            meta.get("signatureVerified").cloned()
        })
        .collect();
    assert_eq!(
        verified,
        [Some(Json::Bool(true)), Some(Json::Bool(false)), None]
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_content_reaches_the_recipient_unopened() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let mut client = connect(&server).await;
    let bob = SecretKey::generate(&format!("Bob <{BOB}>"), Some("bob's passphrase")).unwrap();
    let bob_public = bob.public_key().to_armored().unwrap();
    assert!(client.register_key(BOB, &bob_public).await.unwrap().is_ok());
    let fetched = client.request_public_key(BOB).await.unwrap();
    let key = PublicKey::parse(fetched.str("publicKey").unwrap()).unwrap();

    let mut secret = message("secret");
    secret.encrypt_to = Some(key);
    let reply = client.send(packet(secret).await).await.unwrap();
    assert_eq!(reply.get("encrypted"), Some(&Json::Bool(true)), "{reply}");

    let received = client.receive(BOB).await.unwrap();
    let packet = received.messages()[0].as_object().unwrap();
    let content = packet.get("content").unwrap().as_object().unwrap();
    let armored = content.get("encrypted").and_then(Json::as_str).unwrap();
    assert!(armored.starts_with("-----BEGIN PGP MESSAGE-----"));
    let plaintext = bob.decrypt(armored).unwrap();
    let plaintext = Json::from_slice(&plaintext).unwrap();
    assert_eq!(
        plaintext.as_object().unwrap().get("subject"),
        Some(&Json::from("secret"))
    );
    let claimed = packet
        .get("verification")
        .unwrap()
        .as_object()
        .unwrap()
        .get("messageHash");
    assert_eq!(
        claimed.and_then(Json::as_str),
        Some(message_hash(&plaintext).as_str())
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_address_limit_is_released_on_close() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |o| o.max_per_ip = 2).await;
    let first = connect(&server).await;
    let _second = connect(&server).await;
    let addr = server.mmtp_addr().unwrap().to_string();
    match Client::connect(&addr, &ClientOptions::default()).await {
        Err(ClientError::Protocol(refusal)) => {
            assert!(refusal.contains("RATE_LIMITED"), "{refusal}")
        }
        other => panic!(
            "expected a refusal, got {:?}",
            other.map(|c| c.welcome().clone())
        ),
    }
    drop(first);
    // The slot comes back once the server notices the close.
    let mut again = None;
    for _ in 0..50 {
        if let Ok(client) = Client::connect(&addr, &ClientOptions::default()).await {
            again = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut again = again.expect("a slot was released");
    assert!(again.check(BOB, None).await.unwrap().is_ok());
    server.shutdown().await;
}

/// Sends `bytes` on a fresh connection and returns everything the server writes until it
/// closes or goes quiet.
async fn exchange(addr: &str, bytes: &[u8], half_close: bool) -> Vec<Json> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut welcome = [0u8; 512];
    let n = stream.read(&mut welcome).await.unwrap();
    assert!(welcome[..n].ends_with(b"\n"));
    // The server may close before taking everything (oversize values).
    let _ = stream.write_all(bytes).await;
    if half_close {
        let _ = stream.shutdown().await;
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_millis(800), stream.read(&mut buf)).await
    {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            Json::from_slice(l).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(l)))
        })
        .collect()
}

fn codes(replies: &[Json]) -> Vec<String> {
    replies
        .iter()
        .map(|r| {
            let r = r.as_object().unwrap();
            r.get("code")
                .and_then(Json::as_str)
                .unwrap_or("OK")
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_errors_or_a_clean_close_and_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |o| o.max_value = 1024 * 1024).await;
    let addr = server.mmtp_addr().unwrap().to_string();
    let mut bystander = connect(&server).await;
    assert!(
        bystander
            .send(packet(message("before")).await)
            .await
            .unwrap()
            .is_ok()
    );

    let deep = format!("{{\"action\":{}{}}}\n", "[".repeat(100), "]".repeat(100));
    let huge_number = format!(
        "{{\"action\":\"CHECK\",\"data\":{{\"email\":{}}}}}\n",
        "9".repeat(300)
    );
    let infinite_number = format!(
        "{{\"action\":\"CHECK\",\"data\":{{\"email\":{}}}}}\n",
        "9".repeat(400)
    );
    let oversize = format!(
        "{{\"action\":\"CHECK\",\"pad\":\"{}\"}}\n",
        "x".repeat(1024 * 1024)
    );
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "garbage",
            b"\x00\x01\x02 hello \xff\xfe\n".to_vec(),
            vec!["BAD_JSON"],
        ),
        (
            "invalid UTF-8",
            b"{\"action\":\"CHECK\",\"data\":{\"email\":\"\xc3\x28\"}}\n".to_vec(),
            vec!["BAD_JSON"],
        ),
        (
            "wrong types",
            br#"{"action":["SEND"],"data":7}"#.to_vec(),
            vec!["BAD_REQUEST"],
        ),
        (
            "data not an object",
            br#"{"action":"CHECK","data":"(bob)%(example.com)"}"#.to_vec(),
            vec!["BAD_REQUEST"],
        ),
        (
            "packet with wrong types",
            br#"{"action":"SEND","data":{"packet":{"meta":{"timestamp":"soon"},"sender":1}}}"#
                .to_vec(),
            vec!["BAD_PACKET"],
        ),
        ("huge number", huge_number.into_bytes(), vec!["BAD_REQUEST"]),
        (
            "number out of range",
            br#"{"action":"CHECK","x":1e999}"#.to_vec(),
            vec!["BAD_JSON"],
        ),
        (
            "integer out of range",
            infinite_number.into_bytes(),
            vec!["BAD_JSON"],
        ),
        ("deep nesting", deep.into_bytes(), vec!["TOO_DEEP"]),
        ("oversize value", oversize.into_bytes(), vec!["TOO_LARGE"]),
        (
            "truncated JSON",
            br#"{"action":"CHECK","data":{"email":"#.to_vec(),
            vec![],
        ),
        ("empty", Vec::new(), vec![]),
    ];
    for (name, bytes, expected) in cases {
        let replies = exchange(&addr, &bytes, true).await;
        assert_eq!(codes(&replies), expected, "{name}");
        let check = bystander.check(BOB, None).await.unwrap();
        assert_eq!(check.u64("count"), Some(1), "after {name}: {check}");
    }

    // Many malformed requests on one connection end it with TOO_MANY_ERRORS.
    let replies = exchange(&addr, &b"nope\n".repeat(25), false).await;
    let codes = codes(&replies);
    assert_eq!(codes.len(), 21, "{codes:?}");
    assert_eq!(codes.last().map(String::as_str), Some("TOO_MANY_ERRORS"));

    // A value split across writes, and two in one write, are both served.
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let _welcome = stream.read(&mut buf).await.unwrap();
    let check = format!(r#"{{"action":"CHECK","data":{{"email":"{BOB}"}}}}"#);
    for piece in check.as_bytes().chunks(7) {
        stream.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    stream
        .write_all(format!("{check}{check}").as_bytes())
        .await
        .unwrap();
    let mut seen = Vec::new();
    while seen.iter().filter(|b| **b == b'\n').count() < 3 {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        seen.extend_from_slice(&buf[..n]);
    }
    assert_eq!(
        String::from_utf8(seen)
            .unwrap()
            .matches("\"totalCount\":1")
            .count(),
        3
    );

    assert_eq!(bystander.receive(BOB).await.unwrap().u64("count"), Some(1));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_open_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let mut client = connect(&server).await;
    let shutdown = tokio::spawn(server.shutdown());
    let reply = client.response().await.unwrap();
    assert_eq!(code(&reply), "SHUTTING_DOWN");
    shutdown.await.unwrap();
}

/// Runs gpg with its own home; `None` when gpg is not installed.
fn gpg(home: &Path, args: &[&str], input: Option<&[u8]>) -> Option<std::process::Output> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("gpg")
        .env("GNUPGHOME", home)
        .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.unwrap_or_default()).unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "gpg {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(output)
}

/// What our client signs and encrypts, GnuPG verifies and decrypts, and the other way round.
#[test]
#[cfg_attr(
    not(has_gpg),
    ignore = "gpg is not installed (bash .ci/install-tools; then rebuild)"
)]
fn gnupg_interoperates() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let data = br#"{"subject":"Hi","body":"two\nlines"}"#;
    let alice = SecretKey::generate(&format!("Alice <{ALICE}>"), None).unwrap();
    gpg(
        dir,
        &["--import"],
        Some(alice.to_armored().unwrap().as_bytes()),
    );
    let signature = alice.sign_text(data).unwrap();
    std::fs::write(dir.join("data.json"), data).unwrap();
    std::fs::write(dir.join("data.sig"), &signature).unwrap();
    let sig_path = dir.join("data.sig").display().to_string();
    let data_path = dir.join("data.json").display().to_string();
    gpg(dir, &["--verify", &sig_path, &data_path], None);
    let encrypted = alice.public_key().encrypt(data).unwrap();
    let decrypted = gpg(dir, &["--decrypt"], Some(encrypted.as_bytes())).unwrap();
    assert_eq!(decrypted.stdout, data);

    gpg(
        dir,
        &[
            "--quick-gen-key",
            "Carol <(carol)%(example.com)>",
            "ed25519",
            "sign",
            "never",
        ],
        None,
    );
    let listing = gpg(
        dir,
        &["--with-colons", "--list-keys", "(carol)%(example.com)"],
        None,
    )
    .unwrap();
    let listing = String::from_utf8(listing.stdout).unwrap();
    let fingerprint = listing
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .unwrap();
    let fingerprint = fingerprint.trim_matches(':').to_owned();
    gpg(
        dir,
        &["--quick-add-key", &fingerprint, "cv25519", "encr", "never"],
        None,
    );
    let public = gpg(dir, &["--armor", "--export", "(carol)%(example.com)"], None).unwrap();
    let public = PublicKey::parse(&String::from_utf8(public.stdout).unwrap()).unwrap();
    let secret = gpg(
        dir,
        &["--armor", "--export-secret-keys", "(carol)%(example.com)"],
        None,
    )
    .unwrap();
    let secret = SecretKey::parse(&String::from_utf8(secret.stdout).unwrap(), None).unwrap();
    let carol = ["--local-user", "(carol)%(example.com)", "--armor"];
    let signed = gpg(
        dir,
        &[&carol[..], &["--textmode", "--detach-sign"]].concat(),
        Some(data),
    )
    .unwrap();
    let signed = String::from_utf8(signed.stdout).unwrap();
    assert!(public.verify(data, &signed));
    assert!(!public.verify(b"{}", &signed));
    let to_carol = [
        "--trust-model",
        "always",
        "--armor",
        "--recipient",
        "(carol)%(example.com)",
        "--encrypt",
    ];
    let message = gpg(dir, &to_carol, Some(data)).unwrap();
    assert_eq!(
        secret
            .decrypt(&String::from_utf8(message.stdout).unwrap())
            .unwrap(),
        data
    );
    // The agent gpg started for this home would otherwise linger.
    let _ = std::process::Command::new("gpgconf")
        .env("GNUPGHOME", dir)
        .args(["--kill", "gpg-agent"])
        .status();
}
