//! One run of a scenario with one seed: build the turmoil simulation (fixed epoch, seeded
//! rng), start the server (or the scripted next hop) and the client hosts, step it while
//! applying the fault timeline, heal the network, then power the server off one last time
//! and check what its disk holds (or, for a next hop, let the last closes land and check
//! what it saw).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use mtp_server::client::TlsMode;
use mtp_server::client::TlsSetup;
use mtp_server::client::tls::{Verify, client_config};
use mtp_server::store::{Completion, MemDisk, Store};
use rustls::pki_types::ServerName;

use super::check::{self, Observed, Stats, Violation};
use super::client::{self, ClientEnv, ClientLog};
use super::disturb::Disturbances;
use super::fate::Report;
use super::hop::{self, HopEnv};
use super::panics;
use super::scenario::{Action, SERVER, Scenario, When};
use super::server::{self, ServerEnv};
use super::trace::{SharedTrace, Trace};
use super::units::millis;
use super::workload;
use crate::rng::Rng;

/// The simulation's wall clock starts at 2026-01-01T00:00:00Z, whatever the real date.
pub const EPOCH_UNIX_SECS: u64 = 1_767_225_600;

/// After an outbound run, the time the last segments get to reach the next hop.
const GRACE: Duration = Duration::from_secs(2);

/// How a seed is run, beyond the scenario and the seed.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Keep each session's wire transcript in the trace.
    pub verbose: bool,
}

/// The result of one seed.
#[derive(Debug)]
pub struct SeedRun {
    /// The scenario's `id`.
    pub scenario: String,
    /// The seed that ran; the same seed replays the same run.
    pub seed: u64,
    /// Every broken invariant and run failure; empty when the seed passed.
    pub violations: Vec<Violation>,
    /// Counts for the summary line.
    pub stats: Stats,
    /// The trace's lines (details too in a verbose run).
    pub trace: Vec<String>,
    /// FNV-1a of the trace's event lines: equal across runs of the same seed, verbose or not.
    pub trace_hash: u64,
    /// Simulated time until the clients were done.
    pub sim_time: Duration,
    /// The clients delivered to a scripted next hop (the stats count its copies).
    pub outbound: bool,
}

impl SeedRun {
    /// No invariant was violated and the run itself did not fail.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Runs `scenario` with `seed`. Never panics: a panic anywhere in the run is a violation.
pub fn run_seed(scenario: &Scenario, seed: u64, options: &RunOptions) -> SeedRun {
    let trace = Trace::new(options.verbose);
    let run = AssertUnwindSafe(|| Harness::new(scenario, seed, trace.clone()).run());
    let (result, mut caught) = panics::capture(run);
    let (mut violations, stats, sim_time) = result.unwrap_or_else(|panic| {
        // The hook saw this panic too, with its location; report it once.
        let text = caught.pop().unwrap_or(panic);
        let text = format!("the simulation panicked: {text}");
        (
            vec![Violation::general(text)],
            Stats::default(),
            Duration::ZERO,
        )
    });
    violations.extend(
        caught
            .into_iter()
            .map(|p| Violation::general(format!("panic: {p}"))),
    );
    let trace = trace.borrow();
    SeedRun {
        scenario: scenario.id.clone(),
        seed,
        violations,
        stats,
        trace: trace.lines().to_vec(),
        trace_hash: trace.hash(),
        sim_time,
        outbound: scenario.outbound(),
    }
}

/// A scheduled fault.
struct Scheduled {
    at: Duration,
    line: u64,
    action: Action,
}

struct Harness<'s> {
    scenario: &'s Scenario,
    sim: turmoil::Sim<'static>,
    server: Rc<ServerEnv>,
    /// The scripted next hop that plays the server's part in an outbound scenario.
    hop: Option<Rc<HopEnv>>,
    server_up: bool,
    clients: BTreeMap<String, Rc<RefCell<ClientLog>>>,
    timeline: Vec<Scheduled>,
    next_fault: usize,
    heal_at: Duration,
    healed: bool,
    kill_mid_data: Vec<String>,
    opening: Vec<(String, Completion<bool>)>,
    /// Message id to the simulated time its first read became durable.
    opened: BTreeMap<String, Duration>,
    open_requested: BTreeSet<String>,
    disturbed: Disturbances,
    failures: Vec<String>,
    rng: Rng,
    trace: SharedTrace,
}

