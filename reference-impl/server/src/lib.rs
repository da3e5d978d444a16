//! Tokio drivers, TLS, the durable message store, the client, the HTTP gateway and the command
//! line ([`cli`]: `serve`, `send`, `mailbox`, `status`, `mmtp`) of the mtpspec reference
//! SMTP/VMTP/MMTP implementation. The protocol logic itself lives in `mtp-proto`. Nothing here
//! depends on the tester.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod cli;
pub mod client;
pub mod gateway;
mod limits;
pub mod mmtp;
pub mod server;
pub mod store;
pub mod tls;
pub mod units;
