//! `mtpspec coverage`: every SPEC.md requirement with the scenarios that cite it, then those
//! no scenario cites, and citations of IDs SPEC.md does not have.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use mtpspec::scenario::load_paths;
use mtpspec::spec::Coverage;

use super::run::{default_scenarios, load_spec};

#[derive(clap::Args)]
pub struct CoverageArgs {
    /// Scenario files or directories [default: the repository's scenarios/smtp and scenarios/vmtp]
    #[arg(long = "scenarios", value_name = "PATH")]
    scenarios: Vec<PathBuf>,
    /// SPEC.md [default: the repository's]
    #[arg(long, value_name = "FILE")]
    spec: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Only the requirements no scenario cites.
    #[arg(long)]
    uncovered: bool,
    /// Exit 1 when a MUST or SHOULD requirement has no scenario.
    #[arg(long)]
    fail_uncovered: bool,
}

pub fn main(args: CoverageArgs) -> anyhow::Result<ExitCode> {
    let paths = if args.scenarios.is_empty() {
        default_scenarios()
    } else {
        args.scenarios.clone()
    };
    let cases = load_paths(&paths)?;
    let Some(spec) = load_spec(args.spec.as_deref())? else {
        anyhow::bail!("coverage needs SPEC.md (give --spec FILE)");
    };
    let coverage = Coverage::new(&spec, &cases);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&coverage)?);
    } else {
        print!("{}", text(&coverage, &spec, args.uncovered));
    }
    let gap = coverage.uncovered().any(|r| {
        matches!(
            r.level,
            mtpspec::spec::SpecLevel::Must | mtpspec::spec::SpecLevel::Should
        )
    });
    if !coverage.unknown.is_empty() {
        anyhow::bail!(
            "{} citation(s) of IDs that SPEC.md does not have",
            coverage.unknown.len()
        );
    }
    Ok(if args.fail_uncovered && gap {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn text(coverage: &Coverage, spec: &mtpspec::Spec, uncovered_only: bool) -> String {
    let mut out = String::new();
    let mut section = String::new();
    for row in &coverage.requirements {
        if uncovered_only && !row.cases.is_empty() {
            continue;
        }
        if row.section != section {
            section = row.section.clone();
            let title = spec.section_title(&section).unwrap_or_default();
            let _ = writeln!(out, "\n{section}: {title}");
        }
        let cases = if row.cases.is_empty() {
            "-".to_string()
        } else {
            row.cases.join(", ")
        };
        let _ = writeln!(out, "  {:<28} {:<9} {cases}", row.id, row.level.to_string());
    }
    let total = coverage.requirements.len();
    let uncovered: Vec<&str> = coverage.uncovered().map(|r| r.id.as_str()).collect();
    let mut by_level: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for row in &coverage.requirements {
        let entry = by_level.entry(row.level.to_string()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(!row.cases.is_empty());
    }
    let _ = writeln!(
        out,
        "\n{} of {total} requirements are cited by a scenario",
        total - uncovered.len()
    );
    for (level, (all, covered)) in &by_level {
        let _ = writeln!(out, "  {level:<9} {covered}/{all}");
    }
    if !uncovered.is_empty() {
        let _ = writeln!(
            out,
            "Not cited by any scenario ({}): {}",
            uncovered.len(),
            uncovered.join(", ")
        );
    }
    for (case, id) in &coverage.unknown {
        let _ = writeln!(
            out,
            "error: case {case} cites {id}, which SPEC.md does not have"
        );
    }
    out
}
