//! `mtpspec relay-test` against a small loopback relay ([`relay_fixture`]): it accepts SMTP
//! from the harness, stores the message, and relays it at once to the next hop the harness
//! plays. Its faults can be switched on one at a time (bare line ends forwarded, 8-bit content
//! to a 7-bit hop, pipelining without PIPELINING, a notification on 4yz instead of a retry, no
//! dot-stuffing, long lines, SIZE ignored, SMTPUTF8 ignored, STARTTLS and the injected reply,
//! notifications for accepted or null-sender messages, the envelope rewritten or split, a
//! resend after 250, no QUIT after a 554 greeting); each must be found by its case, and the relay
//! without faults must pass every case. The reference's own gateway (`mtpspec serve --http`,
//! its client and retry queue) is a target too, given the messages by HTTP. Real TCP on
//! loopback only; every wait is bounded; no timing is asserted.

// A test crate: its helpers unwrap, and a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod judged;
mod relay_fixture;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::Command;

use judged::{read_report, repo, verdicts};
use mtpspec::spec::Spec;
use relay_fixture::Faults;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs relay-test against the fixture with `faults`; the verdict of each case, and the
/// report.
fn relay_test(faults: Faults, cases: &[&str]) -> (BTreeMap<String, String>, serde_json::Value) {
    let hop = free_port();
    let relay = relay_fixture::start(hop, faults);
    run(&format!("smtp://127.0.0.1:{relay}"), hop, "8s", cases)
}

/// Runs relay-test submitting to `inject`, the next hop on `hop`, waiting `wait` per case.
fn run(
    inject: &str,
    hop: u16,
    wait: &str,
    cases: &[&str],
) -> (BTreeMap<String, String>, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mtpspec"));
    cmd.current_dir(repo())
        .arg("relay-test")
        .args(["--inject", inject])
        .args(["--listen", &format!("127.0.0.1:{hop}")])
        .args(["--wait", wait, "--settle", "300ms", "--quiet"])
        .arg("--report-json")
        .arg(&json);
    for case in cases {
        cmd.args(["--case", case]);
    }
    let output = cmd.output().unwrap();
    let report = read_report(&json, &output);
    (verdicts(&report), report)
}