impl<'s> Harness<'s> {
    fn new(scenario: &'s Scenario, seed: u64, trace: SharedTrace) -> Self {
        let root = Rng::new(seed);
        let (timeline, last) = schedule(scenario, &mut root.fork("faults"));
        let lossy_until = scenario
            .network
            .lossy_until
            .map_or(scenario.duration / 2, |d| d.0);
        let heal_at = if scenario.network.fail_rate > 0.0 {
            last.max(lossy_until)
        } else {
            last
        };
        let mut disturbed = Disturbances::default();
        if scenario.network.fail_rate > 0.0 {
            disturbed.lossy(heal_at);
        }
        let mut sim = build_sim(scenario, seed);
        let server = Rc::new(ServerEnv {
            spec: scenario.server.clone(),
            disk: MemDisk::new(),
            store: RefCell::new(None),
            trace: trace.clone(),
        });
        let hop = scenario.next_hop.clone().map(|next_hop| {
            let groups = scenario
                .clients
                .iter()
                .flat_map(|c| c.hosts().into_iter().map(|h| (h, c.name.clone())))
                .collect();
            let deadline = scenario.duration + GRACE;
            let rng = root.fork("next hop");
            Rc::new(HopEnv::new(next_hop, groups, rng, trace.clone(), deadline))
        });
        match &hop {
            Some(hop) => {
                let env = hop.clone();
                sim.host(SERVER, move || hop::run(env.clone()));
            }
            None => {
                let env = server.clone();
                sim.host(SERVER, move || server::run(env.clone()));
            }
        }
        let clients = add_clients(&mut sim, scenario, &root, &trace);
        Self {
            scenario,
            sim,
            server,
            hop,
            server_up: true,
            clients,
            timeline,
            next_fault: 0,
            heal_at,
            healed: false,
            kill_mid_data: Vec::new(),
            opening: Vec::new(),
            opened: BTreeMap::new(),
            open_requested: BTreeSet::new(),
            disturbed,
            failures: Vec::new(),
            rng: root.fork("harness"),
            trace,
        }
    }

    fn run(mut self) -> (Vec<Violation>, Stats, Duration) {
        loop {
            let now = self.sim.elapsed();
            self.apply_faults(now);
            self.kill_when_mid_data(now);
            self.poll_opens(now);
            if !self.healed && now >= self.heal_at {
                self.heal(now);
            }
            if self.clients.values().all(|c| c.borrow().is_settled()) {
                break;
            }
            if now >= self.scenario.duration {
                let text = "the time limit was reached before every client was done";
                self.trace.borrow_mut().event(now, "harness", text);
                break;
            }
            if let Err(e) = self.sim.step() {
                let text = format!("a host failed: {e}");
                self.trace.borrow_mut().event(now, "harness", &text);
                self.failures.push(text);
                break;
            }
        }
        let end = self.sim.elapsed();
        for fault in &self.timeline[self.next_fault..] {
            let text = format!("not reached: {} (line {})", fault.action, fault.line);
            self.trace.borrow_mut().event(end, "harness", text);
        }
        let recovered = match &self.hop {
            None => self.final_power_off(end).map(Some),
            Some(_) => {
                self.let_closes_land(end);
                Ok(None)
            }
        };
        let logs: Vec<_> = self.clients.values().map(|c| c.borrow()).collect();
        let observed = Observed {
            scenario: self.scenario,
            clients: logs.iter().map(|l| &**l).collect(),
            store: recovered.as_ref().ok().and_then(Option::as_ref),
            opened: &self.opened,
            open_requested: &self.open_requested,
            disturbed: &self.disturbed,
            failures: &self.failures,
            hop: self.hop.as_deref(),
        };
        let (mut violations, stats) = check::check(&observed);
        if let Err(e) = &recovered {
            violations.push(Violation::general(format!(
                "the store cannot be recovered: {e}"
            )));
        }
        (violations, stats, end)
    }

    fn apply_faults(&mut self, now: Duration) {
        while let Some(fault) = self.timeline.get(self.next_fault) {
            if fault.at > now {
                return;
            }
            let (action, line) = (fault.action.clone(), fault.line);
            self.next_fault += 1;
            self.trace
                .borrow_mut()
                .event(now, "fault", format!("{action} (line {line})"));
            self.apply(action, now);
        }
    }

