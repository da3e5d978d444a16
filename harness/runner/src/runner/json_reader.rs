//! Reading JSON values from a byte stream, as an MMTP client does: values back to back, with or
//! without whitespace (a newline, usually) between them, each possibly split across reads.
//!
//! A value that cannot be JSON is reported with its bytes up to the next newline, which are
//! then dropped, so one bad line does not hide the values after it.

use serde_json::Value;

/// Incremental reader: [`feed`](Self::feed) bytes, take values with
/// [`next_value`](Self::next_value) until it returns `None` ("need more bytes").
#[derive(Debug, Default)]
pub struct JsonReader {
    buf: Vec<u8>,
}

/// Bytes that are not a JSON value, as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotJson {
    /// The offending bytes, up to and including the next newline (or all that were
    /// buffered); they are dropped from the reader.
    pub bytes: Vec<u8>,
    /// What the JSON parser found wrong.
    pub error: String,
}

impl JsonReader {
    /// A reader with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whitespace between values is dropped as it comes, so [`buffered`](Self::buffered)
    /// holds only the start of a value (or bytes that are not one).
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.skip_whitespace();
    }

    fn skip_whitespace(&mut self) {
        let start = self
            .buf
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(self.buf.len());
        self.buf.drain(..start);
    }

    /// The next complete value, an error for bytes that cannot start or continue one, or
    /// `None` when more bytes are needed.
    pub fn next_value(&mut self) -> Option<Result<Value, NotJson>> {
        let start = self.buf.iter().position(|b| !b.is_ascii_whitespace())?;
        let mut values = serde_json::Deserializer::from_slice(&self.buf[start..]).into_iter();
        match values.next()? {
            Ok(value) => {
                let end = start + values.byte_offset();
                self.buf.drain(..end);
                self.skip_whitespace();
                Some(Ok(value))
            }
            Err(e) if e.is_eof() => None,
            Err(e) => {
                let line_end = self.buf[start..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(self.buf.len(), |i| start + i + 1);
                let bytes: Vec<u8> = self.buf.drain(..line_end).skip(start).collect();
                Some(Err(NotJson {
                    bytes,
                    error: e.to_string(),
                }))
            }
        }
    }

    /// Bytes received but not yet taken as a value.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Takes the bytes received but not yet taken as a value, leaving none.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_in_any_chunking() {
        let stream = b"{\"a\":1}\n{\"b\":\"x y\"}{\"c\":[1,2]}\n";
        for size in 1..stream.len() {
            let mut reader = JsonReader::new();
            let mut got = Vec::new();
            for chunk in stream.chunks(size) {
                reader.feed(chunk);
                while let Some(v) = reader.next_value() {
                    got.push(v.unwrap());
                }
            }
            assert_eq!(
                got,
                vec![json!({"a": 1}), json!({"b": "x y"}), json!({"c": [1, 2]})]
            );
            assert!(reader.buffered().is_empty(), "{size}");
        }
    }

    #[test]
    fn garbage_is_reported_and_skipped_to_the_line_end() {
        let mut reader = JsonReader::new();
        reader.feed(b"hello world\n{\"ok\":true}\n");
        let bad = reader.next_value().unwrap().unwrap_err();
        assert_eq!(bad.bytes, b"hello world\n");
        assert_eq!(reader.next_value().unwrap().unwrap(), json!({"ok": true}));
        assert!(reader.next_value().is_none());
        reader.feed(b"{\"partial\":");
        assert!(reader.next_value().is_none());
        assert_eq!(reader.take_buffered(), b"{\"partial\":");
    }
}
