//! What a run prints: one summary line per seed, the known ambiguity on its own line, and for
//! a failing seed its violations, the end of its trace and the command that replays it.

use std::fmt::Write;

use super::run::SeedRun;
use super::scenario::{Scenario, SyncSpec};
use super::units::Secs;

/// `seed 7: PASS 12 messages, ...`.
pub fn summary(run: &SeedRun) -> String {
    let s = &run.stats;
    let verdict = if run.passed() { "PASS" } else { "FAIL" };
    if run.outbound {
        return format!(
            "seed {}: {verdict}  {} messages, {} sessions, {} attempts, {} acked, {} copies \
             accepted by the next hop, {} recipients refused for good, {} given up, {} killed; \
             {} simulated; trace {:016x}",
            run.seed,
            s.messages,
            s.sessions,
            s.attempts,
            s.acked,
            s.stored,
            s.refused,
            s.given_up,
            s.killed,
            Secs(run.sim_time),
            run.trace_hash,
        );
    }
    format!(
        "seed {}: {verdict}  {} messages, {} sessions, {} attempts, {} acked, {} stored, \
         {} BATCH sessions, {} STATUS, {} read, {} killed; {} simulated; trace {:016x}",
        run.seed,
        s.messages,
        s.sessions,
        s.attempts,
        s.acked,
        s.stored,
        s.batch_sessions,
        s.status_checks,
        s.opened,
        s.killed,
        Secs(run.sim_time),
        run.trace_hash,
    )
}

/// The protocol's known ambiguity, reported apart: copies stored although no reply reached
/// the client (the link was lost between the final dot and the 250). `None` when there were
/// none.
pub fn ambiguity(run: &SeedRun) -> Option<String> {
    let s = &run.stats;
    if run.outbound {
        return (s.ambiguous > 0).then(|| {
            format!(
                "seed {}: ambiguous: {} copies whose reply never reached the client (cut or lost \
                 between the final dot and the reply); {} messages sent to a recipient more than \
                 once because of it (RFC 5321 §6.1)",
                run.seed, s.ambiguous, s.ambiguous_duplicates
            )
        });
    }
    (s.ambiguous + s.unconfirmed > 0).then(|| {
        format!(
            "seed {}: ambiguous: {} copies stored whose 250 never reached the client (link or \
             server lost between the final dot and the reply), {} sent by killed clients; {} \
             messages stored more than once",
            run.seed, s.ambiguous, s.unconfirmed, s.ambiguous_duplicates
        )
    })
}

/// The command that replays `seed` of `scenario` with the full trace.
pub fn replay_command(scenario: &Scenario, seed: u64) -> String {
    let broken = if scenario.server.sync == SyncSpec::AckBeforeSync {
        " --ack-before-sync"
    } else {
        ""
    };
    format!(
        "cargo run --release -p mtpspec -- sim {} --seed {seed} --verbose{broken}",
        scenario.path.display()
    )
}

/// Violations, the last `tail` trace lines and the replay command of a failing seed.
pub fn failure(run: &SeedRun, scenario: &Scenario, tail: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "seed {} FAILED ({} violations):",
        run.seed,
        run.violations.len()
    );
    for violation in &run.violations {
        let _ = writeln!(out, "  {violation}");
    }
    let skip = run.trace.len().saturating_sub(tail);
    let _ = writeln!(
        out,
        "trace (last {} of {} lines):",
        run.trace.len() - skip,
        run.trace.len()
    );
    for line in &run.trace[skip..] {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(out, "replay: {}", replay_command(scenario, run.seed));
    out
}
