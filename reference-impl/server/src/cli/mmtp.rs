//! `mtpspec mmtp`: the reference MMTP client. Send (with HashCash minted over all cores, a
//! progress line, Ctrl-C to cancel, and optional OpenPGP signing and encryption), receive and
//! drain a mailbox (decrypting and checking integrity and signatures), count and filter by
//! tags, register and fetch public keys, list tag categories, and generate key pairs.
//!
//! Keys live in a keystore directory as the original client kept them:
//! `KEYSTORE/(name)%(domain).pub.asc` and `.priv.asc`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::client::tls::{Verify, load_roots, parse_pin, system_roots};
use crate::mmtp::client::{Client, ClientOptions, Compose, Reply, compose, new_message_id};
use crate::mmtp::mint::{MintOptions, Progress};
use crate::mmtp::pgp::{PublicKey, SecretKey};
use crate::server::system_now_ms;
use anyhow::{Context, bail};
use mtp_proto::mmtp::Address;
use mtp_proto::mmtp::digest::message_hash;
use mtp_proto::mmtp::json::{Json, Object};
use mtp_proto::mmtp::packet::PacketType;

use crate::units::parse_duration;

/// Talk MMTP to a server. Exit status: 0 the server answered OK, 1 it answered ERROR (the
/// code and message are printed), 2 usage, connection and key errors.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    mtpspec mmtp keygen --email '(alice)%(example.com)'\n  \
    mtpspec mmtp --server 127.0.0.1:8025 register-key --email '(alice)%(example.com)'\n  \
    mtpspec mmtp --server 127.0.0.1:8025 send --from '(alice)%(example.com)' \\\n      \
    --to '(bob)%(example.com)' --subject Hello --body 'Hi Bob' --tag priority=high --sign\n  \
    mtpspec mmtp --server 127.0.0.1:8026 --tls --insecure receive --email '(bob)%(example.com)'\n  \
    mtpspec mmtp --server 127.0.0.1:8025 filter --email '(bob)%(example.com)' --tag category=work")]
pub struct MmtpArgs {
    /// The server as HOST:PORT (8025 plain, 8026 implicit TLS by convention).
    #[arg(
        long,
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:8025",
        global = true
    )]
    pub server: String,
    /// Speak TLS from the first byte (the implicit-TLS port, usually 8026).
    #[arg(long, global = true)]
    pub tls: bool,
    /// Accept any server certificate (self-signed test servers).
    #[arg(long, global = true, conflicts_with_all = ["pin_sha256", "ca"])]
    pub insecure: bool,
    /// Accept only a certificate whose public key has this SHA-256 (64 hex digits).
    #[arg(long, value_name = "HEX", global = true, conflicts_with = "ca")]
    pub pin_sha256: Option<String>,
    /// Trust the CA certificates in this PEM file instead of the system's.
    #[arg(long, value_name = "FILE", global = true)]
    pub ca: Option<PathBuf>,
    /// Wait at most this long to connect and for each response, e.g. 30s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s", global = true)]
    pub timeout: Duration,
    /// Where key pairs are kept.
    #[arg(long, value_name = "DIR", default_value = "keystore", global = true)]
    pub keystore: PathBuf,
    /// Print the server's responses as JSON instead of a summary.
    #[arg(long, global = true)]
    pub json: bool,
    /// The request to make.
    #[command(subcommand)]
    pub command: MmtpCommand,
}

/// The `mtpspec mmtp` subcommands: one MMTP request each, or key and HashCash work done
/// locally.
#[derive(clap::Subcommand, Debug)]
pub enum MmtpCommand {
    /// Send a message (SEND), minting its HashCash first.
    Send(SendArgs),
    /// Fetch and drain every message of a mailbox (RECEIVE).
    Receive(MailboxArgs),
    /// Count messages, in total and matching --tag filters, without draining (CHECK).
    Check(FilterArgs),
    /// Fetch and drain the messages matching --tag filters (RECEIVE_FILTERED).
    Filter(FilterArgs),
    /// Register a public key with the server (REGISTER_KEY).
    RegisterKey(RegisterKeyArgs),
    /// Fetch a registered public key (REQUEST_PUBLIC_KEY).
    GetKey(GetKeyArgs),
    /// List the tag categories and their values (GET_TAG_CATEGORIES).
    Tags,
    /// Generate a key pair into the keystore.
    Keygen(KeygenArgs),
    /// Measure HashCash tries per second on one core and on all (no server needed).
    Bench(super::mmtp_bench::BenchArgs),
}

