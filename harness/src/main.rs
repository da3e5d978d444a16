//! The `mtpspec` command line: the suite runner, the reference server and its tools.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[macro_use]
extern crate mtp_server;

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
    Run(Box<cli::run::RunArgs>),
    /// Run the suite against several targets (or read their JSON reports) and write one HTML
    /// page with the targets side by side.
    Compare(cli::compare::CompareArgs),
    /// Show which SPEC.md requirements the scenarios cite, and which none does.
    Coverage(cli::coverage::CoverageArgs),
    /// Render a saved JSON report again (terminal, Markdown, JUnit) and exit with its gate.
    Report(cli::report::ReportArgs),
    /// The reference implementation's commands: serve, send, mailbox, status, mmtp.
    #[command(flatten)]
    Reference(mtp_server::cli::Command),
    /// Play scripted, misbehaving SMTP servers (scenarios/clients) and judge the client that
    /// connects: our own, swaks, smtplib, curl, msmtp, ...
    ServeTest(cli::serve_test::ServeTestArgs),
    /// Judge an MTA's outbound side: submit crafted messages (scenarios/relay) to it and play
    /// the next hop it relays them to.
    RelayTest(cli::relay_test::RelayTestArgs),
    /// Run simulation scenarios (scenarios/sim) on turmoil over seeds, checking invariants.
    Sim(cli::sim::SimArgs),
    /// A fault-injecting TCP proxy in front of a real server.
    Proxy(cli::proxy::ProxyArgs),
    /// Generate SMTP load against a server and report messages/s and latency percentiles.
    Load(cli::load::LoadArgs),
    /// Fuzz a live server over the network: mutated sessions, oracles, minimized findings.
    Fuzz(cli::fuzz::FuzzArgs),
}

fn main() -> std::process::ExitCode {
    let cli = match Cli::from_arg_matches(
        &mtp_server::cli::with_exit_codes(Cli::command()).get_matches(),
    ) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    // For the documentation check (.ci/readme-check): the command line parsed, run nothing.
    if std::env::var_os("MTPSPEC_PARSE_ONLY").is_some() {
        return std::process::ExitCode::SUCCESS;
    }
    let result = match cli.command {
        Command::Run(args) => cli::run::main(*args),
        Command::Compare(args) => cli::compare::main(args),
        Command::Report(args) => cli::report::main(args),
        Command::Coverage(args) => cli::coverage::main(args),
        Command::Reference(command) => command.run(),
        Command::ServeTest(args) => cli::serve_test::main(args),
        Command::RelayTest(args) => cli::relay_test::main(args),
        Command::Load(args) => cli::load::main(args),
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
    let target_unreachable = error.chain().any(|cause| {
        cause.downcast_ref::<TargetError>().is_some_and(|e| {
            !matches!(
                e,
                TargetError::BadSpec(_) | TargetError::BadListener { .. } | TargetError::Runtime(_)
            )
        })
    });
    if target_unreachable {
        3
    } else {
        mtp_server::cli::exit_code_for(error)
    }
}
