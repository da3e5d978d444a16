//! A simulated disk for the deterministic network simulation: one store's log in memory, split
//! into a synced part (survives anything) and an unsynced tail (written, not yet synced).
//!
//! The simulation keeps a [`MemDisk`] for a simulated host across that host's crashes: a
//! process crash keeps what was written (the kernel holds it), a power loss keeps the synced
//! part and at most a prefix of the unsynced tail (a torn write when the cut falls inside a
//! record). Every store opened for writing gets a [`MemLog`] bound to the disk's current
//! cycle; a crash or a newer writer starts a new cycle, so a store left over from before can
//! no longer write (as the file lock and the dead process guarantee with a real disk).

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::StoreError;
use super::log::{Log, ScanEnd, scan_reader};
use super::record::Record;

/// An in-memory disk holding one store's log; clones share it.
#[derive(Clone, Debug, Default)]
pub struct MemDisk {
    state: Arc<Mutex<DiskState>>,
}

#[derive(Debug, Default)]
struct DiskState {
    bytes: Vec<u8>,
    /// Bytes known to be durable: `bytes[..synced]`.
    synced: usize,
    /// Bumped by every crash and every writable open; a [`MemLog`] of another cycle is fenced.
    cycle: u64,
    syncs: u64,
}

impl MemDisk {
    /// An empty disk.
    pub fn new() -> Self {
        Self::default()
    }

    // Every update under this lock is a few assignments that cannot panic half-way, so a
    // poisoned lock still guards a consistent state.
    fn lock(&self) -> MutexGuard<'_, DiskState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes written, synced or not.
    pub fn len(&self) -> u64 {
        self.lock().bytes.len() as u64
    }

    /// Whether the disk holds no byte, synced or not.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes that survive a power loss.
    pub fn synced_len(&self) -> u64 {
        self.lock().synced as u64
    }

    /// How many syncs wrote something.
    pub fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// The process using the disk died: what it wrote stays, but its store can write no more.
    pub fn process_crash(&self) {
        self.lock().cycle += 1;
    }

    /// The host lost power: of the unsynced tail only the first `keep` bytes reach the disk
    /// (a torn write when that cuts a record). Returns how many bytes were lost.
    pub fn power_loss(&self, keep: u64) -> u64 {
        let mut state = self.lock();
        state.cycle += 1;
        let unsynced = state.bytes.len() - state.synced;
        let keep = usize::try_from(keep).unwrap_or(usize::MAX).min(unsynced);
        let end = state.synced + keep;
        state.bytes.truncate(end);
        state.synced = end;
        (unsynced - keep) as u64
    }

    /// A copy of everything written.
    pub fn contents(&self) -> Vec<u8> {
        self.lock().bytes.clone()
    }

    /// A writer for a store opened now; writers of earlier opens are fenced off.
    pub(crate) fn open_log(&self) -> MemLog {
        let mut state = self.lock();
        state.cycle += 1;
        MemLog {
            disk: self.clone(),
            cycle: state.cycle,
        }
    }

    /// Reads the records from `from` on (see [`super::log::scan`]).
    pub(crate) fn scan(
        &self,
        from: u64,
        apply: impl FnMut(u64, Record),
    ) -> Result<ScanEnd, StoreError> {
        let bytes = self.contents();
        let start = usize::try_from(from).unwrap_or(usize::MAX).min(bytes.len());
        scan_reader(&bytes[start..], bytes.len() as u64, from, apply)
    }

    /// Cuts a torn tail off, durably (what opening a log for writing does).
    pub(crate) fn truncate(&self, end: u64) {
        let mut state = self.lock();
        let end = usize::try_from(end)
            .unwrap_or(usize::MAX)
            .min(state.bytes.len());
        state.bytes.truncate(end);
        state.synced = end;
    }

    pub(crate) fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let state = self.lock();
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let range = start..start.saturating_add(buf.len());
        let bytes = state
            .bytes
            .get(range)
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

/// The writer's handle on a [`MemDisk`], valid for one cycle.
#[derive(Debug)]
pub(crate) struct MemLog {
    disk: MemDisk,
    cycle: u64,
}

impl MemLog {
    fn state(&self) -> io::Result<MutexGuard<'_, DiskState>> {
        let state = self.disk.lock();
        if state.cycle != self.cycle {
            return Err(io::Error::other(
                "the simulated disk was power-cycled or reopened under this store",
            ));
        }
        Ok(state)
    }
}

impl Log for MemLog {
    fn len(&self) -> u64 {
        self.disk.len()
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.state()?.bytes.extend_from_slice(bytes);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<bool> {
        let mut state = self.state()?;
        if state.synced == state.bytes.len() {
            return Ok(false);
        }
        state.synced = state.bytes.len();
        state.syncs += 1;
        Ok(true)
    }

    fn discard_unsynced(&mut self) -> io::Result<()> {
        let mut state = self.state()?;
        let synced = state.synced;
        state.bytes.truncate(synced);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_loss_keeps_the_synced_part_and_a_prefix_of_the_rest() {
        let disk = MemDisk::new();
        let mut log = disk.open_log();
        log.write(b"abc").unwrap();
        assert!(log.sync().unwrap());
        log.write(b"defgh").unwrap();
        assert_eq!((disk.len(), disk.synced_len()), (8, 3));
        assert_eq!(disk.power_loss(2), 3);
        assert_eq!(disk.contents(), b"abcde");
        assert_eq!(disk.synced_len(), 5);
        assert!(log.write(b"x").is_err(), "the old writer is fenced off");
    }

    #[test]
    fn a_process_crash_keeps_unsynced_writes_and_fences_the_writer() {
        let disk = MemDisk::new();
        let mut log = disk.open_log();
        log.write(b"abc").unwrap();
        disk.process_crash();
        assert_eq!(disk.contents(), b"abc");
        assert!(log.sync().is_err());
        let mut newer = disk.open_log();
        newer.write(b"d").unwrap();
        assert_eq!(disk.contents(), b"abcd");
    }
}
