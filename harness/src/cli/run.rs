//! `mtpspec run` (not written yet).

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct RunArgs {}

pub fn main(_args: RunArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`mtpspec run` is not implemented yet")
}
