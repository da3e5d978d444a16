//! Session tests: scripted transcripts through the state machine, with deliveries answered by
//! an in-memory list, and the chunking property.

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
        let session = ServerSession::new(Arc::new(config), ConnectionInfo::default());
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
                Action::QueryStatus(id) => {
                    let known = id
                        .strip_prefix("ID")
                        .and_then(|n| n.parse::<usize>().ok())
                        .is_some_and(|n| n >= 1 && n <= self.stored.len());
                    self.session.status_answer(known.then_some(StatusInfo {
                        state: MessageState::Delivered,
                        at_ms: None,
                    }));
                }
                Action::StartTls => self.tls_starts += 1,
                Action::Close => self.closed = true,
            }
        }
        self.output.extend(self.session.take_output());
    }

    /// Reply codes of every reply line that ends a reply.
    fn codes(&self) -> Vec<u16> {
        String::from_utf8_lossy(&self.output)
            .split("\r\n")
            .filter(|l| l.len() >= 4 && l.as_bytes()[3] == b' ' || l.len() == 3)
            .map(|l| l[..3].parse().unwrap())
            .collect()
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

#[test]
fn plain_transaction() {
    let d = session(b"EHLO c.example\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nDATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n");
    assert_eq!(d.codes(), [220, 250, 250, 250, 354, 250, 221]);
    assert_eq!(d.stored[0].data, b"Subject: hi\r\n\r\nbody\r\n");
    assert_eq!(d.stored[0].recipients, ["b@example.test"]);
    assert!(d.text().contains("250 2.0.0 Ok: queued as ID1"));
    assert!(d.closed);
}

#[test]
fn sequencing_errors() {
    let d = session(b"MAIL FROM:<a@x.example>\r\nEHLO c\r\nRCPT TO:<b@example.test>\r\nDATA\r\nMAIL FROM:<a@x.example>\r\nMAIL FROM:<a@x.example>\r\nDATA\r\n");
    assert_eq!(d.codes(), [220, 503, 250, 503, 503, 250, 503, 554]);
}

#[test]
fn recipient_policy() {
    let d = session(b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<x@elsewhere.example>\r\nRCPT TO:<Postmaster>\r\nRCPT TO:<anyone@EXAMPLE.test>\r\n");
    assert_eq!(d.codes(), [220, 250, 250, 550, 250, 250]);
    let mut c = config();
    c.local_users = Some(vec!["bob".into()]);
    let mut d = Driver::new(c);
    d.feed(b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<postmaster@example.test>\r\nRCPT TO:<BOB@example.test>\r\n");
    assert_eq!(d.codes(), [220, 250, 250, 550, 250, 250]);
}

#[test]
fn too_many_recipients_gets_452_after_the_limit() {
    let mut input = b"EHLO c\r\nMAIL FROM:<a@x.example>\r\n".to_vec();
    for i in 0..101 {
        input.extend(format!("RCPT TO:<u{i}@example.test>\r\n").as_bytes());
    }
    let d = session(&input);
    let codes = d.codes();
    assert_eq!(codes.iter().filter(|&&c| c == 250).count(), 102);
    assert_eq!(codes.last(), Some(&452));
}

#[test]
fn smuggling_forms_never_end_data() {
    let d = session(b"EHLO c\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nDATA\r\nx\n.\nMAIL FROM:<evil@x.example>\nRCPT TO:<b@example.test>\nDATA\nsmuggled\n.\r\n.\r\n");
    assert_eq!(d.stored.len(), 1);
    assert_eq!(d.codes(), [220, 250, 250, 250, 354, 250]);
}

#[test]
fn size_limits() {
    let mut c = config();
    c.limits.max_message_size = 10;
    let mut d = Driver::new(c);
    d.feed(b"EHLO c\r\nMAIL FROM:<a@x.example> SIZE=11\r\nMAIL FROM:<a@x.example> SIZE=5\r\nRCPT TO:<b@example.test>\r\nDATA\r\n0123456789abc\r\n.\r\nNOOP\r\n");
    assert_eq!(d.codes(), [220, 250, 552, 250, 250, 354, 552, 250]);
    assert!(d.stored.is_empty());
}

#[test]
fn long_command_line_then_session_goes_on() {
    let mut input = b"EHLO c\r\n".to_vec();
    input.extend(vec![b'A'; 10_000]);
    input.extend(b"\r\nNOOP\r\n");
    assert_eq!(session(&input).codes(), [220, 250, 500, 250]);
}

#[test]
fn nul_bare_lf_and_garbage() {
    let d = session(b"EHLO c\r\nNOOP\0\r\nNOOP\nNOOP\r\n\xff\xfe\r\nhello\r\n");
    assert_eq!(d.codes(), [220, 250, 500, 500, 500, 500]);
}

#[test]
fn too_many_errors_close_the_session() {
    let d = session(&b"bogus\r\n".repeat(1000));
    assert!(d.closed);
    assert_eq!(d.codes().last(), Some(&421));
    assert_eq!(d.codes().len(), 1 + 100 + 1);
}

#[test]
fn bdat_chunks_and_refusals() {
    let d = session(b"EHLO c\r\nBDAT 3\r\nabcMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nBDAT 7\r\nhello\r\nBDAT 0 LAST\r\nDATA\r\n");
    assert_eq!(d.codes(), [220, 250, 503, 250, 250, 250, 250, 503]);
    assert_eq!(d.stored[0].data, b"hello\r\n");
}

#[test]
fn starttls_discards_pipelined_plaintext_and_resets() {
    let d = session(b"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<evil@x.example>\r\n");
    assert_eq!(d.codes(), [220, 250, 220]);
    assert_eq!(d.tls_starts, 1);
    assert!(d.session.discarded_after_tls > 0);
    let mut d = d;
    d.feed(b"MAIL FROM:<a@x.example>\r\nEHLO c\r\nSTARTTLS\r\n");
    assert_eq!(d.codes(), [220, 250, 220, 503, 250, 503]);
    assert!(
        !d.text().contains("250-STARTTLS\r\n250-AUTH") || d.text().matches("STARTTLS").count() == 1
    );
}

#[test]
fn vecmail_metadata_readack_and_status() {
    let d = session(b"EHLO c\r\nMETADATA client-id 12345\r\nVECMAIL FROM:<a@x.example> TO:<b@example.test,c@example.test> SIZE=100\r\nREADACK\r\nDATA\r\nhi\r\n.\r\nSTATUS ID1\r\nSTATUS nope\r\n");
    assert_eq!(d.codes(), [220, 250, 250, 250, 250, 354, 250, 250, 550]);
    let m = &d.stored[0];
    assert_eq!(m.recipients, ["b@example.test", "c@example.test"]);
    assert_eq!(m.metadata, [("client-id".to_string(), "12345".to_string())]);
    assert!(m.read_ack);
    assert_eq!(m.protocol, "VMTP");
}

#[test]
fn vecmail_is_all_or_nothing() {
    let d = session(b"EHLO c\r\nVECMAIL FROM:<a@x.example> TO:<b@example.test,z@remote.example>\r\nRCPT TO:<b@example.test>\r\n");
    assert_eq!(d.codes(), [220, 250, 550, 503]);
    assert!(d.text().contains("z@remote.example"));
}

#[test]
fn batch_reuses_the_envelope() {
    let d = session(b"EHLO c\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nBATCH 2\r\nRCPT TO:<c@example.test>\r\nDATA\r\none\r\n.\r\nDATA\r\ntwo\r\n.\r\nDATA\r\n");
    assert_eq!(
        d.codes(),
        [220, 250, 250, 250, 250, 503, 354, 250, 354, 250, 503]
    );
    assert_eq!(d.stored.len(), 2);
    assert_eq!(d.stored[1].data, b"two\r\n");
    let d = session(
        b"EHLO c\r\nBATCH 2\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nBATCH 0\r\n",
    );
    assert_eq!(d.codes(), [220, 250, 503, 250, 250, 501]);
}

#[test]
fn vmtp_disabled_answers_502_and_plain_mail_still_works() {
    let mut c = config();
    c.vmtp = false;
    let mut d = Driver::new(c);
    d.feed(b"EHLO c\r\nVECMAIL FROM:<a@x.example> TO:<b@example.test>\r\nMETADATA k v\r\nBATCH x\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nDATA\r\nhi\r\n.\r\n");
    assert_eq!(d.codes(), [220, 250, 502, 502, 502, 250, 250, 354, 250]);
    assert!(!d.text().contains("VMTP"));
}

#[test]
fn auth_plain_needs_tls() {
    let mut c = config();
    c.credentials.push(("alice".into(), "secret".into()));
    c.submission = true;
    let mut d = Driver::new(c.clone());
    d.feed(b"EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<a@x.example>\r\n");
    assert_eq!(d.codes(), [220, 250, 538, 530]);
    let session = ServerSession::new(
        Arc::new(c),
        ConnectionInfo {
            tls: true,
            ..Default::default()
        },
    );
    let mut d = Driver {
        session,
        stored: Vec::new(),
        output: Vec::new(),
        tls_starts: 0,
        closed: false,
    };
    d.feed(b"EHLO c\r\nAUTH PLAIN\r\nAGFsaWNlAHdyb25n\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<z@remote.example>\r\n");
    assert_eq!(d.codes(), [220, 250, 334, 535, 235, 503, 250, 250]);
}

#[test]
fn idle_timeout_and_shutdown_send_421() {
    let mut d = session(b"EHLO c\r\n");
    d.session.idle_timeout();
    d.pump();
    assert_eq!(d.codes().last(), Some(&421));
    assert!(d.closed);
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
