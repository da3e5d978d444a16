//! The runner: probes the target's capabilities once, then runs cases in parallel (bounded),
//! each on fresh connections with its own variables, under a per-case deadline, and turns each
//! into a [`CaseResult`] with its verdict and wire log.

pub mod conn;
mod content;
pub mod http;
pub mod json_reader;
mod mailbox;
pub mod mmtp;
mod mmtp_probe;
pub mod probe;
mod step_error;
mod steps;
#[cfg(test)]
mod truth_tests;
mod wire_compact;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::{self, JoinSet};

pub use crate::wire::{WireEvent, WireKind, WireLog};
pub use content::content_after_trace;
pub use mtpspec_report::capabilities::Capabilities;
pub use mtpspec_report::capabilities::MmtpWelcome;
pub use mtpspec_report::verdict::{
    self, BaselineMark, CaseResult, FailureDetail, Observed, Verdict,
};

use crate::scenario::{Case, Level, LocatedStep, VarConfig, Vars};
use crate::target::{Observer, Target, TargetError};
use step_error::StepError;
use steps::Session;

/// The largest advertised SIZE maximum the over-size cases send more than.
const MAX_SIZE_TO_EXCEED: u64 = 64 << 20;

/// The pauses before each run-alone retry of a case whose connection was refused.
const REFUSAL_PAUSES: [Duration; 2] = [Duration::from_millis(500), Duration::from_secs(2)];

/// How cases are run; the defaults are `mtpspec run`'s.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Cases running at once (`--parallel`, default 8; 0 counts as 1).
    pub parallel: usize,
    /// The most one case may take, unless the case sets its own (`--deadline`, default
    /// 30 s); a case that hits it is reported as timed out.
    pub deadline: Duration,
    /// How long a step waits for a reply (or a close) (`--step-timeout`, default 5 s).
    pub step_timeout: Duration,
    /// How long opening a connection may take, an implicit-TLS handshake included (default
    /// 5 s); longer is [`TargetError::ConnectTimeout`].
    pub connect_timeout: Duration,
    /// How long a delivery check waits for the messages to show up (default 5 s).
    pub mailbox_wait: Duration,
    /// What the scenario variables are made of: the local domain, users, EHLO name, AUTH
    /// credentials (`--domain`, `--local-user`, `--helo`, ...).
    pub vars: VarConfig,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            parallel: 8,
            deadline: Duration::from_secs(30),
            step_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            mailbox_wait: Duration::from_secs(5),
            vars: VarConfig::default(),
        }
    }
}

/// Runs cases against one target. Cheap to clone.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

struct Inner {
    target: Arc<dyn Target>,
    observer: Option<Arc<dyn Observer>>,
    options: RunOptions,
}

impl Runner {
    /// A runner using the target's own observer, if it has one.
    pub fn new(target: Arc<dyn Target>, options: RunOptions) -> Self {
        let observer = target.observer();
        Self {
            inner: Arc::new(Inner {
                target,
                observer,
                options,
            }),
        }
    }

