//! The outbound invariants: the reference client and its retry queue, held to what the
//! scripted next hop actually answered ([`super::hop_record`]). Per attempt and recipient,
//! the client's reading ([`super::fate`]) must match the next hop's replies, unless the reply
//! was lost on a disturbed path; per message, deferred recipients are retried after the
//! backoff or given up only past the max age, refused ones never tried again and reported;
//! across the run, nothing the next hop accepted (and the client heard so) is sent again,
//! the content arrives CRLF-clean and dot-stuffed, PIPELINING is used only when advertised,
//! and every connection ends with QUIT unless the network or the next hop cut it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use mtp_proto::smtp::data::dot_stuff;
use regex::Regex;

use crate::servetest::command::verb_of;
use crate::servetest::judge::{Finding, bare_line_end, check as servetest_check};
use crate::servetest::model::Check;
use crate::servetest::record::Side;

use super::check::{Observed, Stats, Violation};
use super::client::{Attempt, ClientLog};
use super::fate::Fate;
use super::hop::HopEnv;
use super::hop_record::{self, Conn, Truth, Txn, class, truth};
use super::scenario::{ClientSpec, Invariant};
use super::workload::{for_attempt, origin};

/// The queue's clock counts whole milliseconds: a retry may come up to one earlier than the
/// exact backoff after the failure's simulated time.
const CLOCK_GRAIN: Duration = Duration::from_millis(1);

/// Checks the outbound invariants; the violations, and the counts of the next hop's copies
/// (in `stored`, `ambiguous`, `ambiguous_duplicates`) and of the clients' reports.
pub(super) fn check(observed: &Observed<'_>, hop: &HopEnv) -> (Vec<Violation>, Stats) {
    let conns = hop_record::read(hop);
    let by_peer = conns.values().map(|c| (c.info.peer, c.number)).collect();
    let mut o = Outbound {
        observed,
        conns,
        by_peer,
        violations: Vec::new(),
        stats: Stats::default(),
    };
    o.readings();
    o.queues();
    o.resends();
    o.contents();
    o.extensions();
    o.quits();
    (o.violations, o.stats)
}

struct Outbound<'o, 'a> {
    observed: &'o Observed<'a>,
    conns: BTreeMap<u32, Conn>,
    by_peer: BTreeMap<SocketAddr, u32>,
    violations: Vec<Violation>,
    stats: Stats,
}

impl Outbound<'_, '_> {
    fn violation(&mut self, invariant: Invariant, text: String) {
        self.violations.push(Violation::of(invariant, text));
    }

    /// The next hop's side of a client's session, if the connection reached it.
    fn conn_of(&self, client: &ClientLog, session: u32) -> Option<&Conn> {
        let record = client.sessions.iter().find(|s| s.number == session)?;
        self.conns.get(self.by_peer.get(&record.local?)?)
    }

    /// The client's attempt behind a transaction of connection `conn`.
    fn attempt_of(&self, conn: &Conn, txn: &Txn) -> Option<&Attempt> {
        let (host, index) = txn.message.as_ref()?;
        let client = self.observed.client(host)?;
        let session = client
            .sessions
            .iter()
            .find(|s| s.local == Some(conn.info.peer))?;
        client
            .attempts
            .iter()
            .find(|a| a.session == session.number && a.index == *index)
    }

    fn spec_of(&self, host: &str) -> Option<&ClientSpec> {
        self.observed
            .scenario
            .clients
            .iter()
            .find(|s| s.hosts().iter().any(|h| h == host))
    }

    fn disturbed(&self, host: &str, from: Duration, to: Option<Duration>) -> bool {
        let to = to.unwrap_or(Duration::MAX);
        self.observed.disturbed.touches(host, from, to)
    }

