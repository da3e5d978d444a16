//! `mtpspec serve-test` judging real clients over loopback: the reference client (`mtpspec
//! send`), Python's smtplib, swaks (CI installs it), and a deliberately broken client that
//! ignores every reply, which must be judged FAIL. Each test runs the real binary, which starts
//! the client once per case and writes the JSON report these tests read.

// A test crate: its helpers unwrap, and a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod judged;

use std::collections::BTreeMap;
use std::process::Command;

use judged::{read_report, repo, verdicts};
use mtpspec::spec::Spec;

/// The verdicts (case id to verdict) and the whole JSON report of one serve-test run.
struct Run {
    verdicts: BTreeMap<String, String>,
    report: serde_json::Value,
}

impl Run {
    fn verdict(&self, id: &str) -> &str {
        self.verdicts
            .get(id)
            .unwrap_or_else(|| panic!("no case {id} in {:?}", self.verdicts))
    }

    /// The `detail` of the first judgement of `id` that did not pass.
    fn detail(&self, id: &str) -> String {
        let case = self.report["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap();
        case["judgements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["verdict"] != "PASS")
            .map(|j| j["detail"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    }
}

fn serve_test(name: &str, client_cmd: &str, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let output = Command::new(env!("CARGO_BIN_EXE_mtpspec"))
        .current_dir(repo())
        .env("MTPSPEC_BIN", env!("CARGO_BIN_EXE_mtpspec"))
        .args(["serve-test", "--listen", "127.0.0.1:0", "--quiet"])
        .args(["--client-name", name, "--client-cmd", client_cmd])
        .arg("--report-json")
        .arg(&json)
        .args(extra)
        .output()
        .expect("run mtpspec serve-test");
    let report = read_report(&json, &output);
    Run {
        verdicts: verdicts(&report),
        report,
    }
}

const SMTPLIB: &str =
    "python3 harness/clients/smtplib_client.py {mode} {host} {port} {from} {body} {to}";

#[test]
fn client_scenarios_cite_requirements_spec_md_has() {
    let spec = Spec::load(&repo().join("SPEC.md")).unwrap();
    let cases = mtpspec::servetest::load_paths(&[repo().join("scenarios/clients")]).unwrap();
    assert!(cases.len() >= 15, "{} client cases", cases.len());
    for case in &cases {
        for id in case.spec() {
            assert!(
                spec.get(&id).is_some(),
                "{} cites {id}, not in SPEC.md",
                case.id
            );
        }
    }
}

#[test]
fn the_reference_client_passes_every_case() {
    let run = serve_test(
        "mtpspec-send",
        "bash harness/clients/mtpspec_send.sh {mode} {host} {port} {from} {body} {to}",
        &["--client-features", "vmtp"],
    );
    // Including client-data-bare-cr: a bare CR in the body goes out as CRLF (RFC 5321 §2.3.8).
    let not_passed: Vec<_> = run.verdicts.iter().filter(|(_, v)| *v != "PASS").collect();
    assert!(not_passed.is_empty(), "not PASS: {not_passed:?}");
    assert!(run.verdicts.len() >= 15);
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed")]
fn python_smtplib_is_judged() {
    let run = serve_test("smtplib", SMTPLIB, &[]);
    for id in [
        "client-rcpt-421-mid-transaction",
        "client-mail-451",
        "client-data-dot-stuffing",
        "client-data-crlf-line-endings",
        "client-starttls-ehlo-again",
        "client-starttls-injected-reply",
        "client-no-pipelining-when-not-offered",
        "client-multiline-replies",
    ] {
        assert_eq!(run.verdict(id), "PASS", "{id}: {}", run.detail(id));
    }
    // smtplib raises on a 554 greeting and closes without QUIT (RFC 5321 §4.1.1.10).
    assert_eq!(run.verdict("client-greeting-554"), "FAIL");
    assert!(run.detail("client-greeting-554").contains("no command"));
    // It stops after a 454 to STARTTLS: a choice RFC 3207 leaves to the client.
    assert_eq!(run.verdict("client-starttls-454"), "UNSUPPORTED");
    assert_eq!(run.verdict("client-vmtp-verbs-refused"), "SKIP");
}

#[test]
fn a_client_that_ignores_replies_fails() {
    let run = serve_test(
        "ignores-replies",
        "python3 harness/tests/clients/ignores_replies.py {mode} {host} {port} {from} {body} {to}",
        &[
            "--case",
            "client-rcpt-421-mid-transaction",
            "--case",
            "client-rcpt-550-only-recipient",
            "--case",
            "client-mail-451",
        ],
    );
    assert_eq!(run.verdicts.len(), 3);
    for id in [
        "client-rcpt-421-mid-transaction",
        "client-rcpt-550-only-recipient",
        "client-mail-451",
    ] {
        assert_eq!(run.verdict(id), "FAIL", "{id}");
    }
    assert!(
        run.detail("client-rcpt-421-mid-transaction")
            .contains("DATA")
    );
    assert!(run.detail("client-mail-451").contains("RCPT"));
}

#[test]
#[cfg_attr(
    not(has_swaks),
    ignore = "swaks is not installed (bash .ci/install-tools; then rebuild)"
)]
fn swaks_is_judged() {
    let run = serve_test(
        "swaks",
        "bash harness/clients/swaks.sh {mode} {host} {port} {from} {body} {to}",
        &[
            "--case",
            "client-starttls-*",
            "--case",
            "client-rcpt-421-mid-transaction",
            "--case",
            "client-data-dot-stuffing",
        ],
    );
    assert_eq!(run.verdict("client-rcpt-421-mid-transaction"), "PASS");
    assert_eq!(run.verdict("client-data-dot-stuffing"), "PASS");
    assert_eq!(run.verdict("client-starttls-ehlo-again"), "PASS");
    // swaks 20201014 keeps the plaintext octets that followed the 220 to STARTTLS and reads
    // them, under TLS, as the reply to its EHLO: it sends MAIL before the real reply.
    assert_eq!(run.verdict("client-starttls-injected-reply"), "FAIL");
    assert!(
        run.detail("client-starttls-injected-reply")
            .contains("before the reply to `EHLO")
    );
}

/// The README's swaks example on a machine without swaks: the wrapper script exits 127 without
/// ever connecting. That is an ERROR for the run (exit 3, the reason on stderr), not a list of
/// FAIL verdicts about a client that was never tested, and no report is written.
#[test]
fn a_client_that_is_not_installed_is_an_error_with_no_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let output = Command::new(env!("CARGO_BIN_EXE_mtpspec"))
        .current_dir(repo())
        .args(["serve-test", "--listen", "127.0.0.1:0"])
        .args(["--client-cmd", "mtpspec-no-such-client {host} {port}"])
        .arg("--report-json")
        .arg(&json)
        .output()
        .expect("run mtpspec serve-test");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{stdout}{stderr}");
    assert!(
        stderr.contains("the client command cannot run (exit 127: a command was not found"),
        "{stderr}"
    );
    assert!(stderr.contains("mtpspec-no-such-client"), "{stderr}");
    for verdict in ["PASS ", "FAIL ", "WARN "] {
        assert!(!stdout.contains(verdict), "a verdict was given: {stdout}");
    }
    assert!(
        !json.exists(),
        "a report was written for an untested client"
    );
}
