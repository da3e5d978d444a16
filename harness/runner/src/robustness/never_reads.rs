//! A client that never reads: NOOP after NOOP on a connection with a small receive buffer,
//! so that the server's replies back up and its writes block.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::attacker::Attacker;
use super::measure::{Fate, Slot};
use super::{Attack, CaseInfo, Context, Run};

pub(crate) const CASE: CaseInfo = CaseInfo {
    attack: Attack::NeverReads,
    id: "robust-never-reads",
    title: "A client that never reads its replies does not keep other clients out",
    spec: &["ROBUST-SMTP-2", "ROBUST-SMTP-7"],
    well_behaved: "greets other clients all the while, and ends a session whose replies \
                   cannot be written within a bound of its own (the reference: 60 s, SMTP-LIMITS-10)",
};

const CONNECTIONS: usize = 4;
/// The attacker's receive buffer: small, so the server's replies back up early.
const RECV_BUFFER: u32 = 4096;
/// The most one connection sends (a bound; the server's back-pressure stops it far earlier).
const MAX_OCTETS: usize = 64 << 20;
/// How long one write may block before the attacker checks whether to stop.
const WRITE_WAIT: Duration = Duration::from_millis(250);

pub(crate) async fn run(ctx: &Context) -> Run {
    let n = CONNECTIONS.min(ctx.options.max_connections);
    let attack = format!(
        "{n} connections to {} with a {RECV_BUFFER}-octet receive buffer, each sending NOOP after NOOP and reading nothing after the greeting",
        ctx.endpoint.addr
    );
    let measurement = ctx
        .measure(n, |slot| async move { flood(&slot).await })
        .await;
    Run {
        attack,
        measurement,
    }
}

async fn flood(slot: &Arc<Slot>) -> Fate {
    let attacker = match Attacker::greeted(slot, Some(RECV_BUFFER)).await {
        Ok(attacker) => attacker,
        Err(fate) => return fate,
    };
    let mut writer = attacker.into_writer();
    let began = slot.begin_stall();
    let chunk = b"NOOP\r\n".repeat(1000);
    let mut at = 0;
    let mut sent = 0;
    loop {
        if sent >= MAX_OCTETS {
            slot.stopped().await;
            return Fate::OpenAtCap {
                held: began.elapsed(),
            };
        }
        tokio::select! {
            written = tokio::time::timeout(WRITE_WAIT, writer.write(&chunk[at..])) => match written {
                Ok(Ok(0)) => return Fate::Closed { after: began.elapsed(), how: "the connection took no more octets".into() },
                Ok(Ok(n)) => {
                    slot.count_sent(n);
                    sent += n;
                    at = (at + n) % chunk.len();
                }
                Ok(Err(e)) => return Fate::Closed { after: began.elapsed(), how: format!("a write failed: {e}") },
                Err(_) => {} // blocked: the server is not reading
            },
            () = slot.stopped() => return Fate::OpenAtCap { held: began.elapsed() },
        }
    }
}
