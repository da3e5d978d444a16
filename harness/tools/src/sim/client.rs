//! A simulated client host: the reference client's retry [`Queue`] (time from the simulation)
//! delivering its workload to the server (the reference server or a scripted next hop) over
//! turmoil, one session per round of due messages (so PIPELINING and BATCH apply), then a
//! STATUS check of each delivered READACK message. Everything it learns goes into its
//! [`ClientLog`] for the checks: per attempt what became of each recipient, per message what
//! the client reports in the end ([`super::fate`]).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use mtp_proto::smtp::client::{ClientOptions, ClientSession, Event, Message, Outcome};
use mtp_proto::smtp::command::Command;
use mtp_server::client::queue::{Disposition, Queue, RetryPolicy};
use mtp_server::client::status::{StatusAnswer, interpret};
use mtp_server::client::{Timeouts, TlsSetup, drive};
use tokio::time::{Instant, timeout};

use super::fate::{Fate, Report, fates};
use super::net::{Probe, SMTP_PORT, Tap};
use super::sabotage::Saboteur;
use super::scenario::{ClientSpec, SERVER, Sabotage};
use super::trace::{SharedTrace, sim_now};
use super::units::millis;
use super::workload::for_attempt;

/// STATUS lookups that fail transiently are tried this many times.
const STATUS_TRIES: u32 = 12;

/// What became of one attempt of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    /// The session has not reported yet (or the client died during it).
    InFlight,
    /// A 250 after the data; the id it named.
    Acked {
        /// The message id the 250 named, if it named one.
        id: Option<String>,
    },
    /// A reply refused the message somewhere in its transaction.
    Refused {
        /// The refusing reply, as text.
        reply: String,
        /// A 4yz reply: the queue tries again.
        transient: bool,
    },
    /// No reply settled it: connection lost, timed out, or never sent.
    NoReply {
        /// Why, as the client driver put it.
        reason: String,
    },
}

/// One attempt to deliver one message: the session it went in and what became of it.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// The message's position in the client's plan.
    pub index: usize,
    /// 1 for the first attempt of that message.
    pub attempt: u32,
    /// The delivery session it went in (numbered from 1 per client).
    pub session: u32,
    /// What became of it.
    pub result: AttemptResult,
    /// The server took READACK for it.
    pub read_ack: bool,
    /// METADATA keys that did not reach the server.
    pub dropped_metadata: Vec<String>,
    /// The session's simulated start, and its end once it reported.
    pub started: Duration,
    /// When the session reported (simulated time); `None` while in flight or if the client
    /// died first.
    pub ended: Option<Duration>,
    /// The recipients this attempt was for (the queue retries only those still deferred).
    pub recipients: Vec<String>,
    /// What the client made of each of them once the session reported, in order.
    pub fates: Vec<(String, Fate)>,
}

/// A session's use of BATCH and the ids it was given.
#[derive(Clone, Debug)]
pub struct SessionRecord {
    /// The session's number (from 1 per client), as [`Attempt::session`] names it.
    pub number: u32,
    /// The session used VMTP BATCH.
    pub batch: bool,
    /// The ids its 250 replies named, in order.
    pub acked_ids: Vec<String>,
    /// The client's end of the connection, when it connected (the next hop sees it as the
    /// peer address).
    pub local: Option<SocketAddr>,
    /// Replies that reached the client on the connection (its greeting included).
    pub replies_read: usize,
    /// The session ended because a reply did not come within the client's timeout.
    pub timed_out: bool,
}

/// What a session's connection was, seen from the client.
#[derive(Clone, Copy, Debug, Default)]
struct Connection {
    local: Option<SocketAddr>,
    replies_read: usize,
    timed_out: bool,
}

/// How a message ended for the client.
#[derive(Clone, Debug)]
pub enum Final {
    /// Acknowledged with 250.
    Delivered {
        /// The id the 250 named, if any.
        id: Option<String>,
        /// The server took READACK for it (so STATUS is asked about it).
        read_ack: bool,
        /// METADATA keys that did not reach the server.
        dropped_metadata: Vec<String>,
    },
    /// Refused for good (a 5yz reply, or the queue gave up), with the reason.
    Failed(String),
}

