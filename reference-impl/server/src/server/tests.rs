//! The server against hostile clients over loopback TCP: stalled TLS handshakes, a client that
//! never reads, a command line or a data phase sent a byte at a time, too many connections from
//! one address, password guessing, and a connection flood above the open-files limit (in a
//! child process whose limit is lowered). Every wait is bounded; the bounds are generous and
//! assert behaviour, not speed.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, timeout};

use super::{RunningServer, ServerOptions};
use crate::client::tls::{Verify, client_config};
use crate::tls::TlsSource;

/// How long any single expected event may take.
pub(super) const BOUND: Duration = Duration::from_secs(10);

pub(super) async fn start(dir: &Path, edit: impl FnOnce(&mut ServerOptions)) -> RunningServer {
    let mut options = ServerOptions::ephemeral(dir.to_path_buf());
    edit(&mut options);
    RunningServer::start(options).await.expect("server starts")
}

/// The next complete reply (its last line), read within [`BOUND`]; the rest stays in `pending`.
pub(super) async fn reply<S: AsyncRead + Unpin>(stream: &mut S, pending: &mut Vec<u8>) -> String {
    let read = async {
        loop {
            while let Some(end) = pending.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = pending.drain(..end + 2).collect();
                if line.get(3) != Some(&b'-') {
                    return String::from_utf8_lossy(&line[..end]).into_owned();
                }
            }
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed before a reply; had {pending:?}");
            pending.extend_from_slice(&buf[..n]);
        }
    };
    timeout(BOUND, read).await.expect("a reply in time")
}

pub(super) async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    pending: &mut Vec<u8>,
    line: &str,
) -> String {
    stream
        .write_all(format!("{line}\r\n").as_bytes())
        .await
        .unwrap();
    reply(stream, pending).await
}

/// Sends `line`; its reply must start with `code`.
pub(super) async fn expect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    pending: &mut Vec<u8>,
    line: &str,
    code: &str,
) {
    let answer = command(stream, pending, line).await;
    assert!(answer.starts_with(code), "{line}: {answer}");
}

/// True when the server closes the connection within `within` (whatever it sends before).
pub(super) async fn closed_within<S: AsyncRead + Unpin>(stream: &mut S, within: Duration) -> bool {
    let eof = async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                return;
            }
        }
    };
    timeout(within, eof).await.is_ok()
}

