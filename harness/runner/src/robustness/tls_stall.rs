//! A stalled TLS handshake: connections to the implicit-TLS listener that never send a
//! ClientHello, or, without one, STARTTLS answered 220 and then silence.

use std::sync::Arc;

use super::attacker::Attacker;
use super::measure::{Fate, Slot};
use super::{Attack, CaseInfo, Context, Run};
use crate::robustness::endpoint::Endpoint;

pub(crate) const CASE: CaseInfo = CaseInfo {
    attack: Attack::TlsStall,
    id: "robust-tls-handshake-stall",
    title: "Stalled TLS handshakes do not keep other clients out",
    spec: &["ROBUST-SMTP-1", "ROBUST-SMTP-7"],
    well_behaved: "greets other clients all the while, and ends a handshake that does not \
                   complete within a bound of its own (the reference: 30 s, SMTP-LIMITS-9)",
};

const CONNECTIONS: usize = 8;

pub(crate) async fn run(ctx: &Context) -> Run {
    let n = CONNECTIONS.min(ctx.options.max_connections);
    match ctx.endpoint.tls_addr {
        Some(addr) => {
            let attack = format!(
                "{n} connections to the implicit-TLS listener {addr}, silent after the TCP connect (no ClientHello)"
            );
            let measurement = ctx
                .measure(n, move |slot| async move { silent_tls(&slot, addr).await })
                .await;
            Run {
                attack,
                measurement,
            }
        }
        None => {
            let attack = format!(
                "{n} connections to {}: EHLO, STARTTLS, then silence instead of a ClientHello",
                ctx.endpoint.addr
            );
            let measurement = ctx
                .measure(n, |slot| async move { silent_after_starttls(&slot).await })
                .await;
            Run {
                attack,
                measurement,
            }
        }
    }
}

async fn silent_tls(slot: &Arc<Slot>, addr: std::net::SocketAddr) -> Fate {
    match Endpoint::tcp(addr, None, None, slot.options.greeting_bound).await {
        Ok(tcp) => Attacker::raw(Box::new(tcp)).hold_silent(slot).await,
        Err(e) => Fate::Refused(format!("connect to {addr}: {e}")),
    }
}

async fn silent_after_starttls(slot: &Arc<Slot>) -> Fate {
    let mut attacker = match Attacker::greeted(slot, None).await {
        Ok(attacker) => attacker,
        Err(fate) => return fate,
    };
    if let Err(fate) = attacker.hello(slot).await {
        return fate;
    }
    match attacker.command(slot, "STARTTLS").await {
        Ok(reply) if reply.code == 220 => attacker.hold_silent(slot).await,
        Ok(reply) => Fate::NotApplicable(format!(
            "no implicit-TLS listener was given (--smtps) and STARTTLS was answered {reply}"
        )),
        Err(fate) => fate,
    }
}
