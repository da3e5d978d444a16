//! Bundles the scenario library and SPEC.md into the crate, so that an installed `mtpspec`
//! runs the suite it was built with wherever the checkout is. Writes `$OUT_DIR/bundled.rs`: the
//! files (path relative to the repository, contents) and a fingerprint of them all.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let repo = manifest.join("../..");
    let mut files = vec![repo.join("SPEC.md")];
    collect(&repo.join("scenarios"), &mut files);
    files.sort();
    println!("cargo:rerun-if-changed={}", repo.join("SPEC.md").display());
    let mut out = String::from("/// Bundled files: path relative to the repository, contents.\n");
    out.push_str("pub(super) static FILES: &[(&str, &str)] = &[\n");
    // FNV-1a over every path and content: which scenario set a binary carries.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in &files {
        let relative = file
            .strip_prefix(&repo)
            .expect("under the repository")
            .to_string_lossy()
            .replace('\\', "/");
        let contents = std::fs::read(file).expect("a bundled file reads");
        for byte in relative.bytes().chain(contents) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        let absolute = file.canonicalize().expect("a bundled file resolves");
        writeln!(out, "    ({relative:?}, include_str!({absolute:?})),").expect("to a String");
    }
    out.push_str("];\n");
    // Cases of the suite `run` runs by default (not the client cases of `serve-test`).
    let cases: usize = files
        .iter()
        .filter(|f| {
            ["smtp", "vmtp", "mmtp", "http"]
                .iter()
                .any(|d| f.starts_with(repo.join("scenarios").join(d)))
        })
        .map(|f| {
            let text = std::fs::read_to_string(f).expect("a bundled file reads");
            text.lines().filter(|l| l.starts_with("- id:")).count()
        })
        .sum();
    let version = std::env::var("CARGO_PKG_VERSION").expect("set by cargo");
    writeln!(
        out,
        "/// `--version`: the crate version and the scenario set bundled with it.\n\
         pub(super) const VERSION: &str = \"{version} (scenario set {hash:016x}: {cases} cases, with SPEC.md)\";"
    )
    .expect("to a String");
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("bundled.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

/// Every `*.yaml`, `*.yml` and `*.md` file under `dir` and the cases' fixture keys (`*.asc`),
/// and a rerun trigger for each directory.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "md" || e == "asc")
        {
            println!("cargo:rerun-if-changed={}", path.display());
            files.push(path);
        }
    }
}
