//! SMTP commands and the mail transaction: sequencing, recipients, DATA, BDAT, EHLO/HELO.

use super::*;

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
    assert_eq!(d.replies()[1], "503 5.5.1 Send EHLO or HELO first");
    assert_eq!(d.replies()[6], "503 5.5.1 Nested MAIL command");
    assert_eq!(d.last(), "554 5.5.1 No valid recipients");
}

#[test]
fn recipient_policy() {
    let d = session(b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<x@elsewhere.example>\r\nRCPT TO:<Postmaster>\r\nRCPT TO:<anyone@EXAMPLE.test>\r\n");
    assert_eq!(d.codes(), [220, 250, 250, 550, 250, 250]);
    assert_eq!(
        d.replies()[3],
        "550 5.7.1 <x@elsewhere.example>: Relaying denied"
    );
    let mut c = config();
    c.local_users = Some(vec!["bob".into()]);
    let mut d = Driver::new(c);
    d.feed(b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<postmaster@example.test>\r\nRCPT TO:<BOB@example.test>\r\n");
    assert_eq!(d.codes(), [220, 250, 250, 550, 250, 250]);
    assert_eq!(
        d.replies()[3],
        "550 5.1.1 <alice@example.test>: User unknown"
    );
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
    assert_eq!(
        d.replies()[6],
        "552 5.3.4 Message size exceeds fixed maximum message size"
    );
    assert!(d.stored.is_empty());
}

#[test]
fn data_line_over_1000_octets_gets_552_5_6_0() {
    let mut input =
        b"EHLO c\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n".to_vec();
    // A stuffed dot does not count: 998 octets + CRLF after unstuffing is the longest line.
    input.extend([b".".repeat(999), b"\r\n".to_vec()].concat());
    input.extend(b".\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n");
    input.extend([b"y".repeat(999), b"\r\n.\r\nNOOP\r\n".to_vec()].concat());
    let d = session(&input);
    assert_eq!(
        d.codes(),
        [220, 250, 250, 250, 354, 250, 250, 250, 354, 552, 250]
    );
    assert_eq!(d.replies()[9], "552 5.6.0 Line too long in message data");
    assert_eq!(d.stored.len(), 1);
    assert_eq!(d.stored[0].data.len(), 1000);
}

#[test]
fn nul_bare_lf_and_garbage() {
    let d = session(b"EHLO c\r\nNOOP\0\r\nNOOP\nNOOP\r\n\xff\xfe\r\nhello\r\n");
    assert_eq!(d.codes(), [220, 250, 500, 500, 500, 500]);
    assert_eq!(d.last(), "500 5.5.2 Command unrecognized");
}

#[test]
fn arguments_that_are_not_utf8_get_501() {
    let d =
        session(b"EHLO c\r\nMAIL FROM:<\xff@x.example> SMTPUTF8\r\nMAIL FROM:<a@x.example>\r\n");
    assert_eq!(d.codes(), [220, 250, 501, 250]);
    assert!(
        d.replies()[2].starts_with("501 5.5.4 "),
        "{}",
        d.replies()[2]
    );
}

#[test]
fn mail_and_rcpt_syntax_errors() {
    let d = session(b"EHLO c\r\nMAIL FROM:a@x.example\r\nMAIL FROM: <a@x.example> FOO=bar\r\nMAIL FROM: <a@x.example>\r\nRCPT TO:<>\r\nRCPT TO:<b@example.test> NOTIFY=NEVER\r\n");
    assert_eq!(d.codes(), [220, 250, 501, 555, 250, 501, 555]);
    let replies = d.replies();
    assert!(replies[2].starts_with("501 5.1.7 Syntax: MAIL FROM:<address>"));
    assert_eq!(replies[3], "555 5.5.4 Unsupported parameter FOO");
    assert!(replies[5].starts_with("501 5.1.3 Syntax: RCPT TO:<address>"));
    assert_eq!(replies[6], "555 5.5.4 Unsupported parameter NOTIFY");
}

#[test]
fn non_ascii_sender_without_smtputf8_is_named_in_the_553() {
    let d = session("EHLO c\r\nMAIL FROM:<ü@x.example>\r\nMAIL FROM:<ü@x.example> SMTPUTF8\r\nRCPT TO:<ü@example.test>\r\n".as_bytes());
    assert_eq!(d.codes(), [220, 250, 553, 250, 250]);
    assert_eq!(
        d.replies()[2],
        "553 5.6.7 <ü@x.example>: non-ASCII address requires the SMTPUTF8 parameter"
    );
}

#[test]
fn vrfy_gets_252_for_everyone() {
    let d = session(b"VRFY bob\r\nEHLO c\r\nMAIL FROM:<a@x.example>\r\nVRFY <nobody@remote.example>\r\nVRFY\r\nRCPT TO:<b@example.test>\r\n");
    assert_eq!(d.codes(), [220, 252, 250, 250, 252, 501, 250]);
    assert_eq!(
        d.replies()[1],
        "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery"
    );
}

/// RFC 5321 §4.1.1.1: a HELO session has no extensions.
#[test]
fn helo_session_offers_no_extensions() {
    let d = session(b"HELO c\r\nSTARTTLS\r\nAUTH PLAIN\r\nBDAT 6\r\nQUIT\r\nMETADATA k v\r\nMAIL FROM:<a@x.example> BODY=8BITMIME\r\nMAIL FROM:<a@x.example>\r\n");
    assert_eq!(d.codes(), [220, 250, 503, 503, 503, 503, 555, 250]);
    assert_eq!(d.replies()[1], "250 mx.example.test greets c");
    for reply in &d.replies()[2..6] {
        assert_eq!(reply, "503 5.5.1 Send EHLO first");
    }
    assert_eq!(
        d.replies()[6],
        "555 5.5.4 MAIL parameters need an EHLO session"
    );
    assert!(!d.closed, "the QUIT was chunk data of the refused BDAT");
}

#[test]
fn bdat_chunks_and_refusals() {
    let d = session(b"EHLO c\r\nBDAT 3\r\nabcMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nBDAT 7\r\nhello\r\nBDAT 0 LAST\r\nDATA\r\n");
    assert_eq!(d.codes(), [220, 250, 503, 250, 250, 250, 250, 503]);
    assert_eq!(d.replies()[5], "250 2.0.0 7 octets received");
    assert_eq!(d.stored[0].data, b"hello\r\n");
    let d = session(b"EHLO c\r\nMAIL FROM:<a@x.example>\r\nBDAT 2\r\nxyRCPT TO:<b@example.test>\r\nBDAT 1\r\nzDATA\r\nBDAT 0 LAST\r\n");
    assert_eq!(d.codes(), [220, 250, 250, 554, 250, 250, 503, 250]);
    assert_eq!(d.replies()[6], "503 5.5.1 DATA not allowed after BDAT");
    assert_eq!(d.stored[0].data, b"z");
}

/// RFC 3030 §2: a failed BDAT fails the transaction; one whose size cannot be read aborts it.
#[test]
fn malformed_bdat_aborts_the_transaction() {
    let d = session(b"EHLO c\r\nMETADATA k v\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nBDAT 3\r\nabcBDAT x\r\nBDAT 0 LAST\r\nRCPT TO:<b@example.test>\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nBDAT 0 LAST\r\n");
    assert_eq!(
        d.codes(),
        [220, 250, 250, 250, 250, 250, 501, 503, 503, 250, 250, 250]
    );
    assert!(d.replies()[6].starts_with("501 5.5.4 Syntax: BDAT size [LAST]"));
    assert_eq!(d.stored.len(), 1);
    assert!(d.stored[0].data.is_empty());
    assert!(
        d.stored[0].metadata.is_empty(),
        "metadata went with the aborted message"
    );
}
