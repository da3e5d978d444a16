//! One file per subcommand: its arguments (clap) and its `main`.

pub mod compare;
pub mod coverage;
pub mod fuzz;
pub mod load;
pub mod progress;
pub mod proxy;
pub mod relay_test;
pub mod report;
pub mod run;
pub mod serve_test;
pub mod sim;
pub mod suite_files;
