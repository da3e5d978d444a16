//! The `mtpspec` command line: the suite runner, the reference server and its tools.

use clap::{Parser, Subcommand};

mod cli;
mod load;

/// mtpspec: a conformance suite for SMTP, VMTP and MMTP servers, with a reference
/// implementation of all three.
#[derive(Parser)]
#[command(name = "mtpspec", version, about, long_about = None)]
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

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => cli::run::main(args),
        Command::Compare(args) => cli::compare::main(args),
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
            std::process::ExitCode::from(2)
        }
    }
}
