//! The HashCash replay cache: every accepted token, durable across restarts.
//!
//! DESIGN: "a token is never accepted twice". A small append-only file of fixed-size records
//! (`timestamp:u64le key:[u8;32] crc32:u32le`, 44 bytes) holds the SHA-256 of every claimed
//! token; a claim is acknowledged only after its record is synced, so a crash cannot forget a
//! token whose message was then accepted. On open, a torn or damaged tail is cut off and
//! tokens too old to pass the freshness check again are dropped by rewriting the file (to a
//! temporary file, synced, then renamed over the old one).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use mtp_proto::mmtp::hashcash::TokenKey;

const FILE: &str = "hashcash-tokens";
const RECORD: usize = 8 + 32 + 4;

/// A shared handle on the cache; clones share it.
#[derive(Clone, Debug)]
pub struct ReplayCache {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    file: File,
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

impl ReplayCache {
    /// Opens (or creates) the cache in `dir`, forgetting tokens stamped before `forget_before`
    /// (they are stale and would be refused anyway).
    pub fn open(dir: &Path, forget_before: u64, sync: bool) -> io::Result<ReplayCache> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE);
        let mut bytes = Vec::new();
        if let Ok(mut file) = File::open(&path) {
            file.read_to_end(&mut bytes)?;
        }
        let mut kept = Vec::new();
        let mut damaged = bytes.len() % RECORD != 0;
        for record in bytes.chunks_exact(RECORD) {
            match decode(record) {
                Some((timestamp, key)) if timestamp >= forget_before => kept.push((timestamp, key)),
                Some(_) => {}
                None => {
                    // Records are appended whole and synced, so only the tail can be torn.
                    damaged = true;
                    break;
                }
            }
        }
        if damaged || kept.len() * RECORD != bytes.len() {
            rewrite(&path, &kept)?;
        }
        let file = OpenOptions::new().append(true).create(true).open(&path)?;
        if damaged {
            tracing::warn!(path = %path.display(), "replay cache had a damaged tail; cut off");
        }
        Ok(ReplayCache {
            inner: Arc::new(Mutex::new(Inner {
                file,
                seen: kept.into_iter().map(|(_, key)| key).collect(),
                sync,
            })),
        })
    }

    /// Records `key` unless it is known: `Ok(true)` when it was new (and is now durable).
    pub fn claim(&self, key: &TokenKey, timestamp_ms: u64) -> io::Result<bool> {
        // Each update below completes before the guard drops or fails before changing `seen`,
        // so a poisoned lock still guards consistent state.
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.seen.contains(&key.0) {
            return Ok(false);
        }
        inner.file.write_all(&encode(key, timestamp_ms))?;
        if inner.sync {
            inner.file.sync_data()?;
        }
        inner.seen.insert(key.0);
        Ok(true)
    }

    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .seen
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn rewrite(path: &Path, records: &[(u64, [u8; 32])]) -> io::Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    let mut file = File::create(&tmp)?;
    for (timestamp, key) in records {
        file.write_all(&encode(&TokenKey(*key), *timestamp))?;
    }
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_damaged_record_ends_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ReplayCache::open(dir.path(), 0, true).unwrap();
        assert!(cache.claim(&key(1), 1).unwrap());
        assert!(cache.claim(&key(2), 2).unwrap());
        drop(cache);
        let path = dir.path().join(FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[RECORD + 10] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        let cache = ReplayCache::open(dir.path(), 0, true).unwrap();
        assert_eq!(cache.len(), 1);
    }
}
