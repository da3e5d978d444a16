//! The fuzzer end to end, on real loopback TCP: the embedded reference yields no finding, and
//! a deliberately broken server (a fixture with one planted bug: a hang, a malformed reply, a
//! close, a reply for nothing) is caught, minimized, and its scenario fails on the broken
//! server and passes on the reference.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::session::find;
use super::*;
use mtpspec_runner::runner::{RunOptions, Runner, Verdict};
use mtpspec_runner::target::{EmbeddedTarget, TcpTarget};

/// The bug a fixture server carries, triggered by one verb.
#[derive(Clone, Copy)]
enum Bug {
    /// Never answers VRFY.
    HangOnVrfy,
    /// Answers HELP with a line ended by a bare LF.
    MalformedHelp,
    /// Closes the connection on EXPN without a reply.
    CloseOnExpn,
    /// Answers RSET twice.
    DoubleRset,
    /// Answers MAIL with 500, as if the verb were unknown.
    Mail500,
}

/// A minimal SMTP server (greeting, EHLO with PIPELINING, 250 to everything, DATA, QUIT)
/// with one planted bug. Returns its port; it runs until the runtime stops.
async fn fixture(bug: Bug) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, bug));
        }
    });
    port
}

async fn serve(mut s: TcpStream, bug: Bug) -> std::io::Result<()> {
    s.write_all(b"220 fixture ESMTP\r\n").await?;
    let mut buf = Vec::new();
    let mut in_data = false;
    let mut chunk = [0u8; 4096];
    loop {
        if in_data {
            let mut seen = b"\r\n".to_vec();
            seen.extend_from_slice(&buf);
            if let Some(end) = find(&seen, b"\r\n.\r\n") {
                buf.drain(..end + 3);
                in_data = false;
                s.write_all(b"250 queued\r\n").await?;
                continue;
            }
        } else if let Some(end) = find(&buf, b"\r\n") {
            let line: Vec<u8> = buf.drain(..end + 2).collect();
            let verb = String::from_utf8_lossy(&line[..end]).to_ascii_uppercase();
            let reply: &[u8] = match verb.split(' ').next().unwrap_or("") {
                "EHLO" => b"250-fixture\r\n250 PIPELINING\r\n",
                "DATA" => {
                    in_data = true;
                    b"354 go\r\n"
                }
                "QUIT" => {
                    s.write_all(b"221 bye\r\n").await?;
                    return Ok(());
                }
                "VRFY" if matches!(bug, Bug::HangOnVrfy) => b"",
                "HELP" if matches!(bug, Bug::MalformedHelp) => b"214 help\n",
                "EXPN" if matches!(bug, Bug::CloseOnExpn) => return Ok(()),
                "RSET" if matches!(bug, Bug::DoubleRset) => b"250 ok\r\n250 ok\r\n",
                "MAIL" if matches!(bug, Bug::Mail500) => b"500 what?\r\n",
                _ => b"250 ok\r\n",
            };
            s.write_all(reply).await?;
            continue;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn options(sessions: u64) -> FuzzOptions {
    FuzzOptions {
        seed: 7,
        duration: Duration::from_secs(120),
        max_sessions: Some(sessions),
        timing: Timing {
            connect: Duration::from_secs(2),
            reply: Duration::from_millis(700),
            settle: Duration::from_millis(20),
        },
        minimize_budget: Duration::from_secs(15),
        max_findings: 5,
        mutation_rate: 0.3,
        domain: None,
        service: None,
        memory: None,
    }
}

/// Replays finding `n` of `run` as a scenario against `target`.
async fn replay(run: &FuzzRun, n: usize, target: Arc<dyn mtpspec_runner::Target>) -> Verdict {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("finding.yaml");
    let yaml = report::finding_yaml(run, "fixture", n, &run.findings[n]);
    std::fs::write(&path, &yaml).unwrap();
    let cases = mtpspec_scenario::load_paths(&[path]).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let options = RunOptions {
        step_timeout: Duration::from_secs(2),
        ..RunOptions::default()
    };
    let runner = Runner::new(target, options);
    let caps = runner.probe().await.unwrap();
    runner.run_case(&cases[0], &caps).await.verdict
}

async fn catches(bug: Bug, kind: Kind, verb: &str) {
    let port = fixture(bug).await;
    let target: Arc<dyn mtpspec_runner::Target> =
        Arc::new(TcpTarget::new("127.0.0.1", port, false));
    let run = run(target.as_ref(), options(60), &mut |_| {})
        .await
        .unwrap();
    let n = run
        .findings
        .iter()
        .position(|f| f.key.kind == kind)
        .unwrap_or_else(|| {
            panic!(
                "no {kind} in {:?}",
                run.findings
                    .iter()
                    .map(|f| f.key.to_string())
                    .collect::<Vec<_>>()
            )
        });
    let m = &run.findings[n].minimized;
    assert!(m.reproduced);
    let shown = render::transcript(&m.outcome.events);
    assert!(m.session.commands() <= 2, "not minimized:\n{shown}");
    assert!(shown.to_ascii_uppercase().contains(verb), "{shown}");
    assert_eq!(replay(&run, n, target).await, Verdict::Fail, "{shown}");
    let reference: Arc<dyn mtpspec_runner::Target> =
        Arc::new(EmbeddedTarget::start().await.unwrap());
    assert_eq!(
        replay(&run, n, reference.clone()).await,
        Verdict::Pass,
        "{shown}"
    );
    reference.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_and_minimizes_a_hang() {
    catches(Bug::HangOnVrfy, Kind::Hang, "VRFY").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_and_minimizes_a_malformed_reply() {
    catches(Bug::MalformedHelp, Kind::MalformedReply, "HELP").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_and_minimizes_a_close() {
    catches(Bug::CloseOnExpn, Kind::UnexpectedClose, "EXPN").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_and_minimizes_a_reply_for_nothing() {
    catches(Bug::DoubleRset, Kind::ExtraReply, "RSET").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_and_minimizes_a_500_to_a_known_verb() {
    catches(Bug::Mail500, Kind::UnrecognizedKnownVerb, "MAIL").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_yields_no_finding() {
    let target = EmbeddedTarget::start().await.unwrap();
    let run = run(&target, options(60), &mut |_| {}).await.unwrap();
    let found: Vec<String> = run
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}: {}\n{}",
                f.key,
                f.detail,
                render::transcript(&f.minimized.outcome.events)
            )
        })
        .collect();
    assert!(found.is_empty(), "{}", found.join("\n"));
    assert!(
        run.sessions == 60 && run.commands > 200,
        "{} {}",
        run.sessions,
        run.commands
    );
    target.shutdown().await;
}
