//! The reference implementation's command line: `serve` (the SMTP/VMTP, MMTP and HTTP gateway
//! listeners), `send` (the SMTP/VMTP client, or through the gateway), `mailbox` (what the store
//! holds), `status` (VMTP STATUS) and `mmtp` (the MMTP client). One file per subcommand: its
//! arguments (clap) and its `main`. The `mtp-reference` binary is exactly these; `mtpspec`
//! offers them beside the suite's own commands.

#[macro_use]
pub mod output;

pub mod mailbox;
pub mod mmtp;
pub mod mmtp_bench;
pub mod send;
pub mod serve;
pub mod status;

use std::io::ErrorKind;
use std::process::ExitCode;

/// The reference's subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Run the reference server in the foreground: SMTP/VMTP, MMTP and the HTTP gateway.
    Serve(Box<serve::ServeArgs>),
    /// Send a message with the reference client (VMTP when offered, plain SMTP otherwise), or through the HTTP gateway.
    Send(send::SendArgs),
    /// List what the reference server's store holds.
    Mailbox(mailbox::MailboxArgs),
    /// Ask a server for the STATUS of a message id (VMTP).
    Status(status::StatusArgs),
    /// MMTP client: send, receive, check, filter, keys and tags against an MMTP server.
    Mmtp(mmtp::MmtpArgs),
}

impl Command {
    /// Runs the subcommand; an error's exit status is [`exit_code_for`]'s.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Self::Serve(args) => serve::main(*args),
            Self::Send(args) => send::main(args),
            Self::Mailbox(args) => mailbox::main(args),
            Self::Status(args) => status::main(args),
            Self::Mmtp(args) => mmtp::main(args),
        }
    }
}

/// The exit statuses, the same for every subcommand; shown under each `--help`.
pub const EXIT_CODES: &str = "Exit status:\n  \
    0  done: no FAIL (run, compare, serve-test, fuzz: no finding)\n  \
    1  the target failed: a FAIL verdict, a fuzz finding, a refused message or lookup\n  \
    2  usage: a bad option or value, an unreadable or malformed file\n  \
    3  the server (or client) could not be reached or used: an ERROR verdict, no verdicts";

/// Puts [`EXIT_CODES`] under the help of `cmd` and of each of its subcommands.
pub fn with_exit_codes(cmd: clap::Command) -> clap::Command {
    let with_codes = |cmd: clap::Command| {
        let help = match cmd.get_after_help() {
            Some(examples) => format!("{examples}\n\n{EXIT_CODES}"),
            None => EXIT_CODES.to_string(),
        };
        cmd.after_help(help)
    };
    with_codes(cmd).mut_subcommands(with_codes)
}

/// The server could not be reached or used (refused, timed out, broke off, failed TLS): the
/// command exits 3, as every subcommand does for that (see `--help`).
#[derive(Debug)]
pub struct Unreachable(pub String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

/// The exit status of a command that ended in an error: 3 when the server (or the client under
/// test) could not be reached or used ([`Unreachable`], a refused, reset or timed-out
/// connection), 2 for everything else (a bad option value, an unreadable file).
pub fn exit_code_for(error: &anyhow::Error) -> u8 {
    let unreachable = error.chain().any(|cause| {
        cause.is::<Unreachable>()
            || cause.downcast_ref::<std::io::Error>().is_some_and(|e| {
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