/// A plain client that has read the greeting, which must be `220`.
pub(super) async fn greeted(addr: SocketAddr) -> (TcpStream, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut pending = Vec::new();
    let greeting = reply(&mut stream, &mut pending).await;
    assert!(greeting.starts_with("220 "), "{greeting}");
    (stream, pending)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_tls_handshakes_are_closed_and_free_their_connection_slots() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |o| {
        o.handshake_timeout = Duration::from_secs(1);
        o.max_connections = 3;
    })
    .await;
    let smtps = server.smtps_addr().unwrap();
    let smtp = server.smtp_addr().unwrap();
    // Two silent sockets on the implicit-TLS port and one stalled after STARTTLS's 220 fill
    // all three slots.
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(TcpStream::connect(smtps).await.unwrap());
    }
    let (mut starttls, mut pending) = greeted(smtp).await;
    expect(&mut starttls, &mut pending, "EHLO c", "250 ").await;
    expect(&mut starttls, &mut pending, "STARTTLS", "220 ").await;
    for stream in &mut silent {
        assert!(
            closed_within(stream, BOUND).await,
            "implicit-TLS handshake still open"
        );
    }
    assert!(
        closed_within(&mut starttls, BOUND).await,
        "STARTTLS handshake still open"
    );
    // The slots are free again: a fresh client is greeted, not refused.
    let (mut fresh, mut pending) = greeted(smtp).await;
    expect(&mut fresh, &mut pending, "QUIT", "221 ").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_its_replies_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |o| o.write_timeout = Duration::from_secs(1)).await;
    let socket = TcpSocket::new_v4().unwrap();
    // Small buffers fill sooner; the kernel may round them up.
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(server.smtp_addr().unwrap()).await.unwrap();
    let flood = b"NOOP\r\n".repeat(10_000);
    let started = Instant::now();
    let mut dropped = false;
    // Writes stall once the server stops reading (its replies are stuck); they fail once it
    // has dropped the connection.
    while started.elapsed() < Duration::from_secs(30) {
        match timeout(Duration::from_secs(1), stream.write_all(&flood)).await {
            Ok(Ok(())) | Err(_) => {}
            Ok(Err(_)) => {
                dropped = true;
                break;
            }
        }
    }
    assert!(dropped, "the server still holds a client that never reads");
    // Others are served meanwhile and after.
    let (mut other, mut pending) = greeted(server.smtp_addr().unwrap()).await;
    expect(&mut other, &mut pending, "NOOP", "250 ").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_line_sent_a_byte_at_a_time_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |o| {
        o.idle_timeout = Duration::from_secs(60);
        o.command_timeout = Duration::from_secs(2);
    })
    .await;
    let (stream, mut pending) = greeted(server.smtp_addr().unwrap()).await;
    let (mut read, mut write) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for byte in b"EHLO ".iter().chain(b"a".repeat(100).iter()) {
            if write.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let timeout_reply = reply(&mut read, &mut pending).await;
    assert!(timeout_reply.starts_with("421 4.4.2 "), "{timeout_reply}");
    assert!(closed_within(&mut read, BOUND).await);
    trickle.abort();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_phase_below_the_minimum_rate_times_out_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |o| {
        o.idle_timeout = Duration::from_secs(60);
        o.min_data_rate = 100;
        o.data_rate_grace = Duration::from_secs(2);
    })
    .await;
    let (mut stream, mut pending) = greeted(server.smtp_addr().unwrap()).await;
    for (line, code) in [
        ("EHLO c", "250 "),
        ("MAIL FROM:<a@x.example>", "250 "),
        ("RCPT TO:<b@example.test>", "250 "),
        ("DATA", "354 "),
    ] {
        expect(&mut stream, &mut pending, line, code).await;
    }
    let (mut read, mut write) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..100 {
            if write.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let timeout_reply = reply(&mut read, &mut pending).await;
    assert!(timeout_reply.starts_with("421 4.4.2 "), "{timeout_reply}");
    trickle.abort();
    assert_eq!(server.store().len(), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_client_address_are_limited_and_released() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |o| o.max_per_address = 2).await;
    let addr = server.smtp_addr().unwrap();
    let first = greeted(addr).await;
    let _second = greeted(addr).await;
    let mut third = TcpStream::connect(addr).await.unwrap();
    let refusal = reply(&mut third, &mut Vec::new()).await;
    assert!(refusal.starts_with("421 "), "{refusal}");
    assert!(closed_within(&mut third, BOUND).await);
    drop(first);
    // The slot comes back once the server has seen the close.
    let deadline = Instant::now() + BOUND;
    loop {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        if reply(&mut stream, &mut Vec::new())
            .await
            .starts_with("220 ")
        {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never released");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_auth_replies_are_delayed_without_holding_up_other_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |o| {
        o.auth_failure_delay = Duration::from_millis(500);
    })
    .await;
    let connector = tokio_rustls::TlsConnector::from(client_config(&Verify::Insecure).unwrap());
    let tcp = TcpStream::connect(server.smtps_addr().unwrap())
        .await
        .unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let mut pending = Vec::new();
    assert!(reply(&mut tls, &mut pending).await.starts_with("220 "));
    expect(&mut tls, &mut pending, "EHLO c", "250 ").await;
    // Three wrong passwords at once ("alice" / "wrong"): 0.5 + 1 + 2 s before the replies.
    let wrong = "AUTH PLAIN AGFsaWNlAHdyb25n\r\n".repeat(3);
    let started = Instant::now();
    tls.write_all(wrong.as_bytes()).await.unwrap();
    // Meanwhile another session is served at once.
    let (mut other, mut other_pending) = greeted(server.smtp_addr().unwrap()).await;
    expect(&mut other, &mut other_pending, "NOOP", "250 ").await;
    let other_done = started.elapsed();
    for _ in 0..3 {
        let answer = reply(&mut tls, &mut pending).await;
        assert!(answer.starts_with("535 5.7.8 "), "{answer}");
    }
    let guessed = started.elapsed();
    assert!(guessed >= Duration::from_secs(3), "{guessed:?}");
    assert!(other_done < guessed, "{other_done:?} vs {guessed:?}");
    // The right password still works afterwards.
    let right = command(&mut tls, &mut pending, "AUTH PLAIN AGFsaWNlAHNlY3JldA==").await;
    assert!(right.starts_with("235 "), "{right}");
    server.shutdown().await;
}

