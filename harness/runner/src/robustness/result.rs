//! Judging a robustness case: its verdict from what was measured, and the figure lines every
//! report prints ([`RobustnessResult`] itself is the report's). The verdict is about service to others only: a server that keeps a stalled
//! connection open is within RFC 5321 (§4.5.3.2.7 asks for timeouts of at least 5 minutes), so
//! how long it survived is a figure, never a fault.

use std::time::Duration;

use super::CaseInfo;
use super::fresh_client::Greeting;
use super::measure::{Fate, Measurement};
use crate::runner::Verdict;
use crate::scenario::Level;
pub use mtpspec_report::robustness_result::{Measured, RobustnessResult};

/// A case that did not run, with why.
pub fn skipped(case: &CaseInfo, level: Level, reason: String) -> RobustnessResult {
    RobustnessResult {
        id: case.id.into(),
        title: case.title.into(),
        spec: case.spec.iter().map(|s| s.to_string()).collect(),
        level,
        verdict: Verdict::Skip,
        reason: Some(reason),
        well_behaved: case.well_behaved.into(),
        figures: Vec::new(),
        measured: None,
        duration: Duration::ZERO,
    }
}

/// Judges a measurement: WARN (at `level`) when a fresh client was not greeted while
/// the attack held or after it; SKIP when the attack never got going.
pub fn judged(
    case: &CaseInfo,
    level: Level,
    attack: String,
    m: &Measurement,
    duration: Duration,
) -> RobustnessResult {
    let (verdict, reason) = verdict(level, m);
    // An attack that never got going has nothing to show but why (the reason).
    let ran = verdict != Verdict::Skip;
    RobustnessResult {
        figures: if ran {
            figure_lines(attack, m)
        } else {
            Vec::new()
        },
        measured: ran.then(|| measured(m)),
        verdict,
        reason,
        duration,
        ..skipped(case, level, String::new())
    }
}

fn verdict(level: Level, m: &Measurement) -> (Verdict, Option<String>) {
    let stalled = m
        .fates
        .iter()
        .any(|f| matches!(f, Fate::Closed { .. } | Fate::OpenAtCap { .. }));
    if !stalled {
        let why = m.fates.iter().find_map(|f| match f {
            Fate::NotApplicable(why) => Some(format!("not applicable: {why}")),
            _ => None,
        });
        let first_refusal = m.fates.iter().find_map(|f| match f {
            Fate::Refused(why) => Some(why.clone()),
            _ => None,
        });
        let reason = why.unwrap_or_else(|| {
            format!(
                "the target turned away every attacking connection ({}), so there was no attack to judge",
                first_refusal.unwrap_or_default()
            )
        });
        return (Verdict::Skip, Some(reason));
    }
    let failed = Verdict::for_failure(level.max(Level::Should));
    let missed: Vec<&(Duration, Greeting)> =
        m.probes.iter().filter(|(_, g)| !g.is_greeted()).collect();
    if let Some((at, Greeting::Missed(what))) = missed.first() {
        return (
            failed,
            Some(format!(
                "a fresh client from {} was not greeted {:.1} s into the attack ({what}); {} of {} fresh clients missed",
                m.fresh_from,
                at.as_secs_f64(),
                missed.len(),
                m.probes.len()
            )),
        );
    }
    if let Greeting::Missed(what) = &m.after {
        return (
            failed,
            Some(format!(
                "the server stopped answering: after the attack a fresh client from {} was not greeted ({what})",
                m.fresh_from
            )),
        );
    }
    (Verdict::Pass, None)
}

