//! The service and memory oracles: a watcher running beside the fuzzer's sessions. Every
//! probe interval it sends a fresh client (from another loopback address where there is one,
//! [`mtpspec_runner::robustness::FreshClient`]) that must be greeted with 220 within a bound; a miss is
//! a finding with the time and the sessions open. For a local target whose PID is known it
//! samples the memory ([`mtpspec_runner::robustness::rss`]); growth past a bound is a finding.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use mtpspec_runner::robustness::rss::{RssFigure, RssSampler};
use mtpspec_runner::robustness::{FreshClient, Greeting, TargetProcess};

/// A fresh client must be greeted within `greeting_bound`, tried every `interval`.
#[derive(Clone, Debug)]
pub struct ServiceOracle {
    /// Connects the fresh clients (from another loopback address where there is one).
    pub fresh: FreshClient,
    /// The time between two fresh clients (`--service-interval`, default 1 s).
    pub interval: Duration,
    /// How soon a fresh client must get its 220 (`--greeting-timeout`, default 5 s).
    pub greeting_bound: Duration,
}

/// The target process's memory may grow by at most `growth_limit_kib`, sampled every
/// `interval`.
#[derive(Clone, Copy, Debug)]
pub struct MemoryOracle {
    /// The process (and its children) whose resident memory is read.
    pub process: TargetProcess,
    /// KiB the memory may grow over its level before the run (`--rss-growth-limit`, given
    /// in MiB, default 64 MiB).
    pub growth_limit_kib: u64,
    /// The time between two samples (the CLI uses 500 ms).
    pub interval: Duration,
}

/// The sessions running now (the fuzzer's, by index), shared with the watcher.
#[derive(Clone, Debug, Default)]
pub struct OpenSessions(Arc<Mutex<BTreeSet<u64>>>);

impl OpenSessions {
    /// Session `index` has started.
    pub fn open(&self, index: u64) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(index);
    }

    /// Session `index` has ended.
    pub fn close(&self, index: u64) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&index);
    }

    fn now(&self) -> Vec<u64> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .collect()
    }
}

/// A fresh client not greeted in time.
#[derive(Clone, Debug)]
pub struct ServiceLoss {
    /// From the start of the run.
    pub at: Duration,
    /// The fuzzer's sessions open before or after the probe, by index.
    pub sessions_open: Vec<u64>,
    /// What the fresh client got instead of a timely 220.
    pub what: String,
}

/// The memory passed its bound.
#[derive(Clone, Debug)]
pub struct MemoryGrowth {
    /// When it first did, from the start of the run.
    pub at: Duration,
    /// The fuzzer's sessions open at that sample, by index.
    pub sessions_open: Vec<u64>,
    /// Before the run, and the peak so far when it crossed the bound.
    pub figure: RssFigure,
    /// The bound it crossed, in KiB of growth.
    pub limit_kib: u64,
}

/// The most service losses kept in detail; the rest are counted.
const KEPT_LOSSES: usize = 10;

/// What the watcher saw over the run.
#[derive(Clone, Debug, Default)]
pub struct Watched {
    /// Where the fresh clients came from (`None`: the service oracle was off).
    pub fresh_from: Option<String>,
    /// Fresh clients sent.
    pub probes: u64,
    /// The first ten fresh clients not greeted in time, in detail.
    pub losses: Vec<ServiceLoss>,
    /// Every fresh client not greeted in time, those past the first ten included.
    pub loss_count: u64,
    /// The memory over the whole run (`None`: no process to read).
    pub memory: Option<RssFigure>,
    /// The first sample past the bound, if one was.
    pub growth: Option<MemoryGrowth>,
    /// The memory oracle's bound in KiB (`None`: the memory oracle was off).
    pub growth_limit_kib: Option<u64>,
}

impl Watched {
    /// Distinct findings: a loss of service, and memory growth.
    pub fn findings(&self) -> usize {
        usize::from(self.loss_count > 0) + usize::from(self.growth.is_some())
    }
}

/// The running watcher.
pub struct Watcher {
    stop: watch::Sender<bool>,
    task: JoinHandle<Watched>,
}

impl Watcher {
    /// Starts watching with the oracles given (either may be off); `open` names the
    /// sessions running at each probe, and times are measured from `clock`.
    pub fn start(
        service: Option<ServiceOracle>,
        memory: Option<MemoryOracle>,
        open: OpenSessions,
        clock: Instant,
    ) -> Watcher {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(watch_target(service, memory, open, clock, stopped));
        Watcher { stop, task }
    }

    /// Stops the watcher and returns what it saw.
    pub async fn finish(self) -> Watched {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}

async fn watch_target(
    service: Option<ServiceOracle>,
    memory: Option<MemoryOracle>,
    open: OpenSessions,
    clock: Instant,
    mut stopped: watch::Receiver<bool>,
) -> Watched {
    let mut sampler = memory.and_then(|m| RssSampler::start(m.process.pid, m.process.in_process));
    let mut watched = Watched {
        fresh_from: service.as_ref().map(|s| s.fresh.from()),
        growth_limit_kib: memory.map(|m| m.growth_limit_kib),
        ..Watched::default()
    };
    let mut next_probe = Instant::now();
    let mut next_sample = Instant::now();
    while !*stopped.borrow() {
        if let Some(s) = service.as_ref().filter(|_| Instant::now() >= next_probe) {
            probe(s, &open, clock, &mut watched).await;
            next_probe = Instant::now() + s.interval;
        }
        if let (Some(m), Some(sampler)) = (memory, sampler.as_mut())
            && Instant::now() >= next_sample
        {
            sample(m, sampler, &open, clock, &mut watched);
            next_sample = Instant::now() + m.interval;
        }
        tokio::select! {
            _ = stopped.changed() => {}
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    watched.memory = sampler.map(|s| s.figure());
    watched
}

async fn probe(oracle: &ServiceOracle, open: &OpenSessions, clock: Instant, watched: &mut Watched) {
    let sessions_before = open.now();
    let greeting = oracle.fresh.greet(oracle.greeting_bound).await;
    watched.probes += 1;
    if let Greeting::Missed(what) = greeting {
        watched.loss_count += 1;
        if watched.losses.len() < KEPT_LOSSES {
            let mut sessions_open = sessions_before;
            sessions_open.extend(open.now());
            sessions_open.sort_unstable();
            sessions_open.dedup();
            watched.losses.push(ServiceLoss {
                at: clock.elapsed(),
                sessions_open,
                what,
            });
        }
    }
}

fn sample(
    oracle: MemoryOracle,
    sampler: &mut RssSampler,
    open: &OpenSessions,
    clock: Instant,
    watched: &mut Watched,
) {
    sampler.sample();
    let figure = sampler.figure();
    if watched.growth.is_none() && figure.growth_kib() > oracle.growth_limit_kib {
        watched.growth = Some(MemoryGrowth {
            at: clock.elapsed(),
            sessions_open: open.now(),
            figure,
            limit_kib: oracle.growth_limit_kib,
        });
    }
}