/// Set in the child process of [`over_the_open_files_limit_clients_get_421`]: its data
/// directory.
const FD_CHILD: &str = "MTP_SERVER_TEST_FD_CHILD";
/// The child's open-files limit.
const FD_LIMIT: u64 = 128;

#[test]
fn over_the_open_files_limit_clients_get_421() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["server::tests::fd_limited_server", "--exact", "--ignored"])
        .args(["--nocapture", "--test-threads=1"])
        .env(FD_CHILD, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // libtest may print its own text on the same line before ours.
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if let Some((_, addr)) = line.split_once("child-listening ") {
                let _ = tx.send(addr.trim().to_owned());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(60));
    let outcome = addr.map(|addr| {
        let addr: SocketAddr = addr.parse().unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(flood(addr, 2 * FD_LIMIT as usize))
    });
    // Ends the child (by its own handle) whatever happened.
    let _ = child.kill();
    let _ = child.wait();
    let outcome = outcome.expect("the child server starts");
    let greeted = outcome.iter().filter(|c| *c == "220").count();
    let refused = outcome.iter().filter(|c| *c == "421").count();
    assert_eq!(greeted + refused, outcome.len(), "{outcome:?}");
    assert!(refused > 0 && greeted < FD_LIMIT as usize, "{outcome:?}");
}

/// Opens `count` connections to `addr` and keeps them open; the first reply code of each, or
/// "closed" or "no reply" (after which it stops).
async fn flood(addr: SocketAddr, count: usize) -> Vec<String> {
    let mut open = Vec::new();
    let mut codes = Vec::new();
    for _ in 0..count {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 512];
        let code = match timeout(BOUND, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n >= 3 => String::from_utf8_lossy(&buf[..3]).into_owned(),
            Ok(_) => "closed".to_owned(),
            Err(_) => "no reply".to_owned(),
        };
        let stop = code == "no reply";
        codes.push(code);
        open.push(stream);
        if stop {
            break;
        }
    }
    codes
}

/// Not a test on its own: the server process of [`over_the_open_files_limit_clients_get_421`],
/// at an open-files limit of [`FD_LIMIT`]. It exits when its standard input closes (the parent
/// is gone) or after a minute, whichever comes first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of over_the_open_files_limit_clients_get_421"]
async fn fd_limited_server() {
    let Some(dir) = std::env::var_os(FD_CHILD) else {
        return;
    };
    // A plain thread, not tokio's stdin: a blocked read there would keep the runtime from
    // shutting down. `exit` ends the process without waiting for anything.
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    rlimit::Resource::NOFILE
        .set(FD_LIMIT, FD_LIMIT)
        .expect("lowering the limit");
    let mut options = ServerOptions::new(dir.into());
    options.smtp = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    options.tls = TlsSource::Disabled;
    options.max_per_address = 10_000;
    let server = RunningServer::start(options).await.expect("server starts");
    println!("\nchild-listening {}", server.smtp_addr().unwrap());
    tokio::time::sleep(Duration::from_secs(60)).await;
    std::process::exit(0);
}
