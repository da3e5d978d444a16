//! One run of the suite, exactly as `mtpspec run` does it, for every front end: `mtpspec run`
//! and `mtpspec compare`, the cargo-test trials and [`crate::testing`]. [`select`] picks the
//! cases (a filter, a profile) and holds them to SPEC.md's levels; [`Suite::open`] opens the
//! target and probes it; [`Suite::run`] runs the cases a few at a time, those that wait
//! longest first, then the robustness attacks one at a time, applies the baseline, and builds
//! the report whose gate is the exit status.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mtpspec_runner::suite::{self, Suite, SuiteOptions, SuiteTarget};
//!
//! let all = mtpspec_runner::scenario::load_paths(&["scenarios/smtp".into()])?;
//! let spec = mtpspec_runner::Spec::load("SPEC.md".as_ref())?;
//! let filter = mtpspec_runner::scenario::Filter::new(&["SMTP-SMUGGLING-*".to_string()])?;
//! let selection = suite::select(&all, &filter, Default::default(), Some(&spec), false)?;
//! let options = SuiteOptions { spec: Some(spec), ..SuiteOptions::default() };
//! let target = SuiteTarget::Spec("smtp://127.0.0.1:2525".parse()?);
//! let suite = Suite::open(target, options).await?;
//! let report = suite.run(&selection, &mut suite::Quiet).await;
//! suite.shutdown().await;
//! std::process::exit(i32::from(report.exit_code));
//! # }
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::baseline::Baseline;
use crate::report::{ReportInput, RunReport};
use crate::robustness::{
    self, Attack, CaseInfo, Opened, RobustnessOptions, RobustnessResult, TargetProcess,
};
use crate::runner::{Capabilities, CaseResult, RunOptions, Runner};
use crate::scenario::{Case, Filter, Listener, Profile, ScenarioError, Step};
use crate::spec::Spec;
use crate::target::{Observer, SHORT_IDLE, Target, TargetError, TargetSpec};

/// The cases and robustness attacks a run runs.
#[derive(Clone, Debug)]
pub struct Selection {
    /// In file order, each at most the level its requirements allow.
    pub cases: Vec<Case>,
    /// The robustness attacks the filter names (all of them without a filter), in the order
    /// they run.
    pub attacks: Vec<Attack>,
    /// Every case id of the suite, selected or not: a baseline entry naming none is stale.
    pub known_ids: BTreeSet<String>,
}

/// Selects from `all` the cases `filter` and `profile` let through, and the robustness attacks
/// `filter` names (all without one). With `spec`, every cited requirement must exist and each
/// case is lowered to the highest level its requirements allow ([`Spec::cap_levels`]: DESIGN
/// binds only a `reference` target).
pub fn select(
    all: &[Case],
    filter: &Filter,
    profile: Profile,
    spec: Option<&Spec>,
    reference: bool,
) -> Result<Selection, ScenarioError> {
    if let Some(spec) = spec {
        crate::scenario::check_citations(all, spec.requirements.iter().map(|r| r.id.as_str()))?;
    }
    let mut cases: Vec<Case> = all
        .iter()
        .filter(|c| filter.matches(c) && profile.includes(c.profile))
        .cloned()
        .collect();
    if let Some(spec) = spec {
        spec.cap_levels(&mut cases, reference);
    }
    let attacks = Attack::ALL
        .into_iter()
        .filter(|a| filter.matches_cited(a.case().id, a.case().spec))
        .collect();
    Ok(Selection {
        cases,
        attacks,
        known_ids: all.iter().map(|c| c.id.clone()).collect(),
    })
}

/// What a run is pointed at.
pub enum SuiteTarget {
    /// Opened (or, for `embedded`, started) from its spec.
    Spec(TargetSpec),
    /// A target already open (say, your own server started in-process). The robustness
    /// attacks do not apply to it: they need an SMTP address.
    Given(Arc<dyn Target>),
}

