//! The tokio loop around the sans-io [`Queue`]: attempt what is due, report, sleep until the
//! next attempt. Time is the tokio clock relative to the start, so paused-time tests and the
//! turmoil simulation run it without waiting.

use mtp_proto::smtp::client::{ClientOptions, Message, Outcome};
use tokio::time::Instant;

use super::queue::{Disposition, Queue, RetryPolicy};
use super::{Target, Timeouts, deliver};

/// One delivery attempt of one queued message.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// Milliseconds since the queue started.
    pub at_ms: u64,
    /// The position of the message in the list given to [`run_queue`].
    pub index: usize,
    /// The session's outcome: replies, per-recipient results and transcript.
    pub outcome: Outcome,
    /// What the queue did next: done, retry (when, for how many recipients) or expired.
    pub disposition: Disposition,
}

/// Delivers `messages` (one session per message and attempt), retrying transient failures
/// under `policy` until each is done or expired. `on_attempt` sees every attempt as it ends;
/// the last attempt of each message is returned, in the order given.
pub async fn run_queue(
    target: &Target,
    options: &ClientOptions,
    messages: Vec<Message>,
    timeouts: &Timeouts,
    policy: RetryPolicy,
    mut on_attempt: impl FnMut(&Attempt),
) -> Vec<Attempt> {
    let start = Instant::now();
    let now_ms = || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut queue = Queue::new(policy);
    let ids: Vec<_> = messages
        .into_iter()
        .map(|m| queue.push(m, now_ms()))
        .collect();
    let mut last: Vec<Option<Attempt>> = vec![None; ids.len()];
    while let Some(due_ms) = queue.next_due() {
        tokio::time::sleep_until(start + std::time::Duration::from_millis(due_ms)).await;
        for (id, message) in queue.take_due(now_ms()) {
            let outcome = deliver(target, options.clone(), vec![message], timeouts).await;
            let Some(result) = outcome.messages.first() else {
                unreachable!("a session given one message reports one message");
            };
            let disposition = queue.report(id, result, now_ms());
            let index = ids.iter().position(|i| *i == id).unwrap_or_default();
            let attempt = Attempt {
                at_ms: now_ms(),
                index,
                outcome,
                disposition,
            };
            on_attempt(&attempt);
            last[index] = Some(attempt);
        }
    }
    last.into_iter().flatten().collect()
}
