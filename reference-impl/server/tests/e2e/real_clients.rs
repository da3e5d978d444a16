//! Real third-party clients deliver to `mtp-reference serve`: Python's smtplib (plain, STARTTLS,
//! implicit TLS, AUTH PLAIN on submission), swaks and lettre.

use std::process::Command;

use crate::support::{ServerProcess, repo_root};

const BODY: &[u8] = b"From: alice@client.example\r\nTo: bob@example.test\r\nSubject: real client\r\n\r\nline one\r\n.leading dot\r\n8-bit: \xc3\xa9\r\n";

fn smtplib(mode: &str, port: u16, body_file: &std::path::Path, rcpt: &str) {
    let script = repo_root().join("reference-impl/server/tests/e2e/clients/smtplib_send.py");
    let status = Command::new("python3")
        .arg(script)
        .args([mode, &port.to_string(), "alice@client.example", rcpt])
        .arg(body_file)
        .status()
        .expect("run python3");
    assert!(status.success(), "smtplib {mode} failed");
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed")]
fn python_smtplib_delivers_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("store"), &[]);
    let body_file = dir.path().join("body.eml");
    std::fs::write(&body_file, BODY).unwrap();
    smtplib("plain", server.smtp.port(), &body_file, "bob@example.test");
    smtplib(
        "starttls",
        server.smtp.port(),
        &body_file,
        "carol@example.test",
    );
    smtplib("tls", server.smtps.port(), &body_file, "dave@example.test");
    smtplib(
        "submission",
        server.submission.port(),
        &body_file,
        "erin@remote.example",
    );
    let stored = server.messages();
    assert_eq!(stored.len(), 4);
    let expect = [
        ("bob@example.test", false, None),
        ("carol@example.test", true, None),
        ("dave@example.test", true, None),
        ("erin@remote.example", true, Some("alice")),
    ];
    for ((message, data), (rcpt, tls, auth)) in stored.iter().zip(expect) {
        assert_eq!(data.as_slice(), BODY, "exact bytes for {rcpt}");
        assert_eq!(message.message.recipients, [rcpt]);
        assert_eq!(message.message.reverse_path, "alice@client.example");
        assert_eq!(message.message.tls, tls, "{rcpt}");
        assert_eq!(message.message.auth.as_deref(), auth, "{rcpt}");
    }
}

#[test]
#[cfg_attr(
    not(has_swaks),
    ignore = "swaks is not installed (bash .ci/install-tools; then rebuild)"
)]
fn swaks_delivers_plain_and_with_starttls() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("store"), &[]);
    let body_file = dir.path().join("body.eml");
    std::fs::write(&body_file, BODY).unwrap();
    for (rcpt, tls) in [("bob@example.test", false), ("carol@example.test", true)] {
        let mut swaks = Command::new("swaks");
        swaks
            .args([
                "--server",
                &server.smtp.to_string(),
                "--from",
                "alice@client.example",
                "--to",
                rcpt,
                "--data",
            ])
            .arg(format!("@{}", body_file.display()));
        swaks.args(["--helo", "client.example", "--silent", "2"]);
        if tls {
            swaks.arg("--tls");
        }
        let status = swaks.status().expect("run swaks");
        assert!(status.success(), "swaks to {rcpt}");
    }
    let stored = server.messages();
    assert_eq!(stored.len(), 2);
    for (message, data) in &stored {
        // swaks always ends the data with CRLF "." CRLF after the body's own final CRLF, which
        // adds one empty line to the content.
        assert_eq!(data.as_slice(), [BODY, b"\r\n"].concat());
        assert_eq!(message.message.helo, "client.example");
    }
    assert!(!stored[0].0.message.tls && stored[1].0.message.tls);
}

#[test]
fn lettre_delivers() {
    use lettre::Transport;
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("store"), &[]);
    let mailer = lettre::SmtpTransport::builder_dangerous("127.0.0.1")
        .port(server.smtp.port())
        .build();
    let envelope = lettre::address::Envelope::new(
        Some("alice@client.example".parse().unwrap()),
        vec![
            "bob@example.test".parse().unwrap(),
            "carol@example.test".parse().unwrap(),
        ],
    )
    .unwrap();
    mailer.send_raw(&envelope, BODY).expect("lettre send");
    let stored = server.messages();
    assert_eq!(stored.len(), 1);
    // lettre's send_raw always writes CRLF "." CRLF after the body, adding one empty line.
    assert_eq!(stored[0].1.as_slice(), [BODY, b"\r\n"].concat());
    assert_eq!(
        stored[0].0.message.recipients,
        ["bob@example.test", "carol@example.test"]
    );
}