/// A STATUS lookup of a delivered READACK message, and the answer (after any transient
/// failures retried).
#[derive(Clone, Debug)]
pub struct StatusCheck {
    /// The message's position in the client's plan.
    pub index: usize,
    /// The id its 250 named, which STATUS asked about.
    pub id: String,
    /// When the last lookup began (simulated time); a read durable before it must show.
    pub asked_at: Duration,
    /// What the server said, as the client interprets it.
    pub answer: StatusAnswer,
}

/// Everything one client host did, read by the harness and the checks.
#[derive(Debug, Default)]
pub struct ClientLog {
    /// The client's host name.
    pub host: String,
    /// The messages, without their per-attempt `X-Sim` line.
    pub plan: Vec<Message>,
    /// Every attempt, in the order it was made.
    pub attempts: Vec<Attempt>,
    /// Every delivery session, in order.
    pub sessions: Vec<SessionRecord>,
    /// Per message of the plan, how it ended; `None` while it is queued or in flight.
    pub finals: Vec<Option<Final>>,
    /// Per message of the plan, when it entered the queue (simulated time).
    pub queued_at: Vec<Option<Duration>>,
    /// Per message of the plan, what the client reports of each recipient so far.
    pub reports: Vec<Report>,
    /// The STATUS checks made once the queue drained.
    pub statuses: Vec<StatusCheck>,
    /// Replies that were not well formed, with the session they came in.
    pub malformed: Vec<String>,
    /// The queue is empty and the STATUS checks are done.
    pub finished_at: Option<Duration>,
    /// When the harness killed the client (`kill`, `kill_mid_data`).
    pub killed_at: Option<Duration>,
    /// The connection in use, for `kill_mid_data`.
    pub probe: Option<Rc<RefCell<Probe>>>,
}

impl ClientLog {
    /// The client is finished or dead: the run need not wait for it.
    pub fn is_settled(&self) -> bool {
        self.finished_at.is_some() || self.killed_at.is_some()
    }
}

/// What a client host runs with.
pub struct ClientEnv {
    /// The host's name.
    pub host: String,
    /// Its group's spec (options, timeouts, backoff, pacing).
    pub spec: ClientSpec,
    /// When it starts, as the seed picked it from `spec.start`.
    pub start: Duration,
    /// When each message of the plan enters the queue, after `start`.
    pub arrivals: Vec<Duration>,
    /// Where it records what it does (its plan already filled in).
    pub log: Rc<RefCell<ClientLog>>,
    /// The run's trace.
    pub trace: SharedTrace,
    /// The driver's TLS set-up; plain, as simulated clients never upgrade.
    pub tls: TlsSetup,
}

impl ClientEnv {
    fn options(&self) -> ClientOptions {
        ClientOptions {
            helo_name: format!("{}.clients.example", self.host),
            use_vmtp: self.spec.vmtp,
            pipelining: self.spec.pipelining,
            starttls: false,
            prefer_encrypt: false,
            require_tls: false,
            batch: self.spec.batch,
        }
    }

    /// The policy the queue runs with: the scenario's, unless the client is sabotaged to
    /// give up at once.
    fn policy(&self) -> RetryPolicy {
        let declared = self.spec.policy();
        match self.spec.sabotage {
            Some(Sabotage::GiveUpTransient) => RetryPolicy {
                max_age: Duration::ZERO,
                ..declared
            },
            _ => declared,
        }
    }
}

/// The client host's software.
pub async fn run(env: Rc<ClientEnv>) -> turmoil::Result {
    tokio::time::sleep(env.start).await;
    deliver_all(&env).await;
    check_statuses(&env).await;
    env.log.borrow_mut().finished_at = Some(sim_now());
    env.trace.borrow_mut().event(sim_now(), &env.host, "done");
    Ok(())
}