/// How a run goes, besides which cases: every option of `mtpspec run`.
#[derive(Clone, Default)]
pub struct SuiteOptions {
    /// How reports name the target [default: its address].
    pub target_name: Option<String>,
    /// More listeners of the target (`--submission`, `--listener NAME=`...), each at
    /// `HOST:PORT`.
    pub listeners: Vec<(Listener, String)>,
    /// Where delivery checks look [default: the target's own mailbox, if it has one].
    pub observer: Option<Arc<dyn Observer>>,
    /// Parallelism, timeouts and the scenario variables. `vars.domain` and `vars.auth` are
    /// set at [`Suite::open`] from `domain` and `auth` below.
    pub run: RunOptions,
    /// The domain the target delivers locally [default: the target's, else example.test].
    pub domain: Option<String>,
    /// AUTH credentials [default: the target's own].
    pub auth: Option<(String, String)>,
    /// SPEC.md: requirement texts and consequences in the report, and the robustness cases'
    /// levels.
    pub spec: Option<Spec>,
    /// Known failures (`--baseline`): listed cases that fail do not fail the gate, and a
    /// stale entry does [default: none].
    pub baseline: Option<Baseline>,
    /// A WARN fails the gate.
    pub strict: bool,
    /// The target is mtpspec's reference, so DESIGN requirements bind it (the embedded target
    /// always is).
    pub reference: bool,
    /// Whether and within what bounds the robustness attacks run [default: they run, with
    /// [`RobustnessSettings::default`]].
    pub robustness: RobustnessSettings,
}

/// The robustness attacks' bounds (`mtpspec run --robustness-*`).
#[derive(Clone, Debug)]
pub struct RobustnessSettings {
    /// Report every attack SKIP instead of running it.
    pub skip: bool,
    /// The most one attack takes, setup and attack together (`--robustness-timeout`,
    /// default 15 s).
    pub case_cap: Duration,
    /// The most attacking connections one attack opens (`--robustness-connections`, default
    /// 64); the fresh client comes on top, one at a time.
    pub max_connections: usize,
    /// How soon a fresh client must be greeted with 220 while an attack holds
    /// (`--robustness-greeting`, default 5 s).
    pub greeting_bound: Duration,
    /// The target's process, whose memory the attacks report [default: the harness's own
    /// for the embedded reference].
    pub target_pid: Option<u32>,
}

impl Default for RobustnessSettings {
    fn default() -> Self {
        let defaults = RobustnessOptions::default();
        Self {
            skip: false,
            case_cap: defaults.case_cap,
            max_connections: defaults.max_connections,
            greeting_bound: defaults.greeting_bound,
            target_pid: None,
        }
    }
}

/// What a front end hears while a run goes on (progress bars, log lines); every method does
/// nothing unless implemented.
pub trait Events {
    /// A case has finished, with its result (before the baseline is applied); cases finish
    /// in any order.
    fn case_done(&mut self, _result: &CaseResult) {}
    /// Every case has finished (the robustness attacks come next).
    fn cases_finished(&mut self) {}
    /// The robustness attacks begin: how many, each bounded by `cap`.
    fn robustness_begins(&mut self, _attacks: usize, _cap: Duration) {}
    /// A robustness attack has been judged, with its result. Attacks skipped all at once
    /// (`--skip-robustness`, a target they do not apply to) are not heard of here.
    fn robustness_done(&mut self, _result: &RobustnessResult) {}
}

/// Hears nothing.
pub struct Quiet;

impl Events for Quiet {}

/// An open, probed target and how to run the suite against it.
pub struct Suite {
    options: SuiteOptions,
    opened: Opened,
    runner: Runner,
    caps: Capabilities,
    reference: bool,
}

