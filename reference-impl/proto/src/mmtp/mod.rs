//! MMTP, the Modern Mail Transfer Protocol (`shared/seeds/004`): JSON values over TCP, with
//! `(name)%(domain)` addresses, a messageHash over the content, HashCash proof of work, OpenPGP
//! signatures and encryption done by clients, and message tags.
//!
//! What lives here, all sans-io: [`address`] parsing, the order-preserving [`json`] value and
//! its `JSON.stringify` form, [`digest`] (messageHash), [`hashcash`] minting and verification,
//! [`framing`] of a byte stream into JSON values, [`packet`] and [`request`] types,
//! [`response`]s with their error codes, [`tags`], and the [`server`] session. OpenPGP itself is
//! the driver's: the session asks for a signature check as an action.

pub mod address;
pub mod digest;
pub mod framing;
pub mod hashcash;
pub mod json;
pub mod packet;
pub mod request;
pub mod response;
pub mod server;
pub mod tags;

pub use address::{Address, AddressError};
pub use json::Json;
pub use response::{ErrorCode, Refusal};

/// Plain TCP (seed §3.1: "typically on port 8025").
pub const DEFAULT_PORT: u16 = 8025;
/// Implicit TLS (seed §3.1: "typically on port 8026").
pub const DEFAULT_TLS_PORT: u16 = 8026;