/// The arguments of `mtpspec mmtp send`.
#[derive(clap::Args, Debug)]
pub struct SendArgs {
    /// The sender's address; with --sign, its key in the keystore signs.
    #[arg(long, value_name = "(NAME)%(DOMAIN)")]
    pub from: String,
    /// The recipient's address.
    #[arg(long, value_name = "(NAME)%(DOMAIN)")]
    pub to: String,
    /// The message's subject.
    #[arg(long, default_value = "")]
    pub subject: String,
    /// The body text ("-" reads standard input).
    #[arg(long, default_value = "")]
    pub body: String,
    /// A tag as CATEGORY=VALUE (priority, category, status, custom); repeatable.
    #[arg(long = "tag", value_name = "CATEGORY=VALUE")]
    pub tags: Vec<String>,
    /// SEND, REPLY or FORWARD.
    #[arg(long = "type", default_value = "SEND", value_parser = parse_type)]
    pub kind: PacketType,
    /// Sign with the sender's key from the keystore.
    #[arg(long)]
    pub sign: bool,
    /// Encrypt to the recipient's key (from the keystore, else from the server).
    #[arg(long)]
    pub encrypt: bool,
    /// Passphrase of the signing key (default: $MTPSPEC_MMTP_PASSPHRASE, else none).
    #[arg(long)]
    pub passphrase: Option<String>,
    /// HashCash difficulty (default: what the server's welcome announces, else 5).
    #[arg(long)]
    pub difficulty: Option<u32>,
    /// Minting threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Give up minting after this long, e.g. 5m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub mint_timeout: Option<Duration>,
    /// No progress line while minting.
    #[arg(long)]
    pub quiet: bool,
}

/// The arguments of `mtpspec mmtp receive`, and the mailbox part of [`FilterArgs`].
#[derive(clap::Args, Debug)]
pub struct MailboxArgs {
    /// The mailbox's address.
    #[arg(long, value_name = "(NAME)%(DOMAIN)")]
    pub email: String,
    /// Decrypt encrypted messages with the mailbox's secret key from the keystore.
    #[arg(long)]
    pub decrypt: bool,
    /// Passphrase of that key (default: $MTPSPEC_MMTP_PASSPHRASE, else none).
    #[arg(long)]
    pub passphrase: Option<String>,
}

/// The arguments of `mtpspec mmtp check` and `mtpspec mmtp filter`.
#[derive(clap::Args, Debug)]
pub struct FilterArgs {
    /// The mailbox, and how to decrypt what it holds.
    #[command(flatten)]
    pub mailbox: MailboxArgs,
    /// A filter as CATEGORY=VALUE: any value within a category, every category given.
    #[arg(long = "tag", value_name = "CATEGORY=VALUE")]
    pub tags: Vec<String>,
}

