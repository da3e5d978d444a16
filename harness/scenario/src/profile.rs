//! The profiles of MMTP cases: whose behaviour a case checks, the original implementation's
//! or the stricter reading of DESIGN.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Whose behaviour an MMTP case checks: `compat`, what the original JavaScript implementation
/// does (run in both profiles); `strict`, a decision of DESIGN beyond it (run only in the
/// strict profile, the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// `compat`: what the original JavaScript server does too; such a case looks only at what
    /// the original promises (`status`, its message texts), never at DESIGN's error `code`s.
    Compat,
    /// `strict`: a DESIGN decision beyond the original. As a run's profile (the default), it
    /// runs every case.
    #[default]
    Strict,
}

impl Profile {
    /// Whether a run in this profile includes a case marked `case_profile`: strict runs
    /// everything, compat the cases marked compat and those with no profile (SMTP, VMTP).
    pub fn includes(self, case_profile: Option<Profile>) -> bool {
        match self {
            Self::Strict => true,
            Self::Compat => case_profile != Some(Profile::Strict),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Compat => "compat",
            Self::Strict => "strict",
        })
    }
}

impl std::str::FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "compat" => Ok(Self::Compat),
            "strict" => Ok(Self::Strict),
            _ => Err(format!("expected compat or strict, got {s:?}")),
        }
    }
}
