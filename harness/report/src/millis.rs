//! A [`Duration`] in JSON as whole milliseconds (`"duration_ms": 1520`), both ways: the one
//! form every report of the harness writes and reads (`#[serde(with = "mtpspec_report::millis")]`).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Writes `d` as whole milliseconds (saturating).
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Reads whole milliseconds.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_millis)
}
