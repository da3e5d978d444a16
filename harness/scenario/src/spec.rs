//! SPEC.md, read mechanically: the requirement tables under `## SECTION: title` headings in
//! `# PART` parts, the `# Consequences` table that says what breaking a requirement lets
//! happen (the order in which reports list findings), and the coverage of those requirements
//! by the scenarios.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{Case, Level, is_spec_id, section_of};

/// A requirement's level as SPEC.md writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SpecLevel {
    /// `MUST`: a case citing it may be `must`.
    Must,
    /// `SHOULD`: a case citing only such requirements is at most `should`.
    Should,
    /// `MAY`: a case citing only such requirements is `may`.
    May,
    /// Kept in the table so the ID is never reused.
    Withdrawn,
}

impl fmt::Display for SpecLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Must => "MUST",
            Self::Should => "SHOULD",
            Self::May => "MAY",
            Self::Withdrawn => "WITHDRAWN",
        })
    }
}

/// One row of a requirement table: `| ID | Level | Requirement | Source | RFC text |`.
#[derive(Clone, Debug, Serialize)]
pub struct Requirement {
    /// The requirement ID (`SMTP-DATA-3`), unique in SPEC.md; what cases cite in `spec`.
    pub id: String,
    /// The `Level` column. A row whose level is not MUST, SHOULD or MAY and that says
    /// withdrawn (in the level or the text) is [`Withdrawn`](SpecLevel::Withdrawn).
    pub level: SpecLevel,
    /// The `Requirement` column: what the server must do, as reports show it.
    pub text: String,
    /// The `Source` column: where the requirement comes from, an RFC section
    /// (`RFC 5321 §4.1.1.4`), a seed document (`seed MMTP spec`), and/or `DESIGN`; exactly
    /// `DESIGN` is the reference's own decision (see [`is_design_only`](Self::is_design_only)).
    pub source: String,
    /// The RFC sentence the level comes from (the `RFC text` column; SMTP tables have it),
    /// or `—` for the reference's own design choices.
    pub quote: String,
    /// `SMTP-DATA` for `SMTP-DATA-3`.
    pub section: String,
    /// 1-based line in SPEC.md.
    pub line: usize,
}

impl SpecLevel {
    /// The case level a requirement of this level supports (withdrawn: MAY).
    pub fn as_case_level(self) -> Level {
        match self {
            Self::Must => Level::Must,
            Self::Should => Level::Should,
            Self::May | Self::Withdrawn => Level::May,
        }
    }
}

impl Requirement {
    /// Only the reference's own design decision: no RFC or seed behind it.
    pub fn is_design_only(&self) -> bool {
        self.source.trim().eq_ignore_ascii_case("DESIGN")
    }

    /// A robustness requirement (the `# ROBUST` part): at most SHOULD against any target,
    /// whatever its row says, since the RFCs set few hard limits there.
    pub fn is_robustness(&self) -> bool {
        self.id.starts_with(ROBUST_PREFIX)
    }

    /// Whether the quoted RFC sentence carries the row's level (RFC 2119 keywords, in
    /// capitals): MUST needs MUST, MUST NOT, SHALL or REQUIRED; SHOULD needs SHOULD or
    /// RECOMMENDED, or a lowercase "must" or "shall" of an RFC written without RFC 2119's
    /// capitals ([`UNCAPITALISED_RFCS`]). `Err` says what is missing.
    pub fn quote_supports_level(&self) -> Result<(), String> {
        let has = |words: &[&str]| words.iter().any(|w| contains_word(&self.quote, w));
        let uncapitalised = UNCAPITALISED_RFCS
            .iter()
            .any(|rfc| self.quote.starts_with(rfc))
            && has(&["must", "shall", "should"]);
        match self.level {
            SpecLevel::Must if !has(&["MUST", "SHALL", "REQUIRED"]) => Err(format!(
                "{} is MUST, but its RFC text has no MUST, SHALL or REQUIRED: {:?}",
                self.id, self.quote
            )),
            SpecLevel::Should
                if !uncapitalised
                    && !has(&["SHOULD", "RECOMMENDED", "MUST", "SHALL", "REQUIRED"]) =>
            {
                Err(format!(
                    "{} is SHOULD, but its RFC text has no SHOULD or RECOMMENDED: {:?}",
                    self.id, self.quote
                ))
            }
            _ => Ok(()),
        }
    }
}

