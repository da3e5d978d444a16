//! The client against a scripted fake server with canned replies: fallbacks, refusals,
//! pipelined reply ordering, and the property that any chunking of the server's bytes gives
//! the same outcome.

use proptest::prelude::*;

use super::tests::{mbox, message};
use super::tests_fake::{run, run_cut, run_timing_out};
use super::*;

const GREETING: (&str, &str) = ("", "220 mx.example ESMTP\r\n");
const VMTP_EHLO: (&str, &str) = ("EHLO", "250-mx.example\r\n250-SIZE 1000\r\n250 VMTP\r\n");
const DATA_OK: [(&str, &str); 2] = [
    ("DATA", "354 go ahead\r\n"),
    (".", "250 2.0.0 Ok: queued as Q1\r\n"),
];
const QUIT: (&str, &str) = ("QUIT", "221 bye\r\n");

fn script(parts: &[&[(&'static str, &'static str)]]) -> Vec<(&'static str, &'static str)> {
    parts.concat()
}

fn id(outcome: &Outcome) -> Option<&str> {
    outcome.messages[0].result.as_ref().ok()?.id.as_deref()
}

#[test]
fn ehlo_refused_falls_back_to_helo() {
    let s = script(&[
        &[
            GREETING,
            ("EHLO", "502 5.5.1 no\r\n"),
            ("HELO", "250 hi\r\n"),
        ],
        &[
            ("MAIL FROM:<ALICE@CLIENT.EXAMPLE>", "250 ok\r\n"),
            ("RCPT", "250 ok\r\n"),
        ],
        &DATA_OK,
        &[QUIT],
    ]);
    let (outcome, _) = run(
        ClientOptions::default(),
        vec![message(&["b@x.example"])],
        &s,
    );
    assert_eq!(id(&outcome), Some("Q1"));
    assert_eq!(outcome.messages[0].dropped_metadata, ["client-id"]);
}

#[test]
fn vecmail_refused_falls_back_to_mail_and_rcpt() {
    let s = script(&[
        &[
            GREETING,
            VMTP_EHLO,
            ("METADATA", "250 ok\r\n"),
            ("VECMAIL", "500 what?\r\n"),
        ],
        &[
            ("MAIL", "250 ok\r\n"),
            ("RCPT TO:<B@", "250 ok\r\n"),
            ("RCPT TO:<C@", "250 ok\r\n"),
        ],
        &DATA_OK,
        &[QUIT],
    ]);
    let msg = message(&["b@x.example", "c@x.example"]);
    let (outcome, lines) = run(ClientOptions::default(), vec![msg], &s);
    assert_eq!(id(&outcome), Some("Q1"));
    assert_eq!(outcome.dropped[0].feature, Feature::VmtpVecmail);
    assert!(
        lines[2].ends_with("TO:<b@x.example,c@x.example> SIZE=36"),
        "{}",
        lines[2]
    );
}

#[test]
fn metadata_refused_is_dropped_and_mail_goes_on() {
    let mut msg = message(&["b@x.example"]);
    msg.metadata.push(("second".into(), "2".into()));
    let s = script(&[
        &[
            GREETING,
            VMTP_EHLO,
            ("METADATA client-id", "502 5.5.1 no\r\n"),
        ],
        &[("VECMAIL", "250 ok\r\n")],
        &DATA_OK,
        &[QUIT],
    ]);
    let (outcome, _) = run(ClientOptions::default(), vec![msg], &s);
    assert_eq!(id(&outcome), Some("Q1"));
    assert_eq!(
        outcome.messages[0].dropped_metadata,
        ["client-id", "second"]
    );
    let dropped = &outcome.dropped[0];
    assert_eq!(dropped.feature, Feature::VmtpMetadata);
    assert!(dropped.to_string().contains("refused VMTP METADATA (502"));
}

#[test]
fn readack_refused_is_dropped() {
    let mut msg = message(&["b@x.example"]);
    (msg.metadata, msg.read_ack) = (Vec::new(), true);
    let s = script(&[
        &[
            GREETING,
            VMTP_EHLO,
            ("VECMAIL", "250 ok\r\n"),
            ("READACK", "503 not now\r\n"),
        ],
        &DATA_OK,
        &[QUIT],
    ]);
    let (outcome, _) = run(ClientOptions::default(), vec![msg], &s);
    assert_eq!(id(&outcome), Some("Q1"));
    assert!(!outcome.messages[0].read_ack);
    assert_eq!(outcome.dropped[0].feature, Feature::VmtpReadAck);
}

