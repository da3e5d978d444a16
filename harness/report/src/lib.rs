//! The report schema of mtpspec and its renderings. The schema: what one run found
//! ([`RunReport`]: each case's [`verdict::CaseResult`] with its wire log, the target's
//! [`capabilities::Capabilities`], the robustness results, baseline marks, findings), written
//! and read back as versioned JSON ([`json`]). The renderings: terminal, JUnit XML, Markdown,
//! and the HTML page comparing several runs side by side. Also the gate: the exit code a CI job
//! relies on. The runner (`mtpspec-runner`) produces these results; nothing here runs a case.
//!
//! Exit codes: 0 every MUST passed (and, with `--strict`, every SHOULD); 1 a MUST failed (or a
//! SHOULD with `--strict`, or a baseline entry is stale); 2 usage or scenario error (before
//! anything ran); 3 harness or target error (an ERROR verdict, or the target could not be
//! reached at all) when nothing failed.

#![warn(missing_docs, unreachable_pub)]

pub mod capabilities;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod millis;
pub mod robustness;
pub mod robustness_result;
pub mod terminal;
pub mod transcript;
pub mod verdict;
pub mod wire;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::capabilities::Capabilities;
use crate::robustness_result::RobustnessResult;
use crate::verdict::StaleEntry;
use crate::verdict::{CaseResult, Verdict};
use mtpspec_scenario::spec::Spec;

/// The JSON schema's name and version; bump the version on any incompatible change.
pub const SCHEMA: &str = "mtpspec-report";
/// Version 2: `failure.step` counts from 1, as every text report does (it counted from 0);
/// added `address`, `findings` and a requirement's `consequence`. Version 3: added
/// `failure.observed`, what the target did as data ([`verdict::Observed`]).
pub const SCHEMA_VERSION: u32 = 3;

/// What the gate decided: the report's `gate` (`passed`, `failed`, `harness_error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    /// `passed` (exit 0): every MUST passed (with `--strict`, every SHOULD too), or failed as
    /// the baseline expects.
    Passed,
    /// `failed` (exit 1): a case counts against the gate ([`CaseResult::is_gate_failure`]), a
    /// robustness case WARNed under `--strict`, or a baseline entry is stale.
    Failed,
    /// `harness_error` (exit 3): nothing failed, but at least one case is ERROR.
    HarnessError,
}

impl Gate {
    /// The exit code `mtpspec run` ends with for this decision: 0, 1 or 3 (2, a usage or
    /// scenario error, is decided before anything runs).
    pub fn exit_code(self) -> u8 {
        match self {
            Gate::Passed => 0,
            Gate::Failed => 1,
            Gate::HarnessError => 3,
        }
    }
}

/// A requirement a case cites, quoted from SPEC.md: the value of `requirements` under the
/// requirement's id (`SMTP-DATA-3`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RequirementRef {
    /// SPEC.md's level for it: `MUST`, `SHOULD`, `MAY` or `WITHDRAWN`.
    pub level: String,
    /// What the server must do, as SPEC.md's `Requirement` column words it.
    pub text: String,
    /// The id of its spec section (`SMTP-DATA`), a key of `sections`' `section`.
    pub section: String,
    /// The RFC sentence the level comes from (SPEC.md's `RFC text` column), when it has one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rfc_text: String,
    /// What breaking it lets happen (SPEC.md's `# Consequences` table), when that is worse
    /// than a departure from the protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consequence: Option<String>,
}

/// One FAIL, WARN or ERROR, in the order the reports list them: most serious first. First
/// the cases with a consequence (SPEC.md's `# Consequences` order: smuggling, relay,
/// injection, authentication, lost mail), then the other FAILs (a MUST broken), then the
/// other WARNs (a SHOULD broken), then ERRORs (the harness or network failed); in file order
/// within each.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Finding {
    /// The case's id (`cases[].id`).
    pub case: String,
    /// The case's verdict: `FAIL`, `WARN` or `ERROR`.
    pub verdict: Verdict,
    /// The name of the worst consequence (SPEC.md's `# Consequences` table: `smuggling`,
    /// `relay`, ...) among the requirements the case cites; absent when none has one, or when
    /// the run had no SPEC.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consequence: Option<String>,
    /// Excused by the baseline: listed, but not counted against the gate.
    pub expected_failure: bool,
    /// The server's own setting that fixes it, from the baseline (`remedy:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
}

impl Finding {
    /// Its consequence, or else what was broken: `smuggling`, `MUST`, `SHOULD`, `ERROR`.
    pub fn kind(&self) -> &str {
        match (&self.consequence, self.verdict) {
            (_, Verdict::Error) => "ERROR",
            (Some(consequence), _) => consequence,
            (None, Verdict::Fail) => "MUST",
            (None, _) => "SHOULD",
        }
    }
}

