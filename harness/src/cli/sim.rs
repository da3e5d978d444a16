//! `mtpspec sim FILE... [--seed N | --seeds A..B]`: runs simulation scenarios on turmoil, one
//! summary line per seed (the known ambiguity on a line of its own), and for a failing seed
//! its violations, its trace and the command that replays it. Exit code 0 when every seed
//! passes, 1 when one fails.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Instant;

use anyhow::Context;
use mtpspec::sim::scenario::SyncSpec;
use mtpspec::sim::{RunOptions, Scenario, SeedRun, load_paths, report, run_seed};

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    mtpspec sim scenarios/sim --seeds 0..40 --quiet\n  \
    mtpspec sim scenarios/sim/crash-restart.yaml --seed 7 --verbose --trace-dir traces")]
pub struct SimArgs {
    /// Scenario files or directories (scenarios/sim).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Run this one seed.
    #[arg(long, conflicts_with = "seeds")]
    pub seed: Option<u64>,
    /// Run a range of seeds: `A..B` (B excluded) or `A..=B` [default: 0..10].
    #[arg(long, value_name = "A..B")]
    pub seeds: Option<SeedRange>,
    /// Print every seed's whole trace, with each session's wire transcript.
    #[arg(long)]
    pub verbose: bool,
    /// Write the full trace of each failing seed to DIR/<scenario>-<seed>.trace.
    #[arg(long, value_name = "DIR")]
    pub trace_dir: Option<PathBuf>,
    /// Only the failures and one total per scenario.
    #[arg(long)]
    pub quiet: bool,
    /// Test switch: run the server's store in the deliberately broken mode that acknowledges
    /// before syncing, to see the checks fail.
    #[arg(long)]
    pub ack_before_sync: bool,
}

/// Seeds `start..end` (end excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    pub start: u64,
    pub end: u64,
}

impl FromStr for SeedRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let number = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("{s:?} is not a seed (a whole number)"))
        };
        let (start, end) = if let Some((a, b)) = text.split_once("..=") {
            (number(a)?, number(b)?.saturating_add(1))
        } else if let Some((a, b)) = text.split_once("..") {
            (number(a)?, number(b)?)
        } else {
            return Err(format!("{text:?} is not a range like 0..1000"));
        };
        if start >= end {
            return Err(format!("{text:?} holds no seed"));
        }
        Ok(Self { start, end })
    }
}

pub fn main(args: SimArgs) -> anyhow::Result<ExitCode> {
    let mut scenarios = load_paths(&args.files).context("loading simulation scenarios")?;
    if args.ack_before_sync {
        for scenario in &mut scenarios {
            scenario.server.sync = SyncSpec::AckBeforeSync;
        }
    }
    let seeds = match (args.seed, args.seeds) {
        (Some(seed), _) => seed..seed.saturating_add(1),
        (None, Some(range)) => range.start..range.end,
        (None, None) => 0..10,
    };
    let options = RunOptions {
        verbose: args.verbose,
    };
    let mut failed = 0;
    for scenario in &scenarios {
        failed += run_scenario(scenario, seeds.clone(), &options, &args)?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Runs every seed of one scenario; returns how many failed.
fn run_scenario(
    scenario: &Scenario,
    seeds: std::ops::Range<u64>,
    options: &RunOptions,
    args: &SimArgs,
) -> anyhow::Result<usize> {
    outln!(
        "{}: {} ({})",
        scenario.id,
        scenario.title,
        scenario.path.display()
    );
    let started = Instant::now();
    let (mut runs, mut failed, mut sessions) = (0, 0, 0);
    let (mut ambiguous, mut unconfirmed, mut duplicates) = (0, 0, 0);
    let progress = super::progress::Progress::new(
        &format!("seeds of {}", scenario.id),
        seeds.end.saturating_sub(seeds.start),
    );
    for seed in seeds {
        let run = run_seed(scenario, seed, options);
        runs += 1;
        progress.set(runs as u64);
        sessions += run.stats.sessions;
        ambiguous += run.stats.ambiguous;
        unconfirmed += run.stats.unconfirmed;
        duplicates += run.stats.ambiguous_duplicates;
        if !args.quiet || !run.passed() {
            outln!("  {}", report::summary(&run));
            if let Some(line) = report::ambiguity(&run) {
                outln!("  {line}");
            }
        }
        if args.verbose {
            for line in &run.trace {
                outln!("    {line}");
            }
        }
        if !run.passed() {
            failed += 1;
            out!("{}", indent(&report::failure(&run, scenario, 40)));
            if let Some(dir) = &args.trace_dir {
                write_trace(dir, &run)?;
            }
        }
    }
    progress.finish();
    let wall = started.elapsed().as_secs_f64();
    outln!(
        "{}: {runs} seeds, {} passed, {failed} failed; {sessions} simulated sessions in \
         {wall:.2}s of wall time ({:.0} sessions/s); ambiguous: {ambiguous} copies without a \
         reply, {unconfirmed} from killed clients, {duplicates} messages stored (or, by a next hop, \
         received) more than once",
        scenario.id,
        runs - failed,
        sessions as f64 / wall.max(1e-9),
    );
    Ok(failed)
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn write_trace(dir: &Path, run: &SeedRun) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{}-{}.trace", run.scenario, run.seed));
    let mut text = run.trace.join("\n");
    text.push('\n');
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    outln!("  trace written to {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::SeedRange;

    #[test]
    fn seed_ranges_parse() {
        let parse = |s: &str| s.parse::<SeedRange>();
        assert_eq!(
            parse("0..1000"),
            Ok(SeedRange {
                start: 0,
                end: 1000
            })
        );
        assert_eq!(parse("5..=5"), Ok(SeedRange { start: 5, end: 6 }));
        assert!(parse("5..5").is_err());
        assert!(parse("7").is_err());
    }
}
