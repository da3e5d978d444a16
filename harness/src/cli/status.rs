//! `mtpspec status` (not written yet).

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct StatusArgs {}

pub fn main(_args: StatusArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`mtpspec status` is not implemented yet")
}
