//! Finds the external programs this crate's tests drive (swaks, Python, aiosmtpd) and sets a
//! cfg for each one present, so that a test whose program is missing shows as *ignored* with
//! the reason; with `MTPSPEC_REQUIRE_TOOLS` set (CI) a missing program fails the build instead.

#[path = "../reference-impl/server/build_tools.rs"]
mod build_tools;

fn main() {
    find_tools();
}

/// `has_swaks`, `has_python3`, `has_aiosmtpd`: the programs the tests drive that are present.
fn find_tools() {
    build_tools::find_tools(&[
        ("has_swaks", "swaks", &["--version"]),
        ("has_python3", "python3", &["--version"]),
        ("has_aiosmtpd", "python3", &["-c", "import aiosmtpd"]),
    ]);
}
