//! Durations and ranges as scenario files write them: a duration in the grammar of every
//! other duration of the harness ([`mtpspec_runner::units::parse_duration`]: `250ms`, `1.5s`, `3m`,
//! `2m30s`, or a bare number of seconds), and `1s..5s` for a time the seed picks (uniformly,
//! to the millisecond).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::rng::Rng;
use mtpspec_runner::units::parse_duration;

/// A duration, written as [`mtpspec_runner::units::parse_duration`] reads it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

/// A duration or an inclusive range of durations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DurRange {
    /// The shortest duration the seed may pick (inclusive).
    pub min: Duration,
    /// The longest duration the seed may pick (inclusive); equal to `min` for a fixed one.
    pub max: Duration,
}

impl DurRange {
    /// The one-point range: every pick is `d`.
    pub fn fixed(d: Duration) -> Self {
        Self { min: d, max: d }
    }

    /// A point of the range, drawn from `rng` (to the millisecond).
    pub fn pick(&self, rng: &mut Rng) -> Duration {
        let (lo, hi) = (millis(self.min), millis(self.max));
        Duration::from_millis(lo + rng.below(hi - lo + 1))
    }
}

/// `d` in whole milliseconds (truncated; `u64::MAX` if it does not fit).
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn parse_range(text: &str) -> Result<DurRange, String> {
    match text.split_once("..") {
        None => parse_duration(text).map(DurRange::fixed),
        Some((lo, hi)) => {
            let (min, max) = (parse_duration(lo)?, parse_duration(hi)?);
            if min > max {
                return Err(format!("empty range {text:?}: the start is after the end"));
            }
            Ok(DurRange { min, max })
        }
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text)
            .map(Dur)
            .map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for DurRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_range(&text).map_err(serde::de::Error::custom)
    }
}

/// Seconds with millisecond precision, as traces print simulated time.
pub struct Secs(pub Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0.as_secs(), self.0.subsec_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_ranges() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        // The grammar of every duration option: a bare number is seconds.
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("5 parsecs").is_err());
        let range = parse_range("0.5..2").unwrap();
        assert_eq!(
            (range.min, range.max),
            (Duration::from_millis(500), Duration::from_secs(2))
        );
        let range = parse_range("1s..3s").unwrap();
        assert_eq!(
            (range.min, range.max),
            (Duration::from_secs(1), Duration::from_secs(3))
        );
        assert!(parse_range("3s..1s").is_err());
    }

    #[test]
    fn picks_stay_in_range() {
        let mut rng = Rng::new(7);
        let range = parse_range("10ms..20ms").unwrap();
        for _ in 0..100 {
            let d = range.pick(&mut rng);
            assert!(d >= range.min && d <= range.max);
        }
    }
}
