//! `mtpspec status`: ask a server for the VMTP STATUS of a message id (PENDING, DELIVERED or
//! OPENED, with a time when the server gives one).

use std::process::ExitCode;

use crate::client::status::{StatusAnswer, query_status};

use super::send::ConnArgs;

/// Ask a VMTP server what became of a message. Exit status: 0 known, 1 unknown id, 3 the
/// server does not offer VMTP STATUS, 2 connection or usage errors.
#[derive(clap::Args, Debug)]
#[command(
    override_usage = "mtpspec status --server HOST:PORT [OPTIONS] ID",
    after_help = "Example:\n  mtpspec status --server 127.0.0.1:2525 4F5A21C0A5"
)]
pub struct StatusArgs {
    /// The server and TLS options shared with `mtpspec send`.
    #[command(flatten)]
    pub conn: ConnArgs,
    /// The message id the server named when it took the message ("queued as ID").
    #[arg(value_name = "ID")]
    pub id: String,
}

/// Asks the server for the STATUS of the id and prints it; the exit status is the one
/// [`StatusArgs`] lists.
pub fn main(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let target = args.conn.target()?;
    let timeouts = args.conn.timeouts();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let options = args.conn.options();
    let (answer, outcome) = runtime.block_on(query_status(&target, options, &args.id, &timeouts));
    if args.conn.transcript {
        outln!("{}\n", outcome.transcript_text());
    }
    match answer {
        StatusAnswer::Known { id, state, at } => {
            match at {
                Some(at) => outln!("{id}: {state} at {at}"),
                None => outln!("{id}: {state}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        StatusAnswer::Unknown(reply) => {
            outln!(
                "unknown message id {} ({} {})",
                args.id,
                reply.code,
                reply.text()
            );
            Ok(ExitCode::from(1))
        }
        StatusAnswer::NotOffered(reply) => {
            let said = reply.map_or_else(String::new, |r| {
                format!(" (it answered {} {})", r.code, r.text())
            });
            outln!("the server does not offer VMTP STATUS{said}");
            Ok(ExitCode::from(3))
        }
        StatusAnswer::Failed(failure) => {
            Err(super::Unreachable(format!("STATUS lookup failed: {failure}")).into())
        }
    }
}
