//! `mtpspec load` against `mtpspec serve`: every message the generator counts as delivered is
//! in the store (durable mode) with its own number, the sink mode acknowledges and stores
//! nothing, idle connections are all greeted, and MMTP round trips move real messages.

use std::collections::BTreeSet;
use std::process::Command;

use super::support::ServerProcess;

/// Runs `mtpspec load ARGS --json` and returns its summary.
fn load(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_mtpspec"))
        .arg("load")
        .args(args)
        .arg("--json")
        .output()
        .expect("run mtpspec load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "load failed: {stdout}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn subjects(server: &ServerProcess) -> BTreeSet<String> {
    server
        .messages()
        .into_iter()
        .map(|(_, data)| {
            let text = String::from_utf8(data).expect("utf-8 message");
            let subject = text.lines().find_map(|l| l.strip_prefix("Subject: "));
            subject.expect("a Subject header").to_string()
        })
        .collect()
}

fn expected(count: u64) -> BTreeSet<String> {
    (0..count).map(|n| format!("mtpspec load {n}")).collect()
}

#[test]
fn pipelined_reused_sessions_store_every_message_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ServerProcess::start(dir.path(), &[]);
    let target = format!("smtp://{}", server.smtp);
    let summary = load(&[
        "--target",
        &target,
        "--sessions",
        "4",
        "--messages",
        "300",
        "--pipelining",
        "--reuse",
        "--recipients",
        "2",
    ]);
    assert_eq!(summary["delivered"], 300, "{summary}");
    assert_eq!(summary["errors"], serde_json::json!({}));
    assert_eq!(summary["phases"]["data"]["samples"], 300);
    let stored = server.messages();
    assert_eq!(stored.len(), 300);
    assert!(stored.iter().all(|(m, _)| m.message.recipients.len() == 2));
    assert_eq!(subjects(&server), expected(300));
}

#[test]
fn one_connection_per_message_with_starttls_and_no_pipelining() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ServerProcess::start(dir.path(), &[]);
    let target = format!("smtp://{}", server.smtp);
    let summary = load(&[
        "--target",
        &target,
        "--sessions",
        "3",
        "--messages",
        "30",
        "--starttls",
        "--size",
        "20000",
    ]);
    assert_eq!(summary["delivered"], 30, "{summary}");
    assert_eq!(summary["phases"]["connect"]["samples"], 30);
    let stored = server.messages();
    assert!(
        stored
            .iter()
            .all(|(m, data)| m.message.tls && data.len() > 19_000)
    );
    assert_eq!(subjects(&server), expected(30));
}

#[test]
fn sink_mode_acknowledges_and_stores_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ServerProcess::start(dir.path(), &["--sink"]);
    let target = format!("smtp://{}", server.smtp);
    let summary = load(&[
        "--target",
        &target,
        "--sessions",
        "2",
        "--messages",
        "200",
        "--pipelining",
        "--reuse",
    ]);
    assert_eq!(summary["delivered"], 200, "{summary}");
    assert!(server.messages().is_empty());
}

#[test]
fn idle_connections_are_all_greeted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ServerProcess::start(dir.path(), &[]);
    let target = format!("smtp://{}", server.smtp);
    let summary = load(&["--target", &target, "--idle", "100", "--hold", "0"]);
    assert_eq!(summary["open"], 100, "{summary}");
    assert_eq!(summary["failed"], 0);
}

/// `mtpspec serve` with only an MMTP listener; killed by PID when dropped. Its stdout stays
/// open (a server whose stdout is closed dies printing its listeners).
struct MmtpServer {
    child: std::process::Child,
    addr: String,
    _stdout: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl MmtpServer {
    fn start(data_dir: &std::path::Path) -> Self {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_mtpspec"))
            .args([
                "serve",
                "--mmtp",
                "127.0.0.1:0",
                "--mmtp-difficulty",
                "1",
                "--data-dir",
            ])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn mtpspec serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let line = lines.next().expect("a listener line").expect("utf-8");
        let addr = line
            .strip_prefix("listening mmtp ")
            .expect("the MMTP listener")
            .to_string();
        Self {
            child,
            addr,
            _stdout: lines,
        }
    }
}

impl Drop for MmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn mmtp_send_then_receive_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = MmtpServer::start(dir.path());
    let target = format!("mmtp://{}", server.addr);
    let summary = load(&["--target", &target, "--sessions", "3", "--messages", "60"]);
    assert_eq!(summary["delivered"], 60, "{summary}");
    assert_eq!(summary["phases"]["send"]["samples"], 60);
    assert_eq!(summary["phases"]["receive"]["samples"], 60);
}

/// `mtpspec mailbox --json | head -c 1`: a reader that closes early is not an error (before:
/// a panic on the closed pipe, exit 101).
#[test]
fn mailbox_output_to_a_reader_that_stops_early_is_not_a_panic() {
    use std::io::Read as _;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("store"), &[]);
    let target = server.smtp.to_string();
    load(&["--target", &target, "--messages", "200", "--size", "20000"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtpspec"))
        .args(["mailbox", "--json", "--data-dir"])
        .arg(&server.data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mtpspec mailbox");
    let mut first = [0u8; 1];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The read end is closed here, with megabytes of JSON still to come.
    let output = child.wait_with_output().unwrap();
    assert_eq!(first, *b"[");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