/// The arguments of `mtpspec mmtp register-key`.
#[derive(clap::Args, Debug)]
pub struct RegisterKeyArgs {
    /// The address the key is registered for.
    #[arg(long, value_name = "(NAME)%(DOMAIN)")]
    pub email: String,
    /// The armored public key (default: KEYSTORE/EMAIL.pub.asc).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

/// The arguments of `mtpspec mmtp get-key`.
#[derive(clap::Args, Debug)]
pub struct GetKeyArgs {
    /// The address whose public key to fetch.
    #[arg(long, value_name = "(NAME)%(DOMAIN)")]
    pub email: String,
    /// Also save it as KEYSTORE/EMAIL.pub.asc.
    #[arg(long)]
    pub save: bool,
}

/// The arguments of `mtpspec mmtp keygen`.
#[derive(clap::Args, Debug)]
pub struct KeygenArgs {
    /// The address the key pair is for; it names the keystore files.
    #[arg(long, value_name = "(NAME)%(DOMAIN)")]
    pub email: String,
    /// The name in the user ID (default: the address's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Protect the secret key (default: $MTPSPEC_MMTP_PASSPHRASE, else unprotected).
    #[arg(long)]
    pub passphrase: Option<String>,
    /// Replace an existing key pair.
    #[arg(long)]
    pub force: bool,
}

fn parse_type(text: &str) -> Result<PacketType, String> {
    match text.to_ascii_uppercase().as_str() {
        "SEND" => Ok(PacketType::Send),
        "REPLY" => Ok(PacketType::Reply),
        "FORWARD" => Ok(PacketType::Forward),
        _ => Err(format!("expected SEND, REPLY or FORWARD, got {text:?}")),
    }
}

/// Runs the subcommand: `keygen` and `bench` locally, the others as requests on one connection
/// to `--server`; the exit status is the one [`MmtpArgs`] lists.
pub fn main(args: MmtpArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        MmtpCommand::Keygen(keygen) => return self::keygen(&args.keystore, keygen),
        MmtpCommand::Bench(bench) => return super::mmtp_bench::main(bench),
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(&args))
}

async fn run(args: &MmtpArgs) -> anyhow::Result<ExitCode> {
    let options = ClientOptions {
        tls: args.tls.then(|| verify(args)).transpose()?,
        timeout: args.timeout,
    };
    let mut client = Client::connect(&args.server, &options).await.map_err(|e| {
        super::Unreachable(format!(
            "cannot open an MMTP session with {}: {e}",
            args.server
        ))
    })?;
    let reply = match &args.command {
        MmtpCommand::Send(send) => self::send(&mut client, args, send).await?,
        MmtpCommand::Receive(mailbox) => {
            let reply = client.receive(&address(&mailbox.email)?).await?;
            show_messages(args, mailbox, &reply)?;
            reply
        }
        MmtpCommand::Check(filter) => {
            let reply = client
                .check(&address(&filter.mailbox.email)?, tag_object(&filter.tags)?)
                .await?;
            if !args.json && reply.is_ok() {
                let (count, total) = (reply.u64("count"), reply.u64("totalCount"));
                outln!(
                    "{} matching, {} in the mailbox",
                    count.unwrap_or(0),
                    total.unwrap_or(0)
                );
                if let Some(counts) = reply.get("tagCounts") {
                    outln!("tags: {counts}");
                }
            }
            reply
        }
        MmtpCommand::Filter(filter) => {
            let filters = tag_object(&filter.tags)?.unwrap_or(Json::Object(Object::new()));
            let reply = client
                .receive_filtered(&address(&filter.mailbox.email)?, filters)
                .await?;
            show_messages(args, &filter.mailbox, &reply)?;
            reply
        }
        MmtpCommand::RegisterKey(register) => {
            let email = address(&register.email)?;
            let path = register
                .key
                .clone()
                .unwrap_or_else(|| key_path(&args.keystore, &email, "pub"));
            let armored = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            client.register_key(&email, &armored).await?
        }
        MmtpCommand::GetKey(get) => {
            let email = address(&get.email)?;
            let reply = client.request_public_key(&email).await?;
            if let (Some(key), false) = (reply.str("publicKey"), args.json) {
                out!("{key}");
                if get.save {
                    write_key(&key_path(&args.keystore, &email, "pub"), key)?;
                }
            }
            reply
        }
        MmtpCommand::Tags => {
            let reply = client.tag_categories().await?;
            if let (Some(Json::Object(categories)), false) = (reply.get("tagCategories"), args.json)
            {
                for (category, values) in categories.iter() {
                    outln!("{category}: {values}");
                }
            }
            reply
        }
        MmtpCommand::Keygen(_) | MmtpCommand::Bench(_) => unreachable!("handled before connecting"),
    };
    Ok(finish(args, &reply))
}

