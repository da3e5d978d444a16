//! What arrived at the next hop for one case, read from the recorded sessions: the case's
//! connections are those whose commands carry its token (a recipient `rcpt-TOKEN@`, or the
//! sender `sender-TOKEN@` a notification is addressed to), and, for a case whose first
//! connection is refused before the target names the message, that first connection. Each
//! is cut into transactions (MAIL, the RCPTs with their replies, the data octets exactly as
//! received, the reply to the end of data). The events of other connections (a late retry of
//! an earlier case) are left out, and the rest renumbered, so that servetest's checks can read
//! them too.

use std::collections::{BTreeMap, BTreeSet};

use super::model::RETURN_DOMAIN;
pub use crate::servetest::command::path_of;
use crate::servetest::record::{Event, EventKind, Recorder};

/// One transaction as the next hop saw it.
#[derive(Clone, Debug)]
pub struct Transaction {
    /// The connection it came on (numbered from 1 per case).
    pub conn: u32,
    /// The MAIL command line.
    pub mail: String,
    /// Each RCPT line with the first line of its reply (if one was sent).
    pub rcpts: Vec<(String, Option<String>)>,
    /// The data octets as received (dot-stuffed, up to and including the CRLF before the
    /// final "."), when DATA got 354.
    pub data: Option<Vec<u8>>,
    /// Whether the data ended with CRLF "." CRLF (not cut off by a close).
    pub complete: bool,
    /// The first line of the reply to the end of data.
    pub end_reply: Option<String>,
}

impl Transaction {
    /// Whether a RCPT naming `address` (lowercase) got a 2yz reply.
    pub fn accepted(&self, address: &str) -> bool {
        self.rcpt_reply(address).is_some_and(|r| r.starts_with('2'))
    }

    /// The reply to the first RCPT naming `address` (lowercase), if it was answered.
    pub fn rcpt_reply(&self, address: &str) -> Option<&str> {
        self.rcpts
            .iter()
            .find(|(line, _)| path_of(line).eq_ignore_ascii_case(address))
            .and_then(|(_, reply)| reply.as_deref())
    }

    /// The addresses of the RCPTs that got a 2yz reply, lowercase.
    pub fn accepted_addresses(&self) -> Vec<String> {
        self.rcpts
            .iter()
            .filter(|(_, reply)| reply.as_deref().is_some_and(|r| r.starts_with('2')))
            .map(|(line, _)| path_of(line).to_lowercase())
            .collect()
    }

    /// The reverse-path of MAIL, without its angle brackets (empty for `<>`).
    pub fn reverse_path(&self) -> &str {
        path_of(&self.mail)
    }

    /// Whether the next hop accepted the message (2yz after the data).
    pub fn delivered(&self) -> bool {
        self.complete
            && self.data.is_some()
            && self
                .end_reply
                .as_deref()
                .is_some_and(|r| r.starts_with('2'))
    }

    /// Whether the reverse-path is null: `MAIL FROM:<>`.
    pub fn null_sender(&self) -> bool {
        let rest = self.mail.get(10..).unwrap_or_default().trim_start();
        self.mail
            .get(..10)
            .is_some_and(|m| m.eq_ignore_ascii_case("MAIL FROM:"))
            && rest.starts_with("<>")
    }
}

/// Everything that arrived for a case.
#[derive(Clone, Debug, Default)]
pub struct Arrived {
    /// The case's events only, renumbered (`Reply::answers` follows).
    pub events: Vec<Event>,
    /// The case's transactions, in the order their MAIL arrived.
    pub transactions: Vec<Transaction>,
    /// The message's recipients, lowercase.
    pub rcpts: Vec<String>,
    /// The message's reverse-path, lowercase; empty for a null one.
    pub sender: String,
    /// The other connections that named no message (no MAIL): a TLS handshake that failed, a
    /// session given up early. Each as one line, for the reasons of SKIPs; never judged, since
    /// nothing ties them to the case.
    pub attempts: Vec<String>,
    /// The case's token.
    pub token: String,
}

/// Whose sessions to read: the case's token and envelope.
pub struct Envelope<'a> {
    /// The token the case's commands carry.
    pub token: &'a str,
    /// The message's recipients.
    pub rcpts: &'a [String],
    /// The message's reverse-path (empty for a null one).
    pub sender: &'a str,
    /// Whether the case's first connection belongs to it even without the token.
    pub first_connection: bool,
}

