//! The reference as users run it: `mtp-reference serve` in its own process, the reference
//! client (`mtp-reference send`) and real clients (Python's smtplib, swaks, lettre) delivering
//! to it over loopback, a SIGKILL in the middle of a stream of acknowledged messages, hostile
//! input, the connection limit and VMTP STATUS. Every test checks what the store holds, byte
//! for byte.

// A test crate: its helpers unwrap, and a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod bad_input;
mod client_delivery;
mod connection_limit;
mod durability;
mod real_clients;
mod support;
mod vmtp_status;

/// The program `support::ServerProcess` runs `serve` with.
const SERVER_PROGRAM: &str = env!("CARGO_BIN_EXE_mtp-reference");
