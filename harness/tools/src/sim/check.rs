//! The invariants, checked over what the clients recorded and what the server's disk holds
//! after a final power loss. Each stored copy is traced to the attempt that sent it (its
//! `X-Sim` line), so a copy is either acknowledged (its 250 reached the client), ambiguous
//! (no reply reached the client: the link was lost between the final dot and the 250, or the
//! server died there; retrying it is what the protocol allows), or a violation. Against a
//! scripted next hop the invariants are the client's instead (`outbound`); the
//! replies and the draining of the queues are checked here for both kinds.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use mtp_server::client::status::StatusAnswer;
use mtp_server::store::{Store, StoredMessage};

use super::client::{AttemptResult, ClientLog, Final};
use super::scenario::{Invariant, Scenario};
use super::workload::{Origin, for_attempt, origin};

/// What a run left behind.
pub struct Observed<'a> {
    /// The scenario that ran (its invariants select the checks).
    pub scenario: &'a Scenario,
    /// Every client host's log: its plan, attempts, sessions, outcomes and STATUS answers.
    pub clients: Vec<&'a ClientLog>,
    /// The store as recovered from the disk after the final power loss.
    pub store: Option<&'a Store>,
    /// Reads that became durable, with their simulated time.
    pub opened: &'a BTreeMap<String, Duration>,
    /// Reads asked for (durable or not).
    pub open_requested: &'a BTreeSet<String>,
    /// When each client's path to the server was disturbed.
    pub disturbed: &'a super::disturb::Disturbances,
    /// Hosts whose software failed.
    pub failures: &'a [String],
    /// The scripted next hop, in an outbound scenario (its record and connections).
    pub hop: Option<&'a super::hop::HopEnv>,
}

impl Observed<'_> {
    /// The log of client host `host`.
    pub fn client(&self, host: &str) -> Option<&ClientLog> {
        self.clients.iter().copied().find(|c| c.host == host)
    }
}

/// A broken promise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// `None` for failures of the run itself (a host failed, a panic).
    pub invariant: Option<Invariant>,
    /// What went wrong, naming the host, message, attempt and id concerned.
    pub text: String,
}

impl Violation {
    /// A violation of no one invariant: the run itself failed (a host's software erred, the
    /// simulation or a task panicked, the store could not be recovered).
    pub fn general(text: impl Into<String>) -> Self {
        Self {
            invariant: None,
            text: text.into(),
        }
    }

    pub(super) fn of(invariant: Invariant, text: impl Into<String>) -> Self {
        Self {
            invariant: Some(invariant),
            text: text.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.invariant {
            None => write!(f, "[run] {}", self.text),
            Some(i) => write!(f, "[{} {}] {}", i.name(), i.spec().join(" "), self.text),
        }
    }
}

/// Counts for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages in the clients' plans.
    pub messages: usize,
    /// Client connections: the delivery sessions, plus one per STATUS check.
    pub sessions: usize,
    /// Delivery attempts, counting each retry of a message.
    pub attempts: usize,
    /// Attempts answered 250.
    pub acked: usize,
    /// Copies on the disk at the end.
    pub stored: usize,
    /// Copies whose attempt got no reply (the known ambiguity).
    pub ambiguous: usize,
    /// Messages stored more than once because of it.
    pub ambiguous_duplicates: usize,
    /// Copies sent by clients killed before the session reported.
    pub unconfirmed: usize,
    /// Delivery sessions that used VMTP BATCH.
    pub batch_sessions: usize,
    /// STATUS checks made: one per delivered READACK message, after any transient retries.
    pub status_checks: usize,
    /// Messages whose read (the `open` fault) became durable in the store.
    pub opened: usize,
    /// Client hosts killed (`kill` or `kill_mid_data`).
    pub killed: usize,
    /// (Next hop) recipients the clients report refused for good.
    pub refused: usize,
    /// (Next hop) recipients the clients gave up once their max age passed.
    pub given_up: usize,
}

