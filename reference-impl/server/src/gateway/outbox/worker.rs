//! The outbox's tokio loop around the sans-io [`Queue`]: take in new jobs, start upstream
//! sessions for what is due, record each session's outcome, and sleep until the next attempt.
//! Queue time is the tokio clock since the worker started (paused-time tests work); the times
//! shown to clients are wall-clock.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mtp_proto::smtp::client::{Message, Outcome};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;

use super::{Job, Shared};
use crate::client::deliver;
use crate::client::queue::{Disposition, EntryId, Queue};

/// A finished upstream session: the queue entries it carried, in order, and its outcome.
struct SessionResult {
    entries: Vec<EntryId>,
    outcome: Outcome,
}

pub(super) struct Worker {
    shared: Arc<Shared>,
    jobs: mpsc::UnboundedReceiver<Job>,
    queue: Queue,
    /// Queue entry to (delivery, recipients of that part).
    parts: BTreeMap<EntryId, (u64, Vec<String>)>,
    results_tx: mpsc::UnboundedSender<SessionResult>,
    results: mpsc::UnboundedReceiver<SessionResult>,
    sessions: Arc<Semaphore>,
    start: Instant,
}

impl Worker {
    pub(super) fn new(shared: Arc<Shared>, jobs: mpsc::UnboundedReceiver<Job>) -> Self {
        let (results_tx, results) = mpsc::unbounded_channel();
        let sessions = Arc::new(Semaphore::new(shared.config.limits.max_sessions.max(1)));
        Self {
            queue: Queue::new(shared.config.retry.clone()),
            shared,
            jobs,
            parts: BTreeMap::new(),
            results_tx,
            results,
            sessions,
            start: Instant::now(),
        }
    }

    fn queue_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs until shutdown or until every [`super::Outbox`] handle is gone. Messages still
    /// queued then stay in the spool.
    pub(super) async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let wake = self
                .queue
                .next_due()
                .map(|ms| self.start + Duration::from_millis(ms));
            tokio::select! {
                job = self.jobs.recv() => match job {
                    Some(job) => self.push(job),
                    None => return,
                },
                Some(result) = self.results.recv() => self.report(result),
                () = sleep_until(wake) => self.dispatch(),
                _ = shutdown.changed() => return,
            }
        }
    }

    fn push(&mut self, job: Job) {
        let entry = self.queue.push(job.message, self.queue_ms());
        self.parts.insert(entry, (job.seq, job.part));
    }

    /// Starts sessions for every due entry.
    fn dispatch(&mut self) {
        let due = self.queue.take_due(self.queue_ms());
        if due.is_empty() {
            return;
        }
        {
            let mut registry = self.shared.registry();
            for (entry, _) in &due {
                if let Some(d) = self
                    .parts
                    .get(entry)
                    .and_then(|(seq, _)| registry.get_mut(*seq))
                {
                    d.in_flight += 1;
                    d.next_attempt_ms = None;
                }
            }
        }
        let per_session = self.shared.config.limits.messages_per_session.max(1);
        let mut due = due.into_iter().peekable();
        while due.peek().is_some() {
            let (entries, messages): (Vec<EntryId>, Vec<Message>) =
                due.by_ref().take(per_session).unzip();
            // The task holds the connection settings only, not the outbox: a session under way
            // at shutdown must not keep the spool open.
            let config = self.shared.config.clone();
            let sessions = self.sessions.clone();
            let results = self.results_tx.clone();
            tokio::spawn(async move {
                // The semaphore is never closed, so acquiring only waits.
                let _permit = sessions.acquire_owned().await;
                let outcome =
                    deliver(&config.target, config.client, messages, &config.timeouts).await;
                // The worker may have stopped (shutdown); the spool keeps the message then.
                let _ = results.send(SessionResult { entries, outcome });
            });
        }
    }

    /// Records a session's outcome for each entry it carried.
    fn report(&mut self, result: SessionResult) {
        let now_q = self.queue_ms();
        let now_wall = (self.shared.config.now_ms)();
        let mut removals = Vec::new();
        for (i, entry) in result.entries.iter().enumerate() {
            let Some(message) = result.outcome.messages.get(i) else {
                unreachable!("ClientSession reports one outcome per message it was given");
            };
            let disposition = self.queue.report(*entry, message, now_q);
            let next = match &disposition {
                Disposition::Retry { at_ms, .. } => Some(now_wall + at_ms.saturating_sub(now_q)),
                _ => None,
            };
            let Some((seq, part)) = self.parts.get(entry).cloned() else {
                continue;
            };
            if !matches!(disposition, Disposition::Retry { .. }) {
                self.parts.remove(entry);
            }
            let mut registry = self.shared.registry();
            let Some(delivery) = registry.get_mut(seq) else {
                continue;
            };
            delivery.record_attempt(
                &part,
                &result.outcome,
                message,
                &disposition,
                now_wall,
                next,
            );
            if delivery.is_finished() {
                if let Some(spool_id) = delivery.spool_id.take() {
                    removals.push(spool_id);
                }
                registry.finished(seq);
            }
        }
        if let Some(spool) = &self.shared.spool {
            for spool_id in removals {
                spool.remove(spool_id);
            }
        }
    }
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
