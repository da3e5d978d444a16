//! What `POST /send` and `POST /batch` accept, checked field by field: the seed's JSON
//! (`sender`, `recipients`, `subject`, `body`, `metadata`, `attachments`) plus `readack`.
//!
//! The original Worker answered 200 to anything. Here every error names its field by JSON
//! path (`recipients[2]`, `attachments[0].content`, `metadata.campaign`), unknown and repeated
//! fields are errors, and `null` counts as absent for the optional fields. Nothing is queued
//! unless the whole message checks out.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use mtp_proto::smtp::Mailbox;

use super::attachment::{Attachment, MediaType};
use super::error::ApiError;
use super::limits::Limits;
use crate::client::mime::content_type_for;
use mtp_proto::mmtp::json::Json;

/// One message as the client asked for it, every field checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    /// The envelope sender (MAIL FROM) and the From header.
    pub sender: Mailbox,
    /// The recipients (RCPT TO and the To header): at least one, at most the limit, no address
    /// twice.
    pub recipients: Vec<Mailbox>,
    /// The Subject header, one line of at most 998 octets; empty leaves the header out.
    pub subject: String,
    /// The text body as given (line ends are made CRLF when the message is built).
    pub body: String,
    /// VMTP METADATA, in the order given.
    pub metadata: Vec<(String, String)>,
    /// Files attached after the body, in the order given.
    pub attachments: Vec<Attachment>,
    /// Ask for a VMTP read receipt.
    pub read_ack: bool,
}

const MESSAGE_FIELDS: &[&str] = &[
    "sender",
    "recipients",
    "subject",
    "body",
    "metadata",
    "attachments",
    "readack",
];
const ATTACHMENT_FIELDS: &[&str] = &["filename", "content", "contentType"];
/// RFC 5322 §2.1.1: a line is at most 998 characters.
const MAX_HEADER_TEXT: usize = 998;

/// Checks one message object. Field paths in errors are relative to the message.
pub fn parse_message(value: &Json, limits: &Limits) -> Result<Submission, ApiError> {
    let mut m = Members::new(value, "")?;
    let sender = match m.take(&["sender"])? {
        Some(v) => mailbox(v, "sender")?,
        None => return Err(ApiError::field("sender", "required")),
    };
    let recipients = match m.take(&["recipients"])? {
        Some(v) => recipients(v, limits)?,
        None => return Err(ApiError::field("recipients", "required")),
    };
    let subject = match m.take(&["subject"])? {
        Some(v) => header_text(v, "subject")?,
        None => String::new(),
    };
    let body = match m.take(&["body"])? {
        Some(v) => string(v, "body")?.to_string(),
        None => String::new(),
    };
    let metadata = match m.take(&["metadata"])? {
        Some(v) => metadata(v, limits)?,
        None => Vec::new(),
    };
    let attachments = match m.take(&["attachments"])? {
        Some(v) => attachments(v, limits)?,
        None => Vec::new(),
    };
    let read_ack = match m.take(&["readack"])? {
        Some(Json::Bool(b)) => *b,
        Some(other) => return Err(wrong_type("readack", "a boolean", other)),
        None => false,
    };
    m.finish(MESSAGE_FIELDS)?;
    Ok(Submission {
        sender,
        recipients,
        subject,
        body,
        metadata,
        attachments,
        read_ack,
    })
}

/// Checks a `/batch` body: `{"messages": [...]}`. The outer error is for the request as a
/// whole; each message gets its own result, its error paths starting `messages[i]`.
pub fn parse_batch(
    value: &Json,
    limits: &Limits,
) -> Result<Vec<Result<Submission, ApiError>>, ApiError> {
    let mut m = Members::new(value, "")?;
    let Some(messages) = m.take(&["messages"])? else {
        return Err(ApiError::field("messages", "required"));
    };
    m.finish(&["messages"])?;
    let Json::Array(items) = messages else {
        return Err(wrong_type("messages", "an array", messages));
    };
    if items.is_empty() {
        return Err(ApiError::field("messages", "give at least one message"));
    }
    if items.len() > limits.max_batch {
        return Err(ApiError::field(
            "messages",
            format!(
                "{} messages; a batch holds at most {}",
                items.len(),
                limits.max_batch
            ),
        ));
    }
    Ok(items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            parse_message(item, limits).map_err(|e| e.within(&format!("messages[{i}]")))
        })
        .collect())
}

