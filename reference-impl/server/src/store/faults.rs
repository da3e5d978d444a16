//! Test support: a [`LogFile`] over a real file that fails as a full or failing disk does, to
//! test recovery without root or a small file system.
//!
//! A full disk takes a write only up to the space left (a short write) and then fails with
//! `StorageFull`, so the file ends in part of a record, as on a real full file system; cutting
//! the file shorter frees its space again. Syncs and truncations can be made to fail too.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::durable::LogFile;

/// What the disk does wrong; clones share it, so a test changes it while a store runs.
#[derive(Clone, Debug, Default)]
pub(crate) struct Faults {
    plan: Arc<Mutex<Plan>>,
}

#[derive(Debug, Default)]
struct Plan {
    /// Bytes the disk still takes; `None` for no limit.
    space: Option<u64>,
    /// How many of the next syncs (data or all) fail.
    failing_syncs: u32,
    /// Whether truncation fails.
    failing_truncates: bool,
}

/// The operating system's text, which must never reach a client.
pub(crate) const OS_TEXT: &str = "No space left on device (os error 28, simulated)";

impl Faults {
    // A test that panicked while holding it has failed already.
    fn plan(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// From now on the disk takes only `bytes` more.
    pub(crate) fn disk_full_after(&self, bytes: u64) {
        self.plan().space = Some(bytes);
    }

    /// Space was freed: writes succeed again.
    pub(crate) fn free_space(&self) {
        self.plan().space = None;
    }

    /// The next `count` syncs fail (as an `EIO` from `fsync` does).
    pub(crate) fn fail_syncs(&self, count: u32) {
        self.plan().failing_syncs = count;
    }

    pub(crate) fn fail_truncates(&self, fail: bool) {
        self.plan().failing_truncates = fail;
    }

    pub(crate) fn wrap(&self, file: File) -> FaultyFile {
        FaultyFile {
            file,
            faults: self.clone(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct FaultyFile {
    file: File,
    faults: Faults,
}

impl FaultyFile {
    fn sync(&self) -> io::Result<()> {
        let mut plan = self.faults.plan();
        if plan.failing_syncs > 0 {
            plan.failing_syncs -= 1;
            return Err(io::Error::other(
                "Input/output error (os error 5, simulated)",
            ));
        }
        Ok(())
    }
}

impl Write for FaultyFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut plan = self.faults.plan();
        let fits = match plan.space {
            None => buf.len(),
            Some(0) => return Err(io::Error::new(io::ErrorKind::StorageFull, OS_TEXT)),
            Some(space) => buf.len().min(usize::try_from(space).unwrap_or(usize::MAX)),
        };
        let written = self.file.write(&buf[..fits])?;
        if let Some(space) = &mut plan.space {
            *space -= written as u64;
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Seek for FaultyFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}

impl LogFile for FaultyFile {
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        let mut plan = self.faults.plan();
        if plan.failing_truncates {
            return Err(io::Error::other("truncate failed (simulated)"));
        }
        let before = self.file.metadata()?.len();
        self.file.set_len(len)?;
        if let Some(space) = &mut plan.space {
            *space += before.saturating_sub(len);
        }
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.sync()?;
        self.file.sync_data()
    }

    fn sync_all(&mut self) -> io::Result<()> {
        self.sync()?;
        self.file.sync_all()
    }
}
