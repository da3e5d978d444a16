//! The file-system calls that make the store's files durable, shared with the MMTP replay cache:
//! the operations an append-only file needs ([`LogFile`], which tests wrap to fail like a full
//! disk) and the directory fsyncs that make new files and directories survive a power loss.
//!
//! A new file is durable only once the directory entry naming it is: `fsync` on the file alone
//! does not write its directory (POSIX leaves it to the caller, and ext4 or XFS can lose a
//! freshly created, even fsynced, file on power loss). Each new directory needs the same from
//! its parent.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, ErrorKind, Seek, Write};
use std::path::Path;

/// The file operations of an append-only log: a [`File`], or in tests one that fails like a
/// full or failing disk (`faults.rs`).
pub(crate) trait LogFile: Write + Seek + fmt::Debug + Send + 'static {
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    fn sync_data(&mut self) -> io::Result<()>;
    fn sync_all(&mut self) -> io::Result<()>;
}

/// Cuts `file` back to `len` and syncs it, so that bytes of a failed append never come back
/// after a crash; the next write goes at `len`.
pub(crate) fn cut_back<F: LogFile + ?Sized>(file: &mut F, len: u64) -> io::Result<()> {
    file.set_len(len)?;
    file.seek(io::SeekFrom::Start(len))?;
    file.sync_all()
}

impl LogFile for File {
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        File::set_len(self, len)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        File::sync_data(self)
    }

    fn sync_all(&mut self) -> io::Result<()> {
        File::sync_all(self)
    }
}

/// Creates `dir` and any missing parents, making each new directory entry durable.
pub(crate) fn create_dir_all(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => sync_parent(dir),
        // Created meanwhile by someone else, who syncs it.
        Err(e) if e.kind() == ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Makes the entries of `dir` (a file created or renamed in it) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(test)]
    recorder::record(dir);
    match File::open(dir).and_then(|d| d.sync_all()) {
        // Some platforms (Windows) cannot open or sync a directory; nothing more can be done.
        Err(e) if e.kind() == ErrorKind::PermissionDenied || cfg!(windows) => Ok(()),
        other => other,
    }
}

/// Makes `path`'s entry in its directory durable.
pub(crate) fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) if parent.as_os_str().is_empty() => sync_dir(Path::new(".")),
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

/// Test support: which directories this thread synced, to check that every new entry is.
#[cfg(test)]
pub(crate) mod recorder {
    use std::cell::RefCell;
    use std::path::{Path, PathBuf};

    thread_local! {
        static SYNCED: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
    }

    pub(super) fn record(dir: &Path) {
        SYNCED.with(|s| s.borrow_mut().push(dir.to_path_buf()));
    }

    /// The directories synced on this thread since the last call.
    pub(crate) fn take() -> Vec<PathBuf> {
        SYNCED.with(|s| std::mem::take(&mut *s.borrow_mut()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_created_directory_is_synced_in_its_parent() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a").join("b");
        recorder::take();
        create_dir_all(&dir).unwrap();
        assert!(dir.is_dir());
        assert_eq!(
            recorder::take(),
            [root.path().to_path_buf(), root.path().join("a")]
        );
        create_dir_all(&dir).unwrap();
        assert!(recorder::take().is_empty(), "nothing new, nothing synced");
    }
}
