//! Simulation scenarios (`scenarios/sim/*.yaml`): the hosts, the network, the faults on a
//! timeline and the invariants to check. Typed with serde (unknown fields are errors), then
//! checked further (host names exist, one action per fault), with errors naming the file,
//! line, column and field. The host clients deliver to is the reference server, or with a
//! `next_hop:` section a scripted next hop ([`super::next_hop`]): then the run checks the
//! client's outbound behaviour instead of the server's store.
//!
//! ```yaml
//! id: partition-mid-transaction
//! title: A client's link is cut and repaired while it sends
//! spec: [SMTP-DATA-6, SMTP-CLIENT-5]
//! network: { latency: { min: 1ms, max: 30ms } }
//! clients:
//!   - { name: c, count: 3, messages: 4, recipients: 2 }
//! faults:
//!   - { at: 1s..4s, partition: [c1, server] }
//!   - { after: 2s..10s, repair: [c1, server] }
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use mtp_server::client::queue::RetryPolicy;

use super::next_hop::{NextHop, RawHopScript};
use super::units::{Dur, DurRange};

/// The server's host name in every scenario.
pub const SERVER: &str = "server";

/// A loaded and checked simulation scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Names the scenario in summaries and replay commands (`[a-z0-9][a-z0-9._-]*`).
    pub id: String,
    /// One line saying what the scenario does.
    pub title: String,
    /// The SPEC.md requirement ids it exercises (`SMTP-DATA-6`, ...); may be empty.
    pub spec: Vec<String>,
    /// The file it was loaded from.
    pub path: PathBuf,
    /// The most simulated time a seed may take; live clients must be done by then (default
    /// 5 minutes).
    pub duration: Duration,
    /// How far simulated time moves per step (default 1 ms, at most 100 ms).
    pub tick: Duration,
    /// Latency and random link failures.
    pub network: Network,
    /// How the reference server runs.
    pub server: ServerSpec,
    /// The client groups, in file order (at least one).
    pub clients: Vec<ClientSpec>,
    /// The fault timeline, in file order.
    pub faults: Vec<Fault>,
    /// With `next_hop:`, the host named `server` plays these scripts instead of running the
    /// reference server, and the clients are judged as the next hop's clients.
    pub next_hop: Option<NextHop>,
    /// The invariants checked: those the file lists, or all those of the scenario's kind
    /// ([`Invariant::ALL`] against the reference server, [`Invariant::OUTBOUND`] against a
    /// next hop).
    pub invariants: BTreeSet<Invariant>,
}

/// The simulated network (the scenario's `network` section); by default 1 to 20 ms of latency
/// and no random failures.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Each message's delay on the wire.
    #[serde(default)]
    pub latency: Latency,
    /// Chance that a message on a healthy link breaks it (turmoil's random partitions).
    #[serde(default)]
    pub fail_rate: f64,
    /// Chance that a message on a broken link repairs it.
    #[serde(default = "one")]
    pub repair_rate: f64,
    /// Random breakage stops at this simulated time or at the last fault, whichever comes
    /// later; by default at half the scenario's `duration`. Then the network heals.
    #[serde(default)]
    pub lossy_until: Option<Dur>,
}

impl Default for Network {
    fn default() -> Self {
        Self {
            latency: Latency::default(),
            fail_rate: 0.0,
            repair_rate: 1.0,
            lossy_until: None,
        }
    }
}

/// Per-message latency: `min + (max - min) * x`, x exponential with rate `curve` (capped).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    /// The shortest delay (default 1 ms).
    pub min: Dur,
    /// The longest delay (default 20 ms).
    pub max: Dur,
    /// The exponential's rate (default 5): the higher, the closer most delays stay to `min`.
    #[serde(default = "five")]
    pub curve: f64,
}

impl Default for Latency {
    fn default() -> Self {
        Self {
            min: Dur(Duration::from_millis(1)),
            max: Dur(Duration::from_millis(20)),
            curve: 5.0,
        }
    }
}

/// How the reference server runs (the scenario's `server` section).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    /// When the store acknowledges a message: after its sync (the default) or, in the
    /// deliberately broken build, before it.
    #[serde(default)]
    pub sync: SyncSpec,
    /// How long an fsync takes on the simulated disk (default 2 ms).
    #[serde(default = "two_ms")]
    pub sync_latency: Dur,
    /// The server closes a connection idle this long (default 30 s; the server's own default
    /// is RFC 5321's five minutes).
    #[serde(default = "thirty_s")]
    pub idle_timeout: Dur,
    /// Advertise VMTP and accept its verbs (default true); off, the server is plain SMTP.
    #[serde(default = "yes")]
    pub vmtp: bool,
    /// Connections served at once (default 64).
    #[serde(default = "connections")]
    pub max_connections: usize,
}

