//! `mtpspec relay-test` against a small loopback relay written here: it accepts SMTP from the
//! harness, stores the message, and forwards it at once to the next hop the harness plays.
//! Faults can be switched on one at a time (bare line ends forwarded, 8-bit content to a 7-bit
//! hop, pipelining without PIPELINING, a notification on 4yz instead of a retry, no
//! dot-stuffing); each must be found by its case, and the relay without faults must pass
//! every case. Real TCP on loopback only; every wait is bounded; no timing is asserted.

// A test crate: its helpers unwrap, and a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

use mtpspec::spec::Spec;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness has a parent")
        .to_path_buf()
}

/// The faults the fixture relay can have.
#[derive(Clone, Copy, Default)]
struct Faults {
    forward_bare_line_ends: bool,
    eight_bit_to_7bit_hop: bool,
    pipeline_always: bool,
    bounce_on_4yz: bool,
    no_dot_stuffing: bool,
}

/// A message the relay accepted.
struct Queued {
    sender: String,
    rcpt: String,
    content: Vec<u8>,
}

const IO: Duration = Duration::from_secs(10);

/// Starts the fixture relay; returns its port. Its threads end with the test process.
fn start_relay(next_hop: u16, faults: Faults) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || {
                if let Some(msg) = accept_one(stream) {
                    deliver(next_hop, faults, &msg, 0);
                }
            });
        }
    });
    port
}

fn read_line(r: &mut BufReader<TcpStream>) -> Option<String> {
    let mut line = String::new();
    (r.read_line(&mut line).ok()? > 0).then_some(line)
}

/// The fixture's inbound side: one session, one message.
fn accept_one(stream: TcpStream) -> Option<Queued> {
    stream.set_read_timeout(Some(IO)).ok()?;
    let mut w = stream.try_clone().ok()?;
    let mut r = BufReader::new(stream);
    w.write_all(b"220 fixture.relay.example ESMTP\r\n").ok()?;
    let (mut sender, mut rcpt, mut queued) = (String::new(), String::new(), None);
    while let Some(line) = read_line(&mut r) {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-fixture.relay.example\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            sender = between(&line);
            b"250 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            rcpt = between(&line);
            b"250 ok\r\n"
        } else if upper.starts_with("DATA") {
            w.write_all(b"354 go ahead\r\n").ok()?;
            let mut data = Vec::new();
            while !data.ends_with(b"\r\n.\r\n") {
                let mut byte = [0u8; 1];
                r.read_exact(&mut byte).ok()?;
                data.push(byte[0]);
            }
            data.truncate(data.len() - 3);
            queued = Some(Queued {
                sender: sender.clone(),
                rcpt: rcpt.clone(),
                content: unstuff(&data),
            });
            b"250 queued\r\n"
        } else if upper.starts_with("QUIT") {
            w.write_all(b"221 bye\r\n").ok()?;
            break;
        } else {
            b"502 no\r\n"
        };
        w.write_all(reply).ok()?;
    }
    queued
}

fn between(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line.rfind('>').unwrap_or(line.len());
    line[start..end].to_string()
}

fn unstuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &b) in data.iter().enumerate() {
        if b == b'.' && (i == 0 || data[..i].ends_with(b"\r\n")) {
            continue;
        }
        out.push(b);
    }
    out
}

