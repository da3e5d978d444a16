//! Session tests: scripted transcripts through the state machine, with deliveries answered by
//! an in-memory list, and the chunking property. Grouped by concern: SMTP commands and the
//! transaction (`smtp`), limits and refusals (`limits`), STARTTLS and AUTH (`tls_auth`), VMTP
//! (`vmtp`).

mod limits;
mod smtp;
mod taking;
mod tls_auth;
mod vmtp;

use super::*;
use proptest::prelude::*;

/// Drives a session over `chunks`, answering deliveries and status queries in memory.
struct Driver {
    session: ServerSession,
    stored: Vec<Delivery>,
    output: Vec<u8>,
    tls_starts: usize,
    closed: bool,
}

impl Driver {
    fn new(config: ServerConfig) -> Self {
        Self::with(config, ConnectionInfo::default())
    }

    fn with(config: ServerConfig, conn: ConnectionInfo) -> Self {
        let session = ServerSession::new(Arc::new(config), conn);
        let mut driver = Self {
            session,
            stored: Vec::new(),
            output: Vec::new(),
            tls_starts: 0,
            closed: false,
        };
        driver.pump();
        driver
    }

    fn feed(&mut self, bytes: &[u8]) -> &mut Self {
        self.session.receive(bytes);
        self.pump();
        self
    }

    fn pump(&mut self) {
        while let Some(action) = self.session.poll_action() {
            match action {
                Action::Deliver(d) => {
                    self.stored.push(d);
                    self.session
                        .delivered(Ok(format!("ID{}", self.stored.len())));
                }
                // Stored messages are DELIVERED at the epoch.
                Action::QueryStatus(id) => {
                    let known = id
                        .strip_prefix("ID")
                        .and_then(|n| n.parse::<usize>().ok())
                        .is_some_and(|n| n >= 1 && n <= self.stored.len());
                    self.session.status_answer(known.then_some(StatusInfo {
                        state: MessageState::Delivered,
                        at_ms: Some(0),
                    }));
                }
                Action::StartTls => self.tls_starts += 1,
                Action::Close => self.closed = true,
            }
        }
        self.output.extend(self.session.take_output());
    }

    /// The last line of every reply, without CRLF.
    fn replies(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.output)
            .split("\r\n")
            .filter(|l| l.len() >= 4 && l.as_bytes()[3] == b' ' || l.len() == 3)
            .map(str::to_string)
            .collect()
    }

    /// Reply codes of every reply.
    fn codes(&self) -> Vec<u16> {
        self.replies()
            .iter()
            .map(|l| l[..3].parse().unwrap())
            .collect()
    }

    /// The last reply line.
    fn last(&self) -> String {
        self.replies().pop().unwrap_or_default()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }
}

fn config() -> ServerConfig {
    let mut c = ServerConfig::new("mx.example.test", vec!["example.test".into()]);
    c.tls_available = true;
    c
}

fn session(input: &[u8]) -> Driver {
    let mut d = Driver::new(config());
    d.feed(input);
    d
}

/// A session that is already over TLS (an implicit-TLS listener) with the test credentials.
fn tls_session(mut config: ServerConfig) -> Driver {
    config.credentials.push(("alice".into(), "secret".into()));
    let conn = ConnectionInfo {
        tls: true,
        ..Default::default()
    };
    Driver::with(config, conn)
}

const TRANSCRIPT: &[u8] = b"EHLO c.example\r\nMETADATA k v\r\nMAIL FROM:<a@x.example> BODY=8BITMIME\r\nRCPT TO:<b@example.test>\r\nRCPT TO:<nobody@remote.example>\r\nDATA\r\nline one\r\n..dot\r\nbare\nlf\r\n.\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nBDAT 4\r\nabcdBDAT 0 LAST\r\nVRFY x\r\nHELP\r\nbogus\r\nQUIT\r\n";

proptest! {
    #[test]
    fn any_chunking_gives_the_same_session(cuts in proptest::collection::vec(0..TRANSCRIPT.len(), 0..12)) {
        let whole = session(TRANSCRIPT);
        let mut cuts = cuts;
        cuts.sort_unstable();
        let mut d = Driver::new(config());
        let mut start = 0;
        for cut in cuts.into_iter().chain([TRANSCRIPT.len()]) {
            d.feed(&TRANSCRIPT[start..cut]);
            start = cut;
        }
        prop_assert_eq!(d.text(), whole.text());
        prop_assert_eq!(d.stored, whole.stored);
    }
}
