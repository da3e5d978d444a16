//! `mtpspec mailbox`: what the reference server's store holds, read while the server runs.
//!
//! The JSON form is the harness's mailbox-observer schema (harness/targets/README.md):
//! `[{"id","from","to","metadata","status","data"(base64)}]`, plus reference-only fields.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::store::{Store, StoredMessage};
use anyhow::Context;
use base64::Engine;

/// The arguments of `mtpspec mailbox`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    mtpspec mailbox --data-dir /var/lib/mtpspec\n  \
    mtpspec mailbox --data-dir /var/lib/mtpspec --json bob@example.test")]
pub struct MailboxArgs {
    /// The server's --data-dir.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// Print JSON (the mailbox-observer schema, bodies in base64).
    #[arg(long)]
    json: bool,
    /// Only messages for this recipient address.
    address: Option<String>,
}

/// Prints the stored messages (or one recipient's), one line each or as mailbox-observer JSON;
/// opens the store read-only, so the server may keep running. Exits 0; a reader that closes
/// the pipe early is not an error.
pub fn main(args: MailboxArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open_read_only(&args.data_dir)
        .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
    let messages = match &args.address {
        Some(address) => store.for_recipient(address),
        None => store.list(),
    };
    match print(&args, &store, &messages) {
        // A reader that stopped early (`| head`) has what it wanted: not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>().map(std::io::Error::kind)
                == Some(std::io::ErrorKind::BrokenPipe) => {}
        other => other?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the listing to standard output; a closed pipe is an `io::Error`, not a panic.
fn print(args: &MailboxArgs, store: &Store, messages: &[StoredMessage]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if args.json {
        let entries = messages
            .iter()
            .map(|m| entry(store, m))
            .collect::<anyhow::Result<Vec<_>>>()?;
        writeln!(out, "{}", serde_json::to_string_pretty(&entries)?)?;
        return Ok(());
    }
    for m in messages {
        let data = store.data(&m.id)?;
        let subject = subject(&data).unwrap_or_default();
        let from = if m.message.reverse_path.is_empty() {
            "<>"
        } else {
            &m.message.reverse_path
        };
        writeln!(
            out,
            "{}  {:?}  {} -> {}  {} octets  {subject}",
            m.id,
            m.status,
            from,
            m.message.recipients.join(","),
            data.len()
        )?;
        for (k, v) in &m.message.metadata {
            writeln!(out, "    metadata {k} = {v}")?;
        }
    }
    eprintln!("{} message(s)", messages.len());
    Ok(())
}

fn entry(store: &Store, m: &StoredMessage) -> anyhow::Result<serde_json::Value> {
    let data = store.data(&m.id)?;
    let metadata: serde_json::Map<String, serde_json::Value> = m
        .message
        .metadata
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    Ok(serde_json::json!({
        "id": m.id,
        "from": m.message.reverse_path,
        "to": m.message.recipients,
        "metadata": metadata,
        "status": format!("{:?}", m.status).to_uppercase(),
        "data": base64::engine::general_purpose::STANDARD.encode(&data),
        "read_ack": m.message.read_ack,
        "received_at_ms": m.message.received_at_ms,
        "opened_at_ms": m.opened_at_ms,
        "helo": m.message.helo,
        "peer": m.message.peer,
        "tls": m.message.tls,
        "auth": m.message.auth,
        "protocol": m.message.protocol,
        // The trace fields the reference put on top of `data`; the content exactly as the
        // client sent it starts at this octet.
        "trace_len": m.message.trace_len,
    }))
}

fn subject(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let headers = text.split("\r\n\r\n").next()?;
    headers
        .lines()
        .find_map(|l| {
            l.strip_prefix("Subject:")
                .or_else(|| l.strip_prefix("subject:"))
        })
        .map(|s| s.trim().to_string())
}