/// The ID prefix of the `# ROBUST` part's requirements.
pub const ROBUST_PREFIX: &str = "ROBUST-";

/// RFCs that state their requirements without RFC 2119's capitalised keywords: a lowercase
/// "must" or "shall" in them supports a SHOULD (SPEC.md, the conventions).
pub const UNCAPITALISED_RFCS: [&str; 4] = ["RFC 1870", "RFC 2034", "RFC 3463", "RFC 6152"];

/// `word` in capitals as a whole word of `text`.
fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// A `## NAME: title` heading of SPEC.md, within a `# PART`.
#[derive(Clone, Debug, Serialize)]
pub struct Section {
    /// The part and the heading's name joined: `SMTP-DATA` for `## DATA:` under `# SMTP`;
    /// the prefix of its requirement IDs.
    pub id: String,
    /// The heading's text after the colon (`Mail data`).
    pub title: String,
}

/// One row of SPEC.md's `# Consequences` table: what breaking its requirements lets happen.
/// Rows are in order of seriousness, the first the most serious.
#[derive(Clone, Debug, Serialize)]
pub struct Consequence {
    /// `smuggling`, `relay`, `injection`, `authentication`, `lost mail`.
    pub name: String,
    /// The `What a failure lets happen` column, shown beside the cases in reports.
    pub description: String,
    /// The requirement IDs of the `Requirements` column; each is a requirement of SPEC.md and
    /// under no other consequence.
    pub requirements: Vec<String>,
    /// 1-based line in SPEC.md.
    pub line: usize,
}

/// The part of SPEC.md that holds the consequences table.
const CONSEQUENCES_PART: &str = "Consequences";

/// The parsed SPEC.md.
#[derive(Clone, Debug, Default)]
pub struct Spec {
    /// Every requirement row, in SPEC.md order.
    pub requirements: Vec<Requirement>,
    /// Every `## NAME: title` section heading, in SPEC.md order.
    pub sections: Vec<Section>,
    /// Most serious first.
    pub consequences: Vec<Consequence>,
    by_id: BTreeMap<String, usize>,
}

/// Why SPEC.md could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum SpecError {
    /// The file could not be read.
    Io {
        /// The path given to [`Spec::load`].
        path: PathBuf,
        /// What the operating system reported.
        error: std::io::Error,
    },
    /// A table row is malformed: an unknown level, an ID listed twice, a consequence row
    /// without 3 cells or naming an unknown or already listed requirement.
    Row {
        /// The 1-based line of the row in SPEC.md.
        line: usize,
        /// What is wrong with it, naming the ID.
        message: String,
    },
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, error } => write!(f, "{}: {error}", path.display()),
            Self::Row { line, message } => write!(f, "SPEC.md line {line}: {message}"),
        }
    }
}

impl std::error::Error for SpecError {}

