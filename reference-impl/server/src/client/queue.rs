//! The retry queue, sans-io: time comes in as milliseconds, so the tokio loop and the turmoil
//! simulation drive the same logic.
//!
//! RFC 5321 §4.5.4.1: a client that cannot deliver "MUST queue it and retry"; the retry
//! interval "SHOULD be at least 30 minutes" for real MTAs and giving up takes "at least 4-5
//! days". The defaults here are shorter (1 minute doubling to 1 hour, 5 days), and every
//! value is configurable. Transient failures (4yz, lost connections, timeouts) are queued
//! again for the recipients still worth trying; permanent ones (5yz) are final. Nothing is
//! persisted: a queue lives as long as its process.

use std::collections::BTreeMap;
use std::time::Duration;

use mtp_proto::smtp::client::{Failure, Message, MessageOutcome};

/// Backoff and expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failed attempt.
    pub initial: Duration,
    /// The wait doubles per attempt up to this.
    pub max_interval: Duration,
    /// Give up this long after the message was queued.
    pub max_age: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(60),
            max_interval: Duration::from_secs(3600),
            max_age: Duration::from_secs(5 * 24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The wait after `attempts` failed attempts (1 or more).
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempts.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial
            .checked_mul(factor)
            .unwrap_or(self.max_interval)
            .min(self.max_interval)
    }
}

/// A queued message's handle.
pub type EntryId = u64;

#[derive(Clone, Debug)]
struct Entry {
    message: Message,
    queued_ms: u64,
    /// `None` while an attempt is under way.
    next_ms: Option<u64>,
    attempts: u32,
}

/// What became of a message after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Nothing is left to retry: the attempt's outcome is final (delivered, or refused
    /// permanently for some or all recipients). The entry is gone.
    Done,
    /// Queued again for `recipients` recipients at `at_ms`.
    Retry {
        /// When the next attempt is due, on the clock of the `now_ms` passed in: the backoff
        /// after this attempt, but no later than the policy's `max_age` after queueing.
        at_ms: u64,
        /// The recipients that failed transiently and are tried again (the others are final).
        recipients: usize,
    },
    /// Still failing transiently after the policy's `max_age`; the entry is gone.
    Expired(Failure),
}

/// Messages waiting for their next attempt.
#[derive(Debug, Default)]
pub struct Queue {
    policy: RetryPolicy,
    /// A BTreeMap, so iteration order is deterministic under simulation.
    entries: BTreeMap<EntryId, Entry>,
    next_id: EntryId,
}

impl Queue {
    /// An empty queue that retries and gives up as `policy` says.
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            entries: BTreeMap::new(),
            next_id: 1,
        }
    }

    /// Queues a message for an attempt at once.
    pub fn push(&mut self, message: Message, now_ms: u64) -> EntryId {
        let id = self.next_id;
        self.next_id += 1;
        let entry = Entry {
            message,
            queued_ms: now_ms,
            next_ms: Some(now_ms),
            attempts: 0,
        };
        self.entries.insert(id, entry);
        id
    }

    /// Messages due at `now_ms`, marked as under way until [`Queue::report`].
    pub fn take_due(&mut self, now_ms: u64) -> Vec<(EntryId, Message)> {
        let mut due = Vec::new();
        for (id, entry) in &mut self.entries {
            if entry.next_ms.is_some_and(|at| at <= now_ms) {
                entry.next_ms = None;
                due.push((*id, entry.message.clone()));
            }
        }
        due
    }

    /// When the next attempt is due, if any message waits.
    pub fn next_due(&self) -> Option<u64> {
        self.entries.values().filter_map(|e| e.next_ms).min()
    }

    /// Messages queued, due or not, including those whose attempt is under way.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no message is queued any more (or none was pushed).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records the outcome of an attempt on entry `id`.
    pub fn report(&mut self, id: EntryId, outcome: &MessageOutcome, now_ms: u64) -> Disposition {
        let Some(mut entry) = self.entries.remove(&id) else {
            panic!("report() for entry {id}, which is not queued");
        };
        entry.attempts += 1;
        let retry = outcome.retry_recipients();
        if retry.is_empty() {
            return Disposition::Done;
        }
        let last_error = match &outcome.result {
            Err(failure) => failure.to_string(),
            Ok(_) => "some recipients were deferred".into(),
        };
        let age = Duration::from_millis(now_ms.saturating_sub(entry.queued_ms));
        if age >= self.policy.max_age {
            let reason = format!(
                "gave up after {} attempts in {}s; last error: {last_error}",
                entry.attempts,
                age.as_secs()
            );
            return Disposition::Expired(Failure::new(false, reason));
        }
        let expiry = entry.queued_ms + millis(self.policy.max_age);
        let at_ms = (now_ms + millis(self.policy.backoff(entry.attempts))).min(expiry);
        let recipients = retry.len();
        entry.message.recipients = retry;
        entry.next_ms = Some(at_ms);
        self.entries.insert(id, entry);
        Disposition::Retry { at_ms, recipients }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
