//! The store's error type.

use std::fmt;
use std::io;

/// Why a store operation failed.
#[non_exhaustive]
#[derive(Debug)]
pub enum StoreError {
    /// The file system failed. After a failed write or sync the store refuses further writes:
    /// once `fsync` has failed, what reached the disk is unknown.
    Io(io::Error),
    /// The log holds a record whose checksum is right but whose content cannot be decoded
    /// (written by a newer version, or a bug). Left in place rather than truncated away.
    Corrupt { offset: u64, reason: String },
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
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}
