//! The store's error type.

use std::fmt;
use std::io;

/// Why a store operation failed.
#[non_exhaustive]
#[derive(Debug)]
pub enum StoreError {
    /// The file system failed while opening or reading the store.
    Io(io::Error),
    /// A write or its sync failed (a full disk, an I/O error): the operation was not done and
    /// the store tries again with the next one. Its text is fixed, fit for a client's reply;
    /// the operating system's error is its [`source`](std::error::Error::source), and the
    /// store logged it.
    Write(io::Error),
    /// The log holds a record whose checksum is right but whose content cannot be decoded
    /// (written by a newer version, or a bug). Left in place rather than truncated away.
    Corrupt {
        /// The record's byte offset in the log.
        offset: u64,
        /// Why it could not be decoded.
        reason: String,
    },
    /// The writer has stopped (after a simulated power loss, or it panicked).
    Closed,
    /// The store was opened with [`Store::open_read_only`](super::Store::open_read_only).
    ReadOnly,
    /// No message has that id (or it was removed).
    NotFound,
    /// Another process (or another `Store` in this one) has the store open for writing.
    Locked,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "store I/O error: {e}"),
            Self::Write(e) => f.write_str(client_text(e.kind())),
            Self::Corrupt { offset, reason } => {
                write!(f, "corrupt store record at offset {offset}: {reason}")
            }
            Self::Closed => f.write_str("the store's writer has stopped"),
            Self::ReadOnly => f.write_str("the store is open read-only"),
            Self::NotFound => f.write_str("no such message"),
            Self::Locked => f.write_str("the store is already open for writing elsewhere"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) | Self::Write(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// What a client may be told about a failed write: a fixed text by kind of failure, never the
/// operating system's message. A full disk gets RFC 3463's X.3.1 wording.
pub(crate) fn client_text(kind: io::ErrorKind) -> &'static str {
    use io::ErrorKind::{FileTooLarge, QuotaExceeded, StorageFull};
    match kind {
        StorageFull | QuotaExceeded | FileTooLarge => "insufficient system storage",
        _ => "local storage failure",
    }
}
