//! The HashCash replay cache: every accepted token, durable across restarts.
//!
//! DESIGN: "a token is never accepted twice" (MMTP-HASHCASH-7). A small append-only file of
//! fixed-size records (`timestamp:u64le key:[u8;32] crc32:u32le`, 44 bytes) holds the SHA-256
//! of every claimed token; a claim is acknowledged only after its record is synced, so a crash
//! cannot forget a token whose message was then accepted.
//!
//! A failed append (a full disk, a failed sync) refuses the claim and cuts the file back to its
//! last whole record before anything else is appended; while it cannot be cut, every claim is
//! refused. So a torn record never sits between good ones. On open, a record is looked for at
//! every offset after a damaged one (a file an older version appended to after a torn record
//! loses only the torn bytes, never the records after them), and the file is rewritten without
//! the damage and without tokens too old to pass the freshness check again (to a temporary
//! file, synced, then renamed over the old one).

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use mtp_proto::mmtp::hashcash::TokenKey;

use crate::store::client_text;
use crate::store::durable::{self, LogFile};

const FILE: &str = "hashcash-tokens";
const RECORD: usize = 8 + 32 + 4;

/// A shared handle on the cache; clones share it.
#[derive(Clone, Debug)]
pub struct ReplayCache {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    /// A `File`; in tests, one that fails like a full disk.
    file: Box<dyn LogFile>,
    path: PathBuf,
    /// Bytes of whole records in the file.
    len: u64,
    /// The file may hold part of a record past `len`, to cut off before the next append.
    torn: bool,
    seen: HashSet<[u8; 32]>,
    /// Sync each claim (off only for benchmarks, like the store's `SyncMode::None`).
    sync: bool,
}

fn encode(key: &TokenKey, timestamp_ms: u64) -> [u8; RECORD] {
    let mut record = [0u8; RECORD];
    record[..8].copy_from_slice(&timestamp_ms.to_le_bytes());
    record[8..40].copy_from_slice(&key.0);
    let crc = crc32fast::hash(&record[..40]);
    record[40..].copy_from_slice(&crc.to_le_bytes());
    record
}

/// `(timestamp, key)`, or `None` when the checksum is wrong.
fn decode(record: &[u8]) -> Option<(u64, [u8; 32])> {
    let crc = u32::from_le_bytes(record[40..RECORD].try_into().ok()?);
    if crc32fast::hash(&record[..40]) != crc {
        return None;
    }
    let timestamp = u64::from_le_bytes(record[..8].try_into().ok()?);
    Some((timestamp, record[8..40].try_into().ok()?))
}

/// The records in `bytes`, and how many bytes are damaged (not part of any record). Past a
/// record that fails its checksum every offset is tried, so the records after it are found
/// even when the damage is not a whole record long. A chance match in damaged bytes (one in
/// 2^32 per offset) adds a token nobody holds, which is harmless.
fn scan(bytes: &[u8]) -> (Vec<(u64, [u8; 32])>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    let mut damaged = 0;
    while let Some(record) = bytes.get(at..at + RECORD) {
        match decode(record) {
            Some(found) => {
                records.push(found);
                at += RECORD;
            }
            None => {
                damaged += 1;
                at += 1;
            }
        }
    }
    (records, damaged + bytes.len() - at)
}

impl ReplayCache {
    /// Opens (or creates) the cache in `dir`, forgetting tokens stamped before `forget_before`
    /// (they are stale and would be refused anyway).
    pub fn open(dir: &Path, forget_before: u64, sync: bool) -> io::Result<ReplayCache> {
        Self::open_with(dir, forget_before, sync, |file| Box::new(file))
    }

