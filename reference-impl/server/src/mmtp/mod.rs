//! The reference MMTP server: plain TCP and implicit-TLS listeners generic over
//! [`Listener`], the durable store (its own directory `data_dir/mmtp`), the HashCash replay
//! cache, the OpenPGP key registry, per-address and global connection limits, and graceful
//! shutdown. The protocol itself is `mtp_proto::mmtp`.
//!
//! Files under `data_dir/mmtp`: the store's log, `hashcash-tokens` (the replay cache, see
//! [`replay`]) and `keys/` (one armored public key per mailbox, see [`keys`]).

pub mod client;
mod connection;
pub mod keys;
pub mod mint;
pub mod pgp;
pub mod replay;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mtp_proto::mmtp::framing::DEFAULT_MAX_VALUE;
use mtp_proto::mmtp::hashcash::Freshness;
use mtp_proto::mmtp::response::{ErrorCode, Refusal, refusal_bytes};
use mtp_proto::mmtp::server::{DEFAULT_DIFFICULTY, SessionConfig};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_rustls::TlsAcceptor;

pub use connection::{PROTOCOL, stored_tags};

use crate::limits::PerIpLimit;
use crate::server::{Listener, StartError, next_connection, system_now_ms};
use crate::store::{Store, StoreError, StoreOptions, SyncMode};
use crate::tls::{self, TlsSource};
use keys::KeyRegistry;
use replay::ReplayCache;

/// Everything `mtpspec serve --mmtp/--mmtps` can set.
#[derive(Clone)]
pub struct MmtpOptions {
    /// Plain TCP, usually port 8025.
    pub mmtp: Option<SocketAddr>,
    /// Implicit TLS, usually port 8026.
    pub mmtps: Option<SocketAddr>,
    /// The MMTP store, replay cache and keys go into `data_dir/mmtp`.
    pub data_dir: PathBuf,
    /// The name in a self-signed certificate.
    pub hostname: String,
    /// The certificate of the implicit-TLS listener (default: self-signed for `hostname`);
    /// `Disabled` leaves `mmtps` unopened and the welcome says `tls: false`.
    pub tls: TlsSource,
    /// HashCash difficulty in hex zeros.
    pub difficulty: u32,
    /// How old (default 1 hour) or far ahead (default 5 minutes) a HashCash timestamp may be;
    /// the replay cache keeps tokens as long as they could pass.
    pub freshness: Freshness,
    /// Key registry and signature verification.
    pub pgp: bool,
    /// Largest JSON value accepted (seed §9.1: 10 MB).
    pub max_value: usize,
    /// Client silence (and the longest TLS handshake) before the connection is timed out
    /// (default 300 s; seed §9.1).
    pub idle_timeout: Duration,
    /// Responses the client has not let go out by then (it does not read) end the connection.
    pub write_timeout: Duration,
    /// Concurrent connections over both listeners (default 1024); one more gets RATE_LIMITED
    /// and is closed (an implicit-TLS one is closed without a handshake).
    pub max_connections: usize,
    /// Concurrent connections per client address (the original allowed 5).
    pub max_per_ip: usize,
    /// Whether the store and the replay cache sync before acknowledging (default: durable).
    pub sync: SyncMode,
    /// The wall clock, in Unix milliseconds (the simulation passes its own).
    pub now_ms: fn() -> u64,
}

impl MmtpOptions {
    /// Defaults of a real deployment, without listeners.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            mmtp: None,
            mmtps: None,
            data_dir,
            hostname: "mmtp.example.test".into(),
            tls: TlsSource::SelfSigned,
            difficulty: DEFAULT_DIFFICULTY,
            freshness: Freshness::default(),
            pgp: true,
            max_value: DEFAULT_MAX_VALUE,
            idle_timeout: Duration::from_secs(300),
            write_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_per_ip: 16,
            sync: SyncMode::Durable,
            now_ms: system_now_ms,
        }
    }

    /// Both listeners on ephemeral loopback ports, difficulty 2 and a generous per-address
    /// limit (every test client is 127.0.0.1): what the harness's embedded target runs.
    pub fn ephemeral(data_dir: PathBuf) -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            mmtp: Some(any),
            mmtps: Some(any),
            difficulty: 2,
            max_per_ip: 256,
            ..Self::new(data_dir)
        }
    }

    /// Where the MMTP state lives.
    pub fn dir(&self) -> PathBuf {
        self.data_dir.join("mmtp")
    }

    fn session_config(&self, tls_available: bool) -> SessionConfig {
        let mut config = SessionConfig {
            difficulty: self.difficulty,
            freshness: self.freshness,
            tls_available,
            pgp: self.pgp,
            ..SessionConfig::default()
        };
        config.frame.max_value = self.max_value;
        config
    }
}

/// What every connection task shares.
pub(crate) struct Shared {
    config: Arc<SessionConfig>,
    store: Store,
    replay: ReplayCache,
    keys: KeyRegistry,
    tls: Option<TlsAcceptor>,
    idle_timeout: Duration,
    write_timeout: Duration,
    connections: Arc<Semaphore>,
    per_ip: PerIpLimit,
    now_ms: fn() -> u64,
}

/// A started MMTP server; dropping it without [`RunningMmtp::shutdown`] leaves the tasks
/// running until the runtime stops.
pub struct RunningMmtp {
    mmtp: Option<SocketAddr>,
    mmtps: Option<SocketAddr>,
    store: Store,
    keys: KeyRegistry,
    shutdown: watch::Sender<bool>,
    /// Every task holds a clone; shutdown waits until all are dropped.
    alive: mpsc::Sender<()>,
    done: mpsc::Receiver<()>,
}

