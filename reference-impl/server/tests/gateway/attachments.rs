//! Attachment content types end to end: parameters reach the MIME part, and message/rfc822
//! parts travel unencoded (RFC 2046 §5.2.1), as 7bit or 8bit, or are refused naming the field.

use serde_json::{Value, json};

use super::support::{b64, unb64, with_reference};

fn with_attachments(attachments: Value) -> Value {
    json!({
        "sender": "alice@example.test",
        "recipients": ["bob@example.test"],
        "subject": "attachments",
        "body": "see attached",
        "attachments": attachments,
    })
}

/// The part of `text` from the line naming `filename` to the next boundary.
fn part<'a>(text: &'a str, filename: &str) -> &'a str {
    let at = text
        .find(&format!("filename=\"{filename}\""))
        .unwrap_or_else(|| panic!("{filename} in {text}"));
    let start = text[..at].rfind("\r\n--").unwrap();
    let end = text[at..].find("\r\n--").map_or(text.len(), |e| at + e);
    &text[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_type_parameters_pass_and_messages_go_unencoded() {
    let f = with_reference().await;
    let inner7 = "From: carol@example.test\r\nSubject: inner\r\n\r\nHello from inside.\r\n";
    let inner8 = "Subject: caf\u{e9}\n\nd\u{e9}j\u{e0} vu\n";
    let body = with_attachments(json!([
        {"filename": "notes.txt", "content": b64(b"caf\xe9"),
         "contentType": "Text/Plain; charset=ISO-8859-1; format=\"flowed\""},
        {"filename": "fwd.eml", "content": b64(inner7.as_bytes()), "contentType": "message/rfc822"},
        {"filename": "fwd8.eml", "content": b64(inner8.as_bytes())},
    ]));
    let (code, accepted) = f.post("/send", &body).await;
    assert_eq!(code, 202, "{accepted}");
    let delivery = f.settled(accepted["id"].as_str().unwrap()).await;
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    let stored = delivery["upstream_ids"][0].as_str().unwrap();
    let (_, read) = f.get(&format!("/messages/{stored}")).await;
    let text = String::from_utf8(unb64(&read["data"])).unwrap();

    let notes = part(&text, "notes.txt");
    assert!(
        notes.contains("Content-Type: text/plain; charset=\"ISO-8859-1\"; format=\"flowed\""),
        "{notes}"
    );
    let fwd = part(&text, "fwd.eml");
    assert!(fwd.contains("Content-Type: message/rfc822"), "{fwd}");
    assert!(fwd.contains("Content-Transfer-Encoding: 7bit"), "{fwd}");
    assert!(fwd.contains(&format!("\r\n\r\n{inner7}")), "{fwd}");
    let fwd8 = part(&text, "fwd8.eml");
    assert!(fwd8.contains("Content-Transfer-Encoding: 8bit"), "{fwd8}");
    assert!(
        fwd8.contains("Subject: caf\u{e9}\r\n\r\nd\u{e9}j\u{e0} vu"),
        "{fwd8}"
    );
    assert!(!text.contains("base64\r\n\r\nRnJvbTog"), "{text}");
    f.gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsendable_types_and_messages_are_refused_naming_the_field() {
    let f = with_reference().await;
    let long_line = format!("Subject: x\r\n\r\n{}\r\n", "a".repeat(1200));
    let cases = [
        (
            json!({"filename": "a.txt", "content": b64(b"x"), "contentType": "text/plain; charset"}),
            "attachments[0].contentType",
        ),
        (
            json!({"filename": "a.txt", "content": b64(b"x"), "contentType": "text/plain; a=1; A=2"}),
            "attachments[0].contentType",
        ),
        (
            json!({"filename": "a.eml", "content": b64(b"Subject: x\r\n\r\nnul \0 here\r\n"), "contentType": "message/rfc822"}),
            "attachments[0].content",
        ),
        (
            json!({"filename": "a.eml", "content": b64(long_line.as_bytes()), "contentType": "message/rfc822"}),
            "attachments[0].content",
        ),
    ];
    for (attachment, field) in cases {
        let (code, answer) = f
            .post("/send", &with_attachments(json!([attachment])))
            .await;
        assert_eq!(code, 400, "{attachment}: {answer}");
        assert_eq!(answer["field"], field, "{attachment}: {answer}");
    }
    let (_, list) = f.get("/messages").await;
    assert_eq!(list["total"], 0, "nothing was delivered: {list}");
    f.gateway.shutdown().await;
}
