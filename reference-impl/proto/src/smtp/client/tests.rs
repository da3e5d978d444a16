//! The client against the real sans-io server ([`ServerSession`]) in memory: a `Pair` wires
//! both ends, as quinn-proto's tests do, answering deliveries from a list.

use std::sync::Arc;

use super::*;
use crate::smtp::Mailbox;
use crate::smtp::server::{
    Action, ConnectionInfo, Delivery, MessageState, ServerConfig, ServerSession, StatusInfo,
};

pub(super) fn mbox(text: &str) -> Mailbox {
    Mailbox::parse(text).unwrap()
}

pub(super) fn message(recipients: &[&str]) -> Message {
    Message {
        reverse_path: Some(mbox("alice@client.example")),
        recipients: recipients.iter().map(|r| mbox(r)).collect(),
        data: b"Subject: hi\r\n\r\nHello\r\n.leading dot\r\n".to_vec(),
        metadata: vec![("client-id".into(), "12345".into())],
        read_ack: false,
    }
}

struct Pair {
    client: ClientSession,
    server: ServerSession,
    stored: Vec<Delivery>,
}

impl Pair {
    fn new(config: ServerConfig, options: ClientOptions, messages: Vec<Message>) -> Self {
        Self::with_client(config, ClientSession::new(options, messages))
    }

    fn with_client(config: ServerConfig, client: ClientSession) -> Self {
        let server = ServerSession::new(Arc::new(config), ConnectionInfo::default());
        Self {
            client,
            server,
            stored: Vec::new(),
        }
    }

    /// Runs both ends until the client is done.
    fn run(&mut self) -> Outcome {
        let mut server_closed = false;
        let mut client_wants_tls = false;
        let mut server_wants_tls = false;
        for _ in 0..10_000 {
            while let Some(event) = self.client.poll_event() {
                match event {
                    Event::Transmit(bytes) => self.server.receive(&bytes),
                    Event::StartTls => client_wants_tls = true,
                    Event::Done(outcome) => return *outcome,
                }
            }
            while let Some(action) = self.server.poll_action() {
                match action {
                    Action::Deliver(d) => {
                        self.stored.push(d);
                        self.server
                            .delivered(Ok(format!("ID{}", self.stored.len())));
                    }
                    Action::QueryStatus(id) => {
                        let known = !self.stored.is_empty() && id == "ID1";
                        self.server.status_answer(known.then_some(StatusInfo {
                            state: MessageState::Delivered,
                            at_ms: None,
                        }));
                    }
                    Action::StartTls => server_wants_tls = true,
                    Action::Close => server_closed = true,
                }
            }
            let output = self.server.take_output();
            if !output.is_empty() {
                self.client.receive(&output);
            } else if client_wants_tls && server_wants_tls {
                (client_wants_tls, server_wants_tls) = (false, false);
                self.client.tls_established();
            } else if server_closed {
                self.client.handle_closed("connection closed");
            }
        }
        panic!("the pair stalled");
    }
}

fn config() -> ServerConfig {
    let mut config = ServerConfig::new("mx.example.test", vec!["example.test".into()]);
    config.tls_available = true;
    config
}

