//! `exec:COMMAND`: a server that speaks SMTP on its stdin and stdout (`exim -bs`,
//! `sendmail -bs`). Every connection runs the command afresh under `sh -c`; closing the
//! connection kills the process.

use std::process::Stdio;

use rustls_pki_types::ServerName;
use tokio::process::Command;

use super::{BoxFuture, Connected, Target, TargetError, server_name};

pub struct ExecTarget {
    command: String,
}

impl ExecTarget {
    pub fn new(command: &str) -> Self {
        Self {
            command: command.to_string(),
        }
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