/// The report's `summary`: counts over the scenario cases (`cases`), not the robustness
/// cases. Every key defaults to 0 (or empty) when absent.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// How many scenario cases ran (the length of `cases`).
    pub total: usize,
    /// Verdict (`PASS`, `FAIL`, `WARN`, `UNSUPPORTED`, `SKIP`, `ERROR`) to its number of
    /// cases; every verdict is present, with 0 when no case got it.
    pub counts: BTreeMap<Verdict, usize>,
    /// FAIL/WARN results excused by the baseline.
    pub expected_failures: usize,
    /// Cases that hit their deadline (`timed_out` in `cases`).
    pub timed_out: usize,
}

/// Verdict counts of one spec section.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SectionSummary {
    /// The section's id (`SMTP-DATA`): the requirement ids it holds start with it.
    pub section: String,
    /// Its title in SPEC.md (`Mail data`); empty when the run had no SPEC.md or SPEC.md lacks
    /// the section.
    pub title: String,
    /// Verdict to the number of cases citing a requirement of this section; only the verdicts
    /// some case got.
    pub counts: BTreeMap<Verdict, usize>,
}

/// The report's `tool`: what wrote it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ToolInfo {
    /// Always `mtpspec`.
    pub name: String,
    /// The version of mtpspec that ran (`0.1.0`).
    pub version: String,
}

/// Everything about one run: the JSON report's schema, written by `mtpspec run
/// --report-json` and read back by `mtpspec compare --from-json` ([`json::from_str`]).
/// Fields added after version 1 default when a version 1 report is read.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    /// Always [`SCHEMA`], `mtpspec-report`: what the document is.
    pub schema: String,
    /// The schema version written ([`SCHEMA_VERSION`]); a report read back with
    /// [`json::from_str`] is brought up to date and holds this build's version.
    pub schema_version: u32,
    /// The program and version that wrote the report.
    pub tool: ToolInfo,
    /// The target's name (`--target-name`, or its address).
    pub target: String,
    /// The target as given (`smtp://127.0.0.1:2525`, `embedded`, ...).
    #[serde(default)]
    pub address: String,
    /// When the run started, RFC 3339 in UTC (`2026-11-22T22:05:19Z`).
    pub started_at: String,
    /// `duration_ms`: how long the cases and robustness cases took, in whole milliseconds
    /// (probing the target not included).
    #[serde(with = "crate::millis", rename = "duration_ms")]
    pub duration: Duration,
    /// Run with `--strict`: a WARN counts against the gate like a FAIL (false when absent).
    #[serde(default)]
    pub strict: bool,
    /// What the gate decided: `passed`, `failed` or `harness_error`.
    pub gate: Gate,
    /// The exit code the run ended with: 0, 1 or 3, from `gate` ([`Gate::exit_code`]).
    pub exit_code: u8,
    /// Counts over `cases`.
    pub summary: Summary,
    /// Every FAIL, WARN and ERROR among `cases`, most serious first (see [`Finding`]).
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Verdict counts per spec section: a case counts once in each section it cites, so the
    /// sections' counts add up to more than the cases.
    #[serde(default)]
    pub sections: Vec<SectionSummary>,
    /// What probing found the target to offer: its greeting, its EHLO keywords before and
    /// after STARTTLS, its MMTP welcome. Empty when absent.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// The SPEC.md requirements the cases cite (when SPEC.md was found).
    #[serde(default)]
    pub requirements: BTreeMap<String, RequirementRef>,
    /// The baseline entries that no longer describe the target (the case passes now, or no
    /// case has the id); each fails the gate. Empty when absent.
    #[serde(default)]
    pub stale_baseline: Vec<StaleEntry>,
    /// Every scenario case's result, with its failure and wire log, in file order (the order
    /// the scenarios were loaded, whatever order they ran in).
    pub cases: Vec<CaseResult>,
    /// The robustness cases (harness/runner/src/robustness), run after `cases`; not counted in
    /// `summary` or `sections`, which are about the scenarios.
    #[serde(default)]
    pub robustness: Vec<RobustnessResult>,
}