/// Every bare CR and bare LF as CRLF.
fn normalize(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < content.len() {
        match (content[i], content.get(i + 1)) {
            (b'\r', Some(b'\n')) => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            (b'\r' | b'\n', _) => out.extend_from_slice(b"\r\n"),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    out
}

fn stuff(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &b) in content.iter().enumerate() {
        if b == b'.' && (i == 0 || content[..i].ends_with(b"\r\n")) {
            out.push(b'.');
        }
        out.push(b);
    }
    out
}

/// A client session with the next hop; returns the first reply to RCPT.
fn deliver(next_hop: u16, faults: Faults, msg: &Queued, attempt: u32) {
    let Ok(stream) = TcpStream::connect(("127.0.0.1", next_hop)) else {
        return;
    };
    stream.set_read_timeout(Some(IO)).unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let reply = |r: &mut BufReader<TcpStream>| -> String {
        let mut all = String::new();
        while let Some(line) = read_line(r) {
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
        all
    };
    reply(&mut r);
    w.write_all(b"EHLO fixture.relay.example\r\n").unwrap();
    let ehlo = reply(&mut r).to_ascii_uppercase();
    let eight_bit = msg.content.iter().any(|b| *b > 0x7F);
    if eight_bit && !ehlo.contains("8BITMIME") && !faults.eight_bit_to_7bit_hop {
        // RFC 6152 §3: the barrier to 8-bit treated as a permanent failure.
        let _ = w.write_all(b"QUIT\r\n");
        notify(next_hop, msg, "5.6.3");
        return;
    }
    let mail = format!("MAIL FROM:<{}>\r\n", msg.sender);
    let rcpt = format!("RCPT TO:<{}>\r\n", msg.rcpt);
    let rcpt_reply = if faults.pipeline_always {
        w.write_all(format!("{mail}{rcpt}").as_bytes()).unwrap();
        reply(&mut r);
        reply(&mut r)
    } else {
        w.write_all(mail.as_bytes()).unwrap();
        reply(&mut r);
        w.write_all(rcpt.as_bytes()).unwrap();
        reply(&mut r)
    };
    if rcpt_reply.starts_with('4') {
        let _ = w.write_all(b"QUIT\r\n");
        if faults.bounce_on_4yz {
            notify(next_hop, msg, "5.0.0");
        } else if attempt < 5 {
            thread::sleep(Duration::from_millis(300));
            deliver(next_hop, faults, msg, attempt + 1);
        }
        return;
    }
    if rcpt_reply.starts_with('5') {
        let _ = w.write_all(b"QUIT\r\n");
        notify(next_hop, msg, "5.1.1");
        return;
    }
    w.write_all(b"DATA\r\n").unwrap();
    reply(&mut r);
    let mut content =
        b"Received: from relay-client.mtpspec.test ([127.0.0.1])\r\n\tby fixture.relay.example; Mon, 1 Jan 2024 00:00:00 +0000\r\n".to_vec();
    if faults.forward_bare_line_ends {
        content.extend_from_slice(&msg.content);
    } else {
        content.extend_from_slice(&normalize(&msg.content));
    }
    let mut data = if faults.no_dot_stuffing {
        content
    } else {
        stuff(&content)
    };
    if !data.ends_with(b"\r\n") {
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b".\r\n");
    w.write_all(&data).unwrap();
    reply(&mut r);
    let _ = w.write_all(b"QUIT\r\n");
    reply(&mut r);
}

/// A DSN to the sender, with a null reverse-path.
fn notify(next_hop: u16, msg: &Queued, status: &str) {
    let dsn = Queued {
        sender: String::new(),
        rcpt: msg.sender.clone(),
        content: format!(
            "From: MAILER-DAEMON@fixture.relay.example\r\nSubject: Undelivered\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nThe message could not be delivered.\r\n\r\n--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; fixture.relay.example\r\n\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {status}\r\n\r\n--b1--\r\n",
            msg.rcpt
        )
        .into_bytes(),
    };
    deliver(next_hop, Faults::default(), &dsn, 0);
}

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
    let relay = start_relay(hop, faults);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mtpspec"));
    cmd.current_dir(repo())
        .arg("relay-test")
        .args(["--inject", &format!("smtp://127.0.0.1:{relay}")])
        .args(["--listen", &format!("127.0.0.1:{hop}")])
        .args(["--wait", "8s", "--settle", "300ms", "--quiet"])
        .arg("--report-json")
        .arg(&json);
    for case in cases {
        cmd.args(["--case", case]);
    }
    let output = cmd.output().unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap_or_else(|e| {
            panic!(
                "no report ({e}); stdout: {}; stderr: {}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        }))
        .unwrap();
    let verdicts = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (verdicts, report)
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
    assert!(verdicts.len() >= 12, "{verdicts:?}");
    let not_passed: Vec<_> = verdicts
        .iter()
        .filter(|(_, v)| *v != "PASS")
        .map(|(id, v)| format!("{id} {v}: {}", reason(&report, id)))
        .collect();
    assert!(not_passed.is_empty(), "not PASS: {not_passed:#?}");
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

#[test]
fn eight_bit_content_to_a_7bit_hop_is_a_warning() {
    let faults = Faults {
        eight_bit_to_7bit_hop: true,
        ..Faults::default()
    };
    let (verdicts, report) = relay_test(faults, &["relay-8bit-*"]);
    let id = "relay-8bit-to-7bit-hop";
    assert_eq!(verdicts[id], "WARN", "{}", reason(&report, id));
    assert!(reason(&report, id).contains("0xC3"));
}

#[test]
fn pipelining_without_the_extension_is_found() {
    let faults = Faults {
        pipeline_always: true,
        ..Faults::default()
    };
    let (verdicts, report) = relay_test(faults, &["relay-no-pipelining"]);
    let id = "relay-no-pipelining";
    assert_eq!(verdicts[id], "FAIL", "{}", reason(&report, id));
    assert!(reason(&report, id).contains("before the reply to `MAIL FROM"));
}

#[test]
fn a_notification_on_4yz_is_found() {
    let faults = Faults {
        bounce_on_4yz: true,
        ..Faults::default()
    };
    let (verdicts, report) = relay_test(faults, &["relay-rcpt-451-retried"]);
    let id = "relay-rcpt-451-retried";
    assert_eq!(verdicts[id], "FAIL", "{}", reason(&report, id));
    assert!(reason(&report, id).contains("a notification arrived"));
}

#[test]
fn missing_dot_stuffing_is_found() {
    let faults = Faults {
        no_dot_stuffing: true,
        ..Faults::default()
    };
    let (verdicts, report) = relay_test(faults, &["relay-dot-stuffing"]);
    let id = "relay-dot-stuffing";
    assert_eq!(verdicts[id], "FAIL", "{}", reason(&report, id));
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
            "http://127.0.0.1:25",
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
    let cases = mtpspec_tools::relay::load_paths(&[repo().join("scenarios/relay")]).unwrap();
    assert!(cases.len() >= 12, "{} relay cases", cases.len());
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
    let bundled = mtpspec_tools::relay::bundled_cases().unwrap();
    assert_eq!(bundled.len(), cases.len());
}
