//! The simulated server host: the reference server, unchanged, over turmoil's TCP, with its
//! store on a [`MemDisk`] that outlives the host's crashes. Each (re)start recovers the store
//! from that disk, exactly as a real restart recovers the log file.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use mtp_server::server::{RunningServer, ServerOptions};
use mtp_server::store::{MemDisk, SimulatedOptions, Store, SyncMode};
use mtp_server::tls::TlsSource;

use super::net::{SMTP_PORT, SimListener};
use super::scenario::{SERVER, ServerSpec, SyncSpec};
use super::trace::{SharedTrace, sim_now};
use super::units::millis;
use super::workload::LOCAL_DOMAIN;

/// What the server host runs with, shared with the harness.
pub struct ServerEnv {
    /// The scenario's `server` section: sync mode, sync latency, idle timeout, VMTP and the
    /// connection limit.
    pub spec: ServerSpec,
    /// The simulated disk the store's log lives on; it survives crashes, and a power loss
    /// cuts it back to what was synced (plus a torn prefix of the rest).
    pub disk: MemDisk,
    /// The running server's store (for `open`); `None` while the host is down.
    pub store: RefCell<Option<Store>>,
    /// The run's trace, for the server's start-up line.
    pub trace: SharedTrace,
}

/// The server's wall clock: the simulation's, from its fixed epoch.
fn sim_now_ms() -> u64 {
    turmoil::since_epoch().map_or(0, millis)
}

fn options(spec: &ServerSpec) -> ServerOptions {
    ServerOptions {
        hostname: "mx.example.test".into(),
        domains: vec![LOCAL_DOMAIN.into()],
        tls: TlsSource::Disabled,
        idle_timeout: spec.idle_timeout.0,
        max_connections: spec.max_connections,
        vmtp: spec.vmtp,
        now_ms: sim_now_ms,
        // Unused: the store is opened on the simulated disk.
        ..ServerOptions::new(PathBuf::new())
    }
}

/// The server host's software (run again on every restart).
pub async fn run(env: Rc<ServerEnv>) -> turmoil::Result {
    let sync = match env.spec.sync {
        SyncSpec::Durable => SyncMode::Durable,
        SyncSpec::AckBeforeSync => SyncMode::AckBeforeSync,
    };
    let before = env.disk.len();
    let store = Store::open_simulated(
        &env.disk,
        SimulatedOptions {
            sync,
            sync_latency: env.spec.sync_latency.0,
        },
    )?;
    let cut = before - env.disk.len();
    let torn = if cut > 0 {
        format!(", a torn tail of {cut} octets cut off")
    } else {
        String::new()
    };
    let up = format!("up, the store holds {} messages{torn}", store.len());
    env.trace.borrow_mut().event(sim_now(), SERVER, up);
    *env.store.borrow_mut() = Some(store.clone());
    let listener = turmoil::net::TcpListener::bind(("0.0.0.0", SMTP_PORT)).await?;
    let listeners = vec![(SimListener(listener), false, false)];
    let _server = RunningServer::start_with_store(options(&env.spec), store, listeners)?;
    std::future::pending::<()>().await;
    Ok(())
}
