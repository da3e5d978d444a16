//! The gateway's outbox: accepted messages, their delivery to the upstream through the
//! reference client (VMTP when offered, per-feature fallback to SMTP otherwise) and the
//! retry queue, and the state `GET /deliveries` shows.
//!
//! Accepting a message means: spooled durably (when a spool is configured), registered, and
//! handed to the `worker`, which runs the sans-io [`Queue`](crate::client::queue::Queue):
//! due messages go out in upstream sessions of up to `messages_per_session` messages, at most
//! `max_sessions` at once; transient failures are retried with backoff, permanent ones are
//! final. A message with more recipients than `recipients_per_transaction` is sent as several
//! transactions (parts), each queued on its own.

mod delivery;
mod spool;
mod worker;

pub use delivery::{DeliveryView, RcptState, RecipientView};

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::StatusCode;
use mtp_proto::smtp::client::{ClientOptions, Message};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::error::ApiError;
use super::limits::Limits;
use crate::client::queue::RetryPolicy;
use crate::client::{Target, Timeouts};
use crate::store::{Store, StoreError};
use delivery::{Delivery, Recipient};
use spool::{Spool, SpoolExtra};

/// How the outbox reaches its upstream.
#[derive(Clone)]
pub struct OutboxConfig {
    /// The upstream's address, TLS mode and certificate checks.
    pub target: Target,
    /// The client session's options: the EHLO name and whether to upgrade in band.
    pub client: ClientOptions,
    /// How long each step of an upstream session may take.
    pub timeouts: Timeouts,
    /// Backoff and expiry of transient failures.
    pub retry: RetryPolicy,
    /// The gateway's limits; the outbox uses the queue, session, transaction and kept-delivery
    /// ones.
    pub limits: Limits,
    /// The wall clock in Unix milliseconds.
    pub now_ms: fn() -> u64,
}

/// A message ready to be accepted: built, sized, with its gateway id.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The gateway id (see `GET /deliveries/{id}`), also the local part of the Message-ID.
    pub id: String,
    /// The message's Subject, shown by `GET /deliveries`.
    pub subject: String,
    /// The envelope, the built RFC 5322 message, its VMTP metadata and whether READACK is asked.
    pub message: Message,
    /// When the gateway accepted it, in Unix milliseconds.
    pub created_at_ms: u64,
}

/// One transaction's worth of a delivery, for the worker.
#[derive(Debug)]
pub(crate) struct Job {
    pub seq: u64,
    /// The recipients of this part, as registered.
    pub part: Vec<String>,
    pub message: Message,
}

/// Handle on the outbox; clones share it.
#[derive(Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    registry: Mutex<Registry>,
    jobs: mpsc::UnboundedSender<Job>,
    spool: Option<Spool>,
    config: OutboxConfig,
}

