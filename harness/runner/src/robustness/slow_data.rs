//! Slowloris in mail data: after DATA's 354, one octet per second.

use std::sync::Arc;

use super::attacker::Attacker;
use super::measure::{Fate, Slot};
use super::{Attack, CaseInfo, Context, Run};

pub(crate) const CASE: CaseInfo = CaseInfo {
    attack: Attack::SlowData,
    id: "robust-slow-data",
    title: "Mail data sent one octet per second does not keep other clients out",
    spec: &["ROBUST-SMTP-4", "ROBUST-SMTP-7"],
    well_behaved: "greets other clients all the while, and ends mail data that arrives \
                   slower than a minimum rate of its own (the reference: 1024 octets/s on \
                   average after 180 s, SMTP-LIMITS-12); the message is not delivered",
};

const CONNECTIONS: usize = 8;

pub(crate) async fn run(ctx: &Context) -> Run {
    let n = CONNECTIONS.min(ctx.options.max_connections);
    let attack = format!(
        "{n} connections to {}, each in DATA (to postmaster@{}) sending the content one octet per second",
        ctx.endpoint.addr, ctx.options.domain
    );
    let measurement = ctx
        .measure(n, |slot| async move { slow_content(&slot).await })
        .await;
    Run {
        attack,
        measurement,
    }
}

async fn slow_content(slot: &Arc<Slot>) -> Fate {
    let mut attacker = match Attacker::greeted(slot, None).await {
        Ok(attacker) => attacker,
        Err(fate) => return fate,
    };
    if let Err(fate) = attacker.in_data(slot).await {
        return fate;
    }
    let mut content = b"Subject: one octet per second\r\n\r\n".to_vec();
    for _ in 0..50 {
        content.extend_from_slice(&[b'x'; 70]);
        content.extend_from_slice(b"\r\n");
    }
    attacker.drip(slot, &content).await
}
