//! Mail transactions: the client's own checks before MAIL (SIZE, 8BITMIME, SMTPUTF8), the
//! command groups of one envelope (METADATA, VECMAIL or MAIL+RCPT, READACK, BATCH, DATA) and
//! the next step after each group.
//!
//! Replies (in `replies.rs`) only record facts on the [`Txn`]; what to send next is decided
//! in [`ClientSession::advance`] once nothing is outstanding, which keeps the pipelined and
//! the lock-step paths the same.

use super::{ClientSession, Expect, Failure, Feature, Message, RcptStatus, Task};
use crate::smtp::command::{Command, Params};
use crate::smtp::extension::Extension;
use crate::smtp::{Mailbox, Path};

/// One envelope on the wire and the messages (one, or a BATCH) that share it.
#[derive(Debug)]
pub(super) struct Txn {
    pub(super) first: usize,
    /// Messages sharing the envelope: 1, or n after `BATCH n`.
    pub(super) count: usize,
    /// The message whose DATA is next or under way.
    pub(super) current: usize,
    pub(super) rcpts: Vec<RcptStatus>,
    /// VECMAIL was refused: send MAIL + RCPT next.
    pub(super) fallback_pending: bool,
    /// The server holds an open transaction (needs RSET if we stop early).
    pub(super) server_open: bool,
    /// No DATA for this envelope any more (refused, or all recipients refused).
    pub(super) over: bool,
}

impl Txn {
    pub(super) fn accepted(&self) -> usize {
        self.rcpts
            .iter()
            .filter(|r| matches!(r, RcptStatus::Accepted(_)))
            .count()
    }

    /// Ready for READACK, BATCH or DATA.
    pub(super) fn open(&self) -> bool {
        self.server_open && !self.over && self.accepted() > 0
    }
}

impl ClientSession {
    pub(super) fn messages(&self) -> &[Message] {
        match &self.task {
            Task::Send(messages) => messages,
            Task::Command(_) => &[],
        }
    }

    /// Called when nothing is outstanding: the plain fallback of a refused VECMAIL, the RSET
    /// after an unfinished transaction, the next message, or QUIT.
    pub(super) fn advance(&mut self) {
        if let Some(txn) = self.txn.as_mut() {
            if txn.fallback_pending {
                txn.fallback_pending = false;
                let first = txn.first;
                txn.rcpts.fill(RcptStatus::NotTried);
                let mut group = Vec::new();
                self.push_envelope(&mut group, first, false);
                return self.send_group(group);
            }
            let (first, reset) = (txn.first, txn.server_open);
            self.txn = None;
            if self.results[first].is_none() {
                self.results[first] = Some(Err(Failure::new(true, "no final reply")));
            }
            if reset {
                return self.write_command(Expect::Rset, &Command::Rset);
            }
        }
        if matches!(self.task, Task::Command(_)) {
            return self.quit();
        }
        loop {
            let Some(next) = self.results.iter().position(Option::is_none) else {
                return self.quit();
            };
            match self.precheck(&self.messages()[next]) {
                Ok(()) => return self.start_transaction(next),
                Err(failure) => self.results[next] = Some(Err(failure)),
            }
        }
    }

    /// Refusals the client can make itself, before sending anything (RFC 1870, 6152, 6531).
    fn precheck(&self, message: &Message) -> Result<(), Failure> {
        if message.recipients.is_empty() {
            return Err(Failure::new(false, "the message has no recipients"));
        }
        if let Some(max) = self.ext.max_size().filter(|&max| message.size() > max) {
            let size = message.size();
            return Err(Failure::new(
                false,
                format!("the message ({size} octets) exceeds the server's SIZE limit of {max}"),
            ));
        }
        if message.needs_smtputf8() && !self.ext.has(Extension::SmtpUtf8) {
            return Err(Failure::new(
                false,
                "non-ASCII addresses need SMTPUTF8, which the server does not offer (RFC 6531)",
            ));
        }
        let eight_bit_ok = self.ext.has(Extension::EightBitMime);
        if message.has_8bit() && !eight_bit_ok {
            return Err(Failure::new(
                false,
                "8-bit message data needs 8BITMIME, which the server does not offer (RFC 6152)",
            ));
        }
        Ok(())
    }

    fn start_transaction(&mut self, first: usize) {
        let count = self.batch_size(first);
        let recipients = self.messages()[first].recipients.len();
        self.txn = Some(Txn {
            first,
            count,
            current: first,
            rcpts: vec![RcptStatus::NotTried; recipients],
            fallback_pending: false,
            server_open: false,
            over: false,
        });
        let mut group = Vec::new();
        self.push_metadata(&mut group, first);
        let vecmail = self.vmtp_verb("VECMAIL", Feature::VmtpVecmail).is_ok();
        self.push_envelope(&mut group, first, vecmail);
        self.send_group(group);
    }

