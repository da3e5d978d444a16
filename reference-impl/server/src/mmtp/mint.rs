//! HashCash minting spread over threads, with progress, cancellation and a time limit.
//!
//! Seed §9.2: clients SHOULD "Implement a reasonable HashCash computation timeout". The search
//! is the core's pure [`mint`] over counter ranges: threads take chunks of counters in
//! increasing order and keep searching the chunks below the best hit, so the result is the
//! lowest valid counter, the same one a single thread finds.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mtp_proto::mmtp::hashcash::{Stamp, mint};

/// Counters per chunk: small enough to notice cancellation within milliseconds.
const CHUNK: u64 = 1 << 14;

/// How to run a search.
#[derive(Clone, Debug)]
pub struct MintOptions {
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Give up with [`MintError::TimedOut`] after this long; `None` searches until found or
    /// cancelled.
    pub timeout: Option<Duration>,
    /// How often `progress` is called.
    pub progress_every: Duration,
}

impl Default for MintOptions {
    fn default() -> Self {
        Self {
            threads: 0,
            timeout: None,
            progress_every: Duration::from_millis(200),
        }
    }
}

/// Where a search stands, for a progress indicator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Counters tried so far, over every thread.
    pub tries: u64,
    /// Time since the search started.
    pub elapsed: Duration,
    /// 16^difficulty: the mean number of tries needed.
    pub expected: f64,
}

/// Why a search found no counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MintError {
    /// The caller's cancel flag was set (Ctrl-C on the command line).
    Cancelled,
    /// [`MintOptions::timeout`] passed first.
    TimedOut {
        /// Counters tried before giving up, over every thread.
        tries: u64,
    },
    /// Every counter up to `u64::MAX` was tried (difficulty far too high).
    Exhausted,
}

impl fmt::Display for MintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cancelled => f.write_str("HashCash minting was cancelled"),
            Self::TimedOut { tries } => write!(f, "HashCash minting timed out after {tries} tries"),
            Self::Exhausted => f.write_str("no HashCash counter meets the difficulty"),
        }
    }
}

impl std::error::Error for MintError {}

/// What the workers share.
struct Search<'a> {
    stamp: &'a Stamp,
    next_chunk: AtomicU64,
    best: AtomicU64,
    tries: AtomicU64,
    stop: AtomicBool,
    cancel: &'a AtomicBool,
}

impl Search<'_> {
    fn work(&self) {
        loop {
            if self.stop.load(Ordering::Relaxed) || self.cancel.load(Ordering::Relaxed) {
                return;
            }
            let chunk = self.next_chunk.fetch_add(1, Ordering::Relaxed);
            let Some(start) = chunk.checked_mul(CHUNK) else {
                return;
            };
            // Chunks above the best hit cannot improve it.
            if start >= self.best.load(Ordering::Relaxed) {
                return;
            }
            let end = start.saturating_add(CHUNK);
            let found = mint(self.stamp, start..end);
            self.tries.fetch_add(end - start, Ordering::Relaxed);
            if let Some(counter) = found {
                self.best.fetch_min(counter, Ordering::Relaxed);
            }
            if end == u64::MAX {
                return;
            }
        }
    }
}

/// Finds the lowest counter for `stamp`, blocking the calling thread; `progress` is called
/// from it while the workers search. Setting `cancel` stops the search.
pub fn mint_parallel(
    stamp: &Stamp,
    options: &MintOptions,
    cancel: &AtomicBool,
    mut progress: impl FnMut(Progress),
) -> Result<u64, MintError> {
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let search = Search {
        stamp,
        next_chunk: AtomicU64::new(0),
        best: AtomicU64::new(u64::MAX),
        tries: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        cancel,
    };
    let started = Instant::now();
    let expected = 16f64.powi(stamp.difficulty.min(64) as i32);
    let mut timed_out = false;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| search.work()))
            .collect();
        let tick = options.progress_every.min(Duration::from_millis(10));
        let mut reported = Duration::ZERO;
        while workers.iter().any(|w| !w.is_finished()) {
            std::thread::sleep(tick);
            let elapsed = started.elapsed();
            if options.timeout.is_some_and(|t| elapsed >= t) {
                timed_out = true;
                search.stop.store(true, Ordering::Relaxed);
            }
            if elapsed - reported >= options.progress_every {
                reported = elapsed;
                progress(Progress {
                    tries: search.tries.load(Ordering::Relaxed),
                    elapsed,
                    expected,
                });
            }
        }
    });
    let best = search.best.load(Ordering::Relaxed);
    match best {
        u64::MAX if cancel.load(Ordering::Relaxed) => Err(MintError::Cancelled),
        u64::MAX if timed_out => Err(MintError::TimedOut {
            tries: search.tries.load(Ordering::Relaxed),
        }),
        u64::MAX => Err(MintError::Exhausted),
        counter => Ok(counter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(difficulty: u32) -> Stamp {
        Stamp {
            difficulty,
            timestamp_ms: 1_625_849_600_000,
            sender: "(alice)%(example.com)".into(),
            recipient: "(bob)%(example.com)".into(),
        }
    }

    #[test]
    fn finds_the_lowest_counter_on_any_number_of_threads() {
        for threads in [1, 3] {
            let options = MintOptions {
                threads,
                ..MintOptions::default()
            };
            let counter = mint_parallel(&stamp(4), &options, &AtomicBool::new(false), |_| {});
            assert_eq!(counter, Ok(28383));
        }
    }

    #[test]
    fn cancels_and_times_out() {
        let cancel = AtomicBool::new(true);
        let result = mint_parallel(&stamp(20), &MintOptions::default(), &cancel, |_| {});
        assert_eq!(result, Err(MintError::Cancelled));
        let options = MintOptions {
            threads: 2,
            timeout: Some(Duration::from_millis(100)),
            progress_every: Duration::from_millis(10),
        };
        let mut calls = 0;
        let result = mint_parallel(&stamp(20), &options, &AtomicBool::new(false), |p| {
            calls += 1;
            assert_eq!(p.expected, 16f64.powi(20));
        });
        assert!(matches!(result, Err(MintError::TimedOut { tries }) if tries > 0));
        assert!(calls > 0);
    }
}
