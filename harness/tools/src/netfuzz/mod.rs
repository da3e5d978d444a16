//! Network fuzzing of a live SMTP server (`mtpspec fuzz`): seeded sessions from a grammar of
//! SMTP and VMTP commands ([`grammar`]), mutated ([`mutate`]), pipelined and cut into odd
//! writes; each run on its own connection ([`driver`]) under oracles ([`oracle`]) for hangs,
//! desynchronization, malformed replies and unexpected closes, and followed by a liveness probe
//! ([`probe`]) that catches a crash. Beside the sessions, a watcher ([`service`]) sends fresh
//! clients that must be greeted in time (a server that stops serving new clients while
//! sessions are open) and samples a local target's memory (growth past a bound). A finding is
//! deduplicated by its [`Signature`], minimized by delta debugging against the target
//! ([`minimize`]) and written as a replayable scenario ([`replay`]) and a Markdown report
//! ([`report`]).
//!
//! Same seed, same sessions: session `i` depends only on the seed, `i` and what the target
//! advertised, never on the clock.

mod conn;
pub mod driver;
pub mod grammar;
pub mod minimize;
pub mod mutate;
pub mod oracle;
pub mod probe;
pub mod render;
pub mod replay;
pub mod report;
pub mod service;
#[cfg(test)]
mod service_tests;
pub mod session;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

pub use driver::{Outcome, Timing};
pub use grammar::Grammar;
pub use minimize::{Minimized, Signature};
pub use oracle::Kind;
pub use service::{MemoryOracle, ServiceOracle, Watched};
pub use session::Session;

use mtpspec_runner::target::Target;

/// What to run and for how long.
#[derive(Clone, Debug)]
pub struct FuzzOptions {
    /// The seed: the same seed sends the same sessions (default 0).
    pub seed: u64,
    /// Stop starting sessions after this long (default 60 s; minimization may run past it,
    /// within budget).
    pub duration: Duration,
    /// Stop after this many sessions (default: no limit).
    pub max_sessions: Option<u64>,
    /// Each session's timeouts (default: 5 s to connect, 5 s per reply owed, 30 ms of
    /// listening for a reply to nothing).
    pub timing: Timing,
    /// Time allowed to minimize one finding (default 60 s).
    pub minimize_budget: Duration,
    /// Distinct findings minimized (default 20); later distinct ones are counted only.
    pub max_findings: usize,
    /// Probability that a command line is mutated (0 to 1, default 0.3).
    pub mutation_rate: f64,
    /// A domain the target delivers locally (default: the target's own, else example.test).
    pub domain: Option<String>,
    /// Fresh clients while sessions are open (`None`: off).
    pub service: Option<ServiceOracle>,
    /// The target process's memory (`None`: off).
    pub memory: Option<MemoryOracle>,
}

impl Default for FuzzOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            duration: Duration::from_secs(60),
            max_sessions: None,
            timing: Timing {
                connect: Duration::from_secs(5),
                reply: Duration::from_secs(5),
                settle: Duration::from_millis(30),
            },
            minimize_budget: Duration::from_secs(60),
            max_findings: 20,
            mutation_rate: 0.3,
            domain: None,
            service: None,
            memory: None,
        }
    }
}

/// One distinct finding.
pub struct Finding {
    /// What the minimized session still holds ([`Signature::residue`]): the finding's name.
    pub key: Signature,
    /// The signatures seen at detection that minimized to this key.
    pub signatures: Vec<Signature>,
    /// The first occurrence's description.
    pub detail: String,
    /// The index of the session that first showed it (with the run's seed,
    /// `Grammar::session` regenerates it).
    pub first_session: u64,
    /// Sessions that showed this signature.
    pub occurrences: u64,
    /// That first session, as generated.
    pub original: Session,
    /// The result of minimizing it (for a crash, the original itself: a live target
    /// cannot be restarted to minimize).
    pub minimized: Minimized,
}

/// Where the run stands, for a progress line.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// Sessions run so far.
    pub sessions: u64,
    /// Command lines and bodies sent so far.
    pub commands: u64,
    /// Distinct findings so far, of every oracle.
    pub findings: usize,
    /// Time since the first session started.
    pub elapsed: Duration,
    /// What the fuzzer is doing now (`fuzzing`, `minimizing hang`).
    pub activity: String,
}

