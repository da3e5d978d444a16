//! The BDAT chunk receiver (RFC 3030 CHUNKING).
//!
//! RFC 3030 §2: "The BDAT verb takes two arguments. The first argument indicates the length,
//! in octets, of the binary data chunk." The chunk is exactly that many octets, with no
//! dot-stuffing and no terminator; the server replies once the whole chunk has arrived.

use super::body::MessageBody;

/// Counts the octets of one BDAT chunk into the message being assembled.
#[derive(Debug)]
pub struct BdatChunk {
    remaining: u64,
}

impl BdatChunk {
    /// A chunk of `size` octets, as BDAT announced it.
    pub fn new(size: u64) -> Self {
        Self { remaining: size }
    }

    /// Takes up to the rest of the chunk from `input` into `message` (which keeps nothing past
    /// its size limit; the chunk is still consumed), or drops it for a refused chunk (`None`).
    /// Returns octets consumed.
    pub fn feed(&mut self, input: &[u8], message: Option<&mut MessageBody>) -> usize {
        let n = input
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        if let Some(message) = message {
            message.push(&input[..n]);
        }
        self.remaining -= n as u64;
        n
    }

    /// True once all the announced octets were fed.
    pub fn is_complete(&self) -> bool {
        self.remaining == 0
    }
}

#[cfg(test)]
mod tests {
    use super::{BdatChunk, MessageBody};

    #[test]
    fn takes_exactly_the_chunk() {
        let mut chunk = BdatChunk::new(5);
        let mut message = MessageBody::new(1, 100);
        assert_eq!(chunk.feed(b"ab", Some(&mut message)), 2);
        assert_eq!(chunk.feed(b"c\r\nQUIT\r\n", Some(&mut message)), 3);
        assert!(chunk.is_complete());
        assert_eq!(message.into_held(), b"abc\r\n");
    }

    #[test]
    fn overflow_drops_the_bytes_but_consumes_them() {
        let mut chunk = BdatChunk::new(10);
        let mut message = MessageBody::new(1, 4);
        assert_eq!(chunk.feed(&[b'x'; 10], Some(&mut message)), 10);
        assert!(message.too_big() && message.held() == 0 && chunk.is_complete());
        let mut refused = BdatChunk::new(3);
        assert_eq!(refused.feed(b"abcdef", None), 3);
    }
}