impl Spec {
    /// Reads and parses the SPEC.md at `path` (see [`Spec::parse`]).
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|error| SpecError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        Spec::parse(&text)
    }

    /// Parses SPEC.md text: `# PART` and `## NAME: title` headings, every table row whose
    /// first cell is a requirement ID, and the rows of the `# Consequences` table. Other text
    /// is ignored.
    pub fn parse(text: &str) -> Result<Spec, SpecError> {
        let mut spec = Spec::default();
        let mut part = String::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            if let Some(title) = line.strip_prefix("# ") {
                part = title.trim().to_string();
            } else if let Some(heading) = line.strip_prefix("## ") {
                if let Some((name, title)) = heading.split_once(':') {
                    let name = name.trim();
                    if !name.is_empty()
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                    {
                        spec.sections.push(Section {
                            id: format!("{part}-{name}"),
                            title: title.trim().to_string(),
                        });
                    }
                }
            } else if line.trim_start().starts_with('|') {
                let cells = split_row(line);
                if cells.first().is_some_and(|c| is_spec_id(c)) {
                    spec.add_row(&cells, line_no)?;
                } else if part == CONSEQUENCES_PART {
                    spec.add_consequence(&cells, line_no)?;
                }
            }
        }
        spec.check_consequences()?;
        Ok(spec)
    }

    /// A row of the consequences table (its header and separator rows are skipped).
    fn add_consequence(&mut self, cells: &[String], line: usize) -> Result<(), SpecError> {
        let [name, description, requirements] = cells else {
            return Err(SpecError::Row {
                line,
                message: format!(
                    "a consequence row has 3 cells (Consequence, What a failure lets happen, \
                     Requirements), not {}",
                    cells.len()
                ),
            });
        };
        if name == "Consequence" || name.starts_with("---") {
            return Ok(());
        }
        self.consequences.push(Consequence {
            name: name.clone(),
            description: description.clone(),
            requirements: requirements
                .split(',')
                .map(|id| id.trim().to_string())
                .filter(|id| !id.is_empty())
                .collect(),
            line,
        });
        Ok(())
    }

    /// Every ID in the consequences table is a requirement, listed under one consequence.
    fn check_consequences(&self) -> Result<(), SpecError> {
        let mut seen = BTreeMap::new();
        for consequence in &self.consequences {
            for id in &consequence.requirements {
                let problem = if self.get(id).is_none() {
                    Some(format!(
                        "consequence {:?} lists {id}, which is not a requirement",
                        consequence.name
                    ))
                } else {
                    seen.insert(id.as_str(), consequence.name.as_str())
                        .map(|first| {
                            format!(
                                "{id} is under two consequences, {first:?} and {:?}",
                                consequence.name
                            )
                        })
                };
                if let Some(message) = problem {
                    return Err(SpecError::Row {
                        line: consequence.line,
                        message,
                    });
                }
            }
        }
        Ok(())
    }

    /// The most serious consequence of breaking any of `ids`, with its rank (0 the most
    /// serious), or `None` when breaking them is only a departure from the protocol.
    pub fn consequence_of<'s>(&'s self, ids: &[String]) -> Option<(usize, &'s Consequence)> {
        self.consequences
            .iter()
            .enumerate()
            .find(|(_, c)| c.requirements.iter().any(|r| ids.contains(r)))
    }

    fn add_row(&mut self, cells: &[String], line: usize) -> Result<(), SpecError> {
        let row_error = |message: String| SpecError::Row { line, message };
        let id = cells[0].clone();
        let level_cell = cells.get(1).map(String::as_str).unwrap_or_default();
        let text = cells.get(2).cloned().unwrap_or_default();
        let level = match level_cell.to_ascii_uppercase().as_str() {
            "MUST" => SpecLevel::Must,
            "SHOULD" => SpecLevel::Should,
            "MAY" => SpecLevel::May,
            other
                if other.contains("WITHDRAWN")
                    || text.to_ascii_lowercase().contains("withdrawn") =>
            {
                SpecLevel::Withdrawn
            }
            other => return Err(row_error(format!("{id}: unknown level {other:?}"))),
        };
        if self.by_id.contains_key(&id) {
            return Err(row_error(format!("{id} is listed twice")));
        }
        self.by_id.insert(id.clone(), self.requirements.len());
        self.requirements.push(Requirement {
            section: section_of(&id).to_string(),
            id,
            level,
            text,
            source: cells.get(3).cloned().unwrap_or_default(),
            quote: cells.get(4).cloned().unwrap_or_default(),
            line,
        });
        Ok(())
    }

    /// The most a case citing `ids` can be against a target: the highest level among its
    /// requirements, where a requirement that is only the reference's own design decision
    /// (source `DESIGN`) binds nobody but the reference and counts as MAY elsewhere, and a
    /// robustness requirement counts as SHOULD at most. Unknown IDs (reported by the coverage
    /// check) do not lower it.
    pub fn level_ceiling(&self, ids: &[String], reference: bool) -> Level {
        ids.iter()
            .map(|id| match self.get(id) {
                None => Level::Must,
                Some(r) if r.is_design_only() && !reference => Level::May,
                Some(r) if r.is_robustness() => r.level.as_case_level().max(Level::Should),
                Some(r) => r.level.as_case_level(),
            })
            .min()
            .unwrap_or(Level::May)
    }

    /// Lowers each case's level to [`Spec::level_ceiling`]: a case never fails a target on a
    /// requirement of a lower level, nor another server on the reference's own choices.
    pub fn cap_levels(&self, cases: &mut [Case], reference: bool) {
        for case in cases {
            case.level = case.level.max(self.level_ceiling(&case.spec, reference));
        }
    }

    /// The requirement with this ID, if SPEC.md has it (exact, case-sensitive).
    pub fn get(&self, id: &str) -> Option<&Requirement> {
        self.by_id.get(id).map(|&i| &self.requirements[i])
    }

    /// The title of a section by its id (`Mail data` for `SMTP-DATA`).
    pub fn section_title(&self, section: &str) -> Option<&str> {
        self.sections
            .iter()
            .find(|s| s.id == section)
            .map(|s| s.title.as_str())
    }
}

