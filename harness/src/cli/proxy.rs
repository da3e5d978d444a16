//! `mtpspec proxy --listen ADDR --upstream ADDR --fault ...`: a fault-injecting TCP proxy in
//! front of a real server (see `mtpspec::proxy`). Every event is printed as a line.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use mtpspec::proxy::{Fault, ProxyOptions, serve};

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    mtpspec proxy --listen 127.0.0.1:2526 --upstream 127.0.0.1:2525 --fault latency=200ms\n  \
    mtpspec proxy --listen 127.0.0.1:2526 --upstream 127.0.0.1:2525 --fault cut-after-dot --faulty 1")]
pub struct ProxyArgs {
    /// Where clients connect, e.g. 127.0.0.1:2526.
    #[arg(long, value_name = "ADDR")]
    pub listen: String,
    /// The server, e.g. 127.0.0.1:2525.
    #[arg(long, value_name = "ADDR")]
    pub upstream: String,
    /// A fault; repeatable: latency=DUR, bytewise[=DUR], stall=OCTETS:DUR, cut=OCTETS,
    /// cut-after-dot (the dot reaches the server, the reply never reaches the client),
    /// reset-after-dot (both sides closed right after the dot).
    #[arg(long = "fault", value_name = "FAULT")]
    pub faults: Vec<Fault>,
    /// Faults apply to the first N connections only, so that a retry gets through.
    #[arg(long, value_name = "N")]
    pub faulty: Option<u64>,
    /// Stop after this many connections (default: run until interrupted).
    #[arg(long, value_name = "N")]
    pub connections: Option<u64>,
}

pub fn main(args: ProxyArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let faults: Vec<String> = args.faults.iter().map(Fault::to_string).collect();
        outln!(
            "proxy {} -> {} with faults: {}",
            listener.local_addr()?,
            args.upstream,
            if faults.is_empty() {
                "none".into()
            } else {
                faults.join(", ")
            }
        );
        let options = ProxyOptions {
            upstream: args.upstream.clone(),
            faults: args.faults.clone(),
            faulty_connections: args.faulty,
        };
        let events = Arc::new(|line: String| outln!("{line}"));
        serve(listener, options, args.connections, events).await?;
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