    fn open_with(
        dir: &Path,
        forget_before: u64,
        sync: bool,
        wrap: impl FnOnce(File) -> Box<dyn LogFile>,
    ) -> io::Result<ReplayCache> {
        durable::create_dir_all(dir)?;
        let path = dir.join(FILE);
        // Only a missing file is an empty cache: any other read error must not forget tokens.
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let (mut kept, damaged) = scan(&bytes);
        if damaged > 0 {
            tracing::warn!(path = %path.display(), damaged, "replay cache had damaged bytes; cut out, the records around them kept");
        }
        kept.retain(|(timestamp, _)| *timestamp >= forget_before);
        let len = (kept.len() * RECORD) as u64;
        if len != bytes.len() as u64 {
            rewrite(&path, &kept)?;
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        // Also when the file exists: a process that created it may have died before this.
        durable::sync_dir(dir)?;
        file.seek(SeekFrom::Start(len))?;
        Ok(ReplayCache {
            inner: Arc::new(Mutex::new(Inner {
                file: wrap(file),
                path,
                len,
                torn: false,
                seen: kept.into_iter().map(|(_, key)| key).collect(),
                sync,
            })),
        })
    }

    /// Records `key` unless it is known: `Ok(true)` when it was new (and is now durable). An
    /// error refuses the token for now; its text is fixed, fit for the client (the operating
    /// system's error is logged here).
    pub fn claim(&self, key: &TokenKey, timestamp_ms: u64) -> io::Result<bool> {
        // Each update below completes before the guard drops or fails before changing `seen`,
        // so a poisoned lock still guards consistent state.
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.seen.contains(&key.0) {
            return Ok(false);
        }
        if let Err(e) = inner.append(&encode(key, timestamp_ms)) {
            tracing::error!(path = %inner.path.display(), error = %e, "replay cache cannot record a token; refusing it");
            return Err(io::Error::new(e.kind(), client_text(e.kind())));
        }
        inner.seen.insert(key.0);
        Ok(true)
    }

    /// Tokens the cache refuses to accept again: those still fresh when it was opened, and
    /// every one claimed since.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .seen
            .len()
    }

    /// Whether no token is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    /// Appends a record and syncs it; on failure cuts it off again (now, or before the next
    /// append, which fails while it cannot), so no record is ever written after a torn one.
    fn append(&mut self, record: &[u8]) -> io::Result<()> {
        if self.torn {
            self.cut()?;
        }
        let mut written = self.file.write_all(record);
        if written.is_ok() && self.sync {
            written = self.file.sync_data();
        }
        if let Err(e) = written {
            // A record whose sync failed is cut off too: its token was refused, and may come
            // back once the disk works.
            self.torn = true;
            if let Err(cut) = self.cut() {
                tracing::warn!(path = %self.path.display(), error = %cut, "cannot cut a failed record off the replay cache yet; refusing tokens until it can");
            }
            return Err(e);
        }
        self.len += RECORD as u64;
        Ok(())
    }

    fn cut(&mut self) -> io::Result<()> {
        durable::cut_back(self.file.as_mut(), self.len)?;
        self.torn = false;
        Ok(())
    }
}

