//! The robustness section of the suite: attacks a hostile client can make on any SMTP server,
//! each bounded in time (a per-case cap) and in connections, and judged only on what SPEC.md's
//! ROBUST part asks: that the server goes on serving others. Each case measures how long the
//! stalled connections survived (a figure: RFC 5321 §4.5.3.2.7 lets a server wait minutes),
//! whether and how fast a fresh client (from another loopback address where there is one) was
//! greeted while the attack held, and, for a local target whose PID is known, its memory. The
//! cases run one at a time, after the scenario cases, so that the fresh client measures the
//! attack alone.
//!
//! One file per attack (`tls_stall`, `never_reads`, `slow_command`, `slow_data`,
//! `idle_connections`, `unfinished_data`); the fresh client ([`fresh_client`]), the
//! measurement they share ([`measure`]) and the memory reader ([`rss`]) are used by the
//! network fuzzer's oracles too.

mod attacker;
pub mod endpoint;
pub mod fresh_client;
mod idle_connections;
pub mod measure;
mod never_reads;
pub mod result;
pub mod rss;
mod slow_command;
mod slow_data;
#[cfg(test)]
mod tests;
mod tls_stall;
mod unfinished_data;
pub mod wire;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use endpoint::{Endpoint, Opened, TargetProcess};
pub use fresh_client::{FreshClient, Greeting};
pub use result::RobustnessResult;

use measure::{Fate, Measurement, Slot};

use crate::scenario::Level;
use crate::spec::Spec;

/// The attacks, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attack {
    /// `robust-tls-handshake-stall`: connections to the implicit-TLS listener that never send
    /// a ClientHello or, without one, STARTTLS answered 220 and then silence.
    TlsStall,
    /// `robust-never-reads`: NOOP after NOOP with a small receive buffer, never reading, so
    /// that the server's replies back up and its writes block.
    NeverReads,
    /// `robust-slow-command`: a command line sent one octet per second, never ended.
    SlowCommand,
    /// `robust-slow-data`: mail data sent one octet per second after DATA's 354.
    SlowData,
    /// `robust-idle-connections`: as many connections as allowed from one address, each
    /// silent after the greeting.
    IdleConnections,
    /// `robust-unfinished-data`: a few MiB of mail data at full speed, then silence, never
    /// the final dot.
    UnfinishedData,
}

impl Attack {
    /// Every attack, in the order they run.
    pub const ALL: [Attack; 6] = [
        Attack::TlsStall,
        Attack::NeverReads,
        Attack::SlowCommand,
        Attack::SlowData,
        Attack::IdleConnections,
        Attack::UnfinishedData,
    ];

    /// The case this attack is: its id, title, requirements and what a well-behaved server
    /// does.
    pub fn case(self) -> &'static CaseInfo {
        match self {
            Self::TlsStall => &tls_stall::CASE,
            Self::NeverReads => &never_reads::CASE,
            Self::SlowCommand => &slow_command::CASE,
            Self::SlowData => &slow_data::CASE,
            Self::IdleConnections => &idle_connections::CASE,
            Self::UnfinishedData => &unfinished_data::CASE,
        }
    }

    async fn run(self, ctx: &Context) -> Run {
        match self {
            Self::TlsStall => tls_stall::run(ctx).await,
            Self::NeverReads => never_reads::run(ctx).await,
            Self::SlowCommand => slow_command::run(ctx).await,
            Self::SlowData => slow_data::run(ctx).await,
            Self::IdleConnections => idle_connections::run(ctx).await,
            Self::UnfinishedData => unfinished_data::run(ctx).await,
        }
    }
}

/// What a robustness case is, as reports and `mtpspec coverage` show it.
#[derive(Debug)]
pub struct CaseInfo {
    /// The attack the case runs.
    pub attack: Attack,
    /// The case's id (`robust-tls-handshake-stall`), as reports and `--filter` name it.
    pub id: &'static str,
    /// The case's title: what a server must not let the attack do.
    pub title: &'static str,
    /// The SPEC.md requirements it checks (ROBUST part: SHOULD at most).
    pub spec: &'static [&'static str],
    /// What a well-behaved server does under the attack.
    pub well_behaved: &'static str,
}

/// Every case, each with the requirements it cites (for `mtpspec coverage`).
pub fn citations() -> impl Iterator<Item = (String, Vec<String>)> {
    Attack::ALL.into_iter().map(|a| {
        let case = a.case();
        (
            case.id.to_string(),
            case.spec.iter().map(|s| s.to_string()).collect(),
        )
    })
}