    /// Per attempt and recipient, the client's reading against the next hop's replies.
    fn readings(&mut self) {
        let mut found = Vec::new();
        for client in &self.observed.clients {
            for attempt in client.attempts.iter().filter(|a| a.ended.is_some()) {
                let conn = self.conn_of(client, attempt.session);
                let message = (client.host.clone(), attempt.index);
                let txn =
                    conn.and_then(|c| c.txns.iter().find(|t| t.message == Some(message.clone())));
                let record = client.sessions.iter().find(|s| s.number == attempt.session);
                let read = record.map_or(0, |s| s.replies_read);
                let timed_out = record.is_some_and(|s| s.timed_out);
                let disturbed = self.disturbed(&client.host, attempt.started, attempt.ended);
                for (rcpt, fate) in &attempt.fates {
                    let (truth, by) = truth(conn, txn, rcpt);
                    // The deciding reply never reached the client, and not by the client's
                    // doing: the path was disturbed, or the client waited out its timeout.
                    let lost = read < by && (disturbed || timed_out);
                    if let Some((invariant, what)) = misread(&truth, fate, lost) {
                        let text = format!(
                            "{} #{} try {} <{rcpt}>: {what}",
                            client.host, attempt.index, attempt.attempt
                        );
                        found.push((invariant, text));
                    }
                }
            }
        }
        for (invariant, text) in found {
            self.violation(invariant, text);
        }
    }

    /// Per message: deferred recipients retried after the backoff (or given up past the max
    /// age), refused ones never tried again and reported.
    fn queues(&mut self) {
        let mut found = Vec::new();
        for client in &self.observed.clients {
            let Some(spec) = self.spec_of(&client.host) else {
                continue;
            };
            let policy = spec.policy();
            for (index, report) in client.reports.iter().enumerate() {
                self.stats.refused += report.refused.len();
                self.stats.given_up += report.given_up.len();
                let mut attempts: Vec<&Attempt> = client
                    .attempts
                    .iter()
                    .filter(|a| a.index == index && a.ended.is_some())
                    .collect();
                attempts.sort_by_key(|a| a.attempt);
                let queued = client.queued_at[index].unwrap_or_default();
                let name = format!("{} #{index}", client.host);
                for (k, a) in attempts.iter().enumerate() {
                    let later = &attempts[k + 1..];
                    for (rcpt, fate) in &a.fates {
                        let next = later.iter().find(|b| b.recipients.contains(rcpt));
                        let problem = match fate {
                            Fate::Deferred => {
                                // RFC 5321 §4.5.4.1: "The sender MUST delay retrying a
                                // particular destination after one attempt has failed."
                                let ended = a.ended.unwrap_or_default();
                                let due = (ended + policy.backoff(a.attempt))
                                    .min(queued + policy.max_age);
                                match next {
                                    Some(b) if b.started + CLOCK_GRAIN < due => Some((
                                        Invariant::Retried,
                                        format!(
                                            "deferred in try {} (ended {:?}), retried in try {} at {:?}, before the backoff allows ({due:?})",
                                            a.attempt, ended, b.attempt, b.started
                                        ),
                                    )),
                                    Some(_) => None,
                                    None => {
                                        gave_up(report, rcpt, queued, policy.max_age, client, a)
                                    }
                                }
                            }
                            Fate::Refused(why) => match next {
                                Some(b) => Some((
                                    Invariant::RefusalsFinal,
                                    format!(
                                        "refused for good in try {} ({why}), yet tried again in try {}",
                                        a.attempt, b.attempt
                                    ),
                                )),
                                None if !report.refused.contains_key(rcpt) => Some((
                                    Invariant::RefusalsFinal,
                                    format!(
                                        "refused for good in try {} ({why}) but not reported refused",
                                        a.attempt
                                    ),
                                )),
                                None => None,
                            },
                            Fate::Delivered if report.refused.contains_key(rcpt) => Some((
                                Invariant::RefusalsFinal,
                                format!("delivered in try {} yet reported refused", a.attempt),
                            )),
                            Fate::Delivered => None,
                        };
                        if let Some((invariant, what)) = problem {
                            found.push((invariant, format!("{name} <{rcpt}>: {what}")));
                        }
                    }
                }
            }
        }
        for (invariant, text) in found {
            self.violation(invariant, text);
        }
    }

