//! `relay-test`: judging an MTA's outbound side. For each relay case (`scenarios/relay/*.yaml`,
//! [`model`], [`load`]) the harness submits a crafted message to the target as a relay client
//! ([`submit`]), with a unique token in its envelope (`sender-TOKEN@return.relay.test` to
//! `rcpt-TOKEN@relay.test`); the target, configured to route `relay.test` and its subdomains
//! to the harness, relays it to the next hop the harness plays ([`hop`], servetest's scripted
//! session); the sessions that carry the token ([`arrived`]) are judged ([`judge`], with
//! [`content`] and [`dsn`]) and reported ([`report`]).
//!
//! The target is an MTA (`--inject smtp://`) or the reference's HTTP gateway (`--inject
//! http://`, [`gateway`]): its client and retry queue, given the message as JSON.
//!
//! This module owns the relay runner: one case at a time, bounded waits (`--wait`), an
//! optional command that makes the target run its queue at once (`--flush-command`), and the
//! verdict rules: a refusal of the submission is PASS where refusing is one of the behaviours
//! the cited requirements allow (the smuggling cases), SKIP otherwise; nothing arriving at the
//! next hop is SKIP with the likely cause.

pub mod arrived;
pub mod content;
pub mod dsn;
pub mod envelope;
pub mod gateway;
pub mod hop;
pub mod inject;
pub mod judge;
pub mod lines;
pub mod load;
pub mod model;
pub mod report;
pub mod submit;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use inject::Inject;
pub use load::{bundled_cases, load_paths};
pub use model::{OnRefused, RelayCase};
pub use report::{RelayOutcome, RelayReport, Smuggling};

use crate::servetest::client;
use crate::servetest::judge::case_verdict;
use arrived::{Arrived, Envelope};
use content::Vars;
use hop::{Hop, Scripts};
use model::{Check, LaterAfter, RELAY_DOMAIN, RETURN_DOMAIN};
use mtpspec_runner::runner::Verdict;
use mtpspec_runner::wire::escape;
use submit::{Submission, Submitted};

/// How often the record is looked at while waiting.
const POLL: Duration = Duration::from_millis(100);
/// The most a flush command may run.
const FLUSH_LIMIT: Duration = Duration::from_secs(20);
/// The most the submission takes (connection, every reply).
const SUBMIT_LIMIT: Duration = Duration::from_secs(150);

/// How cases are run.
#[derive(Clone, Debug)]
pub struct RelayOptions {
    /// Where the harness submits: the target's SMTP listener or the gateway.
    pub inject: Inject,
    /// Where the next hop listens, as the target knows it (for messages).
    pub listen: String,
    /// A command that makes the target run its queue now (`sh -c`).
    pub flush_command: Option<String>,
    /// How long to wait for the message (or a notification) at the next hop.
    pub wait: Duration,
    /// Once it came, how long to keep listening for more (a duplicate, a notification).
    pub settle: Duration,
    /// How often the flush command runs while waiting.
    pub flush_interval: Duration,
    /// The TLS configuration for STARTTLS at the next hop (a self-signed certificate).
    pub tls: Arc<ServerConfig>,
}

/// A token no other case of any run shares: lowercase letters and digits, so that it survives
/// a target that folds the case of local parts.
pub fn new_token() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("t{:010x}{:03x}", nanos & 0xff_ffff_ffff, n & 0xfff)
}

/// Runs one case: submit, wait for the next hop's sessions, judge.
pub async fn run_case(
    case: &RelayCase,
    listener: &Arc<TcpListener>,
    opts: &RelayOptions,
) -> RelayOutcome {
    let started = Instant::now();
    let token = new_token();
    let vars = Vars {
        rcpt: format!("rcpt-{token}@{RELAY_DOMAIN}"),
        sender: format!("sender-{token}@{RETURN_DOMAIN}"),
        token,
    };
    let mut out = RelayOutcome::new(case, &vars.token);
    let sender = content::render_text(&case.message.reverse_path, &vars);
    let rcpts: Vec<String> = case
        .message
        .recipients
        .iter()
        .map(|r| content::render_text(r, &vars))
        .collect();
    let envelope = Envelope {
        token: &vars.token,
        rcpts: &rcpts,
        sender: &sender,
        first_connection: case.later_after == LaterAfter::FirstConnection,
    };
    let written = content::render(&case.message.content, &vars);
    let data = content::terminate(&written);
    // What the target should store: the content less the transparency dots.
    let content = content::unstuff(&written);
    let deadline = started + SUBMIT_LIMIT + opts.wait + opts.settle;
    let scripts = Scripts {
        first: Arc::clone(&case.next_hop),
        later: Arc::clone(&case.later),
        later_after: case.later_after,
        token: vars.token.clone(),
    };
    let hop = Hop::start(
        Arc::clone(listener),
        scripts,
        Arc::clone(&opts.tls),
        deadline,
    );
    let (submitted, transcript, accepted) = match &opts.inject {
        Inject::Smtp(addr) => {
            let submission = Submission {
                sender: &sender,
                rcpts: &rcpts,
                body_8bitmime: case.message.body_8bitmime,
                smtputf8: case.message.smtputf8,
                data: &data,
            };
            let (submitted, transcript) = submit::submit(addr, &submission).await;
            (submitted, transcript, None)
        }
        Inject::Gateway(base) => match gateway::message_json(&sender, &rcpts, &content) {
            Ok(json) => gateway::submit(base, &json).await,
            Err(why) => (Submitted::NotExpressible { why }, Vec::new(), None),
        },
    };
    out.submission_transcript = transcript;
    let record = Record {
        inject: &opts.inject,
        accepted: accepted.as_ref(),
    };
    if matches!(submitted, Submitted::Accepted { .. }) {
        wait(&hop, &envelope, &record, opts).await;
    }
    let rec = hop.stop().await;
    let arrived = Arrived::read(&rec, &envelope);
    out.events = arrived.events.clone();
    decide(case, &mut out, &submitted, &arrived, &content, opts);
    if let Some((summary, transcript)) = record.read().await {
        out.submission_transcript.extend(transcript);
        if let Some(summary) = summary {
            out.note(format!("the gateway's delivery record: {summary}"));
        }
    }
    out.smuggling = smuggling(case, &out, &submitted, &arrived);
    out.submission = Some(submitted);
    out.duration = started.elapsed();
    out
}

