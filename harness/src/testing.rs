//! A blocking façade for test suites: start or reach a target once, probe it, then run cases
//! from ordinary `#[test]` functions or one libtest-mimic trial per case.
//!
//! ```no_run
//! use mtpspec::testing::Conformance;
//!
//! let suite = Conformance::start("smtp://127.0.0.1:2525").expect("target reachable");
//! let cases = mtpspec::scenario::load_paths(&["scenarios/smtp".into()]).expect("scenarios load");
//! for case in &cases {
//!     suite.check(case).unwrap_or_else(|failure| panic!("{failure}"));
//! }
//! ```
//!
//! Owns a tokio runtime: create and drop it outside any async context.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::report::{ReportInput, RunReport, transcript};
use crate::runner::{Capabilities, CaseResult, RunOptions, Runner, Verdict};
use crate::scenario::Case;
use crate::target::{Listener, Observer, Target, TargetError, TargetSpec};

/// A probed target and the runtime its cases run on.
pub struct Conformance {
    // Dropped before the runtime: an embedded server's tasks live on it.
    runner: Runner,
    caps: Capabilities,
    runtime: tokio::runtime::Runtime,
}

impl Conformance {
    /// Opens `target` (`embedded`, `smtp://host:port`, `smtps://...`, `exec:...`) with default
    /// options (the target's own domain, when it knows it) and probes it.
    pub fn start(target: &str) -> Result<Self, TargetError> {
        Self::open(target, |options, target| {
            if let Some(domain) = target.domain() {
                options.vars.domain = domain;
            }
            options.vars.auth = target.credentials();
            None
        })
    }

    /// Opens `target`; `configure` sees it and the default options, may change them, and may
    /// return a mailbox observer (otherwise the target's own is used, if any).
    pub fn open(
        target: &str,
        configure: impl FnOnce(&mut RunOptions, &dyn Target) -> Option<Arc<dyn Observer>>,
    ) -> Result<Self, TargetError> {
        Self::open_with_listeners(target, &[], configure)
    }

    /// [`Conformance::open`], with more listeners of the target (`run --submission`,
    /// `--smtps`, `--mmtp`, `--mmtps`, `--http`, `--listener NAME=`), each at `HOST:PORT`.
    pub fn open_with_listeners(
        target: &str,
        listeners: &[(Listener, String)],
        configure: impl FnOnce(&mut RunOptions, &dyn Target) -> Option<Arc<dyn Observer>>,
    ) -> Result<Self, TargetError> {
        let spec: TargetSpec = target.parse()?;
        let runtime = runtime()?;
        let target = runtime.block_on(crate::target::open(&spec))?;
        let target = crate::target::with_listeners(target, listeners)?;
        let mut options = RunOptions::default();
        let observer = configure(&mut options, target.as_ref());
        Self::with_runtime(runtime, target, options, observer)
    }

    /// Your own target (say, your server started in-process) and options; `observer` lets
    /// delivery checks see its mailbox.
    pub fn new(
        target: Arc<dyn Target>,
        options: RunOptions,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<Self, TargetError> {
        Self::with_runtime(runtime()?, target, options, observer)
    }

    fn with_runtime(
        runtime: tokio::runtime::Runtime,
        target: Arc<dyn Target>,
        options: RunOptions,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<Self, TargetError> {
        let observer = observer.or_else(|| target.observer());
        let runner = Runner::new(target, options).with_observer(observer);
        let caps = runtime.block_on(runner.probe())?;
        Ok(Self {
            runner,
            caps,
            runtime,
        })
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Whether the target is mtpspec's own reference.
    pub fn is_reference(&self) -> bool {
        self.runner.target().is_reference()
    }

    /// Why `case` cannot run on this target at all (a listener it lacks, an extension it does
    /// not advertise), known from the probe without a connection.
    pub fn not_applicable(&self, case: &Case) -> Option<String> {
        self.runner.not_applicable(case, &self.caps)
    }

    pub fn run_case(&self, case: &Case) -> CaseResult {
        self.runtime
            .block_on(self.runner.run_case(case, &self.caps))
    }

    /// Runs `case`; PASS, UNSUPPORTED and SKIP are `Ok`, FAIL, WARN and ERROR an `Err` with the
    /// reason and the transcript.
    pub fn check(&self, case: &Case) -> Result<CaseResult, String> {
        Self::judge(self.run_case(case))
    }

    /// [`Conformance::check`] for a result already in hand.
    pub fn judge(result: CaseResult) -> Result<CaseResult, String> {
        match result.verdict {
            Verdict::Pass | Verdict::Unsupported | Verdict::Skip => Ok(result),
            verdict => Err(format!(
                "{verdict} {}: {}\n{}",
                result.id,
                result.reason.as_deref().unwrap_or(""),
                transcript::render(&result.wire, true)
            )),
        }
    }

    /// Runs all `cases` in parallel and reports them.
    pub fn run(&self, cases: &[Case]) -> RunReport {
        let started = SystemTime::now();
        let clock = Instant::now();
        let results = self
            .runtime
            .block_on(self.runner.run_all(cases, &self.caps, |_| {}));
        RunReport::new(ReportInput {
            target: self.runner.target().name(),
            address: self.runner.target().name(),
            started,
            duration: clock.elapsed(),
            strict: false,
            capabilities: self.caps.clone(),
            cases: results,
            spec: None,
            stale_baseline: Vec::new(),
            remedies: Default::default(),
        })
    }

    /// Stops what the target started (the embedded server) and drops everything.
    pub fn shutdown(self) {
        self.runtime.block_on(self.runner.target().shutdown());
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, TargetError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(TargetError::Runtime)
}
