//! The reference client (`mtp-reference send`) delivers through VMTP to the reference, metadata and
//! read receipt included, and through the fallback path to a real plain SMTP server
//! (aiosmtpd, started and stopped by its script in harness/targets/).

use std::process::{Command, Output};

use crate::support::{ServerProcess, free_port, repo_root};

fn send(server: &str, extra: &[&str]) -> Output {
    Command::new(crate::SERVER_PROGRAM)
        .args([
            "send",
            "--server",
            server,
            "--from",
            "alice@client.example",
            "--subject",
            "client test",
            "--timeout",
            "10s",
        ])
        .args([
            "--metadata",
            "client-id=12345",
            "--metadata",
            "campaign=fall",
        ])
        .args(extra)
        .args([
            "bob@example.test",
            "carol@example.test",
            "Hello from the reference client",
        ])
        .output()
        .expect("run mtp-reference send")
}

#[test]
fn vmtp_to_the_reference_carries_metadata_and_readack() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("store"), &[]);
    let out = send(&server.smtp.to_string(), &["--readack"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored = server.messages();
    assert_eq!(stored.len(), 1);
    let (message, data) = &stored[0];
    assert_eq!(message.message.protocol, "VMTP");
    assert_eq!(
        message.message.recipients,
        ["bob@example.test", "carol@example.test"]
    );
    assert_eq!(
        message.message.metadata,
        [
            ("client-id".to_string(), "12345".to_string()),
            ("campaign".to_string(), "fall".to_string())
        ]
    );
    assert!(message.message.read_ack);
    let text = String::from_utf8_lossy(data);
    assert!(
        text.contains("Subject: client test") && text.contains("Hello from the reference client"),
        "{text}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&message.id),
        "the CLI names the stored id: {stdout}"
    );
}

#[test]
#[cfg_attr(
    not(has_aiosmtpd),
    ignore = "aiosmtpd is not installed (bash .ci/install-tools; then rebuild)"
)]
fn fallback_to_aiosmtpd_delivers_and_reports_dropped_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("aiosmtpd");
    let script = repo_root().join("harness/targets/aiosmtpd.sh");
    let port = free_port();
    let started = Command::new("bash")
        .arg(&script)
        .args(["start", &port.to_string()])
        .arg(&state)
        .status()
        .expect("start aiosmtpd");
    assert!(started.success(), "aiosmtpd started");
    let out = send(&format!("127.0.0.1:{port}"), &[]);
    let mailbox = Command::new("bash")
        .arg(&script)
        .arg("mailbox")
        .arg(&state)
        .output()
        .expect("aiosmtpd mailbox");
    let stopped = Command::new("bash")
        .arg(&script)
        .arg("stop")
        .arg(&state)
        .status()
        .expect("stop aiosmtpd");
    assert!(stopped.success());

    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        report.contains("client-id") && report.contains("not sent"),
        "dropped metadata reported: {report}"
    );
    let messages: serde_json::Value =
        serde_json::from_slice(&mailbox.stdout).expect("mailbox JSON");
    let messages = messages.as_array().expect("array");
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0]["to"],
        serde_json::json!(["bob@example.test", "carol@example.test"])
    );
    assert_eq!(messages[0]["from"], "alice@client.example");
}