/// The bounds of the attacks and of the judgement.
#[derive(Clone, Debug)]
pub struct RobustnessOptions {
    /// The most one case takes, setup and attack together.
    pub case_cap: Duration,
    /// The most attacking connections one case opens (the fresh client comes on top, one at
    /// a time).
    pub max_connections: usize,
    /// How soon a fresh client must be greeted with 220 (connect and TLS included).
    pub greeting_bound: Duration,
    /// How often a fresh client is sent while the attack holds.
    pub probe_interval: Duration,
    /// The domain whose postmaster the DATA attacks write to.
    pub domain: String,
    /// The name the attackers give in EHLO.
    pub helo: String,
    /// How much the unfinished message sends before it falls silent.
    pub unfinished_data_octets: usize,
}

impl Default for RobustnessOptions {
    fn default() -> Self {
        Self {
            case_cap: Duration::from_secs(15),
            max_connections: 64,
            greeting_bound: Duration::from_secs(5),
            probe_interval: Duration::from_secs(2),
            domain: "example.test".into(),
            helo: "client.example.org".into(),
            unfinished_data_octets: 4 << 20,
        }
    }
}

/// What the attacks run against.
#[derive(Clone, Debug)]
pub struct Context {
    /// The listener attacked, and the one the fresh clients are greeted on.
    pub endpoint: Endpoint,
    /// The bounds of the attacks and of the judgement.
    pub options: RobustnessOptions,
    /// The target's process, when its memory can be read; `None`: no memory figures.
    pub process: Option<TargetProcess>,
    fresh: FreshClient,
}

/// One attack's description and what it measured.
pub struct Run {
    /// What the attack did, in one line (`8 connections to 127.0.0.1:2525 ...`): the first of
    /// the case's figure lines.
    pub attack: String,
    /// What was measured while it held and after.
    pub measurement: Measurement,
}

impl Context {
    /// A context for attacks on `endpoint`, its fresh clients from another loopback address
    /// where there is one ([`FreshClient::new`]).
    pub fn new(
        endpoint: Endpoint,
        options: RobustnessOptions,
        process: Option<TargetProcess>,
    ) -> Self {
        Self {
            fresh: FreshClient::new(endpoint.clone()),
            endpoint,
            options,
            process,
        }
    }

    /// Runs `connections` attacking connections of `attack`, measuring.
    async fn measure<F, Fut>(&self, connections: usize, attack: F) -> Measurement
    where
        F: Fn(Arc<Slot>) -> Fut,
        Fut: Future<Output = Fate> + Send + 'static,
    {
        measure::under_attack(
            &self.endpoint,
            &self.options,
            self.process,
            &self.fresh,
            connections,
            attack,
        )
        .await
    }

    /// Runs `attacks` one after the other; `level` gives each case's level (see [`level`]),
    /// `on_done` sees each result.
    pub async fn run(
        &mut self,
        attacks: &[Attack],
        level: impl Fn(&CaseInfo) -> Level,
        mut on_done: impl FnMut(&RobustnessResult),
    ) -> Vec<RobustnessResult> {
        let mut results = Vec::with_capacity(attacks.len());
        for &attack in attacks {
            let case = attack.case();
            let clock = Instant::now();
            let result = match self.fresh.calibrate(self.options.greeting_bound).await {
                Err(why) => result::skipped(
                    case,
                    level(case),
                    format!(
                        "not judged: a fresh client was not greeted before the attack began ({why})"
                    ),
                ),
                Ok(_) => {
                    let run = attack.run(self).await;
                    result::judged(
                        case,
                        level(case),
                        run.attack,
                        &run.measurement,
                        clock.elapsed(),
                    )
                }
            };
            on_done(&result);
            results.push(result);
        }
        results
    }
}

/// A case's level against a target: the highest of its requirements' (DESIGN ones MAY on a
/// target that is not the reference), and never above SHOULD.
pub fn level(spec: Option<&Spec>, case: &CaseInfo, reference: bool) -> Level {
    let ids: Vec<String> = case.spec.iter().map(|s| s.to_string()).collect();
    spec.map_or(Level::Should, |spec| spec.level_ceiling(&ids, reference))
        .max(Level::Should)
}

/// Every case as SKIP with `reason` (a target the attacks do not apply to, or
/// `--skip-robustness`).
pub fn skipped_all(
    attacks: &[Attack],
    level: impl Fn(&CaseInfo) -> Level,
    reason: &str,
) -> Vec<RobustnessResult> {
    attacks
        .iter()
        .map(|a| result::skipped(a.case(), level(a.case()), reason.to_string()))
        .collect()
}
