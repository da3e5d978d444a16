//! The embedded durable message store: an append-only log of checksummed records in one
//! directory, an in-memory index of envelopes and statuses, and a group-commit writer thread.
//!
//! A message is acknowledged (its [`AppendFuture`] resolves) only once its bytes are written and
//! synced, so the server's `250` after end-of-data means the message survives a crash. Bodies
//! stay on disk and are read back with positioned reads; envelopes, metadata and statuses are
//! kept in memory. Status changes and removals are records of their own, replayed on open. The
//! log is never compacted: removed messages keep their space (fine for a reference server).
//!
//! One process opens a store for writing (a file lock enforces it); any number may look at it
//! with [`Store::open_read_only`] meanwhile, catching up with [`Store::refresh`].

mod completion;
pub(crate) mod durable;
mod error;
#[cfg(test)]
pub(crate) mod faults;
mod index;
mod log;
mod memdisk;
mod record;
mod task;
mod writer;

#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod simulated_tests;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use completion::{AppendFuture, AppendFutureT, Completion};
pub use error::StoreError;
pub(crate) use error::client_text;
pub use memdisk::MemDisk;

use index::{Index, parse_id};
use log::{LOG_FILE, LogWriter, ScanEnd};
use record::Record;
use writer::{Op, Writer, WriterHandle};

/// How a store on a real disk is opened ([`Store::open`]).
#[derive(Clone, Debug, Default)]
pub struct StoreOptions {
    /// When operations are acknowledged relative to `fsync` (default: after it).
    pub sync: SyncMode,
}

/// A store on a simulated disk ([`Store::open_simulated`]).
#[derive(Clone, Debug, Default)]
pub struct SimulatedOptions {
    /// When operations are acknowledged relative to the simulated sync (default: after it).
    pub sync: SyncMode,
    /// How long a sync takes on the runtime's (simulated) clock.
    pub sync_latency: Duration,
}

/// When an operation is acknowledged relative to `fsync`.
// The hidden variant is a real (test-only) mode, not a stand-in for `#[non_exhaustive]`.
#[allow(clippy::manual_non_exhaustive)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyncMode {
    /// After the data is written and synced (one sync per batch of concurrent operations).
    #[default]
    Durable,
    /// After the data is written, never synced: a sink for benchmarks; a power loss loses mail.
    None,
    /// Broken on purpose, for tests that must show they detect lost mail: acknowledges before
    /// syncing (a batch is synced only when the next one comes), so
    /// [`Store::simulate_power_loss`] loses the last acknowledged batch.
    #[doc(hidden)]
    AckBeforeSync,
}

/// A message as accepted by one of the servers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMessage {
    /// `""` for the null reverse-path `<>`.
    pub reverse_path: String,
    /// The forward-paths, in the order accepted (one mailbox for MMTP).
    pub recipients: Vec<String>,
    /// VMTP METADATA, in the order received.
    pub metadata: Vec<(String, String)>,
    /// VMTP READACK requested.
    pub read_ack: bool,
    /// The exact message bytes as received (after dot-unstuffing), CRLF line endings. Empty in
    /// the messages the store hands back: use [`Store::data`].
    pub data: Vec<u8>,
    /// Unix milliseconds, supplied by the caller (the store reads no clock).
    pub received_at_ms: u64,
    /// The client's EHLO/HELO name (empty for MMTP; this host's name for gateway notifications).
    pub helo: String,
    /// The client's address and port, e.g. `192.0.2.1:49152`.
    pub peer: String,
    /// Whether the message came over TLS.
    pub tls: bool,
    /// The AUTH user, if the client authenticated.
    pub auth: Option<String>,
    /// "SMTP", "ESMTP", "VMTP", "MMTP" or "HTTP".
    pub protocol: String,
    /// Protocol-specific fields (MMTP tags etc.).
    pub extra: Option<serde_json::Value>,
    /// How many octets at the start of `data` are the trace fields this server put on top
    /// (RFC 5321 §4.4); the content exactly as the client sent it follows them. Records
    /// written before this field existed read as 0.
    #[serde(default)]
    pub trace_len: usize,
}

/// Where a stored message stands, as VMTP STATUS reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryStatus {
    /// Not in its mailbox yet (STATUS PENDING); the store itself never records it, as
    /// appending a message is its local delivery.
    Pending,
    /// Stored in the local mailbox (every appended message).
    Delivered,
    /// Read by its recipient (see [`Store::mark_opened`]).
    Opened,
}

/// A message in the store: its id, envelope and status.
#[derive(Clone, Debug)]
pub struct StoredMessage {
    /// 12 uppercase hex digits, unique for the life of the store.
    pub id: String,
    /// With an empty `data`: bodies stay on disk, see [`Store::data`].
    pub message: NewMessage,
    /// Delivered, or Opened once [`Store::mark_opened`] recorded a read.
    pub status: DeliveryStatus,
    /// When it was first read (marked opened), in Unix milliseconds; `None` until then.
    pub opened_at_ms: Option<u64>,
}