/// What a report is built from.
pub struct ReportInput<'a> {
    /// The target's name (`--target-name`, or its address): the report's `target`.
    pub target: String,
    /// The target as given (`smtp://127.0.0.1:2525`): the report's `address`.
    pub address: String,
    /// When the run started: `started_at`.
    pub started: SystemTime,
    /// How long the run took: `duration_ms`.
    pub duration: Duration,
    /// `--strict`: a WARN counts against the gate.
    pub strict: bool,
    /// What probing found.
    pub capabilities: Capabilities,
    /// The scenario cases' results, baseline marks applied, in the order to report them.
    pub cases: Vec<CaseResult>,
    /// SPEC.md, when found: the cited requirements' text, the sections' titles and order, and
    /// the findings' consequences come from it.
    pub spec: Option<&'a Spec>,
    /// The stale baseline entries (from applying the baseline); each fails the gate.
    pub stale_baseline: Vec<StaleEntry>,
    /// Case id to the server's setting that fixes it (the baseline's remedies).
    pub remedies: BTreeMap<String, String>,
}

impl RunReport {
    /// Builds the report of a run: counts the verdicts, decides the gate, quotes the cited
    /// requirements and ranks the findings. It has no robustness results until
    /// [`RunReport::with_robustness`].
    pub fn new(input: ReportInput<'_>) -> RunReport {
        let mut summary = Summary {
            total: input.cases.len(),
            ..Summary::default()
        };
        for v in Verdict::ALL {
            summary.counts.insert(v, 0);
        }
        for case in &input.cases {
            *summary.counts.entry(case.verdict).or_default() += 1;
            if matches!(
                case.baseline,
                Some(crate::verdict::BaselineMark::ExpectedFailure(_))
            ) {
                summary.expected_failures += 1;
            }
            summary.timed_out += usize::from(case.timed_out);
        }
        let gate = gate(&input.cases, input.strict, &input.stale_baseline);
        let requirements = requirement_refs(&input.cases, input.spec);
        RunReport {
            schema: SCHEMA.to_string(),
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo {
                name: "mtpspec".to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
            target: input.target,
            address: input.address,
            started_at: mtpspec_scenario::vars::rfc3339(input.started),
            duration: input.duration,
            strict: input.strict,
            gate,
            exit_code: gate.exit_code(),
            summary,
            findings: findings(&input.cases, input.spec, &input.remedies),
            sections: sections(&input.cases, input.spec),
            capabilities: input.capabilities,
            requirements,
            stale_baseline: input.stale_baseline,
            cases: input.cases,
            robustness: Vec::new(),
        }
    }

    /// Adds the robustness cases' results. They are SHOULD at most: with `--strict` a WARN
    /// among them fails the gate like any other.
    pub fn with_robustness(mut self, results: Vec<RobustnessResult>) -> RunReport {
        let warned = results.iter().any(|r| r.verdict == Verdict::Warn);
        if self.strict && warned && self.gate != Gate::Failed {
            self.gate = Gate::Failed;
            self.exit_code = self.gate.exit_code();
        }
        self.robustness = results;
        self
    }

    /// How many robustness cases got `verdict`.
    pub fn robustness_count(&self, verdict: Verdict) -> usize {
        self.robustness
            .iter()
            .filter(|r| r.verdict == verdict)
            .count()
    }

    /// How many scenario cases got `verdict` (from `summary.counts`).
    pub fn count(&self, verdict: Verdict) -> usize {
        self.summary.counts.get(&verdict).copied().unwrap_or(0)
    }

    /// The findings with their cases, most serious first.
    pub fn finding_cases(&self) -> impl Iterator<Item = (&Finding, &CaseResult)> {
        self.findings
            .iter()
            .filter_map(|f| Some((f, self.cases.iter().find(|c| c.id == f.case)?)))
    }

    /// What the gate decided, in words: `PASSED: every MUST passed`, `FAILED: 3 case(s)
    /// failed, 0 stale baseline entries`, ...
    pub fn gate_text(&self) -> String {
        match self.gate {
            Gate::Passed => {
                let passed = if self.strict {
                    "every MUST and SHOULD passed"
                } else {
                    "every MUST passed"
                };
                match self.summary.expected_failures {
                    0 => format!("PASSED: {passed}"),
                    n => format!("PASSED: {passed} but the {n} expected failures of the baseline"),
                }
            }
            Gate::Failed => {
                let robustness = if self.strict {
                    self.robustness_count(Verdict::Warn)
                } else {
                    0
                };
                let n = self
                    .cases
                    .iter()
                    .filter(|c| c.is_gate_failure(self.strict))
                    .count()
                    + robustness;
                format!(
                    "FAILED: {n} case(s) failed, {} stale baseline entries",
                    self.stale_baseline.len()
                )
            }
            Gate::HarnessError => {
                "ERROR: the harness or the network failed; no failure was found".into()
            }
        }
    }

    /// One line that counts the findings by kind: `7 smuggling, 3 MUST broken, 2 SHOULD
    /// broken, 1 ERROR`, or `none` (expected failures included, and said so).
    pub fn findings_line(&self) -> String {
        let mut parts: Vec<(String, usize)> = Vec::new();
        for f in &self.findings {
            let kind = match f.kind() {
                "MUST" | "SHOULD" => format!("{} broken", f.kind()),
                kind => kind.to_string(),
            };
            match parts.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, n)) => *n += 1,
                None => parts.push((kind, 1)),
            }
        }
        if parts.is_empty() {
            return "none".to_string();
        }
        let mut line: Vec<String> = parts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let expected = self.findings.iter().filter(|f| f.expected_failure).count();
        if expected > 0 {
            line.push(format!("of which {expected} expected (baseline)"));
        }
        line.join(", ")
    }
}

