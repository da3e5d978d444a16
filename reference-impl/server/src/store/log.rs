//! The append-only log file: scanning it (recovery on open, catching up in a read-only view),
//! and the writable handle that appends, syncs and truncates a torn tail.
//!
//! Recovery rule: records are read in order until the end of the file or the first record that
//! is truncated or fails its checksum. Everything from there on is a write that was in progress
//! when the process or machine died, never acknowledged (acknowledgement waits for the sync), so
//! a writable open cuts it off and appends from there; a read-only view just stops there and
//! looks again on the next refresh (the writer may be in the middle of that very write).
//!
//! While running, the writer keeps the same rule true: a write that fails part-way (a full
//! disk takes only part of it) is cut off before anything else is appended, and a batch whose
//! sync failed is cut off too, back to the last successful sync. So a record is never written
//! after a torn one, where a restart's scan would stop before it and lose it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::StoreError;
use super::durable::{self, LogFile};
use super::record::{self, FRAME_HEADER, Record};

/// The log's file name inside the store directory.
pub(crate) const LOG_FILE: &str = "messages.log";

/// Where a scan stopped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ScanEnd {
    /// Offset just past the last good record.
    pub end: u64,
    /// Why the bytes after `end` were not read, if there are any.
    pub torn: Option<String>,
}

/// Reads the records of `file` from `from` up to its current length, calling `apply` with each
/// record's offset. A record that checks out but cannot be decoded is an error: it is not a torn
/// write, and cutting it off could throw away data a newer version wrote.
pub(crate) fn scan(
    mut file: &File,
    from: u64,
    apply: impl FnMut(u64, Record),
) -> Result<ScanEnd, StoreError> {
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(from))?;
    scan_reader(BufReader::with_capacity(1 << 16, file), len, from, apply)
}

/// [`scan`] over any reader positioned at `from`, of a log `len` bytes long (the simulated
/// disk reads from memory).
pub(crate) fn scan_reader(
    mut reader: impl Read,
    len: u64,
    from: u64,
    mut apply: impl FnMut(u64, Record),
) -> Result<ScanEnd, StoreError> {
    let mut offset = from;
    let torn = loop {
        let remaining = len.saturating_sub(offset);
        if remaining == 0 {
            break None;
        }
        if remaining < FRAME_HEADER as u64 {
            break Some(format!("{remaining} bytes of a record header"));
        }
        let mut header = [0; FRAME_HEADER];
        if !fill(&mut reader, &mut header)? {
            break Some(SHRANK.to_owned());
        }
        let (payload_len, crc) = match record::parse_header(header) {
            Ok(parsed) => parsed,
            Err(reason) => break Some(reason),
        };
        let frame_len = (FRAME_HEADER + payload_len) as u64;
        if frame_len > remaining {
            break Some(format!(
                "record of {frame_len} bytes, {remaining} left in the file"
            ));
        }
        let mut payload = vec![0; payload_len];
        if !fill(&mut reader, &mut payload)? {
            break Some(SHRANK.to_owned());
        }
        if let Err(reason) = record::check_crc(&payload, crc) {
            break Some(reason);
        }
        let record =
            record::decode(&payload).map_err(|reason| StoreError::Corrupt { offset, reason })?;
        apply(offset, record);
        offset += frame_len;
    };
    Ok(ScanEnd { end: offset, torn })
}

/// A read-only view can see the file shrink: a writer opening it cuts off a torn tail.
const SHRANK: &str = "the file shrank while being read";

/// Fills `buf`; false if the file ended first.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// Where the writer appends: the log file, or the simulation's in-memory disk
/// ([`super::memdisk::MemLog`]). Both keep the same contract: bytes written are not durable
/// until `sync` returns.
pub(crate) trait Log: Send + 'static {
    /// Bytes in the log (all complete records).
    fn len(&self) -> u64;
    /// Appends whole records. On failure nothing of them stays: any part that reached the
    /// file is cut off now, or before the next write, which fails while it cannot be.
    fn write(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Syncs what was written since the last sync; returns whether there was anything.
    fn sync(&mut self) -> io::Result<bool>;
    /// Cuts the log back to the last successful sync: what a power loss does, and what the
    /// writer does after a failed sync (whose batch it refuses). On failure the cut is still
    /// made before the next write.
    fn discard_unsynced(&mut self) -> io::Result<()>;
}

