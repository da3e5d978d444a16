//! Mailbox observers: how the harness sees what a target delivered. The embedded reference is
//! read directly; a third-party server through a command that prints the mailbox as JSON
//! (`harness/targets/*.sh mailbox DIR`, the schema in harness/targets/README.md) or a Maildir.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use serde::Deserialize;

use super::BoxFuture;

/// One delivered message as an observer reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedMessage {
    /// The id the server's reply to the end of data names (`queued as <id>`), so a case can
    /// match the two; for a Maildir, the queue id in the first `Received:` field (or else the
    /// file name).
    pub id: String,
    /// The reverse-path without brackets; `""` for `<>`.
    pub from: String,
    /// The recipients, without brackets.
    pub to: Vec<String>,
    /// What the server recorded about the message besides the envelope (the reference's
    /// VMTP metadata); values that are not JSON strings are kept as their JSON text.
    pub metadata: BTreeMap<String, String>,
    /// The message's state, upper case: `DELIVERED` (from the reference also `PENDING` or
    /// `OPENED`).
    pub status: String,
    /// The message's octets as stored (a Maildir's LF line ends turned back into CRLF).
    pub data: Vec<u8>,
}

/// Why the mailbox could not be read. A case that hits one is ERROR, never FAIL.
#[derive(Debug)]
#[non_exhaustive]
pub enum ObserverError {
    /// The `--mailbox-cmd` command could not run, or exited with a failure.
    Command {
        /// The command as given.
        command: String,
        /// Why: the error starting it, or its exit status and standard error.
        message: String,
    },
    /// The mailbox JSON is malformed (not the schema, or `data` not base64).
    Json {
        /// Where the JSON came from (the command).
        source_name: String,
        /// What is wrong with it.
        message: String,
    },
    /// A Maildir file or directory could not be read.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The embedded reference's store could not be read.
    Store(String),
}

impl fmt::Display for ObserverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Command { command, message } => {
                write!(f, "mailbox command {command:?}: {message}")
            }
            Self::Json {
                source_name,
                message,
            } => {
                write!(f, "mailbox JSON from {source_name}: {message}")
            }
            Self::Io { path, error } => write!(f, "reading {}: {error}", path.display()),
            Self::Store(e) => write!(f, "reading the reference's store: {e}"),
        }
    }
}

impl std::error::Error for ObserverError {}

/// Something that lists the messages a target delivered.
pub trait Observer: Send + Sync {
    /// What is observed, for messages (`command "..."`, `Maildir /path`, ...).
    fn describe(&self) -> String;
    /// Every message in the mailbox, oldest first.
    fn messages(&self) -> BoxFuture<'_, Result<Vec<ObservedMessage>, ObserverError>>;
    /// How long to keep looking after the expected messages showed up, for servers that
    /// deliver asynchronously (a later duplicate would otherwise go unseen).
    fn settle(&self) -> Duration {
        Duration::from_millis(300)
    }
}

#[derive(Deserialize)]
struct JsonMessage {
    #[serde(default)]
    id: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: Vec<String>,
    #[serde(default)]
    metadata: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    data: String,
}

/// Parses the mailbox JSON schema (`[{"id","from","to","metadata","status","data"}]`, data in
/// base64). Unknown fields are allowed: the reference adds its own.
pub fn parse_mailbox_json(
    json: &[u8],
    source_name: &str,
) -> Result<Vec<ObservedMessage>, ObserverError> {
    let error = |message: String| ObserverError::Json {
        source_name: source_name.to_string(),
        message,
    };
    let list: Vec<JsonMessage> = serde_json::from_slice(json).map_err(|e| error(e.to_string()))?;
    list.into_iter()
        .map(|m| {
            let data = base64::engine::general_purpose::STANDARD
                .decode(m.data.as_bytes())
                .map_err(|e| error(format!("message {}: bad base64: {e}", m.id)))?;
            let metadata = m
                .metadata
                .into_iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => (k, s),
                    other => (k, other.to_string()),
                })
                .collect();
            Ok(ObservedMessage {
                id: m.id,
                from: m.from,
                to: m.to,
                metadata,
                status: m.status.to_ascii_uppercase(),
                data,
            })
        })
        .collect()
}

/// `--mailbox-cmd`: runs a shell command that prints the mailbox JSON.
pub struct CommandObserver {
    command: String,
}

impl CommandObserver {
    /// An observer running `command` under `sh -c` each time the mailbox is read.
    pub fn new(command: &str) -> Self {
        Self {
            command: command.to_string(),
        }
    }
}

impl Observer for CommandObserver {
    fn describe(&self) -> String {
        format!("command {:?}", self.command)
    }

    fn messages(&self) -> BoxFuture<'_, Result<Vec<ObservedMessage>, ObserverError>> {
        Box::pin(async move {
            let fail = |message: String| ObserverError::Command {
                command: self.command.clone(),
                message,
            };
            let output = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(&self.command)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output()
                .await
                .map_err(|e| fail(e.to_string()))?;
            if !output.status.success() {
                let stderr = String::from_utf8_lossy(&output.stderr);
                return Err(fail(format!("{}: {}", output.status, stderr.trim())));
            }
            parse_mailbox_json(&output.stdout, &self.command)
        })
    }
}

/// `--maildir PATH`: reads `new/` and `cur/` of a Maildir (or of every Maildir below PATH).
/// The envelope comes from the header block the delivery agent put on top: `Return-Path`
/// (the reverse-path) and `X-Original-To` or `Delivered-To` (the recipient). The id is the
/// queue id in the first `Received:` field (`... with ESMTP id 4ABC123`), so it matches the
/// server's "queued as" reply; files with the same queue id (one per recipient, as Postfix's
/// virtual(8) writes them) become one message. LF line ends are turned back into CRLF, as
/// Maildir stores them with LF.
pub struct MaildirObserver {
    root: PathBuf,
}