/// A whole run.
pub struct FuzzRun {
    /// The target's name (`smtp://HOST:PORT`, `exec:COMMAND`, `embedded reference`).
    pub target: String,
    /// A short name for case ids and file names (default: from `target`).
    pub label: Option<String>,
    /// The options it ran with.
    pub options: FuzzOptions,
    /// When it started (wall clock).
    pub started: SystemTime,
    /// How long it took, minimization included.
    pub elapsed: Duration,
    /// Sessions run.
    pub sessions: u64,
    /// Command lines and bodies sent, over all sessions (not counting minimization's runs).
    pub commands: u64,
    /// The EHLO keywords the target advertised.
    pub keywords: Vec<String>,
    /// The distinct findings minimized, in the order found.
    pub findings: Vec<Finding>,
    /// Distinct signatures past `max_findings`: counted, not minimized.
    pub unminimized: BTreeMap<Signature, u64>,
    /// Sessions the server ended with 421, or that ended for another legitimate reason.
    pub ended_early: u64,
    /// Sessions that could not connect although the probe then succeeded.
    pub connect_errors: u64,
    /// Why the run stopped before its duration, if it did (a crash).
    pub stopped: Option<String>,
    /// What the service and memory oracles saw.
    pub watched: Watched,
}

impl FuzzRun {
    /// Distinct findings of every oracle: minimized, counted only, service and memory.
    pub fn distinct_findings(&self) -> usize {
        self.findings.len() + self.unminimized.len() + self.watched.findings()
    }
}

/// Why a run could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum FuzzError {
    /// The liveness probe failed before any session.
    Unreachable {
        /// The target's name.
        target: String,
        /// Why the last of three probes failed.
        reason: String,
    },
}

impl std::fmt::Display for FuzzError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable { target, reason } => {
                write!(f, "{target} does not answer the liveness probe: {reason}")
            }
        }
    }
}

impl std::error::Error for FuzzError {}