fn sent_lines(outcome: &Outcome) -> Vec<String> {
    outcome
        .transcript
        .iter()
        .filter_map(|e| match e {
            TranscriptEntry::Sent(line) => Some(line.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn vmtp_delivery_carries_metadata_and_readack() {
    let mut msg = message(&["b@example.test", "c@example.test"]);
    msg.read_ack = true;
    let mut pair = Pair::new(config(), ClientOptions::default(), vec![msg.clone()]);
    let outcome = pair.run();
    assert!(outcome.all_delivered(), "{}", outcome.transcript_text());
    let delivered = outcome.messages[0].result.as_ref().unwrap();
    assert_eq!(delivered.id.as_deref(), Some("ID1"));
    let stored = &pair.stored[0];
    assert_eq!(stored.metadata, msg.metadata);
    assert!(stored.read_ack && outcome.messages[0].read_ack);
    assert_eq!(stored.protocol, "VMTP");
    assert_eq!(stored.data, msg.data);
    assert_eq!(stored.recipients, ["b@example.test", "c@example.test"]);
    for feature in [
        Feature::VmtpVecmail,
        Feature::VmtpMetadata,
        Feature::VmtpReadAck,
    ] {
        assert!(outcome.used.contains(&feature), "{feature}");
    }
    assert!(outcome.dropped.is_empty());
    assert_eq!(
        sent_lines(&outcome).last().map(String::as_str),
        Some("QUIT")
    );
}

#[test]
fn plain_server_still_gets_the_mail_and_metadata_is_reported_dropped() {
    let mut config = config();
    config.vmtp = false;
    let mut msg = message(&["b@example.test"]);
    msg.read_ack = true;
    let mut pair = Pair::new(config, ClientOptions::default(), vec![msg]);
    let outcome = pair.run();
    assert!(outcome.all_delivered());
    assert_eq!(outcome.messages[0].dropped_metadata, ["client-id"]);
    let dropped: Vec<Feature> = outcome.dropped.iter().map(|d| d.feature).collect();
    assert_eq!(dropped, [Feature::VmtpMetadata, Feature::VmtpReadAck]);
    assert!(pair.stored[0].metadata.is_empty());
    assert!(
        sent_lines(&outcome)
            .iter()
            .any(|l| l.starts_with("MAIL FROM:"))
    );
}

#[test]
fn starttls_then_ehlo_again() {
    let options = ClientOptions {
        starttls: true,
        require_tls: true,
        ..ClientOptions::default()
    };
    let mut pair = Pair::new(config(), options, vec![message(&["b@example.test"])]);
    let outcome = pair.run();
    assert!(outcome.all_delivered() && outcome.tls);
    assert!(pair.stored[0].tls);
    let ehlos = sent_lines(&outcome)
        .iter()
        .filter(|l| l.starts_with("EHLO"))
        .count();
    assert_eq!(ehlos, 2);
    assert!(outcome.used.contains(&Feature::StartTls));
}

#[test]
fn encrypt_start_when_starttls_is_not_wanted() {
    let options = ClientOptions {
        prefer_encrypt: true,
        ..ClientOptions::default()
    };
    let mut pair = Pair::new(config(), options, vec![message(&["b@example.test"])]);
    let outcome = pair.run();
    assert!(outcome.all_delivered() && outcome.tls);
    assert!(outcome.used.contains(&Feature::VmtpEncrypt));
    assert!(sent_lines(&outcome).contains(&"ENCRYPT START".to_string()));
}

#[test]
fn require_tls_without_tls_sends_no_mail() {
    let mut config = config();
    config.tls_available = false;
    let options = ClientOptions {
        require_tls: true,
        ..ClientOptions::default()
    };
    let mut pair = Pair::new(config, options, vec![message(&["b@example.test"])]);
    let outcome = pair.run();
    let failure = outcome.messages[0].result.as_ref().unwrap_err();
    assert!(!failure.transient);
    assert!(pair.stored.is_empty());
    assert!(!sent_lines(&outcome).iter().any(|l| l.contains("MAIL")));
}

#[test]
fn batch_reuses_one_envelope() {
    let mut messages = vec![message(&["b@example.test"]); 3];
    for (i, m) in messages.iter_mut().enumerate().skip(1) {
        m.metadata.clear();
        m.data = format!("Subject: {i}\r\n\r\nbody {i}\r\n").into_bytes();
    }
    let mut pair = Pair::new(config(), ClientOptions::default(), messages);
    let outcome = pair.run();
    assert!(outcome.all_delivered(), "{}", outcome.transcript_text());
    assert!(outcome.used.contains(&Feature::VmtpBatch));
    // Each message's own features: the batch served all three, the metadata only the first.
    let used = |i: usize| outcome.messages[i].used.clone();
    assert!(used(0).contains(&Feature::VmtpMetadata) && used(0).contains(&Feature::VmtpBatch));
    for i in [1, 2] {
        assert!(used(i).contains(&Feature::VmtpBatch), "{:?}", used(i));
        assert!(!used(i).contains(&Feature::VmtpMetadata), "{:?}", used(i));
    }
    let ids: Vec<_> = outcome
        .messages
        .iter()
        .map(|m| m.result.as_ref().unwrap().id.clone().unwrap())
        .collect();
    assert_eq!(ids, ["ID1", "ID2", "ID3"]);
    let vecmails = sent_lines(&outcome)
        .iter()
        .filter(|l| l.starts_with("VECMAIL"))
        .count();
    assert_eq!(vecmails, 1);
}

#[test]
fn lock_step_with_a_refused_recipient() {
    let options = ClientOptions {
        use_vmtp: false,
        pipelining: false,
        ..ClientOptions::default()
    };
    let msg = message(&["b@example.test", "z@remote.example"]);
    let mut pair = Pair::new(config(), options, vec![msg]);
    let outcome = pair.run();
    let m = &outcome.messages[0];
    assert!(m.is_delivered());
    assert!(matches!(m.recipients[0].status, RcptStatus::Accepted(_)));
    assert!(matches!(&m.recipients[1].status, RcptStatus::Refused(r) if r.code.get() == 550));
    assert!(m.retry_recipients().is_empty());
    assert_eq!(pair.stored[0].recipients, ["b@example.test"]);
    assert_eq!(outcome.dropped[0].reason, DropReason::Disabled);
}

#[test]
fn status_command_session() {
    let command = Command::Status("ID9".into());
    let client = ClientSession::command(ClientOptions::default(), command);
    let mut pair = Pair::with_client(config(), client);
    let outcome = pair.run();
    assert_eq!(outcome.command_reply.unwrap().code.get(), 550);
    assert!(outcome.extensions.vmtp_verb("STATUS"));
}
