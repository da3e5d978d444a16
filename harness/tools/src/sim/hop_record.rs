//! The next hop's record read back as the outbound checks need it: per connection its
//! greeting, its commands with the replies they got, how it closed, and its mail
//! transactions (the message each was for, read from the sender's tag; each recipient's
//! RCPT reply; DATA's; the content as it arrived; the reply to its end). From a transaction,
//! [`truth`] says what the next hop did with a recipient: the ground truth that the client's
//! own reading ([`super::fate`]) is held to.

use std::collections::BTreeMap;

use crate::servetest::command::{path_of, verb_of};
use crate::servetest::record::{Event, EventKind, Side};

use super::hop::{HopConn, HopEnv};
use super::workload::message_of_sender;

/// A reply as sent; `None` for a command never answered.
pub type Answer = Option<Reply>;

/// A reply the next hop sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// Its lines, codes included; empty when the script sent none.
    pub lines: Vec<String>,
    /// Its place among the replies sent on the connection (the greeting is 1); 0 for none.
    /// A client that read fewer replies on the connection never got this one.
    pub nth: usize,
}

/// One mail transaction, from MAIL to the reply after the data (or wherever it stopped).
#[derive(Clone, Debug, Default)]
pub struct Txn {
    /// The index of its MAIL event in the record (record order is simulated time order).
    pub event: usize,
    /// The client host and message index its sender names.
    pub message: Option<(String, usize)>,
    /// The reply to MAIL.
    pub mail: Answer,
    /// Each RCPT's address and reply, in order.
    pub rcpts: Vec<(String, Answer)>,
    /// The reply to DATA.
    pub data: Answer,
    /// The content as it arrived (dot-stuffed), and whether its end arrived.
    pub content: Option<(Vec<u8>, bool)>,
    /// The reply to the end of the data (an empty list: the next hop sent none).
    pub end: Answer,
}

impl Txn {
    /// The transaction delivered the content to at least one recipient (a 2yz after it).
    pub fn accepted(&self) -> bool {
        self.content.as_ref().is_some_and(|(_, done)| *done) && class(&self.end) == Some(2)
    }

    /// The content arrived whole and no reply followed it: the next hop may have taken it.
    pub fn unanswered(&self) -> bool {
        self.content.as_ref().is_some_and(|(_, done)| *done)
            && self.end.as_ref().is_none_or(|r| r.lines.is_empty())
    }

    /// Whether the transaction named `rcpt` in a RCPT command.
    pub fn names(&self, rcpt: &str) -> bool {
        self.rcpts.iter().any(|(r, _)| r.eq_ignore_ascii_case(rcpt))
    }
}

/// A command line and the reply it got.
#[derive(Clone, Debug)]
pub struct Command {
    /// The line, without its line end.
    pub line: String,
    /// The reply sent to it.
    pub reply: Answer,
}

/// One connection as the next hop saw it.
#[derive(Clone, Debug)]
pub struct Conn {
    /// Its number in the record.
    pub number: u32,
    /// The client, its session number at the next hop, the script, the times.
    pub info: HopConn,
    /// The greeting sent (an empty list: none).
    pub greeting: Answer,
    /// Every command, in arrival order.
    pub commands: Vec<Command>,
    /// Every mail transaction, in order.
    pub txns: Vec<Txn>,
    /// Which side closed, when a close was seen.
    pub closed_by: Option<Side>,
    /// The connection's events alone, with the `answers` of replies renumbered to match
    /// (what serve-test's checks take).
    pub events: Vec<Event>,
    /// Replies sent so far (those with lines).
    sent: usize,
}

impl Conn {
    /// The greeting was sent and did not start with 2.
    pub fn refused_greeting(&self) -> bool {
        self.greeting
            .as_ref()
            .is_some_and(|g| !g.lines.is_empty() && class(&self.greeting) != Some(2))
    }

    /// A reply on this connection advertised `keyword` in answer to EHLO.
    pub fn advertised(&self, keyword: &str) -> bool {
        self.commands
            .iter()
            .filter(|c| verb_of(&c.line) == "EHLO")
            .filter_map(|c| c.reply.as_ref())
            .flat_map(|r| &r.lines)
            .any(|l| {
                l.get(4..)
                    .and_then(|rest| rest.split_whitespace().next())
                    .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
            })
    }

