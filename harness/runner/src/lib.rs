//! The mtpspec runner: everything between a scenario and a verdict. It opens targets (a TCP
//! address, a command, the embedded reference), probes their capabilities, runs cases to
//! verdicts with a wire log, runs the robustness attacks, applies baselines, and turns a run
//! into reports. [`suite`] puts these together the way `mtpspec run` does, and [`testing`]
//! offers the same to other projects' test suites.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mtpspec_runner::{RunOptions, Runner, TargetSpec};
//!
//! let cases = mtpspec_scenario::load_paths(&["scenarios/smtp".into()])?;
//! let target = mtpspec_runner::target::open(&"smtp://127.0.0.1:2525".parse::<TargetSpec>()?).await?;
//! let runner = Runner::new(target, RunOptions::default());
//! let caps = runner.probe().await?;
//! let results = runner.run_all(&cases, &caps, |r| println!("{} {}", r.verdict, r.id)).await;
//! assert!(results.iter().all(|r| !r.is_gate_failure(false)));
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod baseline;
pub mod bundled;
pub mod robustness;
pub mod runner;
pub mod suite;
pub mod target;
pub mod testing;
pub use mtp_server::units;

/// The report schema and its renderings, their own crate (`harness/report`).
pub use mtpspec_report::{self as report, millis, wire};

/// The scenario format and SPEC.md, their own crate (`harness/scenario`).
pub use mtpspec_scenario::{self as scenario, spec};

pub use baseline::Baseline;
pub use report::RunReport;
pub use runner::{Capabilities, CaseResult, RunOptions, Runner, Verdict};
pub use scenario::{Case, Level, Protocol};
pub use spec::Spec;
pub use target::{Observer, Target, TargetSpec};
