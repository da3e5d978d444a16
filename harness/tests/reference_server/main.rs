//! The reference server as users run it: `mtpspec serve` in its own process, real clients
//! (Python's smtplib, swaks, lettre) delivering to it over loopback, a SIGKILL in the middle of
//! a stream of acknowledged messages, hostile input, and the robustness cases of `mtpspec run`
//! (every attack passes on the reference started with short limits). Every test checks what the store
//! holds, byte for byte.

// A test crate: its helpers unwrap, and a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod bad_input;
mod client_delivery;
mod connection_limit;
mod durability;
mod load;
mod real_clients;
mod robustness;
mod support;
mod vmtp_status;