/// Prints the response as JSON (--json) or the error; the exit status.
fn finish(args: &MmtpArgs, reply: &Reply) -> ExitCode {
    if args.json {
        outln!("{reply}");
    }
    match reply.error() {
        Some((code, message)) => {
            eprintln!("mtpspec mmtp: the server refused: {code} {message}");
            ExitCode::from(1)
        }
        None => {
            if let (false, Some(message)) = (args.json, reply.str("message")) {
                outln!("{message}");
            }
            ExitCode::SUCCESS
        }
    }
}

fn verify(args: &MmtpArgs) -> anyhow::Result<Verify> {
    Ok(if args.insecure {
        Verify::Insecure
    } else if let Some(pin) = &args.pin_sha256 {
        Verify::PinSha256(parse_pin(pin)?)
    } else if let Some(ca) = &args.ca {
        Verify::Roots(Arc::new(load_roots(ca)?))
    } else {
        Verify::Roots(Arc::new(system_roots()))
    })
}

/// Checks the address locally, so a typo is not sent.
fn address(text: &str) -> anyhow::Result<String> {
    Address::parse(text)
        .with_context(|| format!("{text:?} is not an MMTP address (name)%(domain)"))?;
    Ok(text.to_owned())
}

/// `--tag CATEGORY=VALUE...` as a tags object; `None` when none was given.
fn tag_object(tags: &[String]) -> anyhow::Result<Option<Json>> {
    if tags.is_empty() {
        return Ok(None);
    }
    let mut object = Object::new();
    for tag in tags {
        let (category, value) = tag
            .split_once('=')
            .with_context(|| format!("--tag {tag:?}: expected CATEGORY=VALUE"))?;
        let mut values = match object.remove(category) {
            Some(Json::Array(values)) => values,
            _ => Vec::new(),
        };
        values.push(Json::from(value));
        object.insert(category, Json::Array(values));
    }
    Ok(Some(Json::Object(object)))
}

fn key_path(keystore: &Path, email: &str, kind: &str) -> PathBuf {
    keystore.join(format!("{email}.{kind}.asc"))
}

fn passphrase(given: &Option<String>) -> Option<String> {
    given
        .clone()
        .or_else(|| std::env::var("MTPSPEC_MMTP_PASSPHRASE").ok())
}

fn read_secret_key(
    keystore: &Path,
    email: &str,
    given: &Option<String>,
) -> anyhow::Result<SecretKey> {
    let path = key_path(keystore, email, "priv");
    let armored = std::fs::read_to_string(&path)
        .with_context(|| format!("no secret key for {email} ({})", path.display()))?;
    Ok(SecretKey::parse(&armored, passphrase(given).as_deref())?)
}

fn write_key(path: &Path, armored: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, armored).with_context(|| format!("cannot write {}", path.display()))
}

async fn send(client: &mut Client, args: &MmtpArgs, send: &SendArgs) -> anyhow::Result<Reply> {
    let (from, to) = (address(&send.from)?, address(&send.to)?);
    let body = if send.body == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read the body")?
    } else {
        send.body.clone()
    };
    let sign = match send.sign {
        true => Some(read_secret_key(&args.keystore, &from, &send.passphrase)?),
        false => None,
    };
    let encrypt_to = match send.encrypt {
        true => Some(recipient_key(client, &args.keystore, &to).await?),
        false => None,
    };
    let difficulty = send
        .difficulty
        .or(client.welcome().difficulty)
        .unwrap_or(mtp_proto::mmtp::server::DEFAULT_DIFFICULTY);
    let message = Compose {
        sender: from,
        recipient: to,
        subject: send.subject.clone(),
        body,
        tags: tag_object(&send.tags)?,
        kind: send.kind,
        sign,
        encrypt_to,
        difficulty,
        timestamp_ms: system_now_ms(),
        message_id: new_message_id(),
    };
    let packet = mint(message, send).await?;
    let reply = client.send(packet).await?;
    if !args.json && reply.is_ok() {
        let id = reply.str("messageId").unwrap_or("?");
        let verified = match reply.get("signatureVerified") {
            Some(Json::Bool(true)) => ", signature verified by the server",
            Some(Json::Bool(false)) => ", the server could NOT verify the signature",
            _ => "",
        };
        outln!("message {id} accepted{verified}");
    }
    Ok(reply)
}