/// Cells of a markdown table row, trimmed; `\|` is a literal bar.
fn split_row(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                if let Some(cell) = cells.last_mut() {
                    cell.push('|');
                }
            }
            '|' => cells.push(String::new()),
            c => {
                if let Some(cell) = cells.last_mut() {
                    cell.push(c);
                }
            }
        }
    }
    cells.into_iter().map(|c| c.trim().to_string()).collect()
}

/// Which scenarios cite each requirement.
#[derive(Clone, Debug, Serialize)]
pub struct Coverage {
    /// One row per requirement of SPEC.md, in SPEC.md order, withdrawn ones included.
    pub requirements: Vec<CoverageRow>,
    /// `(case id, cited ID)` for citations of IDs that SPEC.md does not have.
    pub unknown: Vec<(String, String)>,
}

/// One requirement and the cases that cite it (`mtpspec coverage`).
#[derive(Clone, Debug, Serialize)]
pub struct CoverageRow {
    /// The requirement ID.
    pub id: String,
    /// Its level in SPEC.md.
    pub level: SpecLevel,
    /// Its section (`SMTP-DATA`).
    pub section: String,
    /// The requirement's text.
    pub text: String,
    /// The ids of the cases citing it, in the order given; empty when none does.
    pub cases: Vec<String>,
}

impl Coverage {
    /// Coverage of `spec` by loaded scenario cases (their `spec` citations).
    pub fn new(spec: &Spec, cases: &[Case]) -> Coverage {
        Self::from_citations(spec, cases.iter().map(|c| (c.id.clone(), c.spec.clone())))
    }

    /// Coverage from any cases: each given as its id and the requirement IDs it cites (the
    /// server scenarios, the client scenarios of `serve-test` and the relay scenarios of
    /// `relay-test`).
    pub fn from_citations(
        spec: &Spec,
        cases: impl IntoIterator<Item = (String, Vec<String>)>,
    ) -> Coverage {
        let mut cited: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        let mut unknown = Vec::new();
        for (case, ids) in cases {
            for id in ids {
                match spec.get(&id) {
                    Some(requirement) => cited
                        .entry(requirement.id.as_str())
                        .or_default()
                        .push(case.clone()),
                    None => unknown.push((case.clone(), id)),
                }
            }
        }
        let requirements = spec
            .requirements
            .iter()
            .map(|r| CoverageRow {
                id: r.id.clone(),
                level: r.level,
                section: r.section.clone(),
                text: r.text.clone(),
                cases: cited.get(r.id.as_str()).cloned().unwrap_or_default(),
            })
            .collect();
        Coverage {
            requirements,
            unknown,
        }
    }

