//! `mtpspec send` (not written yet).

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct SendArgs {}

pub fn main(_args: SendArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`mtpspec send` is not implemented yet")
}