/// An object's members, taken by name; what is left over at the end is unknown.
struct Members<'a> {
    members: &'a [(String, Json)],
    taken: Vec<bool>,
    path: String,
}

impl<'a> Members<'a> {
    fn new(value: &'a Json, path: &str) -> Result<Self, ApiError> {
        let Json::Object(members) = value else {
            if path.is_empty() {
                let error = format!(
                    "the request body must be a JSON object, not {}",
                    value.kind()
                );
                return Err(ApiError::new(StatusCode::BAD_REQUEST, error));
            }
            return Err(wrong_type(path, "an object", value));
        };
        if let Some(key) = members.repeated_keys().first() {
            return Err(ApiError::field(join(path, key), "given more than once"));
        }
        let members = members.members();
        Ok(Self {
            members,
            taken: vec![false; members.len()],
            path: path.to_string(),
        })
    }

    /// The member named `names[0]`, or one of its aliases; `null` counts as absent.
    fn take(&mut self, names: &[&str]) -> Result<Option<&'a Json>, ApiError> {
        let mut found: Option<(&str, &'a Json)> = None;
        for (i, (key, value)) in self.members.iter().enumerate() {
            if !names.contains(&key.as_str()) {
                continue;
            }
            self.taken[i] = true;
            if let Some((first, _)) = found {
                return Err(ApiError::field(
                    join(&self.path, key),
                    format!("the same field as {first}; give one of them"),
                ));
            }
            found = Some((key, value));
        }
        Ok(found.map(|(_, v)| v).filter(|v| **v != Json::Null))
    }

    fn finish(self, expected: &[&str]) -> Result<(), ApiError> {
        match self.taken.iter().position(|t| !t) {
            Some(i) => Err(ApiError::field(
                join(&self.path, &self.members[i].0),
                format!("unknown field; expected {}", expected.join(", ")),
            )),
            None => Ok(()),
        }
    }
}

fn join(path: &str, key: &str) -> String {
    let simple = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let key = if simple {
        key.to_string()
    } else {
        format!("[{}]", serde_json::Value::from(key))
    };
    match (path.is_empty(), key.starts_with('[')) {
        (true, _) | (false, true) => format!("{path}{key}"),
        (false, false) => format!("{path}.{key}"),
    }
}

fn wrong_type(field: &str, expected: &str, got: &Json) -> ApiError {
    ApiError::field(field, format!("expected {expected}, got {}", got.kind()))
}

fn string<'a>(value: &'a Json, field: &str) -> Result<&'a str, ApiError> {
    match value {
        Json::String(s) => Ok(s),
        other => Err(wrong_type(field, "a string", other)),
    }
}

/// One line of text: no line breaks or other control characters (header injection).
fn header_text(value: &Json, field: &str) -> Result<String, ApiError> {
    let text = string(value, field)?;
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return Err(ApiError::field(
            field,
            "must be one line: no line breaks or control characters",
        ));
    }
    if text.len() > MAX_HEADER_TEXT {
        return Err(ApiError::field(
            field,
            format!("{} octets; at most {MAX_HEADER_TEXT}", text.len()),
        ));
    }
    Ok(text.to_string())
}

fn mailbox(value: &Json, field: &str) -> Result<Mailbox, ApiError> {
    let text = string(value, field)?;
    Mailbox::parse(text).map_err(|e| {
        ApiError::field(
            field,
            format!("{text:?} is not an address like name@example.com: {e}"),
        )
    })
}

fn recipients(value: &Json, limits: &Limits) -> Result<Vec<Mailbox>, ApiError> {
    let Json::Array(items) = value else {
        return Err(wrong_type("recipients", "an array of addresses", value));
    };
    if items.is_empty() {
        return Err(ApiError::field("recipients", "give at least one recipient"));
    }
    if items.len() > limits.max_recipients {
        return Err(ApiError::field(
            "recipients",
            format!(
                "{} recipients; a message has at most {}",
                items.len(),
                limits.max_recipients
            ),
        ));
    }
    let mut out: Vec<Mailbox> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("recipients[{i}]");
        let mailbox = mailbox(item, &field)?;
        if let Some(j) = out.iter().position(|m| same_mailbox(m, &mailbox)) {
            return Err(ApiError::field(
                field,
                format!("the same address as recipients[{j}]"),
            ));
        }
        out.push(mailbox);
    }
    Ok(out)
}

