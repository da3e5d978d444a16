//! Queue tests: backoff, re-queueing of deferred recipients only, and expiry.

use super::*;
use mtp_proto::smtp::Mailbox;
use mtp_proto::smtp::client::{Delivered, RcptStatus, RecipientResult};
use mtp_proto::smtp::reply::{Reply, ReplyCode};

fn message() -> Message {
    Message {
        reverse_path: None,
        recipients: vec![mbox("a@x.test"), mbox("b@x.test")],
        data: b"hi\r\n".to_vec(),
        metadata: Vec::new(),
        read_ack: false,
    }
}

fn mbox(s: &str) -> Mailbox {
    Mailbox::parse(s).unwrap()
}

fn reply(code: u16) -> Reply {
    Reply::new(ReplyCode::new(code).unwrap(), None, "text")
}

fn outcome(result: Result<u16, u16>, rcpt_codes: [u16; 2]) -> MessageOutcome {
    let status = |code: u16| match code {
        200..=299 => RcptStatus::Accepted(reply(code)),
        _ => RcptStatus::Refused(reply(code)),
    };
    MessageOutcome {
        result: match result {
            Ok(code) => Ok(Delivered {
                id: None,
                reply: reply(code),
            }),
            Err(code) => Err(Failure::from_reply("failed", &reply(code))),
        },
        recipients: ["a@x.test", "b@x.test"]
            .iter()
            .zip(rcpt_codes)
            .map(|(m, c)| RecipientResult {
                mailbox: mbox(m),
                status: status(c),
            })
            .collect(),
        dropped_metadata: Vec::new(),
        read_ack: false,
        used: Vec::new(),
    }
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(10),
        max_interval: Duration::from_millis(40),
        max_age: Duration::from_millis(200),
    }
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let p = policy();
    let waits: Vec<u128> = (1..=5).map(|n| p.backoff(n).as_millis()).collect();
    assert_eq!(waits, [10, 20, 40, 40, 40]);
    assert_eq!(p.backoff(200), Duration::from_millis(40));
}

#[test]
fn delivered_and_permanent_outcomes_are_done() {
    let mut q = Queue::new(policy());
    let id = q.push(message(), 0);
    assert_eq!(q.take_due(0).len(), 1);
    assert!(q.take_due(0).is_empty(), "under way");
    assert_eq!(
        q.report(id, &outcome(Ok(250), [250, 250]), 5),
        Disposition::Done
    );
    let id = q.push(message(), 0);
    q.take_due(0);
    assert_eq!(
        q.report(id, &outcome(Err(550), [250, 250]), 5),
        Disposition::Done
    );
    assert!(q.is_empty());
}

#[test]
fn deferred_recipients_are_retried_alone() {
    let mut q = Queue::new(policy());
    let id = q.push(message(), 0);
    q.take_due(0);
    let d = q.report(id, &outcome(Ok(250), [250, 452]), 5);
    assert_eq!(
        d,
        Disposition::Retry {
            at_ms: 15,
            recipients: 1
        }
    );
    assert_eq!(q.next_due(), Some(15));
    assert!(q.take_due(14).is_empty());
    let due = q.take_due(15);
    assert_eq!(due[0].1.recipients, [mbox("b@x.test")]);
}

#[test]
fn transient_failures_back_off_then_expire() {
    let mut q = Queue::new(policy());
    let id = q.push(message(), 0);
    let mut now = 0;
    let mut waits = Vec::new();
    loop {
        let due = q.take_due(now);
        assert_eq!(due.len(), 1);
        match q.report(id, &outcome(Err(421), [250, 250]), now) {
            Disposition::Retry { at_ms, recipients } => {
                assert_eq!(recipients, 2);
                waits.push(at_ms - now);
                now = at_ms;
            }
            Disposition::Expired(f) => {
                assert!(f.reason.contains("gave up"), "{f}");
                break;
            }
            Disposition::Done => panic!("a 421 is not final"),
        }
    }
    assert_eq!(waits, [10, 20, 40, 40, 40, 40, 10]);
    assert_eq!(now, 200);
    assert!(q.is_empty());
}
