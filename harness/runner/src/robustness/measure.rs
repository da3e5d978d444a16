//! The measurement every robustness case shares: start the attacking connections, wait until
//! each has begun its stall (or was refused), then while they hold, send a fresh client
//! every probe interval and sample the target's memory, until the server has closed every
//! stalled connection or the case's cap is reached. Then stop the attack and check that the
//! server still greets a fresh client.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::RobustnessOptions;
use super::endpoint::{Endpoint, TargetProcess};
use super::fresh_client::{FreshClient, Greeting};
use super::rss::{RssFigure, RssSampler};

/// How one attacking connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// The server turned it away before the stall began (a 421 greeting, a refused connect,
    /// a close): legitimate at a limit.
    Refused(String),
    /// The target does not offer what the attack needs (no STARTTLS, a refused RCPT).
    NotApplicable(String),
    /// The server closed it this long after the stall began; `how` says what it sent.
    Closed {
        /// From the start of the stall to the close.
        after: Duration,
        /// The server's last reply, if any, and how the connection ended (`closed`, a read
        /// or write error).
        how: String,
    },
    /// Still open when the case stopped, after stalling this long.
    OpenAtCap {
        /// From the start of its stall (or, for a task that had to be aborted, of the case's
        /// stall phase) to the end of the case.
        held: Duration,
    },
}

/// What one attacking connection may use: the target, the options, and the case's stop signal.
pub struct Slot {
    /// The listener to attack.
    pub endpoint: Endpoint,
    /// The case's bounds (the greeting bound also limits each setup step's reply).
    pub options: RobustnessOptions,
    /// This connection's number among the case's attacking connections, from 0.
    pub index: usize,
    stop: watch::Receiver<bool>,
    began: AtomicBool,
    shared: Arc<Shared>,
}

/// Counters all slots of a case share.
#[derive(Default)]
struct Shared {
    /// Slots whose stall began or that ended before it.
    settled: AtomicUsize,
    /// Slots whose task has ended.
    ended: AtomicUsize,
    /// Octets the attackers sent.
    sent: AtomicU64,
}

impl Slot {
    /// The stall begins now: the setup is done, the server is in the state the attack wants.
    pub fn begin_stall(&self) -> Instant {
        if !self.began.swap(true, Ordering::SeqCst) {
            self.shared.settled.fetch_add(1, Ordering::SeqCst);
        }
        Instant::now()
    }

    /// Resolves once the case stops the attack.
    pub async fn stopped(&self) {
        let mut stop = self.stop.clone();
        let _ = stop.wait_for(|stopped| *stopped).await;
    }

    /// Adds `octets` to the octets the case's attackers sent (the `sent_octets` figure).
    pub fn count_sent(&self, octets: usize) {
        self.shared.sent.fetch_add(octets as u64, Ordering::Relaxed);
    }
}

/// Everything measured in one case.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// One per attacking connection, in the order they were opened.
    pub fates: Vec<Fate>,
    /// Fresh clients sent while the attack held: when (from the start of the stalls) and
    /// what each got.
    pub probes: Vec<(Duration, Greeting)>,
    /// The fresh client sent after the attack stopped.
    pub after: Greeting,
    /// Where the fresh clients connected from ([`FreshClient::from`]).
    pub fresh_from: String,
    /// The target's memory during the case; `None` without a readable process.
    pub rss: Option<RssFigure>,
    /// Octets the attacking connections sent, in all.
    pub sent_octets: u64,
    /// The most the attack was allowed to hold.
    pub cap: Duration,
}

/// Runs `connections` attacking connections of `attack` against `endpoint` and measures.
pub async fn under_attack<F, Fut>(
    endpoint: &Endpoint,
    options: &RobustnessOptions,
    process: Option<TargetProcess>,
    fresh: &FreshClient,
    connections: usize,
    attack: F,
) -> Measurement
where
    F: Fn(Arc<Slot>) -> Fut,
    Fut: Future<Output = Fate> + Send + 'static,
{
    let started = Instant::now();
    let mut rss = process.and_then(|p| RssSampler::start(p.pid, p.in_process));
    let shared = Arc::new(Shared::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::with_capacity(connections);
    for index in 0..connections.max(1) {
        let slot = Arc::new(Slot {
            endpoint: endpoint.clone(),
            options: options.clone(),
            index,
            stop: stop_rx.clone(),
            began: AtomicBool::new(false),
            shared: shared.clone(),
        });
        let run = attack(slot.clone());
        tasks.push(tokio::spawn(async move {
            let fate = run.await;
            if !slot.began.load(Ordering::SeqCst) {
                slot.shared.settled.fetch_add(1, Ordering::SeqCst);
            }
            slot.shared.ended.fetch_add(1, Ordering::SeqCst);
            fate
        }));
    }
    let total = tasks.len();
    let cap_at = started + options.case_cap;
    // The setup (connects, greetings, the commands before the stall) may take part of the cap.
    wait_until(cap_at, || shared.settled.load(Ordering::SeqCst) >= total).await;
    let stall_began = Instant::now();
    let mut probes = Vec::new();
    let mut next_sample = Instant::now();
    while Instant::now() < cap_at && shared.ended.load(Ordering::SeqCst) < total {
        let at = stall_began.elapsed();
        let greeting = fresh.greet(options.greeting_bound).await;
        probes.push((at, greeting));
        let next_probe = (Instant::now() + options.probe_interval).min(cap_at);
        while Instant::now() < next_probe && shared.ended.load(Ordering::SeqCst) < total {
            if let Some(sampler) = rss.as_mut().filter(|_| Instant::now() >= next_sample) {
                sampler.sample();
                next_sample = Instant::now() + Duration::from_millis(250);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    if let Some(sampler) = rss.as_mut() {
        sampler.sample();
    }
    let _ = stop_tx.send(true);
    let mut fates = Vec::with_capacity(total);
    for task in tasks {
        let abort = task.abort_handle();
        fates.push(
            match tokio::time::timeout(Duration::from_secs(5), task).await {
                Ok(Ok(fate)) => fate,
                Ok(Err(e)) => Fate::Refused(format!("the attacking task failed: {e}")),
                Err(_) => {
                    abort.abort();
                    Fate::OpenAtCap {
                        held: stall_began.elapsed(),
                    }
                }
            },
        );
    }
    let after = greeted_after(fresh, options.greeting_bound).await;
    Measurement {
        fates,
        probes,
        after,
        fresh_from: fresh.from(),
        rss: rss.map(|s| s.figure()),
        sent_octets: shared.sent.load(Ordering::Relaxed),
        cap: options.case_cap,
    }
}

/// A fresh client once the attack has stopped, given a second chance a second later (the
/// server may still be tidying up the attackers' connections).
async fn greeted_after(fresh: &FreshClient, bound: Duration) -> Greeting {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let first = fresh.greet(bound).await;
    if first.is_greeted() {
        return first;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    fresh.greet(bound).await
}

/// Polls `done` every 50 ms until it holds or `deadline` passes.
async fn wait_until(deadline: Instant, done: impl Fn() -> bool) {
    while !done() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
