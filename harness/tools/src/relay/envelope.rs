//! Checks on envelopes and transactions at the next hop: the notification's reverse-path and
//! what it reports, recipients accepted and delivered, the content not sent, the envelope
//! relayed as submitted, one transaction for several recipients, and what the target did on
//! the case's first connection.

use std::collections::BTreeSet;

use regex::Regex;

use super::arrived::{Arrived, path_of};
use super::content::unstuff;
use super::dsn;
use super::judge::where_;
use crate::servetest::judge::Finding;
use crate::servetest::record::EventKind;

/// RFC 5321 §6.1: "If there is a delivery failure after acceptance of a message, the
/// receiver-SMTP MUST formulate and mail a notification message. This notification MUST be
/// sent using a null ("<>") reverse-path in the envelope."
pub fn notification(arrived: &Arrived) -> Finding {
    match arrived.notifications().next() {
        Some(t) if t.null_sender() => Finding::Ok,
        Some(t) => Finding::Broken(format!(
            "the notification ({}) has a reverse-path, not <>",
            where_(t)
        )),
        None => Finding::Broken(format!(
            "no message with MAIL FROM:<> to {} arrived",
            if arrived.sender.is_empty() {
                "the return domain"
            } else {
                &arrived.sender
            }
        )),
    }
}

/// The recipients the notification is about: those the next hop refused for good, or, when
/// it refused none (the message was returned before RCPT, or without an attempt), all.
fn failed_recipients(arrived: &Arrived) -> Vec<&str> {
    let refused: Vec<&str> = arrived
        .rcpts
        .iter()
        .filter(|r| arrived.refused_for_good(r))
        .map(String::as_str)
        .collect();
    if refused.is_empty() {
        arrived.rcpts.iter().map(String::as_str).collect()
    } else {
        refused
    }
}

/// RFC 5321 §3.6.3: "Formats specified for non-delivery reports by other standards (see, for
/// example, RFC 3461 \[32\] and RFC 3464 \[33\]) SHOULD be used if possible."
pub fn dsn(arrived: &Arrived) -> Finding {
    let Some(t) = arrived.notifications().next() else {
        return Finding::NotReached("no notification arrived".into());
    };
    let message = unstuff(t.data.as_deref().unwrap_or_default());
    for rcpt in failed_recipients(arrived) {
        if let Err(why) = dsn::reports_failed(&message, rcpt) {
            return Finding::Broken(why);
        }
    }
    Finding::Ok
}

/// RFC 3461 §5.2.2: "(e) If a NOTIFY parameter was not supplied for a recipient, and the SMTP
/// server returns a success (2xx) reply-code in response to a RCPT command, the client MUST
/// NOT issue any DSN for that recipient." / "(f) ... returns a permanent failure (5xx)
/// reply-code in response to a RCPT command, the client MUST issue a "failed" DSN for that
/// recipient."
pub fn names_only_refused(arrived: &Arrived) -> Finding {
    let refused: Vec<&String> = arrived
        .rcpts
        .iter()
        .filter(|r| arrived.refused_for_good(r))
        .collect();
    if refused.is_empty() {
        return Finding::NotReached("the next hop refused no recipient for good".into());
    }
    let delivered: Vec<&String> = arrived
        .rcpts
        .iter()
        .filter(|r| arrived.delivered_to(r))
        .collect();
    let mut any = false;
    for t in arrived.notifications() {
        any = true;
        let message = unstuff(t.data.as_deref().unwrap_or_default());
        match dsn::recipients(&message) {
            Ok(groups) => {
                if let Some(wrong) = groups
                    .iter()
                    .find(|g| g.action == "failed" && delivered.contains(&&g.final_recipient))
                {
                    return Finding::Broken(format!(
                        "the DSN on {} reports {} as failed, which the next hop accepted and got \
                         the message",
                        where_(t),
                        wrong.final_recipient
                    ));
                }
                for rcpt in &refused {
                    if let Err(why) = dsn::reports_failed(&message, rcpt) {
                        return Finding::Broken(why);
                    }
                }
            }
            // A plain notification: it must name each refused recipient somewhere.
            Err(_) => {
                let text = String::from_utf8_lossy(&message).to_lowercase();
                if let Some(missing) = refused.iter().find(|r| !text.contains(r.as_str())) {
                    return Finding::Broken(format!(
                        "the notification on {} does not name {missing}",
                        where_(t)
                    ));
                }
            }
        }
    }
    if any {
        Finding::Ok
    } else {
        Finding::NotReached("no notification arrived".into())
    }
}

