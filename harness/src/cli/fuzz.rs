//! `mtpspec fuzz`: grammar-aware network fuzzing of a live server (see harness/tools/src/netfuzz).
//! Exit codes: 0 no finding, 1 findings, 2 usage or I/O error, 3 the target did not answer the
//! first liveness probe.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use mtpspec::TargetSpec;
use mtpspec::netfuzz::{self, FuzzOptions, MemoryOracle, Progress, ServiceOracle, Timing, report};
use mtpspec::robustness::{self, FreshClient, TargetProcess};

#[derive(clap::Args)]
pub struct FuzzArgs {
    /// The server: `embedded` (the reference, in-process), smtp://HOST:PORT, smtps://HOST:PORT
    /// or exec:COMMAND.
    #[arg(long, short, value_name = "TARGET", default_value = "embedded")]
    target: String,
    /// How long to spend starting sessions, e.g. 60s or 5m (minimizing a finding may add its
    /// budget).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = mtpspec::units::parse_duration)]
    duration: Duration,
    /// The seed: the same seed sends the same sessions.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Stop after this many sessions.
    #[arg(long, value_name = "N")]
    sessions: Option<u64>,
    /// How long a reply owed may take before it is a hang (a bare number is milliseconds).
    #[arg(long, value_name = "DURATION", default_value = "5000", value_parser = mtpspec::units::parse_duration_ms)]
    reply_timeout: Duration,
    /// How long to listen after the replies owed, for a reply to nothing (a bare number is
    /// milliseconds).
    #[arg(long, value_name = "DURATION", default_value = "30", value_parser = mtpspec::units::parse_duration_ms)]
    settle: Duration,
    /// How long minimizing one finding may take (a bare number is seconds).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = mtpspec::units::parse_duration)]
    minimize_budget: Duration,
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
    /// The time between fresh clients sent while sessions are open (the service oracle; 0
    /// turns it off; a bare number is milliseconds).
    #[arg(long, value_name = "DURATION", default_value = "1000", value_parser = mtpspec::units::parse_duration_ms)]
    service_interval: Duration,
    /// How soon a fresh client must be greeted with 220 (a bare number is milliseconds).
    #[arg(long, value_name = "DURATION", default_value = "5000", value_parser = mtpspec::units::parse_duration_ms)]
    greeting_timeout: Duration,
    /// The PID of a local target, whose memory (VmRSS of it and its children) the memory
    /// oracle samples [default: the harness's own for the embedded reference].
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(u32).range(1..))]
    target_pid: Option<u32>,
    /// MiB the target's memory may grow over the run before it is a finding.
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    rss_growth_limit: u64,
    /// No progress line.
    #[arg(long, short)]
    quiet: bool,
}

pub fn main(args: FuzzArgs) -> anyhow::Result<ExitCode> {
    let spec: TargetSpec = args.target.parse()?;
    if !(0.0..=1.0).contains(&args.mutation_rate) {
        anyhow::bail!("--mutation-rate must be within 0..=1");
    }
    let mut options = FuzzOptions {
        seed: args.seed,
        duration: args.duration,
        max_sessions: args.sessions,
        timing: Timing {
            connect: Duration::from_secs(5),
            reply: args.reply_timeout,
            settle: args.settle,
        },
        minimize_budget: args.minimize_budget,
        max_findings: args.max_findings,
        mutation_rate: args.mutation_rate,
        domain: args.domain.clone(),
        service: None,
        memory: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let quiet = args.quiet;
    let outcome = runtime.block_on(async {
        let opened = robustness::endpoint::open(&spec, None).await?;
        add_oracles(&mut options, &args, &opened).await;
        let target = opened.target;
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
        None if !quiet => out!("{md}"),
        None => {}
    }
    let distinct = run.distinct_findings();
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

/// The service oracle (when the target has an SMTP endpoint and `--service-interval` is not
/// 0) and the memory oracle (when its process is known).
async fn add_oracles(options: &mut FuzzOptions, args: &FuzzArgs, opened: &robustness::Opened) {
    let bound = args.greeting_timeout;
    match &opened.endpoint {
        Ok(endpoint) if !args.service_interval.is_zero() => {
            let mut fresh = FreshClient::new(endpoint.clone());
            // Picks the source address; a target that greets no one fails the first probe.
            let _ = fresh.calibrate(bound).await;
            options.service = Some(ServiceOracle {
                fresh,
                interval: args.service_interval,
                greeting_bound: bound,
            });
        }
        Ok(_) => {}
        Err(why) if !args.quiet => eprintln!("mtpspec fuzz: no service oracle: {why}"),
        Err(_) => {}
    }
    let process = match args.target_pid {
        Some(pid) => Some(TargetProcess {
            pid,
            in_process: false,
        }),
        None => opened.process,
    };
    options.memory = process.map(|process| MemoryOracle {
        process,
        growth_limit_kib: args.rss_growth_limit * 1024,
        interval: Duration::from_millis(500),
    });
}

/// The command line that sends the same sessions again.
fn reproduce(args: &FuzzArgs) -> String {
    let mut c = format!(
        "mtpspec fuzz --target {} --seed {} --duration {}s",
        args.target,
        args.seed,
        args.duration.as_secs_f64()
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