impl MaildirObserver {
    /// An observer of the Maildir at `root`, or of every Maildir below it.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    fn read_all(root: &Path) -> Result<Vec<ObservedMessage>, ObserverError> {
        let mut files = Vec::new();
        collect_maildir_files(root, &mut files)?;
        files.sort();
        let mut messages: Vec<ObservedMessage> = Vec::new();
        for (_, path) in files {
            let bytes = std::fs::read(&path).map_err(|error| ObserverError::Io {
                path: path.clone(),
                error,
            })?;
            let file_name = path
                .file_name()
                .map(|n| {
                    n.to_string_lossy()
                        .split(':')
                        .next()
                        .unwrap_or_default()
                        .to_string()
                })
                .unwrap_or_default();
            let message = maildir_message(file_name, &bytes);
            match messages.iter_mut().find(|m| m.id == message.id) {
                Some(same) => same.to.extend(message.to),
                None => messages.push(message),
            }
        }
        Ok(messages)
    }
}

impl Observer for MaildirObserver {
    fn describe(&self) -> String {
        format!("Maildir {}", self.root.display())
    }

    fn messages(&self) -> BoxFuture<'_, Result<Vec<ObservedMessage>, ObserverError>> {
        let root = self.root.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || MaildirObserver::read_all(&root))
                .await
                .map_err(|e| ObserverError::Store(e.to_string()))?
        })
    }
}

/// `(mtime, path)` of every file in a `new/` or `cur/` directory below `dir`.
fn collect_maildir_files(
    dir: &Path,
    out: &mut Vec<(std::time::SystemTime, PathBuf)>,
) -> Result<(), ObserverError> {
    let io = |error| ObserverError::Io {
        path: dir.to_path_buf(),
        error,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if !path.is_dir() {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name == "new" || name == "cur" {
            for file in std::fs::read_dir(&path).map_err(io)? {
                let file = file.map_err(io)?;
                let modified = file
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                out.push((modified, file.path()));
            }
        } else if name != "tmp" {
            collect_maildir_files(&path, out)?;
        }
    }
    Ok(())
}

fn maildir_message(file_name: String, bytes: &[u8]) -> ObservedMessage {
    let mut message = ObservedMessage {
        id: queue_id(bytes).unwrap_or(file_name),
        status: "DELIVERED".into(),
        ..ObservedMessage::default()
    };
    let mut rest = bytes;
    loop {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let line = String::from_utf8_lossy(&rest[..end]);
        let value = |name: &str| {
            line.get(..name.len())
                .filter(|head| head.eq_ignore_ascii_case(name))
                .map(|_| {
                    line[name.len()..]
                        .trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_string()
                })
        };
        if let Some(from) = value("Return-Path:") {
            message.from = from;
        } else if let Some(to) = value("X-Original-To:").or_else(|| value("Delivered-To:")) {
            if message.to.is_empty() {
                message.to.push(to);
            }
        } else {
            break;
        }
        rest = &rest[end..];
    }
    message.data = lf_to_crlf(rest);
    message
}

/// The `id` in the first `Received:` field (its continuation lines included).
fn queue_id(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(8192)]);
    let mut lines = text.split('\n');
    let start = lines.position(|l| l.len() >= 9 && l[..9].eq_ignore_ascii_case("received:"))?;
    let field: Vec<&str> = text
        .split('\n')
        .skip(start)
        .enumerate()
        .take_while(|(i, l)| *i == 0 || l.starts_with([' ', '\t']))
        .map(|(_, l)| l)
        .collect();
    let field = field.join(" ");
    let mut words = field.split_whitespace();
    words.find(|w| *w == "id")?;
    let id = words.next()?.trim_end_matches(';');
    (!id.is_empty()).then(|| id.to_string())
}

fn lf_to_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_mailbox_schema() {
        let json = br#"[{"id":"1","from":"","to":["a@x"],"metadata":{"k":"v","n":3},"status":"delivered","data":"aGk=","extra":1}]"#;
        let messages = parse_mailbox_json(json, "test").unwrap();
        assert_eq!(messages[0].data, b"hi");
        assert_eq!(messages[0].metadata["n"], "3");
        assert_eq!(messages[0].status, "DELIVERED");
        assert!(parse_mailbox_json(b"{}", "test").is_err());
    }

    #[test]
    fn reads_a_maildir_file() {
        let m = maildir_message(
            "1".into(),
            b"Return-Path: <s@x>\nX-Original-To: r@y\nDelivered-To: r@y\nSubject: hi\n\nbody\n",
        );
        assert_eq!(m.from, "s@x");
        assert_eq!(m.to, ["r@y"]);
        assert_eq!(m.data, b"Subject: hi\r\n\r\nbody\r\n");
        assert_eq!(m.id, "1");
    }

    #[test]
    fn takes_the_queue_id_from_received() {
        let m = maildir_message(
            "f".into(),
            b"Return-Path: <s@x>\nReceived: from c (c [127.0.0.1])\n\tby mx.example.test (Postfix) with ESMTP id 8F5BC990048\n\tfor <r@y>; Sun, 22 Nov 2026\nSubject: hi\n\nbody\n",
        );
        assert_eq!(m.id, "8F5BC990048");
        assert!(m.data.starts_with(b"Received: "));
    }
}
