//! From a checked [`Submission`] to the message that goes upstream: a gateway id, the
//! RFC 5322 text built with [`crate::client::mime`] (its Message-ID carries the gateway id),
//! and the size check against [`Limits::max_message_bytes`].

use axum::http::StatusCode;
use mtp_proto::smtp::client::Message;

use super::error::ApiError;
use super::limits::Limits;
use super::submission::Submission;
use crate::client::mime::{Compose, build, new_message_id};

/// A new gateway id: unique within the process by a counter, across processes and restarts by
/// the time and the process id (`18c2f3a1b2.3f21.7`). It is the local part of the message's
/// Message-ID, so the delivered mail can be traced back to it.
pub fn new_id(now_ms: u64, hostname: &str) -> String {
    let message_id = new_message_id(now_ms, hostname);
    match message_id.split_once('@') {
        Some((local, _)) => local.to_string(),
        None => message_id,
    }
}

/// Builds the message for `submission` under gateway id `id`.
pub fn message(
    submission: &Submission,
    id: &str,
    hostname: &str,
    now_ms: u64,
    limits: &Limits,
) -> Result<Message, ApiError> {
    let compose = Compose {
        from: submission.sender.to_string(),
        to: submission
            .recipients
            .iter()
            .map(ToString::to_string)
            .collect(),
        subject: submission.subject.clone(),
        text: crlf(&submission.body),
        attachments: submission.attachments.clone(),
        date: i64::try_from(now_ms / 1000).unwrap_or(i64::MAX),
        message_id: format!("{id}@{hostname}"),
    };
    let data = build(&compose).map_err(|e| {
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

/// Line ends as CRLF, whatever the client used.
fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::json::Json;
    use crate::gateway::submission::parse_message;

    #[test]
    fn builds_with_the_gateway_id_and_checks_the_size() {
        let json = Json::parse(
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