/// The verdict from the submission's outcome and, once the target accepted the message, the
/// judgements.
fn decide(
    case: &RelayCase,
    out: &mut RelayOutcome,
    submitted: &Submitted,
    arrived: &Arrived,
    content: &[u8],
    opts: &RelayOptions,
) {
    let (verdict, reason) = match submitted {
        Submitted::Unreachable { .. } => (Verdict::Error, submitted.describe()),
        Submitted::Unsupported { .. } | Submitted::NotExpressible { .. } => {
            (Verdict::Skip, submitted.describe())
        }
        _ if submitted.refused_content() && case.refused == OnRefused::Pass => (
            Verdict::Pass,
            format!(
                "the target did not accept the content ({}), which the cited requirements allow",
                submitted.describe()
            ),
        ),
        Submitted::Refused { .. } | Submitted::Closed { .. } => (
            Verdict::Skip,
            format!("the stage cannot be set: {}", submitted.describe()),
        ),
        Submitted::Accepted { .. } if !arrived.anything() && arrived.attempts.is_empty() => (
            Verdict::Skip,
            format!(
                "nothing arrived at the next hop within {}: is the target configured to relay \
                 {RELAY_DOMAIN} to {}?",
                seconds(opts.wait),
                opts.listen
            ),
        ),
        Submitted::Accepted { .. } if !arrived.anything() => (
            Verdict::Skip,
            format!(
                "the message did not arrive at the next hop within {}; sessions that named no \
                 message: {}",
                seconds(opts.wait),
                arrived.attempts.join("; ")
            ),
        ),
        Submitted::Accepted { extra, .. } => {
            out.judgements =
                judge::judge_all_relay(&case.judge, arrived, content, opts.inject.composes());
            if !extra.is_empty() {
                inbound_smuggling(case, out);
            }
            out.verdict = case_verdict(&out.judgements);
            out.reason = out.reason_from_judgements();
            if !extra.is_empty() {
                out.note(format!(
                    "the target answered the data more than once ({}): it ended the data early \
                     itself (inbound smuggling)",
                    extra.join(" / ")
                ));
            }
            // Content the next hop did not refuse (accepted, or its reply never came): more than
            // one is a duplicate, the allowed one (a lost reply) or not.
            let sent: Vec<String> = arrived
                .sent()
                .filter(|t| {
                    !t.end_reply
                        .as_deref()
                        .is_some_and(|r| r.starts_with('4') || r.starts_with('5'))
                })
                .map(|t| {
                    let reply = t.end_reply.as_deref().unwrap_or("no reply");
                    format!("connection {} ({reply})", t.conn)
                })
                .collect();
            if sent.len() > 1 {
                out.note(format!(
                    "the content reached the next hop {} times: {}",
                    sent.len(),
                    sent.join(", ")
                ));
            }
            return;
        }
    };
    out.verdict = verdict;
    out.reason = Some(reason);
}

/// The target's inbound side ended the data at the smuggled ending and accepted the smuggled
/// transaction as a message of its own (it answered the data more than once): what then
/// reaches the next hop as MAIL and RCPT, and as a second copy, is a message the target
/// relayed, not octets it passed on. The cited client rules (RFC 5321 §2.3.8, §4.5.2) are
/// about what the target transmits, which the octet checks still judge; the checks on
/// commands and copies are SKIP here, and the inbound side is the server suite's matter
/// (SPEC.md SMUGGLING, `mtpspec run`).
fn inbound_smuggling(case: &RelayCase, out: &mut RelayOutcome) {
    for (j, judged) in case.judge.iter().zip(out.judgements.iter_mut()) {
        if matches!(
            j.check,
            Check::Never(_) | Check::MaxCopies(_) | Check::Copies(_)
        ) && judged.verdict != Verdict::Pass
        {
            judged.verdict = Verdict::Skip;
            judged.detail = Some(format!(
                "not the outbound side's doing: the target's inbound side ended the data at the \
                 ending and accepted the smuggled transaction as a message, which it then \
                 relayed ({})",
                judged.detail.take().unwrap_or_default()
            ));
        }
    }
}

