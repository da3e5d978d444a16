//! One file per subcommand: its arguments (clap) and its `main`.

#[macro_use]
mod output;

pub mod compare;
pub mod coverage;
pub mod fuzz;
pub mod load;
pub mod mailbox;
pub mod mmtp;
pub mod mmtp_bench;
pub mod progress;
pub mod proxy;
pub mod report;
pub mod run;
pub mod send;
pub mod serve;
pub mod serve_test;
pub mod sim;
pub mod status;
pub mod suite_files;

/// The server could not be reached or used (refused, timed out, broke off, failed TLS): the
/// command exits 3, as every subcommand does for that (see `mtpspec --help`).
#[derive(Debug)]
pub struct Unreachable(pub String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}
