//! The service and memory oracles against scripted loopback servers: one that serves a
//! connection at a time and answers slowly (fresh clients wait behind the fuzzer's session:
//! a service finding) and one that serves each connection on its own (none); one that keeps
//! memory for every connection (a memory finding, read from this process) and one that does
//! not (none).

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use mtpspec_runner::robustness::{Endpoint, FreshClient, TargetProcess};
use mtpspec_runner::target::TcpTarget;

/// Memory the leaking server keeps, freed when the test that filled it is done.
static LEAKED: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

#[derive(Clone, Copy)]
struct Behaviour {
    one_at_a_time: bool,
    reply_delay: Duration,
    /// Octets kept for ever per connection (touched, so they count in VmRSS).
    leak_per_connection: usize,
}

async fn session(stream: TcpStream, behaviour: Behaviour) -> std::io::Result<()> {
    if behaviour.leak_per_connection > 0 {
        let kept = vec![0xa5u8; behaviour.leak_per_connection];
        LEAKED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(kept);
    }
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 scripted ESMTP\r\n").await?;
    let mut line = Vec::new();
    let mut in_data = false;
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let upper = String::from_utf8_lossy(&line).to_ascii_uppercase();
        let reply: &[u8] = if in_data {
            if line != b".\r\n" {
                continue;
            }
            in_data = false;
            b"250 queued\r\n"
        } else if upper.starts_with("EHLO") {
            b"250 scripted\r\n"
        } else if upper.starts_with("DATA") {
            in_data = true;
            b"354 go on\r\n"
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"250 ok\r\n"
        };
        tokio::time::sleep(behaviour.reply_delay).await;
        write.write_all(reply).await?;
    }
}

async fn scripted(behaviour: Behaviour) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            if behaviour.one_at_a_time {
                let _ = session(stream, behaviour).await;
            } else {
                tokio::spawn(session(stream, behaviour));
            }
        }
    });
    port
}

fn fuzz_options(port_endpoint: Endpoint) -> FuzzOptions {
    FuzzOptions {
        seed: 3,
        duration: Duration::from_secs(60),
        max_sessions: Some(2),
        timing: Timing {
            connect: Duration::from_secs(2),
            reply: Duration::from_secs(3),
            settle: Duration::from_millis(20),
        },
        minimize_budget: Duration::from_secs(5),
        max_findings: 2,
        mutation_rate: 0.0,
        domain: None,
        service: Some(ServiceOracle {
            fresh: FreshClient::new(port_endpoint),
            interval: Duration::from_millis(100),
            greeting_bound: Duration::from_millis(150),
        }),
        memory: None,
    }
}

async fn fuzz(behaviour: Behaviour, memory: Option<MemoryOracle>) -> FuzzRun {
    let port = scripted(behaviour).await;
    let endpoint = Endpoint::resolve("127.0.0.1", port, false, None)
        .await
        .expect("loopback resolves");
    let target = TcpTarget::new("127.0.0.1", port, false);
    let options = FuzzOptions {
        memory,
        ..fuzz_options(endpoint)
    };
    run(&target, options, &mut |_| {})
        .await
        .expect("the target answers")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_stops_accepting_while_a_session_is_open_is_a_service_finding() {
    let run = fuzz(
        Behaviour {
            one_at_a_time: true,
            reply_delay: Duration::from_millis(20),
            leak_per_connection: 0,
        },
        None,
    )
    .await;
    let watched = &run.watched;
    assert!(watched.loss_count > 0, "{watched:?}");
    let loss = &watched.losses[0];
    assert!(
        !loss.sessions_open.is_empty(),
        "a session was open: {loss:?}"
    );
    assert_eq!(watched.fresh_from.as_deref(), Some("127.0.0.2"));
    assert!(run.distinct_findings() >= 1);
    let md = report::markdown(&run, "mtpspec fuzz", &[]);
    assert!(md.contains("**Finding (service)**"), "{md}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_serves_everyone_at_once_has_no_service_finding() {
    let run = fuzz(
        Behaviour {
            one_at_a_time: false,
            reply_delay: Duration::from_millis(20),
            leak_per_connection: 0,
        },
        None,
    )
    .await;
    assert_eq!(run.watched.loss_count, 0, "{:?}", run.watched);
    assert!(run.watched.probes > 0);
}

fn own_memory(limit_mib: u64) -> Option<MemoryOracle> {
    std::path::Path::new("/proc/self/status")
        .exists()
        .then_some(MemoryOracle {
            process: TargetProcess {
                pid: std::process::id(),
                in_process: true,
            },
            growth_limit_kib: limit_mib * 1024,
            interval: Duration::from_millis(20),
        })
}

/// Both memory cases read this process's memory, so they run one after the other.
#[tokio::test(flavor = "multi_thread")]
async fn memory_growth_past_the_bound_is_a_finding_and_within_it_is_not() {
    let Some(tight) = own_memory(8) else {
        return; // no /proc: nothing to read
    };
    let leaking = Behaviour {
        one_at_a_time: false,
        reply_delay: Duration::ZERO,
        leak_per_connection: 16 << 20,
    };
    let run = fuzz(leaking, Some(tight)).await;
    LEAKED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    let growth = run.watched.growth.as_ref().expect("a memory finding");
    assert!(growth.figure.growth_kib() > 8 * 1024, "{growth:?}");
    let md = report::markdown(&run, "mtpspec fuzz", &[]);
    assert!(md.contains("**Finding (memory)**"), "{md}");

    let tidy = Behaviour {
        leak_per_connection: 0,
        ..leaking
    };
    let run = fuzz(tidy, own_memory(4096)).await;
    assert!(run.watched.growth.is_none(), "{:?}", run.watched);
    assert!(run.watched.memory.is_some());
}