/// Where the target keeps its own account of a message: the gateway's delivery record.
struct Record<'a> {
    inject: &'a Inject,
    accepted: Option<&'a gateway::Accepted>,
}

impl Record<'_> {
    /// The record's summary (when it could be read) and the exchange, for the gateway; `None`
    /// for an MTA, or a message the gateway did not accept.
    async fn read(&self) -> Option<(Option<String>, Vec<String>)> {
        let (Inject::Gateway(base), Some(accepted)) = (self.inject, self.accepted) else {
            return None;
        };
        let (record, transcript) = gateway::delivery(base, accepted).await;
        Some((record.as_ref().map(gateway::summary), transcript))
    }

    /// Whether the target says it is done with the message (the gateway's record is final).
    async fn finished(&self) -> bool {
        let (Inject::Gateway(base), Some(accepted)) = (self.inject, self.accepted) else {
            return false;
        };
        gateway::delivery(base, accepted)
            .await
            .0
            .as_ref()
            .is_some_and(gateway::finished)
    }
}

/// Waits until a copy or a notification arrived, or the target says it is done with the
/// message (then `settle` more), or `wait` passed, running the flush command every
/// `flush_interval` meanwhile.
async fn wait(hop: &Hop, envelope: &Envelope<'_>, record: &Record<'_>, opts: &RelayOptions) {
    let until = Instant::now() + opts.wait;
    let mut next_flush = Instant::now() + Duration::from_secs(1);
    let mut flushing: Option<JoinHandle<()>> = None;
    loop {
        if Arrived::read(hop.record(), envelope).settled() || record.finished().await {
            tokio::time::sleep(opts.settle).await;
            break;
        }
        let now = Instant::now();
        if now >= until {
            break;
        }
        if let Some(command) = &opts.flush_command
            && now >= next_flush
            && flushing.as_ref().is_none_or(JoinHandle::is_finished)
        {
            flushing = Some(tokio::spawn(flush(command.clone())));
            next_flush = now + opts.flush_interval;
        }
        tokio::time::sleep(POLL.min(until - now)).await;
    }
    if let Some(task) = flushing {
        // The flush runs under its own bound; its outcome does not matter to the case.
        let _ = task.await;
    }
}

/// A duration for people: `30 s`, `2.5 s`.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

/// Runs the flush command once, bounded; whatever it prints is dropped.
async fn flush(command: String) {
    let dir = std::env::temp_dir();
    if let Ok(running) = client::start(&command, &dir) {
        running.finish(Instant::now() + FLUSH_LIMIT).await;
    }
}

/// For a smuggling case: what the target did with the ending, in one line, and the data as
/// received at the next hop.
fn smuggling(
    case: &RelayCase,
    out: &RelayOutcome,
    submitted: &Submitted,
    arrived: &Arrived,
) -> Option<Smuggling> {
    let ending = case.smuggled_ending()?.to_string();
    let smuggled_commands = case.judge.iter().zip(&out.judgements).any(|(j, judged)| {
        matches!(j.check, Check::Never(_))
            && matches!(judged.verdict, Verdict::Fail | Verdict::Warn)
    });
    let copy = arrived.contents().find(|(t, _)| !t.null_sender());
    let (outcome, received) = match (submitted, copy) {
        (Submitted::Accepted { .. }, Some((_, data))) => {
            let what = if let Some((what, at)) = content::bare_line_end(data) {
                format!("forwarded unchanged: a bare {what} reached the next hop (octet {at})")
            } else if matches!(submitted, Submitted::Accepted { extra, .. } if !extra.is_empty()) {
                "not forwarded: the target itself ended the data at the ending (inbound \
                 smuggling: it answered more than once to one DATA, and relays the smuggled \
                 transaction as a message of its own); its relayed octets had CRLF line \
                 endings only"
                    .to_string()
            } else if smuggled_commands {
                "the data ended early at the next hop: the smuggled commands arrived as commands"
                    .to_string()
            } else {
                "normalised: CRLF line endings only at the next hop".to_string()
            };
            (what, Some(escape(data)))
        }
        (Submitted::Accepted { .. }, None) if arrived.notifications().next().is_some() => {
            ("not relayed: returned to the sender".to_string(), None)
        }
        (Submitted::Accepted { .. }, None) => ("nothing arrived at the next hop".to_string(), None),
        (other, _) if other.refused_content() => (
            format!("refused at submission ({})", other.describe()),
            None,
        ),
        (other, _) => (format!("not judged: {}", other.describe()), None),
    };
    Some(Smuggling {
        ending,
        case: case.id.clone(),
        verdict: out.verdict,
        outcome,
        received,
    })
}
