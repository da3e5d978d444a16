//! Hostile and broken input: each gets the RFC reply or a clean close, the server keeps
//! serving everyone else, and nothing partial is stored.

use std::net::TcpStream;

use crate::support::{ServerProcess, Smtp};

fn server() -> (tempfile::TempDir, ServerProcess) {
    let dir = tempfile::tempdir().unwrap();
    // Every test client is 127.0.0.1: the per-address limit (default 32) would refuse the
    // 200 idle connections that the connection limit is tested with.
    let server = ServerProcess::start(
        &dir.path().join("store"),
        &["--max-message-size", "100000", "--max-per-address", "1000"],
    );
    (dir, server)
}

/// A complete transaction on a fresh connection: the server is still serving.
fn deliver(server: &ServerProcess, body: &str) {
    let mut smtp = Smtp::connect(server.smtp);
    for (line, code) in [
        ("EHLO ok.example", 250),
        ("MAIL FROM:<a@ok.example>", 250),
        ("RCPT TO:<bob@example.test>", 250),
        ("DATA", 354),
    ] {
        assert_eq!(smtp.cmd(line), code, "{line}");
    }
    smtp.write(format!("{body}\r\n.\r\n").as_bytes());
    assert_eq!(smtp.reply().code.get(), 250);
    assert_eq!(smtp.cmd("QUIT"), 221);
}

#[test]
fn malformed_command_lines_get_500_and_the_session_goes_on() {
    let (_dir, server) = server();
    let mut smtp = Smtp::connect(server.smtp);
    assert_eq!(smtp.cmd("EHLO c.example"), 250);
    assert_eq!(smtp.cmd(&"X".repeat(10 * 1024)), 500, "10 KB command line");
    assert_eq!(smtp.cmd("NOOP\0hidden"), 500, "NUL byte");
    smtp.write(b"NOOP\nRSET\rNOOP\r\n");
    assert_eq!(
        smtp.reply().code.get(),
        500,
        "bare LF and CR inside a command line"
    );
    smtp.write(b"\xff\xfe\xfd\r\n");
    assert_eq!(smtp.reply().code.get(), 500, "8-bit garbage");
    assert_eq!(smtp.cmd("NOOP"), 250);
    assert!(server.messages().is_empty());
}

#[test]
fn bare_cr_and_lf_in_data_are_kept_and_never_end_it() {
    let (_dir, server) = server();
    let mut smtp = Smtp::connect(server.smtp);
    for line in [
        "EHLO c.example",
        "MAIL FROM:<a@c.example>",
        "RCPT TO:<bob@example.test>",
    ] {
        assert_eq!(smtp.cmd(line), 250);
    }
    assert_eq!(smtp.cmd("DATA"), 354);
    smtp.write(b"a\n.\nMAIL FROM:<evil@c.example>\nb\r.\rc\r\n.\r\n");
    assert_eq!(smtp.reply().code.get(), 250);
    let stored = server.messages();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].1,
        b"a\n.\nMAIL FROM:<evil@c.example>\nb\r.\rc\r\n"
    );
}

#[test]
fn a_thousand_garbage_lines_end_in_421_while_others_are_served() {
    let (_dir, server) = server();
    let mut smtp = Smtp::connect(server.smtp);
    smtp.write(&b"GARBAGE garbage garbage\r\n".repeat(1000));
    let mut codes = Vec::new();
    while let Some(reply) = smtp.try_reply() {
        codes.push(reply.code.get());
    }
    assert!(
        codes[..codes.len() - 1].iter().all(|&c| c == 500),
        "{codes:?}"
    );
    assert_eq!(
        codes.last(),
        Some(&421),
        "too many errors: 421 and a clean close"
    );
    deliver(&server, "after garbage");
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn disconnect_mid_data_stores_nothing() {
    let (_dir, server) = server();
    {
        let mut smtp = Smtp::connect(server.smtp);
        for line in [
            "EHLO c.example",
            "MAIL FROM:<a@c.example>",
            "RCPT TO:<bob@example.test>",
        ] {
            assert_eq!(smtp.cmd(line), 250);
        }
        assert_eq!(smtp.cmd("DATA"), 354);
        smtp.write(b"Subject: half\r\n\r\nthis message never ends\r\n");
    }
    deliver(&server, "complete");
    let stored = server.messages();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1, b"complete\r\n");
}

#[test]
fn oversized_message_gets_552_and_is_not_stored() {
    let (_dir, server) = server();
    let mut smtp = Smtp::connect(server.smtp);
    for line in [
        "EHLO c.example",
        "MAIL FROM:<a@c.example>",
        "RCPT TO:<bob@example.test>",
    ] {
        assert_eq!(smtp.cmd(line), 250);
    }
    assert_eq!(smtp.cmd("DATA"), 354);
    smtp.write("x".repeat(900).repeat(200).as_bytes());
    smtp.write(b"\r\n.\r\n");
    assert_eq!(
        smtp.reply().code.get(),
        552,
        "a 180 KB line: too long and too big"
    );
    assert_eq!(smtp.cmd("NOOP"), 250);
    assert!(server.messages().is_empty());
}

#[test]
fn two_hundred_idle_connections_do_not_block_others() {
    let (_dir, server) = server();
    let idle: Vec<Smtp> = (0..200).map(|_| Smtp::connect(server.smtp)).collect();
    deliver(&server, "while 200 sit idle");
    assert_eq!(server.messages().len(), 1);
    drop(idle);
    // The server still accepts after they all went away.
    assert!(TcpStream::connect(server.smtp).is_ok());
}
