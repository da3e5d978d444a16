//! `mtpspec load`: a load generator for SMTP servers (see harness/src/load).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use crate::load::{self, LoadOptions};
use anyhow::Context;

#[derive(clap::Args)]
pub struct LoadArgs {
    /// The server, as smtp://HOST:PORT or HOST:PORT.
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
    /// Send MAIL, RCPT and DATA in one write (RFC 2920).
    #[arg(long)]
    pipelining: bool,
    /// Deliver many messages per connection (default: one connection per message).
    #[arg(long)]
    reuse: bool,
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
}

pub fn main(args: LoadArgs) -> anyhow::Result<ExitCode> {
    let addr = args.target.strip_prefix("smtp://").unwrap_or(&args.target);
    let target = std::net::ToSocketAddrs::to_socket_addrs(addr)
        .with_context(|| format!("resolving {addr}"))?
        .next()
        .context("no address")?;
    let options = LoadOptions {
        target,
        sessions: args.sessions,
        messages: args.messages,
        recipients: args.recipients,
        size: args.size,
        pipelining: args.pipelining,
        reuse: args.reuse,
        sender: args.from,
        recipient_domain: args.domain,
        rate: args.rate,
        duration: args.duration.map(Duration::from_secs_f64),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(load::run(options, |done, total| {
        eprint!("\r{done}/{total} messages");
        let _ = std::io::stderr().flush();
    }));
    eprintln!();
    print!("{report}");
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
