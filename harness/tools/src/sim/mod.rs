//! Deterministic network simulation of the reference server and client (issue 6).
//!
//! A scenario ([`scenario`], loaded by [`load`]) names the hosts (the reference server and
//! groups of clients with a workload), the network (latency, random loss) and faults on a
//! timeline (partitions, holds, crashes, power loss, clients killed mid-DATA). [`run::run_seed`]
//! runs it on turmoil with one seed: the server is the real `RunningServer` over turmoil's
//! TCP with its store on a simulated disk ([`mtp_server::store::MemDisk`]) that a power loss
//! cuts back to what was synced; the clients are the real client driver and retry queue on
//! the simulation's clock. Nothing runs outside the simulation (no thread, no real time, no
//! unseeded randomness), so a seed replays exactly. [`check`] then holds the run to the
//! invariants: every 250 is on the disk after a final power loss, no duplicate beyond the
//! known ambiguity, every stored message intact, replies well formed, queues drained, BATCH
//! and STATUS as promised.
//!
//! An outbound scenario (`next_hop:`, [`next_hop`]) puts a scripted next hop in the server's
//! place: serve-test's scripted session ([`hop`]) answering 4yz or 5yz per recipient, 421,
//! closing between the final dot and its reply, greeting with 554, leaving extensions out.
//! `outbound` then holds the client and its queue to what the next hop answered
//! ([`hop_record`]): transient failures retried after the backoff and not given up before
//! the max age, refusals final for their recipient only and reported ([`fate`]), nothing
//! sent again after a 250 the client heard, extensions only when advertised, QUIT before
//! closing, the data CRLF-clean and dot-stuffed. [`sabotage`] breaks a client on purpose, so
//! that each check is shown to fail.

pub mod check;
pub mod client;
pub mod disturb;
pub mod fate;
pub mod hop;
pub mod hop_record;
pub mod load;
pub mod net;
pub mod next_hop;
mod outbound;
mod panics;
pub mod report;
pub mod run;
pub mod sabotage;
pub mod scenario;
pub mod server;
pub mod trace;
pub mod units;
pub mod workload;

pub use check::{Stats, Violation};
pub use load::{LoadError, load_file, load_paths};
pub use run::{RunOptions, SeedRun, run_seed};
pub use scenario::Scenario;