fn rewrite(path: &Path, records: &[(u64, [u8; 32])]) -> io::Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    let mut file = File::create(&tmp)?;
    for (timestamp, key) in records {
        file.write_all(&encode(&TokenKey(*key), *timestamp))?;
    }
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    durable::sync_parent(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::durable::recorder;
    use crate::store::faults::Faults;

    fn key(n: u8) -> TokenKey {
        TokenKey([n; 32])
    }

    #[test]
    fn claims_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ReplayCache::open(dir.path(), 0, true).unwrap();
        assert!(cache.claim(&key(1), 100).unwrap());
        assert!(!cache.claim(&key(1), 100).unwrap());
        assert!(cache.claim(&key(2), 200).unwrap());
        drop(cache);
        let cache = ReplayCache::open(dir.path(), 0, true).unwrap();
        assert!(!cache.claim(&key(1), 100).unwrap());
        assert!(!cache.claim(&key(2), 200).unwrap());
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn old_tokens_are_forgotten_and_a_torn_tail_cut() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ReplayCache::open(dir.path(), 0, true).unwrap();
        for n in 1..=3 {
            assert!(cache.claim(&key(n), u64::from(n) * 100).unwrap());
        }
        drop(cache);
        let path = dir.path().join(FILE);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&encode(&key(9), 900)[..20]).unwrap();
        drop(file);
        let cache = ReplayCache::open(dir.path(), 200, true).unwrap();
        assert_eq!(cache.len(), 2);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 2 * RECORD as u64);
        assert!(cache.claim(&key(1), 100).unwrap(), "forgotten");
        assert!(!cache.claim(&key(3), 300).unwrap());
        assert!(
            cache.claim(&key(9), 900).unwrap(),
            "the torn record never counted"
        );
    }

    #[test]
    fn records_after_a_damaged_or_torn_one_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ReplayCache::open(dir.path(), 0, true).unwrap();
        for n in 1..=3 {
            assert!(cache.claim(&key(n), u64::from(n)).unwrap());
        }
        drop(cache);
        let path = dir.path().join(FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[RECORD + 10] ^= 0xff;
        // A torn record in the middle, as an older version left after a failed write.
        bytes.splice(
            2 * RECORD..2 * RECORD,
            encode(&key(7), 7)[..20].iter().copied(),
        );
        std::fs::write(&path, bytes).unwrap();
        let cache = ReplayCache::open(dir.path(), 0, true).unwrap();
        assert_eq!(cache.len(), 2);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 2 * RECORD as u64);
        assert!(!cache.claim(&key(1), 1).unwrap());
        assert!(!cache.claim(&key(3), 3).unwrap(), "kept after the damage");
        assert!(
            cache.claim(&key(2), 2).unwrap(),
            "the damaged record is gone"
        );
    }

    fn faulty(dir: &Path) -> (ReplayCache, Faults) {
        let faults = Faults::default();
        let cache = ReplayCache::open_with(dir, 0, true, |file| Box::new(faults.wrap(file)));
        (cache.unwrap(), faults)
    }

    fn refused_after_restart(dir: &Path, keys: &[u8]) {
        let cache = ReplayCache::open(dir, 0, true).unwrap();
        for &n in keys {
            assert!(
                !cache.claim(&key(n), 1).unwrap(),
                "token {n} accepted again"
            );
        }
        assert_eq!(cache.len(), keys.len());
        let len = std::fs::metadata(dir.join(FILE)).unwrap().len();
        assert_eq!(
            len,
            (keys.len() * RECORD) as u64,
            "nothing was cut or rewritten"
        );
    }

    #[test]
    fn a_short_write_is_cut_off_and_later_tokens_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (cache, faults) = faulty(dir.path());
        assert!(cache.claim(&key(1), 1).unwrap());
        faults.disk_full_after(20);
        let error = cache.claim(&key(2), 1).unwrap_err();
        assert_eq!(error.to_string(), "insufficient system storage");
        faults.free_space();
        assert!(cache.claim(&key(3), 1).unwrap());
        assert!(
            cache.claim(&key(2), 1).unwrap(),
            "refused before, so never accepted"
        );
        assert!(!cache.claim(&key(3), 1).unwrap());
        drop(cache);
        refused_after_restart(dir.path(), &[1, 3, 2]);
    }

    #[test]
    fn a_failed_sync_refuses_the_token_and_leaves_no_record() {
        let dir = tempfile::tempdir().unwrap();
        let (cache, faults) = faulty(dir.path());
        assert!(cache.claim(&key(1), 1).unwrap());
        faults.fail_syncs(1);
        let error = cache.claim(&key(2), 1).unwrap_err();
        assert!(!error.to_string().contains("os error"), "{error}");
        assert!(cache.claim(&key(2), 1).unwrap());
        drop(cache);
        refused_after_restart(dir.path(), &[1, 2]);
    }

    #[test]
    fn while_a_torn_record_cannot_be_cut_every_claim_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (cache, faults) = faulty(dir.path());
        assert!(cache.claim(&key(1), 1).unwrap());
        faults.fail_truncates(true);
        faults.disk_full_after(20);
        cache.claim(&key(2), 1).unwrap_err();
        faults.free_space();
        cache.claim(&key(3), 1).unwrap_err();
        faults.fail_truncates(false);
        assert!(cache.claim(&key(3), 1).unwrap());
        drop(cache);
        refused_after_restart(dir.path(), &[1, 3]);
    }

    #[test]
    fn a_new_cache_is_synced_in_its_directory() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("mmtp");
        recorder::take();
        ReplayCache::open(&dir, 0, true).unwrap();
        assert_eq!(recorder::take(), [root.path().to_path_buf(), dir]);
    }
}
