//! The octets of one message as they arrive (DATA after dot-unstuffing, or BDAT chunks): the
//! size limit, and the hand-over of what has arrived so far to a driver that keeps large
//! messages out of memory.
//!
//! RFC 1870 §6.3: a server that gets more than its fixed maximum "will return the 552 reply
//! code" after the data; the octets past the limit are consumed and thrown away here, and the
//! message is refused as a whole (nothing partial is handed on for storage).
//!
//! A driver that never calls [`MessageBody::take`] gets the whole message at the end; one
//! that does keeps the taken octets itself (the reference server spools them to disk) and
//! gets only the rest, with the count it took, at the end.

/// One message being received.
#[derive(Debug, PartialEq, Eq)]
pub struct MessageBody {
    /// Which message of the session this is (the driver tells a new message from the old).
    number: u64,
    held: Vec<u8>,
    /// Octets handed to the driver before `held`.
    taken: u64,
    max_size: u64,
    too_big: bool,
}

impl MessageBody {
    /// Message `number` of the session, refused (552) if it grows past `max_size` octets.
    pub fn new(number: u64, max_size: u64) -> Self {
        Self {
            number,
            held: Vec::new(),
            taken: 0,
            max_size,
            too_big: false,
        }
    }

    /// Adds received octets; past the size limit nothing more is kept.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.too_big {
            return;
        }
        if self.len().saturating_add(bytes.len() as u64) > self.max_size {
            self.too_big = true;
            self.held = Vec::new();
            return;
        }
        self.held.extend_from_slice(bytes);
    }

    /// Which message of the session this is, so a driver tells a new message from the last one.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// True once the message passed the size limit: it will be refused with 552 (RFC 1870).
    pub fn too_big(&self) -> bool {
        self.too_big
    }

    /// Octets of the message so far, taken or held.
    pub fn len(&self) -> u64 {
        self.taken + self.held.len() as u64
    }

    /// True when no octet has arrived.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Octets held in memory (not yet taken).
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Octets handed over by [`MessageBody::take`] so far.
    pub fn taken(&self) -> u64 {
        self.taken
    }

    /// Hands the held octets over (nothing once the message is too big: it will be refused).
    pub fn take(&mut self) -> Vec<u8> {
        let bytes = std::mem::take(&mut self.held);
        self.taken += bytes.len() as u64;
        bytes
    }

    /// The held octets: the whole message if nothing was taken, else what followed the taken.
    pub fn into_held(self) -> Vec<u8> {
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::MessageBody;

    #[test]
    fn taken_and_held_octets_make_the_message_and_count_against_the_limit() {
        let mut body = MessageBody::new(1, 10);
        body.push(b"abcd");
        assert_eq!(body.take(), b"abcd");
        body.push(b"efgh");
        assert_eq!((body.len(), body.held(), body.taken()), (8, 4, 4));
        assert!(!body.too_big());
        body.push(b"ijk");
        assert!(body.too_big());
        assert_eq!((body.held(), body.take()), (0, Vec::new()));
    }
}
