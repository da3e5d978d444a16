//! Launching the client under test once per case (`--client-cmd`): the command template with
//! `{host}`, `{port}`, `{from}`, `{to}` (recipients, space-separated), `{body}` (a file holding
//! the message) and `{mode}` (`plain` or `starttls`) substituted, run by `sh -c` as the leader
//! of its own process group; waited for until the case deadline, then killed, with anything it
//! started, by that group's id (the shell's PID). Its exit status and output go into the report.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::model::Mode;

/// Output kept per stream.
const MAX_OUTPUT: usize = 16 * 1024;

/// What a case asks of the client, for the template.
pub struct Invocation<'a> {
    /// `{host}`: the address the fake server listens on.
    pub host: &'a str,
    /// `{port}`: the port it listens on.
    pub port: u16,
    /// `{from}`: the case's sender.
    pub from: &'a str,
    /// `{to}`: the case's recipients, filled in space-separated.
    pub to: &'a [String],
    /// `{body}`: the file holding the case's message, with the line endings the case
    /// gives it (LF in the default message).
    pub body: &'a Path,
    /// `{mode}`: `plain`, or `starttls` when the case wants the client to upgrade.
    pub mode: Mode,
}

/// Fills in a command template.
pub fn substitute(template: &str, inv: &Invocation<'_>) -> String {
    template
        .replace("{host}", inv.host)
        .replace("{port}", &inv.port.to_string())
        .replace("{from}", inv.from)
        .replace("{to}", &inv.to.join(" "))
        .replace("{body}", &inv.body.display().to_string())
        .replace("{mode}", inv.mode.as_str())
}

/// How the client run ended.
#[derive(Clone, Debug, Serialize)]
pub struct ClientRun {
    /// `None` when it was killed (deadline) or died by a signal.
    pub exit_code: Option<i32>,
    /// Whether it was still running at the case deadline and was killed then.
    pub timed_out: bool,
    /// How long it ran, from its start until it exited or was killed (in JSON
    /// `duration_ms`, whole milliseconds).
    #[serde(rename = "duration_ms", with = "mtpspec_report::millis")]
    pub duration: Duration,
    /// Standard output, then standard error (each cut to 16 KiB).
    pub output: String,
}

impl ClientRun {
    /// Why the command could not run at all, when its shell said so: POSIX sh exits 127 when
    /// a command is not found and 126 when it is found but cannot be executed. A client that
    /// never connected and ended so has not been tested.
    pub fn could_not_run(&self) -> Option<String> {
        let why = match self.exit_code? {
            127 => "exit 127: a command was not found",
            126 => "exit 126: a command could not be executed",
            _ => return None,
        };
        let said = self.output.lines().find(|l| !l.trim().is_empty());
        Some(match said {
            Some(line) => format!("{why} ({})", line.trim()),
            None => why.to_string(),
        })
    }
}

/// A started client.
pub struct Running {
    child: Child,
    started: Instant,
    stdout: JoinHandle<Vec<u8>>,
    stderr: JoinHandle<Vec<u8>>,
}

fn drain<R: AsyncRead + Unpin + Send + 'static>(reader: Option<R>) -> JoinHandle<Vec<u8>> {
    tokio::spawn(async move {
        let mut out = Vec::new();
        if let Some(r) = reader {
            // A read error ends the capture; what was read so far is kept.
            let _ = r.take(MAX_OUTPUT as u64).read_to_end(&mut out).await;
        }
        out
    })
}

/// Starts `command` (already substituted) under `sh -c`, in a process group of its own, with
/// `TMPDIR` set to the case's own directory.
pub fn start(command: &str, dir: &Path) -> std::io::Result<Running> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .process_group(0)
        .env("TMPDIR", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    Ok(Running {
        child,
        started: Instant::now(),
        stdout,
        stderr,
    })
}

impl Running {
    /// Waits for the client to exit.
    pub async fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.wait().await
    }

    /// Waits until `deadline`, kills the client's process group if it is still running, and
    /// collects what it printed.
    pub async fn finish(mut self, deadline: Instant) -> ClientRun {
        let pid = self.child.id();
        let (status, timed_out) = match tokio::time::timeout_at(deadline, self.child.wait()).await {
            Ok(status) => (status.ok(), false),
            Err(_) => {
                kill_group(pid);
                // Reaps the shell (and kills it by its PID if the group kill missed it).
                let _ = self.child.kill().await;
                (None, true)
            }
        };
        // Whatever the client left running in its group goes too.
        kill_group(pid);
        let duration = self.started.elapsed();
        let grace = Duration::from_secs(2);
        let out = tokio::time::timeout(grace, self.stdout)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let err = tokio::time::timeout(grace, self.stderr)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let mut output = String::from_utf8_lossy(&out).into_owned();
        if !err.is_empty() {
            if !output.is_empty() && !output.ends_with('\n') {
                output.push('\n');
            }
            output.push_str(&String::from_utf8_lossy(&err));
        }
        ClientRun {
            exit_code: status.and_then(|s| s.code()),
            timed_out,
            duration,
            output,
        }
    }
}

/// SIGKILL to the process group whose id is `pid` (the client's shell leads it). The `kill`
/// program does it, as this crate has no unsafe code to call kill(2).
fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid {
        // The group may be gone already: then there is nothing to stop.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_every_placeholder() {
        let to = ["b@x.example".to_string(), "c@x.example".to_string()];
        let inv = Invocation {
            host: "127.0.0.1",
            port: 2600,
            from: "a@y.example",
            to: &to,
            body: Path::new("dir/body.eml"),
            mode: Mode::Starttls,
        };
        assert_eq!(
            substitute("c {mode} {host}:{port} -f {from} {to} < {body}", &inv),
            "c starttls 127.0.0.1:2600 -f a@y.example b@x.example c@x.example < dir/body.eml"
        );
    }

    #[tokio::test]
    async fn a_hung_client_is_killed_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        // The shell stays (two commands), so the sleep is its child: both must go.
        let started = std::time::Instant::now();
        let running = start("sleep 30; true", dir.path()).unwrap();
        let run = running
            .finish(Instant::now() + Duration::from_millis(300))
            .await;
        assert!(run.timed_out);
        assert_eq!(run.exit_code, None);
        assert!(run.duration < Duration::from_secs(5));
        // The sleep was killed with its shell: the output pipes closed at once.
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let running = start("echo out; echo err >&2; exit 3", dir.path()).unwrap();
        let run = running
            .finish(Instant::now() + Duration::from_secs(10))
            .await;
        assert_eq!(run.exit_code, Some(3));
        assert_eq!(run.output, "out\nerr\n");
    }
}