/// RFC 5321 §6.1: "When the receiver-SMTP accepts a piece of mail (by sending a "250 OK"
/// message in response to DATA), it is accepting responsibility for delivering or relaying
/// the message." A recipient the next hop accepted at RCPT gets the message in that
/// transaction, whatever happened to the others.
pub fn accepted_delivered(arrived: &Arrived) -> Finding {
    let mut any = false;
    for t in &arrived.transactions {
        for rcpt in arrived.rcpts.iter().filter(|r| t.accepted(r)) {
            any = true;
            if !t.delivered() {
                return Finding::Broken(format!(
                    "{rcpt} was accepted at RCPT on {} but the transaction delivered no message \
                     (reply to the data: {})",
                    where_(t),
                    t.end_reply.as_deref().unwrap_or("none, no data sent")
                ));
            }
        }
    }
    if any {
        Finding::Ok
    } else {
        Finding::NotReached("the next hop accepted no recipient of the message".into())
    }
}

/// RFC 1870 §6.2: "If the code "552 message exceeds fixed maximum message size" is received,
/// the client should immediately send either a RSET command ... or a QUIT command." / RFC 5321
/// §4.5.3.1.7: "SMTP client systems that will send large messages SHOULD utilize it when
/// possible." The message's content goes nowhere.
pub fn content_not_sent(arrived: &Arrived) -> Finding {
    match arrived.sent().next() {
        Some(t) => Finding::Broken(format!(
            "the content was sent on {} ({} octets)",
            where_(t),
            t.data.as_ref().map_or(0, Vec::len)
        )),
        None => Finding::Ok,
    }
}

/// RFC 5321 §5.1: a designated MX "MAY relay the message (potentially after having rewritten
/// the MAIL FROM and/or RCPT TO addresses)" / §4.5.5: "they SHOULD NOT add a non-null
/// reverse-path, or change a null reverse-path to a non-null one, to such messages when
/// forwarding."
pub fn reverse_path_kept(arrived: &Arrived) -> Finding {
    let mut any = false;
    for t in arrived.copies() {
        any = true;
        if !t.reverse_path().eq_ignore_ascii_case(&arrived.sender) {
            return Finding::Broken(format!(
                "the copy on connection {} came with {}, not MAIL FROM:<{}>",
                t.conn, t.mail, arrived.sender
            ));
        }
    }
    if any {
        Finding::Ok
    } else {
        Finding::NotReached("no copy of the message arrived".into())
    }
}

/// RFC 5321 §5.1 (as above): the recipients as submitted, none added, dropped or rewritten,
/// over every transaction of the case that is not a notification.
pub fn recipients_kept(arrived: &Arrived) -> Finding {
    let notes: Vec<u32> = arrived.notifications().map(|t| t.conn).collect();
    let mut seen = BTreeSet::new();
    let mut any = false;
    for t in &arrived.transactions {
        if notes.contains(&t.conn) && t.null_sender() {
            continue;
        }
        any = true;
        seen.extend(t.rcpts.iter().map(|(line, _)| path_of(line).to_lowercase()));
    }
    if !any {
        return Finding::NotReached("no transaction of the message arrived".into());
    }
    let wanted: BTreeSet<String> = arrived.rcpts.iter().cloned().collect();
    if seen == wanted {
        Finding::Ok
    } else {
        let list = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
        Finding::Broken(format!(
            "RCPT named {}; the message was submitted to {}",
            list(&seen),
            list(&wanted)
        ))
    }
}

