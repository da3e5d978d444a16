//! Where a subcommand's scenarios and SPEC.md come from: the paths given (`--scenarios`,
//! `--spec`), else a checkout in the current directory (`./scenarios`, `./SPEC.md`), else the
//! set bundled into this binary (`mtpspec --version` names it). The build-time source path is
//! never used: an installed binary keeps working when the checkout moves.

use std::path::{Path, PathBuf};

use anyhow::Context;
use mtpspec::bundled;
use mtpspec::scenario::{Case, ScenarioError, load_paths};
use mtpspec::servetest::ClientCase;
use mtpspec::spec::Spec;

/// `./scenarios` when the current directory is a checkout of the suite.
fn checkout() -> Option<PathBuf> {
    let root = PathBuf::from("scenarios");
    root.join("smtp").is_dir().then_some(root)
}

/// The server cases `run`, `compare` and `coverage` use.
pub fn suite_cases(given: &[PathBuf]) -> Result<Vec<Case>, ScenarioError> {
    if !given.is_empty() {
        return load_paths(given);
    }
    match checkout() {
        Some(root) => load_paths(
            &bundled::SUITE_DIRS
                .iter()
                .map(|d| root.join(d))
                .filter(|d| d.is_dir())
                .collect::<Vec<_>>(),
        ),
        None => bundled::suite_cases(&bundled::SUITE_DIRS),
    }
}

/// The client cases of `serve-test` and `coverage`.
pub fn client_cases(given: &[PathBuf]) -> Result<Vec<ClientCase>, ScenarioError> {
    if !given.is_empty() {
        return mtpspec::servetest::load_paths(given);
    }
    match checkout().map(|root| root.join("clients")) {
        Some(dir) if dir.is_dir() => mtpspec::servetest::load_paths(&[dir]),
        _ => mtpspec::servetest::load::bundled_cases(),
    }
}

/// SPEC.md: the one given, the checkout's, or the bundled one.
pub fn spec(given: Option<&Path>) -> anyhow::Result<Spec> {
    let local = PathBuf::from("SPEC.md");
    match given.or_else(|| checkout().and(Some(local.as_path())).filter(|p| p.exists())) {
        Some(path) => Spec::load(path).with_context(|| format!("reading {}", path.display())),
        None => bundled::spec().context("the bundled SPEC.md"),
    }
}

/// The list of requirements no case can cover (`scenarios/UNCOVERED.md`): its name and text.
pub fn uncoverable(given: Option<&Path>) -> anyhow::Result<(String, String)> {
    if given.is_none()
        && let Some(path) = checkout().map(|root| root.join("UNCOVERED.md"))
    {
        // A checkout without the list has nothing listed.
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        return Ok((path.display().to_string(), text));
    }
    match given {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok((path.display().to_string(), text))
        }
        None => {
            let name = "scenarios/UNCOVERED.md";
            let text = bundled::file(name).context("the bundled scenarios/UNCOVERED.md")?;
            Ok((name.to_string(), text.to_string()))
        }
    }
}
