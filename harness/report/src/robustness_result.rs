//! A robustness case's result as the report records it: its verdict, the figures measured, and
//! the lines every report prints them as (the runner's robustness module measures and judges).

use std::time::Duration;

use mtpspec_scenario::Level;
use serde::{Deserialize, Serialize};

use crate::verdict::Verdict;

/// One robustness case after it ran: an element of the report's `robustness`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RobustnessResult {
    /// The case's id (`robust-tls-handshake-stall`).
    pub id: String,
    /// The case's title.
    pub title: String,
    /// The SPEC.md requirement ids it checks (SPEC.md's ROBUST part).
    pub spec: Vec<String>,
    /// At most SHOULD: these cases WARN, never FAIL.
    pub level: Level,
    /// `PASS`; `WARN` when a fresh client was not greeted in time while the attack held, or
    /// the server stopped answering after it; `SKIP` when the case did not run or the attack
    /// never got going.
    pub verdict: Verdict,
    /// One line: why the verdict is not PASS.
    pub reason: Option<String>,
    /// What a well-behaved server does under this attack.
    pub well_behaved: String,
    /// What the attack did, with its figures, one line each (the reports print these).
    pub figures: Vec<String>,
    /// The same figures as numbers (absent when the case did not run).
    pub measured: Option<Measured>,
    /// `duration_ms`: how long the case took, setup, attack and the check after it, in whole
    /// milliseconds (0 for a case that did not run).
    #[serde(with = "crate::millis", rename = "duration_ms")]
    pub duration: Duration,
}

/// The figures as numbers, for tools reading the JSON report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Measured {
    /// Attacking connections opened.
    pub connections: usize,
    /// Turned away before the stall (a limit's 421, a close).
    pub refused: usize,
    /// Of the stalled connections, the survival of those the server closed, in ms.
    pub closed_after_ms: Vec<u64>,
    /// Stalled connections still open when the case stopped.
    pub open_at_cap: usize,
    /// The most the case was allowed to take (`--robustness-timeout`), in ms.
    pub cap_ms: u64,
    /// Where the fresh clients connected from: an address (`127.0.0.2`), or the attackers'
    /// own address and why.
    pub fresh_client_from: String,
    /// Fresh clients sent while the attack held.
    pub probes: usize,
    /// Of those, how many were greeted with 220 within the bound (`--robustness-greeting`).
    pub greeted: usize,
    /// The longest a greeted fresh client waited for its 220, in ms; null when none was
    /// greeted.
    pub slowest_greeting_ms: Option<u64>,
    /// A fresh client sent after the attack stopped was greeted (allowing one retry a
    /// second later).
    pub greeted_after_attack: bool,
    /// Octets the attacking connections sent.
    pub sent_octets: u64,
    /// The target's memory during the attack; null when its PID is not known (`--target-pid`)
    /// or its memory cannot be read (Linux only).
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
    /// The process measured (with its children).
    pub pid: u32,
    /// The target runs inside the harness's own process (the embedded reference): the
    /// figure includes the harness.
    pub in_process: bool,
    /// `VmRSS` of the process and its children at the first sample, before the attack, in
    /// KiB.
    pub before_kib: u64,
    /// The highest sample during the measurement, in KiB.
    pub peak_kib: u64,
}

impl RssFigure {
    /// How much the memory grew: the peak over the first sample, in KiB (0 if it shrank).
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