fn measured(m: &Measurement) -> Measured {
    let greeted: Vec<Duration> = m
        .probes
        .iter()
        .filter_map(|(_, g)| match g {
            Greeting::Greeted(took) => Some(*took),
            Greeting::Missed(_) => None,
        })
        .collect();
    Measured {
        connections: m.fates.len(),
        refused: m
            .fates
            .iter()
            .filter(|f| matches!(f, Fate::Refused(_)))
            .count(),
        closed_after_ms: m
            .fates
            .iter()
            .filter_map(|f| match f {
                Fate::Closed { after, .. } => Some(after.as_millis() as u64),
                _ => None,
            })
            .collect(),
        open_at_cap: m
            .fates
            .iter()
            .filter(|f| matches!(f, Fate::OpenAtCap { .. }))
            .count(),
        cap_ms: m.cap.as_millis() as u64,
        fresh_client_from: m.fresh_from.clone(),
        probes: m.probes.len(),
        greeted: greeted.len(),
        slowest_greeting_ms: greeted.iter().max().map(|d| d.as_millis() as u64),
        greeted_after_attack: m.after.is_greeted(),
        sent_octets: m.sent_octets,
        rss: m.rss.clone(),
    }
}

/// The human-readable figures: the attack, the fate of the stalled connections, the fresh
/// clients, the memory.
fn figure_lines(attack: String, m: &Measurement) -> Vec<String> {
    let mut lines = vec![attack];
    lines.push(survival(m));
    let greeted: Vec<Duration> = m
        .probes
        .iter()
        .filter_map(|(_, g)| match g {
            Greeting::Greeted(took) => Some(*took),
            Greeting::Missed(_) => None,
        })
        .collect();
    let slowest = greeted
        .iter()
        .max()
        .map_or(String::new(), |d| format!(", slowest in {}", ms(*d)));
    lines.push(format!(
        "fresh clients from {} during the attack: {} of {} greeted with 220{slowest}",
        m.fresh_from,
        greeted.len(),
        m.probes.len()
    ));
    lines.push(match &m.after {
        Greeting::Greeted(took) => format!("after the attack: greeted in {}", ms(*took)),
        Greeting::Missed(what) => format!("after the attack: not greeted ({what})"),
    });
    if m.sent_octets > 0 {
        lines.push(format!("octets sent by the attack: {}", m.sent_octets));
    }
    if let Some(rss) = &m.rss {
        lines.push(rss.describe());
    }
    lines
}

/// `8 stalled: closed by the server after 2.0-2.1 s (421 ..., then closed)`, `still open at
/// the 15 s cap`, and the refusals.
fn survival(m: &Measurement) -> String {
    let mut parts = Vec::new();
    let refused: Vec<&String> = m
        .fates
        .iter()
        .filter_map(|f| match f {
            Fate::Refused(why) => Some(why),
            _ => None,
        })
        .collect();
    let closed: Vec<(Duration, &String)> = m
        .fates
        .iter()
        .filter_map(|f| match f {
            Fate::Closed { after, how } => Some((*after, how)),
            _ => None,
        })
        .collect();
    let open = m
        .fates
        .iter()
        .filter(|f| matches!(f, Fate::OpenAtCap { .. }))
        .count();
    if let (Some(min), Some(max)) = (
        closed.iter().map(|c| c.0).min(),
        closed.iter().map(|c| c.0).max(),
    ) {
        let span = if max - min < Duration::from_millis(100) {
            secs(max)
        } else {
            format!("{:.1}-{}", min.as_secs_f64(), secs(max))
        };
        parts.push(format!(
            "{} closed by the server after {span} ({})",
            closed.len(),
            closed[0].1
        ));
    }
    if open > 0 {
        parts.push(format!("{open} still open at the {} cap", secs(m.cap)));
    }
    if !refused.is_empty() {
        parts.push(format!(
            "{} turned away before stalling ({})",
            refused.len(),
            refused[0]
        ));
    }
    if let Some(Fate::NotApplicable(why)) =
        m.fates.iter().find(|f| matches!(f, Fate::NotApplicable(_)))
    {
        parts.push(format!("not started: {why}"));
    }
    format!(
        "stalled connections ({} opened): {}",
        m.fates.len(),
        parts.join("; ")
    )
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}
