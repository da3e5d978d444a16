//! `mtpspec load`: a load generator for SMTP servers, MMTP SEND/RECEIVE round trips, and idle
//! connections held open for memory measurements (see harness/src/load).

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use crate::load::mmtp::MmtpLoadOptions;
use crate::load::{self, LoadOptions, LoadReport};
use anyhow::Context;

#[derive(clap::Args)]
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
    /// Stop after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Print the summary as JSON (messages/s, percentiles in ms per phase, errors).
    #[arg(long)]
    json: bool,
    /// Instead of sending mail: open this many connections, wait for each greeting, print
    /// how many are open, and hold them idle for --hold seconds.
    #[arg(long, value_name = "N", conflicts_with_all = ["pipelining", "reuse", "starttls", "rate"])]
    idle: Option<usize>,
    /// Seconds to hold --idle connections open.
    #[arg(long, default_value_t = 10.0, requires = "idle")]
    hold: f64,
}

pub fn main(args: LoadArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    let progress = |done: u64, total: u64| {
        eprint!("\r{done}/{total} messages");
        let _ = std::io::stderr().flush();
    };
    let show_progress = std::io::stderr().is_terminal();
    let report = if let Some(addr) = args.target.strip_prefix("mmtp://") {
        let options = MmtpLoadOptions {
            target: addr.to_string(),
            sessions: args.sessions,
            messages: args.messages,
            size: args.size,
            recipient_domain: args.domain,
            duration: args.duration.map(Duration::from_secs_f64),
        };
        runtime.block_on(load::mmtp::run(options, move |d, t| {
            if show_progress {
                progress(d, t)
            }
        }))
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
            duration: args.duration.map(Duration::from_secs_f64),
        };
        runtime.block_on(load::run(options, move |d, t| {
            if show_progress {
                progress(d, t)
            }
        }))?
    };
    if show_progress {
        eprintln!();
    }
    print_report(&report, args.json);
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
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
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
}

/// `--idle N`: prints one line when the connections are open (JSON with --json), then holds.
fn idle(
    runtime: &tokio::runtime::Runtime,
    target: SocketAddr,
    count: usize,
    hold: f64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let report = runtime.block_on(load::idle::run(
        target,
        count,
        Duration::from_secs(10),
        Duration::from_secs_f64(hold),
        |r| {
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "open": r.greeted,
                        "failed": r.failed,
                        "opening_s": r.opening.as_secs_f64(),
                    })
                );
            } else {
                println!(
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