/// Checks every invariant the scenario asks for.
pub fn check(observed: &Observed<'_>) -> (Vec<Violation>, Stats) {
    let mut checker = Checker {
        observed,
        violations: Vec::new(),
        stats: Stats::default(),
    };
    checker.count();
    if let Some(hop) = observed.hop {
        let (found, stats) = super::outbound::check(observed, hop);
        checker.violations.extend(found);
        checker.stats.stored = stats.stored;
        checker.stats.ambiguous = stats.ambiguous;
        checker.stats.ambiguous_duplicates = stats.ambiguous_duplicates;
        checker.stats.refused = stats.refused;
        checker.stats.given_up = stats.given_up;
    } else {
        let copies = checker.stored_copies();
        checker.acked_stored(&copies);
        checker.duplicates(&copies);
        checker.batches();
        checker.statuses();
    }
    checker.replies();
    checker.drained();
    let wanted = &observed.scenario.invariants;
    let mut violations: Vec<Violation> = observed
        .failures
        .iter()
        .map(|f| Violation::general(f.clone()))
        .collect();
    violations.extend(
        checker
            .violations
            .into_iter()
            .filter(|v| v.invariant.is_none_or(|i| wanted.contains(&i))),
    );
    (violations, checker.stats)
}

struct Checker<'o, 'a> {
    observed: &'o Observed<'a>,
    violations: Vec<Violation>,
    stats: Stats,
}

/// Stored copies by the attempt they came from.
type Copies = BTreeMap<Origin, Vec<StoredMessage>>;

impl Checker<'_, '_> {
    fn result_of(&self, origin: &Origin) -> Option<&super::client::Attempt> {
        self.observed
            .client(&origin.host)?
            .attempts
            .iter()
            .find(|a| a.index == origin.index && a.attempt == origin.attempt)
    }

    fn count(&mut self) {
        for client in &self.observed.clients {
            self.stats.messages += client.plan.len();
            self.stats.sessions += client.sessions.len() + client.statuses.len();
            self.stats.attempts += client.attempts.len();
            self.stats.acked += client
                .attempts
                .iter()
                .filter(|a| matches!(a.result, AttemptResult::Acked { .. }))
                .count();
            self.stats.batch_sessions += client.sessions.iter().filter(|s| s.batch).count();
            self.stats.status_checks += client.statuses.len();
            self.stats.killed += usize::from(client.killed_at.is_some());
        }
        self.stats.opened = self.observed.opened.len();
    }

    /// Every stored message, traced to its attempt and compared with what was sent.
    fn stored_copies(&mut self) -> Copies {
        let mut copies = Copies::new();
        let Some(store) = self.observed.store else {
            return copies;
        };
        for stored in store.list() {
            self.stats.stored += 1;
            let stored_data = store.data(&stored.id).unwrap_or_default();
            // The content exactly as the client sent it follows the Received: field the
            // server put on top (SMTP-DATA-5).
            let data = stored_data
                .get(stored.message.trace_len..)
                .unwrap_or_default()
                .to_vec();
            let Some(origin) = origin(&data) else {
                let text = format!("{} is not a message any client sent", stored.id);
                self.violations.push(Violation::of(Invariant::Intact, text));
                continue;
            };
            self.intact(&stored, &origin, &data);
            copies.entry(origin).or_default().push(stored);
        }
        copies
    }

    fn intact(&mut self, stored: &StoredMessage, origin: &Origin, data: &[u8]) {
        let (Some(client), Some(attempt)) =
            (self.observed.client(&origin.host), self.result_of(origin))
        else {
            let text = format!("{} claims an attempt no client made: {origin:?}", stored.id);
            return self.violations.push(Violation::of(Invariant::Intact, text));
        };
        let sent = &client.plan[origin.index];
        let expected = for_attempt(sent, &origin.host, origin.index, origin.attempt);
        let mut wrong = Vec::new();
        if data != expected.data {
            wrong.push(format!(
                "data ({} octets, sent {})",
                data.len(),
                expected.data.len()
            ));
        }
        let from = sent
            .reverse_path
            .as_ref()
            .map_or(String::new(), |m| m.to_string());
        if stored.message.reverse_path != from {
            wrong.push(format!("reverse-path {:?}", stored.message.reverse_path));
        }
        let to: BTreeSet<String> = sent.recipients.iter().map(|m| m.to_string()).collect();
        let got: BTreeSet<String> = stored.message.recipients.iter().cloned().collect();
        if got.is_empty() || !got.is_subset(&to) {
            wrong.push(format!("recipients {:?}", stored.message.recipients));
        }
        let expected_metadata: Vec<_> = sent
            .metadata
            .iter()
            .filter(|(k, _)| !attempt.dropped_metadata.contains(k))
            .cloned()
            .collect();
        if stored.message.metadata != expected_metadata {
            wrong.push(format!("metadata {:?}", stored.message.metadata));
        }
        if stored.message.read_ack != (sent.read_ack && attempt.read_ack) {
            wrong.push(format!("read_ack {}", stored.message.read_ack));
        }
        if !wrong.is_empty() {
            let text = format!(
                "{} ({} #{} try {}) differs from what was sent: {}",
                stored.id,
                origin.host,
                origin.index,
                origin.attempt,
                wrong.join(", ")
            );
            self.violations.push(Violation::of(Invariant::Intact, text));
        }
    }

