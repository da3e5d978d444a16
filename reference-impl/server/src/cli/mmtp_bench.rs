//! `mtpspec mmtp bench`: HashCash tries per second, on one core and on all of them.
//!
//! The search is the client's own ([`mint_parallel`]) at a difficulty no counter can meet
//! in the time given, so every try is counted and none is skipped; the run ends on its
//! timeout and reports the tries it made. `harness/bench/hashcash.sh` puts the figures beside
//! `openssl speed sha256` on the same machine.

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::mmtp::mint::{MintError, MintOptions, mint_parallel};
use anyhow::bail;
use mtp_proto::mmtp::hashcash::Stamp;

/// 64 hex zeros: a SHA-256 of all zeros, which no counter reaches.
const UNREACHABLE: u32 = 64;

/// The arguments of `mtpspec mmtp bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Thread counts to measure (0 means one per core).
    #[arg(long = "threads", value_delimiter = ',', default_values_t = [1, 0])]
    pub threads: Vec<usize>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One measurement.
struct Rate {
    threads: usize,
    tries: u64,
    seconds: f64,
}

/// Measures HashCash tries per second for each of `--threads` over `--seconds` (more than 0, at
/// most 600) and prints a table, or one JSON object per measurement with `--json`.
pub fn main(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    if !(args.seconds > 0.0 && args.seconds <= 600.0) {
        bail!("--seconds must be in (0, 600]");
    }
    // The seed's example addresses; the token is as long as a real one.
    let stamp = Stamp {
        difficulty: UNREACHABLE,
        timestamp_ms: 1_625_849_600_000,
        sender: "(alice)%(example.com)".into(),
        recipient: "(bob)%(example.com)".into(),
    };
    let token_octets = stamp.token(1_000_000).len();
    if !args.json {
        outln!("HashCash tries per second ({token_octets}-octet tokens, SHA-256)");
        outln!("{:>8}  {:>14}  {:>14}", "threads", "tries/s", "per thread");
    }
    for &threads in &args.threads {
        let rate = measure(&stamp, threads, Duration::from_secs_f64(args.seconds))?;
        let per_second = rate.tries as f64 / rate.seconds;
        if args.json {
            outln!(
                "{}",
                serde_json::json!({
                    "threads": rate.threads, "tries": rate.tries, "seconds": rate.seconds,
                    "tries_per_second": per_second, "token_octets": token_octets,
                })
            );
        } else {
            outln!(
                "{:>8}  {:>14.0}  {:>14.0}",
                rate.threads,
                per_second,
                per_second / rate.threads as f64
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn measure(stamp: &Stamp, threads: usize, time: Duration) -> anyhow::Result<Rate> {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let options = MintOptions {
        threads,
        timeout: Some(time),
        progress_every: time,
    };
    let started = std::time::Instant::now();
    match mint_parallel(stamp, &options, &AtomicBool::new(false), |_| {}) {
        Err(MintError::TimedOut { tries }) => Ok(Rate {
            threads,
            tries,
            seconds: started.elapsed().as_secs_f64(),
        }),
        other => bail!("the benchmark search ended without timing out: {other:?}"),
    }
}