async fn deliver_all(env: &ClientEnv) {
    let origin = Instant::now();
    let now_ms = || millis(origin.elapsed());
    let mut queue = Queue::new(env.policy());
    let plan = env.log.borrow().plan.clone();
    let mut entries = BTreeMap::new();
    let mut tries = vec![0u32; plan.len()];
    let mut session = 0u32;
    let mut arrived = 0;
    // `resend-acked`: the messages already queued a second time after their 250.
    let mut resent = BTreeSet::new();
    loop {
        while let Some(&arrival) = env.arrivals.get(arrived) {
            if arrival > origin.elapsed() {
                break;
            }
            entries.insert(queue.push(plan[arrived].clone(), now_ms()), arrived);
            env.log.borrow_mut().queued_at[arrived] = Some(sim_now());
            arrived += 1;
        }
        let arrival = env.arrivals.get(arrived).map(|a| millis(*a));
        let wake = match (queue.next_due(), arrival) {
            (None, None) => break,
            (Some(due), None) | (None, Some(due)) => due,
            (Some(due), Some(arrival)) => due.min(arrival),
        };
        tokio::time::sleep_until(origin + Duration::from_millis(wake)).await;
        let due = queue.take_due(now_ms());
        if due.is_empty() {
            continue;
        }
        session += 1;
        let mut sent = Vec::new();
        let mut messages = Vec::new();
        for (entry, message) in due {
            let index = entries[&entry];
            tries[index] += 1;
            let recipients = message.recipients.iter().map(|r| r.to_string()).collect();
            messages.push(for_attempt(&message, &env.host, index, tries[index]));
            let at = env.log.borrow().attempts.len();
            env.log.borrow_mut().attempts.push(Attempt {
                index,
                attempt: tries[index],
                session,
                result: AttemptResult::InFlight,
                read_ack: false,
                dropped_metadata: Vec::new(),
                started: sim_now(),
                ended: None,
                recipients,
                fates: Vec::new(),
            });
            sent.push((entry, index, at));
        }
        let session_run = ClientSession::new(env.options(), messages);
        let (outcome, connection) = connect_and_drive(env, session_run).await;
        record(env, session, &sent, &outcome, connection);
        for ((entry, index, _), result) in sent.iter().zip(&outcome.messages) {
            let disposition = queue.report(*entry, result, now_ms());
            let mut log = env.log.borrow_mut();
            log.reports[*index].file(result, &disposition, sim_now());
            if env.spec.sabotage == Some(Sabotage::ResendAcked)
                && result.result.is_ok()
                && resent.insert(*index)
            {
                // The deliberately broken client: the accepted message goes out once more.
                entries.insert(queue.push(plan[*index].clone(), now_ms()), *index);
            }
            log.finals[*index] = match (disposition, &result.result) {
                (Disposition::Retry { .. }, _) => None,
                (_, Ok(delivered)) => Some(Final::Delivered {
                    id: delivered.id.clone(),
                    read_ack: result.read_ack,
                    dropped_metadata: result.dropped_metadata.clone(),
                }),
                (Disposition::Expired(failure), Err(_)) => Some(Final::Failed(failure.to_string())),
                (_, Err(failure)) => Some(Final::Failed(failure.to_string())),
            };
        }
    }
}

/// Files the session's per-message results and traces them.
fn record(
    env: &ClientEnv,
    session: u32,
    sent: &[(u64, usize, usize)],
    outcome: &Outcome,
    connection: Connection,
) {
    let mut log = env.log.borrow_mut();
    let mut parts = Vec::new();
    let mut acked_ids = Vec::new();
    for ((_, index, at), result) in sent.iter().zip(&outcome.messages) {
        let attempt = &mut log.attempts[*at];
        attempt.read_ack = result.read_ack;
        attempt.ended = Some(sim_now());
        attempt.dropped_metadata = result.dropped_metadata.clone();
        attempt.fates = fates(result);
        attempt.result = match &result.result {
            Ok(delivered) => {
                acked_ids.extend(delivered.id.clone());
                AttemptResult::Acked {
                    id: delivered.id.clone(),
                }
            }
            Err(failure) => match &failure.reply {
                Some(reply) => AttemptResult::Refused {
                    reply: reply.to_string().trim_end().to_string(),
                    transient: failure.transient,
                },
                None => AttemptResult::NoReply {
                    reason: failure.reason.clone(),
                },
            },
        };
        parts.push(format!(
            "#{index} try {}: {}",
            attempt.attempt,
            describe(&attempt.result)
        ));
    }
    let batch = outcome
        .used
        .contains(&mtp_proto::smtp::client::Feature::VmtpBatch);
    log.sessions.push(SessionRecord {
        number: session,
        batch,
        acked_ids,
        local: connection.local,
        replies_read: connection.replies_read,
        timed_out: connection.timed_out,
    });
    let mut trace = env.trace.borrow_mut();
    let via = if batch { " (BATCH)" } else { "" };
    trace.event(
        sim_now(),
        &env.host,
        format!("session {session}{via}: {}", parts.join("; ")),
    );
    for line in outcome.transcript_text().lines() {
        trace.detail(line);
    }
}