    /// Every 250 is on the disk, under the id it named.
    fn acked_stored(&mut self, copies: &Copies) {
        for client in &self.observed.clients {
            for attempt in &client.attempts {
                let AttemptResult::Acked { id } = &attempt.result else {
                    continue;
                };
                let origin = Origin {
                    host: client.host.clone(),
                    index: attempt.index,
                    attempt: attempt.attempt,
                };
                let found = copies.get(&origin).into_iter().flatten();
                let ids: Vec<&str> = found.map(|m| m.id.as_str()).collect();
                let named = id.as_deref().unwrap_or("(no id)");
                let ok = match id {
                    Some(id) => ids.contains(&id.as_str()),
                    None => !ids.is_empty(),
                };
                if !ok {
                    let text = format!(
                        "{} #{} try {} was acknowledged with 250 ({named}) in session {} but \
                         is not on the disk after the final power loss (copies found: {ids:?})",
                        client.host, attempt.index, attempt.attempt, attempt.session
                    );
                    self.violations
                        .push(Violation::of(Invariant::AckedStored, text));
                }
            }
        }
    }

    /// A copy stored without a reply is the known ambiguity only if the client's path to the
    /// server was disturbed during that session.
    fn no_reply_excused(&mut self, origin: &Origin, ids: &[&str], reason: &str) {
        let Some(attempt) = self.result_of(origin) else {
            return;
        };
        let end = attempt.ended.unwrap_or(Duration::MAX);
        if !self
            .observed
            .disturbed
            .touches(&origin.host, attempt.started, end)
        {
            let text = format!(
                "{ids:?} ({} #{} try {}) was stored, but the client got no reply on a healthy                  path: {reason}",
                origin.host, origin.index, origin.attempt
            );
            self.violations
                .push(Violation::of(Invariant::NoDuplicates, text));
        }
    }

    /// A message is stored once, plus one copy per attempt whose reply never arrived.
    fn duplicates(&mut self, copies: &Copies) {
        let mut per_message: BTreeMap<(&str, usize), usize> = BTreeMap::new();
        for (origin, stored) in copies {
            *per_message.entry((&origin.host, origin.index)).or_default() += stored.len();
            let ids: Vec<&str> = stored.iter().map(|m| m.id.as_str()).collect();
            if stored.len() > 1 {
                let text = format!(
                    "one attempt ({origin:?}) was stored {} times: {ids:?}",
                    stored.len()
                );
                self.violations
                    .push(Violation::of(Invariant::NoDuplicates, text));
            }
            match self.result_of(origin).map(|a| a.result.clone()) {
                Some(AttemptResult::Refused { reply, .. }) => {
                    let text = format!(
                        "{ids:?} ({} #{} try {}) was refused with \"{reply}\" yet stored: the \
                         client sends it again",
                        origin.host, origin.index, origin.attempt
                    );
                    self.violations
                        .push(Violation::of(Invariant::NoDuplicates, text));
                }
                Some(AttemptResult::InFlight) => self.stats.unconfirmed += stored.len(),
                Some(AttemptResult::NoReply { reason }) => {
                    self.stats.ambiguous += stored.len();
                    self.no_reply_excused(origin, &ids, &reason);
                }
                Some(AttemptResult::Acked { .. }) | None => {}
            }
        }
        for ((host, index), count) in per_message {
            if count > 1 {
                self.stats.ambiguous_duplicates += 1;
                let acked = copies
                    .iter()
                    .filter(|(o, _)| o.host == host && o.index == index)
                    .filter(|(o, _)| {
                        matches!(
                            self.result_of(o).map(|a| &a.result),
                            Some(AttemptResult::Acked { .. })
                        )
                    })
                    .count();
                if acked > 1 {
                    let text = format!(
                        "{host} #{index} was acknowledged {acked} times and stored {count} times"
                    );
                    self.violations
                        .push(Violation::of(Invariant::NoDuplicates, text));
                }
            }
        }
    }

