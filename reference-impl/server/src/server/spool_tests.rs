//! Memory per connection is bounded whatever the message size: over loopback, the data of a
//! large message goes to its spool file as it arrives (the session holds less than the
//! threshold and one read), the stored message is the same, and the file is gone once the
//! message is stored, refused, reset, or the client goes away.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep};

use super::tests::{BOUND, command, expect, greeted, reply, start};

const THRESHOLD: usize = 64 * 1024;
/// The most a read adds to what the session holds before the connection takes it.
const READ: u64 = 64 * 1024;

/// The spool files and their sizes.
fn spooled(data_dir: &Path) -> Vec<(PathBuf, u64)> {
    std::fs::read_dir(data_dir.join("spool"))
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let len = std::fs::metadata(&path).map_or(0, |m| m.len());
            (path, len)
        })
        .collect()
}

/// Waits (within [`BOUND`]) until `done` holds of the spool files.
async fn until(data_dir: &Path, what: &str, done: impl Fn(&[(PathBuf, u64)]) -> bool) {
    let start = Instant::now();
    loop {
        let files = spooled(data_dir);
        if done(&files) {
            return;
        }
        assert!(start.elapsed() < BOUND, "{what}; spool: {files:?}");
        sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// `count` lines of 100 octets with CRLF, the first dot-stuffed.
fn lines(count: usize) -> Vec<u8> {
    let mut body = b"..a stuffed line".to_vec();
    body.resize(98, b'x');
    body.extend(b"\r\n");
    let mut line = vec![b'y'; 98];
    line.extend(b"\r\n");
    for _ in 1..count {
        body.extend(&line);
    }
    body
}

async fn transaction(stream: &mut TcpStream, pending: &mut Vec<u8>) {
    expect(stream, pending, "MAIL FROM:<a@x.example>", "250 ").await;
    expect(stream, pending, "RCPT TO:<b@example.test>", "250 ").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_message_is_spooled_as_it_arrives_and_its_file_removed_once_stored() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |o| {
        o.spool_threshold = THRESHOLD;
        o.limits.max_message_size = 4 << 20;
    })
    .await;
    let (mut client, mut pending) = greeted(server.smtp_addr().unwrap()).await;
    expect(&mut client, &mut pending, "EHLO c", "250 ").await;
    transaction(&mut client, &mut pending).await;
    expect(&mut client, &mut pending, "DATA", "354 ").await;
    let wire = lines(20_000);
    client.write_all(&wire).await.unwrap();
    let sent = wire.len() as u64 - 1;
    // What the session holds is the message less its spool file.
    until(
        dir.path(),
        "the spool file takes all but the threshold",
        |files| matches!(files, [(_, len)] if *len + THRESHOLD as u64 + READ >= sent),
    )
    .await;
    let stored = command(&mut client, &mut pending, ".").await;
    assert!(stored.starts_with("250 "), "{stored}");
    until(
        dir.path(),
        "the spool file removed once stored",
        <[_]>::is_empty,
    )
    .await;
    let message = server.store().list().pop().unwrap();
    let data = server.store().data(&message.id).unwrap();
    let (trace, content) = data.split_at(message.message.trace_len);
    assert!(trace.starts_with(b"Received: from c "));
    assert_eq!(
        content,
        &wire[1..],
        "the stored message is the unstuffed data"
    );
    expect(&mut client, &mut pending, "QUIT", "221 ").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_files_go_with_a_refused_or_reset_message_and_a_client_that_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |o| {
        o.spool_threshold = THRESHOLD;
        o.limits.max_message_size = 1 << 20;
    })
    .await;
    let smtp = server.smtp_addr().unwrap();
    let (mut client, mut pending) = greeted(smtp).await;
    expect(&mut client, &mut pending, "EHLO c", "250 ").await;
    // Over the size limit: spooled up to the limit, refused at the end, the file removed.
    transaction(&mut client, &mut pending).await;
    expect(&mut client, &mut pending, "DATA", "354 ").await;
    client.write_all(&lines(15_000)).await.unwrap();
    until(dir.path(), "a spool file", |files| files.len() == 1).await;
    expect(&mut client, &mut pending, ".", "552 ").await;
    until(
        dir.path(),
        "the file of a refused message removed",
        <[_]>::is_empty,
    )
    .await;
    // BDAT chunks, then RSET.
    transaction(&mut client, &mut pending).await;
    let chunk = lines(5_000);
    let bdat = format!("BDAT {}\r\n", chunk.len());
    client
        .write_all(&[bdat.as_bytes(), &chunk].concat())
        .await
        .unwrap();
    let answer = reply(&mut client, &mut pending).await;
    assert!(answer.starts_with("250 "), "{answer}");
    until(dir.path(), "a spool file for the chunks", |files| {
        files.len() == 1
    })
    .await;
    expect(&mut client, &mut pending, "RSET", "250 ").await;
    until(
        dir.path(),
        "the file of a reset message removed",
        <[_]>::is_empty,
    )
    .await;
    // A client that goes away in the middle of DATA.
    transaction(&mut client, &mut pending).await;
    expect(&mut client, &mut pending, "DATA", "354 ").await;
    client.write_all(&lines(5_000)).await.unwrap();
    until(dir.path(), "a spool file", |files| files.len() == 1).await;
    drop(client);
    until(
        dir.path(),
        "the file of a client gone removed",
        <[_]>::is_empty,
    )
    .await;
    assert!(server.store().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_files_left_by_a_previous_process_are_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("spool")).unwrap();
    std::fs::write(dir.path().join("spool/000000000007.msg"), b"half a message").unwrap();
    let _server = start(dir.path(), |_| {}).await;
    assert!(spooled(dir.path()).is_empty());
}
