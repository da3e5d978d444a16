//! What the client made of each recipient: per attempt, the reference's own reading of the
//! session ([`MessageOutcome`], and [`MessageOutcome::retry_recipients`] for what its queue
//! tries again), and per message the report a submitter would get in the end (delivered,
//! refused for good with the refusing reply, given up). The outbound checks hold both to
//! what the next hop actually answered.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mtp_proto::smtp::client::{MessageOutcome, RcptStatus};
use mtp_server::client::queue::Disposition;

/// What became of one recipient in one attempt, as the client sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// The message went to it: RCPT accepted and the data answered 250.
    Delivered,
    /// Refused for good (a 5yz to RCPT, or to the message), with the refusing reply or
    /// failure as text; the queue does not try it again.
    Refused(String),
    /// Not settled (a 4yz, no reply, a lost connection): the queue tries it again, unless
    /// the policy's max age has passed.
    Deferred,
}

/// What the client reports of one message in the end, per recipient.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Recipients the message was delivered to.
    pub delivered: BTreeSet<String>,
    /// Recipients refused for good, with the refusal.
    pub refused: BTreeMap<String, String>,
    /// Recipients still deferred when the queue gave up (its max age passed).
    pub given_up: BTreeSet<String>,
    /// When the queue gave up (simulated time).
    pub given_up_at: Option<Duration>,
}

impl Report {
    /// Files one attempt's outcome and what the queue decided (`disposition`) at `now`.
    pub fn file(&mut self, outcome: &MessageOutcome, disposition: &Disposition, now: Duration) {
        for (recipient, fate) in fates(outcome) {
            match fate {
                Fate::Delivered => {
                    self.delivered.insert(recipient);
                }
                Fate::Refused(why) => {
                    self.refused.insert(recipient, why);
                }
                Fate::Deferred => {
                    if matches!(disposition, Disposition::Expired(_)) {
                        self.given_up.insert(recipient);
                        self.given_up_at = Some(now);
                    }
                }
            }
        }
    }
}

/// Each recipient of the attempt and its fate, in the order given: deferred when the queue
/// tries it again, delivered when accepted in a delivered message, refused otherwise.
pub fn fates(outcome: &MessageOutcome) -> Vec<(String, Fate)> {
    let retry: BTreeSet<String> = outcome
        .retry_recipients()
        .iter()
        .map(ToString::to_string)
        .collect();
    outcome
        .recipients
        .iter()
        .map(|r| {
            let name = r.mailbox.to_string();
            let fate = match (&r.status, &outcome.result) {
                _ if retry.contains(&name) => Fate::Deferred,
                (RcptStatus::Accepted(_), Ok(_)) => Fate::Delivered,
                (RcptStatus::Refused(reply), _) => Fate::Refused(reply.to_string()),
                (_, Err(failure)) => Fate::Refused(failure.to_string()),
                (RcptStatus::NotTried, Ok(_)) => Fate::Refused("never tried".into()),
            };
            (name, fate)
        })
        .collect()
}
