//! Signs of life for long commands that have no progress display of their own (`sim`, `load`,
//! `fuzz`; `run` has its verdict bar in report::terminal): a bar redrawn in place when standard
//! error is a terminal, otherwise a plain line at most every ten seconds, so that a log file
//! gets no escape codes and a CI log still shows the command is alive.

use std::io::{IsTerminal, Write as _};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a plain line is written when standard error is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(10);
const WIDTH: u64 = 30;

/// The progress of one long task counted in steps (seeds, messages, sessions).
pub struct Progress {
    label: String,
    total: u64,
    started: Instant,
    terminal: bool,
    /// Without a terminal: when the last plain line was written.
    last_line: Mutex<Instant>,
}

impl Progress {
    /// A progress display for `total` steps of `label` (`"seeds"`).
    pub fn new(label: &str, total: u64) -> Self {
        let now = Instant::now();
        Self {
            label: label.to_string(),
            total,
            started: now,
            terminal: std::io::stderr().is_terminal(),
            last_line: Mutex::new(now),
        }
    }

    /// `done` of the total steps are finished.
    pub fn set(&self, done: u64) {
        let elapsed = self.started.elapsed().as_secs();
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let filled = (done.min(self.total) * WIDTH)
                .checked_div(self.total)
                .unwrap_or(WIDTH);
            let _ = write!(
                err,
                "\r\x1b[2K[{}{}] {done}/{} {} {elapsed}s",
                "#".repeat(filled as usize),
                "-".repeat((WIDTH - filled) as usize),
                self.total,
                self.label
            );
            let _ = err.flush();
            return;
        }
        let mut last = self
            .last_line
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.elapsed() >= PLAIN_EVERY {
            *last = Instant::now();
            let _ = writeln!(
                err,
                "{done}/{} {} after {elapsed} s",
                self.total, self.label
            );
        }
    }

    /// Clears the bar (the summary printed next takes its place).
    pub fn finish(&self) {
        if self.terminal {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        }
    }
}
