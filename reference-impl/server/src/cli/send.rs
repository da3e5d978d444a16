//! `mtpspec send`: compose a message and deliver it with the reference client (VMTP when the
//! server offers it, plain SMTP otherwise), optionally retrying transient failures. Also the
//! connection options shared with `mtpspec status`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::client::mime::{Attachment, Compose, build, new_message_id};
use crate::client::queue::RetryPolicy;
use crate::client::retry::{Attempt, run_queue};
use crate::client::summary::{Verdict, summarize, verdict};
use crate::client::tls::{Verify, client_config, load_roots, parse_pin, system_roots};
use crate::client::{Target, Timeouts, TlsMode, deliver};
use anyhow::{Context, anyhow};
use mtp_proto::smtp::Mailbox;
use mtp_proto::smtp::client::{ClientOptions, Message, Outcome};

mod gateway;

/// How to reach a server and whether to trust its certificate (shared with `mtpspec status`).
#[derive(clap::Args, Debug)]
pub struct ConnArgs {
    /// The server as HOST:PORT, e.g. mx.example.com:25 (587 is submission, 465 implicit TLS).
    #[arg(long, value_name = "HOST:PORT")]
    pub server: Option<String>,
    /// Upgrade to TLS when the server offers it: STARTTLS, or else VMTP ENCRYPT START.
    #[arg(long, conflicts_with = "tls")]
    pub starttls: bool,
    /// Speak TLS from the first byte (implicit TLS, usually port 465).
    #[arg(long)]
    pub tls: bool,
    /// Send nothing unless the connection is encrypted (upgrades in band unless --tls).
    #[arg(long)]
    pub require_tls: bool,
    /// Accept any server certificate: encrypts, but does not check who the server is.
    #[arg(long, conflicts_with_all = ["pin_sha256", "ca"])]
    pub insecure: bool,
    /// Accept only a certificate whose public key (SubjectPublicKeyInfo) has this SHA-256,
    /// given as 64 hex digits (colons allowed).
    #[arg(long, value_name = "HEX", conflicts_with = "ca")]
    pub pin_sha256: Option<String>,
    /// Trust the CA certificates in this PEM file instead of the system's.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// The name the certificate must carry (default: the host part of --server).
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// The name this client gives in EHLO/HELO.
    #[arg(long, value_name = "NAME", default_value = "localhost")]
    pub helo: String,
    /// Wait at most this long for any reply, e.g. 30s or 2m (default: RFC 5321's 2 to 10
    /// minutes depending on the command).
    #[arg(long, value_name = "DURATION", value_parser = crate::units::parse_duration)]
    pub timeout: Option<Duration>,
    /// Print the wire exchange: every command sent and reply received.
    #[arg(long)]
    pub transcript: bool,
}

impl ConnArgs {
    /// How certificates are checked: --insecure, --pin-sha256, --ca, or the system's roots.
    pub fn verify(&self) -> anyhow::Result<Verify> {
        Ok(if self.insecure {
            Verify::Insecure
        } else if let Some(pin) = &self.pin_sha256 {
            Verify::PinSha256(parse_pin(pin)?)
        } else if let Some(ca) = &self.ca {
            Verify::Roots(Arc::new(load_roots(ca)?))
        } else {
            Verify::Roots(Arc::new(system_roots()))
        })
    }

    /// Where to connect: `--server` (required) with the TLS mode of `--tls`, `--starttls` or
    /// `--require-tls`, certificates checked as [`ConnArgs::verify`] says.
    pub fn target(&self) -> anyhow::Result<Target> {
        let server = self
            .server
            .as_deref()
            .context("--server HOST:PORT is required")?;
        let verify = self.verify()?;
        let mode = match (self.tls, self.starttls || self.require_tls) {
            (true, _) => TlsMode::Implicit,
            (false, true) => TlsMode::StartTls,
            (false, false) => TlsMode::Plain,
        };
        let config = client_config(&verify)?;
        Target::new(server, mode, config, self.server_name.as_deref()).map_err(|e| anyhow!(e))
    }

    /// `--timeout` for every reply, or RFC 5321's per-command timeouts ([`Timeouts::default`]).
    pub fn timeouts(&self) -> Timeouts {
        self.timeout.map(Timeouts::uniform).unwrap_or_default()
    }

    /// The client session's options: `--helo`, and an in-band upgrade (STARTTLS, else VMTP ENCRYPT
    /// START) with `--starttls` or `--require-tls`.
    pub fn options(&self) -> ClientOptions {
        let upgrade = self.starttls || self.require_tls;
        ClientOptions {
            helo_name: self.helo.clone(),
            starttls: upgrade,
            prefer_encrypt: upgrade,
            require_tls: self.require_tls,
            ..ClientOptions::default()
        }
    }
}

