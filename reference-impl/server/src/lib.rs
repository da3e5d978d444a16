//! Tokio drivers, TLS, the durable message store and the client of the mtpspec reference
//! SMTP/VMTP/MMTP implementation. The protocol logic itself lives in `mtp-proto`.
#![forbid(unsafe_code)]

pub mod client;
pub mod gateway;
mod limits;
pub mod mmtp;
pub mod server;
pub mod store;
pub mod tls;
