//! `mtp-reference`: the reference implementation's own command line (`serve`, `send`,
//! `mailbox`, `status`, `mmtp`), without the conformance suite. `mtpspec` offers the same
//! subcommands.

use clap::{CommandFactory, FromArgMatches, Parser};

/// The mtpspec reference implementation of SMTP, VMTP and MMTP: server, client and gateway.
#[derive(Parser)]
#[command(name = "mtp-reference", version, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: mtp_server::cli::Command,
}

fn main() -> std::process::ExitCode {
    let matches = mtp_server::cli::with_exit_codes(Cli::command()).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    match cli.command.run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("mtp-reference: {error:#}");
            std::process::ExitCode::from(mtp_server::cli::exit_code_for(&error))
        }
    }
}