/// The recipient's key: from the keystore if there, else fetched from the server.
async fn recipient_key(
    client: &mut Client,
    keystore: &Path,
    to: &str,
) -> anyhow::Result<PublicKey> {
    let path = key_path(keystore, to, "pub");
    let armored = match std::fs::read_to_string(&path) {
        Ok(armored) => armored,
        Err(_) => {
            let reply = client.request_public_key(to).await?;
            match (reply.str("publicKey"), reply.error()) {
                (Some(key), _) => key.to_owned(),
                (None, Some((code, message))) => bail!("no key for {to}: {code} {message}"),
                (None, None) => bail!("no key for {to} in {reply}"),
            }
        }
    };
    Ok(PublicKey::parse(&armored)?)
}

/// Composes the packet on the blocking pool, with a progress line and Ctrl-C to cancel.
async fn mint(message: Compose, send: &SendArgs) -> anyhow::Result<Json> {
    let cancel = Arc::new(AtomicBool::new(false));
    let options = MintOptions {
        threads: send.threads,
        timeout: send.mint_timeout,
        ..MintOptions::default()
    };
    let show = !send.quiet && std::io::stderr().is_terminal();
    let difficulty = message.difficulty;
    let worker_cancel = cancel.clone();
    let mut work = tokio::task::spawn_blocking(move || {
        compose(message, &options, &worker_cancel, |p| {
            if show {
                eprint!("\r{}", progress_line(difficulty, p));
            }
        })
    });
    let composed = tokio::select! {
        done = &mut work => done,
        _ = tokio::signal::ctrl_c() => {
            cancel.store(true, Ordering::Relaxed);
            work.await
        }
    };
    if show {
        eprintln!();
    }
    Ok(composed.context("the minting thread failed")??)
}

fn progress_line(difficulty: u32, p: Progress) -> String {
    let rate = p.tries as f64 / p.elapsed.as_secs_f64().max(1e-3);
    let left = if (p.tries as f64) < p.expected {
        format!(
            "about {:.0}s left",
            (p.expected - p.tries as f64) / rate.max(1.0)
        )
    } else {
        "any moment now".to_owned()
    };
    format!(
        "minting HashCash at difficulty {difficulty}: {:.1}M tries, {:.2}M/s, {left}   ",
        p.tries as f64 / 1e6,
        rate / 1e6
    )
}

/// Prints received packets: envelope, tags, integrity, signature, and the content
/// (decrypted with --decrypt).
fn show_messages(args: &MmtpArgs, mailbox: &MailboxArgs, reply: &Reply) -> anyhow::Result<()> {
    if args.json || !reply.is_ok() {
        return Ok(());
    }
    let key = match mailbox.decrypt {
        true => Some(read_secret_key(
            &args.keystore,
            &mailbox.email,
            &mailbox.passphrase,
        )?),
        false => None,
    };
    outln!("{} message(s)", reply.messages().len());
    for packet in reply.messages() {
        outln!();
        show_packet(packet, key.as_ref(), &args.keystore);
    }
    Ok(())
}

