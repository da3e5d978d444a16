//! Many idle connections from one address: greeted, then silent.

use std::sync::Arc;

use super::attacker::Attacker;
use super::measure::{Fate, Slot};
use super::{Attack, CaseInfo, Context, Run};

pub(crate) const CASE: CaseInfo = CaseInfo {
    attack: Attack::IdleConnections,
    id: "robust-idle-connections",
    title: "Many idle connections from one address do not keep clients from other addresses out",
    spec: &["ROBUST-SMTP-5", "ROBUST-SMTP-7"],
    well_behaved: "greets clients from other addresses all the while; it may refuse the one \
                   address's connections past a limit of its own with 421 (the reference: 32, \
                   SMTP-LIMITS-13) and may close idle ones after its idle timeout (at least 5 \
                   minutes, RFC 5321 §4.5.3.2.7)",
};

pub(crate) async fn run(ctx: &Context) -> Run {
    let n = ctx.options.max_connections;
    let attack = format!(
        "{n} connections to {} from one address, each silent after the greeting",
        ctx.endpoint.addr
    );
    let measurement = ctx
        .measure(n, |slot| async move { idle(&slot).await })
        .await;
    Run {
        attack,
        measurement,
    }
}

async fn idle(slot: &Arc<Slot>) -> Fate {
    match Attacker::greeted(slot, None).await {
        Ok(attacker) => attacker.hold_silent(slot).await,
        Err(fate) => fate,
    }
}