/// The gate over a set of results (see the module documentation for the exit codes).
pub fn gate(cases: &[CaseResult], strict: bool, stale: &[StaleEntry]) -> Gate {
    if cases.iter().any(|c| c.is_gate_failure(strict)) || !stale.is_empty() {
        Gate::Failed
    } else if cases.iter().any(|c| c.verdict == Verdict::Error) {
        Gate::HarnessError
    } else {
        Gate::Passed
    }
}

fn requirement_refs(cases: &[CaseResult], spec: Option<&Spec>) -> BTreeMap<String, RequirementRef> {
    let Some(spec) = spec else {
        return BTreeMap::new();
    };
    cases
        .iter()
        .flat_map(|c| &c.spec)
        .filter_map(|id| {
            let r = spec.get(id)?;
            Some((
                id.clone(),
                RequirementRef {
                    level: r.level.to_string(),
                    text: r.text.clone(),
                    section: r.section.clone(),
                    rfc_text: r.quote.clone(),
                    consequence: spec
                        .consequence_of(std::slice::from_ref(id))
                        .map(|(_, c)| c.name.clone()),
                },
            ))
        })
        .collect()
}

/// The FAIL, WARN and ERROR results, most serious first (see [`Finding`]).
fn findings(
    cases: &[CaseResult],
    spec: Option<&Spec>,
    remedies: &BTreeMap<String, String>,
) -> Vec<Finding> {
    let mut ranked: Vec<((u8, usize, bool), Finding)> = cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Warn | Verdict::Error))
        .map(|c| {
            let consequence = spec.and_then(|s| s.consequence_of(&c.spec));
            let rank = match (c.verdict, consequence) {
                (Verdict::Error, _) => (3, 0, false),
                (verdict, Some((rank, _))) => (0, rank, verdict != Verdict::Fail),
                (Verdict::Fail, None) => (1, 0, false),
                (_, None) => (2, 0, false),
            };
            let finding = Finding {
                case: c.id.clone(),
                verdict: c.verdict,
                consequence: consequence.map(|(_, c)| c.name.clone()),
                expected_failure: matches!(
                    c.baseline,
                    Some(crate::verdict::BaselineMark::ExpectedFailure(_))
                ),
                remedy: remedies.get(&c.id).cloned(),
            };
            (rank, finding)
        })
        .collect();
    // Stable: file order within a rank.
    ranked.sort_by_key(|(rank, _)| *rank);
    ranked.into_iter().map(|(_, f)| f).collect()
}

/// Verdict counts per cited section, in SPEC.md order (sections SPEC.md lacks come last).
fn sections(cases: &[CaseResult], spec: Option<&Spec>) -> Vec<SectionSummary> {
    let mut by_section: BTreeMap<String, BTreeMap<Verdict, usize>> = BTreeMap::new();
    for case in cases {
        let mut seen = Vec::new();
        for id in &case.spec {
            let section = mtpspec_scenario::section_of(id).to_string();
            if !seen.contains(&section) {
                *by_section
                    .entry(section.clone())
                    .or_default()
                    .entry(case.verdict)
                    .or_default() += 1;
                seen.push(section);
            }
        }
    }
    let order = |s: &str| {
        spec.and_then(|spec| spec.sections.iter().position(|x| x.id == s))
            .unwrap_or(usize::MAX)
    };
    let mut out: Vec<SectionSummary> = by_section
        .into_iter()
        .map(|(section, counts)| SectionSummary {
            title: spec
                .and_then(|s| s.section_title(&section))
                .unwrap_or_default()
                .to_string(),
            section,
            counts,
        })
        .collect();
    out.sort_by(|a, b| {
        order(&a.section)
            .cmp(&order(&b.section))
            .then(a.section.cmp(&b.section))
    });
    out
}