    fn apply(&mut self, action: Action, now: Duration) {
        match action {
            Action::Partition(a, b) => {
                self.sim.partition(a.as_str(), b.as_str());
                self.disturbed.link_down(&a, &b, now);
            }
            Action::Repair(a, b) => {
                self.sim.repair(a.as_str(), b.as_str());
                self.disturbed.link_up(&a, &b, now);
            }
            Action::Hold(a, b) => {
                self.sim.hold(a.as_str(), b.as_str());
                self.disturbed.link_down(&a, &b, now);
            }
            Action::Release(a, b) => {
                self.sim.release(a.as_str(), b.as_str());
                self.disturbed.link_up(&a, &b, now);
            }
            Action::Crash => {
                self.stop_server();
                if self.hop.is_none() {
                    self.server.disk.process_crash();
                }
            }
            Action::PowerOff => {
                self.stop_server();
                self.power_loss(now);
            }
            Action::Restart => {
                if self.server_up {
                    self.stop_server();
                    if self.hop.is_none() {
                        self.server.disk.process_crash();
                    }
                }
                self.start_server(now);
            }
            Action::Kill(host) => self.kill(&host, now),
            Action::KillMidData(host) => self.kill_mid_data.push(host),
            Action::Open(fraction) => self.open(fraction, now),
        }
    }

    fn stop_server(&mut self) {
        if self.server_up {
            self.sim.crash(SERVER);
            self.server_up = false;
            self.disturbed.server_down(self.sim.elapsed());
        }
        self.server.store.borrow_mut().take();
    }

    fn start_server(&mut self, now: Duration) {
        self.sim.bounce(SERVER);
        self.server_up = true;
        self.disturbed.server_up(now);
    }

    /// Unsynced bytes are lost, except a prefix the seed picks (a torn write).
    fn power_loss(&mut self, now: Duration) {
        let disk = &self.server.disk;
        let unsynced = disk.len() - disk.synced_len();
        let keep = self.rng.below(unsynced + 1);
        let lost = disk.power_loss(keep);
        let text =
            format!("power lost: {unsynced} unsynced octets, {keep} reached the disk, {lost} lost");
        self.trace.borrow_mut().event(now, SERVER, text);
    }

    fn kill(&mut self, host: &str, now: Duration) {
        let Some(log) = self.clients.get(host) else {
            return;
        };
        if log.borrow().is_settled() {
            return;
        }
        self.sim.crash(host);
        // Its connection is cut where it stands: not the client's doing.
        self.disturbed.link_down(host, SERVER, now);
        log.borrow_mut().killed_at = Some(now);
        self.trace.borrow_mut().event(now, host, "killed");
    }

    fn kill_when_mid_data(&mut self, now: Duration) {
        let hosts = std::mem::take(&mut self.kill_mid_data);
        for host in hosts {
            let Some(log) = self.clients.get(&host).cloned() else {
                continue;
            };
            let mid = log
                .borrow()
                .probe
                .as_ref()
                .is_some_and(|p| p.borrow().mid_data());
            if mid {
                self.kill(&host, now);
            } else if !log.borrow().is_settled() {
                self.kill_mid_data.push(host);
            }
        }
    }

    /// The recipients read some READACK messages (through the store, as the gateway would).
    fn open(&mut self, fraction: f64, now: Duration) {
        let Some(store) = self.server.store.borrow().clone() else {
            self.trace
                .borrow_mut()
                .event(now, "harness", "open: the server is down");
            return;
        };
        let now_ms = EPOCH_UNIX_SECS * 1000 + millis(now);
        for message in store.list() {
            if message.message.read_ack
                && message.opened_at_ms.is_none()
                && self.rng.chance(fraction)
            {
                let completion = store.mark_opened(&message.id, now_ms);
                self.open_requested.insert(message.id.clone());
                self.opening.push((message.id, completion));
            }
        }
    }

    fn poll_opens(&mut self, now: Duration) {
        let mut cx = Context::from_waker(Waker::noop());
        self.opening.retain_mut(|(id, completion)| {
            match std::pin::Pin::new(completion).poll(&mut cx) {
                Poll::Pending => true,
                Poll::Ready(result) => {
                    if result.is_ok() {
                        self.opened.entry(id.clone()).or_insert(now);
                    }
                    let text = format!(
                        "read {id}: {}",
                        result.map_or_else(|e| e.to_string(), |_| "acknowledged".into())
                    );
                    self.trace.borrow_mut().event(now, "reader", text);
                    false
                }
            }
        });
    }

