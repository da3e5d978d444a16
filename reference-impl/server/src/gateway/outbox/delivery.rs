//! The record of one accepted message on its way upstream: per recipient, delivered (with
//! the upstream's reply and id), refused, or still pending; the attempts made; the features
//! the sessions used and the ones they fell back from. [`Delivery::view`] is what
//! `GET /deliveries/{id}` returns.

use std::collections::BTreeSet;

use mtp_proto::smtp::client::{Feature, MessageOutcome, Outcome, RcptStatus};
use mtp_proto::time::rfc3339;
use serde::Serialize;

use crate::client::queue::Disposition;

/// Where one recipient stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RcptState {
    /// Not delivered yet: not tried, or failed transiently and waiting for a retry.
    Pending,
    /// The upstream took the message for this recipient.
    Delivered,
    /// Refused for good: a 5yz reply, or still failing when the retry policy gave up.
    Refused,
}

#[derive(Clone, Debug)]
pub(crate) struct Recipient {
    pub address: String,
    pub state: RcptState,
    /// The last reply (or failure) that concerned this recipient.
    pub reply: Option<String>,
    /// The id the upstream named when it took the message.
    pub upstream_id: Option<String>,
}

/// One accepted message.
#[derive(Clone, Debug)]
pub(crate) struct Delivery {
    pub id: String,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub sender: String,
    pub subject: String,
    pub size: usize,
    pub read_ack: bool,
    pub recipients: Vec<Recipient>,
    /// Upstream transactions (recipient groups) not finished yet.
    pub open_parts: usize,
    /// Transactions under way right now.
    pub in_flight: usize,
    pub attempts: u32,
    /// Wall-clock time of the next retry, when one is planned.
    pub next_attempt_ms: Option<u64>,
    pub used: BTreeSet<String>,
    pub fallback: BTreeSet<String>,
    pub tls: bool,
    pub last_error: Option<String>,
    /// The message's id in the gateway's spool, removed once the delivery is finished.
    pub spool_id: Option<String>,
}

/// What `GET /deliveries/{id}` returns.
#[derive(Clone, Debug, Serialize)]
pub struct DeliveryView {
    /// The gateway id `POST /send` answered with.
    pub id: String,
    /// queued, sending, deferred (waiting for a retry), delivered, partial (some recipients
    /// refused for good) or failed.
    pub status: &'static str,
    /// The envelope sender (MAIL FROM).
    pub sender: String,
    /// The message's Subject, empty when it had none.
    pub subject: String,
    /// The built message's size in octets.
    pub size: usize,
    /// Whether a VMTP read receipt (READACK) was asked for.
    pub readack: bool,
    /// When the gateway accepted the message (RFC 3339, UTC).
    pub created_at: String,
    /// When the last attempt ended, or the acceptance if none has (RFC 3339, UTC).
    pub updated_at: String,
    /// Upstream attempts made so far, over every transaction of the message.
    pub attempts: u32,
    /// When the next retry is due (RFC 3339, UTC); `None` when none is planned.
    pub next_attempt_at: Option<String>,
    /// Each recipient, in the order given.
    pub recipients: Vec<RecipientView>,
    /// The ids the upstream gave (one per transaction that delivered).
    pub upstream_ids: Vec<String>,
    /// Whether any VMTP verb was used.
    pub vmtp: bool,
    /// The SMTP and VMTP features this message's upstream transactions used, e.g.
    /// `PIPELINING`, `VMTP METADATA`, and STARTTLS when its session used it (never a feature
    /// only another message of the same session used).
    pub features_used: Vec<String>,
    /// VMTP features the upstream did not offer or refused, each with its consequence.
    pub fallback: Vec<String>,
    /// Whether the last upstream session was encrypted.
    pub tls: bool,
    /// The last failure, if any; `None` once every recipient has the message.
    pub error: Option<String>,
}

/// One recipient of [`DeliveryView`].
#[derive(Clone, Debug, Serialize)]
pub struct RecipientView {
    /// The recipient's address.
    pub address: String,
    /// Where it stands: pending, delivered or refused.
    pub status: RcptState,
    /// The last upstream reply (code and text) or failure that concerned it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// The id the upstream named when it took the message for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_id: Option<String>,
}

impl Delivery {
    pub(crate) fn is_finished(&self) -> bool {
        self.open_parts == 0
    }

