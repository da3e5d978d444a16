//! `mtpspec fuzz`: grammar-aware network fuzzing of a live server (see harness/src/netfuzz).
//! Exit codes: 0 no finding, 1 findings, 2 usage or I/O error, 3 the target did not answer the
//! first liveness probe.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use mtpspec::TargetSpec;
use mtpspec::netfuzz::{self, FuzzOptions, Progress, Timing, report};

#[derive(clap::Args)]
pub struct FuzzArgs {
    /// The server: `embedded` (the reference, in-process), smtp://HOST:PORT, smtps://HOST:PORT
    /// or exec:COMMAND.
    #[arg(long, short, value_name = "TARGET", default_value = "embedded")]
    target: String,
    /// Seconds to spend starting sessions (minimizing a finding may add its budget).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    duration: f64,
    /// The seed: the same seed sends the same sessions.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Stop after this many sessions.
    #[arg(long, value_name = "N")]
    sessions: Option<u64>,
    /// Milliseconds a reply owed may take before it is a hang.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    reply_timeout: u64,
    /// Milliseconds to listen after the replies owed, for a reply to nothing.
    #[arg(long, value_name = "MS", default_value_t = 30)]
    settle: u64,
    /// Seconds allowed to minimize one finding.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    minimize_budget: u64,
    /// Distinct findings to minimize; more are counted only.
    #[arg(long, value_name = "N", default_value_t = 20)]
    max_findings: usize,
    /// Probability that a command line is mutated.
    #[arg(long, value_name = "P", default_value_t = 0.3)]
    mutation_rate: f64,
    /// A domain the target delivers locally [default: the target's, else example.test].
    #[arg(long, value_name = "DOMAIN")]
    domain: Option<String>,
    /// Write the Markdown findings report here.
    #[arg(long, value_name = "FILE")]
    report_md: Option<PathBuf>,
    /// Write one replayable scenario per finding into this directory.
    #[arg(long, value_name = "DIR")]
    findings_dir: Option<PathBuf>,
    /// A name for the target in case ids and file names (`aiosmtpd`) [default: from --target].
    #[arg(long, value_name = "NAME")]
    label: Option<String>,
    /// No progress line.
    #[arg(long, short)]
    quiet: bool,
}

pub fn main(args: FuzzArgs) -> anyhow::Result<ExitCode> {
    let spec: TargetSpec = args.target.parse()?;
    if !(0.0..=1.0).contains(&args.mutation_rate) {
        anyhow::bail!("--mutation-rate must be within 0..=1");
    }
    let options = FuzzOptions {
        seed: args.seed,
        duration: Duration::from_secs_f64(args.duration.max(0.0)),
        max_sessions: args.sessions,
        timing: Timing {
            connect: Duration::from_secs(5),
            reply: Duration::from_millis(args.reply_timeout),
            settle: Duration::from_millis(args.settle),
        },
        minimize_budget: Duration::from_secs(args.minimize_budget),
        max_findings: args.max_findings,
        mutation_rate: args.mutation_rate,
        domain: args.domain.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let quiet = args.quiet;
    let outcome = runtime.block_on(async {
        let target = mtpspec::target::open(&spec).await?;
        let mut show = |p: &Progress| {
            if !quiet {
                eprint!(
                    "\r\x1b[2K{:>5.0}s  {} sessions  {} commands  {} findings  {}",
                    p.elapsed.as_secs_f64(),
                    p.sessions,
                    p.commands,
                    p.findings,
                    p.activity
                );
                let _ = std::io::stderr().flush();
            }
        };
        let result = netfuzz::run(target.as_ref(), options, &mut show).await;
        target.shutdown().await;
        anyhow::Ok(result)
    })?;
    if !quiet {
        eprintln!();
    }
    let mut run = match outcome {
        Ok(run) => run,
        Err(e) => {
            eprintln!("mtpspec fuzz: {e}");
            return Ok(ExitCode::from(3));
        }
    };
    run.label = args.label.clone();
    let scenarios = match &args.findings_dir {
        Some(dir) if !run.findings.is_empty() => {
            let paths = report::write_findings(&run, dir)
                .with_context(|| format!("writing findings into {}", dir.display()))?;
            // Every file written must load as a scenario, or it replays nothing.
            mtpspec::scenario::load_paths(&paths).context("a findings scenario does not load")?;
            paths
        }
        _ => Vec::new(),
    };
    let command = reproduce(&args);
    let md = report::markdown(&run, &command, &scenarios);
    match &args.report_md {
        Some(path) => {
            std::fs::write(path, &md).with_context(|| format!("writing {}", path.display()))?
        }
        None if !quiet => print!("{md}"),
        None => {}
    }
    let distinct = run.findings.len() + run.unminimized.len();
    eprintln!(
        "mtpspec fuzz: {} sessions, {} commands, {distinct} distinct findings",
        run.sessions, run.commands
    );
    Ok(if distinct == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The command line that sends the same sessions again.
fn reproduce(args: &FuzzArgs) -> String {
    let mut c = format!(
        "mtpspec fuzz --target {} --seed {} --duration {}",
        args.target, args.seed, args.duration
    );
    if let Some(n) = args.sessions {
        c.push_str(&format!(" --sessions {n}"));
    }
    if args.mutation_rate != 0.3 {
        c.push_str(&format!(" --mutation-rate {}", args.mutation_rate));
    }
    if let Some(l) = &args.label {
        c.push_str(&format!(" --label {l}"));
    }
    if let Some(d) = &args.domain {
        c.push_str(&format!(" --domain {d}"));
    }
    c
}
