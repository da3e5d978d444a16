//! Finds the external programs some of this crate's tests drive (aiosmtpd, GnuPG, Python, swaks):
//! see build_tools.rs.

#[path = "build_tools.rs"]
mod build_tools;

fn main() {
    build_tools::find_tools(&[
        ("has_aiosmtpd", "python3", &["-c", "import aiosmtpd"]),
        ("has_gpg", "gpg", &["--version"]),
        ("has_python3", "python3", &["--version"]),
        ("has_swaks", "swaks", &["--version"]),
    ]);
}
