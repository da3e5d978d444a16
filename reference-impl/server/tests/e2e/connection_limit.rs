//! The connection limit: past it, a plain connection gets `421 4.3.2` and is closed, an
//! implicit-TLS one is closed without a plaintext reply, and the sessions already open go on.

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use crate::support::{ServerProcess, Smtp};

fn read_to_close(addr: std::net::SocketAddr) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut bytes = Vec::new();
    stream
        .read_to_end(&mut bytes)
        .expect("read until the server closes");
    bytes
}

#[test]
fn connections_past_the_limit_are_refused_and_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("store"), &["--max-connections", "1"]);
    let mut first = Smtp::connect(server.smtp);
    assert_eq!(first.cmd("EHLO first.example"), 250);

    let refused = String::from_utf8(read_to_close(server.smtp)).unwrap();
    assert!(
        refused.starts_with("421 4.3.2 mx.example.test "),
        "{refused:?}"
    );
    assert_eq!(
        refused.matches("\r\n").count(),
        1,
        "one reply, then the close"
    );
    assert!(
        read_to_close(server.smtps).is_empty(),
        "no plaintext on the TLS port"
    );

    assert_eq!(first.cmd("NOOP"), 250, "the open session is not affected");
    assert_eq!(first.cmd("QUIT"), 221);
}
