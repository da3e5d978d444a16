//! The gateway's durable spool: every accepted message is written (and synced) to a store of
//! its own before the client hears 202, and removed once its delivery is finished, so a
//! restart resumes what was still queued. This reuses the embedded [`Store`]; the spool is a
//! separate directory, so spooled mail never shows in the local mailbox.
//!
//! Delivery is at least once: a message spooled again after a crash goes to every recipient
//! it was meant for, also the ones reached before the crash.

use mtp_proto::smtp::Mailbox;
use mtp_proto::smtp::client::Message;
use serde::{Deserialize, Serialize};

use crate::store::{AppendFuture, NewMessage, Store, StoreError};

/// What the spool keeps beside the envelope, in [`NewMessage::extra`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SpoolExtra {
    pub gateway_id: String,
    pub subject: String,
    pub created_at_ms: u64,
}

/// A spooled message read back at start.
#[derive(Clone, Debug)]
pub(crate) struct Spooled {
    pub spool_id: String,
    pub extra: SpoolExtra,
    pub message: Message,
}

#[derive(Clone, Debug)]
pub(crate) struct Spool {
    store: Store,
}

impl Spool {
    pub(super) fn new(store: Store) -> Self {
        Self { store }
    }

    /// Writes `message`; resolves to its spool id once durable.
    pub(super) fn save(&self, extra: &SpoolExtra, message: &Message) -> AppendFuture {
        self.store.append(NewMessage {
            reverse_path: message
                .reverse_path
                .as_ref()
                .map_or_else(String::new, ToString::to_string),
            recipients: message.recipients.iter().map(ToString::to_string).collect(),
            metadata: message.metadata.clone(),
            read_ack: message.read_ack,
            data: message.data.clone(),
            received_at_ms: extra.created_at_ms,
            protocol: "HTTP".into(),
            // Serializing a struct of strings and integers cannot fail.
            extra: serde_json::to_value(extra).ok(),
            ..NewMessage::default()
        })
    }

    /// Forgets a finished message. A failure only means it is delivered again after a restart.
    pub(super) fn remove(&self, spool_id: String) {
        let done = self.store.remove(&[spool_id]);
        tokio::spawn(async move {
            if let Err(e) = done.await {
                tracing::warn!(error = %e, "could not remove a delivered message from the spool");
            }
        });
    }

    /// Everything still spooled, oldest first. Records that cannot be read back are skipped
    /// with a warning (they stay in the spool for a person to look at).
    pub(super) fn recover(&self) -> Result<Vec<Spooled>, StoreError> {
        let mut out = Vec::new();
        for stored in self.store.list() {
            let data = self.store.data(&stored.id)?;
            let m = stored.message;
            let extra = m
                .extra
                .and_then(|e| serde_json::from_value::<SpoolExtra>(e).ok());
            let sender = (!m.reverse_path.is_empty())
                .then(|| Mailbox::parse(&m.reverse_path))
                .transpose();
            let recipients: Result<Vec<Mailbox>, _> =
                m.recipients.iter().map(|r| Mailbox::parse(r)).collect();
            let (Some(extra), Ok(reverse_path), Ok(recipients)) = (extra, sender, recipients)
            else {
                tracing::warn!(spool_id = %stored.id, "skipping an unreadable spooled message");
                continue;
            };
            out.push(Spooled {
                spool_id: stored.id,
                extra,
                message: Message {
                    reverse_path,
                    recipients,
                    data,
                    metadata: m.metadata,
                    read_ack: m.read_ack,
                },
            });
        }
        Ok(out)
    }
}
