//! `--filter`: globs over case ids, the requirement IDs they cite and the spec sections of
//! those (`smtp-data-*`, `SMTP-SMUGGLING-*`, `VMTP-BATCH`). Case-insensitive; a case runs when
//! any glob matches any of its names.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::Case;

/// The case selection of `--filter`: a set of case-insensitive globs, or everything when none
/// was given.
#[derive(Clone, Debug)]
pub struct Filter {
    set: Option<GlobSet>,
}

impl Filter {
    /// Each pattern may hold several globs separated by commas. No patterns: everything.
    pub fn new(patterns: &[String]) -> Result<Filter, globset::Error> {
        let globs: Vec<&str> = patterns
            .iter()
            .flat_map(|p| p.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if globs.is_empty() {
            return Ok(Filter { set: None });
        }
        let mut builder = GlobSetBuilder::new();
        for glob in globs {
            builder.add(GlobBuilder::new(glob).case_insensitive(true).build()?);
        }
        Ok(Filter {
            set: Some(builder.build()?),
        })
    }

    /// Whether `case` is selected: a glob matches its id, a requirement ID it cites, or the
    /// section of one (see [`matches_cited`](Self::matches_cited)).
    pub fn matches(&self, case: &Case) -> bool {
        self.matches_cited(&case.id, &case.spec)
    }

    /// Whether a case with this id, citing these requirement IDs, is selected: by its id, an
    /// ID it cites, or the section of one (`SMTP-DATA` for `SMTP-DATA-3`).
    pub fn matches_cited<S: AsRef<str>>(&self, id: &str, spec: &[S]) -> bool {
        let Some(set) = &self.set else { return true };
        set.is_match(id)
            || spec.iter().any(|cited| {
                let cited = cited.as_ref();
                set.is_match(cited) || set.is_match(super::section_of(cited))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn matches_ids_requirements_and_sections() {
        let cases = super::super::load_str(
            "- id: smtp-data-x\n  title: t\n  spec: [SMTP-DATA-3, SMTP-SMUGGLING-1]\n  level: must\n  steps: [ehlo]\n",
            Path::new("f.yaml"),
        )
        .unwrap();
        let case = &cases[0];
        let hit = |globs: &[&str]| {
            let globs: Vec<String> = globs.iter().map(|g| g.to_string()).collect();
            Filter::new(&globs).unwrap().matches(case)
        };
        assert!(hit(&[]));
        assert!(hit(&["smtp-data-*"]));
        assert!(hit(&["SMTP-SMUGGLING-*"]));
        assert!(hit(&["smtp-smuggling"]));
        assert!(hit(&["vmtp-*,SMTP-DATA"]));
        assert!(!hit(&["vmtp-*"]));
        assert!(!hit(&["SMTP-DATA-4"]));
    }
}
