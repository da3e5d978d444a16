//! Baselines: the failures a target is known to have, each with its reason, so a CI gate
//! fails only on new ones. A listed case that passes now is reported (and fails the gate), so
//! the file cannot go stale.
//!
//! ```yaml
//! # baselines/aiosmtpd.yaml: case id -> why it fails
//! smtp-pipelining-advertised: aiosmtpd 1.4 does not advertise PIPELINING
//! smtp-data-trace-fields: aiosmtpd stores the content without trace fields
//! # or, when the server has a setting that fixes it, the setting as its remedy:
//! smtp-smuggling-lf-dot-lf:
//!   reason: <LF>.<LF> ends the data
//!   remedy: "Postfix: smtpd_forbid_bare_newline = normalize"
//! ```
//!
//! The reports show a remedy beside its finding, so that an operator reads the server's own
//! setting, not the harness's.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use mtpspec_report::verdict::StaleEntry;

use crate::runner::{BaselineMark, CaseResult, Verdict};

/// A target's known failures (`--baseline FILE`); the default is empty, excusing nothing.
#[derive(Clone, Debug, Default)]
pub struct Baseline {
    /// Case id to its entry.
    pub entries: BTreeMap<String, Entry>,
}

/// Why a listed case fails, and the server's own setting that fixes it, when one does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Why the case fails on this target (the reports show it as the expected failure's
    /// reason).
    pub reason: String,
    /// The server's setting that fixes it (`remedy:`), shown beside the finding; `None` when
    /// the entry gives only a reason.
    pub remedy: Option<String>,
}

/// An entry as written: the reason alone, or a mapping with `reason` and `remedy`.
#[derive(Deserialize)]
#[serde(untagged)]
enum EntryText {
    Reason(String),
    Full(FullEntry),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FullEntry {
    reason: String,
    remedy: Option<String>,
}

impl From<EntryText> for Entry {
    fn from(text: EntryText) -> Entry {
        match text {
            EntryText::Reason(reason) => Entry {
                reason,
                remedy: None,
            },
            EntryText::Full(FullEntry { reason, remedy }) => Entry { reason, remedy },
        }
    }
}

/// Why a baseline file could not be loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum BaselineError {
    /// The file could not be read.
    Io {
        /// The baseline file.
        path: PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The file is not a YAML mapping of case id to entry.
    Syntax {
        /// The baseline file.
        path: PathBuf,
        /// What is wrong, with the form entries take.
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

impl Baseline {
    /// Reads and parses the baseline file at `path` ([`Baseline::parse`]).
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
        let entries: BTreeMap<String, EntryText> = serde_saphyr::from_str(text).map_err(|e| {
            format!("{e} (each entry is `case-id: reason`, or `case-id:` with `reason:` and `remedy:` under it)")
        })?;
        Ok(Baseline {
            entries: entries.into_iter().map(|(id, e)| (id, e.into())).collect(),
        })
    }

    /// Case id to remedy, for the entries that have one.
    pub fn remedies(&self) -> BTreeMap<String, String> {
        self.entries
            .iter()
            .filter_map(|(id, e)| Some((id.clone(), e.remedy.clone()?)))
            .collect()
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
            let Some(Entry { reason, .. }) = self.entries.get(&result.id) else {
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
        for (id, Entry { reason, .. }) in &self.entries {
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
        assert_eq!(b.entries["smtp-b"].reason, "reason: two");
        assert!(Baseline::parse("- a\n- b\n").is_err());
    }

    #[test]
    fn an_entry_may_name_the_remedy() {
        let b = Baseline::parse(
            "smtp-a: plain reason\nsmtp-b:\n  reason: bare LF ends the data\n  remedy: \"Postfix: smtpd_forbid_bare_newline = normalize\"\n",
        )
        .unwrap();
        assert_eq!(b.entries["smtp-a"].remedy, None);
        assert_eq!(b.entries["smtp-b"].reason, "bare LF ends the data");
        assert_eq!(
            b.remedies(),
            BTreeMap::from([(
                "smtp-b".to_string(),
                "Postfix: smtpd_forbid_bare_newline = normalize".to_string()
            )])
        );
        let typo = Baseline::parse("smtp-b:\n  reason: r\n  remedie: x\n").unwrap_err();
        assert!(typo.contains("`reason:` and `remedy:`"), "{typo}");
    }
}
