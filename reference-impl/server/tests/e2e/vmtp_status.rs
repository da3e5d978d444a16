//! VMTP STATUS against the running server: the id from the 250 after end-of-data is known in
//! another session, DELIVERED carries the time the store received the message, and an
//! unknown or malformed id is refused.

use mtp_proto::time::rfc3339;

use crate::support::{ServerProcess, Smtp};

#[test]
fn status_reports_delivered_with_the_stored_time() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("store"), &[]);
    let mut smtp = Smtp::connect(server.smtp);
    for line in [
        "EHLO status.example",
        "MAIL FROM:<a@status.example>",
        "RCPT TO:<bob@example.test>",
    ] {
        assert_eq!(smtp.cmd(line), 250, "{line}");
    }
    assert_eq!(smtp.cmd("DATA"), 354);
    smtp.write(b"Subject: status\r\n\r\nhello\r\n.\r\n");
    let reply = smtp.reply();
    assert_eq!(reply.code.get(), 250, "{reply}");
    let id = reply.text().rsplit(' ').next().unwrap().to_string();
    assert_eq!(smtp.cmd("QUIT"), 221);

    let stored = server.messages();
    assert_eq!(stored[0].0.id, id);
    let received = rfc3339(stored[0].0.message.received_at_ms);

    let mut other = Smtp::connect(server.smtp);
    assert_eq!(other.cmd("EHLO other.example"), 250);
    other.write(format!("STATUS {id}\r\n").as_bytes());
    let reply = other.reply();
    assert_eq!(reply.code.get(), 250, "{reply}");
    assert_eq!(
        reply.enhanced.map(|e| e.to_string()).as_deref(),
        Some("2.0.0")
    );
    assert_eq!(reply.text(), format!("{id} DELIVERED {received}"));

    other.write(b"STATUS FFFFFFFFFFFF\r\n");
    let reply = other.reply();
    assert_eq!(reply.code.get(), 550, "{reply}");
    assert_eq!(
        reply.enhanced.map(|e| e.to_string()).as_deref(),
        Some("5.0.0")
    );
    assert_eq!(other.cmd(&format!("STATUS <{id}>")), 501);
    assert_eq!(other.cmd("STATUS"), 501);
}
