//! The command line as a user meets it: one exit-code table for every subcommand, one duration
//! grammar, load errors that name what to fix, target errors that say what to do, and a binary
//! that carries its own scenarios (run from a directory with no checkout). Every test runs the
//! real binary; servers are loopback sockets the test opens itself.

// A test crate: its helpers unwrap, and a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

fn mtpspec(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mtpspec"))
        .current_dir(dir)
        .env_remove("MTPSPEC_TARGET")
        .args(args)
        .output()
        .expect("run mtpspec")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A loopback port nothing listens on.
fn closed_port() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

#[test]
fn an_unreachable_server_exits_3_from_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let addr = closed_port();
    let body = dir.path().join("body.txt");
    std::fs::write(&body, "hi\n").unwrap();
    let body = body.to_str().unwrap();
    let target = format!("smtp://{addr}");
    let runs: [&[&str]; 5] = [
        &["status", "--server", &addr, "00000000002A"],
        &[
            "mmtp",
            "--server",
            &addr,
            "check",
            "--email",
            "(a)%(b.example)",
        ],
        &["load", "--target", &addr, "--messages", "2"],
        &[
            "send",
            "--server",
            &addr,
            "--from",
            "a@b.example",
            "c@d.example",
            body,
        ],
        &["run", "--target", &target],
    ];
    for args in runs {
        let output = mtpspec(dir.path(), args);
        assert_eq!(output.status.code(), Some(3), "{args:?}: {}", text(&output));
    }
}

#[test]
fn every_duration_option_takes_the_same_grammar() {
    let dir = tempfile::tempdir().unwrap();
    let parse = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mtpspec"))
            .current_dir(dir.path())
            .env("MTPSPEC_PARSE_ONLY", "1")
            .args(args)
            .output()
            .unwrap()
    };
    for args in [
        &["run", "--deadline", "1h", "--step-timeout", "1.5s"][..],
        &[
            "send",
            "--timeout",
            "1.5s",
            "--server",
            "a:1",
            "--from",
            "a@b.example",
            "c@d.example",
            "-",
        ],
        &["load", "--duration", "5s", "--target", "a:1"],
        &[
            "fuzz",
            "--duration",
            "5s",
            "--reply-timeout",
            "2s",
            "--settle",
            "30",
        ],
        &[
            "mmtp",
            "--timeout",
            "2m30s",
            "check",
            "--email",
            "(a)%(b.example)",
        ],
    ] {
        let output = parse(args);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", text(&output));
    }
    // Out of range, infinite and negative durations are usage errors too, never a panic.
    for args in [
        &["run", "--deadline", "1x"][..],
        &["run", "--deadline", "99999999999999999999999s"],
        &["load", "--duration=inf", "--target", "a:1"],
        &["load", "--duration=-1", "--target", "a:1"],
    ] {
        let output = parse(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
        assert!(
            text(&output).contains("expected a duration like"),
            "{args:?}: {}",
            text(&output)
        );
    }
}

#[test]
fn scenario_mistakes_are_load_errors_that_name_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, yaml: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, yaml).unwrap();
        path.to_str().unwrap().to_string()
    };
    let empty = write("empty.yaml", "");
    let output = mtpspec(dir.path(), &["run", "--scenarios", &empty]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("hold no case"), "{}", text(&output));

    let case = "- id: a\n  title: t\n  spec: [SMTP-DTA-3]\n  level: must\n  steps: [ehlo]\n";
    let typo = write("typo.yaml", case);
    let output = mtpspec(dir.path(), &["run", "--scenarios", &typo]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("did you mean SMTP-DATA-3?"),
        "{}",
        text(&output)
    );

    let requires = case.replace("SMTP-DTA-3", "SMTP-DATA-3") + "  requires: PIPELINNG\n";
    let typo = write("requires.yaml", &requires);
    let output = mtpspec(dir.path(), &["run", "--scenarios", &typo]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("did you mean PIPELINING?"),
        "{}",
        text(&output)
    );
}

