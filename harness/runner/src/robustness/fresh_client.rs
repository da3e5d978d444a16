//! The fresh client: a new connection, from another loopback address than the attackers'
//! where there is one, that must be greeted with 220 within a bound while an attack is under
//! way. Its answer is what the robustness cases and the fuzzer's service oracle judge.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::endpoint::{Endpoint, other_loopback};
use super::wire::ReplyReader;

/// What one fresh client got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Greeting {
    /// 220 after this long (from the start of the connect).
    Greeted(Duration),
    /// No 220 within the bound: what happened instead.
    Missed(String),
}

impl Greeting {
    /// Whether the client got its 220 in time.
    pub fn is_greeted(&self) -> bool {
        matches!(self, Self::Greeted(_))
    }
}

/// Connects fresh clients to one endpoint from one source address.
#[derive(Clone, Debug)]
pub struct FreshClient {
    endpoint: Endpoint,
    /// `None`: the address the system picks (the attackers' own, on loopback).
    source: Option<IpAddr>,
    /// Why the other loopback address is not used, when it is not.
    note: Option<String>,
}

impl FreshClient {
    /// From another loopback address than the target's when it is on IPv4 loopback.
    pub fn new(endpoint: Endpoint) -> Self {
        let source = other_loopback(endpoint.addr.ip());
        Self {
            endpoint,
            source,
            note: None,
        }
    }

    /// Checks that a fresh client is greeted before any attack. When the other loopback
    /// address is not greeted but the usual one is (an access rule, or no such address on
    /// this system), the usual one is used from then on, and the figure says so. `Err` when
    /// neither is greeted: there is nothing to compare an attack with.
    pub async fn calibrate(&mut self, bound: Duration) -> Result<Duration, String> {
        let first = self.greet(bound).await;
        if let Greeting::Greeted(took) = first {
            return Ok(took);
        }
        let Some(other) = self.source else {
            return Err(describe_miss(&first));
        };
        self.source = None;
        match self.greet(bound).await {
            Greeting::Greeted(took) => {
                self.note = Some(format!(
                    "{other} was not greeted: {}",
                    describe_miss(&first)
                ));
                Ok(took)
            }
            missed => Err(describe_miss(&missed)),
        }
    }

    /// Where the fresh client connects from, for the figures: `127.0.0.2`, or the system's
    /// choice (and why).
    pub fn from(&self) -> String {
        match (&self.source, &self.note) {
            (Some(ip), _) => ip.to_string(),
            (None, Some(note)) => format!("the attackers' own address ({note})"),
            (None, None) => "the attackers' own address (no other loopback address)".into(),
        }
    }

    /// One fresh client: connect, wait for the 220 (all within `bound`), then QUIT and go.
    pub async fn greet(&self, bound: Duration) -> Greeting {
        let started = Instant::now();
        let stream = match self.endpoint.open(self.source, None, bound).await {
            Ok(stream) => stream,
            Err(e) => return Greeting::Missed(e),
        };
        let left = bound.saturating_sub(started.elapsed());
        let mut reader = ReplyReader::new(stream);
        let outcome = match reader.reply(left).await {
            Ok(reply) if reply.code == 220 => Greeting::Greeted(started.elapsed()),
            Ok(reply) => Greeting::Missed(format!("greeted with {reply}")),
            Err(e) => Greeting::Missed(format!(
                "{e} after {:.1} s",
                started.elapsed().as_secs_f64()
            )),
        };
        // A polite goodbye, not waited for: the connection is dropped right after.
        let _ = tokio::time::timeout(
            Duration::from_millis(100),
            reader.stream.write_all(b"QUIT\r\n"),
        )
        .await;
        outcome
    }
}

fn describe_miss(greeting: &Greeting) -> String {
    match greeting {
        Greeting::Greeted(_) => "greeted".into(),
        Greeting::Missed(what) => what.clone(),
    }
}
