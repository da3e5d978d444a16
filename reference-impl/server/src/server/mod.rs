//! The reference SMTP/VMTP server: listeners (plain, implicit TLS, submission), the
//! connection limits (global, with preemption of idle seats in `table`; per client address;
//! and below the open-files limit), graceful
//! shutdown, all generic over [`Listener`] so the simulation can run the same code on turmoil's
//! network. The timers of a connection are in `timers`; the descriptor budget in `descriptors`;
//! message data kept on disk rather than in memory in `spool`.

mod auth_failures;
mod connection;
mod descriptors;
mod listener;
mod spool;
mod stream;
mod table;
mod timers;

pub use descriptors::raise_open_files_limit;
pub use listener::{Listener, next_connection};
pub(crate) use stream::write_out;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use mtp_proto::smtp::server::{Limits, ServerConfig, ServerSession};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

use crate::limits::PerIpLimit;
use crate::store::{Store, StoreError, StoreOptions, SyncMode};
use crate::tls::{self, TlsSource};
use auth_failures::AuthFailures;
use spool::SpoolDir;
use table::ConnectionTable;
use timers::TimerConfig;

/// Everything `mtpspec serve` can set.
#[derive(Clone)]
pub struct ServerOptions {
    /// The MX listener, usually port 25: STARTTLS offered, AUTH offered over TLS but not
    /// required.
    pub smtp: Option<SocketAddr>,
    /// Implicit TLS (RFC 8314), usually port 465.
    pub smtps: Option<SocketAddr>,
    /// Submission (RFC 6409): AUTH PLAIN over TLS required before MAIL.
    pub submission: Option<SocketAddr>,
    /// The durable store's directory, and `spool/` under it for message data past
    /// `spool_threshold`; created if missing.
    pub data_dir: PathBuf,
    /// The name in the 220 greeting, the EHLO reply, `Received:` fields and a self-signed
    /// certificate (default `mx.example.test`).
    pub hostname: String,
    /// The local domains, whose recipients are stored here (compared without case; default
    /// `example.test`).
    pub domains: Vec<String>,
    /// When set, only these local parts (and postmaster) exist in the local domains; others
    /// get 550. `None` (the default) accepts any.
    pub users: Option<Vec<String>>,
    /// `(user, password)` pairs for AUTH PLAIN, offered only over TLS, on every listener.
    pub credentials: Vec<(String, String)>,
    /// The certificate for STARTTLS, VMTP ENCRYPT and the implicit-TLS listener (default:
    /// self-signed for `hostname`); `Disabled` answers them 454 and opens no `smtps` listener.
    pub tls: TlsSource,
    /// Protocol limits: message size, recipients, line lengths, errors, metadata, BATCH
    /// (defaults in SPEC.md's preamble); raised to the RFC 5321 floors where set below them.
    pub limits: Limits,
    /// RFC 5321 §4.5.3.2.7: at least 5 minutes.
    pub idle_timeout: Duration,
    /// A TLS handshake (implicit TLS, STARTTLS, ENCRYPT START) not complete by then ends the
    /// connection without a reply.
    pub handshake_timeout: Duration,
    /// Replies the client has not let go out by then (it does not read) end the connection.
    pub write_timeout: Duration,
    /// From a reply until the next command line is complete, however often bytes arrive
    /// (RFC 5321 §4.5.3.2.7: at least 5 minutes); then 421 and close.
    pub command_timeout: Duration,
    /// Octets per second the data phase (DATA, a BDAT chunk) must average once
    /// `data_rate_grace` has passed; then 421 and close. 0 turns the check off.
    pub min_data_rate: u64,
    /// Time into a data phase before `min_data_rate` is checked (default 180 s: RFC 5321
    /// §4.5.3.2.5 lets a client wait 3 minutes for one block).
    pub data_rate_grace: Duration,
    /// The reply to a failed AUTH waits this long, doubled for each earlier failure from the
    /// same client address in the last 15 minutes, whatever the connection (at most 30 s);
    /// zero turns the delay off.
    pub auth_failure_delay: Duration,
    /// Lowered at start to the open-files limit less a reserve.
    pub max_connections: usize,
    /// Concurrent connections from one client address; more are answered 421 and closed.
    pub max_per_address: usize,
    /// Octets of a message under way a connection holds in memory; beyond them the data goes
    /// to a file under `data_dir/spool` until the message is stored or dropped.
    pub spool_threshold: usize,
    /// Client addresses greeted with 554 and served nothing but QUIT (RFC 5321 §3.1).
    pub deny: Vec<IpAddr>,
    /// Advertise VMTP and accept its verbs (the default); off, the server is plain SMTP and the
    /// VMTP verbs get 502.
    pub vmtp: bool,
    /// When the store acknowledges a message, and so when the client gets 250 (default: after
    /// fsync).
    pub sync: SyncMode,
    /// A benchmark sink, NOT durable: every message gets its 250 after the dot and is thrown
    /// away (nothing is written to the store).
    pub sink: bool,
    /// The wall clock, in Unix milliseconds (the simulation passes its own).
    pub now_ms: fn() -> u64,
}