    /// Requirements no scenario cites (withdrawn ones excepted).
    pub fn uncovered(&self) -> impl Iterator<Item = &CoverageRow> {
        self.requirements
            .iter()
            .filter(|r| r.cases.is_empty() && r.level != SpecLevel::Withdrawn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "intro | not a row\n\n# SMTP\n\n## DATA: Mail data\n\n| ID | Level | Requirement | Source |\n| --- | --- | --- | --- |\n| SMTP-DATA-1 | MUST | DATA gets 354 \\| or not. | RFC 5321 §4.1.1.4 |\n| SMTP-DATA-2 | SHOULD | x | y |\n\n# VMTP\n\n## BATCH: BATCH\n\n| VMTP-BATCH-1 | MAY | z | DESIGN |\n";

    #[test]
    fn parses_tables() {
        let spec = Spec::parse(SPEC).unwrap();
        assert_eq!(spec.requirements.len(), 3);
        let r = spec.get("SMTP-DATA-1").unwrap();
        assert_eq!(r.level, SpecLevel::Must);
        assert_eq!(r.text, "DATA gets 354 | or not.");
        assert_eq!(r.section, "SMTP-DATA");
        assert_eq!(r.line, 9);
        assert_eq!(spec.section_title("VMTP-BATCH"), Some("BATCH"));
        assert_eq!(section_of("SMTP-DATA-3"), "SMTP-DATA");
    }

    #[test]
    fn quotes_must_carry_the_level() {
        let spec = Spec::parse(
            "| SMTP-A-1 | MUST | t | RFC 5321 §4.4 | §4.4: \"it MUST insert trace\" |\n\
             | SMTP-A-2 | MUST | t | RFC 5321 §4.1.1.11 | §4.1.1.11: \"will return code 555\" |\n\
             | SMTP-A-3 | SHOULD | t | RFC 5321 §3.2 | §3.2: \"SHOULD be able to fall back\" |\n\
             | SMTP-A-4 | SHOULD | t | RFC 5321 §3.2 | \"MUSTARD\" |\n\
             | SMTP-A-5 | MAY | t | DESIGN | — |\n",
        )
        .unwrap();
        let ok = |id: &str| spec.get(id).unwrap().quote_supports_level().is_ok();
        assert!(ok("SMTP-A-1"));
        assert!(!ok("SMTP-A-2"));
        assert!(ok("SMTP-A-3"));
        assert!(!ok("SMTP-A-4"), "a keyword inside a word does not count");
        assert!(ok("SMTP-A-5"));
        assert_eq!(
            spec.get("SMTP-A-1").unwrap().quote,
            "§4.4: \"it MUST insert trace\""
        );
    }

    #[test]
    fn design_decisions_bind_only_the_reference() {
        let spec = Spec::parse(
            "| VMTP-B-1 | MUST | t | DESIGN |\n| VMTP-B-2 | MUST | t | seed VMTP spec; DESIGN |\n\
             | VMTP-B-3 | SHOULD | t | RFC 5321 §3.2 |\n",
        )
        .unwrap();
        let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(spec.level_ceiling(&ids(&["VMTP-B-1"]), true), Level::Must);
        assert_eq!(spec.level_ceiling(&ids(&["VMTP-B-1"]), false), Level::May);
        assert_eq!(spec.level_ceiling(&ids(&["VMTP-B-2"]), false), Level::Must);
        assert_eq!(
            spec.level_ceiling(&ids(&["VMTP-B-1", "VMTP-B-3"]), false),
            Level::Should
        );
    }

    #[test]
    fn robustness_requirements_never_outrank_should() {
        let spec = Spec::parse(
            "| ROBUST-SMTP-1 | MUST | t | RFC 5321 §7.8 |\n| ROBUST-SMTP-2 | SHOULD | t | x |\n",
        )
        .unwrap();
        let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            spec.level_ceiling(&ids(&["ROBUST-SMTP-1"]), true),
            Level::Should
        );
        assert_eq!(
            spec.level_ceiling(&ids(&["ROBUST-SMTP-1"]), false),
            Level::Should
        );
        assert_eq!(
            spec.level_ceiling(&ids(&["ROBUST-SMTP-2"]), false),
            Level::Should
        );
    }

    #[test]
    fn consequences_are_read_in_order_and_must_name_requirements() {
        let table = "\n# Consequences\n\n| Consequence | What | Requirements |\n| --- | --- | --- |\n| smuggling | forged mail | SMTP-DATA-2 |\n| lost mail | gone | SMTP-DATA-1, VMTP-BATCH-1 |\n";
        let spec = Spec::parse(&format!("{SPEC}{table}")).unwrap();
        let names: Vec<&str> = spec.consequences.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["smuggling", "lost mail"]);
        let ids = |list: &[&str]| list.iter().map(ToString::to_string).collect::<Vec<_>>();
        let of = |list: &[&str]| {
            spec.consequence_of(&ids(list))
                .map(|(rank, c)| (rank, c.name.clone()))
        };
        assert_eq!(
            of(&["VMTP-BATCH-1", "SMTP-DATA-2"]),
            Some((0, "smuggling".into()))
        );
        assert_eq!(of(&["VMTP-BATCH-1"]), Some((1, "lost mail".into())));
        assert_eq!(of(&["SMTP-DATA-3"]), None);
        let unknown = table.replace("SMTP-DATA-2 |", "SMTP-DATA-9 |");
        let error = Spec::parse(&format!("{SPEC}{unknown}"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("SMTP-DATA-9, which is not a requirement"),
            "{error}"
        );
        let twice = table.replace("SMTP-DATA-1,", "SMTP-DATA-2,");
        let error = Spec::parse(&format!("{SPEC}{twice}"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("SMTP-DATA-2 is under two consequences"),
            "{error}"
        );
    }

    #[test]
    fn rejects_bad_levels_and_duplicates() {
        assert!(Spec::parse("| SMTP-X-1 | OFTEN | t | s |\n").is_err());
        assert!(Spec::parse("| SMTP-X-1 | MUST | t | s |\n| SMTP-X-1 | MUST | t | s |\n").is_err());
    }
}
