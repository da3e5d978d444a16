//! Test support: a `serve` child process on ephemeral ports, a minimal blocking SMTP client
//! built on the proto reply parser, and the store read back. Shared by the reference's
//! end-to-end tests (`mtp-reference serve`) and the tester's tests against the reference
//! (`mtpspec serve`, which includes this file): the including crate names the program in
//! `SERVER_PROGRAM`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mtp_proto::smtp::reply::{Reply, ReplyParser};
use mtp_server::store::{Store, StoredMessage};

/// A `serve` process of `SERVER_PROGRAM`; killed by PID when dropped.
pub struct ServerProcess {
    child: Child,
    pub data_dir: PathBuf,
    pub smtp: SocketAddr,
    pub smtps: SocketAddr,
    pub submission: SocketAddr,
}

impl ServerProcess {
    pub fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(super::SERVER_PROGRAM)
            .args([
                "serve",
                "--smtp",
                "127.0.0.1:0",
                "--smtps",
                "127.0.0.1:0",
                "--submission",
                "127.0.0.1:0",
            ])
            .args(["--credential", "alice:secret", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the server");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut addr = |name: &str| -> SocketAddr {
            let line = lines
                .next()
                .expect("server printed its listeners")
                .expect("utf-8 line");
            let rest = line
                .strip_prefix(&format!("listening {name} "))
                .unwrap_or_else(|| panic!("unexpected line {line:?}"));
            rest.parse().expect("socket address")
        };
        let (smtp, smtps, submission) = (addr("smtp"), addr("smtps"), addr("submission"));
        Self {
            child,
            data_dir: data_dir.to_path_buf(),
            smtp,
            smtps,
            submission,
        }
    }

    /// The server's process id (for its memory in /proc).
    #[allow(dead_code)] // the tester's robustness test measures the process
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown path runs.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn messages(&self) -> Vec<(StoredMessage, Vec<u8>)> {
        stored(&self.data_dir)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every stored message with its content exactly as the client sent it (the store's bytes
/// after the `Received:` field the reference puts on top, SMTP-DATA-5), read the way
/// `mtpspec mailbox` does.
pub fn stored(data_dir: &Path) -> Vec<(StoredMessage, Vec<u8>)> {
    let store = Store::open_read_only(data_dir).expect("open store read-only");
    store
        .list()
        .into_iter()
        .map(|m| {
            let data = store.data(&m.id).expect("body");
            let trace = &data[..m.message.trace_len];
            assert!(
                m.message.trace_len == 0 || trace.starts_with(b"Received: from "),
                "the trace on top is not a Received field: {:?}",
                String::from_utf8_lossy(trace)
            );
            let content = data[m.message.trace_len..].to_vec();
            (m, content)
        })
        .collect()
}

/// A blocking SMTP connection for tests.
pub struct Smtp {
    stream: TcpStream,
    parser: ReplyParser,
}

impl Smtp {
    pub fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut smtp = Self {
            stream,
            parser: ReplyParser::new(),
        };
        assert_eq!(smtp.reply().code.get(), 220);
        smtp
    }

    pub fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    pub fn reply(&mut self) -> Reply {
        self.try_reply()
            .expect("a reply before the connection closed")
    }

    /// The next reply, or `None` if the server closed the connection.
    pub fn try_reply(&mut self) -> Option<Reply> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(reply) = self.parser.next_reply() {
                return Some(reply.expect("well-formed reply"));
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.parser.feed(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Sends a command line and returns the reply code.
    pub fn cmd(&mut self, line: &str) -> u16 {
        self.write(format!("{line}\r\n").as_bytes());
        self.reply().code.get()
    }
}

/// The checkout: the including crate's nearest ancestor directory that holds SPEC.md.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("SPEC.md").is_file())
        .expect("the crate is inside the checkout")
        .to_path_buf()
}

/// A loopback port that was free a moment ago (for servers started by scripts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}
