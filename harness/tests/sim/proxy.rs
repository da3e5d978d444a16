//! The fault proxy against the reference server (real tokio TCP on loopback): cut between
//! the end-of-data dot and the 250, the server has taken the message, the client retries,
//! and the message is stored twice: the protocol's known ambiguity, on a real socket.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use libtest_mimic::Failed;
use mtp_proto::smtp::Mailbox;
use mtp_proto::smtp::client::{ClientOptions, Message};
use mtp_server::client::queue::RetryPolicy;
use mtp_server::client::retry::run_queue;
use mtp_server::client::tls::{Verify, client_config};
use mtp_server::client::{Target, Timeouts, TlsMode};
use mtp_server::server::{RunningServer, ServerOptions};
use mtp_server::tls::TlsSource;
use mtpspec::proxy::{Fault, ProxyOptions, serve};

pub fn cut_after_dot_duplicates_on_the_reference() -> Result<(), Failed> {
    let runtime = tokio::runtime::Runtime::new()?;
    for fault in [Fault::CutAfterDot, Fault::ResetAfterDot] {
        runtime.block_on(async {
            let dir = tempfile::tempdir()?;
            let server = RunningServer::start(ServerOptions {
                smtp: Some(([127, 0, 0, 1], 0).into()),
                tls: TlsSource::Disabled,
                ..ServerOptions::new(dir.path().to_path_buf())
            })
            .await?;
            let upstream = server.smtp_addr().ok_or("no SMTP listener")?.to_string();
            let (delivered, log) = cut_and_retry(&upstream, fault.clone()).await?;
            let stored = server.store().len();
            server.shutdown().await;
            let replied =
                fault == Fault::ResetAfterDot || log.contains("unseen by the client: 250");
            if !delivered || stored != 2 || !replied {
                let text = format!(
                    "{fault}: expected the retry delivered and the message \
                                    stored twice, got {stored}:\n{log}"
                );
                return Err(text.into());
            }
            Ok::<(), Failed>(())
        })?;
    }
    Ok(())
}

/// Slow paths deliver once; a cut before the dot is retried and delivered once.
pub fn slow_and_cut_paths_deliver_once() -> Result<(), Failed> {
    let runtime = tokio::runtime::Runtime::new()?;
    let slow = vec![
        Fault::Latency(Duration::from_millis(5)),
        Fault::Bytewise(Duration::ZERO),
        Fault::Stall {
            after: 30,
            pause: Duration::from_millis(50),
        },
    ];
    for (faults, faulty) in [(slow, None), (vec![Fault::Cut(40)], Some(1))] {
        runtime.block_on(async {
            let dir = tempfile::tempdir()?;
            let server = RunningServer::start(ServerOptions {
                smtp: Some(([127, 0, 0, 1], 0).into()),
                tls: TlsSource::Disabled,
                ..ServerOptions::new(dir.path().to_path_buf())
            })
            .await?;
            let upstream = server.smtp_addr().ok_or("no SMTP listener")?.to_string();
            let (delivered, log) = through_proxy(&upstream, faults, faulty).await?;
            let stored = server.store().len();
            server.shutdown().await;
            if !delivered || stored != 1 {
                return Err(format!("delivered: {delivered}, stored {stored}:\n{log}").into());
            }
            Ok::<(), Failed>(())
        })?;
    }
    Ok(())
}

/// `MTPSPEC_PROXY_TARGETS=aiosmtpd,postfix`: the same cuts in front of real servers (started
/// with harness/targets/NAME.sh), printing what each stored; the findings are in
/// reports/sim-proxy.md.
pub fn cuts_on_real_servers(targets: String) -> Result<(), Failed> {
    let runtime = tokio::runtime::Runtime::new()?;
    for name in targets.split(',') {
        let script = format!("{}/targets/{name}.sh", env!("CARGO_MANIFEST_DIR"));
        for fault in [Fault::CutAfterDot, Fault::ResetAfterDot] {
            let dir = tempfile::tempdir()?;
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let state = dir.path().display().to_string();
            let run = |args: &[&str]| {
                std::process::Command::new("bash")
                    .arg(&script)
                    .args(args)
                    .output()
            };
            let started = run(&["start", &port.to_string(), &state])?;
            if !started.status.success() {
                let why = String::from_utf8_lossy(&started.stderr).into_owned();
                return Err(format!("{name} did not start: {why}").into());
            }
            let upstream = format!("127.0.0.1:{port}");
            let result = runtime.block_on(cut_and_retry(&upstream, fault.clone()));
            // Postfix delivers from its queue after the 250: give it a moment.
            let mut stored = 0;
            for _ in 0..20 {
                let mailbox = run(&["mailbox", &state])?;
                let messages: serde_json::Value = serde_json::from_slice(&mailbox.stdout)?;
                stored = messages.as_array().map_or(0, Vec::len);
                if stored >= 2 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            run(&["stop", &state])?;
            let (delivered, log) = result?;
            println!(
                "{name}, {fault}: retry delivered: {delivered}; messages stored: {stored}\n{log}"
            );
        }
    }
    Ok(())
}

/// One message through the proxy with `fault` on the first connection only, retried by the
/// reference client's queue: whether it was delivered, and the proxy's events.
async fn cut_and_retry(upstream: &str, fault: Fault) -> Result<(bool, String), Failed> {
    through_proxy(upstream, vec![fault], Some(1)).await
}

/// One message through the proxy with `faults` on the first `faulty` connections, retried by
/// the reference client's queue: whether it was delivered, and the proxy's events.
async fn through_proxy(
    upstream: &str,
    faults: Vec<Fault>,
    faulty: Option<u64>,
) -> Result<(bool, String), Failed> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let proxy_addr = listener.local_addr()?.to_string();
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = events.clone();
    let connections = if faulty.is_some() { 2 } else { 1 };
    let options = ProxyOptions {
        upstream: upstream.to_string(),
        faults,
        faulty_connections: faulty,
    };
    let proxy = tokio::spawn(serve(
        listener,
        options,
        Some(connections),
        Arc::new(move |line| sink.lock().unwrap().push(line)),
    ));
    let target = Target::new(
        &proxy_addr,
        TlsMode::Plain,
        client_config(&Verify::Insecure)?,
        Some("localhost"),
    )?;
    let message = Message {
        reverse_path: Some(Mailbox::parse("alice@clients.example")?),
        recipients: vec![Mailbox::parse("bob@example.test")?],
        data: b"Subject: cut\r\n\r\nOnce, or twice?\r\n".to_vec(),
        metadata: Vec::new(),
        read_ack: false,
    };
    let policy = RetryPolicy {
        initial: Duration::from_millis(200),
        ..RetryPolicy::default()
    };
    let timeouts = Timeouts::uniform(Duration::from_secs(10));
    let options = ClientOptions::default();
    let attempts = run_queue(&target, &options, vec![message], &timeouts, policy, |_| {}).await;
    proxy.await??;
    let delivered = attempts.last().is_some_and(|a| a.outcome.all_delivered());
    let log = events.lock().unwrap().join("\n");
    Ok((delivered, log))
}
