//! `mtpspec load`: a load generator for SMTP servers, MMTP SEND/RECEIVE round trips, and idle
//! connections held open for memory measurements (see harness/tools/src/traffic).

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use mtpspec::traffic::mmtp::MmtpLoadOptions;
use mtpspec::traffic::{self, LoadOptions, LoadReport};

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    mtpspec load --target smtp://127.0.0.1:2525 --sessions 16 --messages 10000 --pipelining\n  \
    mtpspec load --target smtp://127.0.0.1:2525 --duration 30s --rate 200 --json\n  \
    mtpspec load --target 127.0.0.1:2525 --idle 1000 --hold 30s")]
pub struct LoadArgs {
    /// The server: smtp://HOST:PORT (or HOST:PORT), or mmtp://HOST:PORT for SEND/RECEIVE
    /// round trips.
    #[arg(long)]
    target: String,
    /// Concurrent sessions.
    #[arg(long, default_value_t = 1)]
    sessions: usize,
    /// Messages in total.
    #[arg(long, default_value_t = 1000)]
    messages: u64,
    /// Recipients per message.
    #[arg(long, default_value_t = 1)]
    recipients: usize,
    /// Message size in octets.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Send MAIL, RCPT and DATA in one write (RFC 2920); with --reuse, also each message's
    /// content with the next envelope.
    #[arg(long)]
    pipelining: bool,
    /// Deliver many messages per connection (default: one connection per message).
    #[arg(long)]
    reuse: bool,
    /// STARTTLS after EHLO (the server's certificate is not checked).
    #[arg(long)]
    starttls: bool,
    /// Recipient domain.
    #[arg(long, default_value = "example.test")]
    domain: String,
    /// Sender address.
    #[arg(long, default_value = "load@client.example")]
    from: String,
    /// Messages per second across all sessions.
    #[arg(long)]
    rate: Option<f64>,
    /// Stop after this long (e.g. 30s, 5m; a bare number is seconds).
    #[arg(long, value_name = "DURATION", value_parser = mtpspec::units::parse_duration)]
    duration: Option<Duration>,
    /// Print the summary as JSON (messages/s, percentiles in ms per phase, errors).
    #[arg(long)]
    json: bool,
    /// Instead of sending mail: open this many connections, wait for each greeting, print
    /// how many are open, and hold them idle for --hold.
    #[arg(long, value_name = "N", conflicts_with_all = ["pipelining", "reuse", "starttls", "rate"])]
    idle: Option<usize>,
    /// How long to hold --idle connections open.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = mtpspec::units::parse_duration, requires = "idle")]
    hold: Duration,
}

pub fn main(args: LoadArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    let progress = std::sync::Arc::new(super::progress::Progress::new("messages", args.messages));
    let shown = std::sync::Arc::clone(&progress);
    let on_progress = move |done: u64, _total: u64| shown.set(done);
    let report = if let Some(addr) = args.target.strip_prefix("mmtp://") {
        let options = MmtpLoadOptions {
            target: addr.to_string(),
            sessions: args.sessions,
            messages: args.messages,
            size: args.size,
            recipient_domain: args.domain,
            duration: args.duration,
        };
        runtime.block_on(traffic::mmtp::run(options, on_progress))
    } else {
        let target = resolve(&args.target)?;
        if let Some(count) = args.idle {
            return idle(&runtime, target, count, args.hold, args.json);
        }
        let options = LoadOptions {
            target,
            sessions: args.sessions,
            messages: args.messages,
            recipients: args.recipients,
            size: args.size,
            pipelining: args.pipelining,
            reuse: args.reuse,
            starttls: args.starttls,
            sender: args.from,
            recipient_domain: args.domain,
            rate: args.rate,
            duration: args.duration,
        };
        runtime.block_on(traffic::run(options, on_progress))?
    };
    progress.finish();
    print_report(&report, args.json);
    Ok(load_exit_code(&report))
}

/// 0 when every message went through, 3 when none did because no connection could be made
/// (the exit status every subcommand gives an unreachable server), 1 otherwise.
fn load_exit_code(report: &LoadReport) -> ExitCode {
    if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else if report.delivered == 0 && report.errors.keys().all(|e| e.starts_with("connect")) {
        ExitCode::from(3)
    } else {
        ExitCode::from(1)
    }
}

fn resolve(target: &str) -> anyhow::Result<SocketAddr> {
    let addr = target.strip_prefix("smtp://").unwrap_or(target);
    std::net::ToSocketAddrs::to_socket_addrs(addr)
        .with_context(|| format!("resolving {addr}"))?
        .next()
        .context("no address")
}

fn print_report(report: &LoadReport, json: bool) {
    if json {
        outln!("{}", report.to_json());
    } else {
        out!("{report}");
    }
}

/// `--idle N`: prints one line when the connections are open (JSON with --json), then holds.
fn idle(
    runtime: &tokio::runtime::Runtime,
    target: SocketAddr,
    count: usize,
    hold: Duration,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let report = runtime.block_on(traffic::idle::run(
        target,
        count,
        Duration::from_secs(10),
        hold,
        |r| {
            if json {
                outln!(
                    "{}",
                    serde_json::json!({
                        "open": r.greeted,
                        "failed": r.failed,
                        "opening_s": r.opening.as_secs_f64(),
                    })
                );
            } else {
                outln!(
                    "open {} idle connections ({} failed) in {:.2} s",
                    r.greeted,
                    r.failed,
                    r.opening.as_secs_f64()
                );
            }
            let _ = std::io::stdout().flush();
        },
    ));
    Ok(if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
