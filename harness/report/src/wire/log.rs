//! The wire log every connection of a case writes to: each chunk of octets in both directions
//! with its time and TLS leg, plus connection events. The log is shared, so that what happened
//! before a deadline cut the case off is kept. Its JSON form is the report's `wire` field.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What happened on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireKind {
    /// The connection was opened.
    Connected,
    /// Bytes the harness wrote.
    Sent,
    /// Bytes the target sent.
    Received,
    /// A TLS handshake completed (data: version and cipher).
    TlsStarted,
    /// Bytes received before a TLS handshake and thrown away.
    Discarded,
    /// The target closed the connection (or reset it).
    PeerClosed,
    /// The harness closed the connection.
    ClientClosed,
    /// A remark by the harness.
    Note,
}

/// One entry of the wire log: in the JSON report an element of a case's `wire`, `{"at_ms",
/// "conn", "kind", "tls"}` with `data` (UTF-8 text) or `data_base64` (anything else).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireEvent {
    /// Since the case started: `at_ms`, milliseconds with microsecond precision (a
    /// fraction, unlike the reports' `duration_ms`).
    pub at: Duration,
    /// The connection within the case, from 1 (`#1` in transcripts).
    pub conn: u8,
    /// What happened (`kind`: `sent`, `received`, `tls_started`, ...); a kind this build
    /// does not know is read back as a `note` naming it.
    pub kind: WireKind,
    /// Whether it happened inside TLS.
    pub tls: bool,
    /// The octets sent or received, or the event's text (the TLS version and cipher, why
    /// the peer closed, a note); may be empty.
    pub data: Vec<u8>,
}

impl Serialize for WireEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(5))?;
        // Milliseconds with microsecond precision.
        map.serialize_entry("at_ms", &(self.at.as_micros() as f64 / 1000.0))?;
        map.serialize_entry("conn", &self.conn)?;
        map.serialize_entry("kind", &self.kind)?;
        map.serialize_entry("tls", &self.tls)?;
        match std::str::from_utf8(&self.data) {
            Ok(text) => map.serialize_entry("data", text)?,
            Err(_) => map.serialize_entry(
                "data_base64",
                &base64::engine::general_purpose::STANDARD.encode(&self.data),
            )?,
        }
        map.end()
    }
}

/// A [`WireEvent`] as the JSON report holds it.
#[derive(Deserialize)]
struct WireRecord {
    at_ms: f64,
    conn: u8,
    kind: serde_json::Value,
    tls: bool,
    data: Option<String>,
    data_base64: Option<String>,
}

impl<'de> Deserialize<'de> for WireEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use base64::Engine;
        let record = WireRecord::deserialize(deserializer)?;
        let mut data = match (record.data, record.data_base64) {
            (Some(text), _) => text.into_bytes(),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| serde::de::Error::custom(format!("data_base64: {e}")))?,
            (None, None) => Vec::new(),
        };
        // A kind added after this build is kept, as a note naming it.
        let kind = match WireKind::deserialize(&record.kind) {
            Ok(kind) => kind,
            Err(_) => {
                let name = record.kind.as_str().unwrap_or("event");
                let mut note = format!("{name}: ").into_bytes();
                note.append(&mut data);
                data = note;
                WireKind::Note
            }
        };
        Ok(WireEvent {
            at: Duration::from_secs_f64(record.at_ms.max(0.0) / 1000.0),
            conn: record.conn,
            kind,
            tls: record.tls,
            data,
        })
    }
}

/// The case's wire log, shared by its connections.
#[derive(Clone, Debug)]
pub struct WireLog {
    inner: Arc<Mutex<LogInner>>,
}

#[derive(Debug)]
struct LogInner {
    start: Instant,
    events: Vec<WireEvent>,
}

impl WireLog {
    /// An empty log; event times count from now.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(LogInner {
                start: Instant::now(),
                events: Vec::new(),
            })),
        }
    }

    /// Appends an event of connection `conn`, timed now.
    pub fn record(&self, conn: u8, kind: WireKind, tls: bool, data: &[u8]) {
        // Events are appended whole; a poisoned lock still holds a consistent list.
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let at = inner.start.elapsed();
        inner.events.push(WireEvent {
            at,
            conn,
            kind,
            tls,
            data: data.to_vec(),
        });
    }

    /// A copy of the events so far, in the order they were recorded.
    pub fn events(&self) -> Vec<WireEvent> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .events
            .clone()
    }
}

impl Default for WireLog {
    fn default() -> Self {
        Self::new()
    }
}