impl Arrived {
    /// Reads the recorded sessions of the case `env` describes.
    pub fn read(rec: &Recorder, env: &Envelope<'_>) -> Self {
        let all = rec.events();
        let mut conns = carrying(&all, env.token);
        if env.first_connection {
            conns.extend(all.first().map(|e| e.conn));
        }
        let mut renumber = BTreeMap::new();
        let mut events = Vec::new();
        for (i, e) in all.iter().enumerate() {
            if conns.contains(&e.conn) {
                renumber.insert(i, events.len());
                events.push(e.clone());
            }
        }
        for e in &mut events {
            if let EventKind::Reply {
                answers: Some(a), ..
            } = &mut e.kind
            {
                *a = renumber.get(a).copied().unwrap_or(usize::MAX);
            }
        }
        let transactions = transactions(&all, &conns, rec);
        Self {
            attempts: attempts(&all, &conns),
            events,
            transactions,
            rcpts: env.rcpts.iter().map(|r| r.to_lowercase()).collect(),
            sender: env.sender.to_lowercase(),
            token: env.token.to_lowercase(),
        }
    }

    /// Whether any connection carried the token.
    pub fn anything(&self) -> bool {
        !self.events.is_empty()
    }

    /// Whether `t` is for one of the message's recipients.
    fn for_message(&self, t: &Transaction) -> bool {
        self.rcpts.iter().any(|r| t.accepted(r))
    }

    /// The copies of the message the next hop accepted: a transaction accepting one of its
    /// recipients, whose data got 2yz.
    pub fn copies(&self) -> impl Iterator<Item = &Transaction> {
        self.transactions
            .iter()
            .filter(|t| self.for_message(t) && t.delivered())
    }

    /// The transactions of the message that carried its content (delivered or not).
    pub fn sent(&self) -> impl Iterator<Item = &Transaction> {
        self.transactions
            .iter()
            .filter(|t| self.for_message(t) && t.data.is_some())
    }

    /// The notifications: a message with data to an address of the return domain that
    /// carries the token (the sender `sender-TOKEN@`, or an address of the header), whatever
    /// its reverse-path.
    pub fn notifications(&self) -> impl Iterator<Item = &Transaction> {
        let suffix = format!("@{RETURN_DOMAIN}");
        self.transactions.iter().filter(move |t| {
            t.data.is_some()
                && t.accepted_addresses()
                    .iter()
                    .any(|a| a.contains(&self.token) && a.ends_with(&suffix))
        })
    }

    /// Whether the next hop accepted `rcpt` in a transaction whose data it accepted.
    pub fn delivered_to(&self, rcpt: &str) -> bool {
        self.transactions
            .iter()
            .any(|t| t.accepted(rcpt) && t.delivered())
    }

    /// Whether the next hop refused `rcpt` for good: 5yz to its RCPT, or to the data of a
    /// transaction that had it.
    pub fn refused_for_good(&self, rcpt: &str) -> bool {
        self.transactions.iter().any(|t| {
            t.rcpt_reply(rcpt).is_some_and(|r| r.starts_with('5'))
                || (t.accepted(rcpt) && t.end_reply.as_deref().is_some_and(|r| r.starts_with('5')))
        })
    }

    /// Every transaction that carried content for the case (copies, notifications, and
    /// content the next hop refused).
    pub fn contents(&self) -> impl Iterator<Item = (&Transaction, &[u8])> {
        self.transactions
            .iter()
            .filter_map(|t| t.data.as_deref().map(|d| (t, d)))
    }

    /// The first connection that carried the token.
    pub fn first_conn(&self) -> Option<u32> {
        self.events.first().map(|e| e.conn)
    }

    /// Whether the case is over: a notification arrived, or every recipient is settled
    /// (delivered, or refused for good when the reverse-path is null and no notification is
    /// due).
    pub fn settled(&self) -> bool {
        self.notifications().next().is_some()
            || self.rcpts.iter().all(|r| {
                self.delivered_to(r) || (self.sender.is_empty() && self.refused_for_good(r))
            })
    }
}

/// One line for each connection not in `conns` that sent no MAIL: its commands' verbs and how
/// it ended.
fn attempts(all: &[Event], conns: &BTreeSet<u32>) -> Vec<String> {
    let mut lines: BTreeMap<u32, (Vec<String>, bool)> = BTreeMap::new();
    for e in all.iter().filter(|e| !conns.contains(&e.conn)) {
        let (parts, mail) = lines.entry(e.conn).or_default();
        match &e.kind {
            EventKind::Command { line, .. } => {
                let verb = line.split_whitespace().next().unwrap_or_default();
                *mail |= verb.eq_ignore_ascii_case("MAIL");
                parts.push(verb.to_ascii_uppercase());
            }
            EventKind::TlsStarted => parts.push("TLS handshake done".into()),
            EventKind::TlsFailed { error } => parts.push(format!("TLS handshake failed ({error})")),
            EventKind::Closed { by } => parts.push(format!("closed by the {by:?}").to_lowercase()),
            _ => {}
        }
    }
    lines
        .into_iter()
        .filter(|(_, (_, mail))| !mail)
        .map(|(conn, (parts, _))| format!("connection {conn}: {}", parts.join(", ")))
        .collect()
}

