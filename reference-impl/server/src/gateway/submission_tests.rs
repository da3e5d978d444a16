use super::*;

fn parse(text: &str) -> Result<Submission, ApiError> {
    parse_message(
        &Json::from_slice(text.as_bytes()).unwrap(),
        &Limits::default(),
    )
}

fn field_of(text: &str) -> String {
    let e = parse(text).expect_err("should be refused");
    assert_eq!(e.status.as_u16(), 400, "{e}");
    e.field.unwrap_or_default()
}

#[test]
fn accepts_the_seeds_message_and_extras() {
    let s = parse(
        r#"{"sender":"a@example.com","recipients":["b@example.com","c@example.org"],
            "subject":"test","body":"hi","metadata":{"z":"1","a":"2"},
            "attachments":[{"filename":"n.txt","content":"aGVsbG8"}],"readack":true}"#,
    )
    .unwrap();
    assert_eq!(s.sender.to_string(), "a@example.com");
    assert_eq!(s.recipients.len(), 2);
    assert_eq!(
        s.metadata,
        [("z".into(), "1".into()), ("a".into(), "2".into())]
    );
    assert_eq!(s.attachments[0].data, b"hello");
    assert_eq!(s.attachments[0].media_type.essence(), "text/plain");
    assert!(s.read_ack);
    let minimal =
        parse(r#"{"sender":"a@x.test","recipients":["b@x.test"],"subject":null}"#).unwrap();
    assert_eq!(minimal.body, "");
}

#[test]
fn names_the_offending_field() {
    let base = r#""sender":"a@x.test","recipients":["b@x.test"]"#;
    let cases = [
        (r#"{"recipients":["b@x.test"]}"#.to_string(), "sender"),
        (r#"{"sender":"a@x.test"}"#.to_string(), "recipients"),
        (
            r#"{"sender":42,"recipients":["b@x.test"]}"#.to_string(),
            "sender",
        ),
        (
            r#"{"sender":"a@x.test","recipients":"b@x.test"}"#.to_string(),
            "recipients",
        ),
        (
            r#"{"sender":"a@x.test","recipients":[]}"#.to_string(),
            "recipients",
        ),
        (
            r#"{"sender":"a@x.test","recipients":["b@x.test","c@x.test","nope"]}"#.to_string(),
            "recipients[2]",
        ),
        (
            r#"{"sender":"a@x.test","recipients":["b@x.test","b@X.TEST"]}"#.to_string(),
            "recipients[1]",
        ),
        (
            format!(r#"{{{base},"subject":"a\r\nBcc: evil@x.test"}}"#),
            "subject",
        ),
        (format!(r#"{{{base},"body":5}}"#), "body"),
        (
            format!(r#"{{{base},"metadata":{{"ok":"1","bad key":"2"}}}}"#),
            "metadata[\"bad key\"]",
        ),
        (format!(r#"{{{base},"metadata":{{"n":1}}}}"#), "metadata.n"),
        (format!(r#"{{{base},"metadata":["x"]}}"#), "metadata"),
        (
            format!(r#"{{{base},"subject":"a","subject":"b"}}"#),
            "subject",
        ),
        (
            format!(r#"{{{base},"metadata":{{"k":"1","k":"2"}}}}"#),
            "metadata.k",
        ),
        (
            format!(r#"{{{base},"attachments":[{{"filename":"a","content":"!!"}}]}}"#),
            "attachments[0].content",
        ),
        (
            format!(r#"{{{base},"attachments":[{{"content":"aGk="}}]}}"#),
            "attachments[0].filename",
        ),
        (
            format!(r#"{{{base},"attachments":[{{"filename":"a","content":"aGk=","x":1}}]}}"#),
            "attachments[0].x",
        ),
        (
            format!(
                r#"{{{base},"attachments":[{{"filename":"a","content":"aGk=","contentType":"text"}}]}}"#
            ),
            "attachments[0].contentType",
        ),
        (format!(r#"{{{base},"readack":"yes"}}"#), "readack"),
        (format!(r#"{{{base},"cc":["x@x.test"]}}"#), "cc"),
        (format!(r#"{{{base},"sender":"b@x.test"}}"#), "sender"),
        ("[1]".to_string(), ""),
    ];
    for (body, field) in cases {
        assert_eq!(field_of(&body), field, "{body}");
    }
}

#[test]
fn limits_recipients_and_batches() {
    let rcpts: Vec<String> = (0..1001).map(|i| format!("\"u{i}@x.test\"")).collect();
    let body = format!(
        r#"{{"sender":"a@x.test","recipients":[{}]}}"#,
        rcpts.join(",")
    );
    let e = parse(&body).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("recipients"));
    assert!(e.error.contains("1001"), "{e}");

    let batch = Json::from_slice(
        br#"{"messages":[{"sender":"a@x.test","recipients":["b@x.test"]},{"sender":"a@x.test","recipients":[1]}]}"#,
    )
    .unwrap();
    let results = parse_batch(&batch, &Limits::default()).unwrap();
    assert!(results[0].is_ok());
    let e = results[1].as_ref().unwrap_err();
    assert_eq!(e.field.as_deref(), Some("messages[1].recipients[0]"));
    let e = parse_batch(
        &Json::from_slice(br#"{"messages":[]}"#).unwrap(),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("messages"));
    let e = parse_batch(
        &Json::from_slice(br#"{"messages":[{}],"x":1}"#).unwrap(),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("x"));
}

#[test]
fn whole_message_errors_get_the_batch_prefix() {
    let batch = Json::from_slice(br#"{"messages":[7]}"#).unwrap();
    let results = parse_batch(&batch, &Limits::default()).unwrap();
    assert_eq!(
        results[0].as_ref().unwrap_err().field.as_deref(),
        Some("messages[0]")
    );
}
