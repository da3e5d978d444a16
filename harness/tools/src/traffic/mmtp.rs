//! MMTP load (`mtpspec load --target mmtp://HOST:PORT`): each session, on its own connection
//! and its own recipient, SENDs a message and then RECEIVEs it, so every round trip pair moves
//! one message through the server's store. HashCash is minted before the SEND is timed (run the
//! server with a low `--mmtp-difficulty`: minting at the default difficulty is the client's
//! cost, not the server's).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mtp_proto::mmtp::hashcash::{Stamp, mint};
use mtp_proto::mmtp::packet::{NewPacket, PacketType, build, plain_content};
use mtp_server::mmtp::client::{Client, ClientOptions};

use super::{LoadReport, Phase, collect, spawn_ticker};

/// What the MMTP load sends and how.
#[derive(Clone, Debug)]
pub struct MmtpLoadOptions {
    /// `host:port` of a plain-TCP MMTP listener.
    pub target: String,
    /// Concurrent sessions, each with its own connection and recipient (0 counts as 1).
    pub sessions: usize,
    /// SEND/RECEIVE pairs in total.
    pub messages: u64,
    /// Body size in octets.
    pub size: usize,
    /// The domain of the recipients' addresses (`(mmtploadN)%(domain)`).
    pub recipient_domain: String,
    /// Stop taking new messages after this long (None: run until `messages` are done).
    pub duration: Option<Duration>,
}

struct Shared {
    options: MmtpLoadOptions,
    next: AtomicU64,
    done: AtomicU64,
    started: Instant,
}

/// Runs the MMTP load; `delivered` counts messages both sent and received back.
pub async fn run(
    options: MmtpLoadOptions,
    progress: impl Fn(u64, u64) + Send + Sync + 'static,
) -> LoadReport {
    let sessions = options.sessions.max(1);
    let total = options.messages;
    let shared = Arc::new(Shared {
        options,
        next: AtomicU64::new(0),
        done: AtomicU64::new(0),
        started: Instant::now(),
    });
    let watched = shared.clone();
    let ticker = spawn_ticker(
        move || (watched.done.load(Ordering::Relaxed), total),
        progress,
    );
    let tasks: Vec<_> = (0..sessions)
        .map(|w| tokio::spawn(worker(shared.clone(), w)))
        .collect();
    let report = collect(tasks, shared.started).await;
    ticker.abort();
    report
}

async fn worker(shared: Arc<Shared>, w: usize) -> LoadReport {
    let mut report = LoadReport::default();
    let options = &shared.options;
    let recipient = format!("(mmtpload{w})%({})", options.recipient_domain);
    let body = "x".repeat(options.size);
    let t = Instant::now();
    let mut client = match Client::connect(&options.target, &ClientOptions::default()).await {
        Ok(c) => c,
        Err(e) => {
            report.error(format!("connect: {e}"));
            return report;
        }
    };
    report.record(Phase::Connect, t.elapsed());
    let difficulty = client.welcome().difficulty.unwrap_or(0);
    loop {
        let n = shared.next.fetch_add(1, Ordering::Relaxed);
        let over = options
            .duration
            .is_some_and(|d| shared.started.elapsed() >= d);
        if n >= options.messages || over {
            break;
        }
        let packet = packet(n, difficulty, &recipient, &body);
        match round_trip(&mut client, packet, &recipient, &mut report).await {
            Ok(()) => {
                report.delivered += 1;
                shared.done.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                report.error(e);
                break;
            }
        }
    }
    report
}

/// A SEND packet (MMTP addresses are `(local)%(domain)`) from a sender unique to message `n` (so no two HashCash tokens are equal).
fn packet(n: u64, difficulty: u32, recipient: &str, body: &str) -> mtp_proto::mmtp::json::Json {
    let timestamp_ms = mtp_server::server::system_now_ms();
    let stamp = Stamp {
        difficulty,
        timestamp_ms,
        sender: format!("(load{n})%(client.example)"),
        recipient: recipient.to_owned(),
    };
    // A counter exists for any difficulty the server can ask within the u64 range in practice;
    // 0 only makes the server reject the SEND, which is then counted as an error.
    let counter = mint(&stamp, 0..u64::MAX).unwrap_or(0);
    build(NewPacket {
        kind: PacketType::Send,
        message_id: format!("{n:032x}"),
        timestamp_ms,
        sender: stamp.sender.clone(),
        recipient: stamp.recipient.clone(),
        content: plain_content(&format!("mtpspec load {n}"), body),
        hashcash: stamp.hashcash_token(counter),
        tags: None,
        signature: None,
        encrypted: None,
    })
}

/// SEND, then RECEIVE on the same recipient, which must return exactly that one message.
async fn round_trip(
    client: &mut Client,
    packet: mtp_proto::mmtp::json::Json,
    recipient: &str,
    report: &mut LoadReport,
) -> Result<(), String> {
    let start = Instant::now();
    let sent = client.send(packet).await.map_err(|e| e.to_string())?;
    if let Some((code, _)) = sent.error() {
        return Err(format!("SEND {code}"));
    }
    report.record(Phase::Send, start.elapsed());
    let t = Instant::now();
    let received = client.receive(recipient).await.map_err(|e| e.to_string())?;
    if let Some((code, _)) = received.error() {
        return Err(format!("RECEIVE {code}"));
    }
    report.record(Phase::Receive, t.elapsed());
    report.record(Phase::Message, start.elapsed());
    match received.messages().len() {
        1 => Ok(()),
        k => Err(format!("RECEIVE returned {k} messages, not 1")),
    }
}