    fn replies(&mut self) {
        for client in &self.observed.clients {
            for bad in client.malformed.iter().take(5) {
                let text = format!("malformed reply: {bad}");
                self.violations
                    .push(Violation::of(Invariant::RepliesWellFormed, text));
            }
        }
    }

    fn drained(&mut self) {
        for client in &self.observed.clients {
            if client.killed_at.is_some() {
                continue;
            }
            if client.finished_at.is_none() {
                let queued = client.finals.iter().filter(|f| f.is_none()).count();
                let text = format!(
                    "{} did not finish: {queued} messages still queued",
                    client.host
                );
                self.violations
                    .push(Violation::of(Invariant::QueuesDrain, text));
            }
            // A next hop's refusals and the queue's giving up are judged by `refusals-final`
            // and `retried`.
            if self.observed.hop.is_some() {
                continue;
            }
            for (index, last) in client.finals.iter().enumerate() {
                if let Some(Final::Failed(reason)) = last {
                    let text = format!("{} #{index} was given up: {reason}", client.host);
                    self.violations
                        .push(Violation::of(Invariant::QueuesDrain, text));
                }
            }
        }
    }

    fn batches(&mut self) {
        let mut all: BTreeMap<&str, usize> = BTreeMap::new();
        for client in &self.observed.clients {
            for session in &client.sessions {
                let distinct: BTreeSet<&String> = session.acked_ids.iter().collect();
                if session.batch && distinct.len() != session.acked_ids.len() {
                    let text = format!(
                        "{} session {} (BATCH) got repeated ids: {:?}",
                        client.host, session.number, session.acked_ids
                    );
                    self.violations.push(Violation::of(Invariant::Batch, text));
                }
                for id in &session.acked_ids {
                    *all.entry(id).or_default() += 1;
                }
            }
        }
        for (id, count) in all.into_iter().filter(|(_, n)| *n > 1) {
            let text = format!("the id {id} was acknowledged for {count} different messages");
            self.violations
                .push(Violation::of(Invariant::NoDuplicates, text));
        }
    }

    fn statuses(&mut self) {
        for client in &self.observed.clients {
            for check in &client.statuses {
                if let Some(text) = self.status_problem(check) {
                    let text = format!(
                        "{} #{} STATUS {}: {text}",
                        client.host, check.index, check.id
                    );
                    self.violations.push(Violation::of(Invariant::Status, text));
                }
            }
        }
    }

    fn status_problem(&self, check: &super::client::StatusCheck) -> Option<String> {
        let read_before = self
            .observed
            .opened
            .get(&check.id)
            .is_some_and(|at| *at <= check.asked_at);
        let read_asked = self.observed.open_requested.contains(&check.id);
        match &check.answer {
            StatusAnswer::Known { id, state, .. } if id != &check.id => {
                Some(format!("the answer names another id ({id}, {state})"))
            }
            StatusAnswer::Known { state, .. } => match state.as_str() {
                "OPENED" if !read_asked => Some("OPENED, but nobody read it".into()),
                "DELIVERED" if read_before => Some("DELIVERED after a durable first read".into()),
                "OPENED" | "DELIVERED" => None,
                other => Some(format!("{other} for a message stored locally")),
            },
            StatusAnswer::Unknown(reply) => Some(format!("unknown ({reply}) after a 250")),
            StatusAnswer::NotOffered(reply) => Some(format!("not offered ({reply:?})")),
            StatusAnswer::Failed(failure) => Some(format!("no answer: {failure}")),
        }
    }
}
