//! What arrived at the next hop for one case, read from the recorded sessions: the case's
//! connections are those whose commands carry its token (the recipient `rcpt-TOKEN@`, or the
//! sender `sender-TOKEN@` a notification is addressed to), and each is cut into transactions
//! (MAIL, the RCPTs with their replies, the data octets exactly as received, the reply to the
//! end of data). The events of other connections (a late retry of an earlier case) are left
//! out, and the rest renumbered, so that servetest's checks can read them too.

use std::collections::{BTreeMap, BTreeSet};

use crate::servetest::record::{Event, EventKind, Recorder};

/// One transaction as the next hop saw it.
#[derive(Clone, Debug)]
pub struct Transaction {
    pub conn: u32,
    pub mail: String,
    /// Each RCPT line with the first line of its reply (if one was sent).
    pub rcpts: Vec<(String, Option<String>)>,
    /// The data octets as received (dot-stuffed, up to and including the CRLF before the
    /// final "."), when DATA got 354.
    pub data: Option<Vec<u8>>,
    pub complete: bool,
    /// The first line of the reply to the end of data.
    pub end_reply: Option<String>,
}

impl Transaction {
    /// Whether a RCPT naming `address` got a 2yz reply.
    fn accepted(&self, address: &str) -> bool {
        self.rcpts.iter().any(|(line, reply)| {
            line.to_ascii_lowercase().contains(address)
                && reply.as_deref().is_some_and(|r| r.starts_with('2'))
        })
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
    pub transactions: Vec<Transaction>,
    /// The recipient and sender addresses of the case, lowercase.
    pub rcpt: String,
    pub sender: String,
}

impl Arrived {
    /// Reads the recorded sessions for the case whose token is `token`.
    pub fn read(rec: &Recorder, token: &str, rcpt: &str, sender: &str) -> Self {
        let all = rec.events();
        let conns = carrying(&all, token);
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
            events,
            transactions,
            rcpt: rcpt.to_ascii_lowercase(),
            sender: sender.to_ascii_lowercase(),
        }
    }

    /// Whether any connection carried the token.
    pub fn anything(&self) -> bool {
        !self.events.is_empty()
    }

    /// The copies of the message the next hop accepted.
    pub fn copies(&self) -> impl Iterator<Item = &Transaction> {
        self.transactions
            .iter()
            .filter(|t| t.accepted(&self.rcpt) && t.delivered())
    }

    /// The notifications: a null reverse-path, to the case's sender, with data.
    pub fn notifications(&self) -> impl Iterator<Item = &Transaction> {
        self.transactions
            .iter()
            .filter(|t| t.null_sender() && t.accepted(&self.sender) && t.data.is_some())
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

    /// Whether the case is over: a copy or a notification arrived.
    pub fn settled(&self) -> bool {
        self.copies().next().is_some() || self.notifications().next().is_some()
    }
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
            "tok",
            "rcpt-tok@relay.test",
            "sender-tok@return.relay.test",
        );
        assert_eq!(arrived.transactions.len(), 2);
        assert_eq!(arrived.copies().count(), 1);
        let notes: Vec<_> = arrived.notifications().collect();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].data.as_deref(), Some(&b"bounce\xff\r\n"[..]));
        assert_eq!(arrived.first_conn(), Some(2));
        assert!(arrived.settled());
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