    /// Nothing the next hop accepted, with the 250 heard by the client, goes out again; the
    /// copies whose reply never reached the client are counted, and their resends too.
    fn resends(&mut self) {
        let mut txns: Vec<(&Conn, &Txn)> = self
            .conns
            .values()
            .flat_map(|c| c.txns.iter().map(move |t| (c, t)))
            .collect();
        txns.sort_by_key(|(_, t)| t.event);
        // Per (host, message, recipient): copies the next hop took or may have taken, and
        // the connection of one whose 250 the client heard.
        let mut seen: BTreeMap<(String, usize, String), (usize, Option<u32>)> = BTreeMap::new();
        let mut found = Vec::new();
        let (mut stored, mut ambiguous) = (0, 0);
        for (conn, txn) in txns {
            let Some((host, index)) = txn.message.clone() else {
                continue;
            };
            let attempt = self.attempt_of(conn, txn);
            let heard = |rcpt: &str| {
                attempt.is_some_and(|a| {
                    a.fates
                        .iter()
                        .any(|(r, f)| r.eq_ignore_ascii_case(rcpt) && *f == Fate::Delivered)
                })
            };
            let taken = txn.accepted() || txn.unanswered();
            stored += usize::from(txn.accepted());
            let mut unheard = txn.unanswered();
            for (rcpt, reply) in &txn.rcpts {
                let key = (host.clone(), index, rcpt.to_ascii_lowercase());
                if let Some((_, Some(acked_in))) = seen.get(&key) {
                    // RFC 5321 §6.1: "When the receiver-SMTP accepts a piece of mail (by
                    // sending a "250 OK" message in response to DATA), it is accepting
                    // responsibility for delivering or relaying the message."
                    found.push(format!(
                        "{host} #{index} <{rcpt}> went out again on connection {} after the \
                         next hop's 250 on connection {acked_in} reached the client",
                        conn.number
                    ));
                }
                if taken && class(reply) == Some(2) {
                    let entry = seen.entry(key).or_default();
                    entry.0 += 1;
                    if txn.accepted() && heard(rcpt) {
                        entry.1 = Some(conn.number);
                    } else if txn.accepted() {
                        unheard = true;
                    }
                }
            }
            ambiguous += usize::from(unheard);
        }
        self.stats.stored = stored;
        self.stats.ambiguous = ambiguous;
        let mut twice: Vec<(&String, usize)> = seen
            .iter()
            .filter(|(_, (copies, _))| *copies > 1)
            .map(|((h, i, _), _)| (h, *i))
            .collect();
        twice.dedup();
        self.stats.ambiguous_duplicates = twice.len();
        for text in found {
            self.violation(Invariant::NoResend, text);
        }
    }

    /// Every content that arrived whole is the message its `X-Sim` line names, dot-stuffed
    /// by RFC 5321 §4.5.2, with CRLF line ends only.
    fn contents(&mut self) {
        let mut found = Vec::new();
        for conn in self.conns.values() {
            for txn in &conn.txns {
                let Some((octets, true)) = &txn.content else {
                    continue;
                };
                if let Some(problem) = self.content_problem(txn, octets) {
                    found.push(format!("connection {}: {problem}", conn.number));
                }
            }
        }
        for text in found {
            self.violation(Invariant::DataTransparent, text);
        }
    }