fn show_packet(packet: &Json, key: Option<&SecretKey>, keystore: &Path) {
    let empty = Object::new();
    let object = packet.as_object().unwrap_or(&empty);
    let member = |o: &Object, name: &str| match o.get(name) {
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let meta = object
        .get("meta")
        .and_then(Json::as_object)
        .unwrap_or(&empty);
    let verification = object
        .get("verification")
        .and_then(Json::as_object)
        .unwrap_or(&empty);
    let sender = member(object, "sender");
    outln!("From: {sender}");
    outln!("To: {}", member(object, "recipient"));
    if let Some(Json::Number(ts)) = meta.get("timestamp") {
        outln!(
            "Date: {}",
            mtp_proto::time::rfc3339(ts.as_u64().unwrap_or(0))
        );
    }
    outln!(
        "Id: {} ({})",
        member(meta, "messageId"),
        member(meta, "type")
    );
    if let Some(tags) = meta.get("tags") {
        outln!("Tags: {tags}");
    }
    let plaintext = plaintext(object.get("content"), key);
    let signature = verification.get("signature").and_then(Json::as_str);
    outln!(
        "Signature: {}",
        signature_state(meta, signature, plaintext.as_ref(), keystore, &sender)
    );
    let Some(plaintext) = plaintext else {
        return;
    };
    let claimed = verification.get("messageHash").and_then(Json::as_str);
    let intact = claimed == Some(message_hash(&plaintext).as_str());
    outln!("Integrity: {}", if intact { "ok" } else { "MISMATCH" });
    let text = |name: &str| {
        plaintext
            .as_object()
            .and_then(|c| c.get(name))
            .and_then(Json::as_str)
            .unwrap_or("")
    };
    outln!("Subject: {}\n\n{}", text("subject"), text("body"));
}

/// The content, decrypted when it is encrypted and a key is at hand.
fn plaintext(content: Option<&Json>, key: Option<&SecretKey>) -> Option<Json> {
    let content = content.cloned().unwrap_or(Json::Null);
    let encrypted = content
        .as_object()
        .and_then(|c| c.get("encrypted"))
        .and_then(Json::as_str);
    let (armored, key) = match (encrypted, key) {
        (None, _) => return Some(content),
        (Some(_), None) => {
            outln!("[encrypted: use --decrypt]");
            return None;
        }
        (Some(armored), Some(key)) => (armored, key),
    };
    match key.decrypt(armored).map(|bytes| Json::from_slice(&bytes)) {
        Ok(Ok(json)) => Some(json),
        Ok(Err(e)) => {
            outln!("[decrypted, but not JSON: {e}]");
            None
        }
        Err(e) => {
            outln!("[cannot decrypt: {e}]");
            None
        }
    }
}

/// The server's verdict; for what it cannot check (an encrypted message's signature covers the
/// plaintext), the client's own check with the sender's key from the keystore.
fn signature_state(
    meta: &Object,
    signature: Option<&str>,
    plaintext: Option<&Json>,
    keystore: &Path,
    sender: &str,
) -> &'static str {
    match meta.get("signatureVerified") {
        Some(Json::Bool(true)) => return "verified by the server",
        Some(Json::Bool(false)) => return "INVALID (the server's check failed)",
        _ => {}
    }
    let (Some(signature), true) = (signature, meta.get("signed") == Some(&Json::Bool(true))) else {
        return "none";
    };
    let key = std::fs::read_to_string(key_path(keystore, sender, "pub"))
        .ok()
        .and_then(|armored| PublicKey::parse(&armored).ok());
    match (plaintext, key) {
        (Some(plaintext), Some(key)) => {
            if key.verify(plaintext.to_compact_string().as_bytes(), signature) {
                "verified here with the sender's key from the keystore"
            } else {
                "INVALID (checked here with the sender's key from the keystore)"
            }
        }
        (None, _) => "not verified (the content is encrypted)",
        (Some(_), None) => "not verified (no key for the sender, here or on the server)",
    }
}

fn keygen(keystore: &Path, args: &KeygenArgs) -> anyhow::Result<ExitCode> {
    let email = address(&args.email)?;
    let (public, secret) = (
        key_path(keystore, &email, "pub"),
        key_path(keystore, &email, "priv"),
    );
    if !args.force && (public.exists() || secret.exists()) {
        bail!(
            "{} already has keys in {} (--force replaces them)",
            email,
            keystore.display()
        );
    }
    let name = args.name.clone().unwrap_or_else(|| {
        Address::parse(&email)
            .map(|a| a.local().to_owned())
            .unwrap_or_default()
    });
    let key = SecretKey::generate(
        &format!("{name} <{email}>"),
        passphrase(&args.passphrase).as_deref(),
    )?;
    write_key(&secret, &key.to_armored()?)?;
    write_key(&public, &key.public_key().to_armored()?)?;
    outln!("{}", key.public_key().fingerprint());
    outln!(
        "secret key: {}\npublic key: {}",
        secret.display(),
        public.display()
    );
    Ok(ExitCode::SUCCESS)
}
