//! `mtpspec coverage`: every SPEC.md requirement with the scenarios (server, client and relay
//! cases, and robustness cases) that cite it, then those no case cites, and citations of IDs
//! SPEC.md does not have.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use mtpspec::spec::Coverage;

#[derive(clap::Args)]
pub struct CoverageArgs {
    /// Scenario files or directories [default: ./scenarios/{smtp,vmtp,mmtp,http} in a
    /// checkout, else the set bundled into this binary]
    #[arg(long = "scenarios", value_name = "PATH")]
    scenarios: Vec<PathBuf>,
    /// Client scenarios of `serve-test` [default: ./scenarios/clients in a checkout, else the
    /// bundled set]
    #[arg(long = "client-scenarios", value_name = "PATH")]
    client_scenarios: Vec<PathBuf>,
    /// Relay scenarios of `relay-test` [default: ./scenarios/relay in a checkout, else the
    /// bundled set]
    #[arg(long = "relay-scenarios", value_name = "PATH")]
    relay_scenarios: Vec<PathBuf>,
    /// SPEC.md [default: ./SPEC.md in a checkout, else the bundled one]
    #[arg(long, value_name = "FILE")]
    spec: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Only the requirements no scenario cites.
    #[arg(long)]
    uncovered: bool,
    /// Exit 1 when a MUST or SHOULD requirement has no scenario and is not listed as
    /// uncoverable.
    #[arg(long)]
    fail_uncovered: bool,
    /// Requirements no server scenario can check, with reasons: a table `| ID | Reason |`
    /// [default: ./scenarios/UNCOVERED.md in a checkout, else the bundled one]
    #[arg(long, value_name = "FILE")]
    uncoverable: Option<PathBuf>,
}

/// The `| ID | Reason |` rows of the list of requirements no scenario can check.
fn parse_uncoverable(text: &str) -> BTreeMap<String, String> {
    let id = regex::Regex::new(r"^[A-Z]+-[A-Z0-9]+-\d+$").expect("literal regex");
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .trim()
                .strip_prefix('|')?
                .strip_suffix('|')?
                .split('|')
                .map(str::trim)
                .collect();
            (cells.len() >= 2 && id.is_match(cells[0]))
                .then(|| (cells[0].to_string(), cells[1].to_string()))
        })
        .collect()
}

pub fn main(args: CoverageArgs) -> anyhow::Result<ExitCode> {
    let cases = super::suite_files::suite_cases(&args.scenarios)?;
    let client_cases = super::suite_files::client_cases(&args.client_scenarios)?;
    let relay_cases = super::relay_test::relay_cases(&args.relay_scenarios)?;
    let spec = super::suite_files::spec(args.spec.as_deref())?;
    let citations = cases
        .iter()
        .map(|c| (c.id.clone(), c.spec.clone()))
        .chain(client_cases.iter().map(|c| (c.id.clone(), c.spec())))
        .chain(relay_cases.iter().map(|c| (c.id.clone(), c.spec())))
        .chain(mtpspec::robustness::citations());
    let coverage = Coverage::from_citations(&spec, citations);
    let (list, listed) = super::suite_files::uncoverable(args.uncoverable.as_deref())?;
    let uncoverable = parse_uncoverable(&listed);
    // The list cannot go stale: every entry names a real requirement that no case cites.
    for listed in uncoverable.keys() {
        match coverage.requirements.iter().find(|r| &r.id == listed) {
            None => anyhow::bail!("{}: {listed} is not in SPEC.md", list),
            Some(row) if !row.cases.is_empty() => {
                anyhow::bail!(
                    "{}: {listed} is listed as uncoverable but cited by {}",
                    list,
                    row.cases.join(", ")
                )
            }
            Some(_) => {}
        }
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&coverage)?);
    } else {
        out!("{}", text(&coverage, &spec, args.uncovered));
        if !uncoverable.is_empty() {
            outln!(
                "Not coverable by a server scenario ({}), from {}:",
                uncoverable.len(),
                list
            );
            for (id, reason) in &uncoverable {
                outln!("  {id}: {reason}");
            }
        }
        let open: Vec<&str> = coverage
            .uncovered()
            .map(|r| r.id.as_str())
            .filter(|id| !uncoverable.contains_key(*id))
            .collect();
        outln!(
            "Neither cited nor listed as uncoverable ({}): {}",
            open.len(),
            if open.is_empty() {
                "none".to_string()
            } else {
                open.join(", ")
            }
        );
    }
    let gap = coverage
        .uncovered()
        .filter(|r| !uncoverable.contains_key(&r.id))
        .any(|r| {
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