    /// The next hop sent a 421 (it closes after it).
    pub fn sent_421(&self) -> bool {
        self.commands
            .iter()
            .any(|c| class_code(&c.reply) == Some(421))
            || self.txns.iter().any(|t| class_code(&t.end) == Some(421))
    }
}

/// Where the reply to an event goes.
#[derive(Clone, Copy)]
enum Slot {
    Mail(usize),
    Rcpt(usize, usize),
    Data(usize),
    End(usize),
    Other,
}

/// Reads the next hop's record into connections, by number.
pub fn read(hop: &HopEnv) -> BTreeMap<u32, Conn> {
    let infos = hop.conns.borrow().clone();
    let events = hop.rec.events();
    let mut conns: BTreeMap<u32, Conn> = BTreeMap::new();
    let mut current: BTreeMap<u32, Cursor> = BTreeMap::new();
    let mut slots: BTreeMap<usize, (Slot, usize)> = BTreeMap::new();
    let mut local: BTreeMap<usize, usize> = BTreeMap::new();
    for (i, event) in events.iter().enumerate() {
        let Some(info) = infos.get(&event.conn) else {
            continue;
        };
        let c = conns.entry(event.conn).or_insert_with(|| Conn {
            number: event.conn,
            info: info.clone(),
            greeting: None,
            commands: Vec::new(),
            txns: Vec::new(),
            closed_by: None,
            events: Vec::new(),
            sent: 0,
        });
        let cursor = current.entry(event.conn).or_default();
        local.insert(i, c.events.len());
        let mut mine = event.clone();
        match &event.kind {
            EventKind::Command { line, .. } => {
                let slot = command(c, &mut cursor.txn, i, line);
                slots.insert(i, (slot, c.commands.len()));
                c.commands.push(Command {
                    line: line.clone(),
                    reply: None,
                });
            }
            // The data belongs to the transaction whose DATA got 354, whatever lines were
            // recorded meanwhile (serve-test records the lines that follow the final dot in
            // the same read before the data itself).
            EventKind::Data { complete, .. } => {
                if let Some(t) = cursor.data.take() {
                    let octets = hop.rec.data_octets(i).unwrap_or_default();
                    c.txns[t].content = Some((octets, *complete));
                    slots.insert(i, (Slot::End(t), usize::MAX));
                }
            }
            EventKind::Reply { lines, answers } => {
                c.sent += usize::from(!lines.is_empty());
                let reply = Reply {
                    lines: lines.clone(),
                    nth: if lines.is_empty() { 0 } else { c.sent },
                };
                match answers {
                    None => c.greeting = Some(reply),
                    Some(a) => {
                        if let Some(&(slot, command)) = slots.get(a) {
                            answer(c, cursor, slot, command, reply);
                        }
                        if let EventKind::Reply { answers, .. } = &mut mine.kind {
                            *answers = local.get(a).copied();
                        }
                    }
                }
            }
            EventKind::Closed { by } => c.closed_by = c.closed_by.or(Some(*by)),
            _ => {}
        }
        c.events.push(mine);
    }
    conns
}

/// Files a command line; returns where its reply goes.
fn command(c: &mut Conn, txn: &mut Option<usize>, event: usize, line: &str) -> Slot {
    match verb_of(line).as_str() {
        "MAIL" => {
            c.txns.push(Txn {
                event,
                message: message_of_sender(path_of(line)),
                ..Txn::default()
            });
            *txn = Some(c.txns.len() - 1);
            Slot::Mail(c.txns.len() - 1)
        }
        "RCPT" => match *txn {
            Some(t) => {
                let rcpt = path_of(line).to_string();
                c.txns[t].rcpts.push((rcpt, None));
                Slot::Rcpt(t, c.txns[t].rcpts.len() - 1)
            }
            None => Slot::Other,
        },
        "DATA" => txn.map_or(Slot::Other, Slot::Data),
        "RSET" | "EHLO" | "HELO" | "QUIT" => {
            *txn = None;
            Slot::Other
        }
        _ => Slot::Other,
    }
}

