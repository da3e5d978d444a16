//! `mtpspec serve` (not written yet).

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ServeArgs {}

pub fn main(_args: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`mtpspec serve` is not implemented yet")
}
