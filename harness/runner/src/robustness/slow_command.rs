//! Slowloris in a command line: one octet per second of a line that never ends.

use std::sync::Arc;

use super::attacker::Attacker;
use super::measure::{Fate, Slot};
use super::{Attack, CaseInfo, Context, Run};

pub(crate) const CASE: CaseInfo = CaseInfo {
    attack: Attack::SlowCommand,
    id: "robust-slow-command",
    title: "Command lines sent one octet per second do not keep other clients out",
    spec: &["ROBUST-SMTP-3", "ROBUST-SMTP-7"],
    well_behaved: "greets other clients all the while, and ends a command line that is not \
                   complete within a bound of its own, however often octets arrive (the \
                   reference: 300 s from its previous reply, SMTP-LIMITS-11)",
};

const CONNECTIONS: usize = 8;

pub(crate) async fn run(ctx: &Context) -> Run {
    let n = CONNECTIONS.min(ctx.options.max_connections);
    let attack = format!(
        "{n} connections to {}, each sending `NOOP xxx...` one octet per second, no line end",
        ctx.endpoint.addr
    );
    let measurement = ctx
        .measure(n, |slot| async move { slow_line(&slot).await })
        .await;
    Run {
        attack,
        measurement,
    }
}

async fn slow_line(slot: &Arc<Slot>) -> Fate {
    let attacker = match Attacker::greeted(slot, None).await {
        Ok(attacker) => attacker,
        Err(fate) => return fate,
    };
    // Shorter than the 512 octets every server must take (RFC 5321 §4.5.3.1.4), so no
    // line-length limit ends it: only a deadline does.
    let mut line = b"NOOP ".to_vec();
    line.resize(500, b'x');
    attacker.drip(slot, &line).await
}
