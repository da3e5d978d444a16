//! From a checked [`Submission`] to the message that goes upstream: a gateway id, the
//! RFC 5322 text built with mail-builder (its Message-ID carries the gateway id, so that a
//! receiver can recognise a message the outbox delivers twice after a crash), each
//! attachment a part with its media type's parameters and the transfer encoding
//! [`Attachment`] chose, and the size check against [`Limits::max_message_bytes`].

use axum::http::StatusCode;
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;
use mtp_proto::smtp::client::Message;

use super::attachment::{Attachment, Transfer};
use super::error::ApiError;
use super::limits::Limits;
use super::submission::Submission;
use crate::client::mime::new_message_id;

/// A new gateway id: unique within the process by a counter, across processes and restarts by
/// the time and the process id (`18c2f3a1b2.3f21.7`). It is the local part of the message's
/// Message-ID, so the delivered mail can be traced back to it.
pub(super) fn new_id(now_ms: u64, hostname: &str) -> String {
    let message_id = new_message_id(now_ms, hostname);
    match message_id.split_once('@') {
        Some((local, _)) => local.to_string(),
        None => message_id,
    }
}

/// Builds the message for `submission` under gateway id `id`.
pub(super) fn message(
    submission: &Submission,
    id: &str,
    hostname: &str,
    now_ms: u64,
    limits: &Limits,
) -> Result<Message, ApiError> {
    let date = i64::try_from(now_ms / 1000).unwrap_or(i64::MAX);
    let data = build(submission, &format!("{id}@{hostname}"), date).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("could not build the message: {e}"),
        )
    })?;
    if data.len() > limits.max_message_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the message would be {} octets (attachments in base64 included); the limit is {}",
                data.len(),
                limits.max_message_bytes
            ),
        ));
    }
    Ok(Message {
        reverse_path: Some(submission.sender.clone()),
        recipients: submission.recipients.clone(),
        data,
        metadata: submission.metadata.clone(),
        read_ack: submission.read_ack,
    })
}

/// The RFC 5322 text: From, To, Subject (when not empty), Date, Message-ID, the text body
/// and the attachments. With an 8bit part, the message says 8bit too (RFC 2045 §6.4: a
/// composite entity is 7bit only if all of it is).
fn build(submission: &Submission, message_id: &str, date: i64) -> std::io::Result<Vec<u8>> {
    let from = submission.sender.to_string();
    let to: Vec<String> = submission
        .recipients
        .iter()
        .map(ToString::to_string)
        .collect();
    let text = crlf(&submission.body);
    let mut builder = MessageBuilder::new().from(from.as_str()).to(to
        .iter()
        .map(|t| Address::from(t.as_str()))
        .collect::<Vec<_>>());
    if !submission.subject.is_empty() {
        builder = builder.subject(submission.subject.as_str());
    }
    builder = builder
        .date(date)
        .message_id(message_id)
        .text_body(text.as_str());
    let attachments = &submission.attachments;
    if attachments.iter().any(|a| a.transfer == Transfer::EightBit) {
        builder = builder.header("Content-Transfer-Encoding", Raw::new("8bit"));
    }
    if !attachments.is_empty() {
        builder.attachments = Some(attachments.iter().map(part).collect());
    }
    builder.write_to_vec()
}

/// One attachment's part; an unencoded one is written as it is.
fn part(attachment: &Attachment) -> MimePart<'_> {
    let media_type = &attachment.media_type;
    let content_type = media_type.params().iter().fold(
        ContentType::new(media_type.essence()),
        |t, (name, value)| t.attribute(name.as_str(), value.as_str()),
    );
    let part = MimePart::new(content_type, attachment.data.as_slice())
        .attachment(attachment.filename.as_str());
    match attachment.transfer.unencoded_name() {
        Some(encoding) => part.transfer_encoding(encoding),
        None => part,
    }
}

/// Line ends as CRLF, whatever the client used.
fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::submission::parse_message;
    use mtp_proto::mmtp::json::Json;

    #[test]
    fn builds_with_the_gateway_id_and_checks_the_size() {
        let json = Json::from_slice(
            br#"{"sender":"a@x.test","recipients":["b@x.test"],"subject":"Hi","body":"one\ntwo"}"#,
        )
        .unwrap();
        let s = parse_message(&json, &Limits::default()).unwrap();
        let id = new_id(1_700_000_000_000, "gw.test");
        assert_ne!(id, new_id(1_700_000_000_000, "gw.test"));
        let m = message(&s, &id, "gw.test", 1_700_000_000_000, &Limits::default()).unwrap();
        let text = String::from_utf8(m.data.clone()).unwrap();
        assert!(text.contains(&format!("<{id}@gw.test>")), "{text}");
        assert!(text.contains("one\r\ntwo"), "{text}");
        let small = Limits {
            max_message_bytes: 10,
            ..Limits::default()
        };
        let e = message(&s, &id, "gw.test", 0, &small).unwrap_err();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