#[test]
fn target_errors_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    // A plain SMTP port, given as smtps://.
    let plain = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = plain.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        if let Ok((mut stream, _)) = plain.accept() {
            let _ = stream.write_all(b"220 plain.example ESMTP\r\n");
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    });
    let output = mtpspec(dir.path(), &["run", "--target", &format!("smtps://{addr}")]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(
        text(&output).contains("did not answer TLS"),
        "{}",
        text(&output)
    );
    assert!(text(&output).contains("smtp://"), "{}", text(&output));
    server.join().unwrap();

    let output = mtpspec(
        dir.path(),
        &["run", "--target", "exec:mtpspec-no-such-server -bs"],
    );
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(text(&output).contains("not found"), "{}", text(&output));
}

#[test]
fn the_binary_runs_its_bundled_suite_from_a_directory_without_a_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let version = mtpspec(dir.path(), &["--version"]);
    assert!(
        text(&version).contains("scenario set"),
        "{}",
        text(&version)
    );
    let list = mtpspec(dir.path(), &["run", "--list"]);
    assert_eq!(list.status.code(), Some(0), "{}", text(&list));
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/smtp");
    let checkout_ids = mtpspec::scenario::load_paths(&[checkout]).unwrap();
    let listed = String::from_utf8_lossy(&list.stdout);
    for case in &checkout_ids {
        assert!(
            listed.contains(&case.id),
            "{} missing from the bundled list",
            case.id
        );
    }
    let coverage = mtpspec(dir.path(), &["coverage", "--uncovered"]);
    assert_eq!(coverage.status.code(), Some(0), "{}", text(&coverage));
    // Cases that read fixture files (MMTP keys) find them in the bundle too.
    let keys = mtpspec(
        dir.path(),
        &[
            "run",
            "--filter",
            "MMTP-KEYS-*,MMTP-SIGNATURE-*",
            "--skip-robustness",
            "-q",
        ],
    );
    assert_eq!(keys.status.code(), Some(0), "{}", text(&keys));
}

