//! mtpspec: the conformance suite for SMTP, VMTP and MMTP servers. This crate is the `mtpspec`
//! command and the library other projects embed. Its parts are their own crates, re-exported
//! here under the names they have always had:
//!
//! - [`mtpspec_scenario`]: the scenario format and SPEC.md (`mtpspec::scenario`, `mtpspec::spec`);
//! - [`mtpspec_runner`]: targets, cases to verdicts, robustness, baselines, the Suite API and
//!   reports (`mtpspec::runner`, `mtpspec::suite`, `mtpspec::testing`, `mtpspec::report`, ...);
//! - [`mtpspec_tools`]: simulation, the fault proxy, the network fuzzer, client judging and the
//!   traffic generator (`mtpspec::sim`, `mtpspec::servetest`, `mtpspec::relay`, ...).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mtpspec::{RunOptions, Runner, TargetSpec};
//!
//! let cases = mtpspec::scenario::load_paths(&["scenarios/smtp".into()])?;
//! let target = mtpspec::target::open(&"smtp://127.0.0.1:2525".parse::<TargetSpec>()?).await?;
//! let runner = Runner::new(target, RunOptions::default());
//! let caps = runner.probe().await?;
//! let results = runner.run_all(&cases, &caps, |r| println!("{} {}", r.verdict, r.id)).await;
//! assert!(results.iter().all(|r| !r.is_gate_failure(false)));
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod run_args;

pub use mtpspec_runner::{
    Baseline, Capabilities, Case, CaseResult, Level, Observer, Protocol, RunOptions, RunReport,
    Runner, Spec, Target, TargetSpec, Verdict, baseline, bundled, report, robustness, runner,
    scenario, spec, suite, target, testing, units, wire,
};
pub use mtpspec_tools::{netfuzz, proxy, relay, rng, servetest, sim, traffic};
