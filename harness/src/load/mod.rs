//! The load generator behind `mtpspec load`: N concurrent SMTP sessions delivering M messages,
//! with or without PIPELINING and connection reuse, measuring per-phase latency and counting
//! failures by reply code. Like Postfix's smtp-source, with elapsed time and percentiles.

mod session;
mod stats;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use stats::{LoadReport, Phase};

/// What to send and how.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    pub target: SocketAddr,
    pub sessions: usize,
    pub messages: u64,
    pub recipients: usize,
    pub size: usize,
    pub pipelining: bool,
    /// Keep a connection for many messages instead of one connection per message.
    pub reuse: bool,
    pub sender: String,
    pub recipient_domain: String,
    /// Messages per second across all sessions (None: as fast as possible).
    pub rate: Option<f64>,
    pub duration: Option<Duration>,
}

/// Runs the load and returns the measurements. `progress` is called about every 250 ms.
pub async fn run(
    options: LoadOptions,
    progress: impl Fn(u64, u64) + Send + Sync + 'static,
) -> LoadReport {
    let options = Arc::new(options);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let ticker = {
        let done = done.clone();
        let total = options.messages;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                progress(done.load(Ordering::Relaxed), total);
            }
        })
    };
    let tasks: Vec<_> = (0..options.sessions.max(1))
        .map(|_| {
            tokio::spawn(session::worker(
                options.clone(),
                next.clone(),
                done.clone(),
                started,
            ))
        })
        .collect();
    let mut report = LoadReport::default();
    for task in tasks {
        match task.await {
            Ok(partial) => report.merge(partial),
            Err(e) => report.error(format!("worker failed: {e}")),
        }
    }
    ticker.abort();
    report.elapsed = started.elapsed();
    report
}

/// A message of about `size` octets with a unique Message-ID.
pub fn message(n: u64, size: usize, sender: &str) -> Vec<u8> {
    let mut out = format!("From: <{sender}>\r\nSubject: mtpspec load {n}\r\nMessage-ID: <load-{n}@mtpspec.test>\r\n\r\n").into_bytes();
    let line = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi\r\n";
    while out.len() + line.len() <= size.max(out.len() + line.len()) && out.len() < size {
        out.extend_from_slice(line);
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}
