//! A fault-injecting TCP proxy for real servers (`mtpspec proxy`): it relays each client
//! connection to the upstream server and brings the simulation's faults to it: added latency,
//! byte-by-byte delivery, stalls, a cut after N octets, and a cut right after the end-of-data
//! dot, before the reply (the protocol's one ambiguity: did the server take the message?).
//! Every event is reported as a line, so a run shows what the server answered that the client
//! never saw.

mod fault;

pub use fault::{DotWatcher, Fault};

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{sleep, timeout};

/// How long a reply is awaited after the client was cut off following the dot.
const REPLY_WAIT: Duration = Duration::from_secs(30);

/// What the proxy does and to which connections.
#[derive(Clone, Debug)]
pub struct ProxyOptions {
    /// `host:port` of the server.
    pub upstream: String,
    /// The faults applied to each faulty connection, combined (none: a clean relay).
    pub faults: Vec<Fault>,
    /// Faults apply to the first this many connections only (then relays are clean), so a
    /// client's retry can get through; `None`: every connection.
    pub faulty_connections: Option<u64>,
}

/// Where the proxy's events go (one line each).
pub type Events = Arc<dyn Fn(String) + Send + Sync>;

/// Accepts connections on `listener` and relays each one; runs until `max` connections
/// have been accepted (forever if `None`), then waits for their relays to end.
pub async fn serve(
    listener: TcpListener,
    options: ProxyOptions,
    max: Option<u64>,
    events: Events,
) -> io::Result<()> {
    let options = Arc::new(options);
    let counter = AtomicU64::new(0);
    let mut relays = tokio::task::JoinSet::new();
    while max.is_none_or(|m| counter.load(Ordering::Relaxed) < m) {
        let (client, peer) = listener.accept().await?;
        let number = counter.fetch_add(1, Ordering::Relaxed) + 1;
        let faulty = options.faulty_connections.is_none_or(|n| number <= n);
        let faults = if faulty {
            options.faults.clone()
        } else {
            Vec::new()
        };
        let (options, events) = (options.clone(), events.clone());
        relays.spawn(async move {
            let say = |text: String| events(format!("conn {number}: {text}"));
            say(format!("from {peer}, faults: {}", describe(&faults)));
            let result = relay(client, &options.upstream, &faults, &say).await;
            match result {
                Ok(()) => say("closed".into()),
                Err(e) => say(format!("ended: {e}")),
            }
        });
    }
    while relays.join_next().await.is_some() {}
    Ok(())
}

fn describe(faults: &[Fault]) -> String {
    if faults.is_empty() {
        return "none".into();
    }
    let names: Vec<String> = faults.iter().map(Fault::to_string).collect();
    names.join(", ")
}

/// The faults of one connection, sorted by kind.
#[derive(Debug, Default)]
struct Plan {
    latency: Duration,
    bytewise: Option<Duration>,
    stall: Option<(u64, Duration)>,
    cut: Option<u64>,
    /// `Some(true)`: close both sides after the dot; `Some(false)`: the client side only.
    after_dot: Option<bool>,
}

impl Plan {
    fn new(faults: &[Fault]) -> Self {
        let mut plan = Self::default();
        for fault in faults {
            match *fault {
                Fault::Latency(d) => plan.latency = d,
                Fault::Bytewise(gap) => plan.bytewise = Some(gap),
                Fault::Stall { after, pause } => plan.stall = Some((after, pause)),
                Fault::Cut(n) => plan.cut = Some(n),
                Fault::CutAfterDot => plan.after_dot = Some(false),
                Fault::ResetAfterDot => plan.after_dot = Some(true),
            }
        }
        plan
    }
}

/// Client octets passed on so far, and whether the stall happened.
struct Upstream {
    writer: OwnedWriteHalf,
    sent: u64,
    stalled: bool,
}

impl Upstream {
    async fn forward(
        &mut self,
        plan: &Plan,
        bytes: &[u8],
        say: &impl Fn(String),
    ) -> io::Result<()> {
        if !plan.latency.is_zero() {
            sleep(plan.latency).await;
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            let take = match plan.stall {
                Some((after, _)) if !self.stalled && self.sent < after => rest
                    .len()
                    .min(usize::try_from(after - self.sent).unwrap_or(usize::MAX)),
                _ => rest.len(),
            };
            let (piece, more) = rest.split_at(take);
            self.write(plan, piece).await?;
            rest = more;
            let due = plan
                .stall
                .filter(|(after, _)| !self.stalled && self.sent >= *after);
            if let Some((after, pause)) = due {
                self.stalled = true;
                say(format!("stalling {pause:?} after {after} client octets"));
                sleep(pause).await;
            }
        }
        Ok(())
    }

