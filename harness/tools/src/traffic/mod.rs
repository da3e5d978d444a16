//! The traffic generator behind `mtpspec load`: N concurrent SMTP sessions delivering M messages,
//! with or without PIPELINING, connection reuse and STARTTLS, measuring per-phase latency and
//! counting failures by reply code. Like Postfix's smtp-source, with elapsed time and
//! percentiles. Also: MMTP SEND/RECEIVE round trips ([`mmtp`]) and idle connections held open
//! for memory measurements ([`idle`]).

mod conn;
pub mod idle;
pub mod mmtp;
mod payload;
mod session;
mod stats;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mtp_server::client::tls::{Verify, client_config};
use rustls::ClientConfig;

pub use stats::{LoadReport, Phase};

/// What to send and how.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// The SMTP server's address.
    pub target: SocketAddr,
    /// Concurrent sessions, each a worker with its own connection (0 counts as 1).
    pub sessions: usize,
    /// Messages in total, across all sessions.
    pub messages: u64,
    /// Recipients per message, `loadN@recipient_domain` (0 counts as 1).
    pub recipients: usize,
    /// Approximate message size in octets, headers included: filler lines are added while
    /// they fit (never less than the headers, about 100 octets).
    pub size: usize,
    /// Send MAIL, RCPT and DATA in one write (RFC 2920); with `reuse` and no `rate`, also
    /// each message's content with the next envelope, one round trip per message.
    pub pipelining: bool,
    /// Keep a connection for many messages instead of one connection per message.
    pub reuse: bool,
    /// STARTTLS after EHLO (any certificate accepted: load targets are test servers).
    pub starttls: bool,
    /// The reverse-path of every message (`MAIL FROM:<sender>`).
    pub sender: String,
    /// The domain of the recipients' addresses.
    pub recipient_domain: String,
    /// Messages per second across all sessions (None: as fast as possible).
    pub rate: Option<f64>,
    /// Stop taking new messages after this long, even if `messages` are not all sent
    /// (None: run until they are).
    pub duration: Option<Duration>,
}

/// What all workers of one run share.
struct Shared {
    options: LoadOptions,
    tls: Option<Arc<ClientConfig>>,
    /// The next message number to take.
    next: AtomicU64,
    /// Messages delivered so far (for the progress line).
    done: AtomicU64,
    started: Instant,
}

/// Why a run could not start.
#[derive(Debug)]
pub struct SetupError(String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

/// Runs the load and returns the measurements. `progress` is called about every 250 ms.
pub async fn run(
    options: LoadOptions,
    progress: impl Fn(u64, u64) + Send + Sync + 'static,
) -> Result<LoadReport, SetupError> {
    let tls = if options.starttls {
        Some(client_config(&Verify::Insecure).map_err(|e| SetupError(format!("TLS: {e}")))?)
    } else {
        None
    };
    let sessions = options.sessions.max(1);
    let total = options.messages;
    let shared = Arc::new(Shared {
        options,
        tls,
        next: AtomicU64::new(0),
        done: AtomicU64::new(0),
        started: Instant::now(),
    });
    let watched = shared.clone();
    let ticker = spawn_ticker(move || (shared_done(&watched), total), progress);
    let tasks: Vec<_> = (0..sessions)
        .map(|_| tokio::spawn(session::worker(shared.clone())))
        .collect();
    let report = collect(tasks, shared.started).await;
    ticker.abort();
    Ok(report)
}

fn shared_done(shared: &Shared) -> u64 {
    shared.done.load(Ordering::Relaxed)
}

/// Calls `progress(now())` every 250 ms until aborted.
fn spawn_ticker(
    now: impl Fn() -> (u64, u64) + Send + 'static,
    progress: impl Fn(u64, u64) + Send + Sync + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let (done, total) = now();
            progress(done, total);
        }
    })
}

/// Waits for every worker and merges their reports.
async fn collect(tasks: Vec<tokio::task::JoinHandle<LoadReport>>, started: Instant) -> LoadReport {
    let mut report = LoadReport::default();
    for task in tasks {
        match task.await {
            Ok(partial) => report.merge(partial),
            Err(e) => report.error(format!("worker failed: {e}")),
        }
    }
    report.elapsed = started.elapsed();
    report
}