    /// The network heals: no more random loss, every link released, the server up.
    fn heal(&mut self, now: Duration) {
        self.healed = true;
        self.sim.set_fail_rate(0.0);
        let hosts = self.scenario.hosts();
        for (i, a) in hosts.iter().enumerate() {
            for b in &hosts[i + 1..] {
                self.sim.release(a.as_str(), b.as_str());
            }
        }
        if !self.server_up {
            self.start_server(now);
        }
        self.disturbed.heal(now);
        if !self.timeline.is_empty() || self.scenario.network.fail_rate > 0.0 {
            let mut trace = self.trace.borrow_mut();
            trace.event(now, "harness", "the network heals");
        }
    }

    /// The end of an outbound run: the clients are done, and the last segments they sent (a
    /// QUIT, a close) get [`GRACE`] of simulated time to reach the next hop, so that the
    /// checks see how each connection ended.
    fn let_closes_land(&mut self, now: Duration) {
        while self.sim.elapsed() < now + GRACE {
            if let Err(e) = self.sim.step() {
                let text = format!("a host failed: {e}");
                self.trace
                    .borrow_mut()
                    .event(self.sim.elapsed(), "harness", &text);
                self.failures.push(text);
                return;
            }
        }
    }

    /// The end: the server loses power once more, and its disk is read as a restart would.
    fn final_power_off(&mut self, now: Duration) -> Result<Store, String> {
        self.stop_server();
        self.power_loss(now);
        Store::open_simulated_read_only(&self.server.disk).map_err(|e| e.to_string())
    }
}

/// The fault timeline with the seed's times, in time order; and the time of its last event.
fn schedule(scenario: &Scenario, rng: &mut Rng) -> (Vec<Scheduled>, Duration) {
    let mut previous = Duration::ZERO;
    let mut timeline: Vec<Scheduled> = scenario
        .faults
        .iter()
        .map(|fault| {
            let at = match fault.when {
                When::At(range) => range.pick(rng),
                When::After(range) => previous + range.pick(rng),
            };
            previous = at;
            Scheduled {
                at,
                line: fault.line,
                action: fault.action.clone(),
            }
        })
        .collect();
    timeline.sort_by_key(|f| f.at);
    let last = timeline.last().map_or(Duration::ZERO, |f| f.at);
    (timeline, last)
}

fn build_sim(scenario: &Scenario, seed: u64) -> turmoil::Sim<'static> {
    let net = &scenario.network;
    let mut builder = turmoil::Builder::new();
    builder
        .rng_seed(seed)
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(EPOCH_UNIX_SECS))
        // The harness enforces the scenario's limit itself.
        .simulation_duration(scenario.duration + Duration::from_secs(3600))
        .tick_duration(scenario.tick)
        .min_message_latency(net.latency.min.0)
        .max_message_latency(net.latency.max.0)
        .fail_rate(net.fail_rate)
        .repair_rate(net.repair_rate);
    let sim = builder.build();
    sim.set_message_latency_curve(net.latency.curve);
    sim
}

fn add_clients(
    sim: &mut turmoil::Sim<'static>,
    scenario: &Scenario,
    root: &Rng,
    trace: &SharedTrace,
) -> BTreeMap<String, Rc<RefCell<ClientLog>>> {
    let tls = plain_tls();
    let mut clients = BTreeMap::new();
    for spec in &scenario.clients {
        for host in spec.hosts() {
            let mut rng = root.fork(&host);
            let plan = workload::plan(spec, &host, &mut rng, scenario.outbound());
            let log = Rc::new(RefCell::new(ClientLog {
                host: host.clone(),
                finals: vec![None; plan.len()],
                queued_at: vec![None; plan.len()],
                reports: vec![Report::default(); plan.len()],
                plan,
                ..ClientLog::default()
            }));
            let mut arrival = Duration::ZERO;
            let arrivals = (0..spec.messages)
                .map(|i| {
                    if i > 0 {
                        arrival += spec.interval.pick(&mut rng);
                    }
                    arrival
                })
                .collect();
            let env = Rc::new(ClientEnv {
                host: host.clone(),
                spec: spec.clone(),
                start: spec.start.pick(&mut rng),
                arrivals,
                log: log.clone(),
                trace: trace.clone(),
                tls: tls.clone(),
            });
            sim.host(host.as_str(), move || client::run(env.clone()));
            clients.insert(host, log);
        }
    }
    clients
}

/// The client never upgrades to TLS in the simulation, but the driver wants a setup.
fn plain_tls() -> TlsSetup {
    // Building a rustls configuration with the ring provider and no roots cannot fail.
    let config = client_config(&Verify::Insecure).expect("a TLS client configuration");
    let name = ServerName::try_from("mx.example.test").expect("a valid DNS name");
    TlsSetup::new(TlsMode::Plain, Arc::clone(&config), name)
}
