//! One file per subcommand: its arguments (clap) and its `main`.

pub mod coverage;
pub mod load;
pub mod mailbox;
pub mod mmtp;
pub mod proxy;
pub mod run;
pub mod send;
pub mod serve;
pub mod sim;
pub mod status;
