//! A blocking façade over [`crate::suite`] for test suites: open a target once, probe it, then
//! run cases from ordinary `#[test]` functions or one libtest-mimic trial per case, with the
//! verdicts, baseline handling and gate of `mtpspec run`.
//! (Re-exported as `mtpspec::testing`.)
//!
//! ```no_run
//! use mtpspec_runner::testing::Conformance;
//!
//! let suite = Conformance::start("smtp://127.0.0.1:2525").expect("target reachable");
//! let cases = mtpspec_runner::scenario::load_paths(&["scenarios/smtp".into()]).expect("scenarios load");
//! for case in &cases {
//!     suite.check(case).unwrap_or_else(|failure| panic!("{failure}"));
//! }
//! ```
//!
//! [`Conformance::from_options`] takes every option of `mtpspec run` ([`SuiteOptions`]: SPEC.md,
//! a baseline, `--strict`, listeners, observers); [`Conformance::select`] and
//! [`Conformance::run_selection`] then give the same report, gate and exit code as `mtpspec
//! run` on the same scenarios.
//!
//! Owns a tokio runtime: create and drop it outside any async context.

use std::sync::Arc;

use crate::report::{RunReport, transcript};
use crate::runner::{Capabilities, CaseResult, RunOptions, Runner, Verdict};
use crate::scenario::{Case, Filter, Profile, ScenarioError};
use crate::suite::{self, Quiet, Selection, Suite, SuiteOptions, SuiteTarget};
use crate::target::{Listener, Observer, Target, TargetError, TargetSpec};

/// A probed target and the runtime its cases run on.
pub struct Conformance {
    // Dropped before the runtime: an embedded server's tasks live on it.
    suite: Suite,
    runtime: tokio::runtime::Runtime,
}

impl Conformance {
    /// Opens `target` (`embedded`, `smtp://host:port`, `smtps://...`, `exec:...`) with default
    /// options (the target's own domain and credentials, when it knows them) and probes it.
    pub fn start(target: &str) -> Result<Self, TargetError> {
        Self::from_options(target, SuiteOptions::default())
    }

    /// Opens `target` with every option `mtpspec run` has, and probes it.
    pub fn from_options(target: &str, options: SuiteOptions) -> Result<Self, TargetError> {
        let spec: TargetSpec = target.parse()?;
        let runtime = runtime()?;
        let suite = runtime.block_on(Suite::open(SuiteTarget::Spec(spec), options))?;
        Ok(Self { suite, runtime })
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

    /// A target already open, with `options` as given (their domain and credentials
    /// included).
    fn with_runtime(
        runtime: tokio::runtime::Runtime,
        target: Arc<dyn Target>,
        options: RunOptions,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<Self, TargetError> {
        let options = SuiteOptions {
            domain: Some(options.vars.domain.clone()),
            auth: options.vars.auth.clone(),
            observer,
            run: options,
            ..SuiteOptions::default()
        };
        let suite = runtime.block_on(Suite::open(SuiteTarget::Given(target), options))?;
        Ok(Self { suite, runtime })
    }

    /// The runner the cases run on, for running cases your own way.
    pub fn runner(&self) -> &Runner {
        self.suite.runner()
    }

    /// What the probe found the target to offer.
    pub fn capabilities(&self) -> &Capabilities {
        self.suite.capabilities()
    }

    /// Whether the target is mtpspec's own reference.
    pub fn is_reference(&self) -> bool {
        self.suite.is_reference()
    }

    /// The cases of `all` that `filter` and `profile` select, held to SPEC.md's levels, and
    /// the robustness attacks `filter` names: what `mtpspec run` would run.
    pub fn select(
        &self,
        all: &[Case],
        filter: &Filter,
        profile: Profile,
    ) -> Result<Selection, ScenarioError> {
        let spec = self.suite.options().spec.as_ref();
        suite::select(all, filter, profile, spec, self.is_reference())
    }

    /// Why `case` cannot run on this target at all (a listener it lacks, an extension it does
    /// not advertise), known from the probe without a connection.
    pub fn not_applicable(&self, case: &Case) -> Option<String> {
        self.runner().not_applicable(case, self.capabilities())
    }

    /// Runs one case, marked as the baseline lists it.
    pub fn run_case(&self, case: &Case) -> CaseResult {
        self.runtime.block_on(self.suite.run_case(case))
    }

    /// Runs `case`: `Ok` unless it fails the gate as `mtpspec run` would (a FAIL the baseline
    /// does not expect, a WARN with `strict`) or ends in ERROR; the `Err` holds the reason and
    /// the transcript.
    pub fn check(&self, case: &Case) -> Result<CaseResult, String> {
        self.judge(self.run_case(case))
    }

    /// [`Conformance::check`] for a result already in hand.
    pub fn judge(&self, result: CaseResult) -> Result<CaseResult, String> {
        let strict = self.suite.options().strict;
        if result.is_gate_failure(strict) || result.verdict == Verdict::Error {
            Err(format!(
                "{} {}: {}\n{}",
                result.verdict,
                result.id,
                result.reason.as_deref().unwrap_or(""),
                transcript::render(&result.wire, true)
            ))
        } else {
            Ok(result)
        }
    }

    /// Runs `cases` in parallel (no robustness attacks) and reports them.
    pub fn run(&self, cases: &[Case]) -> RunReport {
        let selection = Selection {
            cases: cases.to_vec(),
            attacks: Vec::new(),
            known_ids: cases.iter().map(|c| c.id.clone()).collect(),
        };
        self.run_selection(&selection)
    }

    /// Runs a [`Conformance::select`]ion as `mtpspec run` does: the report, its gate and exit
    /// code are the command's.
    pub fn run_selection(&self, selection: &Selection) -> RunReport {
        self.runtime.block_on(self.suite.run(selection, &mut Quiet))
    }

    /// Stops what the target started (the embedded server) and drops everything.
    pub fn shutdown(self) {
        self.runtime.block_on(self.suite.shutdown());
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, TargetError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(TargetError::Runtime)
}
