//! The robustness cases against scripted loopback servers that never time out: one that
//! serves one connection at a time (every attack takes the service from others: WARN, with the
//! figure) and one that serves each connection on its own (the stalled connections stay open
//! to the cap, which is within RFC 5321: PASS, with the survival as a figure).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::*;
use crate::runner::Verdict;

/// Serves one SMTP session: greets, answers every line, swallows mail data up to the dot,
/// and after STARTTLS reads on for ever without a handshake. Never times out.
async fn session(stream: TcpStream) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 scripted.example ESMTP\r\n").await?;
    let mut line = Vec::new();
    let mut in_data = false;
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let upper = String::from_utf8_lossy(&line).to_ascii_uppercase();
        let reply: &[u8] = if in_data {
            if line == b".\r\n" {
                in_data = false;
                b"250 queued\r\n"
            } else {
                continue;
            }
        } else if upper.starts_with("EHLO") {
            b"250-scripted.example\r\n250 STARTTLS\r\n"
        } else if upper.starts_with("DATA") {
            in_data = true;
            b"354 go on\r\n"
        } else if upper.starts_with("STARTTLS") {
            write.write_all(b"220 ready\r\n").await?;
            // No TLS here: wait for the client to give up.
            while lines.read_until(b'\n', &mut line).await? > 0 {}
            return Ok(());
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"250 ok\r\n"
        };
        write.write_all(reply).await?;
    }
}

/// A server on loopback: `one_at_a_time` serves connections in turn, otherwise each on its
/// own task. It runs until the test's runtime stops.
async fn scripted(one_at_a_time: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            if one_at_a_time {
                let _ = session(stream).await;
            } else {
                tokio::spawn(session(stream));
            }
        }
    });
    addr
}

fn short_options() -> RobustnessOptions {
    RobustnessOptions {
        case_cap: Duration::from_secs(2),
        max_connections: 6,
        greeting_bound: Duration::from_secs(1),
        probe_interval: Duration::from_millis(500),
        unfinished_data_octets: 256 << 10,
        ..RobustnessOptions::default()
    }
}

/// Every attack, each against its own server, all at once (the servers are independent).
async fn run_each(one_at_a_time: bool) -> Vec<RobustnessResult> {
    let mut runs = JoinSet::new();
    for (i, attack) in Attack::ALL.into_iter().enumerate() {
        runs.spawn(async move {
            let addr = scripted(one_at_a_time).await;
            let endpoint = Endpoint::resolve("127.0.0.1", addr.port(), false, None)
                .await
                .expect("loopback resolves");
            let mut ctx = Context::new(endpoint, short_options(), None);
            let results = ctx.run(&[attack], |_| Level::Should, |_| {}).await;
            (i, results)
        });
    }
    let mut all: Vec<(usize, Vec<RobustnessResult>)> = runs.join_all().await;
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().flat_map(|(_, r)| r).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_serving_one_connection_at_a_time_warns_with_the_figure() {
    for result in run_each(true).await {
        let figures = result.figures_inline();
        assert_eq!(result.verdict, Verdict::Warn, "{}: {figures}", result.id);
        let reason = result.reason.as_deref().unwrap_or_default();
        assert!(
            reason.contains("was not greeted") && reason.contains("127.0.0.2"),
            "{}: {reason}",
            result.id
        );
        let measured = result.measured.as_ref().expect("measured");
        assert!(
            measured.greeted < measured.probes,
            "{}: {figures}",
            result.id
        );
        assert!(measured.greeted_after_attack, "{}: {figures}", result.id);
        assert!(
            figures.contains("fresh clients from 127.0.0.2"),
            "{figures}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_connections_kept_open_while_others_are_served_pass() {
    for result in run_each(false).await {
        let figures = result.figures_inline();
        assert_eq!(result.verdict, Verdict::Pass, "{}: {figures}", result.id);
        let measured = result.measured.as_ref().expect("measured");
        assert_eq!(
            measured.greeted, measured.probes,
            "{}: {figures}",
            result.id
        );
        assert!(measured.open_at_cap > 0, "{}: {figures}", result.id);
        assert!(figures.contains("still open at the 2.0 s cap"), "{figures}");
    }
}

#[tokio::test]
async fn no_server_at_all_is_not_judged() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let endpoint = Endpoint::resolve("127.0.0.1", port, false, None)
        .await
        .expect("loopback resolves");
    let mut ctx = Context::new(endpoint, short_options(), None);
    let results = ctx
        .run(&[Attack::IdleConnections], |_| Level::Should, |_| {})
        .await;
    assert_eq!(results[0].verdict, Verdict::Skip);
    assert!(
        results[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("not greeted before the attack")),
        "{:?}",
        results[0].reason
    );
}

#[test]
fn every_case_cites_robust_requirements_that_exist_at_should_at_most() {
    let spec = crate::spec::Spec::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../SPEC.md"),
    )
    .expect("SPEC.md");
    for attack in Attack::ALL {
        let case = attack.case();
        for id in case.spec {
            let requirement = spec
                .get(id)
                .unwrap_or_else(|| panic!("{} cites {id}, not in SPEC.md", case.id));
            assert_ne!(requirement.level, crate::spec::SpecLevel::Must, "{id}");
        }
        assert_eq!(
            level(Some(&spec), case, false),
            Level::Should,
            "{}",
            case.id
        );
        assert_eq!(level(Some(&spec), case, true), Level::Should, "{}", case.id);
    }
}

/// SPEC.md's ROBUST rows: none above SHOULD, none a DESIGN choice (so they bind every
/// target alike, as WARN), and every one cited by a robustness case.
#[test]
fn no_robust_row_is_above_should() {
    let spec = crate::spec::Spec::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../SPEC.md"),
    )
    .unwrap();
    let robust: Vec<&crate::spec::Requirement> = spec
        .requirements
        .iter()
        .filter(|r| r.is_robustness())
        .collect();
    assert!(!robust.is_empty(), "SPEC.md has a ROBUST part");
    let cited: Vec<String> = citations().flat_map(|(_, ids)| ids).collect();
    for r in robust {
        assert!(
            matches!(
                r.level,
                crate::spec::SpecLevel::Should | crate::spec::SpecLevel::May
            ),
            "{} is {}: ROBUST rows are SHOULD at most",
            r.id,
            r.level
        );
        assert!(!r.is_design_only(), "{} is DESIGN only", r.id);
        assert!(cited.contains(&r.id), "no robustness case cites {}", r.id);
    }
}
