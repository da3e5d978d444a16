//! The embedded reference: mtpspec's own server, started in-process on ephemeral loopback
//! ports (SMTP, submission, implicit TLS, MMTP plain and TLS, the HTTP gateway, and the special
//! listeners of [`super::special`]) with a store in a temporary directory. Its mailbox is read
//! straight from the store, where a message is durable before its 250 is sent, so no settling
//! time is needed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mtp_server::gateway::RunningGateway;
use mtp_server::mmtp::{MmtpOptions, RunningMmtp};
use mtp_server::server::{RunningServer, ServerOptions};
use mtp_server::store::Store;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use super::observer::{ObservedMessage, Observer, ObserverError};
use super::special::SpecialListeners;
use super::{BoxFuture, Connected, Listener, Target, TargetError, server_name};

/// The reference server, running for as long as this value lives (or until
/// [`Target::shutdown`]).
pub struct EmbeddedTarget {
    server: Mutex<Option<RunningServer>>,
    mmtp_server: Mutex<Option<RunningMmtp>>,
    gateway: Mutex<Option<RunningGateway>>,
    special: Mutex<Option<SpecialListeners>>,
    /// Where the special listeners are (`denied`, `users`, ...).
    special_addrs: BTreeMap<Listener, SocketAddr>,
    http: SocketAddr,
    smtp: SocketAddr,
    smtps: Option<SocketAddr>,
    submission: Option<SocketAddr>,
    mmtp: Option<SocketAddr>,
    mmtps: Option<SocketAddr>,
    store: Store,
    // Removed when the target is dropped; the store must be closed first, which dropping
    // `server` and `store` (declared earlier) does.
    _dir: tempfile::TempDir,
}

impl EmbeddedTarget {
    /// Starts the reference with `ServerOptions::ephemeral`: host name `mx.example.test`, local
    /// domain `example.test`, any local user, VMTP, STARTTLS with a self-signed certificate,
    /// a submission and an implicit-TLS listener, AUTH PLAIN credentials `alice`/`secret`;
    /// the MMTP server (`MmtpOptions::ephemeral`: plain and TLS, HashCash difficulty 2); and
    /// the HTTP gateway, delivering to the SMTP listener and reading the same store; and the
    /// special listeners ([`SpecialListeners`]), the SMTP ones on the same store.
    pub async fn start() -> Result<Self, TargetError> {
        let dir = tempfile::Builder::new()
            .prefix("mtpspec-embedded-")
            .tempdir()
            .map_err(|e| TargetError::Embedded(e.to_string()))?;
        let options = ServerOptions::ephemeral(dir.path().to_path_buf());
        let server = RunningServer::start(options)
            .await
            .map_err(|e| TargetError::Embedded(e.to_string()))?;
        let smtp = server
            .smtp_addr()
            .ok_or_else(|| TargetError::Embedded("no plain SMTP listener".into()))?;
        let mut mmtp_options = MmtpOptions::ephemeral(dir.path().to_path_buf());
        mmtp_options.hostname = "mx.example.test".into();
        let mmtp = match RunningMmtp::start(mmtp_options).await {
            Ok(mmtp) => mmtp,
            Err(e) => {
                server.shutdown().await;
                return Err(TargetError::Embedded(format!("MMTP: {e}")));
            }
        };
        let gateway = match super::http::embedded_gateway(smtp, server.store().clone()).await {
            Ok(gateway) => gateway,
            Err(e) => {
                mmtp.shutdown().await;
                server.shutdown().await;
                return Err(e);
            }
        };
        let special = match SpecialListeners::start(server.store(), dir.path()).await {
            Ok(special) => special,
            Err(e) => {
                gateway.shutdown().await;
                mmtp.shutdown().await;
                server.shutdown().await;
                return Err(e);
            }
        };
        Ok(Self {
            special_addrs: special.addrs().clone(),
            special: Mutex::new(Some(special)),
            http: gateway.addr(),
            gateway: Mutex::new(Some(gateway)),
            smtp,
            smtps: server.smtps_addr(),
            submission: server.submission_addr(),
            mmtp: mmtp.mmtp_addr(),
            mmtps: mmtp.mmtps_addr(),
            store: server.store().clone(),
            server: Mutex::new(Some(server)),
            mmtp_server: Mutex::new(Some(mmtp)),
            _dir: dir,
        })
    }

    /// The plain SMTP listener's address (the main listener, [`Listener::Smtp`]).
    pub fn smtp_addr(&self) -> SocketAddr {
        self.smtp
    }

