//! The simulation suite: every scenario in scenarios/sim over a fixed set of seeds (one test
//! case each), the determinism check (same seed, same trace), and the proof that the checks
//! can fail (the store's deliberately broken ack-before-sync mode is caught, and so is each
//! deliberately broken client of the outbound scenarios); every requirement a scenario or an
//! invariant cites is in SPEC.md.
//!
//! `MTPSPEC_SIM_SEEDS=0..1000 cargo test --release -p mtpspec --test sim -- sweep` runs a
//! sweep through the `mtpspec sim` command itself (the binary, as a child process).

// A test crate: its helpers unwrap, and a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};
use mtpspec::sim::scenario::{Invariant, Sabotage, SyncSpec};
use mtpspec::sim::{RunOptions, Scenario, load_paths, report, run_seed};
use mtpspec::spec::Spec;

#[path = "sim/proxy.rs"]
mod sim_proxy;

/// The seeds every scenario runs with in `cargo test`.
const SEEDS: [u64; 3] = [1, 2, 3];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scenarios() -> Vec<Scenario> {
    // A scenario that does not load is a failure of its own test below.
    load_paths(&[repo().join("scenarios/sim")]).unwrap_or_default()
}

fn seed_trial(scenario: &Scenario, seed: u64) -> Trial {
    let scenario = scenario.clone();
    let name = format!("sim::{}::seed-{seed}", scenario.id);
    Trial::test(name, move || {
        let run = run_seed(&scenario, seed, &RunOptions::default());
        if run.passed() {
            Ok(())
        } else {
            Err(report::failure(&run, &scenario, 60).into())
        }
    })
}

fn loads() -> Result<(), Failed> {
    let found = load_paths(&[repo().join("scenarios/sim")]).map_err(|e| e.to_string())?;
    if found.len() < 3 {
        return Err(format!("only {} simulation scenarios found", found.len()).into());
    }
    Ok(())
}

/// The same seed gives the same trace, transcripts included; another seed another one: for
/// the reference server and for a scripted next hop.
fn determinism() -> Result<(), Failed> {
    for id in ["crash-restart", "relay-cut-after-dot"] {
        same_seed_same_trace(&pick(id)?)?;
    }
    Ok(())
}

fn same_seed_same_trace(scenario: &Scenario) -> Result<(), Failed> {
    let verbose = RunOptions { verbose: true };
    let first = run_seed(scenario, 42, &verbose);
    let second = run_seed(scenario, 42, &verbose);
    if first.trace != second.trace {
        let diverges = first
            .trace
            .iter()
            .zip(&second.trace)
            .position(|(a, b)| a != b)
            .unwrap_or(first.trace.len().min(second.trace.len()));
        return Err(format!(
            "seed 42 gave two traces; they part at line {diverges}:\n  {:?}\n  {:?}",
            first.trace.get(diverges),
            second.trace.get(diverges)
        )
        .into());
    }
    let terse = run_seed(scenario, 42, &RunOptions::default());
    if terse.trace_hash != first.trace_hash {
        return Err("the verbose and the terse trace of one seed hash differently".into());
    }
    let other = run_seed(scenario, 43, &RunOptions::default());
    if other.trace_hash == first.trace_hash {
        return Err("seeds 42 and 43 gave the same trace: the seed does not reach the run".into());
    }
    Ok(())
}

/// With the store acknowledging before it syncs, the final power loss takes acknowledged
/// mail with it, and the simulation says so for every seed.
fn broken_build_is_caught() -> Result<(), Failed> {
    let mut scenario = pick("crash-restart")?;
    scenario.server.sync = SyncSpec::AckBeforeSync;
    for seed in SEEDS {
        let run = run_seed(&scenario, seed, &RunOptions::default());
        let lost = run
            .violations
            .iter()
            .any(|v| v.invariant == Some(Invariant::AckedStored));
        if !lost {
            let summary = report::summary(&run);
            return Err(
                format!("ack-before-sync was not caught with seed {seed}: {summary}").into(),
            );
        }
    }
    Ok(())
}

