//! The scenario library and SPEC.md this binary was built with (bundled by harness/build.rs),
//! so that an installed `mtpspec` runs its suite wherever the checkout is, and `--version` says
//! which set it carries. Paths are relative to the repository (`scenarios/smtp/data.yaml`).

use std::path::Path;

use crate::scenario::{Case, ScenarioError};
use crate::spec::{Spec, SpecError};

mod files {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

/// The scenario directories `mtpspec run` runs by default, under `scenarios/`.
pub const SUITE_DIRS: [&str; 4] = ["smtp", "vmtp", "mmtp", "http"];

/// The scenario files under `dir` (`scenarios/smtp`), in path order.
pub fn yaml_under(dir: &str) -> impl Iterator<Item = (&'static Path, &'static str)> + '_ {
    files::FILES
        .iter()
        .filter(move |(path, _)| {
            path.strip_prefix(dir)
                .is_some_and(|rest| rest.starts_with('/'))
                && (path.ends_with(".yaml") || path.ends_with(".yml"))
        })
        .map(|(path, text)| (Path::new(*path), *text))
}

/// The bundled server cases of `scenarios/DIR` for each of `dirs`.
pub fn suite_cases(dirs: &[&str]) -> Result<Vec<Case>, ScenarioError> {
    let dirs: Vec<String> = dirs.iter().map(|d| format!("scenarios/{d}")).collect();
    crate::scenario::load_sources(dirs.iter().flat_map(|d| yaml_under(d)))
}

/// One bundled file by its path (`SPEC.md`, `scenarios/UNCOVERED.md`).
pub fn file(path: &str) -> Option<&'static str> {
    files::FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, text)| *text)
}

/// A fixture a case reads (an MMTP key under `scenarios/mmtp/keys/`): the file on disk, else,
/// for the bundled cases, whose paths are relative to the repository, the bundled one.
pub fn read_fixture(path: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(path).or_else(|error| {
        let bundled = path.to_str().map(|p| p.replace('\\', "/"));
        bundled
            .as_deref()
            .and_then(file)
            .map(str::to_string)
            .ok_or(error)
    })
}

/// The bundled SPEC.md.
pub fn spec() -> Result<Spec, SpecError> {
    Spec::parse(file("SPEC.md").unwrap_or_default())
}

/// `--version`: the crate version, and the scenario set bundled with it (case count and a
/// fingerprint of the files).
pub const VERSION: &str = files::VERSION;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_suite_loads_and_matches_the_checkout() {
        let bundled = suite_cases(&SUITE_DIRS).unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
        let dirs: Vec<_> = SUITE_DIRS.iter().map(|d| root.join(d)).collect();
        let checkout = crate::scenario::load_paths(&dirs).unwrap();
        assert_eq!(bundled.len(), checkout.len());
        assert!(bundled.iter().all(|c| c.file.starts_with("scenarios/")));
        assert!(
            VERSION.contains(&format!(": {} cases", bundled.len())),
            "{VERSION}"
        );
        assert!(spec().unwrap().requirements.len() > 100);
    }
}