/// Where a connection's record stands: the open transaction, and the one whose DATA got
/// 354 and whose data has not arrived yet.
#[derive(Default)]
struct Cursor {
    txn: Option<usize>,
    data: Option<usize>,
}

/// Files a reply where it belongs.
fn answer(c: &mut Conn, cursor: &mut Cursor, slot: Slot, command: usize, reply: Reply) {
    let lines = Some(reply);
    if let Some(cmd) = c.commands.get_mut(command) {
        cmd.reply.clone_from(&lines);
    }
    match slot {
        Slot::Mail(t) => c.txns[t].mail = lines,
        Slot::Rcpt(t, k) => c.txns[t].rcpts[k].1 = lines,
        Slot::Data(t) => {
            if class(&lines) == Some(3) {
                cursor.data = Some(t);
            }
            c.txns[t].data = lines;
        }
        Slot::End(t) => {
            c.txns[t].end = lines;
            if cursor.txn == Some(t) {
                cursor.txn = None;
            }
        }
        Slot::Other => {}
    }
}

/// What the next hop did with one recipient of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Truth {
    /// RCPT accepted and the data answered 2yz.
    Delivered,
    /// Refused for good: a 5yz (the reply, as text).
    Refused(String),
    /// Not taken and not refused for good: a 4yz, a command never answered, no transaction.
    Deferred(String),
    /// The content arrived whole and no reply followed: the next hop may have taken it.
    Unanswered,
}

/// What the next hop did with `rcpt`, and the place on the connection of the reply that
/// decided it ([`Reply::nth`]; 0 when none did).
///
/// RFC 5321 §4.2.1: "An SMTP client MUST determine its actions only by the reply code": 2yz
/// goes on, 4yz is transient, 5yz permanent. (SMTP-CLIENT-5: the reference counts a 552 to
/// RCPT as transient, RFC 5321 §4.5.3.1.10.)
pub fn truth(conn: Option<&Conn>, txn: Option<&Txn>, rcpt: &str) -> (Truth, usize) {
    let (truth, by) = reading(conn, txn, rcpt);
    (truth, by.as_ref().map_or(0, |r| r.nth))
}

fn rcpt_reply(txn: &Txn, rcpt: &str) -> Answer {
    txn.rcpts
        .iter()
        .find(|(r, _)| r.eq_ignore_ascii_case(rcpt))
        .and_then(|(_, a)| a.clone())
}

/// The truth, and the reply that decided it.
fn reading(conn: Option<&Conn>, txn: Option<&Txn>, rcpt: &str) -> (Truth, Answer) {
    let Some(conn) = conn else {
        return (
            Truth::Deferred("no connection reached the next hop".into()),
            None,
        );
    };
    let Some(txn) = txn else {
        if conn.refused_greeting() {
            let truth = settled(&conn.greeting, "the greeting");
            return (truth, conn.greeting.clone());
        }
        let why = "the connection ended before the transaction";
        return (Truth::Deferred(why.into()), None);
    };
    if class(&txn.mail) != Some(2) {
        return (settled(&txn.mail, "MAIL"), txn.mail.clone());
    }
    let reply = rcpt_reply(txn, rcpt);
    if class_code(&reply) == Some(552) {
        return (Truth::Deferred("552 to RCPT".into()), reply);
    }
    if class(&reply) != Some(2) {
        return (settled(&reply, "RCPT"), reply);
    }
    if class(&txn.data) != Some(3) {
        return (settled(&txn.data, "DATA"), txn.data.clone());
    }
    if !txn.content.as_ref().is_some_and(|(_, done)| *done) {
        return (
            Truth::Deferred("the data did not arrive whole".into()),
            None,
        );
    }
    if txn.unanswered() {
        return (Truth::Unanswered, None);
    }
    let truth = match class(&txn.end) {
        Some(2) => Truth::Delivered,
        _ => settled(&txn.end, "the end of the data"),
    };
    (truth, txn.end.clone())
}