/// Fuzzes `target`; `progress` is called after every session and when minimizing starts.
pub async fn run(
    target: &dyn Target,
    options: FuzzOptions,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<FuzzRun, FuzzError> {
    let keywords = probe::probe_retrying(target, &options.timing, 3)
        .await
        .map_err(|reason| FuzzError::Unreachable {
            target: target.name(),
            reason,
        })?;
    let has = |k: &str| keywords.iter().any(|w| w == k);
    let grammar = Grammar {
        domain: options
            .domain
            .clone()
            .or_else(|| target.domain())
            .unwrap_or_else(|| "example.test".into()),
        pipelining: has("PIPELINING"),
        chunking: has("CHUNKING"),
        starttls: has("STARTTLS"),
        mutation_rate: options.mutation_rate,
    };
    let chunking = grammar.chunking;
    let clock = Instant::now();
    let mut run = FuzzRun {
        target: target.name(),
        label: None,
        started: SystemTime::now(),
        elapsed: Duration::ZERO,
        sessions: 0,
        commands: 0,
        keywords,
        findings: Vec::new(),
        unminimized: BTreeMap::new(),
        ended_early: 0,
        connect_errors: 0,
        stopped: None,
        watched: Watched::default(),
        options,
    };
    let open = service::OpenSessions::default();
    let watcher = service::Watcher::start(
        run.options.service.clone(),
        run.options.memory,
        open.clone(),
        clock,
    );
    let mut index = 0u64;
    while clock.elapsed() < run.options.duration
        && run.options.max_sessions.is_none_or(|max| index < max)
    {
        let session = grammar.session(run.options.seed, index);
        open.open(index);
        let outcome = driver::run(target, &session, &run.options.timing, chunking).await;
        open.close(index);
        run.sessions += 1;
        run.commands += outcome.commands;
        if outcome.connect_error.is_some() {
            run.connect_errors += 1;
        }
        if outcome.anomaly.is_none() && outcome.ended.is_some() {
            run.ended_early += 1;
        }
        let outcome = if outcome
            .anomaly
            .as_ref()
            .is_some_and(|a| a.kind == Kind::ExtraReply)
        {
            confirm(target, &session, &run.options.timing, chunking, outcome).await
        } else {
            outcome
        };
        if let Some(signature) = Signature::of(&session, &outcome) {
            record(
                &mut run,
                target,
                chunking,
                index,
                session.clone(),
                outcome.clone(),
                signature,
                &clock,
                progress,
            )
            .await;
        }
        if let Err(reason) = probe::probe_retrying(target, &run.options.timing, 3).await {
            crashed(&mut run, index, session, outcome, reason);
            break;
        }
        index += 1;
        progress(&snapshot(&run, &clock, "fuzzing"));
    }
    run.watched = watcher.finish().await;
    run.elapsed = clock.elapsed();
    Ok(run)
}

#[allow(clippy::too_many_arguments)]
async fn record(
    run: &mut FuzzRun,
    target: &dyn Target,
    chunking: bool,
    index: u64,
    session: Session,
    outcome: Outcome,
    signature: Signature,
    clock: &Instant,
    progress: &mut (dyn FnMut(&Progress) + Send),
) {
    // A known finding whose minimized cause is present again is the same finding.
    let present = Signature::residue(&session, &outcome).unwrap_or_else(|| signature.clone());
    if let Some(f) = run
        .findings
        .iter_mut()
        .find(|f| f.key.kind == present.kind && f.key.tags.iter().all(|t| present.tags.contains(t)))
    {
        f.occurrences += 1;
        if !f.signatures.contains(&signature) {
            f.signatures.push(signature);
        }
        return;
    }
    if run.findings.len() >= run.options.max_findings {
        *run.unminimized.entry(signature).or_default() += 1;
        return;
    }
    progress(&snapshot(run, clock, &format!("minimizing {signature}")));
    let detail = outcome
        .anomaly
        .as_ref()
        .map_or_else(String::new, |a| a.detail.clone());
    let deadline = Instant::now() + run.options.minimize_budget;
    let timing = if signature.kind == Kind::ExtraReply {
        careful(&run.options.timing)
    } else {
        run.options.timing.clone()
    };
    let minimizer =
        minimize::Minimizer::new(target, &timing, chunking, signature.clone(), deadline);
    let minimized = minimizer.run(session.clone(), outcome).await;
    let key = Signature::residue(&minimized.session, &minimized.outcome)
        .unwrap_or_else(|| signature.clone());
    if let Some(f) = run.findings.iter_mut().find(|f| f.key == key) {
        // Another detection signature that minimized to a finding already known.
        f.signatures.push(signature);
        f.occurrences += 1;
        return;
    }
    run.findings.push(Finding {
        key,
        signatures: vec![signature],
        detail,
        first_session: index,
        occurrences: 1,
        original: session,
        minimized,
    });
}

/// Timing for telling which operation a reply for nothing belongs to: a reply that comes late
/// shows only after the next operation, so listen longer.
fn careful(timing: &Timing) -> Timing {
    Timing {
        settle: (timing.settle * 5).max(Duration::from_millis(150)),
        ..timing.clone()
    }
}

/// Re-runs a session that showed a reply for nothing with [`careful`] timing, so that the
/// finding is pinned on the operation that caused it; the first run stands if the second
/// shows no such reply.
async fn confirm(
    target: &dyn Target,
    session: &Session,
    timing: &Timing,
    chunking: bool,
    first: Outcome,
) -> Outcome {
    let again = driver::run(target, session, &careful(timing), chunking).await;
    if again
        .anomaly
        .as_ref()
        .is_some_and(|a| a.kind == Kind::ExtraReply)
    {
        again
    } else {
        first
    }
}

/// The port stopped answering after session `index`: a crash, kept as it was sent (a live
/// target cannot be restarted to minimize it).
fn crashed(run: &mut FuzzRun, index: u64, session: Session, mut outcome: Outcome, reason: String) {
    outcome.anomaly = Some(driver::Anomaly {
        kind: Kind::Crash,
        op: None,
        detail: format!("after session {index}, the liveness probe failed 3 times: {reason}"),
    });
    run.stopped = Some(format!(
        "the target stopped answering after session {index}"
    ));
    run.findings.push(Finding {
        key: Signature {
            kind: Kind::Crash,
            tags: Vec::new(),
        },
        signatures: Vec::new(),
        detail: format!("the liveness probe failed after session {index}: {reason}"),
        first_session: index,
        occurrences: 1,
        original: session.clone(),
        minimized: Minimized {
            session,
            outcome,
            runs: 0,
            reproduced: false,
            exhausted: false,
        },
    });
}

fn snapshot(run: &FuzzRun, clock: &Instant, activity: &str) -> Progress {
    Progress {
        sessions: run.sessions,
        commands: run.commands,
        findings: run.distinct_findings(),
        elapsed: clock.elapsed(),
        activity: activity.to_string(),
    }
}
