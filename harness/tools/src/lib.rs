//! The mtpspec tools that sit around the runner ([`mtpspec_runner`]) rather than in it:
//!
//! - [`sim`]: deterministic network simulation of the reference server and client on turmoil,
//!   seeded and replayable, held to invariants (`mtpspec sim`);
//! - [`proxy`]: the same faults brought to real servers through a TCP proxy (`mtpspec proxy`);
//! - [`netfuzz`]: grammar-aware network fuzzing of a live server (`mtpspec fuzz`);
//! - [`servetest`]: scripted, misbehaving SMTP servers that judge the client connecting to
//!   them (`mtpspec serve-test`);
//! - [`relay`]: the harness as the next hop of a relaying MTA, judging its outbound side
//!   (`mtpspec relay-test`);
//! - [`traffic`]: the traffic generator behind `mtpspec load`;
//! - [`rng`]: the one seeded generator the simulation and the fuzzer draw from.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod netfuzz;
pub mod proxy;
pub mod relay;
pub mod rng;
pub mod servetest;
pub mod sim;
pub mod traffic;
