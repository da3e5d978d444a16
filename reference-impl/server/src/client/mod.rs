//! The reference SMTP/VMTP client around the sans-io [`ClientSession`]: the tokio driver
//! with TLS ([`driver`], [`tls`]), MIME building ([`mime`]), the retry queue ([`queue`]) and
//! its tokio loop ([`retry`]), one-command sessions such as VMTP STATUS ([`status`]), and
//! readable summaries of outcomes ([`summary`]).

pub mod driver;
pub mod mime;
pub mod queue;
pub mod retry;
pub mod status;
pub mod summary;
pub mod tls;

pub use driver::{Timeouts, TlsMode, TlsSetup, drive};
pub use mtp_proto::smtp::client::{ClientOptions, ClientSession, Message, Outcome};

use std::sync::Arc;

use mtp_proto::smtp::command::Command;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Where to connect and how to secure the connection.
#[derive(Clone)]
pub struct Target {
    /// `host:port`.
    pub addr: String,
    /// How TLS is used and which certificate is accepted.
    pub tls: TlsSetup,
}

impl Target {
    /// A target whose certificate name is the host part of `addr` (or `server_name`).
    pub fn new(
        addr: &str,
        mode: TlsMode,
        config: Arc<rustls::ClientConfig>,
        server_name: Option<&str>,
    ) -> Result<Self, String> {
        let name = server_name.unwrap_or_else(|| host_of(addr)).to_string();
        let name = ServerName::try_from(name.clone())
            .map_err(|_| format!("{name:?} is not a valid TLS server name"))?;
        Ok(Self {
            addr: addr.to_string(),
            tls: TlsSetup::new(mode, config, name),
        })
    }
}

/// The host of `host:port` or `[v6]:port`.
pub fn host_of(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    addr.rsplit_once(':').map_or(addr, |(host, _)| host)
}

/// Connects to `target` and sends `messages` in one session.
pub async fn deliver(
    target: &Target,
    options: ClientOptions,
    messages: Vec<Message>,
    timeouts: &Timeouts,
) -> Outcome {
    run(target, ClientSession::new(options, messages), timeouts).await
}

/// Connects, greets (upgrading TLS as `options` say), sends one command and returns its reply
/// in [`Outcome::command_reply`].
pub async fn command(
    target: &Target,
    options: ClientOptions,
    command: Command,
    timeouts: &Timeouts,
) -> Outcome {
    run(target, ClientSession::command(options, command), timeouts).await
}

async fn run(target: &Target, mut session: ClientSession, timeouts: &Timeouts) -> Outcome {
    let failure = match timeout(timeouts.connect, TcpStream::connect(&target.addr)).await {
        Ok(Ok(stream)) => return drive(stream, session, &target.tls, timeouts).await,
        Ok(Err(e)) => format!("cannot connect to {}: {e}", target.addr),
        Err(_) => format!("timed out connecting to {}", target.addr),
    };
    session.handle_closed(failure);
    loop {
        match session.poll_event() {
            Some(mtp_proto::smtp::client::Event::Done(outcome)) => return *outcome,
            Some(_) => continue,
            None => unreachable!("handle_closed on a new session always ends it with Done"),
        }
    }
}

#[cfg(test)]
mod tests;
