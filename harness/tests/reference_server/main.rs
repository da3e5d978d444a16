//! The tester against the reference as users run it (`mtpspec serve` in its own process):
//! `mtpspec load` counts exactly what the store holds, and the robustness cases of `mtpspec
//! run` all pass on the reference started with short limits. The reference's own end-to-end
//! tests are in reference-impl/server/tests/e2e, whose process support this shares.

// A test crate: its helpers unwrap, and a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod load;
mod robustness;
#[allow(dead_code)] // the reference's tests use the rest
#[path = "../../../reference-impl/server/tests/e2e/support.rs"]
mod support;

/// The program `support::ServerProcess` runs `serve` with.
const SERVER_PROGRAM: &str = env!("CARGO_BIN_EXE_mtpspec");
