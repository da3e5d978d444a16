//! `mtpspec send --gateway` against a reference server and gateway running on a runtime of
//! their own (the command builds its own runtime, as it does when run from the shell).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::mpsc;

use crate::client::tls::Verify;
use crate::gateway::{GatewayOptions, RunningGateway, Upstream};
use crate::server::{RunningServer, ServerOptions};
use crate::store::Store;
use clap::Parser;

use super::super::SendArgs;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    send: SendArgs,
}

/// The reference server and a gateway delivering to it, until dropped.
struct Running {
    url: String,
    store: Store,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("store");
    let (ready, ready_rx) = mpsc::channel();
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let mut options = ServerOptions::new(data_dir);
            options.smtp = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
            let server = RunningServer::start(options).await.unwrap();
            let upstream = format!("smtp://{}", server.smtp_addr().unwrap());
            let upstream = Upstream::parse(&upstream, &Verify::Insecure).unwrap();
            let listen = SocketAddr::from(([127, 0, 0, 1], 0));
            let gateway = RunningGateway::start(
                GatewayOptions::new(listen, upstream),
                server.store().clone(),
            )
            .await
            .unwrap();
            ready
                .send((gateway.addr(), server.store().clone()))
                .unwrap();
            let _ = stop_rx.await;
            gateway.shutdown().await;
            server.shutdown().await;
        });
    });
    let (addr, store) = ready_rx.recv().unwrap();
    Running {
        url: format!("http://{addr}"),
        store,
        stop: Some(stop),
        thread: Some(thread),
        _dir: dir,
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(args: &[&str]) -> ExitCode {
    let cli = Cli::try_parse_from(std::iter::once("send").chain(args.iter().copied())).unwrap();
    super::super::main(cli.send).unwrap()
}

#[test]
fn sends_one_message_with_extras_and_waits_for_delivery() {
    let gw = start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "attached notes").unwrap();
    let file = file.to_str().unwrap();
    let code = run(&[
        "--gateway",
        &gw.url,
        "--from",
        "alice@example.test",
        "--subject",
        "CLI via gateway",
        "--metadata",
        "client-id=7",
        "--attach",
        file,
        "--readack",
        "--wait",
        "bob@example.test",
        "carol@example.test",
        "Hello through the gateway",
    ]);
    assert_eq!(code, ExitCode::SUCCESS);
    let stored = gw.store.list();
    assert_eq!(stored.len(), 1);
    let m = &stored[0].message;
    assert_eq!((m.protocol.as_str(), m.read_ack), ("VMTP", true));
    assert_eq!(m.recipients, ["bob@example.test", "carol@example.test"]);
    assert_eq!(m.metadata, [("client-id".to_string(), "7".to_string())]);
    let text = String::from_utf8(gw.store.data(&stored[0].id).unwrap()).unwrap();
    assert!(
        text.contains("Subject: CLI via gateway") && text.contains("notes.txt"),
        "{text}"
    );
}

#[test]
fn sends_a_batch_file_and_reports_each_message() {
    let gw = start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("batch.json");
    std::fs::write(
        &file,
        r#"{"messages":[{"sender":"a@example.test","recipients":["b@example.test"],"subject":"test","body":"hi"},
                        {"sender":"a@example.test","recipients":["not an address"],"body":"no"}]}"#,
    )
    .unwrap();
    let code = run(&[
        "--gateway",
        &gw.url,
        "--batch",
        file.to_str().unwrap(),
        "--wait",
    ]);
    assert_eq!(code, ExitCode::from(1), "one message was refused");
    assert_eq!(gw.store.list().len(), 1, "the valid one was delivered");
    std::fs::write(&file, "{not json").unwrap();
    let cli = Cli::try_parse_from([
        "send",
        "--gateway",
        &gw.url,
        "--batch",
        file.to_str().unwrap(),
    ])
    .unwrap();
    let e = super::super::main(cli.send).unwrap_err();
    assert!(e.to_string().contains("not JSON"), "{e}");
}

#[test]
fn rejects_conflicting_options() {
    for args in [
        &[
            "send",
            "--gateway",
            "http://x",
            "--server",
            "h:25",
            "--from",
            "a@x.test",
            "b@x.test",
            "hi",
        ][..],
        &["send", "--batch", "f.json"],
        &[
            "send",
            "--gateway",
            "http://x",
            "--batch",
            "f.json",
            "--from",
            "a@x.test",
        ],
        &[
            "send",
            "--gateway",
            "http://x",
            "--retry-for",
            "1m",
            "--from",
            "a@x.test",
            "b@x.test",
            "hi",
        ],
    ] {
        assert!(Cli::try_parse_from(args).is_err(), "{args:?}");
    }
    let cli = Cli::try_parse_from([
        "send", "--worker", "ftp://x", "--from", "a@x.test", "b@x.test", "hi",
    ])
    .unwrap();
    let e = super::super::main(cli.send).unwrap_err();
    assert!(e.to_string().contains("http://"), "{e}");
}
