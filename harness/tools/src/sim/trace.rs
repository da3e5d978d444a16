//! The trace of one simulated run: what happened, when, in simulated time. Two runs of the
//! same scenario and seed give the same trace (the determinism test compares them), and a
//! failing seed prints it.

use std::cell::RefCell;
use std::fmt::Display;
use std::rc::Rc;
use std::time::Duration;

use super::units::Secs;

/// The trace, shared by the hosts and the harness (all on the simulation's one thread).
pub type SharedTrace = Rc<RefCell<Trace>>;

/// One run's events, one line each (`0.079s WHO: WHAT`, in simulated time), and in a
/// verbose trace the detail lines indented beneath them.
#[derive(Debug, Default)]
pub struct Trace {
    lines: Vec<String>,
    /// Also keep each session's wire transcript (indented under its event).
    pub verbose: bool,
}

impl Trace {
    /// An empty trace, shared; `verbose` also keeps the detail lines (wire transcripts).
    pub fn new(verbose: bool) -> SharedTrace {
        Rc::new(RefCell::new(Self {
            lines: Vec::new(),
            verbose,
        }))
    }

    /// Records `what` happening to `who` (a host's name, or `harness`, `fault`, `reader` for
    /// the run's own doings) at simulated time `at`.
    pub fn event(&mut self, at: Duration, who: &str, what: impl Display) {
        self.lines.push(format!("{} {who}: {what}", Secs(at)));
    }

    /// A detail line under the last event, kept only in verbose traces.
    pub fn detail(&mut self, what: impl Display) {
        if self.verbose {
            self.lines.push(format!("    {what}"));
        }
    }

    /// Every line kept so far, events and details, in order.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// FNV-1a over the event lines (details excluded, so verbose and terse runs agree).
    pub fn hash(&self) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for line in self.lines.iter().filter(|l| !l.starts_with("    ")) {
            for b in line.bytes().chain([b'\n']) {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        hash
    }
}

/// Simulated time as the current host sees it (zero outside a host).
pub fn sim_now() -> Duration {
    turmoil::sim_elapsed().unwrap_or_default()
}
