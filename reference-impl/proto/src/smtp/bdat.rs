//! The BDAT chunk receiver (RFC 3030 CHUNKING).
//!
//! RFC 3030 §2: "The BDAT verb takes two arguments. The first argument indicates the length,
//! in octets, of the binary data chunk." The chunk is exactly that many octets, with no
//! dot-stuffing and no terminator; the server replies once the whole chunk has arrived.

/// Counts the octets of one BDAT chunk into the message being assembled.
#[derive(Debug)]
pub struct BdatChunk {
    remaining: u64,
}

impl BdatChunk {
    pub fn new(size: u64) -> Self {
        Self { remaining: size }
    }

    /// Takes up to the rest of the chunk from `input` into `message` (nothing is copied once
    /// `message` would pass `max_size`; the chunk is still consumed). Returns octets consumed.
    pub fn feed(
        &mut self,
        input: &[u8],
        message: &mut Vec<u8>,
        max_size: u64,
        overflow: &mut bool,
    ) -> usize {
        let n = input
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        if !*overflow && (message.len() + n) as u64 > max_size {
            *overflow = true;
            message.clear();
        }
        if !*overflow {
            message.extend_from_slice(&input[..n]);
        }
        self.remaining -= n as u64;
        n
    }

    pub fn is_complete(&self) -> bool {
        self.remaining == 0
    }
}

#[cfg(test)]
mod tests {
    use super::BdatChunk;

    #[test]
    fn takes_exactly_the_chunk() {
        let mut chunk = BdatChunk::new(5);
        let (mut message, mut overflow) = (Vec::new(), false);
        assert_eq!(chunk.feed(b"ab", &mut message, 100, &mut overflow), 2);
        assert_eq!(
            chunk.feed(b"c\r\nQUIT\r\n", &mut message, 100, &mut overflow),
            3
        );
        assert!(chunk.is_complete());
        assert_eq!(message, b"abc\r\n");
    }

    #[test]
    fn overflow_drops_the_bytes_but_consumes_them() {
        let mut chunk = BdatChunk::new(10);
        let (mut message, mut overflow) = (Vec::new(), false);
        assert_eq!(chunk.feed(&[b'x'; 10], &mut message, 4, &mut overflow), 10);
        assert!(overflow && message.is_empty() && chunk.is_complete());
    }
}
