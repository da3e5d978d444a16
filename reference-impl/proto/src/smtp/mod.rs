//! SMTP (RFC 5321 and extensions) and its VMTP extension: codecs and session state machines.

pub mod address;
pub mod bdat;
pub mod body;
pub mod client;
pub mod command;
pub mod data;
pub mod extension;
pub mod line;
pub mod reply;
pub mod server;
pub mod trace;

pub use address::{Mailbox, Path};
pub use command::{Command, CommandError};
pub use extension::{Extension, Extensions};
pub use reply::{EnhancedCode, Reply, ReplyCode};