/// `mtpspec::testing` is `mtpspec run` as a library: on the same scenarios, SPEC.md and
/// baseline, the verdicts, the baseline's marks and stale entries, the findings, the gate and
/// the exit code are the command's.
#[test]
fn the_library_gives_what_mtpspec_run_gives() {
    use mtpspec::scenario::{Filter, load_paths};
    use mtpspec::suite::SuiteOptions;
    use mtpspec::testing::Conformance;
    use mtpspec::{Baseline, Spec};

    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("cases");
    std::fs::create_dir(&scenarios).unwrap();
    // Against the reference: a MUST broken (NOOP gets 250, not 554), the same expected by the
    // baseline, a SHOULD broken, a pass, and a pass the baseline still lists (stale).
    std::fs::write(
        scenarios.join("cases.yaml"),
        "\
- {id: must-broken, title: t, spec: [SMTP-NOOP-1], level: must, steps: [{expect: 220}, {send: NOOP}, {expect: 554}]}
- {id: must-expected, title: t, spec: [SMTP-NOOP-1], level: must, steps: [{expect: 220}, {send: NOOP}, {expect: 554}]}
- {id: should-broken, title: t, spec: [SMTP-DATA-1], level: should, steps: [{expect: 220}, {send: NOOP}, {expect: 554}]}
- {id: passes, title: t, spec: [SMTP-NOOP-1], level: must, steps: [{expect: 220}, {send: NOOP}, {expect: 250}]}
- {id: passes-but-listed, title: t, spec: [SMTP-NOOP-1], level: must, steps: [{expect: 220}, {send: NOOP}, {expect: 250}]}
",
    )
    .unwrap();
    let baseline = dir.path().join("baseline.yaml");
    std::fs::write(
        &baseline,
        "must-expected: known\npasses-but-listed:\n  reason: fixed since\n  remedy: upgrade\n",
    )
    .unwrap();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../SPEC.md");
    let json = dir.path().join("run.json");
    let cli = mtpspec(
        dir.path(),
        &[
            "run",
            "--quiet",
            "--skip-robustness",
            "--scenarios",
            scenarios.to_str().unwrap(),
            "--spec",
            spec.to_str().unwrap(),
            "--baseline",
            baseline.to_str().unwrap(),
            "--report-json",
            json.to_str().unwrap(),
        ],
    );
    let from_cli =
        mtpspec::report::json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();

    let options = SuiteOptions {
        spec: Some(Spec::load(&spec).unwrap()),
        baseline: Some(Baseline::load(&baseline).unwrap()),
        robustness: mtpspec::suite::RobustnessSettings {
            skip: true,
            ..Default::default()
        },
        ..SuiteOptions::default()
    };
    let suite = Conformance::from_options("embedded", options).unwrap();
    let all = load_paths(&[scenarios]).unwrap();
    let everything = Filter::new(&[]).unwrap();
    let selection = suite.select(&all, &everything, Default::default()).unwrap();
    let from_library = suite.run_selection(&selection);
    suite.shutdown();

    let verdicts = |report: &mtpspec::RunReport| -> Vec<String> {
        report
            .cases
            .iter()
            .map(|c| format!("{} {} {:?}", c.id, c.verdict, c.baseline))
            .chain(
                report
                    .robustness
                    .iter()
                    .map(|r| format!("{} {}", r.id, r.verdict)),
            )
            .collect()
    };
    assert_eq!(verdicts(&from_library), verdicts(&from_cli));
    assert!(
        verdicts(&from_cli).contains(&"must-expected FAIL Some(ExpectedFailure(\"known\"))".into()),
        "{:?}",
        verdicts(&from_cli)
    );
    let stale = |report: &mtpspec::RunReport| -> Vec<String> {
        report.stale_baseline.iter().map(|s| s.id.clone()).collect()
    };
    assert_eq!(
        stale(&from_library),
        ["passes-but-listed"],
        "{:?}",
        verdicts(&from_library)
    );
    assert_eq!(stale(&from_library), stale(&from_cli));
    let findings = |report: &mtpspec::RunReport| -> Vec<String> {
        report
            .findings
            .iter()
            .map(|f| format!("{} {}", f.case, f.kind()))
            .collect()
    };
    assert_eq!(findings(&from_library), findings(&from_cli));
    assert_eq!(from_library.gate, from_cli.gate);
    assert_eq!(from_library.exit_code, 1, "a FAIL and a stale entry");
    assert_eq!(cli.status.code(), Some(i32::from(from_library.exit_code)));
}

/// A reader that stops early (`mtpspec run --list | head -1`) is no panic: the command ends
/// with its own exit code and says nothing on stderr.
#[test]
fn a_closed_output_pipe_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["run", "--list"][..], &["coverage"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mtpspec"))
            .current_dir(dir.path())
            .env_remove("MTPSPEC_TARGET")
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Closed before the command writes a line.
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// `mtpspec report` renders a saved JSON report exactly as `run` rendered it, and exits with
/// its gate.
#[test]
fn a_saved_report_renders_as_run_rendered_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let run = mtpspec(
        dir.path(),
        &[
            "run",
            "--quiet",
            "--filter",
            "SMTP-NOOP-*",
            "--report-json",
            &path("run.json"),
            "--report-md",
            &path("run.md"),
        ],
    );
    let again = mtpspec(
        dir.path(),
        &[
            "report",
            &path("run.json"),
            "--report-md",
            &path("again.md"),
        ],
    );
    assert_eq!(again.status.code(), run.status.code(), "{}", text(&again));
    assert_eq!(
        std::fs::read_to_string(path("again.md")).unwrap(),
        std::fs::read_to_string(path("run.md")).unwrap()
    );
    assert!(text(&again).contains("Gate: PASSED"), "{}", text(&again));
    let missing = mtpspec(dir.path(), &["report", &path("nope.json")]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
}