fn describe(result: &AttemptResult) -> String {
    match result {
        AttemptResult::InFlight => "in flight".into(),
        AttemptResult::Acked { id: Some(id) } => format!("250 {id}"),
        AttemptResult::Acked { id: None } => "250 without an id".into(),
        AttemptResult::Refused { reply, .. } => format!("refused: {reply}"),
        AttemptResult::NoReply { reason } => format!("no reply: {reason}"),
    }
}

/// Connects to the server and runs `session` to its end; what the connection was.
async fn connect_and_drive(env: &ClientEnv, session: ClientSession) -> (Outcome, Connection) {
    let probe = Rc::new(RefCell::new(Probe::default()));
    env.log.borrow_mut().probe = Some(probe.clone());
    let timeouts = Timeouts::uniform(env.spec.timeout.0);
    let pace = env.spec.upload.as_ref().map(|u| (u.chunk, u.gap.0));
    let connect = turmoil::net::TcpStream::connect((SERVER, SMTP_PORT));
    let (outcome, local) = match timeout(timeouts.connect, connect).await {
        Ok(Ok(stream)) => {
            let local = stream.local_addr().ok();
            probe.borrow_mut().last_io = sim_now();
            let stream = Saboteur::new(stream, env.spec.sabotage);
            let tap = Tap::new(stream, probe.clone(), pace);
            (drive(tap, session, &env.tls, &timeouts).await, local)
        }
        Ok(Err(e)) => (closed(session, format!("cannot connect: {e}")), None),
        Err(_) => (closed(session, "timed out connecting".into()), None),
    };
    let mut log = env.log.borrow_mut();
    log.probe = None;
    let seen = probe.borrow();
    let connection = Connection {
        local,
        replies_read: seen.replies,
        // The driver gives up on a reply after the timeout of silence: exactly, in
        // simulated time. It then closes, or writes QUIT first and closes (RFC 5321
        // §4.1.1.10), so the silence is the last one or the one before that QUIT.
        timed_out: local.is_some()
            && (sim_now() >= seen.last_io + env.spec.timeout.0
                || seen.longest_silence >= env.spec.timeout.0),
    };
    drop(seen);
    let host = env.host.clone();
    log.malformed.extend(
        probe
            .borrow()
            .malformed
            .iter()
            .map(|m| format!("{host}: {m}")),
    );
    (outcome, connection)
}

/// The outcome of a session whose connection failed before it began.
fn closed(mut session: ClientSession, reason: String) -> Outcome {
    session.handle_closed(reason);
    loop {
        match session.poll_event() {
            Some(Event::Done(outcome)) => return *outcome,
            Some(_) => continue,
            None => unreachable!("handle_closed always ends a session with Done"),
        }
    }
}

/// Asks the server for the STATUS of every delivered READACK message.
async fn check_statuses(env: &ClientEnv) {
    let wanted: Vec<(usize, String)> = env
        .log
        .borrow()
        .finals
        .iter()
        .enumerate()
        .filter_map(|(i, f)| match f {
            Some(Final::Delivered {
                id: Some(id),
                read_ack: true,
                ..
            }) => Some((i, id.clone())),
            _ => None,
        })
        .collect();
    for (index, id) in wanted {
        let policy = env.policy();
        for attempt in 1..=STATUS_TRIES {
            let asked_at = sim_now();
            let command = ClientSession::command(env.options(), Command::Status(id.clone()));
            let (outcome, _) = connect_and_drive(env, command).await;
            let answer = interpret(&outcome);
            let retry = matches!(&answer, StatusAnswer::Failed(f) if f.transient);
            if retry && attempt < STATUS_TRIES {
                tokio::time::sleep(policy.backoff(attempt)).await;
                continue;
            }
            env.trace
                .borrow_mut()
                .event(sim_now(), &env.host, format!("STATUS {id}: {answer:?}"));
            env.log.borrow_mut().statuses.push(StatusCheck {
                index,
                id: id.clone(),
                asked_at,
                answer,
            });
            break;
        }
    }
}