/// Each deliberately broken client of the outbound scenarios is caught by the invariant
/// meant for it, in every seed: a check that cannot fail proves nothing.
fn broken_clients_are_caught() -> Result<(), Failed> {
    let planted = [
        (Sabotage::GiveUpTransient, Invariant::Retried),
        (Sabotage::ResendAcked, Invariant::NoResend),
        (Sabotage::SkipQuit, Invariant::Quit),
        (Sabotage::Unstuffed, Invariant::DataTransparent),
        (Sabotage::PipelineUnadvertised, Invariant::Extensions),
    ];
    let clean = pick("relay-mixed")?;
    for (sabotage, invariant) in planted {
        let mut scenario = clean.clone();
        for client in &mut scenario.clients {
            client.sabotage = Some(sabotage);
        }
        for seed in SEEDS {
            let run = run_seed(&scenario, seed, &RunOptions::default());
            if !run
                .violations
                .iter()
                .any(|v| v.invariant == Some(invariant))
            {
                let summary = report::summary(&run);
                return Err(format!(
                    "{sabotage:?} was not caught by `{}` with seed {seed}: {summary}",
                    invariant.name()
                )
                .into());
            }
        }
    }
    Ok(())
}

/// Every requirement a simulation scenario or an invariant cites exists in SPEC.md.
fn citations_exist() -> Result<(), Failed> {
    let spec = Spec::load(&repo().join("SPEC.md")).map_err(|e| e.to_string())?;
    let invariants = Invariant::ALL.iter().chain(&Invariant::OUTBOUND);
    let cited = scenarios()
        .into_iter()
        .flat_map(|s| s.spec.into_iter().map(move |id| (s.id.clone(), id)))
        .chain(
            invariants.flat_map(|i| i.spec().iter().map(|id| (i.name().into(), id.to_string()))),
        );
    let missing: Vec<String> = cited
        .filter(|(_, id)| spec.get(id).is_none())
        .map(|(who, id)| format!("{who}: {id}"))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("not in SPEC.md: {missing:?}").into())
    }
}

fn pick(id: &str) -> Result<Scenario, Failed> {
    scenarios()
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| format!("no simulation scenario `{id}`").into())
}

/// `MTPSPEC_SIM_SEEDS=A..B`: every scenario (or those of `MTPSPEC_SIM_FILES`) over those
/// seeds, through the `mtpspec sim` command; `MTPSPEC_SIM_VERBOSE=1` prints every trace, and
/// `MTPSPEC_SIM_ACK_BEFORE_SYNC=1` runs the deliberately broken store.
fn sweep(seeds: String) -> Result<(), Failed> {
    let verbose = std::env::var_os("MTPSPEC_SIM_VERBOSE").is_some();
    let files = std::env::var("MTPSPEC_SIM_FILES").map_or_else(
        |_| vec![repo().join("scenarios/sim")],
        |f| f.split(',').map(PathBuf::from).collect(),
    );
    let mut sim = Command::new(env!("CARGO_BIN_EXE_mtpspec"));
    sim.arg("sim")
        .args(&files)
        .args(["--seeds", &seeds, "--trace-dir"])
        .arg(repo().join("target/sim-traces"));
    sim.arg(if verbose { "--verbose" } else { "--quiet" });
    if std::env::var_os("MTPSPEC_SIM_ACK_BEFORE_SYNC").is_some() {
        sim.arg("--ack-before-sync");
    }
    let status = sim
        .status()
        .map_err(|e| format!("running mtpspec sim: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("some seeds failed (see above): mtpspec sim exited with {status}").into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = vec![
        Trial::test("sim::scenarios-load", loads),
        Trial::test(
            "proxy::cut-after-dot-duplicates-on-the-reference",
            sim_proxy::cut_after_dot_duplicates_on_the_reference,
        ),
        Trial::test(
            "proxy::slow-and-cut-paths-deliver-once",
            sim_proxy::slow_and_cut_paths_deliver_once,
        ),
        Trial::test("sim::determinism", determinism),
        Trial::test("sim::broken-build-is-caught", broken_build_is_caught),
        Trial::test("sim::broken-clients-are-caught", broken_clients_are_caught),
        Trial::test("sim::citations-exist", citations_exist),
    ];
    for scenario in scenarios() {
        trials.extend(SEEDS.iter().map(|&seed| seed_trial(&scenario, seed)));
    }
    if let Ok(targets) = std::env::var("MTPSPEC_PROXY_TARGETS") {
        let run = move || sim_proxy::cuts_on_real_servers(targets);
        trials.push(Trial::test("proxy::real-servers", run));
    }
    if let Ok(seeds) = std::env::var("MTPSPEC_SIM_SEEDS") {
        trials.push(Trial::test("sim::sweep", move || sweep(seeds)));
    }
    libtest_mimic::run(&args, trials).exit();
}