/// A reply that stopped the transaction: refused for a 5yz, deferred otherwise.
fn settled(reply: &Answer, to: &str) -> Truth {
    let text = reply
        .as_ref()
        .and_then(|r| r.lines.first())
        .map_or_else(|| format!("{to} unanswered"), |l| format!("{to}: {l}"));
    match class(reply) {
        Some(5) => Truth::Refused(text),
        _ => Truth::Deferred(text),
    }
}

/// The first digit of a reply's code.
pub fn class(reply: &Answer) -> Option<u16> {
    class_code(reply).map(|c| c / 100)
}

/// A reply's three-digit code.
pub fn class_code(reply: &Answer) -> Option<u16> {
    let first = reply.as_ref()?.lines.first()?;
    first.get(..3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str, nth: usize) -> Answer {
        let lines = if text.is_empty() {
            vec![]
        } else {
            vec![text.into()]
        };
        Some(Reply { lines, nth })
    }

    fn txn(rcpt: &str, data: &str, end: Option<&str>) -> Txn {
        Txn {
            mail: reply("250 ok", 3),
            rcpts: vec![("a@x".into(), reply(rcpt, 4))],
            data: reply(data, 5),
            content: Some((b"x\r\n".to_vec(), true)),
            end: end.and_then(|e| reply(e, if e.is_empty() { 0 } else { 6 })),
            ..Txn::default()
        }
    }

    fn conn() -> Conn {
        Conn {
            number: 1,
            info: HopConn {
                client: "c".into(),
                peer: "192.168.0.2:49152".parse().unwrap(),
                session: 1,
                script: None,
                opened: std::time::Duration::ZERO,
                closed: None,
            },
            greeting: reply("220 hi", 1),
            commands: Vec::new(),
            txns: Vec::new(),
            closed_by: None,
            events: Vec::new(),
            sent: 0,
        }
    }

    #[test]
    fn the_first_reply_that_stops_a_transaction_decides() {
        let c = conn();
        let t = |r, d, e| truth(Some(&c), Some(&txn(r, d, e)), "A@x").0;
        assert_eq!(t("250 ok", "354 go", Some("250 ok")), Truth::Delivered);
        assert!(matches!(
            t("550 no", "354 go", Some("250 ok")),
            Truth::Refused(_)
        ));
        assert!(matches!(
            t("451 later", "354 go", Some("250 ok")),
            Truth::Deferred(_)
        ));
        assert!(matches!(
            t("552 full", "354 go", Some("250 ok")),
            Truth::Deferred(_)
        ));
        assert!(matches!(t("250 ok", "554 no", None), Truth::Refused(_)));
        assert!(matches!(
            t("250 ok", "354 go", Some("421 bye")),
            Truth::Deferred(_)
        ));
        assert_eq!(t("250 ok", "354 go", Some("")), Truth::Unanswered);
        assert_eq!(t("250 ok", "354 go", None), Truth::Unanswered);
        let decided = |r, d, e| truth(Some(&c), Some(&txn(r, d, e)), "a@x").1;
        assert_eq!(decided("250 ok", "354 go", Some("250 ok")), 6);
        assert_eq!(decided("550 no", "354 go", Some("250 ok")), 4);
        assert_eq!(decided("250 ok", "354 go", Some("")), 0);
        assert!(matches!(truth(None, None, "a@x").0, Truth::Deferred(_)));
        let mut refused = conn();
        refused.greeting = reply("554 go away", 1);
        let (t, by) = truth(Some(&refused), None, "a@x");
        assert!(matches!(t, Truth::Refused(_)) && by == 1);
    }

    #[test]
    fn paths_and_keywords_are_read() {
        let mut c = conn();
        let lines = ["250-hop", "250-PIPELINING", "250 SIZE 9"];
        c.commands.push(Command {
            line: "EHLO c".into(),
            reply: Some(Reply {
                lines: lines.map(String::from).to_vec(),
                nth: 2,
            }),
        });
        assert!(c.advertised("pipelining") && c.advertised("SIZE"));
        assert!(!c.advertised("8BITMIME"));
    }
}