/// The log opened for appending; owned by the writer thread. Tests put a faulty `F` in.
#[derive(Debug)]
pub(crate) struct LogWriter<F = File> {
    file: F,
    path: PathBuf,
    /// Bytes in the file (all complete records).
    len: u64,
    /// Bytes known to be on disk: up to the last successful sync.
    synced: u64,
    /// The file may hold bytes past `len` (a failed write, or a discarded batch): they are cut
    /// off before the next write.
    torn: bool,
}

impl LogWriter {
    /// Opens (creating if needed) the log in `dir`, locks it against a second writer, replays it
    /// through `apply` and cuts off a torn tail.
    pub(super) fn open(
        dir: &Path,
        apply: impl FnMut(u64, Record),
    ) -> Result<LogWriter, StoreError> {
        durable::create_dir_all(dir)?;
        let path = dir.join(LOG_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(StoreError::Locked),
            Err(fs::TryLockError::Error(e)) => return Err(e.into()),
        }
        // Also when the file exists: a process that created it may have died before this.
        durable::sync_dir(dir)?;
        let ScanEnd { end, torn } = scan(&file, 0, apply)?;
        if let Some(reason) = torn {
            let dropped = file.metadata()?.len() - end;
            tracing::warn!(path = %path.display(), offset = end, dropped, %reason, "truncating torn tail of the message log");
            file.set_len(end)?;
            file.sync_all()?;
        }
        file.seek(SeekFrom::Start(end))?;
        Ok(LogWriter {
            file,
            path,
            len: end,
            synced: end,
            torn: false,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The same log, written through `wrap(file)` (tests inject faults so).
    #[cfg(test)]
    pub(super) fn wrap<G: LogFile>(self, wrap: impl FnOnce(File) -> G) -> LogWriter<G> {
        LogWriter {
            file: wrap(self.file),
            path: self.path,
            len: self.len,
            synced: self.synced,
            torn: self.torn,
        }
    }
}

impl<F: LogFile> LogWriter<F> {
    /// Cuts the file back to `len`, durably: the records of a failed write must not come back
    /// after a crash either, as messages whose senders were told they were not taken.
    fn cut(&mut self) -> io::Result<()> {
        durable::cut_back(&mut self.file, self.len)?;
        self.torn = false;
        Ok(())
    }

    fn cut_or_warn(&mut self) {
        if let Err(e) = self.cut() {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot cut a failed write off the message log yet; the next write tries again");
        }
    }
}

impl<F: LogFile> Log for LogWriter<F> {
    fn len(&self) -> u64 {
        self.len
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.torn {
            self.cut()?;
        }
        if let Err(e) = self.file.write_all(bytes) {
            self.torn = true;
            self.cut_or_warn();
            return Err(e);
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> io::Result<bool> {
        if self.synced == self.len {
            return Ok(false);
        }
        self.file.sync_data()?;
        self.synced = self.len;
        Ok(true)
    }

    fn discard_unsynced(&mut self) -> io::Result<()> {
        self.len = self.synced;
        self.torn = true;
        self.cut()
    }
}

/// Reads `buf.len()` bytes at `offset` without moving any file cursor, so concurrent readers
/// and the scanner can share one handle.
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < buf.len() {
            let n = std::os::windows::fs::FileExt::seek_read(
                file,
                &mut buf[done..],
                offset + done as u64,
            )?;
            if n == 0 {
                return Err(ErrorKind::UnexpectedEof.into());
            }
            done += n;
        }
        Ok(())
    }
}