    async fn write(&mut self, plan: &Plan, bytes: &[u8]) -> io::Result<()> {
        match plan.bytewise {
            None => self.writer.write_all(bytes).await?,
            Some(gap) => {
                for byte in bytes {
                    self.writer.write_all(std::slice::from_ref(byte)).await?;
                    self.writer.flush().await?;
                    if !gap.is_zero() {
                        sleep(gap).await;
                    }
                }
            }
        }
        self.sent += bytes.len() as u64;
        Ok(())
    }
}

async fn relay(
    client: TcpStream,
    upstream: &str,
    faults: &[Fault],
    say: &impl Fn(String),
) -> io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let plan = Plan::new(faults);
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, to_server) = server.into_split();
    let mut up = Upstream {
        writer: to_server,
        sent: 0,
        stalled: false,
    };
    let mut watch = DotWatcher::default();
    let (mut cbuf, mut sbuf) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
    loop {
        tokio::select! {
            read = from_client.read(&mut cbuf) => {
                let n = read?;
                if n == 0 {
                    let _ = up.writer.shutdown().await;
                    return drain(&mut from_server, &mut to_client, &plan).await;
                }
                let bytes = &cbuf[..n];
                if let Some(limit) = plan.cut.filter(|limit| up.sent + n as u64 >= *limit) {
                    let keep = usize::try_from(limit - up.sent).unwrap_or(n).min(n);
                    up.forward(&plan, &bytes[..keep], say).await?;
                    say(format!("cut after {limit} client octets"));
                    return Ok(());
                }
                let dot = watch.client(bytes);
                match (dot, plan.after_dot) {
                    (Some(end), Some(reset)) => {
                        up.forward(&plan, &bytes[..end], say).await?;
                        say(format!("end-of-data dot passed on (client octet {}); client cut off", up.sent));
                        drop(to_client);
                        if reset {
                            say("server connection closed too".into());
                            return Ok(());
                        }
                        return unseen_reply(&mut from_server, say).await;
                    }
                    _ => up.forward(&plan, bytes, say).await?,
                }
            }
            read = from_server.read(&mut sbuf) => {
                let n = read?;
                if n == 0 {
                    let _ = to_client.shutdown().await;
                    return Ok(());
                }
                watch.server(&sbuf[..n]);
                if !plan.latency.is_zero() {
                    sleep(plan.latency).await;
                }
                to_client.write_all(&sbuf[..n]).await?;
            }
        }
    }
}

/// The client closed its side: pass on what the server still says, then end.
async fn drain(
    from_server: &mut tokio::net::tcp::OwnedReadHalf,
    to_client: &mut OwnedWriteHalf,
    plan: &Plan,
) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match timeout(REPLY_WAIT, from_server.read(&mut buf)).await {
            Ok(read) => read?,
            Err(_) => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        if !plan.latency.is_zero() {
            sleep(plan.latency).await;
        }
        to_client.write_all(&buf[..n]).await?;
    }
}

/// After the client was cut off: the server's answer to the dot, which nobody will see.
async fn unseen_reply(
    from_server: &mut tokio::net::tcp::OwnedReadHalf,
    say: &impl Fn(String),
) -> io::Result<()> {
    let mut reply = Vec::new();
    let mut buf = vec![0u8; 4096];
    while !reply.ends_with(b"\r\n") || is_continued(&reply) {
        let n = match timeout(REPLY_WAIT, from_server.read(&mut buf)).await {
            Ok(read) => read?,
            Err(_) => {
                say(format!("no reply to the dot within {REPLY_WAIT:?}"));
                return Ok(());
            }
        };
        if n == 0 {
            say("the server closed without replying to the dot".into());
            return Ok(());
        }
        reply.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&reply);
    say(format!(
        "the server answered the dot, unseen by the client: {}",
        text.trim_end()
    ));
    Ok(())
}

/// Whether the last line of `reply` is a continuation (`250-...`).
fn is_continued(reply: &[u8]) -> bool {
    let body = reply.strip_suffix(b"\r\n").unwrap_or(reply);
    let last = body.rsplit(|&b| b == b'\n').next().unwrap_or_default();
    last.get(3) == Some(&b'-')
}
