//! Baselines: the failures a target is known to have, each with its reason, so a CI gate
//! fails only on new ones. A listed case that passes now is reported (and fails the gate), so
//! the file cannot go stale.
//!
//! ```yaml
//! # baselines/aiosmtpd.yaml: case id -> why it fails
//! smtp-pipelining-advertised: aiosmtpd 1.4 does not advertise PIPELINING
//! smtp-data-trace-fields: aiosmtpd stores the content without trace fields
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::runner::{BaselineMark, CaseResult, Verdict};

#[derive(Clone, Debug, Default)]
pub struct Baseline {
    /// Case id to reason.
    pub entries: BTreeMap<String, String>,
}

#[derive(Debug)]
#[non_exhaustive]
pub enum BaselineError {
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    Syntax {
        path: PathBuf,
        message: String,
    },
}

impl fmt::Display for BaselineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, error } => write!(f, "{}: {error}", path.display()),
            Self::Syntax { path, message } => write!(f, "{}: {message}", path.display()),
        }
    }
}

impl std::error::Error for BaselineError {}

/// A baseline entry that no longer describes the target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StaleEntry {
    pub id: String,
    pub reason: String,
    /// What is wrong with the entry.
    pub problem: String,
}

impl Baseline {
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let text = std::fs::read_to_string(path).map_err(|error| BaselineError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        Self::parse(&text).map_err(|message| BaselineError::Syntax {
            path: path.to_path_buf(),
            message,
        })
    }

    /// A YAML mapping of case id to reason (an empty file is an empty baseline).
    pub fn parse(text: &str) -> Result<Baseline, String> {
        if text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            return Ok(Baseline::default());
        }
        let entries: BTreeMap<String, String> =
            serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        Ok(Baseline { entries })
    }

    /// Marks the results the baseline lists and returns its stale entries: listed cases that
    /// now pass, and ids no case has (`known_ids`: every case in the suite, filtered or not).
    pub fn apply(
        &self,
        results: &mut [CaseResult],
        known_ids: &BTreeSet<String>,
    ) -> Vec<StaleEntry> {
        let mut stale = Vec::new();
        for result in results.iter_mut() {
            let Some(reason) = self.entries.get(&result.id) else {
                continue;
            };
            match result.verdict {
                Verdict::Fail | Verdict::Warn => {
                    result.baseline = Some(BaselineMark::ExpectedFailure(reason.clone()));
                }
                Verdict::Pass | Verdict::Unsupported => {
                    result.baseline = Some(BaselineMark::NowPasses(reason.clone()));
                    stale.push(StaleEntry {
                        id: result.id.clone(),
                        reason: reason.clone(),
                        problem: format!("now {}: remove it from the baseline", result.verdict),
                    });
                }
                Verdict::Skip | Verdict::Error => {}
            }
        }
        for (id, reason) in &self.entries {
            if !known_ids.contains(id) {
                stale.push(StaleEntry {
                    id: id.clone(),
                    reason: reason.clone(),
                    problem: "no case has this id".into(),
                });
            }
        }
        stale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_tolerates_empty_files() {
        let b = Baseline::parse("# none yet\n").unwrap();
        assert!(b.entries.is_empty());
        let b = Baseline::parse("smtp-a: reason one\nsmtp-b: \"reason: two\"\n").unwrap();
        assert_eq!(b.entries["smtp-b"], "reason: two");
        assert!(Baseline::parse("- a\n- b\n").is_err());
    }
}