/// RFC 5321 §4.5.4.1: "When a mail message is to be delivered to multiple recipients, and the
/// SMTP server to which a copy of the message is to be sent is the same for multiple
/// recipients, then only one copy of the message SHOULD be transmitted."
pub fn one_transaction(arrived: &Arrived) -> Finding {
    let sent: Vec<_> = arrived.sent().collect();
    match sent.as_slice() {
        [] => Finding::NotReached("the content was never sent".into()),
        [t] => match arrived.rcpts.iter().find(|r| !t.accepted(r)) {
            None => Finding::Ok,
            Some(missing) => Finding::Broken(format!(
                "the transaction on {} did not have {missing}",
                where_(t)
            )),
        },
        many => Finding::Broken(format!(
            "the content was sent {} times: {}",
            many.len(),
            many.iter()
                .map(|t| where_(t))
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

/// RFC 3207 §4.2: "The client MUST discard any knowledge obtained from the server, such as
/// the list of SMTP service extensions, which was not obtained from the TLS negotiation
/// itself." A reply injected in plaintext after STARTTLS's 220 is such knowledge: a client
/// that takes it as the reply to its first command under TLS sends the next command before
/// the server's own reply.
pub fn waits_under_tls(arrived: &Arrived, re: &Regex) -> Finding {
    let events = &arrived.events;
    let mut seen = false;
    for (i, e) in events.iter().enumerate() {
        let EventKind::Command { line, tls: true } = &e.kind else {
            continue;
        };
        if !re.is_match(line) {
            continue;
        }
        seen = true;
        let reply = events
            .iter()
            .position(|r| matches!(r.kind, EventKind::Reply { answers: Some(a), .. } if a == i))
            .unwrap_or(events.len());
        let early = events[i + 1..reply.max(i + 1)]
            .iter()
            .find_map(|c| match &c.kind {
                EventKind::Command { line, .. } if c.conn == e.conn => Some(line),
                _ => None,
            });
        if let Some(early) = early {
            return Finding::Broken(format!(
                "sent `{early}` under TLS before the reply to `{line}` (connection {}): it took \
                 the plaintext injected after STARTTLS's 220 as that reply",
                e.conn
            ));
        }
    }
    if seen {
        return Finding::Ok;
    }
    let pattern = crate::servetest::model::pat(re);
    let tls_failed = arrived
        .attempts
        .iter()
        .any(|a| a.contains("TLS handshake failed"));
    let sent_starttls = arrived.attempts.iter().any(|a| a.contains("STARTTLS"));
    let why = if tls_failed {
        "the target's TLS handshake after STARTTLS did not complete, and it delivered without TLS"
    } else if sent_starttls {
        "the target sent STARTTLS in a session it gave up before any command under TLS, and \
         delivered without TLS"
    } else {
        "the target did not use STARTTLS"
    };
    let mut reason = format!("no command matching /{pattern}/ under TLS: {why}");
    if !arrived.attempts.is_empty() {
        reason += &format!(
            " (sessions that named no message: {})",
            arrived.attempts.join("; ")
        );
    }
    Finding::NotReached(reason)
}

/// The commands of the case's first connection, in order.
fn first_commands(arrived: &Arrived) -> Option<Vec<&str>> {
    let first = arrived.first_conn()?;
    Some(
        arrived
            .events
            .iter()
            .filter(|e| e.conn == first)
            .filter_map(|e| match &e.kind {
                EventKind::Command { line, .. } => Some(line.as_str()),
                _ => None,
            })
            .collect(),
    )
}

/// RFC 5321 §4.1.1.10: "The sender MUST NOT intentionally close the transmission channel
/// until it sends a QUIT command" / §4.1.4: "The last command in a session MUST be the QUIT
/// command."
pub fn first_connection_quits(arrived: &Arrived) -> Finding {
    let Some(commands) = first_commands(arrived) else {
        return Finding::NotReached("the target never connected".into());
    };
    match commands.last() {
        Some(last) if last.eq_ignore_ascii_case("QUIT") => Finding::Ok,
        Some(last) => Finding::Broken(format!(
            "the last command on the first connection was `{last}`"
        )),
        None => Finding::Broken("the target closed the first connection without QUIT".into()),
    }
}

/// RFC 5321 §3.1: "a 554 response MAY be given in the initial connection opening message
/// instead of the 220. A server taking this approach MUST still wait for the client to send a
/// QUIT": the session is refused, and what is left for the client is QUIT (SPEC.md
/// SMTP-CLIENT-1: no mail after a greeting that is not 220).
pub fn first_connection_never(arrived: &Arrived, re: &Regex) -> Finding {
    let Some(commands) = first_commands(arrived) else {
        return Finding::NotReached("the target never connected".into());
    };
    match commands.iter().find(|c| re.is_match(c)) {
        Some(line) => Finding::Broken(format!("sent `{line}` on the first connection")),
        None => Finding::Ok,
    }
}
