//! Session tests against an in-memory driver: a replay set, a key map and mailboxes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::*;
use crate::mmtp::hashcash::{Stamp, TokenKey, mint};
use crate::mmtp::packet::{NewPacket, PacketType, build, plain_content};

const NOW: u64 = 1_700_000_000_000;
const ALICE: &str = "(alice)%(example.com)";
const BOB: &str = "(bob)%(example.com)";

/// Drives a session like the tokio driver does, with state in memory.
struct Driver {
    session: ServerSession,
    tokens: BTreeSet<TokenKey>,
    keys: BTreeMap<String, String>,
    /// mailbox key → (id, delivery)
    mail: BTreeMap<String, Vec<(String, Delivery)>>,
    next_id: u64,
    /// What a signature check answers.
    signature_result: Option<bool>,
    closed: bool,
    out: Vec<u8>,
}

impl Driver {
    fn new(config: SessionConfig) -> Self {
        let session = ServerSession::new(Arc::new(config), ConnectionInfo::default(), NOW);
        let mut driver = Self {
            session,
            tokens: BTreeSet::new(),
            keys: BTreeMap::new(),
            mail: BTreeMap::new(),
            next_id: 1,
            signature_result: Some(true),
            closed: false,
            out: Vec::new(),
        };
        driver.run();
        driver
    }

    fn run(&mut self) {
        while let Some(action) = self.session.poll_action() {
            match action {
                Action::ClaimToken { key, .. } => {
                    let fresh = self.tokens.insert(key);
                    self.session.token_claimed(Ok(fresh));
                }
                Action::VerifySignature(check) => {
                    let answer = self
                        .keys
                        .contains_key(&check.signer)
                        .then_some(())
                        .and(self.signature_result);
                    self.session.signature_checked(answer);
                }
                Action::Deliver(delivery) => {
                    let id = format!("{:012X}", self.next_id);
                    self.next_id += 1;
                    self.mail
                        .entry(delivery.mailbox.clone())
                        .or_default()
                        .push((id.clone(), *delivery));
                    self.session.delivered(Ok(id));
                }
                Action::ListMailbox {
                    mailbox,
                    with_packets,
                } => {
                    let entries = self
                        .mail
                        .get(&mailbox)
                        .into_iter()
                        .flatten()
                        .map(|(id, d)| MailboxEntry {
                            id: id.clone(),
                            tags: d.tags.clone(),
                            packet: with_packets
                                .then(|| RawValue::from_string(d.packet.clone()).unwrap()),
                        })
                        .collect();
                    self.session.mailbox(entries);
                }
                Action::Drain(ids) => {
                    self.out.extend(self.session.take_output());
                    for messages in self.mail.values_mut() {
                        messages.retain(|(id, _)| !ids.contains(id));
                    }
                    self.session.drained(Ok(()));
                }
                Action::RegisterKey {
                    mailbox, armored, ..
                } => {
                    let result = if armored.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
                        self.keys.insert(mailbox, armored);
                        Ok(())
                    } else {
                        Err(KeyError::Invalid("no armored key".into()))
                    };
                    self.session.key_registered(result);
                }
                Action::LookupKey { mailbox } => {
                    let key = self.keys.get(&mailbox).cloned();
                    self.session.key_found(key);
                }
                Action::Close => self.closed = true,
            }
        }
        self.out.extend(self.session.take_output());
    }

    fn send_bytes(&mut self, bytes: &[u8]) -> Vec<Value> {
        self.session.receive(bytes, NOW);
        self.run();
        self.responses()
    }

    fn request(&mut self, request: impl std::fmt::Display) -> Value {
        let mut responses = self.send_bytes(format!("{request}\n").as_bytes());
        assert_eq!(responses.len(), 1, "{responses:?}");
        responses.remove(0)
    }

    fn responses(&mut self) -> Vec<Value> {
        let out = std::mem::take(&mut self.out);
        assert!(out.is_empty() || out.ends_with(b"\n"));
        out.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }
}

fn config() -> SessionConfig {
    SessionConfig {
        difficulty: 2,
        ..SessionConfig::default()
    }
}