    pub(crate) fn status(&self) -> &'static str {
        let delivered = self
            .recipients
            .iter()
            .filter(|r| r.state == RcptState::Delivered)
            .count();
        match () {
            _ if self.is_finished() && delivered == self.recipients.len() => "delivered",
            _ if self.is_finished() && delivered == 0 => "failed",
            _ if self.is_finished() => "partial",
            _ if self.in_flight > 0 => "sending",
            _ if self.attempts == 0 => "queued",
            _ => "deferred",
        }
    }

    /// Records one attempt at the transaction for `part` (its recipients' addresses), its
    /// result `message` within the session `outcome`, and what the queue decided.
    pub(crate) fn record_attempt(
        &mut self,
        part: &[String],
        outcome: &Outcome,
        message: &MessageOutcome,
        disposition: &Disposition,
        now_ms: u64,
        next_ms: Option<u64>,
    ) {
        self.attempts += 1;
        self.in_flight = self.in_flight.saturating_sub(1);
        self.updated_at_ms = now_ms;
        self.tls = outcome.tls;
        // This message's features, and the session's own outside any transaction (STARTTLS,
        // ENCRYPT): not those another message of the same session used (its METADATA).
        let session_wide = outcome
            .used
            .iter()
            .filter(|f| matches!(f, Feature::StartTls | Feature::VmtpEncrypt));
        self.used.extend(
            message
                .used
                .iter()
                .chain(session_wide)
                .map(ToString::to_string),
        );
        self.fallback
            .extend(outcome.dropped.iter().map(ToString::to_string));
        let delivered = message.result.as_ref().ok();
        let failure = message.result.as_ref().err();
        self.last_error = failure.map(ToString::to_string);
        for result in &message.recipients {
            let address = result.mailbox.to_string();
            let Some(r) = self.recipients.iter_mut().find(|r| r.address == address) else {
                continue;
            };
            match (&result.status, delivered, failure) {
                (RcptStatus::Refused(reply), _, _) => {
                    r.reply = Some(format!("{} {}", reply.code, reply.text()));
                    if reply.code.is_permanent() {
                        r.state = RcptState::Refused;
                    }
                }
                (_, Some(d), _) => {
                    r.state = RcptState::Delivered;
                    r.reply = Some(format!("{} {}", d.reply.code, d.reply.text()));
                    r.upstream_id = d.id.clone();
                }
                (_, None, Some(f)) => {
                    r.reply = Some(f.to_string());
                    if !f.transient {
                        r.state = RcptState::Refused;
                    }
                }
                (_, None, None) => {}
            }
        }
        let finished = match disposition {
            Disposition::Retry { .. } => {
                self.next_attempt_ms = next_ms;
                false
            }
            Disposition::Done => true,
            Disposition::Expired(f) => {
                self.last_error = Some(f.to_string());
                true
            }
        };
        if finished {
            self.open_parts = self.open_parts.saturating_sub(1);
            let reason = self.last_error.clone();
            for r in self
                .recipients
                .iter_mut()
                .filter(|r| part.contains(&r.address))
            {
                if r.state == RcptState::Pending {
                    r.state = RcptState::Refused;
                    r.reply = reason.clone().or_else(|| r.reply.take());
                }
            }
            if self.is_finished() {
                self.next_attempt_ms = None;
            }
        }
    }

    pub(crate) fn view(&self) -> DeliveryView {
        let mut upstream_ids: Vec<String> = Vec::new();
        for id in self.recipients.iter().filter_map(|r| r.upstream_id.clone()) {
            if !upstream_ids.contains(&id) {
                upstream_ids.push(id);
            }
        }
        DeliveryView {
            id: self.id.clone(),
            status: self.status(),
            sender: self.sender.clone(),
            subject: self.subject.clone(),
            size: self.size,
            readack: self.read_ack,
            created_at: rfc3339(self.created_at_ms),
            updated_at: rfc3339(self.updated_at_ms),
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_ms.map(rfc3339),
            recipients: self
                .recipients
                .iter()
                .map(|r| RecipientView {
                    address: r.address.clone(),
                    status: r.state,
                    reply: r.reply.clone(),
                    upstream_id: r.upstream_id.clone(),
                })
                .collect(),
            upstream_ids,
            vmtp: self.used.iter().any(|f| f.starts_with("VMTP")),
            features_used: self.used.iter().cloned().collect(),
            fallback: self.fallback.iter().cloned().collect(),
            tls: self.tls,
            error: (!self.is_finished() || self.status() != "delivered")
                .then(|| self.last_error.clone())
                .flatten(),
        }
    }
}
