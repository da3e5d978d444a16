//! The mtpspec harness: scenarios, targets, the runner, verdicts and reports.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
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

pub mod baseline;
pub mod bundled;
#[doc(hidden)]
pub mod fuzzing;
pub mod netfuzz;
pub mod proxy;
pub mod report;
pub mod rng;
pub mod robustness;
pub mod runner;
pub mod servetest;
pub mod sim;
pub mod suite;
pub mod target;
pub mod testing;
pub mod units;
pub mod wire;

/// The scenario format and SPEC.md, their own crate (`harness/scenario`).
pub use mtpspec_scenario::{self as scenario, spec};

pub use baseline::Baseline;
pub use report::RunReport;
pub use runner::{Capabilities, CaseResult, RunOptions, Runner, Verdict};
pub use scenario::{Case, Level, Protocol};
pub use spec::Spec;
pub use target::{Observer, Target, TargetSpec};