impl Shared {
    /// Registry updates are whole-record inserts and field assignments made without calling
    /// out, so a panic elsewhere cannot leave a record half-written: a poisoned lock is
    /// still consistent.
    pub(crate) fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Outbox {
    /// Starts the worker; messages left in `spool` by an earlier run are queued again.
    /// The handle is that of the worker task, which ends at shutdown.
    pub fn start(
        config: OutboxConfig,
        spool: Option<Store>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(Self, JoinHandle<()>), StoreError> {
        let (jobs, jobs_rx) = mpsc::unbounded_channel();
        let spool = spool.map(Spool::new);
        let recovered = match &spool {
            Some(spool) => spool.recover()?,
            None => Vec::new(),
        };
        let shared = Arc::new(Shared {
            registry: Mutex::new(Registry::new(config.limits.kept_finished)),
            jobs,
            spool,
            config,
        });
        let outbox = Self { shared };
        if !recovered.is_empty() {
            tracing::info!(
                count = recovered.len(),
                "resuming spooled gateway deliveries"
            );
        }
        for spooled in recovered {
            let prepared = Prepared {
                id: spooled.extra.gateway_id,
                subject: spooled.extra.subject,
                message: spooled.message,
                created_at_ms: spooled.extra.created_at_ms,
            };
            outbox.register(prepared, Some(spooled.spool_id));
        }
        let worker = worker::Worker::new(outbox.shared.clone(), jobs_rx);
        let worker = tokio::spawn(worker.run(shutdown));
        Ok((outbox, worker))
    }

    /// The limits the outbox was started with.
    pub fn limits(&self) -> &Limits {
        &self.shared.config.limits
    }

    /// The outbox's clock now, in Unix milliseconds (the gateway's `now_ms`).
    pub fn now_ms(&self) -> u64 {
        (self.shared.config.now_ms)()
    }

    /// Accepts prepared messages: each is spooled, registered and queued, or gets its error
    /// (503 when the queue is full, 500 when the spool fails). Results are in input order.
    pub async fn accept(&self, batch: Vec<Prepared>) -> Vec<Result<String, ApiError>> {
        let room = {
            let mut registry = self.shared.registry();
            let free = self
                .shared
                .config
                .limits
                .max_queued
                .saturating_sub(registry.open + registry.reserved);
            let room = free.min(batch.len());
            registry.reserved += room;
            room
        };
        let mut saving = Vec::with_capacity(room);
        for prepared in batch.iter().take(room) {
            let extra = SpoolExtra {
                gateway_id: prepared.id.clone(),
                subject: prepared.subject.clone(),
                created_at_ms: prepared.created_at_ms,
            };
            saving.push(
                self.shared
                    .spool
                    .as_ref()
                    .map(|s| s.save(&extra, &prepared.message)),
            );
        }
        let mut results = Vec::with_capacity(batch.len());
        let mut saving = saving.into_iter();
        for prepared in batch {
            let Some(save) = saving.next() else {
                results.push(Err(full(self.shared.config.limits.max_queued)));
                continue;
            };
            let spool_id = match save {
                Some(save) => match save.await {
                    Ok(spool_id) => Some(spool_id),
                    Err(e) => {
                        self.shared.registry().reserved -= 1;
                        results.push(Err(ApiError::store(&e)));
                        continue;
                    }
                },
                None => None,
            };
            self.shared.registry().reserved -= 1;
            results.push(Ok(self.register(prepared, spool_id)));
        }
        results
    }

    /// Registers a spooled (or spool-less) message and queues its parts.
    fn register(&self, prepared: Prepared, spool_id: Option<String>) -> String {
        let message = prepared.message;
        let per = self.shared.config.limits.recipients_per_transaction.max(1);
        let parts: Vec<Vec<_>> = message.recipients.chunks(per).map(<[_]>::to_vec).collect();
        let delivery = Delivery {
            id: prepared.id.clone(),
            created_at_ms: prepared.created_at_ms,
            updated_at_ms: prepared.created_at_ms,
            sender: message
                .reverse_path
                .as_ref()
                .map_or_else(String::new, ToString::to_string),
            subject: prepared.subject,
            size: message.data.len(),
            read_ack: message.read_ack,
            recipients: message
                .recipients
                .iter()
                .map(|r| Recipient {
                    address: r.to_string(),
                    state: RcptState::Pending,
                    reply: None,
                    upstream_id: None,
                })
                .collect(),
            open_parts: parts.len(),
            in_flight: 0,
            attempts: 0,
            next_attempt_ms: None,
            used: Default::default(),
            fallback: Default::default(),
            tls: false,
            last_error: None,
            spool_id,
        };
        let seq = self.shared.registry().insert(delivery);
        for recipients in parts {
            let job = Job {
                seq,
                part: recipients.iter().map(ToString::to_string).collect(),
                message: Message {
                    recipients,
                    ..message.clone()
                },
            };
            // The worker runs as long as the runtime does; after shutdown the message stays in
            // the spool for the next start.
            let _ = self.shared.jobs.send(job);
        }
        prepared.id
    }

    /// What became of delivery `id`; `None` for an id never accepted, or a finished delivery
    /// already forgotten (only [`Limits::kept_finished`] are kept).
    pub fn get(&self, id: &str) -> Option<DeliveryView> {
        let registry = self.shared.registry();
        let seq = registry.by_id.get(id)?;
        registry.by_seq.get(seq).map(Delivery::view)
    }

    /// `(total, page)`: deliveries in acceptance order (`newest_first` reverses it).
    pub fn list(
        &self,
        offset: usize,
        limit: usize,
        newest_first: bool,
    ) -> (usize, Vec<DeliveryView>) {
        let registry = self.shared.registry();
        let all = registry.by_seq.values();
        let page = if newest_first {
            all.rev()
                .skip(offset)
                .take(limit)
                .map(Delivery::view)
                .collect()
        } else {
            all.skip(offset).take(limit).map(Delivery::view).collect()
        };
        (registry.by_seq.len(), page)
    }
}

fn full(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the delivery queue is full ({max} messages waiting); try again later"),
    )
}

/// Every delivery the gateway remembers, in acceptance order.
pub(crate) struct Registry {
    by_seq: BTreeMap<u64, Delivery>,
    by_id: HashMap<String, u64>,
    next_seq: u64,
    /// Deliveries not finished.
    open: usize,
    /// Places taken by accepts under way.
    reserved: usize,
    finished: VecDeque<u64>,
    kept_finished: usize,
}

impl Registry {
    fn new(kept_finished: usize) -> Self {
        Self {
            by_seq: BTreeMap::new(),
            by_id: HashMap::new(),
            next_seq: 0,
            open: 0,
            reserved: 0,
            finished: VecDeque::new(),
            kept_finished,
        }
    }

    fn insert(&mut self, delivery: Delivery) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_id.insert(delivery.id.clone(), seq);
        self.by_seq.insert(seq, delivery);
        self.open += 1;
        seq
    }

    pub(crate) fn get_mut(&mut self, seq: u64) -> Option<&mut Delivery> {
        self.by_seq.get_mut(&seq)
    }

    /// Called once when a delivery's last part finishes; forgets the oldest finished
    /// deliveries past the limit.
    pub(crate) fn finished(&mut self, seq: u64) {
        self.open = self.open.saturating_sub(1);
        self.finished.push_back(seq);
        while self.finished.len() > self.kept_finished {
            let Some(old) = self.finished.pop_front() else {
                break;
            };
            if let Some(d) = self.by_seq.remove(&old) {
                self.by_id.remove(&d.id);
            }
        }
    }
}
