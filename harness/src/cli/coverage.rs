//! `mtpspec coverage` (not written yet).

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct CoverageArgs {}

pub fn main(_args: CoverageArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`mtpspec coverage` is not implemented yet")
}
