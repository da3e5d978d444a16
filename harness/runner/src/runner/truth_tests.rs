//! Verdicts that are true on any server: the runner and the shipped scenarios driven against a
//! scripted SMTP server on loopback that answers the ways real servers do and the RFCs allow
//! (a 451 and a close on a bare LF, a 421 after three errors, trace fields added above the
//! content, 550 for a refused recipient, a SIZE other than the reference's, a connection
//! limit), and the verdict each gets.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::runner::{CaseResult, RunOptions, Runner, Verdict};
use crate::scenario::{Case, load_paths, load_str};
use crate::target::{BoxFuture, ObservedMessage, Observer, ObserverError, TcpTarget};

/// How the scripted server behaves where servers differ.
#[derive(Clone, Default)]
struct Script {
    /// Advertise `SIZE n` and refuse larger messages with 552.
    size: Option<usize>,
    /// A bare LF in the data gets `451` and a close (Haraka's answer).
    refuse_bare_lf: bool,
    /// After this many error replies, `421` and a close.
    errors_before_421: Option<usize>,
    /// Header fields put above the content of each stored message.
    prepend: &'static str,
    /// A planted fault: this field is inserted after the client's first header line.
    insert_inside: Option<&'static str>,
    /// A planted fault: the last octet of the body is changed.
    change_body: bool,
    /// More concurrent connections than this get a `421` greeting.
    max_connections: Option<usize>,
}

/// What the scripted server stored, as a mailbox observer sees it, the sizes of the messages
/// it refused as too big, and how many connections it refused.
#[derive(Clone, Default)]
struct Mailbox(
    Arc<Mutex<Vec<ObservedMessage>>>,
    Arc<Mutex<Vec<usize>>>,
    Arc<AtomicUsize>,
);

impl Observer for Mailbox {
    fn describe(&self) -> String {
        "the scripted server's memory".into()
    }

    fn messages(&self) -> BoxFuture<'_, Result<Vec<ObservedMessage>, ObserverError>> {
        let messages = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Box::pin(async move { Ok(messages) })
    }

    fn settle(&self) -> Duration {
        Duration::ZERO
    }
}

