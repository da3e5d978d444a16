//! `mtpspec mailbox` (not written yet).

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct MailboxArgs {}

pub fn main(_args: MailboxArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`mtpspec mailbox` is not implemented yet")
}