/// The system clock in Unix milliseconds (0 before 1970): the default `now_ms` of the servers
/// and the gateway.
pub fn system_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl ServerOptions {
    /// Defaults of a real deployment, without listeners.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            smtp: None,
            smtps: None,
            submission: None,
            data_dir,
            hostname: "mx.example.test".into(),
            domains: vec!["example.test".into()],
            users: None,
            credentials: Vec::new(),
            tls: TlsSource::SelfSigned,
            limits: Limits::default(),
            idle_timeout: Duration::from_secs(300),
            handshake_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(60),
            command_timeout: Duration::from_secs(300),
            min_data_rate: 1024,
            data_rate_grace: Duration::from_secs(180),
            auth_failure_delay: Duration::from_secs(1),
            max_connections: 1024,
            max_per_address: 32,
            spool_threshold: 256 * 1024,
            deny: Vec::new(),
            vmtp: true,
            sync: SyncMode::Durable,
            sink: false,
            now_ms: system_now_ms,
        }
    }

    /// All three listeners on ephemeral loopback ports, a self-signed certificate, the test
    /// credentials `alice`/`secret` and a generous per-address limit (every test client is
    /// 127.0.0.1): what the harness's embedded target runs.
    pub fn ephemeral(data_dir: PathBuf) -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            smtp: Some(any),
            smtps: Some(any),
            submission: Some(any),
            credentials: vec![("alice".into(), "secret".into())],
            max_per_address: 256,
            ..Self::new(data_dir)
        }
    }

    fn timers(&self) -> TimerConfig {
        TimerConfig {
            idle: self.idle_timeout,
            command: self.command_timeout,
            min_data_rate: self.min_data_rate,
            data_grace: self.data_rate_grace,
            auth_failure_delay: self.auth_failure_delay,
        }
    }

    fn session_config(&self, tls_available: bool) -> ServerConfig {
        let mut config = ServerConfig::new(self.hostname.clone(), self.domains.clone());
        config.local_users = self.users.clone();
        config.limits = self.limits.clone().with_rfc_floors();
        config.tls_available = tls_available;
        config.credentials = self.credentials.clone();
        config.vmtp = self.vmtp;
        config
    }
}

