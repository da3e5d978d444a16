//! The `mtpspec` command line: the suite runner, the reference server and its tools.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[macro_use]
mod cli;


/// mtpspec: a conformance suite for SMTP, VMTP and MMTP servers, with a reference
/// implementation of all three.
#[derive(Parser)]
#[command(name = "mtpspec", version = mtpspec::bundled::VERSION, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the scenario suite against a target (the embedded reference by default).
    Run(cli::run::RunArgs),
    /// Run the suite against several targets (or read their JSON reports) and write one HTML
    /// page with the targets side by side.
    Compare(cli::compare::CompareArgs),
    /// Show which SPEC.md requirements the scenarios cite, and which none does.
    Coverage(cli::coverage::CoverageArgs),
    /// Render a saved JSON report again (terminal, Markdown, JUnit) and exit with its gate.
    Report(cli::report::ReportArgs),
    /// Run the reference server in the foreground: SMTP/VMTP, MMTP and the HTTP gateway.
    Serve(cli::serve::ServeArgs),
    /// Play scripted, misbehaving SMTP servers (scenarios/clients) and judge the client that
    /// connects: our own, swaks, smtplib, curl, msmtp, ...
    ServeTest(cli::serve_test::ServeTestArgs),
    /// Send a message with the reference client (VMTP when offered, plain SMTP otherwise), or through the HTTP gateway.
    Send(cli::send::SendArgs),
    /// List what the reference server's store holds.
    Mailbox(cli::mailbox::MailboxArgs),
    /// Ask a server for the STATUS of a message id (VMTP).
    Status(cli::status::StatusArgs),
    /// MMTP client: send, receive, check, filter, keys and tags against an MMTP server.
    Mmtp(cli::mmtp::MmtpArgs),
    /// Run simulation scenarios (scenarios/sim) on turmoil over seeds, checking invariants.
    Sim(cli::sim::SimArgs),
    /// A fault-injecting TCP proxy in front of a real server.
    Proxy(cli::proxy::ProxyArgs),
    /// Generate SMTP load against a server and report messages/s and latency percentiles.
    Load(cli::load::LoadArgs),
    /// Fuzz a live server over the network: mutated sessions, oracles, minimized findings.
    Fuzz(cli::fuzz::FuzzArgs),
}

/// The exit statuses, the same for every subcommand; shown under each `--help`.
const EXIT_CODES: &str = "Exit status:\n  \
    0  done: no FAIL (run, compare, serve-test, fuzz: no finding)\n  \
    1  the target failed: a FAIL verdict, a fuzz finding, a refused message or lookup\n  \
    2  usage: a bad option or value, an unreadable or malformed file\n  \
    3  the server (or client) could not be reached or used: an ERROR verdict, no verdicts";

/// The command line, with [`EXIT_CODES`] under the help of the command and each subcommand.
fn command() -> clap::Command {
    let with_codes = |cmd: clap::Command| {
        let help = match cmd.get_after_help() {
            Some(examples) => format!("{examples}\n\n{EXIT_CODES}"),
            None => EXIT_CODES.to_string(),
        };
        cmd.after_help(help)
    };
    with_codes(Cli::command()).mut_subcommands(with_codes)
}

fn main() -> std::process::ExitCode {
    let cli = match Cli::from_arg_matches(&command().get_matches()) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    // For the documentation check (.ci/readme-check): the command line parsed, run nothing.
    if std::env::var_os("MTPSPEC_PARSE_ONLY").is_some() {
        return std::process::ExitCode::SUCCESS;
    }
    let result = match cli.command {
        Command::Run(args) => cli::run::main(args),
        Command::Compare(args) => cli::compare::main(args),
        Command::Report(args) => cli::report::main(args),
        Command::Coverage(args) => cli::coverage::main(args),
        Command::Serve(args) => cli::serve::main(args),
        Command::ServeTest(args) => cli::serve_test::main(args),
        Command::Send(args) => cli::send::main(args),
        Command::Mailbox(args) => cli::mailbox::main(args),
        Command::Status(args) => cli::status::main(args),
        Command::Load(args) => cli::load::main(args),
        Command::Mmtp(args) => cli::mmtp::main(args),
        Command::Sim(args) => cli::sim::main(args),
        Command::Proxy(args) => cli::proxy::main(args),
        Command::Fuzz(args) => cli::fuzz::main(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("mtpspec: {error:#}");
            std::process::ExitCode::from(exit_code_for(&error))
        }
    }
}

/// The exit status of a command that ended in an error, the same for every subcommand: 3 when
/// the server (or the client under test) could not be reached or used, 2 for everything else
/// (a bad option value, an unreadable file).
fn exit_code_for(error: &anyhow::Error) -> u8 {
    use mtpspec::target::TargetError;
    use std::io::ErrorKind;
    let unreachable = error.chain().any(|cause| {
        if cause.is::<cli::Unreachable>() {
            return true;
        }
        if let Some(e) = cause.downcast_ref::<TargetError>() {
            return !matches!(
                e,
                TargetError::BadSpec(_) | TargetError::BadListener { .. } | TargetError::Runtime(_)
            );
        }
        cause.downcast_ref::<std::io::Error>().is_some_and(|e| {
            matches!(
                e.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::NotConnected
                    | ErrorKind::TimedOut
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
                    | ErrorKind::AddrNotAvailable
                    | ErrorKind::UnexpectedEof
            )
        })
    });
    if unreachable { 3 } else { 2 }
}