/// A handle on an open store; clones share it. The writer stops (after syncing what is queued)
/// when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    mode: Mode,
}

#[derive(Debug)]
enum Mode {
    Writable(WriterHandle),
    /// The simulation's writer task (see `task.rs`).
    Simulated(tokio::sync::mpsc::UnboundedSender<Op>),
    /// How far the log has been read.
    ReadOnly {
        scanned: Mutex<u64>,
    },
}

/// What the writer thread and the readers share.
#[derive(Debug)]
pub(crate) struct Shared {
    index: RwLock<Index>,
    /// A read-only handle on the log, for positioned reads of bodies (and read-only scans).
    log: Source,
    /// How many times the writer synced: with group commit, far fewer than appends.
    syncs: AtomicU64,
}

/// Where the log is read from.
#[derive(Debug)]
enum Source {
    File(File),
    Memory(MemDisk),
}

impl Source {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        match self {
            Self::File(file) => log::read_exact_at(file, buf, offset),
            Self::Memory(disk) => disk.read_exact_at(buf, offset),
        }
    }

    fn scan(&self, from: u64, apply: impl FnMut(u64, Record)) -> Result<ScanEnd, StoreError> {
        match self {
            Self::File(file) => log::scan(file, from, apply),
            Self::Memory(disk) => disk.scan(from, apply),
        }
    }
}

// Index updates are whole-entry inserts and removals; a panic elsewhere while a guard is held
// cannot leave an entry half-written, so a poisoned lock is still consistent.
fn read_index(shared: &Shared) -> RwLockReadGuard<'_, Index> {
    shared.index.read().unwrap_or_else(PoisonError::into_inner)
}