fn packet_with(
    content: Json,
    tags: Option<&str>,
    timestamp_ms: u64,
    edit: impl FnOnce(&mut NewPacket),
) -> Json {
    let stamp = Stamp {
        difficulty: 2,
        timestamp_ms,
        sender: ALICE.into(),
        recipient: BOB.into(),
    };
    let counter = mint(&stamp, 0..u64::MAX).unwrap();
    let mut new = NewPacket {
        kind: PacketType::Send,
        message_id: format!("m-{timestamp_ms}"),
        timestamp_ms,
        sender: ALICE.into(),
        recipient: BOB.into(),
        content,
        hashcash: stamp.hashcash_token(counter),
        tags: tags.map(|t| Json::from_slice(t.as_bytes()).unwrap()),
        signature: None,
        encrypted: None,
    };
    edit(&mut new);
    build(new)
}

fn packet(tags: Option<&str>, timestamp_ms: u64) -> Json {
    packet_with(
        plain_content("Hello", "Hello, this is a test message."),
        tags,
        timestamp_ms,
        |_| {},
    )
}

/// A SEND request as text: going through `serde_json::Value` would sort the content's keys
/// and break its messageHash.
fn send(packet: &Json) -> String {
    format!(
        r#"{{"action":"SEND","data":{{"packet":{}}}}}"#,
        packet.to_compact_string()
    )
}

/// Sets a member deep in a packet, keeping every key in place.
fn set(packet: &mut Json, path: &[&str], value: impl Into<Json>) {
    let (last, parents) = path.split_last().unwrap();
    let mut at = packet;
    for key in parents {
        at = at.as_object_mut().unwrap().get_mut(key).unwrap();
    }
    at.as_object_mut().unwrap().insert(*last, value.into());
}

fn num(n: u64) -> Json {
    Json::Number(n.into())
}

fn email_request(action: &str, email: &str) -> Value {
    serde_json::json!({"action": action, "data": {"email": email}})
}

fn code(response: &Value) -> &str {
    assert_eq!(response["status"], "ERROR", "{response}");
    response["code"].as_str().unwrap()
}

#[test]
fn welcome_announces_features_and_difficulty() {
    let mut driver = Driver::new(config());
    let welcome = driver.responses();
    assert_eq!(
        welcome,
        vec![serde_json::json!({
            "status": "OK",
            "message": "MMTP Server Ready",
            "features": {"tls": false, "pgp": true},
            "difficulty": 2
        })]
    );
    let tls =
        ServerSession::new(Arc::new(config()), ConnectionInfo { tls: true }, NOW).take_output();
    assert!(
        String::from_utf8(tls)
            .unwrap()
            .contains("MMTP Server Ready (Secure Connection)")
    );
}

