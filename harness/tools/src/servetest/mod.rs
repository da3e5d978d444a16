//! `serve-test`: the harness as a scriptable, misbehaving SMTP server that judges the client
//! connecting to it (h2spec's client mode, for mail).
//!
//! Each client case (`scenarios/clients/*.yaml`, [`model`], [`load`]) is a server script and
//! judgements. [`run_case`] listens on a real loopback socket, optionally starts the client
//! command ([`client`]), plays the script on every connection ([`session`] over [`wire`]),
//! records everything ([`record`]), judges the client ([`judge`]) and returns the outcome;
//! [`report`] renders the outcomes of one client as JSON and Markdown ([`reporting`]: what
//! it shares with relay-test's report).

pub mod client;
pub mod command;
pub mod judge;
pub mod load;
pub mod model;
pub mod record;
pub mod report;
pub mod reporting;
pub mod session;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use load::load_paths;
pub use model::{ClientCase, Feature, Mode};
pub use report::{CaseOutcome, ClientReport};
pub use reporting::JudgedReport;

use client::{ClientRun, Invocation};
use judge::{case_verdict, judge_all};
use mtpspec_runner::runner::Verdict;
use record::Recorder;
use session::Session;

/// How cases are run.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The client command template; `None` waits for a client started by someone else.
    pub client_cmd: Option<String>,
    /// What the client can do beyond plain SMTP.
    pub features: Vec<Feature>,
    /// Without a client command: how long to wait for the client to connect.
    pub accept_timeout: Duration,
    /// The TLS configuration for STARTTLS (a self-signed certificate).
    pub tls: Arc<ServerConfig>,
}

/// The self-signed TLS configuration the fake server uses.
pub fn tls_config() -> Result<Arc<ServerConfig>, mtp_server::tls::TlsError> {
    let config =
        mtp_server::tls::server_config(&mtp_server::tls::TlsSource::SelfSigned, session::HOSTNAME)?;
    // SelfSigned always gives a configuration; only Disabled gives None.
    Ok(config.expect("a self-signed TLS configuration"))
}

/// The client command never connected and its shell said it could not run it (not installed,
/// not executable): the client was not tested, so the run gives no verdicts at all.
#[derive(Clone, Debug)]
pub struct ClientCannotRun {
    /// The command as run (the case directory and port redacted).
    pub command: String,
    /// What its shell said.
    pub reason: String,
}

impl std::fmt::Display for ClientCannotRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the client command cannot run ({}): `{}`; is the client installed?",
            self.reason, self.command
        )
    }
}

impl std::error::Error for ClientCannotRun {}

/// Runs one case against the client on `listener`.
pub async fn run_case(
    case: &ClientCase,
    listener: &TcpListener,
    opts: &ServeOptions,
) -> Result<CaseOutcome, ClientCannotRun> {
    let started = Instant::now();
    if let Some(missing) = case.requires.iter().find(|f| !opts.features.contains(f)) {
        return Ok(CaseOutcome::not_run(
            case,
            Verdict::Skip,
            format!("the client does not declare the `{missing:?}` feature (--client-features)"),
        ));
    }
    Ok(match play(case, listener, opts).await? {
        Ok((events, client)) => {
            let judged = judge_all(&case.judge, &events, client.as_ref());
            let verdict = case_verdict(&judged);
            CaseOutcome::judged(case, verdict, judged, events, client, started.elapsed())
        }
        Err(error) => CaseOutcome::not_run(case, Verdict::Error, error),
    })
}

/// Serves the case's connections: until the client command exits (or the deadline), or,
/// without one, for the first connection.
/// The outer error stops the whole run; the inner one makes this case an ERROR.
async fn play(
    case: &ClientCase,
    listener: &TcpListener,
    opts: &ServeOptions,
) -> Result<Result<(Vec<record::Event>, Option<ClientRun>), String>, ClientCannotRun> {
    let rec = Recorder::new();
    let Ok(dir) = tempfile::tempdir() else {
        return Ok(Err("could not make a temporary directory".into()));
    };
    let body = dir.path().join("body.eml");
    if let Err(e) = std::fs::write(&body, &case.body) {
        return Ok(Err(format!("writing the message: {e}")));
    }
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(e) => return Ok(Err(format!("listener address: {e}"))),
    };
    let mut command_line = String::new();
    let mut running = match &opts.client_cmd {
        Some(template) => {
            let inv = Invocation {
                host: &addr.ip().to_string(),
                port: addr.port(),
                from: &case.from,
                to: &case.to,
                body: &body,
                mode: case.mode,
            };
            command_line = client::substitute(template, &inv);
            match client::start(&command_line, dir.path()) {
                Ok(running) => Some(running),
                Err(e) => return Ok(Err(format!("starting `{command_line}`: {e}"))),
            }
        }
        None => None,
    };
    let mut deadline = Instant::now()
        + if running.is_some() {
            case.deadline
        } else {
            opts.accept_timeout + case.deadline
        };
    let external = running.is_none();
    let mut sessions = JoinSet::new();
    let mut conn = 0u32;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                conn += 1;
                if external && conn == 1 {
                    deadline = Instant::now() + case.deadline;
                }
                let session = Session::new(Arc::clone(&case.server), Some(Arc::clone(&opts.tls)));
                sessions.spawn(session.run(stream, conn, rec.clone(), deadline));
            }
            () = exited(&mut running), if !external => break,
            Some(_) = sessions.join_next(), if external => break,
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    let client = match running {
        Some(r) => Some(r.finish(deadline).await),
        None => None,
    };
    if let Some(reason) = client.as_ref().and_then(ClientRun::could_not_run)
        && conn == 0
    {
        return Err(ClientCannotRun {
            command: redact(&command_line, dir.path(), addr.port()),
            reason,
        });
    }
    // Connections end when the client exits; give them a moment to record it.
    session::drain(&mut sessions, Duration::from_secs(2)).await;
    let redact = |s: String| redact(&s, dir.path(), addr.port());
    let client = client.map(|mut c| {
        c.output = redact(std::mem::take(&mut c.output));
        c
    });
    Ok(Ok((rec.events(), client)))
}

/// Resolves when the client exits; never without a client.
async fn exited(running: &mut Option<client::Running>) {
    match running {
        // An error waiting means the child is gone all the same.
        Some(r) => drop(r.wait().await),
        None => std::future::pending().await,
    }
}

/// Makes client output independent of the run: the case directory and the port.
fn redact(text: &str, dir: &std::path::Path, port: u16) -> String {
    text.replace(&dir.display().to_string(), "{tmp}")
        .replace(&format!(":{port}"), ":{port}")
        .replace(&format!(" {port}"), " {port}")
}