fn write_index(shared: &Shared) -> RwLockWriteGuard<'_, Index> {
    shared.index.write().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    /// Opens the store in `dir` for writing, creating the directory if missing, recovering the
    /// log (a torn tail is cut off) and starting the writer thread.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        Self::open_with(dir, options, |log| log)
    }

    /// [`Store::open`] on a disk that fails as `faults` says.
    #[cfg(test)]
    pub(crate) fn open_faulty(
        dir: &Path,
        options: StoreOptions,
        faults: &faults::Faults,
    ) -> Result<Store, StoreError> {
        Self::open_with(dir, options, |log| log.wrap(|file| faults.wrap(file)))
    }

    fn open_with<L: log::Log>(
        dir: &Path,
        options: StoreOptions,
        wrap: impl FnOnce(LogWriter) -> L,
    ) -> Result<Store, StoreError> {
        let mut index = Index::default();
        let log = LogWriter::open(dir, |offset, record| index.apply(offset, record))?;
        let shared = Arc::new(Shared {
            index: RwLock::new(index),
            log: Source::File(File::open(log.path())?),
            syncs: AtomicU64::new(0),
        });
        let writer = WriterHandle::spawn(wrap(log), shared.clone(), options.sync)?;
        Ok(Store {
            inner: Arc::new(Inner {
                shared,
                mode: Mode::Writable(writer),
            }),
        })
    }

    /// Opens the store in `dir` for reading, also while another process writes to it. A record
    /// being written at that moment is skipped until a later [`Store::refresh`].
    pub fn open_read_only(dir: &Path) -> Result<Store, StoreError> {
        let file = File::open(dir.join(LOG_FILE))?;
        Self::read_only(Source::File(file))
    }

    /// Opens a store on a simulated disk for writing, recovering its log as [`Store::open`]
    /// does. Its writer is a task on the current tokio runtime (the simulated host's), so
    /// this must be called inside one; a store opened earlier on the same disk can no longer
    /// write.
    pub fn open_simulated(disk: &MemDisk, options: SimulatedOptions) -> Result<Store, StoreError> {
        let log = disk.open_log();
        let mut index = Index::default();
        let ScanEnd { end, torn } = disk.scan(0, |offset, record| index.apply(offset, record))?;
        if let Some(reason) = torn {
            let dropped = disk.len() - end;
            tracing::warn!(offset = end, dropped, %reason, "truncating torn tail of the simulated log");
            disk.truncate(end);
        }
        let shared = Arc::new(Shared {
            index: RwLock::new(index),
            log: Source::Memory(disk.clone()),
            syncs: AtomicU64::new(0),
        });
        let writer = Writer::new(log, shared.clone(), options.sync);
        let tx = task::spawn(writer, options.sync_latency)?;
        Ok(Store {
            inner: Arc::new(Inner {
                shared,
                mode: Mode::Simulated(tx),
            }),
        })
    }

    /// A read-only view of a simulated disk (what a recovery would find there now).
    pub fn open_simulated_read_only(disk: &MemDisk) -> Result<Store, StoreError> {
        Self::read_only(Source::Memory(disk.clone()))
    }

    fn read_only(log: Source) -> Result<Store, StoreError> {
        let mut index = Index::default();
        let end = log
            .scan(0, |offset, record| index.apply(offset, record))?
            .end;
        let shared = Arc::new(Shared {
            index: RwLock::new(index),
            log,
            syncs: AtomicU64::new(0),
        });
        let mode = Mode::ReadOnly {
            scanned: Mutex::new(end),
        };
        Ok(Store {
            inner: Arc::new(Inner { shared, mode }),
        })
    }

    /// Read-only views: reads the records appended since the last look; returns how many. A
    /// writable store is always current and returns 0.
    pub fn refresh(&self) -> Result<usize, StoreError> {
        let Mode::ReadOnly { scanned } = &self.inner.mode else {
            return Ok(0);
        };
        // Only ever holds an offset that is assigned whole.
        let mut scanned = scanned.lock().unwrap_or_else(PoisonError::into_inner);
        let mut records = Vec::new();
        let end = self
            .inner
            .shared
            .log
            .scan(*scanned, |o, r| records.push((o, r)))?
            .end;
        let count = records.len();
        let mut index = write_index(&self.inner.shared);
        for (offset, record) in records {
            index.apply(offset, record);
        }
        *scanned = end;
        Ok(count)
    }

    /// Stores a message; resolves to its id once it is durable.
    pub fn append(&self, message: NewMessage) -> AppendFuture {
        self.send(|done| Op::Append {
            message: Box::new(message),
            done,
        })
    }

    /// Records the first read of a message: resolves to `true` the first time, `false` after;
    /// `NotFound` for an unknown id. Whether the message asked for READACK is the caller's
    /// business.
    pub fn mark_opened(&self, id: &str, at_ms: u64) -> AppendFutureT<bool> {
        let Some(seq) = parse_id(id) else {
            return Completion::ready(Err(StoreError::NotFound));
        };
        match read_index(&self.inner.shared).get(seq) {
            None => return Completion::ready(Err(StoreError::NotFound)),
            Some(entry) if entry.opened_at_ms.is_some() => return Completion::ready(Ok(false)),
            Some(_) => {}
        }
        self.send(|done| Op::MarkOpened { seq, at_ms, done })
    }

    /// Removes messages durably (MMTP RECEIVE drains mailboxes). Unknown ids are ignored.
    pub fn remove(&self, ids: &[String]) -> AppendFutureT<()> {
        let seqs: Vec<u64> = ids.iter().filter_map(|id| parse_id(id)).collect();
        if seqs.is_empty() {
            return Completion::ready(Ok(()));
        }
        self.send(|done| Op::Remove { seqs, done })
    }

    /// Test support: stops the writer as a power cut would, discarding everything written since
    /// the last sync. Every clone of this store is unusable afterwards (writes get `Closed`).
    #[doc(hidden)]
    pub fn simulate_power_loss(&self) -> AppendFutureT<()> {
        self.send(|done| Op::PowerLoss { done })
    }

    fn send<T>(&self, op: impl FnOnce(completion::Completer<T>) -> Op) -> Completion<T> {
        let (done, completion) = completion::completion();
        match &self.inner.mode {
            Mode::Writable(writer) => writer.send(op(done)),
            // If the task is gone (its host crashed), the dropped completer resolves `Closed`.
            Mode::Simulated(tx) => drop(tx.send(op(done))),
            Mode::ReadOnly { .. } => return Completion::ready(Err(StoreError::ReadOnly)),
        }
        completion
    }

    /// All messages in id order, without bodies.
    pub fn list(&self) -> Vec<StoredMessage> {
        read_index(&self.inner.shared).list()
    }

    /// The message `id`, without its body; `None` for an unknown or removed id.
    pub fn get(&self, id: &str) -> Option<StoredMessage> {
        read_index(&self.inner.shared).stored(parse_id(id)?)
    }

    /// The messages addressed to `address` (exact local part, any case of domain), in id order.
    pub fn for_recipient(&self, address: &str) -> Vec<StoredMessage> {
        read_index(&self.inner.shared).for_recipient(address)
    }

    /// The message's bytes, read from the log.
    pub fn data(&self, id: &str) -> Result<Vec<u8>, StoreError> {
        let seq = parse_id(id).ok_or(StoreError::NotFound)?;
        let body = read_index(&self.inner.shared)
            .get(seq)
            .ok_or(StoreError::NotFound)?
            .body;
        let mut buf = vec![0; body.len];
        self.inner.shared.log.read_exact_at(&mut buf, body.offset)?;
        Ok(buf)
    }

    /// The status of message `id` and when it was opened, if it was.
    pub fn status(&self, id: &str) -> Option<(DeliveryStatus, Option<u64>)> {
        let index = read_index(&self.inner.shared);
        let entry = index.get(parse_id(id)?)?;
        Some((entry.status, entry.opened_at_ms))
    }

    /// Messages held, removed ones not counted.
    pub fn len(&self) -> usize {
        read_index(&self.inner.shared).len()
    }

    /// Whether the store holds no message.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