impl Default for ServerSpec {
    fn default() -> Self {
        Self {
            sync: SyncSpec::Durable,
            sync_latency: two_ms(),
            idle_timeout: thirty_s(),
            vmtp: true,
            max_connections: connections(),
        }
    }
}

/// The store's sync mode; `ack-before-sync` is the deliberately broken build.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyncSpec {
    /// `durable`: a 250 only once the message is synced to the disk.
    #[default]
    Durable,
    /// `ack-before-sync`: the 250 goes before the sync (the batch is synced when the next one
    /// comes), so a power loss loses acknowledged mail; the checks must catch it.
    AckBeforeSync,
}

/// A group of identical clients: one host, or `count` hosts named `name1`, `name2`, ...
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// The host name, or with `count` above 1 the prefix of the host names
    /// (`[a-z][a-z0-9-]*`, not `server`).
    pub name: String,
    /// How many hosts the group has (1 to 100, default 1).
    #[serde(default = "one_u32")]
    pub count: u32,
    /// Messages queued at the start.
    pub messages: u32,
    /// Recipients per message (`rcptN@example.test`; 1 to 100, default 1).
    #[serde(default = "one_u32")]
    pub recipients: u32,
    /// Approximate body size in octets (default 400).
    #[serde(default = "body")]
    pub body: usize,
    /// METADATA pairs per message (VMTP).
    #[serde(default)]
    pub metadata: u32,
    /// Ask for read receipts (VMTP READACK); their STATUS is checked once delivered.
    #[serde(default)]
    pub read_ack: bool,
    /// Send messages with the same envelope in one VMTP BATCH.
    #[serde(default)]
    pub batch: bool,
    /// Pipeline commands when the server offers PIPELINING (default true).
    #[serde(default = "yes")]
    pub pipelining: bool,
    /// Use VMTP's extensions when the server offers them (default true); off, plain SMTP.
    #[serde(default = "yes")]
    pub vmtp: bool,
    /// When the client starts, from the start of the run (the seed picks; default at once).
    #[serde(default)]
    pub start: DurRange,
    /// Time between two messages entering the queue (the seed picks each gap); by default all
    /// are queued at the start.
    #[serde(default)]
    pub interval: DurRange,
    /// Every client timeout: connecting, and waiting for each reply (default 10 s).
    #[serde(default = "ten_s")]
    pub timeout: Dur,
    /// The retry queue's backoff (default 1 s, doubling up to 16 s).
    #[serde(default)]
    pub retry: Retry,
    /// Writes go out in chunks with a pause between them (a slow uplink).
    #[serde(default)]
    pub upload: Option<Upload>,
    /// A deliberately broken client, for the tests that prove the outbound checks can fail
    /// (next-hop scenarios only).
    #[serde(default)]
    pub sabotage: Option<Sabotage>,
}

impl ClientSpec {
    /// The retry policy the scenario gives the group's queue; the checks hold the client to
    /// it (a sabotaged client may run another, [`Sabotage::GiveUpTransient`]).
    pub fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            initial: self.retry.initial.0,
            max_interval: self.retry.max_interval.0,
            max_age: self.retry.max_age.map_or(NEVER, |d| d.0),
        }
    }

    /// The host names of this group.
    pub fn hosts(&self) -> Vec<String> {
        if self.count == 1 {
            return vec![self.name.clone()];
        }
        (1..=self.count)
            .map(|i| format!("{}{i}", self.name))
            .collect()
    }
}

/// A year: the max age of a queue that is not to give up within a run.
const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// The backoff of a client's retry queue. By default a simulated client never gives up on a
/// message: the network always heals, and `queues-drain` expects every message delivered
/// (against the reference server; a next hop's scripts may keep deferring a recipient, for
/// which a scenario sets `max_age`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// The wait after a message's first failed attempt.
    pub initial: Dur,
    /// The wait doubles per attempt up to this.
    pub max_interval: Dur,
    /// The queue gives up on recipients still deferred this long after the message was
    /// queued (default: never within a run).
    #[serde(default)]
    pub max_age: Option<Dur>,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            initial: Dur(Duration::from_secs(1)),
            max_interval: Dur(Duration::from_secs(16)),
            max_age: None,
        }
    }
}

/// A deliberately broken client (`sabotage:`), for the tests that prove each outbound check
/// can fail: a check that cannot fail proves nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sabotage {
    /// `give-up-transient`: the queue runs with a max age of zero, so it gives up at the
    /// first transient failure, whatever `retry` declares (`retried` must fail).
    GiveUpTransient,
    /// `resend-acked`: a message the next hop accepted is queued once more and sent again
    /// (`no-resend` must fail).
    ResendAcked,
    /// `skip-quit`: the client closes the connection where it would send QUIT (`quit` must
    /// fail).
    SkipQuit,
    /// `unstuffed`: the transparency dots are taken out of the data on the wire
    /// (`data-transparent` must fail).
    Unstuffed,
    /// `pipeline-unadvertised`: the client reads PIPELINING into every EHLO reply, so it
    /// pipelines whether or not the next hop offered it (`extensions` must fail).
    PipelineUnadvertised,
}

