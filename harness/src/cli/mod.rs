//! One file per subcommand: its arguments (clap) and its `main`.

pub mod compare;
pub mod coverage;
pub mod fuzz;
pub mod load;
pub mod mailbox;
pub mod mmtp;
pub mod mmtp_bench;
pub mod proxy;
pub mod run;
pub mod send;
pub mod serve;
pub mod serve_test;
pub mod sim;
pub mod status;