    /// The implicit-TLS SMTP listener's address, if the server opened one.
    pub fn smtps_addr(&self) -> Option<SocketAddr> {
        self.smtps
    }

    /// The submission listener's address (AUTH), if the server opened one.
    pub fn submission_addr(&self) -> Option<SocketAddr> {
        self.submission
    }

    /// The plain MMTP listener's address, if the MMTP server opened one.
    pub fn mmtp_addr(&self) -> Option<SocketAddr> {
        self.mmtp
    }

    /// The implicit-TLS MMTP listener's address, if the MMTP server opened one.
    pub fn mmtps_addr(&self) -> Option<SocketAddr> {
        self.mmtps
    }

    /// The server's message store, in a temporary directory removed with the target.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

impl Target for EmbeddedTarget {
    fn name(&self) -> String {
        "embedded reference".into()
    }

    fn connect(&self) -> BoxFuture<'_, Result<Connected, TargetError>> {
        self.connect_to(Listener::Smtp)
    }

    fn listeners(&self) -> Vec<Listener> {
        let mut all = vec![Listener::Smtp];
        all.extend(self.submission.map(|_| Listener::Submission));
        all.extend(self.smtps.map(|_| Listener::Smtps));
        all.extend(self.mmtp.map(|_| Listener::Mmtp));
        all.extend(self.mmtps.map(|_| Listener::Mmtps));
        all.push(Listener::Http);
        all.extend(self.special_addrs.keys());
        all
    }

    fn connect_to(&self, listener: Listener) -> BoxFuture<'_, Result<Connected, TargetError>> {
        Box::pin(async move {
            let addr = match listener {
                Listener::Smtp => Some(self.smtp),
                Listener::Submission => self.submission,
                Listener::Smtps => self.smtps,
                Listener::Mmtp => self.mmtp,
                Listener::Mmtps => self.mmtps,
                Listener::Http => Some(self.http),
                special => self.special_addrs.get(&special).copied(),
            }
            .ok_or(TargetError::NoListener(listener))?;
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|error| TargetError::Connect {
                    target: format!("embedded reference ({listener}) at {addr}"),
                    error,
                })?;
            super::tcp::finish_connect(stream, listener.is_implicit_tls(), self.tls_server_name())
                .await
        })
    }

    fn http_base(&self) -> Option<String> {
        Some(format!("http://{}", self.http))
    }

    fn tls_server_name(&self) -> ServerName<'static> {
        server_name("mx.example.test")
    }

    fn observer(&self) -> Option<Arc<dyn Observer>> {
        Some(Arc::new(StoreObserver {
            store: self.store.clone(),
        }))
    }

    fn domain(&self) -> Option<String> {
        Some("example.test".into())
    }

    fn credentials(&self) -> Option<(String, String)> {
        Some(("alice".into(), "secret".into()))
    }

    fn is_reference(&self) -> bool {
        true
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        let server = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let mmtp = self
            .mmtp_server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let gateway = self
            .gateway
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let special = self
            .special
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        Box::pin(async move {
            // The gateway first: it delivers to the SMTP server. Then the special listeners,
            // which share its store.
            if let Some(gateway) = gateway {
                gateway.shutdown().await;
            }
            if let Some(special) = special {
                special.shutdown().await;
            }
            if let Some(server) = server {
                server.shutdown().await;
            }
            if let Some(mmtp) = mmtp {
                mmtp.shutdown().await;
            }
        })
    }
}

/// Reads the reference's store in-process.
pub struct StoreObserver {
    /// The store read (the embedded server's, [`EmbeddedTarget::store`]).
    pub store: Store,
}

impl Observer for StoreObserver {
    fn describe(&self) -> String {
        "the reference's store".into()
    }

    fn messages(&self) -> BoxFuture<'_, Result<Vec<ObservedMessage>, ObserverError>> {
        Box::pin(async move {
            self.store
                .list()
                .into_iter()
                .map(|m| {
                    let data = self
                        .store
                        .data(&m.id)
                        .map_err(|e| ObserverError::Store(e.to_string()))?;
                    Ok(ObservedMessage {
                        from: m.message.reverse_path.clone(),
                        to: m.message.recipients.clone(),
                        metadata: m.message.metadata.iter().cloned().collect(),
                        status: format!("{:?}", m.status).to_ascii_uppercase(),
                        id: m.id,
                        data,
                    })
                })
                .collect()
        })
    }

    fn settle(&self) -> Duration {
        Duration::ZERO
    }
}
