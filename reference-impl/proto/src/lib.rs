//! The sans-io protocol core of mtpspec.
//!
//! Everything that knows what a byte on the wire means lives here: SMTP commands and replies,
//! DATA and BDAT receivers, the server and client session state machines, and the VMTP
//! extension. Nothing here owns a socket, a clock, a thread or a random number generator: bytes,
//! time and completions of IO come in as arguments, so the tokio server, the turmoil simulation
//! and the fuzz targets all drive exactly this code.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

#[doc(hidden)]
pub mod fuzzing;
pub mod mmtp;
pub mod smtp;
pub mod time;