/// Starts the scripted server; returns its port and mailbox. It runs until the runtime stops.
async fn start(script: Script) -> (u16, Mailbox) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mailbox = Mailbox::default();
    let open = Arc::new(AtomicUsize::new(0));
    let stored = mailbox.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (script, stored, open) = (script.clone(), stored.clone(), open.clone());
            tokio::spawn(async move {
                let busy = open.fetch_add(1, Ordering::SeqCst)
                    >= script.max_connections.unwrap_or(usize::MAX);
                let _ = serve(stream, &script, &stored, busy).await;
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (port, mailbox)
}

/// One session of the scripted server: line by line, CRLF only.
async fn serve(
    mut s: TcpStream,
    script: &Script,
    stored: &Mailbox,
    busy: bool,
) -> std::io::Result<()> {
    if busy {
        stored.2.fetch_add(1, Ordering::SeqCst);
        return s
            .write_all(b"421 4.7.0 too many connections, try later\r\n")
            .await;
    }
    s.write_all(b"220 scripted ESMTP\r\n").await?;
    let mut session = Session::default();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        while let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = buf.drain(..end + 2).collect();
            let line = &line[..line.len() - 2];
            let Some(reply) = session.line(line, script, stored) else {
                continue;
            };
            s.write_all(reply.as_bytes()).await?;
            if reply.starts_with("221") || reply.starts_with("421") || reply.starts_with("451") {
                return Ok(());
            }
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[derive(Default)]
struct Session {
    from: Option<String>,
    to: Vec<String>,
    data: Option<Vec<u8>>,
    errors: usize,
}

impl Session {
    /// The reply to one line (`None` inside the data).
    fn line(&mut self, line: &[u8], script: &Script, stored: &Mailbox) -> Option<String> {
        if let Some(data) = &mut self.data {
            if script.refuse_bare_lf && line.contains(&b'\n') {
                return Some("451 4.5.0 bare LF in the data\r\n".into());
            }
            if line == b"." {
                let data = self.data.take().unwrap_or_default();
                return Some(self.end_of_data(data, script, stored));
            }
            data.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
            data.extend_from_slice(b"\r\n");
            return None;
        }
        let text = String::from_utf8_lossy(line).to_string();
        let upper = text.to_ascii_uppercase();
        let address = |t: &str| {
            t.split_once('<')
                .and_then(|(_, r)| r.split_once('>'))
                .map(|(a, _)| a.to_string())
        };
        let reply = if upper == "EHLO" || upper == "HELO" {
            "501 5.5.4 a domain, please\r\n".into()
        } else if upper.starts_with("EHLO") {
            let size = script
                .size
                .map_or(String::new(), |n| format!("250-SIZE {n}\r\n"));
            format!("250-scripted\r\n{size}250 8BITMIME\r\n")
        } else if upper.starts_with("MAIL FROM:") {
            self.from = address(&text);
            self.to.clear();
            if self.from.is_some() {
                "250 ok\r\n".into()
            } else {
                "501 syntax\r\n".into()
            }
        } else if upper.starts_with("RCPT TO:") {
            match address(&text) {
                _ if self.from.is_none() => "503 5.5.1 MAIL first\r\n".into(),
                Some(a) if a.contains('@') => {
                    self.to.push(a);
                    "250 ok\r\n".into()
                }
                // Real servers answer 550 here as often as 501.
                _ => "550 5.1.1 no such recipient\r\n".into(),
            }
        } else if upper == "DATA" {
            if self.to.is_empty() {
                "554 no valid recipients\r\n".into()
            } else {
                self.data = Some(Vec::new());
                "354 go ahead\r\n".into()
            }
        } else if upper == "RSET" || upper.starts_with("NOOP") {
            if upper == "RSET" {
                self.from = None;
                self.to.clear();
            }
            "250 ok\r\n".into()
        } else if upper == "QUIT" {
            "221 bye\r\n".into()
        } else {
            "500 5.5.2 unknown command\r\n".into()
        };
        if reply.starts_with('5') {
            self.errors += 1;
            if script.errors_before_421.is_some_and(|n| self.errors >= n) {
                return Some(format!("{reply}421 4.7.0 too many errors\r\n"));
            }
        }
        Some(reply)
    }

    fn end_of_data(&mut self, mut data: Vec<u8>, script: &Script, stored: &Mailbox) -> String {
        if script.size.is_some_and(|max| data.len() > max) {
            stored
                .1
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(data.len());
            return "552 5.3.4 message too big\r\n".into();
        }
        if script.change_body
            && let Some(last) = data.iter().rposition(|&b| b.is_ascii_alphanumeric())
        {
            data[last] = b'#';
        }
        if let Some(field) = script.insert_inside {
            let at = data
                .windows(2)
                .position(|w| w == b"\r\n")
                .map_or(0, |i| i + 2);
            data.splice(at..at, field.bytes());
        }
        let mut message = script.prepend.as_bytes().to_vec();
        message.extend_from_slice(&data);
        let mut all = stored.0.lock().unwrap_or_else(PoisonError::into_inner);
        let id = format!("S{}", all.len() + 1);
        all.push(ObservedMessage {
            id: id.clone(),
            from: self.from.take().unwrap_or_default(),
            to: std::mem::take(&mut self.to),
            metadata: Default::default(),
            status: "DELIVERED".into(),
            data: message,
        });
        format!("250 ok: queued as {id}\r\n")
    }
}

fn shipped(ids: &[&str]) -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/smtp");
    let all = load_paths(&[dir]).unwrap();
    let cases: Vec<Case> = all
        .into_iter()
        .filter(|c| ids.contains(&c.id.as_str()))
        .collect();
    assert_eq!(
        cases.len(),
        ids.len(),
        "a case id is missing from scenarios/smtp"
    );
    cases
}

async fn run(script: Script, cases: &[Case], parallel: usize) -> Vec<CaseResult> {
    run_observed(script, cases, parallel).await.0
}

async fn run_observed(
    script: Script,
    cases: &[Case],
    parallel: usize,
) -> (Vec<CaseResult>, Mailbox) {
    let (port, mailbox) = start(script).await;
    let target = Arc::new(TcpTarget::new("127.0.0.1", port, false));
    let options = RunOptions {
        parallel,
        step_timeout: Duration::from_secs(2),
        mailbox_wait: Duration::from_millis(300),
        ..RunOptions::default()
    };
    let runner = Runner::new(target, options).with_observer(Some(Arc::new(mailbox.clone())));
    let caps = runner.probe().await.unwrap();
    (runner.run_all(cases, &caps, |_| {}).await, mailbox)
}

fn verdicts(results: &[CaseResult]) -> Vec<(String, Verdict, String)> {
    results
        .iter()
        .map(|r| {
            (
                r.id.clone(),
                r.verdict,
                r.reason.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn assert_all(results: &[CaseResult], wanted: Verdict) {
    for r in results {
        assert_eq!(r.verdict, wanted, "{}: {:?}", r.id, r.reason);
    }
}

#[tokio::test]
async fn fields_added_above_the_content_are_not_a_data_failure() {
    let script = Script {
        prepend: "Received-SPF: pass (scripted: domain of sender)\r\nAuthentication-Results: scripted;\r\n\tspf=pass\r\nX-Spam-Status: No, score=0.1\r\n",
        ..Script::default()
    };
    let cases = shipped(&["smtp-data-delivers-exact-content"]);
    assert_all(&run(script, &cases, 1).await, Verdict::Pass);
}

#[tokio::test]
async fn a_field_added_inside_the_clients_header_is_reported_not_failed() {
    let script = Script {
        insert_inside: Some("Date: Sun, 06 Dec 2026 22:00:00 +0000\r\n"),
        ..Script::default()
    };
    let cases = shipped(&[
        "smtp-data-delivers-exact-content",
        "smtp-data-no-fields-added-inside-header",
    ]);
    let results = run(script, &cases, 1).await;
    let by_id = |id: &str| results.iter().find(|r| r.id == id).unwrap();
    let exact = by_id("smtp-data-delivers-exact-content");
    assert_eq!(exact.verdict, Verdict::Pass, "{:?}", verdicts(&results));
    let inside = by_id("smtp-data-no-fields-added-inside-header");
    assert_eq!(
        inside.verdict,
        Verdict::Unsupported,
        "{:?}",
        verdicts(&results)
    );
    assert_eq!(inside.failure.as_ref().unwrap().actual, "added Date");
}

#[tokio::test]
async fn a_changed_body_still_fails() {
    let script = Script {
        change_body: true,
        ..Script::default()
    };
    let cases = shipped(&["smtp-data-delivers-exact-content"]);
    let results = run(script, &cases, 1).await;
    assert_eq!(
        results[0].verdict,
        Verdict::Fail,
        "{:?}",
        verdicts(&results)
    );
    let failure = results[0].failure.as_ref().unwrap();
    assert!(failure.expected.contains("exact content"), "{failure:?}");
}

#[tokio::test]
async fn a_451_and_close_on_a_bare_lf_is_a_safe_refusal_of_every_smuggling_attempt() {
    let script = Script {
        refuse_bare_lf: true,
        ..Script::default()
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/smtp");
    let cases: Vec<Case> = load_paths(&[dir])
        .unwrap()
        .into_iter()
        .filter(|c| c.id.starts_with("smtp-smuggling-"))
        .collect();
    assert!(cases.len() >= 18, "{} smuggling cases", cases.len());
    let results = run(script, &cases, 4).await;
    // Every variant that carries a bare LF is refused with nothing delivered: PASS. Variants
    // of bare CRs alone are delivered whole by this server, which is also correct.
    assert_all(&results, Verdict::Pass);
}

#[tokio::test]
async fn a_421_after_three_errors_is_reported_as_such_not_as_a_failure() {
    let script = Script {
        errors_before_421: Some(3),
        ..Script::default()
    };
    let inline = load_str(
        r#"
- id: four-errors-on-one-connection
  title: the fourth probe meets the server's 421
  spec: [SMTP-SYNTAX-2]
  level: must
  steps:
    - expect: 220
    - ehlo
    - {send: XYZZY1}
    - {expect: 5xx}
    - {send: XYZZY2}
    - {expect: 5xx}
    - {send: XYZZY3}
    - {expect: 5xx}
    - {send: XYZZY4}
    - {expect: 5xx}
"#,
        Path::new("inline.yaml"),
    )
    .unwrap();
    let results = run(script.clone(), &inline, 1).await;
    assert_eq!(
        results[0].verdict,
        Verdict::Skip,
        "{:?}",
        verdicts(&results)
    );
    let reason = results[0].reason.as_deref().unwrap();
    assert!(
        reason.contains("421") && reason.contains("§3.8"),
        "{reason}"
    );
    // The shipped probes use a fresh connection per error, so the same server is judged.
    let shipped = shipped(&["smtp-ehlo-no-argument", "smtp-rcpt-each-recipient-one-copy"]);
    assert_all(&run(script, &shipped, 2).await, Verdict::Pass);
}

#[tokio::test]
async fn a_550_for_a_refused_recipient_sets_the_stage() {
    let cases = shipped(&["smtp-rcpt-each-recipient-one-copy"]);
    assert_all(&run(Script::default(), &cases, 1).await, Verdict::Pass);
}

#[tokio::test]
async fn the_over_size_case_uses_the_size_the_server_advertises() {
    let script = Script {
        size: Some(200_000),
        ..Script::default()
    };
    let cases = shipped(&["smtp-limits-message-over-size"]);
    let (results, mailbox) = run_observed(script, &cases, 1).await;
    assert_all(&results, Verdict::Pass);
    // Just over 200,000 octets were sent, not the reference's 10 MB.
    let refused = mailbox
        .1
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert!(
        matches!(refused[..], [n] if (200_001..201_000).contains(&n)),
        "{refused:?}"
    );
    // Without a SIZE maximum there is nothing to exceed.
    let results = run(Script::default(), &cases, 1).await;
    assert_eq!(
        results[0].verdict,
        Verdict::Skip,
        "{:?}",
        verdicts(&results)
    );
}

#[tokio::test]
async fn an_open_relay_is_not_a_conformance_failure() {
    let cases = shipped(&["smtp-rcpt-foreign-domain-refused"]);
    let results = run(Script::default(), &cases, 1).await;
    assert_eq!(
        results[0].verdict,
        Verdict::Unsupported,
        "{:?}",
        verdicts(&results)
    );
}

#[tokio::test]
async fn a_connection_limit_is_retried_with_less_parallelism() {
    let script = Script {
        max_connections: Some(2),
        ..Script::default()
    };
    let cases = shipped(&[
        "smtp-rcpt-each-recipient-one-copy",
        "smtp-data-delivers-exact-content",
        "smtp-ehlo-no-argument",
        "smtp-smuggling-cr-dot-cr",
        "smtp-smuggling-lf-dot-lf",
    ]);
    let (results, mailbox) = run_observed(script, &cases, 6).await;
    assert_all(&results, Verdict::Pass);
    assert!(
        mailbox.2.load(Ordering::SeqCst) > 0,
        "no connection was refused: no retry tested"
    );
    // A server that refuses every connection: ERROR with the reason, never FAIL.
    let closed = Script {
        max_connections: Some(0),
        ..Script::default()
    };
    let (port, _) = start(closed).await;
    let target = Arc::new(TcpTarget::new("127.0.0.1", port, false));
    let runner = Runner::new(target, RunOptions::default());
    let result = runner
        .run_all(&cases[..1], &crate::Capabilities::default(), |_| {})
        .await;
    assert_eq!(result[0].verdict, Verdict::Error, "{:?}", result[0].reason);
    let reason = result[0].reason.as_deref().unwrap();
    assert!(
        reason.contains("421") && reason.contains("still refused"),
        "{reason}"
    );
}