/// Send one message, over SMTP/VMTP or through an mtpspec HTTP gateway. Exit status: 0
/// delivered to every recipient (with --gateway: accepted, or delivered with --wait), 1
/// refused (permanently, for at least one recipient or message), 3 still failing transiently
/// (after --retry-for, or when --wait gives up), 2 usage and connection errors.
#[derive(clap::Args, Debug)]
#[command(
    override_usage = "mtpspec send --server HOST:PORT --from ADDR [OPTIONS] RCPT... BODY\n       \
        mtpspec send --gateway URL --from ADDR [OPTIONS] RCPT... BODY\n       \
        mtpspec send --gateway URL --batch FILE.json",
    after_help = "Examples:\n  mtpspec send --server 127.0.0.1:2525 --from a@example.com b@example.com \"Hello\"\n  \
        echo hi | mtpspec send --server mx.example.com:25 --starttls --from a@example.com \\\n      \
        --metadata client-id=42 --attach report.pdf --readack b@example.com -\n  \
        mtpspec send --gateway http://127.0.0.1:8080 --from a@example.com --attach notes.txt \\\n      \
        b@example.com \"With attachment\"\n  \
        mtpspec send --gateway http://127.0.0.1:8080 --batch messages.json --wait"
)]
pub struct SendArgs {
    /// The server and TLS options shared with `mtpspec status`.
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Send through the mtpspec HTTP gateway at this URL (`mtpspec serve --http`) instead of
    /// speaking SMTP: POST /send, or POST /batch with --batch (the seed's `--worker URL`).
    #[arg(long, visible_alias = "worker", value_name = "URL", conflicts_with_all = ["server", "raw", "retry_for", "no_vmtp", "no_pipelining", "tls", "starttls", "require_tls"])]
    pub gateway: Option<String>,
    /// With --gateway: the messages of this JSON file, `{"messages": [{"sender", "recipients",
    /// "subject", "body", ...}]}`, sent as one POST /batch.
    #[arg(long, value_name = "FILE.json", requires = "gateway", conflicts_with_all = ["from", "args", "attach", "metadata", "subject", "readack"])]
    pub batch: Option<PathBuf>,
    /// With --gateway: wait until every accepted message is delivered, refused or given up
    /// (at most --timeout, default 2m) and report each recipient.
    #[arg(long, requires = "gateway")]
    pub wait: bool,
    /// The sender's address (MAIL FROM and the From header).
    #[arg(long, value_name = "ADDR", required_unless_present = "batch")]
    pub from: Option<String>,
    /// The Subject header.
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub subject: String,
    /// VMTP metadata to attach, as KEY=VALUE; repeatable. A server without VMTP METADATA
    /// does not get it, and you are told.
    #[arg(long = "metadata", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub metadata: Vec<(String, String)>,
    /// Attach a file; repeatable. The content type is guessed from the file's extension.
    #[arg(long = "attach", value_name = "FILE")]
    pub attach: Vec<PathBuf>,
    /// Ask for a VMTP read receipt (READACK); follow it with `mtpspec status ID`.
    #[arg(long)]
    pub readack: bool,
    /// Plain SMTP only: do not use VMTP verbs even when the server offers them.
    #[arg(long)]
    pub no_vmtp: bool,
    /// One command per round trip even when the server offers PIPELINING.
    #[arg(long)]
    pub no_pipelining: bool,
    /// Keep retrying transient failures (4yz replies, lost connections) for this long, with
    /// growing pauses, e.g. 10m or 2h. Default: a single attempt.
    #[arg(long, value_name = "DURATION", value_parser = crate::units::parse_duration)]
    pub retry_for: Option<Duration>,
    /// BODY is a complete RFC 5322 message (headers included): send it as it is.
    #[arg(long, conflicts_with = "attach")]
    pub raw: bool,
    /// The recipients' addresses, then the message body (`-` reads the body from standard
    /// input).
    #[arg(value_name = "RCPT... BODY", num_args = 2.., required_unless_present = "batch")]
    pub args: Vec<String>,
}

