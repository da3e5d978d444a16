//! The reference's HTTP gateway as a relay-test target (`--inject http://HOST:PORT`): the
//! harness hands each case's message to `POST /send` as the gateway's JSON (`sender`,
//! `recipients`, `subject`, `body`), and the gateway builds the message itself and delivers
//! it through the reference client and its retry queue (the outbox) to the next hop. What
//! became of it is read back from `GET /deliveries/{id}`: the case is over once that record
//! is final, and the record is shown with the submission.
//!
//! Such a target composes what it sends: it is an originator, not a relay of octets it
//! received by SMTP. A case whose point the JSON cannot carry (a null reverse-path, header
//! fields of its own such as `Received:`, content that is not UTF-8 text) is not expressible
//! and is SKIP; judgements on what a receiver-SMTP does with a message it relays are not
//! applicable ([`super::judge`]).

use std::time::Duration;

use mtpspec_runner::runner::http::{
    HttpResponse, HttpState, Method, Outgoing, render_request, render_response,
};
use serde_json::{Value, json};

use super::content::{field_value, header_fields, is_field};
use super::submit::Submitted;

/// How long one HTTP exchange may take.
const EXCHANGE: Duration = Duration::from_secs(30);

/// Header fields the gateway writes itself from the JSON (or from the body): a case's own
/// values of them are left out. Any other field cannot be submitted.
const GATEWAY_FIELDS: &[&str] = &[
    "Date",
    "From",
    "To",
    "Message-ID",
    "Subject",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
];

/// The delivery states after which nothing more happens (`GET /deliveries/{id}`'s `status`).
const FINAL: &[&str] = &["delivered", "partial", "failed"];

/// The gateway's JSON for a message, or why the message cannot be put so. `content` is what a
/// receiver would store (the transparency dots removed).
pub fn message_json(sender: &str, rcpts: &[String], content: &[u8]) -> Result<Value, String> {
    if sender.is_empty() {
        return Err("the gateway takes no null reverse-path (its `sender` is required)".into());
    }
    let (fields, body_at) = header_fields(content);
    let mut subject = String::new();
    for field in &fields {
        if is_field(field, "Subject") {
            subject = field_value(field);
        } else if !GATEWAY_FIELDS.iter().any(|name| is_field(field, name)) {
            let name = String::from_utf8_lossy(field);
            let name = name.split(':').next().unwrap_or_default();
            return Err(format!(
                "the gateway writes the header section itself: the case's `{name}:` field \
                 cannot be submitted"
            ));
        }
    }
    let body = std::str::from_utf8(&content[body_at..])
        .map_err(|_| "the gateway takes the body as JSON text: the case's is not UTF-8")?;
    Ok(json!({
        "sender": sender,
        "recipients": rcpts,
        "subject": subject,
        "body": body,
    }))
}

/// An accepted submission: where its delivery record is.
#[derive(Clone, Debug)]
pub struct Accepted {
    /// The record's path, `/deliveries/{id}`.
    pub delivery: String,
}

/// Submits `message` to the gateway at `base` (`http://HOST:PORT`); returns the outcome, the
/// transcript (`C:`/`S:` lines) and, when accepted, where its delivery record is.
pub async fn submit(base: &str, message: &Value) -> (Submitted, Vec<String>, Option<Accepted>) {
    let request = Outgoing {
        method: Method::POST,
        path: "/send".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: Some(message.to_string().into_bytes()),
    };
    let mut transcript = vec![shown("C: ", &render_request(&request))];
    let mut http = HttpState::default();
    let response = match http.send(base, request, EXCHANGE, None).await {
        Ok(response) => response.clone(),
        Err(why) => return (Submitted::Unreachable { why }, transcript, None),
    };
    transcript.push(shown("S: ", &render_response(&response)));
    let delivery = response
        .json()
        .ok()
        .and_then(|v| v.get("delivery").and_then(Value::as_str).map(String::from));
    match (response.status, delivery) {
        (202, Some(delivery)) => (
            Submitted::Accepted {
                reply: format!("202 {}", body_text(&response)),
                extra: Vec::new(),
            },
            transcript,
            Some(Accepted { delivery }),
        ),
        (status, _) => (
            Submitted::Refused {
                stage: "POST /send".into(),
                reply: format!("{status} {}", body_text(&response)),
            },
            transcript,
            None,
        ),
    }
}

