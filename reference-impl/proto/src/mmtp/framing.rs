//! Splitting a byte stream into JSON values.
//!
//! The seed has no framing at all (the original parsed each TCP read as one JSON text, so a
//! value split across reads, or two in one read, failed). DESIGN: "Each JSON value is written
//! followed by `\n`; readers accept back-to-back values with or without newlines (a streaming
//! parser), and a value over the size limit (10 MiB default) gets an error and the connection
//! is closed."
//!
//! A value here is an object or an array: a small scanner follows strings, escapes and
//! bracket depth to find where it ends, in one pass over each byte however the stream is
//! chunked, and then the complete value is handed out to be parsed (and validated) by
//! serde_json. Requests are objects, so top-level scalars need no framing: a value that
//! starts with anything but `{` or `[` is reported once and skipped through the next newline,
//! which lets a line-oriented client resynchronise after garbage. Depth and size are limited
//! while scanning, before anything is buffered past the limit; both are fatal, since the end
//! of the offending value cannot be trusted.

use std::fmt;

/// 10 MiB, seed §9.1 ("recommended: 10MB") and DESIGN.
pub const DEFAULT_MAX_VALUE: usize = 10 * 1024 * 1024;

/// Far deeper than any packet (a packet is five levels deep); serde_json stops at 128.
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// Limits on one JSON value read from the stream; exceeding either is fatal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLimits {
    /// Bytes in one value, from its first `{` or `[` to its last bracket.
    pub max_value: usize,
    /// Bracket nesting depth of one value.
    pub max_depth: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        Self {
            max_value: DEFAULT_MAX_VALUE,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// A problem in the byte stream.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// Input that cannot start a JSON object or array; skipped through the next newline.
    NotJson,
    /// A value longer than the limit. Fatal.
    TooLarge {
        /// [`FrameLimits::max_value`], in bytes.
        limit: usize,
    },
    /// Brackets nested deeper than the limit. Fatal.
    TooDeep {
        /// [`FrameLimits::max_depth`], in nesting levels.
        limit: usize,
    },
}

impl FrameError {
    /// After a fatal error the decoder yields nothing more: the connection should be closed.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, FrameError::NotJson)
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotJson => f.write_str("input is not a JSON object"),
            Self::TooLarge { limit } => write!(f, "JSON value larger than {limit} bytes"),
            Self::TooDeep { limit } => write!(f, "JSON value nested deeper than {limit} levels"),
        }
    }
}

impl std::error::Error for FrameError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scan {
    /// Between values: whitespace is dropped.
    Between,
    /// Inside a value that started at `start`.
    Value {
        depth: usize,
        in_string: bool,
        escaped: bool,
    },
    /// Dropping input through the next `\n`.
    Skipping,
    /// A fatal error was reported.
    Failed,
}

/// Incremental decoder: [`push`](Self::push) bytes, then take values with
/// [`next_value`](Self::next_value) until it returns `None` ("need more bytes").
#[derive(Debug)]
pub struct JsonDecoder {
    buf: Vec<u8>,
    /// First byte of the current value, or of the unscanned input between values.
    start: usize,
    /// Next byte to scan.
    pos: usize,
    scan: Scan,
    limits: FrameLimits,
}

impl JsonDecoder {
    /// A decoder with nothing buffered.
    pub fn new(limits: FrameLimits) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            pos: 0,
            scan: Scan::Between,
            limits,
        }
    }

    /// Appends bytes from the stream; ignored after a fatal error.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.scan == Scan::Failed {
            return;
        }
        if self.start == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            self.start = 0;
        } else if self.start >= 64 * 1024 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.pos -= self.start;
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// True when no part of a value is buffered (a close now truncates nothing).
    pub fn is_idle(&self) -> bool {
        match self.scan {
            Scan::Failed => true,
            Scan::Between | Scan::Skipping => self.start == self.buf.len(),
            Scan::Value { .. } => false,
        }
    }

    /// The next complete value's bytes, an error, or `None` when more input is needed.
    pub fn next_value(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        while self.pos < self.buf.len() {
            let byte = self.buf[self.pos];
            self.pos += 1;
            match &mut self.scan {
                Scan::Failed => return None,
                Scan::Between => match byte {
                    b' ' | b'\t' | b'\r' | b'\n' => self.start = self.pos,
                    b'{' | b'[' => {
                        self.scan = Scan::Value {
                            depth: 1,
                            in_string: false,
                            escaped: false,
                        };
                    }
                    _ => {
                        self.scan = Scan::Skipping;
                        self.start = self.pos;
                        return Some(Err(FrameError::NotJson));
                    }
                },
                Scan::Skipping => {
                    self.start = self.pos;
                    if byte == b'\n' {
                        self.scan = Scan::Between;
                    }
                }
                Scan::Value {
                    depth,
                    in_string,
                    escaped,
                } => {
                    if *in_string {
                        match (*escaped, byte) {
                            (true, _) => *escaped = false,
                            (false, b'\\') => *escaped = true,
                            (false, b'"') => *in_string = false,
                            _ => {}
                        }
                    } else {
                        match byte {
                            b'"' => *in_string = true,
                            b'{' | b'[' => *depth += 1,
                            b'}' | b']' => *depth -= 1,
                            _ => {}
                        }
                    }
                    let (depth, complete) = (*depth, *depth == 0);
                    if depth > self.limits.max_depth {
                        return Some(Err(self.fail(FrameError::TooDeep {
                            limit: self.limits.max_depth,
                        })));
                    }
                    if self.pos - self.start > self.limits.max_value {
                        return Some(Err(self.fail(FrameError::TooLarge {
                            limit: self.limits.max_value,
                        })));
                    }
                    if complete {
                        let value = self.buf[self.start..self.pos].to_vec();
                        self.start = self.pos;
                        self.scan = Scan::Between;
                        return Some(Ok(value));
                    }
                }
            }
        }
        None
    }

    fn fail(&mut self, error: FrameError) -> FrameError {
        self.scan = Scan::Failed;
        self.buf = Vec::new();
        self.start = 0;
        self.pos = 0;
        error
    }
}

#[cfg(test)]
#[path = "framing_tests.rs"]
mod tests;