    fn content_problem(&self, txn: &Txn, octets: &[u8]) -> Option<String> {
        // RFC 5321 §2.3.8: "SMTP client implementations MUST NOT transmit these characters
        // except when they are intended as line terminators".
        if let Some((what, at)) = bare_line_end(octets) {
            return Some(format!("a bare {what} at data octet {at}"));
        }
        let unstuffed = crate::relay::content::unstuff(octets);
        let Some(from) = origin(&unstuffed) else {
            return Some("content that no client sent (no X-Sim line)".into());
        };
        let name = format!("{} #{} try {}", from.host, from.index, from.attempt);
        if txn.message != Some((from.host.clone(), from.index)) {
            return Some(format!(
                "{name} arrived in the transaction of {:?}",
                txn.message
            ));
        }
        let client = self.observed.client(&from.host)?;
        let sent = for_attempt(
            client.plan.get(from.index)?,
            &from.host,
            from.index,
            from.attempt,
        );
        // RFC 5321 §4.5.2: "Before sending a line of mail text, the SMTP client checks the
        // first character of the line. If it is a period, one additional period is inserted
        // at the beginning of the line."
        let stuffed = dot_stuff(&sent.data);
        let expected = stuffed.strip_suffix(b".\r\n").unwrap_or(&stuffed);
        if octets == expected {
            return None;
        }
        let lines = |b: &[u8]| -> Vec<String> {
            b.split(|&c| c == b'\n')
                .map(|l| String::from_utf8_lossy(l.strip_suffix(b"\r").unwrap_or(l)).into_owned())
                .collect()
        };
        let (got, want) = (lines(octets), lines(expected));
        let at = got
            .iter()
            .zip(&want)
            .position(|(g, w)| g != w)
            .unwrap_or(got.len().min(want.len()));
        Some(format!(
            "{name}: the data differs from the message dot-stuffed at line {}: sent {:?}, arrived {:?} ({} octets arrived, {} expected)",
            at + 1,
            want.get(at),
            got.get(at),
            octets.len(),
            expected.len()
        ))
    }

    /// RFC 5321 §4.1.1.3: "The client MUST NOT transmit parameters other than those
    /// associated with a service extension offered by the server in its EHLO response."
    /// And RFC 2920 §3.1: without PIPELINING in the EHLO reply, each command waits for the
    /// reply to the one before (serve-test's `waits_for_reply` check).
    fn extensions(&mut self) {
        let Ok(any) = Regex::new("") else {
            return;
        };
        let waits = Check::WaitsForReply(any);
        let mut found = Vec::new();
        for conn in self.conns.values() {
            let name = format!("connection {} ({})", conn.number, conn.info.client);
            for line in conn.commands.iter().map(|c| &c.line) {
                if verb_of(line) != "MAIL" {
                    continue;
                }
                let params = line.rsplit_once('>').map_or("", |(_, p)| p);
                for param in params.split_whitespace() {
                    let key = param
                        .split('=')
                        .next()
                        .unwrap_or_default()
                        .to_ascii_uppercase();
                    let keyword = match key.as_str() {
                        "BODY" => "8BITMIME",
                        other => other,
                    };
                    if !conn.advertised(keyword) {
                        found.push(format!(
                            "{name}: `{line}` uses {keyword}, which the next hop did not advertise"
                        ));
                    }
                }
            }
            if conn.advertised("PIPELINING") {
                continue;
            }
            if let Finding::Broken(why) = servetest_check(&waits, &conn.events, None) {
                found.push(format!("{name}: {why}, and PIPELINING was not advertised"));
            }
        }
        for text in found {
            self.violation(Invariant::Extensions, text);
        }
    }

    /// RFC 5321 §4.1.1.10: "The sender MUST NOT intentionally close the transmission channel
    /// until it sends a QUIT command"; after a greeting other than 2yz, QUIT and no mail
    /// (the reference's own rule in SMTP-CLIENT-1: RFC 5321 §3.1 would let a client send
    /// commands there, which is why relay-test does not judge other MTAs on it; the
    /// simulation runs only the reference client). A connection the network (or a killed client) cut, or that the next
    /// hop closed or ended with 421, is not judged; a client that gives up waiting for a
    /// slow next hop is, since it could still send QUIT.
    fn quits(&mut self) {
        let mut found = Vec::new();
        for conn in self.conns.values() {
            let host = &conn.info.client;
            let cut = self.disturbed(host, conn.info.opened, conn.info.closed);
            let last = conn.commands.last().map(|c| c.line.as_str());
            let quit_last = last.is_some_and(|l| verb_of(l) == "QUIT");
            let by_client = conn.closed_by == Some(Side::Client);
            if conn.refused_greeting() {
                let greeting = conn
                    .greeting
                    .iter()
                    .flat_map(|g| &g.lines)
                    .next()
                    .cloned()
                    .unwrap_or_default();
                if let Some(other) = conn.commands.iter().find(|c| verb_of(&c.line) != "QUIT") {
                    found.push(format!(
                        "connection {} ({host}): sent `{}` after the greeting `{greeting}`",
                        conn.number, other.line
                    ));
                } else if by_client && !quit_last && !cut {
                    found.push(format!(
                        "connection {} ({host}): closed without QUIT after the greeting `{greeting}`",
                        conn.number
                    ));
                }
                continue;
            }
            if by_client && !quit_last && !cut && !conn.sent_421() {
                found.push(format!(
                    "connection {} ({host}): closed by the client without QUIT (its last command: {})",
                    conn.number,
                    last.map_or_else(|| "none".into(), |l| format!("`{l}`"))
                ));
            }
        }
        for text in found {
            self.violation(Invariant::Quit, text);
        }
    }
}