fn reason(report: &serde_json::Value, id: &str) -> String {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .and_then(|c| c["reason"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_relay_without_faults_passes_every_case() {
    let (verdicts, report) = relay_test(Faults::default(), &[]);
    assert!(verdicts.len() >= 27, "{verdicts:?}");
    let not_passed: Vec<_> = verdicts
        .iter()
        .filter(|(_, v)| *v != "PASS")
        .map(|(id, v)| format!("{id} {v}: {}", reason(&report, id)))
        .collect();
    assert!(not_passed.is_empty(), "not PASS: {not_passed:#?}");
    // The stages were set: TLS under the injected reply, the content twice around the drop.
    let case = |id: &str| {
        report["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone()
    };
    let tls = case("relay-starttls-injected-reply");
    assert!(
        tls["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "tls_started"),
        "{tls}"
    );
    let why = reason(&report, "relay-dropped-after-dot");
    assert!(why.contains("reached the next hop 2 times"), "{why}");
    let partial = case("relay-partial-rcpt-failure");
    assert!(
        partial["judgements"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["verdict"] == "PASS")
    );
    let smuggling = report["smuggling"].as_array().unwrap();
    assert_eq!(smuggling.len(), 4);
    assert!(
        smuggling
            .iter()
            .all(|s| s["outcome"].as_str().unwrap().starts_with("normalised"))
    );
}

#[test]
fn bare_line_ends_forwarded_are_found_with_the_octets() {
    let faults = Faults {
        forward_bare_line_ends: true,
        ..Faults::default()
    };
    let (verdicts, report) = relay_test(faults, &["relay-bare-*", "relay-smuggling-lf-dot-lf"]);
    for id in [
        "relay-bare-lf-lines",
        "relay-bare-cr-lines",
        "relay-smuggling-lf-dot-lf",
    ] {
        assert_eq!(verdicts[id], "FAIL", "{id}: {}", reason(&report, id));
    }
    let why = reason(&report, "relay-smuggling-lf-dot-lf");
    assert!(why.contains("before<LF>.<LF>MAIL FROM:<smuggled-"), "{why}");
    let smuggling = &report["smuggling"][0];
    assert_eq!(smuggling["ending"], "<LF>.<LF>");
    assert!(
        smuggling["outcome"]
            .as_str()
            .unwrap()
            .starts_with("forwarded unchanged"),
        "{smuggling}"
    );
}

/// Runs `case` against the fixture with `faults` and requires `verdict`, with `seen` in the
/// reason.
fn found(faults: Faults, case: &str, verdict: &str, seen: &str) {
    let (verdicts, report) = relay_test(faults, &[case]);
    let why = reason(&report, case);
    assert_eq!(verdicts[case], verdict, "{case}: {why}");
    assert!(why.contains(seen), "{case}: {why:?} lacks {seen:?}");
}

/// A relay whose inbound side ends the data at a bare-LF ending (inbound smuggling) relays
/// the smuggled transaction as a message of its own, with CRLF only: its outbound side broke
/// no client rule, so the relay case does not fail, and the report says plainly what the
/// inbound side did (the server suite's SMUGGLING cases judge that).
#[test]
fn inbound_smuggling_is_told_apart_from_forwarding() {
    let faults = Faults {
        inbound_ends_data_at_bare_lf: true,
        ..Faults::default()
    };
    let cases = [
        "relay-smuggling-lf-dot-lf",
        "relay-smuggling-lf-dot-crlf",
        "relay-smuggling-crlf-dot-lf",
    ];
    let (verdicts, report) = relay_test(faults, &cases);
    for case in cases {
        assert_ne!(verdicts[case], "FAIL", "{case}: {}", reason(&report, case));
    }
    let smuggling = report["smuggling"].as_array().unwrap();
    assert_eq!(smuggling.len(), 3, "{smuggling:?}");
    for s in smuggling {
        let outcome = s["outcome"].as_str().unwrap();
        assert!(outcome.contains("inbound smuggling"), "{outcome}");
    }
}

#[test]
fn eight_bit_content_to_a_7bit_hop_is_a_warning() {
    let faults = Faults {
        eight_bit_to_7bit_hop: true,
        ..Faults::default()
    };
    found(faults, "relay-8bit-to-7bit-hop", "WARN", "0xC3");
}

#[test]
fn pipelining_without_the_extension_is_found() {
    let faults = Faults {
        pipeline_always: true,
        ..Faults::default()
    };
    found(
        faults,
        "relay-no-pipelining",
        "FAIL",
        "before the reply to `MAIL FROM",
    );
}

#[test]
fn a_notification_on_4yz_is_found() {
    let faults = Faults {
        bounce_on_4yz: true,
        ..Faults::default()
    };
    for case in [
        "relay-rcpt-451-retried",
        "relay-421-after-rcpt-retried",
        "relay-451-after-data-retried",
        "relay-connection-closed-at-once",
    ] {
        found(faults, case, "FAIL", "a notification arrived");
    }
}

#[test]
fn missing_dot_stuffing_is_found() {
    let faults = Faults {
        no_dot_stuffing: true,
        ..Faults::default()
    };
    found(faults, "relay-dot-stuffing", "FAIL", "");
    // The wrapped long line starts a line with "." at octet 998.
    found(faults, "relay-long-line", "FAIL", "single \".\"");
}

#[test]
fn a_long_line_passed_on_is_a_warning() {
    let faults = Faults {
        pass_long_lines: true,
        ..Faults::default()
    };
    found(faults, "relay-long-line", "WARN", "a line of 1102 octets");
}

#[test]
fn content_over_the_next_hops_size_is_a_warning() {
    let faults = Faults {
        ignore_size: true,
        ..Faults::default()
    };
    found(
        faults,
        "relay-size-over-next-hop-limit",
        "WARN",
        "the content was sent",
    );
}

#[test]
fn utf8_for_a_hop_without_smtputf8_is_found() {
    let faults = Faults {
        utf8_to_ascii_hop: true,
        ..Faults::default()
    };
    found(
        faults,
        "relay-smtputf8-to-ascii-hop",
        "FAIL",
        "a command with a UTF-8 address",
    );
}

#[test]
fn starttls_faults_are_found() {
    let no_tls = Faults {
        no_starttls: true,
        ..Faults::default()
    };
    found(no_tls, "relay-starttls-used", "WARN", "STARTTLS");
    found(
        no_tls,
        "relay-starttls-injected-reply",
        "SKIP",
        "did not use STARTTLS",
    );
    let no_ehlo = Faults {
        no_ehlo_after_tls: true,
        ..Faults::default()
    };
    found(no_ehlo, "relay-starttls-used", "FAIL", "sent `MAIL FROM");
    let injected = Faults {
        takes_injected_reply: true,
        ..Faults::default()
    };
    found(
        injected,
        "relay-starttls-injected-reply",
        "FAIL",
        "before the reply to `EHLO",
    );
}

#[test]
fn notification_faults_are_found() {
    let all = Faults {
        notify_all_recipients: true,
        ..Faults::default()
    };
    found(
        all,
        "relay-partial-rcpt-failure",
        "WARN",
        "as failed, which the next hop accepted",
    );
    let null = Faults {
        bounce_null_sender: true,
        ..Faults::default()
    };
    found(
        null,
        "relay-null-sender-refused-no-notification",
        "FAIL",
        "a notification arrived",
    );
}

#[test]
fn envelope_faults_are_found() {
    let rewrite = Faults {
        rewrite_null_sender: true,
        ..Faults::default()
    };
    found(rewrite, "relay-null-sender-kept", "WARN", "postmaster@");
    let split = Faults {
        one_transaction_per_recipient: true,
        ..Faults::default()
    };
    found(
        split,
        "relay-recipients-one-transaction",
        "WARN",
        "sent 3 times",
    );
}

#[test]
fn a_resend_after_250_is_found_and_a_dropped_reply_is_never_a_failure() {
    let faults = Faults {
        resend_after_250: true,
        ..Faults::default()
    };
    found(faults, "relay-dot-stuffing", "FAIL", "2 copies arrived");
    found(
        faults,
        "relay-dropped-after-dot",
        "UNSUPPORTED",
        "2 copies arrived",
    );
}

#[test]
fn closing_after_a_554_greeting_without_quit_is_found_and_mail_sent_there_is_not() {
    let faults = Faults {
        no_quit_after_554: true,
        ..Faults::default()
    };
    found(faults, "relay-greeting-554", "FAIL", "without QUIT");
    // RFC 5321 §3.1 expects commands after a 554 greeting ("SHOULD respond to any
    // intervening commands with 503"): sending them, then QUIT, breaks no MUST.
    let faults = Faults {
        mail_after_554: true,
        ..Faults::default()
    };
    let (verdicts, report) = relay_test(faults, &["relay-greeting-554"]);
    let case = "relay-greeting-554";
    assert_eq!(verdicts[case], "PASS", "{}", reason(&report, case));
}

#[test]
fn an_unreachable_target_is_an_error_and_bad_options_are_usage() {
    let closed = free_port();
    let hop = free_port();
    let status = Command::new(env!("CARGO_BIN_EXE_mtpspec"))
        .current_dir(repo())
        .args(["relay-test", "--quiet", "--case", "relay-dot-stuffing"])
        .args(["--inject", &format!("smtp://127.0.0.1:{closed}")])
        .args(["--listen", &format!("127.0.0.1:{hop}")])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    for bad in [
        [
            "--inject",
            "https://127.0.0.1:25",
            "--listen",
            "127.0.0.1:2700",
            "--wait",
            "1s",
        ],
        [
            "--inject",
            "smtp://127.0.0.1:25",
            "--listen",
            "127.0.0.1:0",
            "--wait",
            "1s",
        ],
        [
            "--inject",
            "smtp://127.0.0.1:25",
            "--listen",
            "127.0.0.1:2700",
            "--wait",
            "soon",
        ],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_mtpspec"))
            .current_dir(repo())
            .arg("relay-test")
            .args(bad)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad:?}");
        assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
    }
}

/// Every relay case cites requirements SPEC.md has, and no judgement is written at a higher
/// level than its requirement (a SHOULD row never FAILs a target).
#[test]
fn relay_cases_cite_requirements_at_their_level() {
    let spec = Spec::load(&repo().join("SPEC.md")).unwrap();
    let cases = mtpspec::relay::load_paths(&[repo().join("scenarios/relay")]).unwrap();
    assert!(cases.len() >= 27, "{} relay cases", cases.len());
    for case in &cases {
        for j in &case.judge {
            let ceiling = spec.level_ceiling(std::slice::from_ref(&j.spec), false);
            assert!(
                spec.get(&j.spec).is_some(),
                "{} cites {}, not in SPEC.md",
                case.id,
                j.spec
            );
            assert!(
                j.level >= ceiling,
                "{} ({}:{}) judges {} at {}, above its row's {ceiling}",
                case.id,
                case.file.display(),
                j.line,
                j.spec,
                j.level
            );
        }
    }
    let bundled = mtpspec::relay::bundled_cases().unwrap();
    assert_eq!(bundled.len(), cases.len());
}

/// Once every relay case is loaded, `mtpspec coverage` counts their citations: no SMTP-RELAY
/// requirement is left uncovered (nor listed as uncoverable), in a checkout and from the
/// bundled set alike.
#[test]
fn coverage_counts_the_relay_cases() {
    let spec = Spec::load(&repo().join("SPEC.md")).unwrap();
    let relay_rows: Vec<&str> = spec
        .requirements
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| id.starts_with("SMTP-RELAY-"))
        .collect();
    assert!(relay_rows.len() >= 16);
    let elsewhere = tempfile::tempdir().unwrap();
    for dir in [repo(), elsewhere.path().to_path_buf()] {
        let output = Command::new(env!("CARGO_BIN_EXE_mtpspec"))
            .current_dir(&dir)
            .args(["coverage", "--json"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let coverage: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        for row in coverage["requirements"].as_array().unwrap() {
            let id = row["id"].as_str().unwrap();
            if relay_rows.contains(&id) {
                let cases = row["cases"].as_array().unwrap();
                assert!(
                    cases
                        .iter()
                        .any(|c| c.as_str().unwrap().starts_with("relay-")),
                    "{id} is cited by no relay case (in {})",
                    dir.display()
                );
            }
        }
    }
}

/// A started `mtpspec serve --http`, stopped by its PID when dropped.
struct Gateway {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Gateway {
    /// The reference gateway on a free port, delivering to the next hop on `hop` (STARTTLS
    /// when offered) and retrying within a second.
    fn start(hop: u16) -> Self {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_mtpspec"))
            .arg("serve")
            .args(["--http", &format!("127.0.0.1:{port}")])
            .args(["--upstream", &format!("smtp+starttls://127.0.0.1:{hop}")])
            .arg("--upstream-insecure")
            .args(["--retry-initial", "300ms", "--retry-max-interval", "1s"])
            .args(["--retry-max-age", "1m", "--hostname", "mx.example.test"])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let gateway = Self {
            child,
            port,
            _dir: dir,
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return gateway;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the gateway did not listen on 127.0.0.1:{port}");
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_reference_gateway_is_judged_as_an_originator_given_its_messages_by_http() {
    let hop = free_port();
    let gateway = Gateway::start(hop);
    let cases = [
        "relay-smuggling-cr-dot-cr",
        "relay-bare-lf-lines",
        "relay-dot-stuffing",
        "relay-rcpt-451-retried",
        "relay-rcpt-550-notification",
        "relay-partial-rcpt-failure",
        "relay-trace-fields",
        "relay-null-sender-kept",
        "relay-starttls-injected-reply",
    ];
    let inject = format!("http://127.0.0.1:{}", gateway.port);
    let (verdicts, report) = run(&inject, hop, "15s", &cases);
    let verdict = |id: &str| verdicts.get(id).map(String::as_str).unwrap_or("none");
    // What the gateway sends is judged like any client's: line ends, dot-stuffing, retries,
    // TLS, the content below the header section it wrote.
    for id in [
        "relay-smuggling-cr-dot-cr",
        "relay-bare-lf-lines",
        "relay-dot-stuffing",
        "relay-rcpt-451-retried",
        "relay-partial-rcpt-failure",
        "relay-starttls-injected-reply",
    ] {
        assert_eq!(verdict(id), "PASS", "{id}: {}", reason(&report, id));
    }
    // A message the JSON cannot carry is not judged; rules that bind a receiver-SMTP
    // (notifications by mail) do not apply, and the delivery record says what became of it.
    assert_eq!(verdict("relay-trace-fields"), "SKIP");
    assert!(reason(&report, "relay-trace-fields").contains("`Received:`"));
    assert_eq!(verdict("relay-null-sender-kept"), "SKIP");
    assert!(reason(&report, "relay-null-sender-kept").contains("null reverse-path"));
    assert_eq!(verdict("relay-rcpt-550-notification"), "SKIP");
    let refused = reason(&report, "relay-rcpt-550-notification");
    assert!(refused.contains("not applicable"), "{refused}");
    assert!(refused.contains("failed after 1 attempt(s)"), "{refused}");
    assert!(refused.contains("refused (550"), "{refused}");
    let retried = reason(&report, "relay-rcpt-451-retried");
    assert!(
        retried.contains("delivered after 2 attempt(s)"),
        "{retried}"
    );
    let smuggling = &report["smuggling"][0];
    assert_eq!(smuggling["ending"], "<CR>.<CR>");
    assert!(
        smuggling["outcome"]
            .as_str()
            .unwrap()
            .starts_with("normalised"),
        "{smuggling}"
    );
    drop(gateway);
}