impl Suite {
    /// Opens (or starts) the target, adds its other listeners and probes it. The error says
    /// why the target cannot be used at all (`mtpspec run` exits 3 with it).
    pub async fn open(
        target: SuiteTarget,
        mut options: SuiteOptions,
    ) -> Result<Suite, TargetError> {
        let (opened, embedded) = match target {
            SuiteTarget::Spec(spec) => {
                let tls_listener = options
                    .listeners
                    .iter()
                    .find(|(l, _)| *l == Listener::Smtps)
                    .map(|(_, addr)| addr.clone());
                let opened = robustness::endpoint::open(&spec, tls_listener.as_deref()).await?;
                (opened, spec == TargetSpec::Embedded)
            }
            SuiteTarget::Given(target) => {
                let why = "a target given to the library has no SMTP address to attack";
                let opened = Opened {
                    target,
                    endpoint: Err(why.into()),
                    process: None,
                };
                (opened, false)
            }
        };
        let target = match crate::target::with_listeners(opened.target.clone(), &options.listeners)
        {
            Ok(target) => target,
            Err(e) => {
                opened.target.shutdown().await;
                return Err(e);
            }
        };
        let vars = &mut options.run.vars;
        vars.domain = options
            .domain
            .clone()
            .or_else(|| target.domain())
            .unwrap_or_else(|| "example.test".into());
        vars.auth = options.auth.clone().or_else(|| target.credentials());
        let observer = options.observer.clone().or_else(|| target.observer());
        let runner = Runner::new(target.clone(), options.run.clone()).with_observer(observer);
        let caps = match runner.probe().await {
            Ok(caps) => caps,
            Err(e) => {
                target.shutdown().await;
                return Err(e);
            }
        };
        let reference = options.reference || embedded || target.is_reference();
        Ok(Suite {
            options,
            opened,
            runner,
            caps,
            reference,
        })
    }

    /// What the probe at [`Suite::open`] found the target to offer.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// The runner the cases run on (the target with its listeners and observer).
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// The options the suite was opened with, `run.vars.domain` and `run.vars.auth` filled
    /// in.
    pub fn options(&self) -> &SuiteOptions {
        &self.options
    }

    /// Whether DESIGN requirements bind the target (it is mtpspec's reference).
    pub fn is_reference(&self) -> bool {
        self.reference
    }

    /// Runs one case, marked as the baseline lists it (expected failure, or now passing).
    pub async fn run_case(&self, case: &Case) -> CaseResult {
        let mut result = self.runner.run_case(case, &self.caps).await;
        if let Some(baseline) = &self.options.baseline {
            let known = BTreeSet::from([case.id.clone()]);
            baseline.apply(std::slice::from_mut(&mut result), &known);
        }
        result
    }

    /// Runs the selection (cases, then robustness attacks) and reports it.
    pub async fn run(&self, selection: &Selection, events: &mut dyn Events) -> RunReport {
        let started = SystemTime::now();
        let clock = Instant::now();
        let mut results = self.run_cases(&selection.cases, events).await;
        let robustness = self.run_robustness(&selection.attacks, events).await;
        let stale = match &self.options.baseline {
            Some(baseline) => baseline.apply(&mut results, &selection.known_ids),
            None => Vec::new(),
        };
        let target = self.runner.target();
        RunReport::new(ReportInput {
            target: self
                .options
                .target_name
                .clone()
                .unwrap_or_else(|| target.name()),
            address: target.name(),
            started,
            duration: clock.elapsed(),
            strict: self.options.strict,
            capabilities: self.caps.clone(),
            cases: results,
            spec: self.options.spec.as_ref(),
            stale_baseline: stale,
            remedies: self
                .options
                .baseline
                .as_ref()
                .map(Baseline::remedies)
                .unwrap_or_default(),
        })
        .with_robustness(robustness)
    }

    /// Stops what opening the target started (the embedded server).
    pub async fn shutdown(self) {
        self.runner.target().shutdown().await;
    }