/// Domains compare without case (RFC 5321 §2.4); local parts exactly.
fn same_mailbox(a: &Mailbox, b: &Mailbox) -> bool {
    a.local_part == b.local_part && a.domain.eq_ignore_ascii_case(&b.domain)
}

fn metadata(value: &Json, limits: &Limits) -> Result<Vec<(String, String)>, ApiError> {
    let Json::Object(members) = value else {
        return Err(wrong_type("metadata", "an object of strings", value));
    };
    Members::new(value, "metadata")?;
    if members.len() > limits.max_metadata_entries {
        return Err(ApiError::field(
            "metadata",
            format!(
                "{} entries; at most {}",
                members.len(),
                limits.max_metadata_entries
            ),
        ));
    }
    let mut total = 0;
    let mut out = Vec::with_capacity(members.len());
    for (key, value) in members.members() {
        let field = join("metadata", key);
        if !metadata_key_ok(key) {
            return Err(ApiError::field(
                field,
                "a metadata key matches [A-Za-z0-9][A-Za-z0-9._-]{0,63}",
            ));
        }
        let value = string(value, &field)?;
        if value.chars().any(|c| matches!(c, '\r' | '\n' | '\0')) {
            return Err(ApiError::field(
                field,
                "must not contain line breaks or NUL",
            ));
        }
        total += key.len() + value.len();
        out.push((key.clone(), value.to_string()));
    }
    if total > limits.max_metadata_bytes {
        return Err(ApiError::field(
            "metadata",
            format!(
                "{total} octets of keys and values; at most {}",
                limits.max_metadata_bytes
            ),
        ));
    }
    Ok(out)
}

/// VMTP: `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`.
fn metadata_key_ok(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && key.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn attachments(value: &Json, limits: &Limits) -> Result<Vec<Attachment>, ApiError> {
    let Json::Array(items) = value else {
        return Err(wrong_type("attachments", "an array", value));
    };
    if items.len() > limits.max_attachments {
        return Err(ApiError::field(
            "attachments",
            format!(
                "{} attachments; at most {}",
                items.len(),
                limits.max_attachments
            ),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| attachment(item, &format!("attachments[{i}]")))
        .collect()
}

/// `{"filename", "content" (base64), "contentType"}`; `name`, `data`, `content_type` and
/// `type` are accepted as other spellings, and a missing content type is guessed from the
/// file name. The content type may have parameters; see [`Attachment`] for how the content
/// travels and what cannot.
fn attachment(value: &Json, path: &str) -> Result<Attachment, ApiError> {
    let mut m = Members::new(value, path)?;
    let filename = match m.take(&["filename", "name"])? {
        Some(v) => header_text(v, &join(path, "filename"))?,
        None => return Err(ApiError::field(join(path, "filename"), "required")),
    };
    if filename.is_empty() {
        return Err(ApiError::field(join(path, "filename"), "must not be empty"));
    }
    let data = match m.take(&["content", "data"])? {
        Some(v) => base64_data(string(v, &join(path, "content"))?)
            .map_err(|e| ApiError::field(join(path, "content"), e))?,
        None => return Err(ApiError::field(join(path, "content"), "required")),
    };
    let media_type = match m.take(&["contentType", "content_type", "type"])? {
        Some(v) => {
            let field = join(path, "contentType");
            MediaType::parse(string(v, &field)?).map_err(|e| ApiError::field(field, e))?
        }
        None => MediaType::parse(content_type_for(&filename))
            .unwrap_or_else(|e| unreachable!("the guessed types are valid: {e}")),
    };
    m.finish(ATTACHMENT_FIELDS)?;
    Attachment::new(filename, media_type, data)
        .map_err(|e| ApiError::field(join(path, "content"), e))
}

/// Standard base64; padding optional, whitespace (line breaks of wrapped base64) ignored.
fn base64_data(text: &str) -> Result<Vec<u8>, String> {
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    ENGINE
        .decode(compact.as_bytes())
        .map_err(|e| format!("not valid base64: {e}"))
}

#[cfg(test)]
#[path = "submission_tests.rs"]
mod tests;
