//! `exec:COMMAND`: a server that speaks SMTP on its stdin and stdout (`exim -bs`,
//! `sendmail -bs`). Every connection runs the command afresh under `sh -c`; closing the
//! connection kills the process.

use std::process::Stdio;

use rustls_pki_types::ServerName;
use tokio::process::Command;

use super::{BoxFuture, Connected, Target, TargetError, server_name};

/// A command speaking SMTP on its stdin and stdout (`exec:COMMAND`), one process per
/// connection.
pub struct ExecTarget {
    command: String,
}

impl ExecTarget {
    /// The target running `command` under `sh -c`, unchecked (see [`ExecTarget::open`]).
    pub fn new(command: &str) -> Self {
        Self {
            command: command.to_string(),
        }
    }

    /// [`ExecTarget::new`], after checking that the command's program exists: a missing one
    /// would otherwise show only as a connection closed before any greeting.
    pub fn open(command: &str) -> Result<Self, TargetError> {
        // The first word that is not a `NAME=value` assignment.
        let program = command
            .split_whitespace()
            .find(|w| w.split_once('=').is_none_or(|(name, _)| name.is_empty()))
            .unwrap_or_default();
        let found = std::process::Command::new("sh")
            .args(["-c", "command -v -- \"$1\"", "sh", program])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Err(TargetError::Spawn {
                command: command.to_string(),
                error: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{program}: not found (not installed, or not on PATH)"),
                ),
            });
        }
        Ok(Self::new(command))
    }
}

impl Target for ExecTarget {
    fn name(&self) -> String {
        format!("exec:{}", self.command)
    }

    fn connect(&self) -> BoxFuture<'_, Result<Connected, TargetError>> {
        Box::pin(async move {
            let spawn_error = |error| TargetError::Spawn {
                command: self.command.clone(),
                error,
            };
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(&self.command)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(spawn_error)?;
            let missing = || spawn_error(std::io::Error::other("stdio pipe missing"));
            let stdin = child.stdin.take().ok_or_else(missing)?;
            let stdout = child.stdout.take().ok_or_else(missing)?;
            Ok(Connected {
                stream: Box::new(tokio::io::join(stdout, stdin)),
                tls: false,
                guard: Some(Box::new(child)),
            })
        })
    }

    fn tls_server_name(&self) -> ServerName<'static> {
        server_name("localhost")
    }
}