/// A slow uplink: a client's writes go out in chunks with a pause after each.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    /// Octets per write (at least 1).
    pub chunk: usize,
    /// Pause after each write.
    pub gap: Dur,
}

/// One event of the fault timeline.
#[derive(Clone, Debug)]
pub struct Fault {
    /// Its line in the scenario file, which the trace cites.
    pub line: u64,
    /// When it happens (the seed picks within a range).
    pub when: When,
    /// What happens.
    pub action: Action,
}

/// When a fault happens, in simulated time.
#[derive(Clone, Copy, Debug)]
pub enum When {
    /// `at`: this long after the run starts.
    At(DurRange),
    /// `after`: this long after the fault written before it in the file (or after the
    /// start, for the first).
    After(DurRange),
}

/// What a fault does. Links are between two named hosts; `crash`, `power_off` and `restart`
/// apply to the server only; `kill` and `kill_mid_data` to clients only.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Messages between the two hosts are dropped (segments in flight included).
    Partition(String, String),
    /// A partitioned link carries messages again.
    Repair(String, String),
    /// Messages between the two hosts wait, then arrive on release.
    Hold(String, String),
    /// A held link delivers what it kept and carries messages again.
    Release(String, String),
    /// The server process dies; what it wrote to its disk stays.
    Crash,
    /// The server's machine loses power: the unsynced tail of its disk is lost or torn.
    PowerOff,
    /// The server starts again (recovering its store).
    Restart,
    /// A client dies at once.
    Kill(String),
    /// A client dies the first moment it is in the middle of a message's data, from then on.
    KillMidData(String),
    /// Recipients read this fraction of the READACK messages stored so far.
    Open(f64),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Partition(a, b) => write!(f, "partition {a} <-> {b}"),
            Self::Repair(a, b) => write!(f, "repair {a} <-> {b}"),
            Self::Hold(a, b) => write!(f, "hold {a} <-> {b}"),
            Self::Release(a, b) => write!(f, "release {a} <-> {b}"),
            Self::Crash => write!(f, "crash {SERVER}"),
            Self::PowerOff => write!(f, "power off {SERVER}"),
            Self::Restart => write!(f, "restart {SERVER}"),
            Self::Kill(c) => write!(f, "kill {c}"),
            Self::KillMidData(c) => write!(f, "kill {c} mid-DATA"),
            Self::Open(p) => write!(f, "open {:.0}% of READACK messages", p * 100.0),
        }
    }
}

/// What the run checks; by default every invariant of the scenario's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invariant {
    /// Every message acknowledged with 250 is in the store at the end, across crashes.
    AckedStored,
    /// No message is stored twice, except after the known ambiguity (reported apart).
    NoDuplicates,
    /// Every stored message is byte for byte one that a client sent, with its envelope.
    Intact,
    /// Every reply the clients read is well formed.
    RepliesWellFormed,
    /// Every live client's queue drains once the network heals.
    QueuesDrain,
    /// BATCH gives each message its own id and keeps accepted messages.
    Batch,
    /// STATUS knows every acknowledged READACK message, OPENED once durably read.
    Status,
    /// (Next hop) a transient failure is retried after the backoff, and a recipient is given
    /// up only once the policy's max age has passed.
    Retried,
    /// (Next hop) a 5yz is final at once, for the recipient (or message) it refused only,
    /// and reported so.
    RefusalsFinal,
    /// (Next hop) a copy whose 250 reached the client is never sent again; a resend after a
    /// reply that never arrived is the known duplicate, counted apart.
    NoResend,
    /// (Next hop) an extension is used only when the EHLO reply advertised it: no command
    /// before the previous reply without PIPELINING, no SIZE=, BODY= or SMTPUTF8 on MAIL
    /// without SIZE, 8BITMIME or SMTPUTF8.
    Extensions,
    /// (Next hop) the client sends QUIT before it closes, unless the network or the next hop
    /// cut the connection; after a greeting other than 2yz, QUIT alone.
    Quit,
    /// (Next hop) the data arrives with CRLF line ends only, dot-stuffed, and is the message
    /// sent once the dots are removed.
    DataTransparent,
}

impl Invariant {
    /// Every invariant of a run against the reference server, the set such a scenario that
    /// lists none is held to.
    pub const ALL: [Invariant; 7] = [
        Self::AckedStored,
        Self::NoDuplicates,
        Self::Intact,
        Self::RepliesWellFormed,
        Self::QueuesDrain,
        Self::Batch,
        Self::Status,
    ];

