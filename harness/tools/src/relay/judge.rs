//! Judging the target's outbound side from what arrived at the next hop ([`Arrived`]): each
//! judgement gives PASS, the verdict its level calls for (FAIL for a MUST, WARN for a SHOULD,
//! UNSUPPORTED for a MAY), or SKIP when the case never got to the point it is about (no copy
//! arrived to compare, no notification to parse). This module owns the dispatch and the
//! checks on the content; [`super::envelope`] judges envelopes and transactions,
//! [`super::lines`] the lines and octets. Checks on commands and timing reuse servetest's
//! judge on the case's own events.

use super::arrived::{Arrived, Transaction};
use super::content::{header_fields, is_field, unstuff};
use super::model::{Check, Judgement};
use super::{envelope, lines};
use crate::servetest::judge::{Finding, Judged, check as client_check};
use crate::servetest::model::Check as ClientCheck;
use crate::servetest::reporting::clip;
use mtpspec_runner::wire::escape;

/// Judges every judgement of a case; `submitted` is the content the target accepted.
/// `composes`: the target built the message itself from what it was given (the gateway), so
/// the judgements on what a relay does with a message it received by SMTP do not apply, and
/// the content is compared below the header section only.
pub fn judge_all_relay(
    judge: &[Judgement],
    arrived: &Arrived,
    submitted: &[u8],
    composes: bool,
) -> Vec<Judged> {
    judge
        .iter()
        .map(|j| {
            let finding = match &j.check {
                check if composes && check.binds_a_relay() => Finding::NotReached(
                    "not applicable: the target took the message by HTTP and built it itself; \
                     RFC 5321's rules for a message relayed by a receiver-SMTP (trace fields \
                     kept, notifications by mail) bind an SMTP server"
                        .into(),
                ),
                Check::ContentUnchanged if composes => {
                    with_copy(arrived, |copy| body_unchanged(copy, submitted))
                }
                _ => check(j, arrived, submitted),
            };
            finding.judged(&j.spec, j.level, j.check.describe())
        })
        .collect()
}

/// The octets as received, shown: escaped and cut to a readable length.
pub fn shown(octets: &[u8]) -> String {
    clip(&escape(octets), 1200)
}

/// Where a transaction came: its connection and MAIL command.
pub fn where_(t: &Transaction) -> String {
    format!("connection {}, {}", t.conn, t.mail)
}

fn check(j: &Judgement, arrived: &Arrived, submitted: &[u8]) -> Finding {
    match &j.check {
        Check::CrlfOnly => lines::crlf_only(arrived),
        Check::SevenBit => lines::seven_bit(arrived),
        Check::LineLimit => lines::line_limit(arrived),
        Check::DotStuffed => lines::dot_stuffed(arrived),
        Check::AsciiEnvelopeAndHeaders => lines::ascii_envelope_and_headers(arrived),
        Check::MaxCopies(max) => {
            let n = arrived.copies().count();
            if n <= *max as usize {
                Finding::Ok
            } else {
                Finding::Broken(copies_seen(arrived, n))
            }
        }
        Check::Copies(want) => {
            let n = arrived.copies().count();
            if n == *want as usize {
                Finding::Ok
            } else {
                Finding::Broken(copies_seen(arrived, n))
            }
        }
        Check::Never(re) => client_check(&ClientCheck::Never(re.clone()), &arrived.events, None),
        Check::WaitsForReply(re) => client_check(
            &ClientCheck::WaitsForReply(re.clone()),
            &arrived.events,
            None,
        ),
        Check::Sends(re) => client_check(&ClientCheck::Sends(re.clone()), &arrived.events, None),
        Check::NextCommand { after, expect } => client_check(
            &ClientCheck::NextCommand {
                after: after.clone(),
                expect: expect.clone(),
            },
            &arrived.events,
            None,
        ),
        Check::WaitsForReplyUnderTls(re) => envelope::waits_under_tls(arrived, re),
        Check::ContentUnchanged => with_copy(arrived, |copy| content_unchanged(copy, submitted)),
        Check::ReceivedOnTop => with_copy(arrived, |copy| received_on_top(copy, submitted)),
        Check::ReceivedKept => with_copy(arrived, |copy| received_kept(copy, submitted)),
        Check::Retried => retried(arrived),
        Check::Notification => envelope::notification(arrived),
        Check::NoNotification => match arrived.notifications().next() {
            Some(t) => Finding::Broken(format!(
                "a notification arrived ({}): {}",
                where_(t),
                shown(&t.data.clone().unwrap_or_default())
            )),
            None => Finding::Ok,
        },
        Check::Dsn => envelope::dsn(arrived),
        Check::NamesOnlyRefused => envelope::names_only_refused(arrived),
        Check::AcceptedDelivered => envelope::accepted_delivered(arrived),
        Check::ContentNotSent => envelope::content_not_sent(arrived),
        Check::ReversePathKept => envelope::reverse_path_kept(arrived),
        Check::RecipientsKept => envelope::recipients_kept(arrived),
        Check::OneTransaction => envelope::one_transaction(arrived),
        Check::FirstConnectionQuits => envelope::first_connection_quits(arrived),
        Check::FirstConnectionNever(re) => envelope::first_connection_never(arrived, re),
    }
}

fn copies_seen(arrived: &Arrived, n: usize) -> String {
    let conns: Vec<String> = arrived
        .copies()
        .map(|t| format!("connection {}", t.conn))
        .collect();
    format!("{n} copies arrived ({})", conns.join(", "))
}

fn with_copy(arrived: &Arrived, judge: impl Fn(&[u8]) -> Finding) -> Finding {
    match arrived.copies().next() {
        Some(t) => judge(&unstuff(t.data.as_deref().unwrap_or_default())),
        None => Finding::NotReached("no copy of the message arrived".into()),
    }
}