/// Sends the message (with `--gateway`, posts it to the gateway), retrying for `--retry-for`
/// if given, and prints what became of it; the exit status is the one [`SendArgs`] lists.
pub fn main(args: SendArgs) -> anyhow::Result<ExitCode> {
    if let Some(url) = &args.gateway {
        return gateway::main(&args, url);
    }
    let message = compose(&args)?;
    let target = args.conn.target()?;
    let timeouts = args.conn.timeouts();
    let options = ClientOptions {
        use_vmtp: !args.no_vmtp,
        pipelining: !args.no_pipelining,
        ..args.conn.options()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let Some(max_age) = args.retry_for else {
        let outcome = runtime.block_on(deliver(&target, options, vec![message], &timeouts));
        return Ok(print(&outcome, args.conn.transcript, false));
    };
    let policy = RetryPolicy {
        initial: (max_age / 8).clamp(Duration::from_secs(1), Duration::from_secs(60)),
        max_age,
        ..RetryPolicy::default()
    };
    let attempts = runtime.block_on(run_queue(
        &target,
        &options,
        vec![message],
        &timeouts,
        policy,
        print_attempt,
    ));
    let last = attempts
        .last()
        .context("the retry queue returned no attempt")?;
    let expired = matches!(
        last.disposition,
        crate::client::queue::Disposition::Expired(_)
    );
    Ok(print(&last.outcome, args.conn.transcript, expired))
}

/// Prints the outcome and turns it into the exit status.
pub fn print(outcome: &Outcome, transcript: bool, expired: bool) -> ExitCode {
    if transcript {
        outln!("{}\n", outcome.transcript_text());
    }
    let summary = summarize(outcome);
    for line in &summary.lines {
        outln!("{line}");
    }
    for warning in &summary.warnings {
        eprintln!("warning: {warning}");
    }
    match verdict(outcome) {
        Verdict::Delivered => ExitCode::SUCCESS,
        Verdict::Refused => ExitCode::from(1),
        Verdict::Deferred => {
            if expired {
                eprintln!("giving up: still failing after --retry-for");
            }
            ExitCode::from(3)
        }
    }
}

fn print_attempt(attempt: &Attempt) {
    if let crate::client::queue::Disposition::Retry { at_ms, recipients } = attempt.disposition {
        let why = attempt
            .outcome
            .messages
            .first()
            .and_then(|m| m.result.as_ref().err())
            .map_or_else(
                || "some recipients deferred".to_string(),
                ToString::to_string,
            );
        let wait = Duration::from_millis(at_ms.saturating_sub(attempt.at_ms));
        eprintln!("attempt failed ({why}); retrying {recipients} recipient(s) in {wait:?}");
    }
}

fn compose(args: &SendArgs) -> anyhow::Result<Message> {
    let (from, recipients, body) = envelope(args)?;
    let from = Mailbox::parse(&from).map_err(|e| anyhow!("--from {from}: {e}"))?;
    let recipients = recipients
        .iter()
        .map(|r| Mailbox::parse(r).map_err(|e| anyhow!("recipient {r}: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let body = crlf(&body);
    let data = if args.raw {
        body.into_bytes()
    } else {
        let attachments = args
            .attach
            .iter()
            .map(|p| Attachment::from_file(p).with_context(|| format!("--attach {}", p.display())))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
        let now_ms = u64::try_from(now.as_millis())?;
        let compose = Compose {
            from: from.to_string(),
            to: recipients.iter().map(Mailbox::to_string).collect(),
            subject: args.subject.clone(),
            text: body,
            attachments,
            date: i64::try_from(now.as_secs())?,
            message_id: new_message_id(now_ms, &from.domain),
        };
        build(&compose).context("building the message")?
    };
    Ok(Message {
        reverse_path: Some(from),
        recipients,
        data,
        metadata: args.metadata.clone(),
        read_ack: args.readack,
    })
}

/// The sender, the recipients and the body (read from standard input for `-`), unchecked.
fn envelope(args: &SendArgs) -> anyhow::Result<(String, Vec<String>, String)> {
    let from = args.from.clone().context("--from ADDR is required")?;
    let (body, recipients) = args
        .args
        .split_last()
        .filter(|(_, recipients)| !recipients.is_empty())
        .context("RCPT and BODY are required")?;
    let body = if body == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the body from standard input")?;
        text
    } else {
        body.clone()
    };
    Ok((from, recipients.to_vec(), body))
}

/// Line ends as CRLF, whatever the input used.
///
/// RFC 5321 §2.3.8: "SMTP client implementations MUST NOT transmit these characters [CR and
/// LF] except when they are intended as line terminators and then MUST transmit them only as
/// a <CRLF> sequence." A bare CR or a bare LF becomes CRLF (SPEC SMTP-CLIENT-4).
fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n")
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::crlf;

    #[test]
    fn every_line_end_becomes_crlf() {
        assert_eq!(crlf("a\nb\r\nc\rd\r\r\n"), "a\r\nb\r\nc\r\nd\r\n\r\n");
    }
}