#[test]
fn send_then_receive_drains() {
    let mut driver = Driver::new(config());
    driver.responses();
    let sent = driver.request(send(&packet(
        Some(r#"{"priority":["high","bogus"],"x":["y"]}"#),
        NOW,
    )));
    assert_eq!(
        sent,
        serde_json::json!({"status":"OK","message":"Message delivered successfully","messageId":format!("m-{NOW}"),"encrypted":false,"signed":false})
    );
    let check = driver.request(email_request("CHECK", BOB));
    assert_eq!(
        check,
        serde_json::json!({"status":"OK","count":1,"totalCount":1,"tagCounts":{"priority":{"high":1}}})
    );
    let received = driver.request(email_request("RECEIVE", BOB));
    assert_eq!(received["count"], 1);
    let message = &received["messages"][0];
    assert_eq!(
        message["meta"]["tags"],
        serde_json::json!({"priority": ["high"]})
    );
    assert_eq!(message["content"]["subject"], "Hello");
    let again = driver.request(email_request("RECEIVE", BOB));
    assert_eq!(
        again,
        serde_json::json!({"status":"OK","messages":[],"count":0})
    );
}

#[test]
fn received_content_keeps_its_order_so_the_hash_still_verifies() {
    let mut driver = Driver::new(config());
    driver.responses();
    let content = Json::from_slice(br#"{"z":"last?","a":1.0,"subject":"s","body":"b"}"#).unwrap();
    driver.request(send(&packet_with(content, None, NOW, |_| {})));
    driver.session.receive(
        format!("{}\n", email_request("RECEIVE", BOB)).as_bytes(),
        NOW,
    );
    driver.run();
    let raw = String::from_utf8(driver.out.clone()).unwrap();
    assert!(
        raw.contains(r#""content":{"z":"last?","a":1,"subject":"s","body":"b"}"#),
        "{raw}"
    );
}

#[test]
fn a_token_is_accepted_once() {
    let mut driver = Driver::new(config());
    driver.responses();
    let p = packet(None, NOW);
    assert_eq!(driver.request(send(&p))["status"], "OK");
    assert_eq!(code(&driver.request(send(&p))), "HASHCASH_REPLAYED");
}

#[test]
fn send_refusals_have_codes() {
    let mut driver = Driver::new(config());
    driver.responses();
    let mut cases: Vec<(Json, &str)> = Vec::new();
    let edited = |path: &[&str], value: Json| {
        let mut p = packet(None, NOW);
        set(&mut p, path, value);
        p
    };
    cases.push((
        edited(&["verification", "messageHash"], "00".into()),
        "INTEGRITY_FAILED",
    ));
    cases.push((
        edited(&["content", "body"], "changed".into()),
        "INTEGRITY_FAILED",
    ));
    cases.push((
        edited(&["sender"], "alice@example.com".into()),
        "INVALID_ADDRESS",
    ));
    cases.push((
        edited(&["recipient"], "(bob)%(example.com) ".into()),
        "INVALID_ADDRESS",
    ));
    cases.push((edited(&["meta", "timestamp"], "now".into()), "BAD_PACKET"));
    cases.push((edited(&["meta", "type"], "PING".into()), "BAD_PACKET"));
    cases.push((edited(&["content"], "text".into()), "BAD_PACKET"));
    cases.push((
        edited(&["meta", "hashcashToken", "counter"], num(7)),
        "HASHCASH_COUNTER_MISMATCH",
    ));
    cases.push((
        edited(&["meta", "timestamp"], num(NOW + 1)),
        "HASHCASH_RESOURCE_MISMATCH",
    ));
    cases.push((packet(None, NOW - 2 * 60 * 60 * 1000), "HASHCASH_STALE"));
    cases.push((
        edited(&["meta", "hashcashToken", "token"], "1:2:x".into()),
        "HASHCASH_MALFORMED",
    ));
    let easy = packet_with(plain_content("a", "b"), None, NOW, |n| {
        let stamp = Stamp {
            difficulty: 1,
            timestamp_ms: NOW,
            sender: ALICE.into(),
            recipient: BOB.into(),
        };
        n.hashcash = stamp.hashcash_token(mint(&stamp, 0..u64::MAX).unwrap());
    });
    cases.push((easy, "HASHCASH_TOO_EASY"));
    let lazy = packet_with(plain_content("a", "b"), None, NOW, |n| {
        let stamp = Stamp {
            difficulty: 6,
            timestamp_ms: NOW,
            sender: ALICE.into(),
            recipient: BOB.into(),
        };
        n.hashcash = stamp.hashcash_token(0);
    });
    cases.push((lazy, "HASHCASH_INVALID"));
    for (p, expected) in cases {
        let response = driver.request(send(&p));
        assert_eq!(code(&response), expected, "{p}");
    }
    assert!(driver.mail.is_empty());
    assert!(!driver.closed, "business errors do not close");
}

#[test]
fn a_client_claimed_signature_verification_is_never_kept() {
    let mut driver = Driver::new(config());
    driver.responses();
    let mut p = packet(None, NOW);
    set(&mut p, &["meta", "signatureVerified"], true);
    set(&mut p, &["verification", "signatureVerified"], true);
    driver.request(send(&p));
    let received = driver.request(email_request("RECEIVE", BOB));
    let stored = &received["messages"][0];
    assert!(stored["meta"].get("signatureVerified").is_none());
    assert!(stored["verification"].get("signatureVerified").is_none());
    assert!(stored["verification"].get("messageHash").is_some());
}

#[test]
fn signatures_are_checked_with_the_registered_key() {
    let mut driver = Driver::new(config());
    driver.responses();
    let register = serde_json::json!({"action":"REGISTER_KEY","data":{"email":ALICE,"publicKey":"-----BEGIN PGP PUBLIC KEY BLOCK-----\n..."}});
    assert_eq!(
        driver.request(register)["message"],
        "Public key registered successfully"
    );
    let signed = |ts| {
        packet_with(plain_content("s", "b"), None, ts, |n| {
            n.signature = Some("SIG".into())
        })
    };
    let response = driver.request(send(&signed(NOW)));
    assert_eq!(response["signatureVerified"], true);
    driver.signature_result = Some(false);
    let response = driver.request(send(&signed(NOW + 1)));
    assert_eq!(response["signatureVerified"], false);
    let received = driver.request(email_request("RECEIVE", BOB));
    assert_eq!(received["messages"][0]["meta"]["signatureVerified"], true);
    assert_eq!(received["messages"][1]["meta"]["signatureVerified"], false);
    let key = driver.request(email_request("REQUEST_PUBLIC_KEY", ALICE));
    assert_eq!(key["email"], ALICE);
    let missing = driver.request(email_request("REQUEST_PUBLIC_KEY", BOB));
    assert_eq!(code(&missing), "KEY_NOT_FOUND");
    let bad = serde_json::json!({"action":"REGISTER_KEY","data":{"email":BOB,"publicKey":"junk"}});
    assert_eq!(code(&driver.request(bad)), "INVALID_KEY");
}

#[test]
fn without_pgp_keys_are_refused_and_signatures_unchecked() {
    let mut driver = Driver::new(SessionConfig {
        pgp: false,
        ..config()
    });
    driver.responses();
    assert_eq!(
        code(&driver.request(email_request("REQUEST_PUBLIC_KEY", ALICE))),
        "PGP_DISABLED"
    );
    let signed = packet_with(plain_content("s", "b"), None, NOW, |n| {
        n.signature = Some("SIG".into())
    });
    let response = driver.request(send(&signed));
    assert_eq!(response["status"], "OK");
    assert!(response.get("signatureVerified").is_none());
}

#[test]
fn receive_filtered_drains_only_matches() {
    let mut driver = Driver::new(config());
    driver.responses();
    driver.request(send(&packet(
        Some(r#"{"category":["promotion"],"priority":["high"]}"#),
        NOW,
    )));
    driver.request(send(&packet(
        Some(r#"{"category":["coupon"],"priority":["low"]}"#),
        NOW + 1,
    )));
    driver.request(send(&packet(None, NOW + 2)));
    let filters = serde_json::json!({"category":["promotion","coupon"],"priority":["high"]});
    let check = driver
        .request(serde_json::json!({"action":"CHECK","data":{"email":BOB,"tagFilters":filters}}));
    assert_eq!(
        (check["count"].as_u64(), check["totalCount"].as_u64()),
        (Some(1), Some(3))
    );
    let filtered = driver.request(
        serde_json::json!({"action":"RECEIVE_FILTERED","data":{"email":BOB,"tagFilters":filters}}),
    );
    assert_eq!(filtered["count"], 1);
    assert_eq!(filtered["tagFilters"], filters);
    assert_eq!(
        filtered["messages"][0]["meta"]["messageId"],
        format!("m-{NOW}")
    );
    let empty = driver.request(
        serde_json::json!({"action":"RECEIVE_FILTERED","data":{"email":BOB,"tagFilters":{}}}),
    );
    assert_eq!(empty["count"], 2);
}

#[test]
fn mailboxes_fold_the_domain_case() {
    let mut driver = Driver::new(config());
    driver.responses();
    driver.request(send(&packet(None, NOW)));
    let received = driver.request(email_request("RECEIVE", "(bob)%(EXAMPLE.com)"));
    assert_eq!(received["count"], 1);
}

#[test]
fn tag_categories() {
    let mut driver = Driver::new(config());
    driver.responses();
    let response = driver.request(serde_json::json!({"action":"GET_TAG_CATEGORIES","data":{}}));
    assert_eq!(
        response["tagCategories"]["priority"],
        serde_json::json!(["high", "medium", "low"])
    );
    assert_eq!(response["tagCategories"]["custom"], serde_json::json!([]));
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let mut driver = Driver::new(config());
    driver.responses();
    let mut bytes = Vec::new();
    bytes.extend(send(&packet(None, NOW)).into_bytes());
    for r in [
        email_request("CHECK", BOB),
        email_request("RECEIVE", BOB),
        email_request("CHECK", BOB),
    ] {
        bytes.extend(r.to_string().into_bytes());
    }
    let responses = driver.send_bytes(&bytes);
    assert_eq!(responses.len(), 4);
    assert_eq!(responses[0]["message"], "Message delivered successfully");
    assert_eq!(responses[1]["count"], 1);
    assert_eq!(responses[2]["count"], 1);
    assert_eq!(responses[3]["count"], 0);
}

#[test]
fn malformed_input_is_answered_and_the_session_goes_on() {
    let mut driver = Driver::new(config());
    driver.responses();
    let responses = driver.send_bytes(b"garbage\n{\"action\":\n\"CHECK\",\"data\":{\"email\":\"(b)%(c)\"}}\n{\"action\":\"NOPE\"}\n{\"x\":1e999}\n[1,2]\n");
    let codes: Vec<&str> = responses
        .iter()
        .map(|r| r["code"].as_str().unwrap_or("OK"))
        .collect();
    assert_eq!(
        codes,
        [
            "BAD_JSON",
            "OK",
            "UNKNOWN_ACTION",
            "BAD_JSON",
            "BAD_REQUEST"
        ]
    );
    assert_eq!(
        responses[0]["message"],
        "Invalid request format. Must be valid JSON."
    );
    assert!(!driver.closed);
}

#[test]
fn too_many_errors_close() {
    let mut driver = Driver::new(SessionConfig {
        max_errors: 3,
        ..config()
    });
    driver.responses();
    let responses = driver.send_bytes(b"x\ny\nz\nw\n");
    let codes: Vec<&str> = responses
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["BAD_JSON", "BAD_JSON", "BAD_JSON", "TOO_MANY_ERRORS"]
    );
    assert!(driver.closed && driver.session.is_closed());
}

#[test]
fn oversize_and_deep_values_close() {
    let mut small = SessionConfig::default();
    small.frame.max_value = 64;
    let mut driver = Driver::new(small);
    driver.responses();
    let responses = driver.send_bytes(format!("{{\"action\":\"{}\"}}", "A".repeat(100)).as_bytes());
    assert_eq!(code(&responses[0]), "TOO_LARGE");
    assert!(driver.closed);
    assert!(
        driver
            .send_bytes(b"{\"action\":\"GET_TAG_CATEGORIES\"}")
            .is_empty()
    );

    let mut driver = Driver::new(config());
    driver.responses();
    let responses = driver.send_bytes("[".repeat(100).as_bytes());
    assert_eq!(code(&responses[0]), "TOO_DEEP");
    assert!(driver.closed);
}

#[test]
fn timeout_and_shutdown_close_with_an_error() {
    let mut driver = Driver::new(config());
    driver.responses();
    driver.session.idle_timeout();
    driver.run();
    assert_eq!(code(&driver.responses()[0]), "TIMEOUT");
    assert!(driver.closed);
    let mut driver = Driver::new(config());
    driver.responses();
    driver.session.shutdown();
    driver.run();
    assert_eq!(code(&driver.responses()[0]), "SHUTTING_DOWN");
}

#[test]
fn one_byte_at_a_time() {
    let mut driver = Driver::new(config());
    driver.responses();
    let request = format!(
        "{}\n{}",
        send(&packet(None, NOW)),
        email_request("CHECK", BOB)
    );
    let mut responses = Vec::new();
    for b in request.as_bytes() {
        responses.extend(driver.send_bytes(&[*b]));
    }
    assert_eq!(responses.len(), 2);
    assert_eq!(responses[1]["count"], 1);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// However the same bytes are split into reads, the session answers the same.
    #[test]
    fn chunking_does_not_change_the_responses(cuts in proptest::collection::vec(proptest::prelude::any::<proptest::sample::Index>(), 0..10)) {
        let mut input = Vec::new();
        input.extend(send(&packet(Some(r#"{"priority":["high"]}"#), NOW)).into_bytes());
        input.extend(b"garbage\n");
        input.extend(email_request("CHECK", BOB).to_string().into_bytes());
        input.extend(b"\n{\"action\":\"GET_TAG_CATEGORIES\"}{\"action\":\"NOPE\"}");
        input.extend(email_request("RECEIVE", BOB).to_string().into_bytes());
        let whole = {
            let mut driver = Driver::new(config());
            driver.responses();
            driver.send_bytes(&input)
        };
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        points.sort_unstable();
        let mut driver = Driver::new(config());
        driver.responses();
        let mut responses = Vec::new();
        let mut at = 0;
        for p in points.into_iter().chain([input.len()]) {
            responses.extend(driver.send_bytes(&input[at..p]));
            at = p;
        }
        proptest::prop_assert_eq!(whole.len(), 6);
        proptest::prop_assert_eq!(responses, whole);
    }
}
