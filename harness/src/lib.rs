//! The mtpspec harness: scenarios, targets, the runner, verdicts and reports.
