//! Idle connections (`mtpspec load --idle N --hold SECS`): opens N connections, waits for each
//! one's first line (the SMTP greeting or the MMTP welcome, so the server has set the session
//! up), reports how many are open, then holds them without a word for SECS and drops them. The
//! bench script measures the server's memory while they are held.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// Connections being opened at the same time (a listen backlog is usually 128 or more).
const CONCURRENT_OPENS: usize = 64;

/// How the idle connections went.
#[derive(Debug, Default)]
pub struct IdleReport {
    /// Connections that got their first line.
    pub greeted: usize,
    /// Connections refused, closed or silent for `greeting_timeout`.
    pub failed: usize,
    /// How long opening them all took.
    pub opening: Duration,
}

/// Opens `count` connections; `ready` is called once every attempt has ended, then the open
/// ones are held for `hold`.
pub async fn run(
    target: SocketAddr,
    count: usize,
    greeting_timeout: Duration,
    hold: Duration,
    ready: impl FnOnce(&IdleReport),
) -> IdleReport {
    let started = Instant::now();
    let mut report = IdleReport::default();
    let mut open = Vec::with_capacity(count);
    let mut pending = JoinSet::new();
    for i in 0..count {
        if pending.len() >= CONCURRENT_OPENS {
            settle(pending.join_next().await, &mut open, &mut report);
        }
        // Spread the connects a little so a small listen backlog is not overrun at once.
        if i % CONCURRENT_OPENS == 0 {
            tokio::task::yield_now().await;
        }
        pending.spawn(open_one(target, greeting_timeout));
    }
    while let Some(done) = pending.join_next().await {
        settle(Some(done), &mut open, &mut report);
    }
    report.opening = started.elapsed();
    ready(&report);
    tokio::time::sleep(hold).await;
    drop(open);
    report
}

fn settle(
    done: Option<Result<Option<TcpStream>, tokio::task::JoinError>>,
    open: &mut Vec<TcpStream>,
    report: &mut IdleReport,
) {
    match done {
        Some(Ok(Some(stream))) => {
            open.push(stream);
            report.greeted += 1;
        }
        Some(_) => report.failed += 1,
        None => {}
    }
}

/// A connection that has received its first line-ending LF, or `None`.
async fn open_one(target: SocketAddr, timeout: Duration) -> Option<TcpStream> {
    let attempt = async {
        let mut stream = TcpStream::connect(target).await.ok()?;
        let mut buf = [0u8; 512];
        // A greeting is one line (SMTP may send several continuation lines; one is enough).
        loop {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            if buf[..n].contains(&b'\n') {
                return Some(stream);
            }
        }
    };
    tokio::time::timeout(timeout, attempt).await.ok().flatten()
}