    /// Every invariant of a run against a scripted next hop (`next_hop:`).
    pub const OUTBOUND: [Invariant; 8] = [
        Self::Retried,
        Self::RefusalsFinal,
        Self::NoResend,
        Self::Extensions,
        Self::Quit,
        Self::DataTransparent,
        Self::RepliesWellFormed,
        Self::QueuesDrain,
    ];

    /// The SPEC.md requirements the invariant enforces, cited in every violation.
    pub fn spec(self) -> &'static [&'static str] {
        match self {
            Self::AckedStored => &["SMTP-DATA-6", "SMTP-DATA-7"],
            Self::NoDuplicates => &["SMTP-DATA-6", "SMTP-CLIENT-9"],
            Self::Intact => &["SMTP-DATA-3", "SMTP-DATA-9"],
            Self::RepliesWellFormed => &["SMTP-SYNTAX-11"],
            Self::QueuesDrain => &["SMTP-CLIENT-5"],
            Self::Batch => &["VMTP-BATCH-2", "VMTP-BATCH-4"],
            Self::Status => &["VMTP-STATUS-1", "VMTP-STATUS-2"],
            Self::Retried => &["SMTP-CLIENT-5", "SMTP-CLIENT-6"],
            Self::RefusalsFinal => &["SMTP-CLIENT-7", "SMTP-RELAY-15"],
            Self::NoResend => &["SMTP-CLIENT-9"],
            Self::Extensions => &["SMTP-CLIENT-3"],
            Self::Quit => &["SMTP-CLIENT-1"],
            Self::DataTransparent => &["SMTP-CLIENT-4", "SMTP-RELAY-2"],
        }
    }

    /// Its kebab-case name, as scenario files and violation reports write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::AckedStored => "acked-stored",
            Self::NoDuplicates => "no-duplicates",
            Self::Intact => "intact",
            Self::RepliesWellFormed => "replies-well-formed",
            Self::QueuesDrain => "queues-drain",
            Self::Batch => "batch",
            Self::Status => "status",
            Self::Retried => "retried",
            Self::RefusalsFinal => "refusals-final",
            Self::NoResend => "no-resend",
            Self::Extensions => "extensions",
            Self::Quit => "quit",
            Self::DataTransparent => "data-transparent",
        }
    }
}

// serde's `default = "..."` takes functions.
fn one() -> f64 {
    1.0
}
fn five() -> f64 {
    5.0
}
fn one_u32() -> u32 {
    1
}
fn yes() -> bool {
    true
}
fn body() -> usize {
    400
}
fn connections() -> usize {
    64
}
fn two_ms() -> Dur {
    Dur(Duration::from_millis(2))
}
fn ten_s() -> Dur {
    Dur(Duration::from_secs(10))
}
fn thirty_s() -> Dur {
    Dur(Duration::from_secs(30))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub spec: Vec<String>,
    #[serde(default = "five_minutes")]
    pub duration: Dur,
    #[serde(default = "one_ms")]
    pub tick: Dur,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub server: Option<ServerSpec>,
    pub clients: Vec<Spanned<ClientSpec>>,
    #[serde(default)]
    pub faults: Vec<Spanned<RawFault>>,
    #[serde(default)]
    pub next_hop: Option<Spanned<Vec<Spanned<RawHopScript>>>>,
    #[serde(default)]
    pub invariants: Option<Vec<Invariant>>,
}

fn five_minutes() -> Dur {
    Dur(Duration::from_secs(300))
}
fn one_ms() -> Dur {
    Dur(Duration::from_millis(1))
}

/// A fault as written: a time and exactly one action.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFault {
    pub at: Option<DurRange>,
    pub after: Option<DurRange>,
    pub partition: Option<[String; 2]>,
    pub repair: Option<[String; 2]>,
    pub hold: Option<[String; 2]>,
    pub release: Option<[String; 2]>,
    pub crash: Option<String>,
    pub power_off: Option<String>,
    pub restart: Option<String>,
    pub kill: Option<String>,
    pub kill_mid_data: Option<String>,
    pub open: Option<f64>,
}

impl Scenario {
    /// Every host name: the server first, then the clients in file order.
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts = vec![SERVER.to_string()];
        hosts.extend(self.clients.iter().flat_map(ClientSpec::hosts));
        hosts
    }

    /// The file the scenario was loaded from (for messages and replay commands).
    pub fn file_name(&self) -> &Path {
        &self.path
    }

    /// The clients deliver to a scripted next hop (`next_hop:`), not the reference server.
    pub fn outbound(&self) -> bool {
        self.next_hop.is_some()
    }
}