/// The delivery record of an accepted submission, with the exchange as transcript lines.
pub async fn delivery(base: &str, accepted: &Accepted) -> (Option<Value>, Vec<String>) {
    let request = Outgoing {
        method: Method::GET,
        path: accepted.delivery.clone(),
        headers: Vec::new(),
        body: None,
    };
    let mut transcript = vec![shown("C: ", &render_request(&request))];
    let mut http = HttpState::default();
    match http.send(base, request, EXCHANGE, None).await {
        Ok(response) => {
            transcript.push(shown("S: ", &render_response(response)));
            let record = (response.status == 200)
                .then(|| response.json().ok())
                .flatten();
            (record, transcript)
        }
        Err(why) => {
            transcript.push(format!("S: (no answer: {why})"));
            (None, transcript)
        }
    }
}

/// Whether the record is final: delivered, partial or failed.
pub fn finished(record: &Value) -> bool {
    record
        .get("status")
        .and_then(Value::as_str)
        .is_some_and(|s| FINAL.contains(&s))
}

/// The record in one line: its status and each recipient's, with the last reply.
pub fn summary(record: &Value) -> String {
    let status = record.get("status").and_then(Value::as_str).unwrap_or("?");
    let attempts = record.get("attempts").and_then(Value::as_u64).unwrap_or(0);
    let rcpts: Vec<String> = record
        .get("recipients")
        .and_then(Value::as_array)
        .map(|all| {
            all.iter()
                .map(|r| {
                    let address = r.get("address").and_then(Value::as_str).unwrap_or("?");
                    let state = r.get("status").and_then(Value::as_str).unwrap_or("?");
                    match r.get("reply").and_then(Value::as_str) {
                        Some(reply) => format!("{address} {state} ({reply})"),
                        None => format!("{address} {state}"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    format!("{status} after {attempts} attempt(s): {}", rcpts.join(", "))
}

/// A response body in one line.
fn body_text(response: &HttpResponse) -> String {
    String::from_utf8_lossy(&response.body).replace(['\r', '\n'], " ")
}

/// A rendered request or response as one transcript line per line, each with `prefix`.
fn shown(prefix: &str, rendered: &[u8]) -> String {
    String::from_utf8_lossy(rendered)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENDER: &str = "sender-t1@return.relay.test";

    fn rcpts() -> Vec<String> {
        vec!["rcpt-t1@relay.test".into()]
    }

    #[test]
    fn the_subject_and_body_go_into_the_json_and_the_gateways_own_fields_are_left_out() {
        let content = b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nFrom: <x@y>\r\nTo: <z@w>\r\n\
            Message-ID: <a@b>\r\nSubject: dots t1\r\nContent-Type: text/plain; charset=utf-8\r\n\
            \r\nfirst\r\n.\r\nlast\n";
        let json = message_json(SENDER, &rcpts(), content).expect("expressible");
        assert_eq!(json["subject"], "dots t1");
        assert_eq!(json["body"], "first\r\n.\r\nlast\n");
        assert_eq!(json["sender"], SENDER);
        assert_eq!(json["recipients"][0], "rcpt-t1@relay.test");
    }

    #[test]
    fn a_null_sender_a_field_of_its_own_or_a_body_that_is_not_utf8_cannot_be_submitted() {
        let plain = b"Subject: s\r\n\r\nbody\r\n";
        let why = message_json("", &rcpts(), plain).expect_err("null sender");
        assert!(why.contains("null reverse-path"), "{why}");
        let received =
            b"Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: s\r\n\r\nx\r\n";
        let why = message_json(SENDER, &rcpts(), received).expect_err("Received");
        assert!(why.contains("`Received:`"), "{why}");
        let latin1 = b"Subject: s\r\n\r\ncaf\xe9\r\n";
        let why = message_json(SENDER, &rcpts(), latin1).expect_err("not UTF-8");
        assert!(why.contains("not UTF-8"), "{why}");
    }

    #[test]
    fn a_record_is_final_once_delivered_partial_or_failed_and_reads_in_one_line() {
        let record = json!({"status": "failed", "attempts": 1, "recipients": [
            {"address": "rcpt-t1@relay.test", "status": "refused", "reply": "550 5.1.1 no"}]});
        assert!(finished(&record));
        assert_eq!(
            summary(&record),
            "failed after 1 attempt(s): rcpt-t1@relay.test refused (550 5.1.1 no)"
        );
        assert!(!finished(&json!({"status": "deferred"})));
    }
}
