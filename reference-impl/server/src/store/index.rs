//! The in-memory index: envelope, metadata and status of every live message, where its body
//! sits in the log, and a mailbox lookup by recipient. Rebuilt from the log on open; only the
//! writer thread (or a read-only refresh) changes it, and only after the records are written.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::record::{FRAME_HEADER, Record};
use super::{DeliveryStatus, NewMessage, StoredMessage};

/// Where a message body lives in the log file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BodyRef {
    pub offset: u64,
    pub len: usize,
}

#[derive(Debug)]
pub(crate) struct Entry {
    /// With an empty `data`.
    pub message: NewMessage,
    pub body: BodyRef,
    pub status: DeliveryStatus,
    pub opened_at_ms: Option<u64>,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    /// Keyed by sequence number, so iteration is in id order.
    entries: BTreeMap<u64, Entry>,
    /// Mailbox key (see [`mailbox_key`]) to the messages addressed to it. Only looked up, never
    /// iterated, so its order cannot leak into anything a simulation observes.
    by_recipient: HashMap<String, BTreeSet<u64>>,
    /// One past the highest sequence number ever seen, removed messages included, so an id is
    /// never handed out twice.
    next_seq: u64,
}

/// Formats a sequence number as a message id: 12 uppercase hex digits.
pub(crate) fn format_id(seq: u64) -> String {
    format!("{seq:012X}")
}

/// The inverse of [`format_id`]; also accepts lowercase (ids get retyped by people).
pub(crate) fn parse_id(id: &str) -> Option<u64> {
    if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(id, 16).ok()
}

/// Addresses compare exactly on the local part and case-insensitively on the domain.
pub(crate) fn mailbox_key(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => address.to_owned(),
    }
}

impl Index {
    pub(super) fn next_seq(&self) -> u64 {
        self.next_seq.max(1)
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn get(&self, seq: u64) -> Option<&Entry> {
        self.entries.get(&seq)
    }

    /// Applies a record read from the log; `offset` is where its frame starts.
    pub(super) fn apply(&mut self, offset: u64, record: Record) {
        match record {
            Record::Message { seq, message, body } => {
                let body = BodyRef {
                    offset: offset + (FRAME_HEADER + body.start) as u64,
                    len: body.len(),
                };
                self.insert(seq, *message, body);
            }
            Record::Opened { seq, at_ms } => {
                self.mark_opened(seq, at_ms);
            }
            Record::Removed { seqs } => self.remove(&seqs),
        }
    }

    pub(super) fn insert(&mut self, seq: u64, message: NewMessage, body: BodyRef) {
        self.next_seq = self.next_seq.max(seq + 1);
        for rcpt in &message.recipients {
            self.by_recipient
                .entry(mailbox_key(rcpt))
                .or_default()
                .insert(seq);
        }
        let status = DeliveryStatus::Delivered;
        self.entries.insert(
            seq,
            Entry {
                message,
                body,
                status,
                opened_at_ms: None,
            },
        );
    }

    /// Returns true if the message exists and was not opened before.
    pub(super) fn mark_opened(&mut self, seq: u64, at_ms: u64) -> bool {
        match self.entries.get_mut(&seq) {
            Some(entry) if entry.opened_at_ms.is_none() => {
                entry.status = DeliveryStatus::Opened;
                entry.opened_at_ms = Some(at_ms);
                true
            }
            _ => false,
        }
    }

    pub(super) fn remove(&mut self, seqs: &[u64]) {
        for seq in seqs {
            let Some(entry) = self.entries.remove(seq) else {
                continue;
            };
            for rcpt in &entry.message.recipients {
                let key = mailbox_key(rcpt);
                if let Some(set) = self.by_recipient.get_mut(&key) {
                    set.remove(seq);
                    if set.is_empty() {
                        self.by_recipient.remove(&key);
                    }
                }
            }
        }
    }

    pub(super) fn stored(&self, seq: u64) -> Option<StoredMessage> {
        self.entries.get(&seq).map(|entry| stored(seq, entry))
    }

    pub(super) fn list(&self) -> Vec<StoredMessage> {
        self.entries
            .iter()
            .map(|(&seq, entry)| stored(seq, entry))
            .collect()
    }

    pub(super) fn for_recipient(&self, address: &str) -> Vec<StoredMessage> {
        let Some(seqs) = self.by_recipient.get(&mailbox_key(address)) else {
            return Vec::new();
        };
        seqs.iter().filter_map(|&seq| self.stored(seq)).collect()
    }
}

fn stored(seq: u64, entry: &Entry) -> StoredMessage {
    StoredMessage {
        id: format_id(seq),
        message: entry.message.clone(),
        status: entry.status,
        opened_at_ms: entry.opened_at_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(rcpts: &[&str]) -> NewMessage {
        NewMessage {
            recipients: rcpts.iter().map(|r| r.to_string()).collect(),
            ..NewMessage::default()
        }
    }

    const BODY: BodyRef = BodyRef { offset: 0, len: 0 };

    #[test]
    fn ids_format_and_parse() {
        assert_eq!(format_id(42), "00000000002A");
        assert_eq!(parse_id("00000000002A"), Some(42));
        assert_eq!(parse_id("00000000002a"), Some(42));
        assert_eq!(parse_id("2A"), None);
        assert_eq!(parse_id("+0000000002A"), None);
    }

    #[test]
    fn recipient_lookup_folds_only_the_domain() {
        let mut index = Index::default();
        index.insert(1, to(&["Bob@Example.COM", "carol@example.com"]), BODY);
        index.insert(2, to(&["bob@example.com"]), BODY);
        let ids = |index: &Index, addr| {
            index
                .for_recipient(addr)
                .into_iter()
                .map(|m| m.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&index, "Bob@example.com"), ["000000000001"]);
        assert_eq!(ids(&index, "bob@EXAMPLE.com"), ["000000000002"]);
        assert_eq!(ids(&index, "carol@example.com"), ["000000000001"]);
        index.remove(&[1]);
        assert!(ids(&index, "carol@example.com").is_empty());
        assert_eq!(index.next_seq(), 3, "removing never lowers the next id");
    }

    #[test]
    fn opened_only_once() {
        let mut index = Index::default();
        index.insert(5, to(&["a@b"]), BODY);
        assert!(index.mark_opened(5, 10));
        assert!(!index.mark_opened(5, 20));
        assert!(!index.mark_opened(6, 20));
        let m = index.stored(5).unwrap();
        assert_eq!(
            (m.status, m.opened_at_ms),
            (DeliveryStatus::Opened, Some(10))
        );
    }
}
