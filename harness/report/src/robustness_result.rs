//! A robustness case's result as the report records it: its verdict, the figures measured, and
//! the lines every report prints them as (the runner's robustness module measures and judges).

use std::time::Duration;

use mtpspec_scenario::Level;
use serde::{Deserialize, Serialize};

use crate::verdict::Verdict;

/// One robustness case after it ran.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RobustnessResult {
    pub id: String,
    pub title: String,
    pub spec: Vec<String>,
    /// At most SHOULD: these cases WARN, never FAIL.
    pub level: Level,
    pub verdict: Verdict,
    /// One line: why the verdict is not PASS.
    pub reason: Option<String>,
    /// What a well-behaved server does under this attack.
    pub well_behaved: String,
    /// What the attack did, with its figures, one line each (the reports print these).
    pub figures: Vec<String>,
    /// The same figures as numbers (absent when the case did not run).
    pub measured: Option<Measured>,
    #[serde(with = "crate::millis", rename = "duration_ms")]
    pub duration: Duration,
}

/// The figures as numbers, for tools reading the JSON report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Measured {
    pub connections: usize,
    /// Turned away before the stall (a limit's 421, a close).
    pub refused: usize,
    /// Of the stalled connections, the survival of those the server closed, in ms.
    pub closed_after_ms: Vec<u64>,
    /// Stalled connections still open when the case stopped.
    pub open_at_cap: usize,
    pub cap_ms: u64,
    pub fresh_client_from: String,
    pub probes: usize,
    pub greeted: usize,
    pub slowest_greeting_ms: Option<u64>,
    pub greeted_after_attack: bool,
    pub sent_octets: u64,
    pub rss: Option<RssFigure>,
}

impl RobustnessResult {
    /// The figure lines joined, for a table cell.
    pub fn figures_inline(&self) -> String {
        self.figures.join("; ")
    }
}

/// Memory of a local target during one measurement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RssFigure {
    pub pid: u32,
    /// The target runs inside the harness's own process (the embedded reference): the
    /// figure includes the harness.
    pub in_process: bool,
    pub before_kib: u64,
    pub peak_kib: u64,
}

impl RssFigure {
    pub fn growth_kib(&self) -> u64 {
        self.peak_kib.saturating_sub(self.before_kib)
    }

    /// `RSS of PID 123 (and its children): 18.2 MiB before, peak 20.1 MiB (+1.9 MiB)`.
    pub fn describe(&self) -> String {
        format!(
            "RSS of PID {}{}: {} before, peak {} (+{})",
            self.pid,
            if self.in_process {
                " (in-process: harness included)"
            } else {
                " and its children"
            },
            mib(self.before_kib),
            mib(self.peak_kib),
            mib(self.growth_kib())
        )
    }
}

/// KiB as MiB with one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