#[test]
fn greeting_421_is_transient_and_554_permanent() {
    let s = [("", "421 4.3.2 busy\r\n")];
    let (outcome, lines) = run(
        ClientOptions::default(),
        vec![message(&["b@x.example"])],
        &s,
    );
    assert!(outcome.messages[0].result.as_ref().unwrap_err().transient);
    assert!(lines.is_empty());
    let s = [("", "554 go away\r\n"), QUIT];
    let (outcome, _) = run(
        ClientOptions::default(),
        vec![message(&["b@x.example"])],
        &s,
    );
    assert!(!outcome.error.unwrap().transient);
}

#[test]
fn all_recipients_refused_means_no_data() {
    let ehlo = ("EHLO", "250 mx.example\r\n");
    let s = script(&[
        &[GREETING, ehlo, ("MAIL", "250 ok\r\n")],
        &[
            ("RCPT", "550 5.1.1 no such user\r\n"),
            ("RCPT", "553 bad\r\n"),
        ],
        &[("RSET", "250 ok\r\n"), QUIT],
    ]);
    let msg = message(&["b@x.example", "c@x.example"]);
    let (outcome, lines) = run(ClientOptions::default(), vec![msg], &s);
    let failure = outcome.messages[0].result.as_ref().unwrap_err();
    assert!(!failure.transient);
    assert!(!lines.iter().any(|l| l == "DATA"));
}

#[test]
fn rcpt_452_is_retried_later_for_that_recipient_only() {
    let ehlo = ("EHLO", "250 mx.example\r\n");
    let s = script(&[
        &[GREETING, ehlo, ("MAIL", "250 ok\r\n")],
        &[("RCPT", "452 4.5.3 too many\r\n"), ("RCPT", "250 ok\r\n")],
        &DATA_OK,
        &[QUIT],
    ]);
    let msg = message(&["b@x.example", "c@x.example"]);
    let (outcome, _) = run(ClientOptions::default(), vec![msg], &s);
    assert_eq!(id(&outcome), Some("Q1"));
    assert_eq!(
        outcome.messages[0].retry_recipients(),
        [mbox("b@x.example")]
    );
}

const PIPELINED: [(&str, &str); 8] = [
    GREETING,
    (
        "EHLO",
        "250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
    ),
    ("MAIL", "250 ok\r\n"),
    ("RCPT", "550 no\r\n"),
    ("RCPT", "250 ok\r\n"),
    ("DATA", "354 go\r\n"),
    (".", "250 2.0.0 Ok: queued as P7\r\n"),
    QUIT,
];

#[test]
fn pipelined_replies_are_matched_in_order() {
    let msg = message(&["b@x.example", "c@x.example"]);
    let (outcome, _) = run(ClientOptions::default(), vec![msg], &PIPELINED);
    assert_eq!(id(&outcome), Some("P7"));
    let r = &outcome.messages[0].recipients;
    assert!(matches!(&r[0].status, RcptStatus::Refused(x) if x.code.get() == 550));
    assert!(matches!(r[1].status, RcptStatus::Accepted(_)));
    assert!(outcome.used.contains(&Feature::Pipelining));
}

#[test]
fn pipelined_vecmail_refusal_ignores_the_pipelined_tail() {
    let mut msg = message(&["b@x.example"]);
    msg.read_ack = true;
    let ehlo = ("EHLO", "250-mx.example\r\n250-PIPELINING\r\n250 VMTP\r\n");
    let s = script(&[
        &[
            GREETING,
            ehlo,
            ("METADATA", "250 ok\r\n"),
            ("VECMAIL", "502 no\r\n"),
        ],
        &[
            ("READACK", "503 no transaction\r\n"),
            ("DATA", "503 no transaction\r\n"),
        ],
        &[
            ("MAIL", "250 ok\r\n"),
            ("RCPT", "250 ok\r\n"),
            ("READACK", "250 ok\r\n"),
        ],
        &DATA_OK,
        &[QUIT],
    ]);
    let (outcome, _) = run(ClientOptions::default(), vec![msg], &s);
    assert_eq!(id(&outcome), Some("Q1"));
    assert!(outcome.messages[0].read_ack);
    let dropped: Vec<Feature> = outcome.dropped.iter().map(|d| d.feature).collect();
    assert_eq!(dropped, [Feature::VmtpVecmail]);
}

#[test]
fn oversized_message_is_refused_before_mail() {
    let mut msg = message(&["b@x.example"]);
    msg.data = vec![b'x'; 2000];
    let s = [GREETING, VMTP_EHLO, QUIT];
    let (outcome, _) = run(ClientOptions::default(), vec![msg], &s);
    let failure = outcome.messages[0].result.as_ref().unwrap_err();
    assert!(!failure.transient && failure.reason.contains("SIZE"));
}

