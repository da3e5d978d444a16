//! The group-commit writer: one thread owns the log file. It takes every operation waiting in
//! its channel, encodes them into one buffer, writes it, syncs once, updates the index and only
//! then completes them all. Many sessions appending at once therefore share each `fsync`.
//!
//! A failed write or sync fails its own batch only (`StoreError::Write`, a text fit for the
//! client; the operating system's error goes to the log). The log is cut back to the end of
//! the last acknowledged batch (see [`Log`]), and the next batch is tried afresh: a disk that
//! was full takes mail again once space is freed, without a restart. This is safe after a
//! failed `fsync` too: everything up to the last successful sync was confirmed durable then,
//! and everything after it is thrown away and written anew, never acknowledged on the strength
//! of a later sync.
//!
//! [`Writer`] is generic over the [`Log`] it appends to; the simulation drives the same writer
//! from a task on its own runtime (see `task.rs`), over an in-memory disk.

use std::collections::HashSet;
use std::io;
use std::mem;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};

use super::completion::Completer;
use super::index::{BodyRef, format_id};
use super::log::Log;
use super::record;
use super::{NewMessage, Shared, StoreError, SyncMode, write_index};

/// Stop gathering a batch past this many operations or bytes, to bound memory and latency.
const MAX_BATCH_OPS: usize = 4096;
const MAX_BATCH_BYTES: usize = 32 << 20;

pub(crate) enum Op {
    Append {
        message: Box<NewMessage>,
        done: Completer<String>,
    },
    MarkOpened {
        seq: u64,
        at_ms: u64,
        done: Completer<bool>,
    },
    Remove {
        seqs: Vec<u64>,
        done: Completer<()>,
    },
    /// Stop at once and cut the log back to what was synced.
    PowerLoss {
        done: Completer<()>,
    },
}

/// The store's handle on its writer thread. Dropping it lets the thread finish what is queued,
/// sync, and exit, and waits for that (so the file lock is free once the last `Store` is gone).
#[derive(Debug)]
pub(crate) struct WriterHandle {
    tx: Option<Sender<Op>>,
    thread: Option<JoinHandle<()>>,
}

impl WriterHandle {
    pub(super) fn spawn<L: Log>(log: L, shared: Arc<Shared>, sync: SyncMode) -> io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let writer = Writer::new(log, shared, sync);
        let thread = thread::Builder::new()
            .name("mtp-store-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(WriterHandle {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queues `op`; if the writer has stopped, its completer is dropped, which resolves `Closed`.
    pub(super) fn send(&self, op: Op) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(op);
        }
    }
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            // A panic in the writer has already failed every pending completion (`Closed`).
            let _ = thread.join();
        }
    }
}

pub(crate) struct Writer<L> {
    log: L,
    shared: Arc<Shared>,
    sync: SyncMode,
    next_seq: u64,
}

/// What one batch will do once its bytes are durable.
#[derive(Default)]
pub(crate) struct Batch {
    bytes: Vec<u8>,
    inserts: Vec<(u64, NewMessage, BodyRef)>,
    opened: Vec<(u64, u64)>,
    removed: Vec<u64>,
    /// Completions, in arrival order, with the result each gets on success.
    replies: Vec<Reply>,
    /// Messages opened or removed earlier in this batch (not yet in the index).
    opened_here: HashSet<u64>,
    removed_here: HashSet<u64>,
}

impl Batch {
    /// Past this, stop gathering and commit.
    pub(super) fn is_full(&self) -> bool {
        self.replies.len() >= MAX_BATCH_OPS || self.bytes.len() >= MAX_BATCH_BYTES
    }
}

enum Reply {
    Id(Completer<String>, String),
    Opened(Completer<bool>),
    Removed(Completer<()>),
}

impl<L: Log> Writer<L> {
    pub(super) fn new(log: L, shared: Arc<Shared>, sync: SyncMode) -> Self {
        let next_seq = super::read_index(&shared).next_seq();
        Writer {
            log,
            shared,
            sync,
            next_seq,
        }
    }

    fn run(mut self, rx: Receiver<Op>) {
        while let Ok(first) = rx.recv() {
            let mut batch = Batch::default();
            let mut next = Some(first);
            while let Some(op) = next {
                if let Op::PowerLoss { done } = op {
                    self.commit(batch);
                    done.complete(self.power_loss());
                    return;
                }
                self.prepare(op, &mut batch);
                next = if batch.is_full() {
                    None
                } else {
                    rx.try_recv().ok()
                };
            }
            self.commit(batch);
        }
        self.close();
    }

    /// Every `Store` is gone: make what was acknowledged durable before the log closes.
    pub(super) fn close(&mut self) {
        if let Err(e) = self.sync() {
            tracing::error!(error = %e, "final sync of the message log failed");
        }
    }

    /// Stops as a power cut would: what was not synced is gone.
    pub(super) fn power_loss(&mut self) -> Result<(), StoreError> {
        self.log.discard_unsynced().map_err(StoreError::from)
    }