    /// Replaces the mailbox observer (`--maildir`, `--mailbox-cmd`, or your own).
    pub fn with_observer(self, observer: Option<Arc<dyn Observer>>) -> Self {
        let inner = Inner {
            target: self.inner.target.clone(),
            observer,
            options: self.inner.options.clone(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The target the cases run against.
    pub fn target(&self) -> &Arc<dyn Target> {
        &self.inner.target
    }

    /// The options the runner was made with.
    pub fn options(&self) -> &RunOptions {
        &self.inner.options
    }

    /// Connects once and records what the target advertises.
    pub async fn probe(&self) -> Result<Capabilities, TargetError> {
        probe::probe(self.inner.target.as_ref(), &self.inner.options).await
    }

    /// Runs all `cases`, at most `parallel` at a time, starting them in the order given;
    /// `on_done` sees each result as it finishes. Results come back in the order of `cases`.
    pub async fn run_all(
        &self,
        cases: &[Case],
        caps: &Capabilities,
        mut on_done: impl FnMut(&CaseResult),
    ) -> Vec<CaseResult> {
        let permits = Arc::new(Semaphore::new(self.inner.options.parallel.max(1)));
        let mut tasks = JoinSet::new();
        let mut index_of = HashMap::new();
        let mut results: Vec<Option<CaseResult>> = vec![None; cases.len()];
        let mut record = |joined: Result<(task::Id, CaseResult), task::JoinError>,
                          index_of: &HashMap<task::Id, usize>| {
            let (id, result) = match joined {
                Ok((id, result)) => (id, result),
                Err(e) => {
                    let i = index_of[&e.id()];
                    let message = format!("the harness failed while running this case: {e}");
                    (e.id(), error_result(&cases[i], message))
                }
            };
            on_done(&result);
            results[index_of[&id]] = Some(result);
        };
        for (i, case) in cases.iter().enumerate() {
            // The permit is taken before the task is spawned, so that cases start in the
            // order given (the scheduler polls new tasks in no set order); cases that finish
            // meanwhile are reported at once. The semaphore is never closed.
            let permit = loop {
                tokio::select! {
                    permit = permits.clone().acquire_owned() => break permit.ok(),
                    Some(joined) = tasks.join_next_with_id() => record(joined, &index_of),
                }
            };
            let (runner, case, caps) = (self.clone(), case.clone(), caps.clone());
            let handle = tasks.spawn(async move {
                let _permit = permit;
                runner.run_case(&case, &caps).await
            });
            index_of.insert(handle.id(), i);
        }
        while let Some(joined) = tasks.join_next_with_id().await {
            record(joined, &index_of);
        }
        let mut results: Vec<CaseResult> = results.into_iter().flatten().collect();
        self.retry_refused(cases, caps, &mut results).await;
        results
    }

    /// Runs again, one at a time, the cases whose connection the target refused (a 421
    /// greeting, an MMTP `RATE_LIMITED`): a connection or rate limit hit by parallel cases is
    /// the run's doing, never the case's failure. A case still refused after the last pause
    /// is ERROR with the reason.
    async fn retry_refused(&self, cases: &[Case], caps: &Capabilities, results: &mut [CaseResult]) {
        for (case, result) in cases.iter().zip(results.iter_mut()) {
            for pause in REFUSAL_PAUSES {
                if !result.refused {
                    break;
                }
                tokio::time::sleep(pause).await;
                *result = self.run_case(case, caps).await;
            }
            if result.refused {
                let why = result.reason.take().unwrap_or_default();
                result.reason = Some(format!(
                    "{why}; still refused when run alone after {} pauses: a connection or rate \
                     limit of the target (run fewer cases at once with -j, or raise the limit)",
                    REFUSAL_PAUSES.len()
                ));
            }
        }
    }

    /// Why `case` cannot run on this target at all (SKIP before any connection): a listener
    /// the target lacks, or a `requires` keyword it does not advertise with no `fallback`.
    pub fn not_applicable(&self, case: &Case, caps: &Capabilities) -> Option<String> {
        if !self.inner.target.listeners().contains(&case.listener) {
            return Some(match case.listener {
                crate::target::Listener::Smtp => format!(
                    "a {} case: the target has no SMTP listener (--target smtp://HOST:PORT)",
                    case.protocol
                ),
                l => format!("the target has no {l} listener ({})", l.run_option()),
            });
        }
        if let Some(why) = http::missing_listener(case, self.inner.target.as_ref()) {
            return Some(why);
        }
        let missing = missing_keywords(case, caps);
        (case.fallback.is_none() && !missing.is_empty())
            .then(|| format!("{} not advertised", missing.join(", ")))
    }

    /// Runs one case on fresh connections.
    pub async fn run_case(&self, case: &Case, caps: &Capabilities) -> CaseResult {
        let started = Instant::now();
        let options = &self.inner.options;
        if let Some(why) = self.not_applicable(case, caps) {
            let mut result = base_result(case, Verdict::Skip);
            result.reason = Some(why);
            return result;
        }
        let missing = missing_keywords(case, caps);
        let (steps, fallback): (&[LocatedStep], bool) = match &case.fallback {
            Some(fallback) if !missing.is_empty() => (fallback, true),
            _ => (&case.steps, false),
        };
        let mut vars = Vars::for_case(&case.id, &options.vars);
        if let Some(max) = caps.size_max().filter(|&max| max <= MAX_SIZE_TO_EXCEED) {
            vars.set_fixed("size_max", &max.to_string());
            vars.set_fixed("size_over", &(max + 1).to_string());
        }
        let mut session = Session::new(
            self.inner.target.as_ref(),
            case.listener,
            self.inner.observer.as_deref(),
            options,
            vars,
        );
        session.mmtp_difficulty = caps.mmtp.as_ref().and_then(|w| w.difficulty);
        if let Some(dir) = case.file.parent() {
            session.keys_dir = dir.join("keys");
        }
        let deadline = case.deadline.unwrap_or(options.deadline);
        let outcome = tokio::time::timeout(deadline, session.run(steps)).await;
        session.close_all().await;
        let mut result = base_result(case, Verdict::Pass);
        result.fallback = fallback;
        match outcome {
            Err(_) => {
                let i = session.progress.load(Ordering::Relaxed);
                let step = &steps[i];
                let description = step.step.describe(&session.vars);
                result.verdict = Verdict::for_failure(case.level);
                result.timed_out = true;
                result.reason = Some(format!(
                    "deadline: not finished within {} ms (at step {}, line {}: {description})",
                    deadline.as_millis(),
                    i + 1,
                    step.line
                ));
                result.failure = Some(FailureDetail {
                    step: i + 1,
                    line: step.line,
                    description,
                    expected: format!("the case to finish within {} ms", deadline.as_millis()),
                    actual: "the deadline passed".into(),
                    observed: None,
                });
            }
            Ok(Ok(())) => match (session.skipped.take(), fallback) {
                (Some(why), _) => {
                    result.verdict = Verdict::Skip;
                    result.reason = Some(why);
                }
                (None, true) => {
                    result.verdict = Verdict::Unsupported;
                    result.reason = Some(format!(
                        "{} not advertised; the fallback behaviour is correct",
                        missing.join(", ")
                    ));
                }
                (None, false) => {}
            },
            Ok(Err((i, error))) => {
                let step = &steps[i];
                let (line, description, error) =
                    error.locate(step.line, step.step.describe(&session.vars));
                let (verdict, expected, actual, observed) = match error {
                    StepError::Failed {
                        expected,
                        actual,
                        observed,
                    } => (Verdict::for_failure(case.level), expected, actual, observed),
                    StepError::Harness(message) => (Verdict::Error, String::new(), message, None),
                    StepError::Skip(message) | StepError::ServiceClosing(message) => {
                        (Verdict::Skip, String::new(), message, None)
                    }
                    StepError::Refused(message) => {
                        result.refused = true;
                        (Verdict::Error, String::new(), message, None)
                    }
                    StepError::MalformedReply(actual) => {
                        // A MUST of RFC 5321 (§2.3.8, §4.2.1) however low the case: a server
                        // that echoes a bare LF into its reply broke the reply syntax, not the
                        // case's requirement (the bare-LF case's server kept the line whole).
                        result.spec = vec![step_error::REPLY_SYNTAX.to_string()];
                        result.level = Level::Must;
                        let expected = "a well-formed reply".to_string();
                        let why = actual.strip_prefix("malformed reply: ").unwrap_or(&actual);
                        let observed = Observed::Malformed { why: why.into() };
                        (
                            Verdict::for_failure(Level::Must),
                            expected,
                            actual,
                            Some(observed),
                        )
                    }
                    StepError::InBranch { .. } => unreachable!("locate unwraps every branch"),
                };
                result.verdict = verdict;
                let which = if fallback { "fallback step" } else { "step" };
                result.reason = Some(if expected.is_empty() {
                    format!("{which} {} (line {line}): {actual}", i + 1)
                } else {
                    format!(
                        "{which} {} (line {line}): expected {expected}, got {actual}",
                        i + 1
                    )
                });
                result.failure = Some(FailureDetail {
                    step: i + 1,
                    line,
                    description,
                    expected,
                    actual,
                    observed,
                });
            }
        }
        result.duration = started.elapsed();
        result.wire = wire_compact::compact(session.log.events());
        result.redactions = session.vars.redactions();
        if !caps.hostname.is_empty() && caps.hostname.contains('.') {
            result
                .redactions
                .push((caps.hostname.clone(), "[host]".into()));
        }
        result
    }
}

/// The `requires` keywords of `case` the target does not advertise.
fn missing_keywords(case: &Case, caps: &Capabilities) -> Vec<String> {
    case.requires
        .iter()
        .filter(|k| !caps.offers_for(case.protocol, k))
        .map(ToString::to_string)
        .collect()
}

fn base_result(case: &Case, verdict: Verdict) -> CaseResult {
    CaseResult {
        id: case.id.clone(),
        title: case.title.clone(),
        file: case.file.display().to_string(),
        line: case.line,
        spec: case.spec.clone(),
        level: case.level,
        protocol: case.protocol,
        verdict,
        reason: None,
        failure: None,
        timed_out: false,
        refused: false,
        fallback: false,
        duration: Duration::ZERO,
        baseline: None,
        wire: Vec::new(),
        redactions: Vec::new(),
    }
}

fn error_result(case: &Case, message: String) -> CaseResult {
    let mut result = base_result(case, Verdict::Error);
    result.reason = Some(message);
    result
}