impl RunningMmtp {
    /// Opens the store, binds the configured tokio listeners and starts serving.
    pub async fn start(options: MmtpOptions) -> Result<Self, StartError> {
        let mut listeners = Vec::new();
        for (addr, implicit_tls) in [(options.mmtp, false), (options.mmtps, true)] {
            if let Some(addr) = addr {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| StartError::Bind(addr, e))?;
                listeners.push((listener, implicit_tls));
            }
        }
        Self::start_on(options, listeners)
    }

    /// Starts serving on listeners the caller bound (tokio or turmoil); `true` marks an
    /// implicit-TLS listener.
    pub fn start_on<L: Listener>(
        options: MmtpOptions,
        listeners: Vec<(L, bool)>,
    ) -> Result<Self, StartError> {
        let dir = options.dir();
        let store =
            Store::open(&dir, StoreOptions { sync: options.sync }).map_err(StartError::Store)?;
        // Tokens stamped before this can never pass the freshness check again.
        let forget_before = (options.now_ms)().saturating_sub(options.freshness.max_age_ms);
        let replay = ReplayCache::open(&dir, forget_before, options.sync != SyncMode::None)
            .map_err(|e| StartError::Store(StoreError::Io(e)))?;
        let keys = KeyRegistry::open(&dir.join("keys"))
            .map_err(|e| StartError::Store(StoreError::Io(e)))?;
        let tls_config =
            tls::server_config(&options.tls, &options.hostname).map_err(StartError::Tls)?;
        let shared = Arc::new(Shared {
            config: Arc::new(options.session_config(tls_config.is_some())),
            store: store.clone(),
            replay,
            keys: keys.clone(),
            tls: tls_config.map(TlsAcceptor::from),
            idle_timeout: options.idle_timeout,
            write_timeout: options.write_timeout,
            connections: Arc::new(Semaphore::new(options.max_connections)),
            per_ip: PerIpLimit::new(options.max_per_ip),
            now_ms: options.now_ms,
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (alive, done) = mpsc::channel(1);
        let mut server = Self {
            mmtp: None,
            mmtps: None,
            store,
            keys,
            shutdown,
            alive: alive.clone(),
            done,
        };
        for (listener, implicit_tls) in listeners {
            let addr = listener
                .local_addr()
                .map_err(|e| StartError::Bind(([0, 0, 0, 0], 0).into(), e))?;
            match implicit_tls {
                true if shared.tls.is_none() => continue,
                true => server.mmtps = Some(addr),
                false => server.mmtp = Some(addr),
            }
            tracing::info!(%addr, implicit_tls, "MMTP listening");
            tokio::spawn(accept_loop(
                listener,
                shared.clone(),
                implicit_tls,
                shutdown_rx.clone(),
                alive.clone(),
            ));
        }
        Ok(server)
    }

    /// The plain TCP listener's address, if one was asked for.
    pub fn mmtp_addr(&self) -> Option<SocketAddr> {
        self.mmtp
    }

    /// The implicit-TLS listener's address, if one was asked for and TLS is not disabled.
    pub fn mmtps_addr(&self) -> Option<SocketAddr> {
        self.mmtps
    }

    /// The MMTP store (`data_dir/mmtp`): the mailboxes RECEIVE reads.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The registry REGISTER_KEY fills and signatures are verified against.
    pub fn keys(&self) -> &KeyRegistry {
        &self.keys
    }

    /// Graceful shutdown: listeners stop, every open session gets a SHUTTING_DOWN error and is
    /// closed, and this returns once all connection tasks have ended.
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
    mut shutdown: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    while let Some((stream, peer)) = next_connection(&mut listener, &mut shutdown).await {
        let permit = shared.connections.clone().try_acquire_owned();
        let slot = shared.per_ip.acquire(peer.ip());
        let (Ok(permit), Some(slot)) = (permit, slot) else {
            tracing::warn!(%peer, "MMTP connection limit reached");
            refuse(stream, implicit_tls);
            continue;
        };
        let (shared, shutdown, alive) = (shared.clone(), shutdown.clone(), alive.clone());
        tokio::spawn(async move {
            if let Err(e) = connection::serve(stream, peer, shared, implicit_tls, shutdown).await {
                tracing::debug!(%peer, error = %e, "MMTP connection ended with an error");
            }
            drop((permit, slot, alive));
        });
    }
    // The store (in `shared`) must be released before `alive` tells `shutdown` that every
    // task is gone; parameters would drop in the other order, and a restart on the same
    // directory would then find the store still locked.
    drop(shared);
    drop(alive);
}

/// The original's refusal ("Rate limit exceeded. Try again later.") on a plain connection; an
/// implicit-TLS connection over the limit is closed without a handshake, which is the load the
/// limit sheds (as the SMTP listeners do).
fn refuse<S>(mut stream: S, implicit_tls: bool)
where
    S: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    if implicit_tls {
        return;
    }
    let refusal = refusal_bytes(&Refusal::new(
        ErrorCode::RateLimited,
        "Rate limit exceeded. Try again later.",
    ));
    tokio::spawn(async move {
        let _ = stream.write_all(&refusal).await;
        let _ = stream.shutdown().await;
    });
}