/// The connections whose commands mention `token`.
pub fn carrying(events: &[Event], token: &str) -> BTreeSet<u32> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Command { line, .. } if line.to_ascii_lowercase().contains(token) => {
                Some(e.conn)
            }
            _ => None,
        })
        .collect()
}

/// What a reply event answers.
enum Answers {
    Rcpt(usize, usize),
    End(usize),
}

fn transactions(all: &[Event], conns: &BTreeSet<u32>, rec: &Recorder) -> Vec<Transaction> {
    let mut out: Vec<Transaction> = Vec::new();
    // Per connection, the transaction under way.
    let mut open: BTreeMap<u32, usize> = BTreeMap::new();
    let mut answers: BTreeMap<usize, Answers> = BTreeMap::new();
    for (i, e) in all.iter().enumerate() {
        if !conns.contains(&e.conn) {
            continue;
        }
        match &e.kind {
            EventKind::Command { line, .. } => {
                let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                if verb == "MAIL" {
                    open.insert(e.conn, out.len());
                    out.push(Transaction {
                        conn: e.conn,
                        mail: line.clone(),
                        rcpts: Vec::new(),
                        data: None,
                        complete: false,
                        end_reply: None,
                    });
                } else if verb == "RCPT"
                    && let Some(&t) = open.get(&e.conn)
                {
                    answers.insert(i, Answers::Rcpt(t, out[t].rcpts.len()));
                    out[t].rcpts.push((line.clone(), None));
                }
            }
            EventKind::Data { complete, .. } => {
                if let Some(t) = open.remove(&e.conn) {
                    out[t].data = rec.data_octets(i);
                    out[t].complete = *complete;
                    answers.insert(i, Answers::End(t));
                }
            }
            EventKind::Reply {
                lines,
                answers: Some(a),
            } => {
                let first = lines.first().cloned();
                match answers.get(a) {
                    Some(Answers::Rcpt(t, r)) => out[*t].rcpts[*r].1 = first,
                    Some(Answers::End(t)) => out[*t].end_reply = first,
                    None => {}
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(rec: &Recorder, conn: u32, line: &str) -> usize {
        rec.push(
            conn,
            EventKind::Command {
                line: line.into(),
                tls: false,
            },
        )
    }

    fn reply(rec: &Recorder, conn: u32, line: &str, to: usize) {
        rec.push(
            conn,
            EventKind::Reply {
                lines: vec![line.into()],
                answers: Some(to),
            },
        );
    }

    #[test]
    fn transactions_of_the_token_only() {
        let rec = Recorder::new();
        // A stale connection of another case.
        let m = cmd(&rec, 1, "MAIL FROM:<a@b>");
        reply(&rec, 1, "250 ok", m);
        // The case: a copy, then a notification.
        let m = cmd(&rec, 2, "MAIL FROM:<sender-tok@return.relay.test>");
        reply(&rec, 2, "250 ok", m);
        let r = cmd(&rec, 2, "RCPT TO:<rcpt-tok@relay.test>");
        reply(&rec, 2, "250 ok", r);
        let d = rec.push_data(2, b"a\r\n".to_vec(), true);
        reply(&rec, 2, "250 queued", d);
        let m = cmd(&rec, 3, "MAIL FROM:<>");
        reply(&rec, 3, "250 ok", m);
        let r = cmd(&rec, 3, "RCPT TO:<Sender-TOK@return.relay.test>");
        reply(&rec, 3, "250 ok", r);
        let d = rec.push_data(3, b"bounce\xff\r\n".to_vec(), true);
        reply(&rec, 3, "250 queued", d);
        let arrived = Arrived::read(
            &rec,
            &Envelope {
                token: "tok",
                rcpts: &["rcpt-tok@relay.test".to_string()],
                sender: "sender-tok@return.relay.test",
                first_connection: false,
            },
        );
        assert_eq!(arrived.transactions.len(), 2);
        assert_eq!(arrived.copies().count(), 1);
        let notes: Vec<_> = arrived.notifications().collect();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].data.as_deref(), Some(&b"bounce\xff\r\n"[..]));
        assert_eq!(arrived.first_conn(), Some(2));
        assert!(arrived.settled());
        assert!(arrived.delivered_to("rcpt-tok@relay.test"));
        // Renumbered: the first kept event is the MAIL of connection 2, answered by index 1.
        assert!(matches!(
            arrived.events[1].kind,
            EventKind::Reply {
                answers: Some(0),
                ..
            }
        ));
    }
}
