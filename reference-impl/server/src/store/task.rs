//! The writer as a task on the caller's tokio runtime, for the deterministic simulation.
//!
//! The thread of `writer.rs` completes appends from outside any simulation, so a simulated
//! server cannot use it. This task runs the same [`Writer`] (same group commit, same
//! durability contract) over a [`MemLog`], and its sync is a sleep on the runtime's clock: in
//! a turmoil host that clock is simulated, a crash can fall between a write and its sync, and
//! nothing runs outside the simulation.

use std::time::Duration;

use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

use super::StoreError;
use super::memdisk::MemLog;
use super::writer::{Batch, Op, Writer};

/// Spawns the writer on the current tokio runtime; operations go through the returned sender.
pub(crate) fn spawn(
    writer: Writer<MemLog>,
    sync_latency: Duration,
) -> Result<UnboundedSender<Op>, StoreError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
        StoreError::Io(std::io::Error::other(
            "a store on a simulated disk must be opened inside a tokio runtime",
        ))
    })?;
    let (tx, rx) = mpsc::unbounded_channel();
    runtime.spawn(run(writer, rx, sync_latency));
    Ok(tx)
}

async fn run(mut writer: Writer<MemLog>, mut rx: UnboundedReceiver<Op>, sync_latency: Duration) {
    while let Some(first) = rx.recv().await {
        let mut batch = Batch::default();
        let mut next = Some(first);
        while let Some(op) = next {
            if let Op::PowerLoss { done } = op {
                writer.commit(batch);
                done.complete(writer.power_loss());
                return;
            }
            writer.prepare(op, &mut batch);
            next = if batch.is_full() {
                None
            } else {
                rx.try_recv().ok()
            };
        }
        let Some(batch) = writer.write(batch) else {
            continue;
        };
        let synced = if writer.needs_sync() {
            // The fsync takes time; operations arriving meanwhile form the next batch.
            if !sync_latency.is_zero() {
                tokio::time::sleep(sync_latency).await;
            }
            writer.sync()
        } else {
            Ok(())
        };
        writer.finish(batch, synced);
    }
    writer.close();
}
