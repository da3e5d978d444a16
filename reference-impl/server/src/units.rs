//! Durations, one way everywhere: the one grammar every subcommand and scenario file uses for
//! a duration (humantime's units, with decimals, and a bare number meaning seconds,
//! milliseconds for the few options documented in milliseconds: `500ms`, `1.5s`, `30s`,
//! `2m30s`, `1h 30m`, `1d`, `5`).

use std::time::Duration;

/// Parses a duration option value.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = |why: &str| {
        format!("{why} in {text:?}: expected a duration like 500ms, 1.5s, 30s, 2m30s, 1h or 1d")
    };
    let trimmed = text.trim();
    if let Ok(secs) = trimmed.parse::<f64>() {
        return seconds(secs).ok_or_else(|| bad("not a duration"));
    }
    let mut total = 0.0_f64;
    let mut rest = trimmed;
    if rest.is_empty() {
        return Err(bad("no number"));
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_end);
        let value: f64 = number.parse().map_err(|_| bad("no number"))?;
        let after = after.trim_start();
        let unit_end = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let scale = unit_seconds(unit).ok_or_else(|| bad(&format!("unknown unit {unit:?}")))?;
        total += value * scale;
        rest = after.trim_start();
    }
    seconds(total).ok_or_else(|| bad("out of range"))
}

/// [`parse_duration`] for an option documented in milliseconds: a bare number is milliseconds
/// there (`--reply-timeout 5000`), and any unit may be given (`5s`).
pub fn parse_duration_ms(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<f64>() {
        Ok(ms) => parse_duration(&format!("{ms}ms")),
        Err(_) => parse_duration(text),
    }
}

/// Seconds per `unit` (humantime's names).
fn unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" | "nsec" => 1e-9,
        "us" | "usec" => 1e-6,
        "ms" | "msec" => 1e-3,
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "week" | "weeks" => 604_800.0,
        _ => return None,
    })
}

fn seconds(secs: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_the_options_document_parses() {
        let ms = |text: &str| parse_duration(text).unwrap().as_millis();
        assert_eq!(ms("500ms"), 500);
        assert_eq!(ms("1.5s"), 1500);
        assert_eq!(ms("5"), 5000);
        assert_eq!(ms("0.25"), 250);
        assert_eq!(ms("2m30s"), 150_000);
        assert_eq!(ms("1h 30m"), 5_400_000);
        assert_eq!(ms("1h"), 3_600_000);
        assert_eq!(ms("1d"), 86_400_000);
        assert_eq!(ms("10 minutes"), 600_000);
        assert_eq!(parse_duration_ms("5000").unwrap().as_millis(), 5000);
        assert_eq!(parse_duration_ms("2s").unwrap().as_millis(), 2000);
    }

    #[test]
    fn anything_else_is_refused_with_the_forms_it_takes() {
        for bad in ["", "s", "5x", "-1s", "1..5s", "nan", "inf", "1e400"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("expected a duration like"), "{bad}: {e}");
        }
    }
}
