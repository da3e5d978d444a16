//! What the tests of `serve-test` and `relay-test` share: where the checkout is, and reading
//! the JSON report a run wrote into its verdicts (case id to verdict).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The checkout's root (the directory above `harness`).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness has a parent")
        .to_path_buf()
}

/// The JSON report at `json`, written by the run that gave `output`; a missing report panics
/// with the run's output.
pub fn read_report(json: &Path, output: &Output) -> serde_json::Value {
    let bytes = std::fs::read(json).unwrap_or_else(|e| {
        panic!(
            "no report ({e}); stdout: {}; stderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    serde_json::from_slice(&bytes).expect("the report is JSON")
}

/// Each case's verdict, by id.
pub fn verdicts(report: &serde_json::Value) -> BTreeMap<String, String> {
    report["cases"]
        .as_array()
        .expect("the report has cases")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_string(),
                c["verdict"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
