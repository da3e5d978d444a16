//! The embedded reference's special listeners: small extra reference servers, each configured
//! into one state a case cannot bring the main server into (SPEC.md requirements that need a
//! deny list, a user list, a small connection limit or a short idle timeout). The SMTP ones
//! share the main server's store, so the target's observer sees what they deliver; each MMTP
//! one has its own state directory (an MMTP store is locked by one server).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use mtp_server::mmtp::{MmtpOptions, RunningMmtp};
use mtp_server::server::{RunningServer, ServerOptions};
use mtp_server::store::Store;

use super::{Listener, SHORT_IDLE, SPECIAL_CONNECTION_LIMIT, TargetError};

/// The started special servers and where they listen.
pub struct SpecialListeners {
    addrs: BTreeMap<Listener, SocketAddr>,
    smtp: Vec<RunningServer>,
    mmtp: Vec<RunningMmtp>,
}

impl SpecialListeners {
    /// Starts one reference server per special listener on an ephemeral loopback port: the
    /// SMTP ones on `store` with the main server's configuration (`ServerOptions::ephemeral`)
    /// changed in one point each, the MMTP ones (`MmtpOptions::ephemeral`, plain TCP only) in
    /// directories under `dir`. On an error, whatever already started is stopped.
    pub async fn start(store: &Store, dir: &Path) -> Result<Self, TargetError> {
        let mut started = Self {
            addrs: BTreeMap::new(),
            smtp: Vec::new(),
            mmtp: Vec::new(),
        };
        match started.start_all(store, dir).await {
            Ok(()) => Ok(started),
            Err(e) => {
                started.shutdown().await;
                Err(e)
            }
        }
    }

    async fn start_all(&mut self, store: &Store, dir: &Path) -> Result<(), TargetError> {
        for listener in Listener::ALL.into_iter().filter(|l| l.is_special()) {
            if listener.is_mmtp() {
                let mut options = MmtpOptions::ephemeral(dir.join(listener.to_string()));
                options.mmtps = None;
                options.hostname = "mx.example.test".into();
                configure_mmtp(listener, &mut options);
                let server = RunningMmtp::start(options)
                    .await
                    .map_err(|e| started(listener, e))?;
                let addr = server.mmtp_addr().ok_or_else(|| unbound(listener))?;
                self.addrs.insert(listener, addr);
                self.mmtp.push(server);
            } else {
                let mut options = ServerOptions::ephemeral(dir.to_path_buf());
                options.smtps = None;
                options.submission = None;
                configure_smtp(listener, &mut options);
                let addr = options.smtp.ok_or_else(|| unbound(listener))?;
                let socket = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| started(listener, e))?;
                let server = RunningServer::start_with_store(
                    options,
                    store.clone(),
                    vec![(socket, false, false)],
                )
                .map_err(|e| started(listener, e))?;
                let addr = server.smtp_addr().ok_or_else(|| unbound(listener))?;
                self.addrs.insert(listener, addr);
                self.smtp.push(server);
            }
        }
        Ok(())
    }

    /// Where each special listener is.
    pub fn addrs(&self) -> &BTreeMap<Listener, SocketAddr> {
        &self.addrs
    }

    /// Stops every special server (graceful shutdown, as for the main ones).
    pub async fn shutdown(mut self) {
        for server in self.smtp.drain(..) {
            server.shutdown().await;
        }
        for server in self.mmtp.drain(..) {
            server.shutdown().await;
        }
    }
}

/// The one point in which an SMTP special listener differs from the main server.
fn configure_smtp(listener: Listener, options: &mut ServerOptions) {
    match listener {
        // The harness connects from the loopback address, whichever family it uses.
        Listener::Denied => {
            options.deny = vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ];
        }
        // RFC 5321 §4.5.1: every SMTP receiver accepts `postmaster`; nobody else exists.
        Listener::Users => options.users = Some(vec!["postmaster".into()]),
        Listener::Limited => options.max_connections = SPECIAL_CONNECTION_LIMIT,
        Listener::ShortIdle => options.idle_timeout = SHORT_IDLE,
        _ => {}
    }
}

/// The one point in which an MMTP special listener differs from the main MMTP server.
fn configure_mmtp(listener: Listener, options: &mut MmtpOptions) {
    match listener {
        Listener::MmtpLimited => options.max_per_ip = SPECIAL_CONNECTION_LIMIT,
        Listener::MmtpShortIdle => options.idle_timeout = SHORT_IDLE,
        _ => {}
    }
}

fn started(listener: Listener, e: impl std::fmt::Display) -> TargetError {
    TargetError::Embedded(format!("the {listener} listener: {e}"))
}

fn unbound(listener: Listener) -> TargetError {
    TargetError::Embedded(format!("the {listener} listener has no address"))
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::super::{EmbeddedTarget, Target};
    use super::*;

    /// Reads until `want` shows up or the peer closes; returns what arrived.
    async fn read_until(stream: &mut super::super::BoxStream, want: &str) -> String {
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        let read = async {
            while !String::from_utf8_lossy(&got).contains(want) {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        };
        tokio::time::timeout(SHORT_IDLE * 3, read)
            .await
            .expect("an answer in time");
        String::from_utf8_lossy(&got).into_owned()
    }

    #[tokio::test]
    async fn the_embedded_target_runs_every_special_listener() {
        let target = EmbeddedTarget::start().await.unwrap();
        let listeners = target.listeners();
        for special in Listener::ALL.into_iter().filter(|l| l.is_special()) {
            assert!(listeners.contains(&special), "{special}");
        }
        let mut denied = target.connect_to(Listener::Denied).await.unwrap().stream;
        assert!(read_until(&mut denied, "\r\n").await.starts_with("554 "));

        let mut users = target.connect_to(Listener::Users).await.unwrap().stream;
        read_until(&mut users, "220 ").await;
        users
            .write_all(b"HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<nobody@example.test>\r\n")
            .await
            .unwrap();
        assert!(read_until(&mut users, "550 ").await.contains("550 "));

        let mut open = Vec::new();
        for _ in 0..SPECIAL_CONNECTION_LIMIT {
            let mut conn = target.connect_to(Listener::Limited).await.unwrap().stream;
            assert!(read_until(&mut conn, "\r\n").await.starts_with("220 "));
            open.push(conn);
        }
        let mut over = target.connect_to(Listener::Limited).await.unwrap().stream;
        assert!(read_until(&mut over, "\r\n").await.starts_with("421 "));

        let mut idle = target
            .connect_to(Listener::MmtpShortIdle)
            .await
            .unwrap()
            .stream;
        let said = read_until(&mut idle, "TIMEOUT").await;
        assert!(said.contains("\"code\":\"TIMEOUT\""), "{said}");
        target.shutdown().await;
    }
}
