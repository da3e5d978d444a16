//! `mtpspec relay-test`: submit the relay cases' messages to a target MTA and play the next hop
//! it relays them to, judging its outbound side (scenarios/relay).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mtp_server::units::parse_duration;
use mtpspec::relay::{self, Inject, RelayCase, RelayOptions, RelayReport};
use mtpspec::servetest;

use super::serve_test::{finish, runtime, select};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    mtpspec relay-test --inject smtp://127.0.0.1:2526 --listen 127.0.0.1:2700 \\\n      \
    --flush-command 'postqueue -c /tmp/pf/etc -f' --target-name postfix \\\n      \
    --report-md postfix-relay.md --report-json postfix-relay.json\n  \
    mtpspec relay-test --inject smtp://127.0.0.1:2526 --listen 127.0.0.1:2700 --case 'relay-smuggling-*'\n\n\
    Exit status: 0 no FAIL, 1 a FAIL, 2 usage, 3 the target could not be reached (ERROR).")]
pub struct RelayTestArgs {
    /// Where the harness submits each message: the target MTA's SMTP listener
    /// (smtp://HOST:PORT, as a relay client it trusts) or the reference's HTTP gateway
    /// (http://HOST:PORT, `mtpspec serve --http`: POST /send, then GET /deliveries).
    #[arg(long, value_name = "URL")]
    inject: Inject,
    /// Where the harness plays the next hop: the address the target relays relay.test (and
    /// its subdomains) to. A fixed port: the target must be configured with it.
    #[arg(long, value_name = "HOST:PORT")]
    listen: String,
    /// A command that makes the target run its queue at once (run under `sh -c` while
    /// waiting, to hurry retries), e.g. `postqueue -f`.
    #[arg(long, value_name = "CMD")]
    flush_command: Option<String>,
    /// How long each case waits for the message (or a notification) at the next hop.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    wait: Duration,
    /// Once it came, how long to listen on for a duplicate or a late notification.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    settle: Duration,
    /// How often the flush command runs while a case waits.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
    flush_interval: Duration,
    /// Relay scenario files or directories [default: ./scenarios/relay in a checkout, else
    /// the set bundled into this binary]
    #[arg(long = "scenarios", value_name = "PATH")]
    scenarios: Vec<PathBuf>,
    /// Only cases whose id matches this glob; repeatable.
    #[arg(long = "case", value_name = "GLOB")]
    cases: Vec<String>,
    /// The target's name in reports [default: the --inject address]
    #[arg(long, value_name = "NAME")]
    target_name: Option<String>,
    #[arg(long, value_name = "FILE")]
    report_json: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    report_md: Option<PathBuf>,
    /// Print only the summary.
    #[arg(long)]
    quiet: bool,
}

/// The relay cases of `relay-test` and `coverage`: the paths given, else `./scenarios/relay`
/// in a checkout, else the bundled set.
pub(super) fn relay_cases(given: &[PathBuf]) -> anyhow::Result<Vec<RelayCase>> {
    if !given.is_empty() {
        return Ok(relay::load_paths(given)?);
    }
    let local = PathBuf::from("scenarios/relay");
    if PathBuf::from("scenarios/smtp").is_dir() && local.is_dir() {
        return Ok(relay::load_paths(&[local])?);
    }
    Ok(relay::bundled_cases()?)
}

pub fn main(args: RelayTestArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        !args.listen.ends_with(":0"),
        "--listen needs a fixed port: the target must be configured to relay to it"
    );
    let cases = select(relay_cases(&args.scenarios)?, &args.cases)?;
    let name = args
        .target_name
        .clone()
        .unwrap_or_else(|| args.inject.to_string());
    let report = runtime()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr()?;
        let opts = RelayOptions {
            inject: args.inject.clone(),
            listen: addr.to_string(),
            flush_command: args.flush_command.clone(),
            wait: args.wait,
            settle: args.settle,
            flush_interval: args.flush_interval,
            tls: servetest::tls_config()?,
        };
        let listener = Arc::new(listener);
        if !args.quiet {
            outln!(
                "mtpspec relay-test: {} cases, submitting to {}, next hop on {addr}",
                cases.len(),
                args.inject
            );
        }
        let mut outcomes = Vec::new();
        for case in &cases {
            let outcome = relay::run_case(case, &listener, &opts).await;
            if !args.quiet {
                let reason = outcome.reason.as_deref().unwrap_or("");
                outln!("{:<11} {}  {reason}", outcome.verdict, outcome.id);
                let _ = std::io::stdout().flush();
            }
            outcomes.push(outcome);
        }
        anyhow::Ok(RelayReport::new(
            name,
            args.inject.to_string(),
            addr.to_string(),
            outcomes,
        ))
    })?;
    if !report.smuggling.is_empty() {
        outln!("Outbound smuggling, per ending:");
        for line in report.smuggling_lines() {
            outln!("  {line}");
        }
    }
    finish(
        &report,
        args.report_json.as_deref(),
        args.report_md.as_deref(),
    )
}