/// Why a server did not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// The store in `data_dir` could not be opened (locked by another process, unreadable,
    /// corrupt).
    Store(StoreError),
    /// `data_dir/spool` could not be created or emptied.
    Spool(std::io::Error),
    /// The certificate could not be read or generated, or rustls refused it.
    Tls(tls::TlsError),
    /// A listener could not bind this address.
    Bind(SocketAddr, std::io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Store(e) => write!(f, "cannot open the store: {e}"),
            Self::Spool(e) => write!(f, "cannot prepare the spool directory: {e}"),
            Self::Tls(e) => e.fmt(f),
            Self::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// What every connection task shares.
pub(crate) struct Shared {
    config: Arc<ServerConfig>,
    submission_config: Arc<ServerConfig>,
    store: Store,
    tls: Option<TlsAcceptor>,
    timers: TimerConfig,
    handshake_timeout: Duration,
    write_timeout: Duration,
    connections: ConnectionTable,
    per_ip: PerIpLimit,
    /// Canonical addresses (an IPv4-mapped IPv6 peer matches its IPv4 entry).
    deny: Vec<IpAddr>,
    now_ms: fn() -> u64,
    /// Some in sink mode: the counter behind the ids of discarded messages.
    sink: Option<AtomicU64>,
    /// `None`: messages stay in memory however large (the simulation's server).
    spool: Option<SpoolDir>,
    /// Recent failed AUTH exchanges by client address.
    auth_failures: AuthFailures,
}

/// A started server; dropping it without [`RunningServer::shutdown`] leaves the tasks running
/// until the runtime stops.
pub struct RunningServer {
    smtp: Option<SocketAddr>,
    smtps: Option<SocketAddr>,
    submission: Option<SocketAddr>,
    store: Store,
    shutdown: watch::Sender<bool>,
    /// Every task holds a clone; shutdown waits until all are dropped.
    alive: mpsc::Sender<()>,
    done: mpsc::Receiver<()>,
}

impl RunningServer {
    /// Opens the store, binds the configured tokio listeners and starts serving.
    pub async fn start(options: ServerOptions) -> Result<Self, StartError> {
        let mut listeners = Vec::new();
        for (addr, implicit_tls, submission) in [
            (options.smtp, false, false),
            (options.smtps, true, false),
            (options.submission, false, true),
        ] {
            if let Some(addr) = addr {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| StartError::Bind(addr, e))?;
                listeners.push((listener, implicit_tls, submission));
            }
        }
        Self::start_on(options, listeners)
    }

    /// Starts serving on listeners the caller bound (tokio or turmoil).
    pub fn start_on<L: Listener>(
        options: ServerOptions,
        listeners: Vec<(L, bool, bool)>,
    ) -> Result<Self, StartError> {
        let store = Store::open(&options.data_dir, StoreOptions { sync: options.sync })
            .map_err(StartError::Store)?;
        let spool = SpoolDir::open(options.data_dir.join("spool"), options.spool_threshold)
            .map_err(StartError::Spool)?;
        Self::start_shared(options, store, Some(spool), listeners)
    }

    /// Starts serving on listeners the caller bound, with a store the caller opened (the
    /// simulation's, on its simulated disk); `options.data_dir` and `options.sync` are unused,
    /// and messages stay in memory however large (no spool).
    pub fn start_with_store<L: Listener>(
        options: ServerOptions,
        store: Store,
        listeners: Vec<(L, bool, bool)>,
    ) -> Result<Self, StartError> {
        Self::start_shared(options, store, None, listeners)
    }

    fn start_shared<L: Listener>(
        options: ServerOptions,
        store: Store,
        spool: Option<SpoolDir>,
        listeners: Vec<(L, bool, bool)>,
    ) -> Result<Self, StartError> {
        let tls_config =
            tls::server_config(&options.tls, &options.hostname).map_err(StartError::Tls)?;
        let config = options.session_config(tls_config.is_some());
        let mut submission_config = config.clone();
        submission_config.submission = true;
        let shared = Arc::new(Shared {
            config: Arc::new(config),
            submission_config: Arc::new(submission_config),
            store: store.clone(),
            tls: tls_config.map(TlsAcceptor::from),
            timers: options.timers(),
            handshake_timeout: options.handshake_timeout,
            write_timeout: options.write_timeout,
            connections: ConnectionTable::new(
                descriptors::connection_budget(options.max_connections),
                options.handshake_timeout,
            ),
            per_ip: PerIpLimit::new(options.max_per_address),
            deny: options.deny.iter().map(IpAddr::to_canonical).collect(),
            now_ms: options.now_ms,
            sink: options.sink.then(|| AtomicU64::new(0)),
            spool,
            auth_failures: AuthFailures::default(),
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (alive, done) = mpsc::channel(1);
        let mut server = Self {
            smtp: None,
            smtps: None,
            submission: None,
            store,
            shutdown,
            alive: alive.clone(),
            done,
        };
        for (listener, implicit_tls, submission) in listeners {
            let addr = listener
                .local_addr()
                .map_err(|e| StartError::Bind(([0, 0, 0, 0], 0).into(), e))?;
            match (implicit_tls, submission) {
                (true, _) if shared.tls.is_none() => continue,
                (true, _) => server.smtps = Some(addr),
                (false, true) => server.submission = Some(addr),
                (false, false) => server.smtp = Some(addr),
            }
            tracing::info!(%addr, implicit_tls, submission, "listening");
            tokio::spawn(accept_loop(
                listener,
                shared.clone(),
                implicit_tls,
                submission,
                shutdown_rx.clone(),
                alive.clone(),
            ));
        }
        Ok(server)
    }

    /// The MX listener's bound address, if one was asked for.
    pub fn smtp_addr(&self) -> Option<SocketAddr> {
        self.smtp
    }

    /// The implicit-TLS listener's bound address, if one was asked for and TLS is not disabled.
    pub fn smtps_addr(&self) -> Option<SocketAddr> {
        self.smtps
    }

    /// The submission listener's bound address, if one was asked for.
    pub fn submission_addr(&self) -> Option<SocketAddr> {
        self.submission
    }

    /// The store the listeners deliver into; share it with the gateway's `/messages` routes.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Graceful shutdown: listeners stop, every open session gets 421 and is closed, and this
    /// returns once all connection tasks have ended.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        drop(self.alive);
        let _ = self.done.recv().await;
    }
}

async fn accept_loop<L: Listener>(
    mut listener: L,
    shared: Arc<Shared>,
    implicit_tls: bool,
    submission: bool,
    mut shutdown: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    while let Some((stream, peer)) = next_connection(&mut listener, &mut shutdown).await {
        // The address's own limit first: one address cannot evict others' connections.
        let slot = shared.per_ip.acquire(peer.ip());
        let seat = slot.as_ref().and_then(|_| {
            shared
                .connections
                .admit(implicit_tls, tokio::time::Instant::now())
        });
        let (Some(seat), Some(slot)) = (seat, slot) else {
            tracing::warn!(%peer, "connection limit reached");
            refuse(stream, &shared, implicit_tls);
            continue;
        };
        let (shared, shutdown, alive) = (shared.clone(), shutdown.clone(), alive.clone());
        tokio::spawn(async move {
            let serve = connection::serve(
                stream,
                peer,
                &shared,
                &seat,
                implicit_tls,
                submission,
                shutdown,
            );
            tokio::select! {
                result = serve => if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                },
                // Dropping the session closes the socket (and removes its spool file).
                () = seat.evicted() => tracing::debug!(%peer, "evicted by a new connection"),
            }
            drop((seat, slot, shared, alive));
        });
    }
    // Release the store (in `shared`) before `alive` reports this task gone: parameters drop
    // in the other order, and a restart on the same directory could find the store locked.
    drop(shared);
    drop(alive);
}

/// A connection over a limit gets 421 and is closed. A plaintext 421 would be garbage to a
/// client that starts with a TLS handshake, and a handshake per refused connection is the load
/// the limit exists to shed: an implicit-TLS connection over the limit is closed without a reply.
fn refuse<S>(mut stream: S, shared: &Shared, implicit_tls: bool)
where
    S: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    if implicit_tls {
        return;
    }
    let refusal = ServerSession::refuse_connection(&shared.config.hostname);
    let timeout = shared.write_timeout;
    tokio::spawn(async move {
        let _ = tokio::time::timeout(timeout, async {
            let _ = stream.write_all(&refusal).await;
            let _ = stream.shutdown().await;
        })
        .await;
    });
}

#[cfg(test)]
mod auth_delay_tests;
#[cfg(test)]
mod preempt_tests;
#[cfg(test)]
mod spool_tests;
#[cfg(test)]
mod tests;
