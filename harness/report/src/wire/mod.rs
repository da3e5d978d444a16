//! Octets on the wire, recorded and shown: the wire log every connection of a case writes to,
//! and the one convention for showing octets to people (`<CR><LF>`, `<NUL>`, `<xHH>`) that every
//! report, transcript and message of the harness uses.

mod escape;
mod log;

pub use escape::{RUN, escape, escape_runs};
pub use log::{WireEvent, WireKind, WireLog};