#[test]
fn refused_batch_sends_the_rest_one_by_one() {
    let mut first = message(&["b@x.example"]);
    first.metadata.clear();
    let ehlo = ("EHLO", "250-mx.example\r\n250 VMTP\r\n");
    let s = script(&[
        &[
            GREETING,
            ehlo,
            ("VECMAIL", "250 ok\r\n"),
            ("BATCH 2", "502 no\r\n"),
        ],
        &DATA_OK,
        &[("VECMAIL", "250 ok\r\n")],
        &DATA_OK,
        &[QUIT],
    ]);
    let (outcome, _) = run(ClientOptions::default(), vec![first.clone(), first], &s);
    assert!(outcome.all_delivered());
    assert_eq!(outcome.dropped[0].feature, Feature::VmtpBatch);
}

#[test]
fn sloppy_354_without_recipients_gets_a_lone_dot_then_rset() {
    let ehlo = ("EHLO", "250-mx.example\r\n250 PIPELINING\r\n");
    let s = script(&[
        &[
            GREETING,
            ehlo,
            ("MAIL", "250 ok\r\n"),
            ("RCPT", "550 no\r\n"),
        ],
        &[("DATA", "354 go\r\n"), (".", "554 no valid recipients\r\n")],
        &[("RSET", "250 ok\r\n"), QUIT],
    ]);
    let (outcome, lines) = run(
        ClientOptions::default(),
        vec![message(&["b@x.example"])],
        &s,
    );
    assert!(!outcome.messages[0].result.as_ref().unwrap_err().transient);
    assert_eq!(lines[lines.len() - 3..], ["<data>", "RSET", "QUIT"]);
}

proptest! {
    #[test]
    fn any_chunking_of_server_bytes_gives_the_same_outcome(
        cuts in proptest::collection::vec(0usize..400, 0..12)
    ) {
        let msg = message(&["b@x.example", "c@x.example"]);
        let mut cuts = cuts;
        cuts.sort_unstable();
        let whole = run(ClientOptions::default(), vec![msg.clone()], &PIPELINED);
        let cut = run_cut(ClientOptions::default(), vec![msg], &PIPELINED, &cuts);
        prop_assert_eq!(whole, cut);
    }
}

#[test]
fn a_connection_lost_after_the_data_leaves_the_outcome_unknown() {
    let s = script(&[&[
        GREETING,
        ("EHLO", "250-mx.example\r\n250 PIPELINING\r\n"),
        ("MAIL FROM:<ALICE@CLIENT.EXAMPLE>", "250 ok\r\n"),
        ("RCPT", "250 ok\r\n"),
        ("DATA", "354 go ahead\r\n"),
        // The end of the data goes out; the connection drops before its reply.
        (".", ""),
    ]]);
    let options = ClientOptions {
        use_vmtp: false,
        ..ClientOptions::default()
    };
    let (outcome, _) = run(options, vec![message(&["b@x.example"])], &s);
    let m = &outcome.messages[0];
    let failure = m.result.as_ref().unwrap_err();
    assert!(failure.outcome_unknown && failure.transient, "{failure:?}");
    assert!(failure.reason.contains("may have accepted"), "{failure}");
    // The recipient was accepted; it is not "not tried".
    assert!(matches!(m.recipients[0].status, RcptStatus::Accepted(_)));
}

#[test]
fn a_timeout_is_followed_by_quit_and_the_outcome_after_the_data_is_unknown() {
    let s = script(&[&[
        GREETING,
        ("EHLO", "250-mx.example\r\n250 PIPELINING\r\n"),
        ("MAIL FROM:<ALICE@CLIENT.EXAMPLE>", "250 ok\r\n"),
        ("RCPT", "250 ok\r\n"),
        ("DATA", "354 go ahead\r\n"),
        // The end of the data goes out; its reply does not come within the limit.
        (".", ""),
        // RFC 5321 §4.1.1.10: the client says QUIT before it closes, and does not wait for
        // a reply from a server already silent past its limit.
        ("QUIT", ""),
    ]]);
    let options = ClientOptions {
        use_vmtp: false,
        ..ClientOptions::default()
    };
    let (outcome, lines) = run_timing_out(options, vec![message(&["b@x.example"])], &s);
    assert_eq!(lines.last().map(String::as_str), Some("QUIT"), "{lines:?}");
    let failure = outcome.messages[0].result.as_ref().unwrap_err();
    assert!(failure.outcome_unknown && failure.transient, "{failure:?}");
    assert!(failure.reason.contains("timed out"), "{failure}");
}
