//! What happened during one client case, in arrival order: connections, every command line as
//! it arrived (not as it was answered, so a client that sends before a reply shows it), every
//! reply with the command it answers, message data, TLS, closes. The judge reads this log;
//! reports print it as the transcript.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use mtpspec_runner::wire::escape;

/// One thing seen or done on a connection.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// The server accepted a connection: the first event of every connection, before the
    /// greeting (and before any greeting delay).
    Connected,
    /// A command line from the client, without its line ending.
    Command {
        /// The line as it arrived (lossy UTF-8); a line of more than 64 KiB without a line
        /// end is recorded as one line.
        line: String,
        /// Whether it arrived inside TLS (after a completed STARTTLS handshake).
        tls: bool,
    },
    /// A reply from the server; `answers` is the index of the command (or data) event.
    Reply {
        /// The reply lines as sent, codes included, without line endings; empty when the
        /// script sent no reply (`reply: []`).
        lines: Vec<String>,
        /// The index in the case's log of the command (or, for the reply to the end of
        /// data, the data) event it answers; `None` for the greeting.
        answers: Option<usize>,
    },
    /// Reply lines injected right after a reply, in the same write.
    Injected {
        /// The injected lines as sent, without line endings.
        lines: Vec<String>,
    },
    /// Message content, as sent (dot-stuffing included), up to the end of data; `complete`
    /// when the CRLF "." CRLF arrived.
    Data {
        /// The octets as lossy UTF-8 (the octets themselves: [`Recorder::data_octets`]),
        /// without the final "." CRLF; of data over 4 MiB, the first 4 MiB and the last 8
        /// octets are kept.
        text: String,
        /// Whether the end of data arrived; `false` when the client closed or the case
        /// deadline passed first.
        complete: bool,
    },
    /// The TLS handshake after a STARTTLS reply succeeded; later commands arrive inside TLS.
    TlsStarted,
    /// The TLS handshake failed, or could not start; the server then closes the connection.
    TlsFailed {
        /// The handshake error, or why there was none (TLS already on, no TLS
        /// configuration).
        error: String,
    },
    /// Plaintext that arrived after STARTTLS and before the handshake (thrown away).
    Discarded {
        /// How many octets were thrown away (queued command lines counted with a CRLF).
        bytes: usize,
    },
    /// The connection ended.
    Closed {
        /// Which side ended it.
        by: Side,
    },
    /// The connection ran into the case deadline.
    TimedOut,
}

/// Which end closed a connection ([`EventKind::Closed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The client closed or reset it (the server read end of file, or a read or write
    /// failed).
    Client,
    /// The scripted server closed it: a rule's `close`, the reply to QUIT, no greeting, a
    /// failed TLS handshake, or the case deadline.
    Server,
}

/// One entry of a case's log: on which connection, when, and what happened.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Event {
    /// Connection number, from 1.
    pub conn: u32,
    /// When it was recorded, since the case's [`Recorder`] was made (in JSON `at_ms`, whole
    /// milliseconds).
    #[serde(rename = "at_ms", with = "mtpspec_report::millis")]
    pub at: Duration,
    /// What happened (in JSON its fields sit beside `conn` and `at_ms`, named by `kind`).
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The shared log of a case: every connection appends to it.
#[derive(Clone, Debug)]
pub struct Recorder {
    start: Instant,
    events: Arc<Mutex<Vec<Event>>>,
    /// The octets of each [`EventKind::Data`] event exactly as they arrived (the event's text
    /// is their lossy UTF-8 form), by event index: relay mode judges octets above 0x7F.
    data: Arc<Mutex<BTreeMap<usize, Vec<u8>>>>,
}

impl Recorder {
    /// An empty log whose event times count from now.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            events: Arc::new(Mutex::new(Vec::new())),
            data: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    /// Records message data: the event (with the octets as lossy UTF-8 text) and the octets
    /// themselves, kept for [`Recorder::data_octets`]. Returns the event's index.
    pub fn push_data(&self, conn: u32, octets: Vec<u8>, complete: bool) -> usize {
        let text = String::from_utf8_lossy(&octets).into_owned();
        let event = self.push(conn, EventKind::Data { text, complete });
        self.data
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(event, octets);
        event
    }

    /// The octets of the data event `event`, exactly as they arrived.
    pub fn data_octets(&self, event: usize) -> Option<Vec<u8>> {
        self.data
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&event)
            .cloned()
    }

    /// Appends an event and returns its index.
    pub fn push(&self, conn: u32, kind: EventKind) -> usize {
        // A panic while holding the lock leaves a complete Vec: recover it.
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        events.push(Event {
            conn,
            at: self.start.elapsed(),
            kind,
        });
        events.len() - 1
    }

    /// A copy of every event so far, in the order recorded (an event's index, as
    /// [`EventKind::Reply`]'s `answers` names it, is its position here).
    pub fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

/// The transcript as text, one line per event: `[ms] cN C: line`, `S:`, `data`, `tls`.
pub fn render(events: &[Event]) -> String {
    let mut out = String::new();
    for e in events {
        let prefix = format!("[{:>5} ms] c{} ", e.at.as_millis(), e.conn);
        match &e.kind {
            EventKind::Connected => out += &format!("{prefix}-- connected\n"),
            EventKind::Command { line, tls } => {
                let lock = if *tls { " (tls)" } else { "" };
                out += &format!("{prefix}C: {}{lock}\n", escape(line.as_bytes()));
            }
            EventKind::Reply { lines, .. } if lines.is_empty() => {
                out += &format!("{prefix}S: (no reply)\n");
            }
            EventKind::Reply { lines, .. } => {
                for l in lines {
                    out += &format!("{prefix}S: {}\n", escape(l.as_bytes()));
                }
            }
            EventKind::Injected { lines } => {
                for l in lines {
                    out += &format!("{prefix}S: {} (injected)\n", escape(l.as_bytes()));
                }
            }
            EventKind::Data { text, complete } => {
                let end = if *complete { "" } else { " (incomplete)" };
                out += &format!("{prefix}C: <data {} octets{end}>\n", text.len());
                for l in text.split_inclusive("\r\n").take(40) {
                    out += &format!("{prefix}   | {}\n", escape(l.as_bytes()));
                }
            }
            EventKind::TlsStarted => out += &format!("{prefix}-- TLS handshake done\n"),
            EventKind::TlsFailed { error } => {
                out += &format!("{prefix}-- TLS handshake failed: {error}\n");
            }
            EventKind::Discarded { bytes } => {
                out += &format!("{prefix}-- {bytes} plaintext octets after STARTTLS discarded\n");
            }
            EventKind::Closed { by } => {
                let who = match by {
                    Side::Client => "client",
                    Side::Server => "server",
                };
                out += &format!("{prefix}-- closed by the {who}\n");
            }
            EventKind::TimedOut => out += &format!("{prefix}-- case deadline reached\n"),
        }
    }
    out
}