    /// The cases, a few at a time, those that wait longest first; the results in file order.
    async fn run_cases(&self, cases: &[Case], events: &mut dyn Events) -> Vec<CaseResult> {
        let order = start_order(cases);
        let started_first: Vec<Case> = order.iter().map(|&i| cases[i].clone()).collect();
        let finished = self
            .runner
            .run_all(&started_first, &self.caps, |r| events.case_done(r))
            .await;
        events.cases_finished();
        let mut in_file_order: Vec<Option<CaseResult>> = vec![None; cases.len()];
        for (result, &i) in finished.into_iter().zip(&order) {
            in_file_order[i] = Some(result);
        }
        in_file_order.into_iter().flatten().collect()
    }

    /// The robustness attacks, one at a time (or each SKIP with why: turned off, or a target
    /// they do not apply to).
    async fn run_robustness(
        &self,
        attacks: &[Attack],
        events: &mut dyn Events,
    ) -> Vec<RobustnessResult> {
        let spec = self.options.spec.as_ref();
        let level = |case: &CaseInfo| robustness::level(spec, case, self.reference);
        let settings = &self.options.robustness;
        let endpoint = match (&self.opened.endpoint, settings.skip) {
            (_, true) => {
                let why = "turned off with --skip-robustness";
                return robustness::skipped_all(attacks, level, why);
            }
            (Err(why), false) => {
                let why = format!("not applicable: {why}");
                return robustness::skipped_all(attacks, level, &why);
            }
            (Ok(endpoint), false) => endpoint.clone(),
        };
        if attacks.is_empty() {
            return Vec::new();
        }
        let vars = &self.runner.options().vars;
        let options = RobustnessOptions {
            case_cap: settings.case_cap,
            max_connections: settings.max_connections,
            greeting_bound: settings.greeting_bound,
            domain: vars.domain.clone(),
            helo: vars.helo.clone(),
            ..RobustnessOptions::default()
        };
        let process = match settings.target_pid {
            Some(pid) => Some(TargetProcess {
                pid,
                in_process: false,
            }),
            None => self.opened.process,
        };
        let mut ctx = robustness::Context::new(endpoint, options, process);
        events.robustness_begins(attacks.len(), settings.case_cap);
        ctx.run(attacks, level, |r| events.robustness_done(r)).await
    }
}

/// The order in which the cases start: those that wait longest (their sleeps, expected
/// silences and the short idle timeout of their listener, summed) first, the others in file
/// order. Cases run a few at a time, so a case that waits seconds and starts last would hold
/// up the end of the run.
fn start_order(cases: &[Case]) -> Vec<usize> {
    let waits = |case: &Case| -> Duration {
        let idle = if case.listener.has_short_idle() {
            SHORT_IDLE
        } else {
            Duration::ZERO
        };
        let steps: u64 = case
            .steps
            .iter()
            .map(|located| match located.step {
                Step::Sleep(ms) | Step::ExpectSilence(ms) => ms,
                _ => 0,
            })
            .sum();
        idle + Duration::from_millis(steps)
    };
    let mut order: Vec<usize> = (0..cases.len()).collect();
    // A stable sort: equal waits keep their file order.
    order.sort_by_key(|&i| std::cmp::Reverse(waits(&cases[i])));
    order
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn cases_that_wait_longest_start_first() {
        let yaml = "\
- {id: a, title: t, spec: [SMTP-X-1], level: must, steps: [ehlo]}
- {id: b, title: t, spec: [SMTP-X-1], level: must, steps: [{expect_silence: 300}]}
- {id: c, title: t, spec: [SMTP-X-1], level: must, listener: short-idle, steps: [ehlo]}
- {id: d, title: t, spec: [SMTP-X-1], level: must, steps: [{sleep: 200}, {expect_silence: 200}]}
- {id: e, title: t, spec: [SMTP-X-1], level: must, steps: [ehlo]}
";
        let cases = crate::scenario::load_str(yaml, Path::new("t.yaml")).unwrap();
        let ids: Vec<&str> = start_order(&cases)
            .into_iter()
            .map(|i| cases[i].id.as_str())
            .collect();
        assert_eq!(ids, ["c", "d", "b", "a", "e"]);
    }
}
