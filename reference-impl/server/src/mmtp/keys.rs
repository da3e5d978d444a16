//! The key registry of REGISTER_KEY and REQUEST_PUBLIC_KEY: one armored file per mailbox in
//! `keys/`, parsed (with real OpenPGP parsing) when registered and when loaded at start.
//!
//! Seed §9.1: servers SHOULD "Provide secure key storage if supporting PGP". MMTP has no
//! authentication, so the original let anyone replace anyone's key, and with it forge
//! `signatureVerified`. Here a mailbox's first key stays: registering the same key again
//! (same fingerprint) succeeds, another key is refused with KEY_CONFLICT.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use mtp_proto::mmtp::server::{KeyError, SignatureCheck};

use super::pgp::PublicKey;

#[derive(Clone, Debug)]
struct Entry {
    armored: String,
    key: PublicKey,
}

/// A shared handle on the registry; clones share it.
#[derive(Clone, Debug)]
pub struct KeyRegistry {
    dir: PathBuf,
    keys: Arc<RwLock<HashMap<String, Entry>>>,
}

/// Mailbox keys hold only `()%` and the characters of the MMTP address grammar, never a `/`,
/// so they are file names as they are.
fn file_name(mailbox: &str) -> String {
    format!("{mailbox}.asc")
}

impl KeyRegistry {
    /// Opens `dir`, loading every key in it; files that do not parse are skipped with a
    /// warning.
    pub fn open(dir: &Path) -> io::Result<KeyRegistry> {
        fs::create_dir_all(dir)?;
        let mut keys = HashMap::new();
        for file in fs::read_dir(dir)? {
            let path = file?.path();
            let Some(mailbox) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".asc"))
            else {
                continue;
            };
            let armored = fs::read_to_string(&path)?;
            match PublicKey::parse(&armored) {
                Ok(key) => {
                    keys.insert(mailbox.to_owned(), Entry { armored, key });
                }
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "skipping key"),
            }
        }
        Ok(KeyRegistry {
            dir: dir.to_path_buf(),
            keys: Arc::new(RwLock::new(keys)),
        })
    }

    /// Registers `armored` for `mailbox` (blocking: parses and writes a file).
    pub fn register(&self, mailbox: &str, armored: &str) -> Result<(), KeyError> {
        let key = PublicKey::parse(armored).map_err(|e| KeyError::Invalid(e.to_string()))?;
        // Whole-entry inserts only: a poisoned lock still holds consistent entries.
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = keys.get(mailbox) {
            return if existing.key.fingerprint() == key.fingerprint() {
                Ok(())
            } else {
                Err(KeyError::Conflict)
            };
        }
        write_atomically(&self.dir.join(file_name(mailbox)), armored.as_bytes())
            .map_err(|e| KeyError::Failed(format!("cannot store the key: {e}")))?;
        keys.insert(
            mailbox.to_owned(),
            Entry {
                armored: armored.to_owned(),
                key,
            },
        );
        Ok(())
    }

    /// The key as it was registered.
    pub fn armored(&self, mailbox: &str) -> Option<String> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.get(mailbox).map(|e| e.armored.clone())
    }

    /// `None` when the signer has no key; otherwise whether the signature verifies.
    pub fn verify(&self, check: &SignatureCheck) -> Option<bool> {
        let key = {
            let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
            keys.get(&check.signer)?.key.clone()
        };
        Some(key.verify(check.data.as_bytes(), &check.signature))
    }

    /// Mailboxes with a registered key.
    pub fn len(&self) -> usize {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no key is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::pgp::SecretKey;
    use super::*;

    #[test]
    fn first_key_stays_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let registry = KeyRegistry::open(dir.path()).unwrap();
        let alice = SecretKey::generate("alice", None).unwrap();
        let armored = alice.public_key().to_armored().unwrap();
        let mailbox = "(alice)%(example.com)";
        registry.register(mailbox, &armored).unwrap();
        registry.register(mailbox, &armored).unwrap();
        let other = SecretKey::generate("mallory", None).unwrap();
        let other_armored = other.public_key().to_armored().unwrap();
        assert_eq!(
            registry.register(mailbox, &other_armored),
            Err(KeyError::Conflict)
        );
        assert!(matches!(
            registry.register(mailbox, "junk"),
            Err(KeyError::Invalid(_))
        ));

        let registry = KeyRegistry::open(dir.path()).unwrap();
        assert_eq!(registry.armored(mailbox), Some(armored));
        let data = "{\"subject\":\"s\"}".to_owned();
        let check = |signature: String, signer: &str| SignatureCheck {
            signer: signer.into(),
            data: data.clone(),
            signature,
        };
        let good = alice.sign_text(data.as_bytes()).unwrap();
        let forged = other.sign_text(data.as_bytes()).unwrap();
        assert_eq!(registry.verify(&check(good.clone(), mailbox)), Some(true));
        assert_eq!(registry.verify(&check(forged, mailbox)), Some(false));
        assert_eq!(registry.verify(&check(good, "(bob)%(example.com)")), None);
    }
}
