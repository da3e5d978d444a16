//! The robustness cases of `mtpspec run` against the reference as users run it (`mtpspec
//! serve`), started with short limits so that each attack's stalled connections are closed in
//! seconds: every case passes, with its figures (survival, fresh clients, the server's memory
//! read from its PID). Each attack has its own server, so the tests run side by side.

use std::time::Duration;

use mtpspec::Verdict;
use mtpspec::robustness::{Attack, Context, Endpoint, RobustnessOptions, TargetProcess};
use mtpspec::scenario::Level;

use crate::support::ServerProcess;

/// The reference's limits, seconds instead of minutes.
const SHORT_LIMITS: [&str; 12] = [
    "--handshake-timeout",
    "2",
    "--command-timeout",
    "3",
    "--write-timeout",
    "2",
    "--idle-timeout",
    "3",
    "--min-data-rate",
    "100",
    "--data-rate-grace",
    "1",
];

fn passes_on_the_reference(attack: Attack) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = ServerProcess::start(&dir.path().join("store"), &SHORT_LIMITS);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let results = runtime.block_on(async {
        let endpoint = Endpoint::resolve(
            "127.0.0.1",
            server.smtp.port(),
            false,
            Some(&server.smtps.to_string()),
        )
        .await
        .expect("loopback resolves");
        let options = RobustnessOptions {
            case_cap: Duration::from_secs(10),
            max_connections: 40,
            probe_interval: Duration::from_millis(500),
            unfinished_data_octets: 1 << 20,
            ..RobustnessOptions::default()
        };
        let process = TargetProcess {
            pid: server.pid(),
            in_process: false,
        };
        let mut ctx = Context::new(endpoint, options, Some(process));
        ctx.run(&[attack], |_| Level::Should, |_| {}).await
    });
    let result = &results[0];
    let figures = result.figures.join("\n  ");
    eprintln!("{} {}:\n  {figures}", result.verdict, result.id);
    assert_eq!(
        result.verdict,
        Verdict::Pass,
        "{}: {:?}\n  {figures}",
        result.id,
        result.reason
    );
    let measured = result.measured.as_ref().expect("measured");
    assert!(measured.rss.is_some(), "the server's memory was read");
}

#[test]
fn stalled_tls_handshakes() {
    passes_on_the_reference(Attack::TlsStall);
}

#[test]
fn clients_that_never_read() {
    passes_on_the_reference(Attack::NeverReads);
}

#[test]
fn slow_command_lines() {
    passes_on_the_reference(Attack::SlowCommand);
}

#[test]
fn slow_mail_data() {
    passes_on_the_reference(Attack::SlowData);
}

#[test]
fn many_idle_connections() {
    passes_on_the_reference(Attack::IdleConnections);
}

#[test]
fn unfinished_large_messages() {
    passes_on_the_reference(Attack::UnfinishedData);
}
