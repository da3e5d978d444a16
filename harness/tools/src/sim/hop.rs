//! The simulated next hop's host: serve-test's scripted session ([`Session`]) over turmoil's
//! TCP, one per connection, playing the script the scenario's [`NextHop`] picks for it. What
//! it saw and said goes into one serve-test [`Recorder`] that outlives the host's crashes,
//! beside a table of the connections (which client, its how-manyth connection to the next
//! hop, which script, when opened and closed in simulated time). `outbound` reads
//! both. The recorder's own timestamps are real time and unused here: only the table's
//! simulated times reach the checks and the trace.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::rng::Rng;
use crate::servetest::model::ServerScript;
use crate::servetest::record::Recorder;
use crate::servetest::session::Session;

use super::net::SMTP_PORT;
use super::next_hop::NextHop;
use super::scenario::SERVER;
use super::trace::{SharedTrace, sim_now};

/// One connection the next hop accepted.
#[derive(Clone, Debug)]
pub struct HopConn {
    /// The client host that connected (turmoil's name for the peer's address).
    pub client: String,
    /// The client's end of the connection, which the client records too.
    pub peer: SocketAddr,
    /// The client's how-manyth connection to the next hop (from 1).
    pub session: u32,
    /// The index of the script that played it; `None` for serve-test's default script.
    pub script: Option<usize>,
    /// When it was accepted (simulated time).
    pub opened: Duration,
    /// When its session ended; `None` if the next hop crashed first or the run ended.
    pub closed: Option<Duration>,
}

/// What the next hop's host runs with, shared with the harness and the checks.
pub struct HopEnv {
    /// The scripts.
    pub hop: NextHop,
    /// Each client host's group name (for `clients:` conditions).
    groups: BTreeMap<String, String>,
    /// Everything seen and said on every connection (numbered from 1 across restarts).
    pub rec: Recorder,
    /// The connections by number.
    pub conns: RefCell<BTreeMap<u32, HopConn>>,
    rng: RefCell<Rng>,
    trace: SharedTrace,
    /// Sessions end at this simulated time at the latest.
    deadline: Duration,
}

impl HopEnv {
    /// A next hop playing `hop`, for clients whose groups `groups` names (host to group),
    /// drawing its chances from `rng`; sessions end by `deadline` (simulated time).
    pub fn new(
        hop: NextHop,
        groups: BTreeMap<String, String>,
        rng: Rng,
        trace: SharedTrace,
        deadline: Duration,
    ) -> Self {
        Self {
            hop,
            groups,
            rec: Recorder::new(),
            conns: RefCell::new(BTreeMap::new()),
            rng: RefCell::new(rng),
            trace,
            deadline,
        }
    }

    /// Numbers a new connection from `peer` and picks its script.
    fn accept(&self, peer: SocketAddr) -> (u32, Arc<ServerScript>) {
        let client = turmoil::reverse_lookup(peer.ip()).unwrap_or_else(|| "?".into());
        let group = self.groups.get(&client).map_or("", String::as_str);
        let mut conns = self.conns.borrow_mut();
        let conn = u32::try_from(conns.len()).map_or(u32::MAX, |n| n + 1);
        let session = 1 + conns.values().filter(|c| c.client == client).count();
        let session = u32::try_from(session).unwrap_or(u32::MAX);
        let pick = self
            .hop
            .pick(&client, group, session, &mut self.rng.borrow_mut());
        let by = pick.and_then(|i| self.hop.scripts.get(i)).map_or_else(
            || "the default script".into(),
            |s| format!("line {}", s.line),
        );
        self.trace.borrow_mut().event(
            sim_now(),
            SERVER,
            format!("connection {conn} from {client} (its connection {session} here): {by}"),
        );
        conns.insert(
            conn,
            HopConn {
                client,
                peer,
                session,
                script: pick,
                opened: sim_now(),
                closed: None,
            },
        );
        (conn, self.hop.script(pick))
    }

    fn closed(&self, conn: u32) {
        if let Some(c) = self.conns.borrow_mut().get_mut(&conn) {
            c.closed = Some(sim_now());
        }
    }
}

/// The next hop's software (run again on every restart): accept, and play a script per
/// connection until the host crashes.
pub async fn run(env: Rc<HopEnv>) -> turmoil::Result {
    let listener = turmoil::net::TcpListener::bind(("0.0.0.0", SMTP_PORT)).await?;
    env.trace
        .borrow_mut()
        .event(sim_now(), SERVER, "up: the scripted next hop");
    loop {
        let (stream, peer) = listener.accept().await?;
        let (conn, script) = env.accept(peer);
        let deadline = tokio::time::Instant::now() + env.deadline.saturating_sub(sim_now());
        let env = Rc::clone(&env);
        tokio::task::spawn_local(async move {
            Session::new(script, None)
                .run(stream, conn, env.rec.clone(), deadline)
                .await;
            env.closed(conn);
        });
    }
}
