//! The spool: message data a connection keeps on disk instead of in memory, so that memory per
//! connection is bounded whatever the message size (SPEC: SMTP-LIMITS-17).
//!
//! Once the octets of the message under way held by the session reach the threshold, the
//! connection takes them ([`ServerSession::take_message_data`]) and appends them to one file
//! per message under the spool directory. The file is read back when the message is handed to
//! the store, and removed then, when the message is refused or reset, and when the connection
//! ends however it ends; files left by a process that died are removed at start. Nothing in
//! a spool file was ever acknowledged: a message is acknowledged only once the store has it.
//!
//! [`ServerSession::take_message_data`]: mtp_proto::smtp::server::ServerSession::take_message_data

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use mtp_proto::smtp::server::ServerSession;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// The spool directory of a server and its threshold.
#[derive(Debug)]
pub(crate) struct SpoolDir {
    dir: PathBuf,
    /// Octets of a message held in memory before they go to disk.
    threshold: usize,
    /// Names the files: one per message, unique for the life of the process.
    next: AtomicU64,
}

impl SpoolDir {
    /// Creates `dir` if missing and removes what a previous process left in it.
    pub(super) fn open(dir: PathBuf, threshold: usize) -> io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_file() {
                std::fs::remove_file(&path)?;
            }
        }
        Ok(Self {
            dir,
            threshold: threshold.max(1),
            next: AtomicU64::new(0),
        })
    }
}

/// The spool file of one connection's message under way, if it has one.
#[derive(Debug)]
pub(crate) struct Spool<'a> {
    /// `None` keeps every message in memory (the simulation has no disk of this kind).
    dir: Option<&'a SpoolDir>,
    file: Option<SpoolFile>,
}

#[derive(Debug)]
struct SpoolFile {
    /// The session's number for the message.
    message: u64,
    path: PathBuf,
    file: tokio::fs::File,
    len: u64,
}

impl<'a> Spool<'a> {
    pub(super) fn new(dir: Option<&'a SpoolDir>) -> Self {
        Self { dir, file: None }
    }

    /// Moves what the session holds of the message under way to disk once it reaches the
    /// threshold, and drops the file of a message that is over without a delivery.
    pub(super) async fn keep_up(&mut self, session: &mut ServerSession) -> io::Result<()> {
        let Some(dir) = self.dir else {
            return Ok(());
        };
        let Some((message, held)) = session.message_in_progress() else {
            self.discard();
            return Ok(());
        };
        if self.file.as_ref().is_some_and(|f| f.message != message) {
            self.discard();
        }
        if held < dir.threshold {
            return Ok(());
        }
        let bytes = session.take_message_data();
        let spooled = match self.file.as_mut() {
            Some(spooled) => spooled,
            None => self.file.insert(SpoolFile::create(dir, message).await?),
        };
        spooled.file.write_all(&bytes).await?;
        spooled.len += bytes.len() as u64;
        Ok(())
    }

    /// The whole message: `prefix`, the `taken` octets on disk, then `rest`; the file is
    /// removed. One allocation of the final size (the store takes the message whole).
    pub(super) async fn take_message(
        &mut self,
        prefix: Vec<u8>,
        taken: u64,
        rest: &[u8],
    ) -> io::Result<Vec<u8>> {
        if taken == 0 {
            self.discard();
            return Ok([prefix.as_slice(), rest].concat());
        }
        let Some(mut spooled) = self.file.take() else {
            return Err(io::Error::other("spooled message data missing"));
        };
        let result = spooled.read_back(prefix, taken, rest).await;
        remove(&spooled.path);
        result
    }

    /// Removes the file of the message under way, if there is one.
    pub(super) fn discard(&mut self) {
        if let Some(spooled) = self.file.take() {
            remove(&spooled.path);
        }
    }
}

impl Drop for Spool<'_> {
    fn drop(&mut self) {
        self.discard();
    }
}

impl SpoolFile {
    async fn create(dir: &SpoolDir, message: u64) -> io::Result<Self> {
        let n = dir.next.fetch_add(1, Ordering::Relaxed);
        let path = dir.dir.join(format!("{n:012}.msg"));
        let file = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(Self {
            message,
            path,
            file,
            len: 0,
        })
    }

    async fn read_back(&mut self, prefix: Vec<u8>, taken: u64, rest: &[u8]) -> io::Result<Vec<u8>> {
        if taken != self.len {
            return Err(io::Error::other(format!(
                "spooled {} octets, the session took {taken}",
                self.len
            )));
        }
        self.file.flush().await?;
        let len = usize::try_from(taken).map_err(io::Error::other)?;
        let mut message = prefix;
        message.reserve_exact(len + rest.len());
        let start = message.len();
        message.resize(start + len, 0);
        self.file.seek(io::SeekFrom::Start(0)).await?;
        self.file.read_exact(&mut message[start..]).await?;
        message.extend_from_slice(rest);
        Ok(message)
    }
}

/// A spool file that cannot be removed now is removed at the next start.
fn remove(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove a spool file");
    }
}
