//! The replies inside a mail transaction. Each handler records facts on the [`Txn`] (what
//! the server holds, which recipients it took, each message's fate); the next step is decided
//! by `advance` once nothing is outstanding.

use super::outcome::message_id;
use super::transaction::Txn;
use super::{
    ClientSession, Delivered, DropReason, Event, Expect, Failure, Feature, RcptStatus,
    TranscriptEntry,
};
use crate::smtp::command::Command;
use crate::smtp::data::dot_stuff;
use crate::smtp::reply::Reply;

impl ClientSession {
    pub(super) fn on_transaction_reply(&mut self, expect: Expect, reply: &Reply) {
        if self.txn.is_none() {
            return; // RSET, or a reply to a command of a transaction already settled.
        }
        match expect {
            Expect::Metadata(i) => self.on_metadata(i, reply),
            Expect::VecMail => self.on_vecmail(reply),
            Expect::Mail => self.on_mail(reply),
            Expect::Rcpt(i) => self.on_rcpt(i, reply),
            Expect::ReadAck => self.on_readack(reply),
            Expect::Batch => self.on_batch(reply),
            Expect::Data => self.on_data(reply),
            Expect::Body => self.on_body(reply),
            _ => {}
        }
    }

    fn txn(&mut self) -> &mut Txn {
        self.txn
            .as_mut()
            .expect("transaction replies come with a transaction")
    }

    fn on_metadata(&mut self, i: usize, reply: &Reply) {
        let first = self.txn().first;
        if reply.code.is_positive() {
            return self.use_feature(Feature::VmtpMetadata);
        }
        let key = self.messages()[first].metadata[i].0.clone();
        self.out.messages[first].dropped_metadata.push(key);
        if reply.code.is_permanent() {
            self.drop_feature(Feature::VmtpMetadata, DropReason::Refused(reply.clone()));
        }
    }

    /// DESIGN: VECMAIL is all or nothing. Any refusal falls back to MAIL + RCPT, which also
    /// tells which recipients are bad; a 5yz drops VECMAIL for the rest of the session.
    fn on_vecmail(&mut self, reply: &Reply) {
        if reply.code.is_positive() {
            self.use_feature(Feature::VmtpVecmail);
            let txn = self.txn();
            txn.server_open = true;
            txn.rcpts.fill(RcptStatus::Accepted(reply.clone()));
            return;
        }
        if reply.code.is_permanent() {
            self.drop_feature(Feature::VmtpVecmail, DropReason::Refused(reply.clone()));
        }
        self.txn().fallback_pending = true;
    }

    fn on_mail(&mut self, reply: &Reply) {
        if reply.code.is_positive() {
            self.txn().server_open = true;
            return;
        }
        let txn = self.txn();
        txn.over = true;
        txn.rcpts.fill(RcptStatus::Refused(reply.clone()));
        self.fail_envelope(Failure::from_reply("MAIL FROM refused", reply));
    }

    fn on_rcpt(&mut self, i: usize, reply: &Reply) {
        let txn = self.txn();
        if !txn.server_open || txn.over {
            return;
        }
        txn.rcpts[i] = if reply.code.is_positive() {
            RcptStatus::Accepted(reply.clone())
        } else {
            RcptStatus::Refused(reply.clone())
        };
        let last = i + 1 == txn.rcpts.len();
        if last && txn.accepted() == 0 {
            txn.over = true;
            // RFC 5321 §3.3: no DATA without an accepted recipient.
            let transient = txn
                .rcpts
                .iter()
                .any(|r| matches!(r, RcptStatus::Refused(r) if r.code.is_transient()));
            let failure = Failure {
                transient,
                reason: "every recipient was refused".into(),
                reply: Some(reply.clone()),
                outcome_unknown: false,
            };
            self.fail_envelope(failure);
        }
    }

    fn on_readack(&mut self, reply: &Reply) {
        if !self.txn().open() {
            return;
        }
        if reply.code.is_positive() {
            self.use_feature(Feature::VmtpReadAck);
            let (first, count) = (self.txn().first, self.txn().count);
            for m in &mut self.out.messages[first..first + count] {
                m.read_ack = true;
            }
        } else {
            self.drop_feature(Feature::VmtpReadAck, DropReason::Refused(reply.clone()));
        }
    }

    fn on_batch(&mut self, reply: &Reply) {
        if !self.txn().open() {
            return;
        }
        if reply.code.is_positive() {
            return self.use_feature(Feature::VmtpBatch);
        }
        self.drop_feature(Feature::VmtpBatch, DropReason::Refused(reply.clone()));
        self.txn().count = 1;
    }

    fn on_data(&mut self, reply: &Reply) {
        let open = self.txn().open();
        let intermediate = reply.code.is_intermediate();
        if !open {
            // RFC 2920 §3.1: a pipelined DATA accepted with no valid recipient gets a lone
            // "." so the server ends the (empty) message.
            if intermediate {
                self.write_line(Expect::AbortBody, ".");
            }
            return;
        }
        if !intermediate {
            self.txn().over = true;
            let current = self.txn().current;
            return self.settle(current, Err(Failure::from_reply("DATA refused", reply)));
        }
        let current = self.txn().current;
        let wire = dot_stuff(&self.messages()[current].data);
        self.out
            .transcript
            .push(TranscriptEntry::SentData(wire.len()));
        self.events.push_back(Event::Transmit(wire));
        self.sent.push_back(Expect::Body);
    }

    /// The reply after the end of data: the message's fate. Within a BATCH the next DATA
    /// follows on the same envelope.
    fn on_body(&mut self, reply: &Reply) {
        let txn = self.txn();
        let current = txn.current;
        let more = current + 1 < txn.first + txn.count;
        let result = if reply.code.is_positive() {
            Ok(Delivered {
                id: message_id(reply),
                reply: reply.clone(),
            })
        } else {
            Err(Failure::from_reply("message refused after DATA", reply))
        };
        let delivered = result.is_ok();
        self.settle(current, result);
        let txn = self.txn();
        txn.server_open = more;
        if more && delivered {
            txn.current += 1;
            return self.write_command(Expect::Data, &Command::Data);
        }
        txn.over = true;
        if more {
            // The rest of the batch goes message by message.
            self.no_batch = true;
        }
    }

    /// MAIL, or every RCPT, was refused: every message of the envelope fails.
    fn fail_envelope(&mut self, failure: Failure) {
        let (first, count) = (self.txn().first, self.txn().count);
        for i in first..first + count {
            self.settle(i, Err(failure.clone()));
        }
    }

    /// Records the fate of message `i` with the recipient results of the envelope.
    pub(super) fn settle(&mut self, i: usize, result: Result<Delivered, Failure>) {
        let rcpts = self.txn().rcpts.clone();
        for (r, status) in self.out.messages[i].recipients.iter_mut().zip(rcpts) {
            r.status = status;
        }
        self.results[i] = Some(result);
    }
}