/// How a client's reading of one recipient breaks an invariant, given what the next hop did
/// (`truth`) and whether the reply may have been lost on the way (`lost`).
fn misread(truth: &Truth, fate: &Fate, lost: bool) -> Option<(Invariant, String)> {
    let problem = match (truth, fate) {
        (Truth::Delivered, Fate::Delivered)
        | (Truth::Refused(_), Fate::Refused(_))
        | (Truth::Deferred(_) | Truth::Unanswered, Fate::Deferred) => return None,
        // The reply never reached the client: it cannot know, and tries again.
        (Truth::Delivered | Truth::Refused(_), Fate::Deferred) if lost => return None,
        (Truth::Delivered, Fate::Deferred) => (
            Invariant::NoResend,
            "the next hop answered 2yz to its data on a healthy path, yet the client queues it again".to_string(),
        ),
        (Truth::Refused(why), Fate::Deferred) => (
            Invariant::RefusalsFinal,
            format!("refused for good ({why}) on a healthy path, yet queued again"),
        ),
        (Truth::Refused(why), Fate::Delivered) => (
            Invariant::RefusalsFinal,
            format!("refused for good ({why}), yet taken as delivered"),
        ),
        (Truth::Delivered, Fate::Refused(r)) => (
            Invariant::RefusalsFinal,
            format!("the next hop took it, yet the client reports it refused: {r}"),
        ),
        (Truth::Deferred(why), Fate::Refused(r)) => (
            Invariant::Retried,
            format!("a transient failure ({why}) taken as final: {r}"),
        ),
        (Truth::Unanswered, Fate::Refused(r)) => (
            Invariant::Retried,
            format!("no reply came after the data, yet the client takes it as refused: {r}"),
        ),
        (Truth::Deferred(why), Fate::Delivered) => (
            Invariant::Retried,
            format!("never accepted ({why}), yet taken as delivered, so never retried"),
        ),
        (Truth::Unanswered, Fate::Delivered) => (
            Invariant::Retried,
            "no reply came after the data, yet the client takes it as delivered".to_string(),
        ),
    };
    Some(problem)
}

/// A deferred recipient that was never tried again: given up past the max age, or a
/// violation (unless the client died or ran out of time: then nothing is said here).
fn gave_up(
    report: &super::fate::Report,
    rcpt: &str,
    queued: Duration,
    max_age: Duration,
    client: &ClientLog,
    attempt: &Attempt,
) -> Option<(Invariant, String)> {
    if !report.given_up.contains(rcpt) {
        // A client that died, or did not finish in time (`queues-drain` says so), is not
        // judged on what it had not done yet.
        if client.killed_at.is_some() || client.finished_at.is_none() {
            return None;
        }
        return Some((
            Invariant::Retried,
            format!(
                "deferred in try {} and never tried again, nor given up",
                attempt.attempt
            ),
        ));
    }
    let age = report
        .given_up_at
        .unwrap_or_default()
        .saturating_sub(queued);
    // RFC 5321 §4.5.4.1: "Retries continue until the message is transmitted or the sender
    // gives up; the give-up time generally needs to be at least 4-5 days." (SMTP-CLIENT-6:
    // the policy's max age, configurable.)
    (age + CLOCK_GRAIN < max_age).then(|| {
        (
            Invariant::Retried,
            format!(
                "given up {age:?} after it was queued, before the policy's max age of {max_age:?}"
            ),
        )
    })
}
