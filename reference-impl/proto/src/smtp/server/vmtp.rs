//! The VMTP verbs that do not open a transaction: METADATA, BATCH, READACK and STATUS
//! (VECMAIL lives with the envelope, ENCRYPT START with STARTTLS).

use super::{MessageState, Phase, ServerSession, StatusInfo, Waiting};
use crate::smtp::reply::{EnhancedCode, Reply, ReplyCode};
use crate::time::rfc3339;

impl ServerSession {
    /// DESIGN: METADATA is allowed after EHLO and before the message data, before or after
    /// MAIL; it is attached to the next message. A repeated key replaces the earlier value.
    pub(super) fn metadata(&mut self, key: String, value: String) {
        if matches!(&self.phase, Phase::Transaction(e) if e.chunking()) {
            return self.error(Reply::with_status(
                ReplyCode::BAD_SEQUENCE,
                EnhancedCode::new(5, 5, 1),
                "METADATA not allowed after BDAT",
            ));
        }
        let limits = &self.config.limits;
        let replaces = self
            .metadata
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(&key));
        if replaces.is_none() && self.metadata.len() >= limits.max_metadata_entries {
            return self.send(Reply::with_status(
                ReplyCode::INSUFFICIENT_STORAGE,
                EnhancedCode::new(4, 5, 3),
                "Too many metadata entries",
            ));
        }
        let others: usize = self
            .metadata
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != replaces)
            .map(|(_, (k, v))| k.len() + v.len())
            .sum();
        if others + key.len() + value.len() > limits.max_metadata_bytes {
            return self.error(Reply::with_status(
                ReplyCode::EXCEEDED_STORAGE,
                EnhancedCode::new(5, 3, 4),
                "Metadata exceeds the size limit",
            ));
        }
        match replaces {
            Some(i) => self.metadata[i] = (key, value),
            None => self.metadata.push((key, value)),
        }
        self.send(Reply::with_status(
            ReplyCode::OK,
            EnhancedCode::new(2, 0, 0),
            "Metadata accepted",
        ));
    }

    /// DESIGN: BATCH n after an envelope with recipients and before DATA.
    pub(super) fn batch(&mut self, count: u32) {
        let max = self.config.limits.max_batch;
        let reply = match &mut self.phase {
            Phase::Transaction(e) if e.has_recipients() && !e.chunking() => {
                if !(1..=max).contains(&count) {
                    Reply::with_status(
                        ReplyCode::PARAMETER_SYNTAX_ERROR,
                        EnhancedCode::new(5, 5, 4),
                        format!("Batch count must be 1 to {max}"),
                    )
                } else {
                    e.batch = Some((count, 0));
                    e.vmtp = true;
                    return self.send(Reply::with_status(
                        ReplyCode::OK,
                        EnhancedCode::new(2, 0, 0),
                        format!("Batch of {count} messages: send DATA {count} times"),
                    ));
                }
            }
            _ => Reply::with_status(
                ReplyCode::BAD_SEQUENCE,
                EnhancedCode::new(5, 5, 1),
                "BATCH needs MAIL or VECMAIL with recipients first",
            ),
        };
        self.error(reply);
    }

    /// DESIGN: READACK inside a transaction, before the message data.
    pub(super) fn read_ack(&mut self) {
        let Phase::Transaction(envelope) = &mut self.phase else {
            return self.error(Reply::with_status(
                ReplyCode::BAD_SEQUENCE,
                EnhancedCode::new(5, 5, 1),
                "READACK needs an open mail transaction",
            ));
        };
        if envelope.chunking() {
            return self.error(Reply::with_status(
                ReplyCode::BAD_SEQUENCE,
                EnhancedCode::new(5, 5, 1),
                "READACK not allowed after BDAT",
            ));
        }
        envelope.read_ack = true;
        envelope.vmtp = true;
        self.send(Reply::with_status(
            ReplyCode::OK,
            EnhancedCode::new(2, 0, 0),
            "Read receipt requested",
        ));
    }

    pub(super) fn status(&mut self, id: String) {
        let resume = std::mem::replace(&mut self.phase, Phase::Ready);
        self.actions
            .push_back(super::Action::QueryStatus(id.clone()));
        self.phase = Phase::Waiting(Waiting::Status {
            id,
            resume: Box::new(resume),
        });
    }
}

/// `250 <id> PENDING|DELIVERED|OPENED [time]`, or 550 for an unknown id.
pub(super) fn status_reply(id: &str, info: Option<StatusInfo>) -> Reply {
    let Some(info) = info else {
        return Reply::with_status(
            ReplyCode::MAILBOX_UNAVAILABLE,
            EnhancedCode::new(5, 0, 0),
            format!("{id} Unknown message id"),
        );
    };
    let state = match info.state {
        MessageState::Pending => "PENDING",
        MessageState::Delivered => "DELIVERED",
        MessageState::Opened => "OPENED",
    };
    match info.at_ms {
        Some(ms) => Reply::with_status(
            ReplyCode::OK,
            EnhancedCode::new(2, 0, 0),
            format!("{id} {state} {}", rfc3339(ms)),
        ),
        None => Reply::with_status(
            ReplyCode::OK,
            EnhancedCode::new(2, 0, 0),
            format!("{id} {state}"),
        ),
    }
}
