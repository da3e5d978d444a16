//! An unfinished large message: a few MiB of mail data at full speed, then silence, never the
//! final dot.

use std::sync::Arc;
use std::time::Duration;

use super::attacker::Attacker;
use super::measure::{Fate, Slot};
use super::{Attack, CaseInfo, Context, Run};

pub(crate) const CASE: CaseInfo = CaseInfo {
    attack: Attack::UnfinishedData,
    id: "robust-unfinished-data",
    title: "Unfinished large messages do not keep other clients out",
    spec: &["ROBUST-SMTP-6", "ROBUST-SMTP-7"],
    well_behaved: "greets other clients all the while, holds a bounded amount of memory per \
                   unfinished message (spooling to disk beyond it), and ends the stalled data \
                   after its timeout; the messages are not delivered",
};

const CONNECTIONS: usize = 8;

pub(crate) async fn run(ctx: &Context) -> Run {
    let n = CONNECTIONS.min(ctx.options.max_connections);
    let octets = ctx.options.unfinished_data_octets;
    let attack = format!(
        "{n} connections to {}, each in DATA (to postmaster@{}) sending {:.1} MiB at once, then silence without the final dot",
        ctx.endpoint.addr,
        ctx.options.domain,
        octets as f64 / (1 << 20) as f64
    );
    let measurement = ctx
        .measure(
            n,
            move |slot| async move { unfinished(&slot, octets).await },
        )
        .await;
    Run {
        attack,
        measurement,
    }
}

async fn unfinished(slot: &Arc<Slot>, octets: usize) -> Fate {
    let mut attacker = match Attacker::greeted(slot, None).await {
        Ok(attacker) => attacker,
        Err(fate) => return fate,
    };
    if let Err(fate) = attacker.in_data(slot).await {
        return fate;
    }
    let mut line = vec![b'x'; 76];
    line.extend_from_slice(b"\r\n");
    let block = line.repeat(1024);
    // A server that stops reading (back-pressure) is not waited for past half the cap.
    let budget = slot.options.case_cap / 2;
    let send = async {
        let mut left = octets;
        while left > 0 {
            let part = &block[..left.min(block.len())];
            attacker.write(slot, part).await?;
            left -= part.len();
        }
        std::io::Result::Ok(())
    };
    match tokio::time::timeout(budget.max(Duration::from_secs(1)), send).await {
        Ok(Err(e)) => Fate::Refused(format!("the data was cut off: {e}")),
        Ok(Ok(())) | Err(_) => attacker.hold_silent(slot).await,
    }
}