/// RFC 5321 §3.6.3: "a relay SMTP has no need to inspect or act upon the header section or
/// body of the message data and MUST NOT do so except to add its own "Received:" header field"
/// / §4.5.2, the transparency procedure: what the next hop reads after removing one dot is
/// what the target received.
fn content_unchanged(copy: &[u8], submitted: &[u8]) -> Finding {
    if let Some(added) = copy.strip_suffix(submitted) {
        // What precedes the submitted content must be whole header fields, no more.
        let (_, body) = header_fields(added);
        let whole_fields = added.is_empty()
            || (added.ends_with(b"\r\n") && !added.starts_with(b"\r\n") && body == added.len());
        if whole_fields {
            return Finding::Ok;
        }
        return Finding::Broken(format!(
            "the submitted content arrived below something that is not header fields: {}",
            shown(added)
        ));
    }
    let same_tail = copy
        .iter()
        .rev()
        .zip(submitted.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let at = submitted.len() - same_tail;
    let from = at.saturating_sub(60);
    let copy_at = copy.len().saturating_sub(same_tail);
    Finding::Broken(format!(
        "the content differs from what was submitted before submitted octet {at}: submitted \
         ...{}..., arrived ...{}...",
        escape(&submitted[from..at]),
        escape(&copy[copy_at.saturating_sub(at - from)..copy_at])
    ))
}

/// For a target that built the message (the gateway): the body below the copy's header
/// section is the submitted body, its line ends made CRLF (as the gateway documents). A body
/// the target put into a transfer encoding is not compared.
fn body_unchanged(copy: &[u8], submitted: &[u8]) -> Finding {
    let (fields, body_at) = header_fields(copy);
    if let Some(encoding) = fields
        .iter()
        .find(|f| is_field(f, "Content-Transfer-Encoding"))
        .map(|f| super::content::field_value(f).to_ascii_lowercase())
        .filter(|e| !matches!(e.as_str(), "7bit" | "8bit" | "binary"))
    {
        return Finding::NotReached(format!(
            "the target sent the body in the {encoding} transfer encoding; not compared"
        ));
    }
    let (_, given_at) = header_fields(submitted);
    let given = crlf(&submitted[given_at..]);
    let body = &copy[body_at..];
    if body == given.as_slice() {
        return Finding::Ok;
    }
    Finding::Broken(format!(
        "the body arrived as {}, not as given: {}",
        shown(body),
        shown(&given)
    ))
}

/// Every line end CRLF: a bare CR or LF, or CRLF, becomes CRLF.
fn crlf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 16);
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'\r' if text.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// RFC 5321 §4.4: "When an SMTP server receives a message for delivery or further processing,
/// it MUST insert trace ("time stamp" or "Received") information at the beginning of the
/// message content" / "The FROM clause, which MUST be supplied in an SMTP environment".
fn received_on_top(copy: &[u8], submitted: &[u8]) -> Finding {
    let (fields, _) = header_fields(copy);
    let (own, _) = header_fields(submitted);
    let Some(first) = fields.first() else {
        return Finding::Broken("the copy has no header fields".into());
    };
    if !is_field(first, "Received") {
        return Finding::Broken(format!("the first field is not Received: {}", shown(first)));
    }
    if own.first() == Some(first) {
        return Finding::Broken(
            "the first field is the submitted message's own; none added".into(),
        );
    }
    let value = super::content::field_value(first);
    if !value
        .get(..5)
        .is_some_and(|v| v.eq_ignore_ascii_case("from "))
    {
        return Finding::Broken(format!(
            "the added Received field has no FROM clause: {}",
            shown(first)
        ));
    }
    Finding::Ok
}

/// RFC 5321 §4.4: "An Internet mail program MUST NOT change or delete a Received: line that was
/// previously added to the message header section. SMTP servers MUST prepend Received lines to
/// messages; they MUST NOT change the order of existing lines or insert Received lines in any
/// other location."
fn received_kept(copy: &[u8], submitted: &[u8]) -> Finding {
    let received = |content: &[u8]| -> Vec<Vec<u8>> {
        header_fields(content)
            .0
            .into_iter()
            .filter(|f| is_field(f, "Received"))
            .map(<[u8]>::to_vec)
            .collect()
    };
    let own = received(submitted);
    let arrived = received(copy);
    if own.is_empty() {
        return Finding::NotReached("the submitted message has no Received field".into());
    }
    if arrived.ends_with(&own) {
        return Finding::Ok;
    }
    let list = |fields: &[Vec<u8>]| {
        fields
            .iter()
            .map(|f| escape(f))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    Finding::Broken(format!(
        "the Received fields submitted, {}, are not the last ones of the copy: {}",
        list(&own),
        list(&arrived)
    ))
}

/// RFC 5321 §4.5.4.1: "mail that cannot be transmitted immediately MUST be queued and
/// periodically retried by the sender" / "The sender MUST delay retrying a particular
/// destination after one attempt has failed."
fn retried(arrived: &Arrived) -> Finding {
    let Some(first) = arrived.first_conn() else {
        return Finding::NotReached("nothing arrived".into());
    };
    match arrived.copies().next() {
        Some(t) if t.conn > first => Finding::Ok,
        Some(t) => Finding::Broken(format!(
            "the copy came on connection {}, the one that got the temporary failure: retried \
             at once",
            t.conn
        )),
        None => Finding::NotReached(
            "no retry arrived within the wait (the target's retry timer may be longer; \
             --flush-command hurries it)"
                .into(),
        ),
    }
}
