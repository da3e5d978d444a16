//! Latency samples per phase, percentiles and the summary printed by `mtpspec load`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// The phases of one delivery that are timed on their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// TCP connect to the 220 greeting.
    Connect,
    /// EHLO reply.
    Ehlo,
    /// MAIL, RCPT and DATA up to the 354.
    Envelope,
    /// Message bytes to the final reply (the durable 250 of a durable server).
    Data,
    /// The whole message, envelope to final reply.
    Message,
    /// MMTP: a SEND request to its response.
    Send,
    /// MMTP: a RECEIVE request to its response (with the message just sent).
    Receive,
}

impl Phase {
    /// Every phase, in the order summaries list them.
    pub const ALL: [Phase; 7] = [
        Phase::Connect,
        Phase::Ehlo,
        Phase::Envelope,
        Phase::Data,
        Phase::Message,
        Phase::Send,
        Phase::Receive,
    ];

    /// Its lowercase name, as the summary table and the JSON report write it.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Connect => "connect",
            Phase::Ehlo => "ehlo",
            Phase::Envelope => "envelope",
            Phase::Data => "data",
            Phase::Message => "message",
            Phase::Send => "send",
            Phase::Receive => "receive",
        }
    }
}

/// The measurements of a load run, merged across its workers.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Messages accepted with 250 (MMTP: sent and received back).
    pub delivered: u64,
    /// Every timing taken, per phase, in the order taken.
    pub samples: BTreeMap<Phase, Vec<Duration>>,
    /// Failures keyed by reply code or error text.
    pub errors: BTreeMap<String, u64>,
    /// Wall time from the start of the run until every worker was done.
    pub elapsed: Duration,
}

impl LoadReport {
    /// Adds a timing of `phase`.
    pub fn record(&mut self, phase: Phase, took: Duration) {
        self.samples.entry(phase).or_default().push(took);
    }

    /// Counts one failure under `what` (`CODE after VERB` for a reply, or the error text).
    pub fn error(&mut self, what: impl Into<String>) {
        *self.errors.entry(what.into()).or_default() += 1;
    }

    /// Adds another worker's counts, samples and errors to these (`elapsed` is left alone).
    pub fn merge(&mut self, other: LoadReport) {
        self.delivered += other.delivered;
        for (phase, samples) in other.samples {
            self.samples.entry(phase).or_default().extend(samples);
        }
        for (what, n) in other.errors {
            *self.errors.entry(what).or_default() += n;
        }
    }

    /// Delivered messages per second of `elapsed`.
    pub fn messages_per_second(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The machine-readable summary (`mtpspec load --json`): counts, rate, percentiles in
    /// milliseconds per phase, errors by reply code and command (or by IO failure).
    pub fn to_json(&self) -> serde_json::Value {
        let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        let phases: serde_json::Map<String, serde_json::Value> = Phase::ALL
            .into_iter()
            .filter_map(|phase| {
                let [p50, p90, p99, max] = self.percentiles(phase)?;
                let samples = self.samples.get(&phase).map_or(0, Vec::len);
                Some((
                    phase.name().to_string(),
                    serde_json::json!({
                        "samples": samples,
                        "p50_ms": ms(p50), "p90_ms": ms(p90), "p99_ms": ms(p99), "max_ms": ms(max),
                    }),
                ))
            })
            .collect();
        serde_json::json!({
            "delivered": self.delivered,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "per_second": self.messages_per_second(),
            "phases": phases,
            "errors": self.errors,
        })
    }

    /// (p50, p90, p99, max) of a phase.
    pub fn percentiles(&self, phase: Phase) -> Option<[Duration; 4]> {
        let mut samples = self.samples.get(&phase)?.clone();
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        Some([at(0.5), at(0.9), at(0.99), samples[samples.len() - 1]])
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "delivered {} messages in {:.2} s: {:.0} msg/s",
            self.delivered,
            self.elapsed.as_secs_f64(),
            self.messages_per_second()
        )?;
        writeln!(
            f,
            "{:<10} {:>10} {:>10} {:>10} {:>10}",
            "phase", "p50 ms", "p90 ms", "p99 ms", "max ms"
        )?;
        for phase in Phase::ALL {
            if let Some(p) = self.percentiles(phase) {
                let ms = |d: Duration| d.as_secs_f64() * 1000.0;
                writeln!(
                    f,
                    "{:<10} {:>10.2} {:>10.2} {:>10.2} {:>10.2}",
                    phase.name(),
                    ms(p[0]),
                    ms(p[1]),
                    ms(p[2]),
                    ms(p[3])
                )?;
            }
        }
        if self.errors.is_empty() {
            writeln!(f, "errors: none")?;
        }
        for (what, n) in &self.errors {
            writeln!(f, "error {what}: {n}")?;
        }
        Ok(())
    }
}
