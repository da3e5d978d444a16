//! Entry point of the `scenario_loader` cargo-fuzz target (`fuzz/`), and the replay of its
//! committed corpus and regression inputs as a unit test on stable. Not a public API.

use std::collections::BTreeSet;
use std::path::Path;

use crate::{ScenarioError, load_str};

/// Any bytes as a scenario file. No panic; an error names the file and a line of the
/// source (DESIGN: "Unknown fields are errors with the file, line and field named"); what
/// loads has unique ids and every case located at a line of the source.
pub fn scenario_loader(data: &[u8]) {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.yaml");
    // YAML 1.2 §5.4: "line break characters" are CR LF, CR or LF, and the parser numbers
    // lines that way (a lone CR starts a line, as `str::lines` would not count it). An error
    // at the very end of the input may point just past the last line.
    let breaks = source.replace("\r\n", "\n").matches(['\r', '\n']).count();
    let last_line = breaks as u64 + 2;
    let in_source = |line: u64| (1..=last_line).contains(&line);
    match load_str(source, path) {
        Ok(cases) => {
            let mut ids = BTreeSet::new();
            for case in &cases {
                assert_eq!(case.file, path);
                assert!(in_source(case.line), "case at line {}", case.line);
                assert!(ids.insert(case.id.as_str()), "duplicate id {}", case.id);
            }
        }
        Err(error) => {
            let text = error.to_string();
            assert!(
                text.starts_with("fuzz.yaml:"),
                "error names the file: {text}"
            );
            match error {
                ScenarioError::Syntax { line, .. } => {
                    assert!(in_source(line), "error at line {line}: {text}");
                }
                ScenarioError::Duplicate { first, second, .. } => {
                    assert!(in_source(first.1) && in_source(second.1), "{text}");
                }
                other => panic!("load_str cannot fail with {other:?}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every committed corpus file and regression input of the target, replayed.
    #[test]
    fn scenario_loader_corpus() {
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
        let mut count = 0;
        for kind in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(fuzz.join(kind).join("scenario_loader")) else {
                continue;
            };
            for entry in entries {
                let path = entry.expect("directory entry").path();
                super::scenario_loader(&std::fs::read(&path).expect("readable corpus file"));
                count += 1;
            }
        }
        assert!(count > 0, "no corpus in fuzz/corpus/scenario_loader/");
    }
}