    /// Encodes `op` into the batch, or completes it at once when there is nothing to write.
    pub(super) fn prepare(&mut self, op: Op, batch: &mut Batch) {
        match op {
            Op::Append { mut message, done } => {
                let seq = self.next_seq;
                let data = mem::take(&mut message.data);
                let frame_at = self.log.len() + batch.bytes.len() as u64;
                match record::encode_message(&mut batch.bytes, seq, &message, &data) {
                    Ok(body_at) => {
                        self.next_seq += 1;
                        let body = BodyRef {
                            offset: frame_at + body_at as u64,
                            len: data.len(),
                        };
                        batch.inserts.push((seq, *message, body));
                        batch.replies.push(Reply::Id(done, format_id(seq)));
                    }
                    Err(e) => done.complete(Err(StoreError::Io(io::Error::new(
                        io::ErrorKind::InvalidData,
                        e,
                    )))),
                }
            }
            Op::MarkOpened { seq, at_ms, done } => {
                let index = super::read_index(&self.shared);
                let known = index.get(seq).map(|entry| entry.opened_at_ms.is_none());
                drop(index);
                match known {
                    _ if batch.removed_here.contains(&seq) => {
                        done.complete(Err(StoreError::NotFound))
                    }
                    None => done.complete(Err(StoreError::NotFound)),
                    Some(false) => done.complete(Ok(false)),
                    Some(true) if !batch.opened_here.insert(seq) => done.complete(Ok(false)),
                    Some(true) => {
                        record::encode_opened(&mut batch.bytes, seq, at_ms);
                        batch.opened.push((seq, at_ms));
                        batch.replies.push(Reply::Opened(done));
                    }
                }
            }
            Op::Remove { seqs, done } => {
                let seqs: Vec<u64> = {
                    let index = super::read_index(&self.shared);
                    seqs.into_iter()
                        .filter(|s| index.get(*s).is_some() && batch.removed_here.insert(*s))
                        .collect()
                };
                if seqs.is_empty() {
                    return done.complete(Ok(()));
                }
                record::encode_removed(&mut batch.bytes, &seqs);
                batch.removed.extend(seqs);
                batch.replies.push(Reply::Removed(done));
            }
            Op::PowerLoss { .. } => unreachable!("the run loops handle it before prepare"),
        }
    }

    /// Writes, syncs (per the mode), applies and acknowledges one batch.
    pub(super) fn commit(&mut self, batch: Batch) {
        if let Some(batch) = self.write(batch) {
            let synced = if self.needs_sync() {
                self.sync()
            } else {
                Ok(())
            };
            self.finish(batch, synced);
        }
    }

    /// Writes a batch. Returns it when it is to be acknowledged by [`Writer::finish`], after a
    /// [`Writer::sync`] if [`Writer::needs_sync`]; `None` when it was empty or has failed.
    pub(super) fn write(&mut self, batch: Batch) -> Option<Batch> {
        if batch.replies.is_empty() {
            return None;
        }
        let result = match self.sync {
            SyncMode::Durable | SyncMode::None => self.log.write(&batch.bytes),
            // The broken mode: a batch is acknowledged unsynced and synced only when the next
            // batch comes (or at shutdown), so a power loss in between loses it.
            SyncMode::AckBeforeSync => self.sync().and_then(|()| self.log.write(&batch.bytes)),
        };
        match result {
            Ok(()) => Some(batch),
            Err(e) => {
                self.fail_all(batch, &e);
                None
            }
        }
    }

    /// Whether a written batch waits for a sync before its acknowledgement.
    pub(super) fn needs_sync(&self) -> bool {
        self.sync == SyncMode::Durable
    }

    /// Acknowledges a written batch, or fails it when its sync failed.
    pub(super) fn finish(&mut self, batch: Batch, synced: io::Result<()>) {
        let Err(e) = synced else {
            return self.apply(batch);
        };
        // Durable mode syncs every batch before acknowledging it, so what is unsynced is this
        // batch: cut it off, lest a restart find messages whose senders were refused.
        if let Err(cut) = self.log.discard_unsynced() {
            tracing::warn!(error = %cut, "cannot cut an unsynced batch off the message log yet; the next write tries again");
        }
        self.fail_all(batch, &e);
    }

    /// Fails a batch that was not made durable; the next batch is tried afresh.
    fn fail_all(&mut self, batch: Batch, e: &io::Error) {
        tracing::error!(error = %e, operations = batch.replies.len(), "message log write failed; refusing this batch");
        fail(batch.replies, e);
    }

    pub(super) fn sync(&mut self) -> io::Result<()> {
        if self.log.sync()? {
            self.shared.syncs.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Makes a written batch visible, then acknowledges it.
    fn apply(&mut self, batch: Batch) {
        {
            let mut index = write_index(&self.shared);
            for (seq, message, body) in batch.inserts {
                index.insert(seq, message, body);
            }
            for (seq, at_ms) in batch.opened {
                index.mark_opened(seq, at_ms);
            }
            index.remove(&batch.removed);
        }
        for reply in batch.replies {
            match reply {
                Reply::Id(done, id) => done.complete(Ok(id)),
                Reply::Opened(done) => done.complete(Ok(true)),
                Reply::Removed(done) => done.complete(Ok(())),
            }
        }
    }
}

fn fail(replies: Vec<Reply>, e: &io::Error) {
    let error = || StoreError::Write(io::Error::new(e.kind(), e.to_string()));
    for reply in replies {
        match reply {
            Reply::Id(done, _) => done.complete(Err(error())),
            Reply::Opened(done) => done.complete(Err(error())),
            Reply::Removed(done) => done.complete(Err(error())),
        }
    }
}
