//! VMTP: VECMAIL, METADATA, BATCH, READACK, STATUS, and VMTP switched off.

use super::*;

#[test]
fn vecmail_metadata_readack_and_status() {
    let d = session(b"EHLO c\r\nMETADATA client-id 12345\r\nVECMAIL FROM:<a@x.example> TO:<b@example.test,c@example.test> SIZE=100\r\nREADACK\r\nDATA\r\nhi\r\n.\r\nSTATUS ID1\r\nSTATUS nope\r\n");
    assert_eq!(d.codes(), [220, 250, 250, 250, 250, 354, 250, 250, 550]);
    let replies = d.replies();
    assert_eq!(replies[3], "250 2.1.5 Sender and 2 recipients ok");
    assert_eq!(replies[7], "250 2.0.0 ID1 DELIVERED 1970-01-01T00:00:00Z");
    assert_eq!(replies[8], "550 5.0.0 nope Unknown message id");
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
    assert_eq!(
        d.replies()[2],
        "550 5.7.1 <z@remote.example>: Relaying denied"
    );
}

#[test]
fn vecmail_syntax_errors_are_501_5_5_4() {
    for args in [
        "FROM:<a@x.example> TO:<>",
        "FROM:<a@x.example> TO:<b@example.test,,c@example.test>",
        "FROM:<a@x.example> TO:<b@example.test,>",
        "FROM:<a@x.example> TO:<b@example.test",
        "FROM:<a@x.example>",
        "TO:<b@example.test>",
    ] {
        let d = session(format!("EHLO c\r\nVECMAIL {args}\r\n").as_bytes());
        assert!(
            d.last()
                .starts_with("501 5.5.4 Syntax: VECMAIL FROM:<address> TO:<address,...>"),
            "{args}: {}",
            d.last()
        );
    }
}

#[test]
fn metadata_values_keys_and_placement() {
    let d = session(b"METADATA k v\r\nEHLO c\r\nMETADATA empty\r\nMETADATA Key one  two \r\nMETADATA key replaced\r\nMETADATA _bad v\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nBDAT 1\r\nxMETADATA late v\r\nREADACK\r\nBDAT 0 LAST\r\n");
    assert_eq!(
        d.codes(),
        [
            220, 503, 250, 250, 250, 250, 501, 250, 250, 250, 503, 503, 250
        ]
    );
    let replies = d.replies();
    assert_eq!(replies[1], "503 5.5.1 Send EHLO first");
    assert_eq!(replies[3], "250 2.0.0 Metadata accepted");
    assert!(replies[6].starts_with("501 5.5.4 Syntax: METADATA key value"));
    assert_eq!(replies[10], "503 5.5.1 METADATA not allowed after BDAT");
    assert_eq!(replies[11], "503 5.5.1 READACK not allowed after BDAT");
    let m = &d.stored[0];
    assert_eq!(
        m.metadata,
        [
            ("empty".to_string(), String::new()),
            ("key".to_string(), "replaced".to_string())
        ]
    );
    assert!(!m.read_ack);
}

#[test]
fn metadata_limits() {
    let mut input = b"EHLO c\r\n".to_vec();
    for i in 0..33 {
        input.extend(format!("METADATA k{i} v\r\n").as_bytes());
    }
    input.extend(b"METADATA k0 replaced\r\n");
    let d = session(&input);
    assert_eq!(d.codes()[2..34], [250; 32]);
    assert_eq!(d.replies()[34], "452 4.5.3 Too many metadata entries");
    assert_eq!(d.last(), "250 2.0.0 Metadata accepted");
    let big = "v".repeat(4000);
    let d = session(
        format!("EHLO c\r\nMETADATA a {big}\r\nMETADATA b {big}\r\nMETADATA c v\r\n").as_bytes(),
    );
    assert_eq!(d.codes(), [220, 250, 250, 552, 250]);
    assert_eq!(d.replies()[3], "552 5.3.4 Metadata exceeds the size limit");
}

#[test]
fn batch_reuses_the_envelope() {
    let d = session(b"EHLO c\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nBATCH 2\r\nRCPT TO:<c@example.test>\r\nDATA\r\none\r\n.\r\nDATA\r\ntwo\r\n.\r\nDATA\r\n");
    assert_eq!(
        d.codes(),
        [220, 250, 250, 250, 250, 503, 354, 250, 354, 250, 503]
    );
    assert_eq!(
        d.replies()[4],
        "250 2.0.0 Batch of 2 messages: send DATA 2 times"
    );
    assert_eq!(
        d.replies()[5],
        "503 5.5.1 Only DATA, RSET, NOOP and QUIT are allowed inside a BATCH block"
    );
    assert_eq!(d.stored.len(), 2);
    assert_eq!(d.stored[1].data, b"two\r\n");
    // A malformed command of a refused verb is refused for the block, not for its syntax;
    // the block goes on.
    let d = session(b"EHLO c\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nBATCH 1\r\nRCPT TO:<broken\r\nMAIL FROM\r\nDATA\r\nx\r\n.\r\n");
    assert_eq!(d.codes(), [220, 250, 250, 250, 250, 503, 503, 354, 250]);
    let d = session(
        b"EHLO c\r\nBATCH 2\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nBATCH 0\r\nBATCH 101\r\nBATCH 100\r\n",
    );
    assert_eq!(d.codes(), [220, 250, 503, 250, 250, 501, 501, 250]);
    assert_eq!(d.replies()[6], "501 5.5.4 Batch count must be 1 to 100");
}

#[test]
fn status_ids_and_sequencing() {
    let d = session(b"STATUS ID1\r\nEHLO c\r\nSTATUS <ID1>\r\nSTATUS ID-1\r\nSTATUS ID1 ID2\r\nSTATUS\r\nSTATUS ID1\r\n");
    assert_eq!(d.codes(), [220, 503, 250, 501, 501, 501, 501, 550]);
    assert_eq!(d.replies()[1], "503 5.5.1 Send EHLO first");
    assert!(d.replies()[3].starts_with("501 5.5.4 Syntax: STATUS message-id"));
}

#[test]
fn vmtp_disabled_answers_502_and_plain_mail_still_works() {
    let mut c = config();
    c.vmtp = false;
    let mut d = Driver::new(c);
    d.feed(b"EHLO c\r\nVECMAIL FROM:<a@x.example> TO:<b@example.test>\r\nMETADATA k v\r\nBATCH x\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nDATA\r\nhi\r\n.\r\n");
    assert_eq!(d.codes(), [220, 250, 502, 502, 502, 250, 250, 354, 250]);
    assert_eq!(d.replies()[2], "502 5.5.1 Command not implemented");
    assert!(!d.text().contains("VMTP"));
}
