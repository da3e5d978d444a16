//! Shared by the build scripts of `mtp-server` and `mtpspec` (included with `#[path]`): sets a
//! cfg for each external program a crate's tests drive that is present, so that a test whose
//! program is missing shows as *ignored* with the reason; with `MTPSPEC_REQUIRE_TOOLS` set (CI)
//! a missing program fails the build instead.

/// `(cfg, program, arguments that succeed when it is usable)`.
pub type Tool<'a> = (&'a str, &'a str, &'a [&'a str]);

pub fn find_tools(tools: &[Tool<'_>]) {
    println!("cargo:rerun-if-env-changed=MTPSPEC_REQUIRE_TOOLS");
    println!("cargo:rerun-if-env-changed=PATH");
    let require = std::env::var_os("MTPSPEC_REQUIRE_TOOLS").is_some();
    for (cfg, program, args) in tools {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        let present = std::process::Command::new(program)
            .args(*args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if present {
            println!("cargo:rustc-cfg={cfg}");
        } else if require {
            panic!(
                "`{program} {}` failed: required (MTPSPEC_REQUIRE_TOOLS is set)",
                args.join(" ")
            );
        }
    }
}