    /// How many messages from `first` on can share its envelope in a VMTP BATCH.
    fn batch_size(&self, first: usize) -> usize {
        if !self.options.batch
            || self.no_batch
            || self.vmtp_verb("BATCH", Feature::VmtpBatch).is_err()
        {
            return 1;
        }
        let messages = self.messages();
        let head = &messages[first];
        1 + messages[first + 1..]
            .iter()
            .zip(&self.results[first + 1..])
            .take_while(|(m, r)| {
                r.is_none()
                    && m.metadata.is_empty()
                    && head.same_envelope(m)
                    && self.precheck(m).is_ok()
            })
            .count()
    }

    /// METADATA lines go before the envelope (DESIGN allows before or after MAIL).
    fn push_metadata(&mut self, group: &mut Vec<(Expect, String)>, first: usize) {
        let keys: Vec<(String, String)> = self.messages()[first].metadata.clone();
        if keys.is_empty() {
            return;
        }
        if let Err(reason) = self.vmtp_verb("METADATA", Feature::VmtpMetadata) {
            self.drop_feature(Feature::VmtpMetadata, reason);
            let dropped = keys.into_iter().map(|(k, _)| k);
            return self.out.messages[first].dropped_metadata.extend(dropped);
        }
        for (i, (key, value)) in keys.into_iter().enumerate() {
            let line = Command::Metadata { key, value }.to_line();
            group.push((Expect::Metadata(i), line.trim_end().to_string()));
        }
    }

    /// VECMAIL or MAIL + RCPT…, then READACK, BATCH and DATA as wanted.
    fn push_envelope(&mut self, group: &mut Vec<(Expect, String)>, first: usize, vecmail: bool) {
        let message = self.messages()[first].clone();
        let params = self.mail_params(&message);
        let from = message
            .reverse_path
            .clone()
            .map_or(Path::Null, Path::Mailbox);
        let mut lines: Vec<(Expect, Command)> = Vec::new();
        if vecmail {
            let to = message.recipients.clone();
            lines.push((Expect::VecMail, Command::VecMail { from, to, params }));
        } else {
            lines.push((Expect::Mail, Command::Mail { from, params }));
            for (i, to) in message.recipients.iter().enumerate() {
                let to = Path::Mailbox(Mailbox::clone(to));
                lines.push((
                    Expect::Rcpt(i),
                    Command::Rcpt {
                        to,
                        params: Params::default(),
                    },
                ));
            }
        }
        if message.read_ack {
            match self.vmtp_verb("READACK", Feature::VmtpReadAck) {
                Ok(()) => lines.push((Expect::ReadAck, Command::ReadAck)),
                Err(reason) => self.drop_feature(Feature::VmtpReadAck, reason),
            }
        }
        let count = self.txn.as_ref().map_or(1, |t| t.count);
        if count > 1 {
            // `count` is bounded by the number of messages given, far below u32::MAX.
            let n = u32::try_from(count).unwrap_or(u32::MAX);
            lines.push((Expect::Batch, Command::Batch(n)));
        }
        lines.push((Expect::Data, Command::Data));
        group.extend(
            lines
                .into_iter()
                .map(|(e, c)| (e, c.to_line().trim_end().to_string())),
        );
    }

    /// SIZE (RFC 1870), BODY=8BITMIME (RFC 6152) and SMTPUTF8 (RFC 6531) when they apply.
    fn mail_params(&mut self, message: &Message) -> Params {
        let mut params = Vec::new();
        if self.ext.has(Extension::Size) {
            self.use_feature(Feature::Size);
            params.push(("SIZE".to_string(), Some(message.size().to_string())));
        }
        if message.has_8bit() && self.ext.has(Extension::EightBitMime) {
            self.use_feature(Feature::EightBitMime);
            params.push(("BODY".to_string(), Some("8BITMIME".to_string())));
        }
        if message.needs_smtputf8() {
            self.use_feature(Feature::SmtpUtf8);
            params.push(("SMTPUTF8".to_string(), None));
        }
        Params(params)
    }

    /// Lock-step mode: whether a queued command still makes sense given the replies so far.
    pub(super) fn still_wanted(&self, expect: Expect) -> bool {
        let Some(txn) = &self.txn else {
            return true;
        };
        match expect {
            Expect::Metadata(_) => !self.is_dropped(Feature::VmtpMetadata),
            Expect::Rcpt(_) => txn.server_open && !txn.over,
            Expect::ReadAck | Expect::Batch | Expect::Data => txn.open(),
            _ => true,
        }
    }

    /// A queued command that was not sent after all.
    pub(super) fn skipped(&mut self, expect: Expect) {
        if let (Expect::Metadata(i), Some(txn)) = (expect, &self.txn) {
            let first = txn.first;
            let key = self.messages()[first].metadata[i].0.clone();
            self.out.messages[first].dropped_metadata.push(key);
        }
    }
}
