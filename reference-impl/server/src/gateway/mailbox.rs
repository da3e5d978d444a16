//! The reading side of the API: `GET /messages` and `GET /messages/{id}` over the local
//! store (the reference server's mailbox). Reading one message whole is what counts as
//! "the recipient read it" for READACK; listing does not.

use std::net::SocketAddr;

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use mtp_proto::smtp::Mailbox;
use mtp_proto::time::rfc3339;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::query::{Page, Params};
use super::readack::Reader;
use crate::store::{DeliveryStatus, StoredMessage};

/// `GET /messages?offset=&limit=&order=asc|desc&recipient=`: store (id) order, oldest first
/// unless `order=desc`; `recipient` keeps one mailbox's messages.
pub(super) async fn list(
    State(app): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let mut params = Params::new(query)?;
    let page = Page::take(&mut params, app.outbox.limits().max_page)?;
    let recipient = params.take("recipient")?;
    params.finish(&["offset", "limit", "order", "recipient"])?;
    let all = match &recipient {
        Some(r) => app.store.for_recipient(r),
        None => app.store.list(),
    };
    let total = all.len();
    let page_items: Vec<&StoredMessage> = if page.newest_first {
        all.iter()
            .rev()
            .skip(page.offset)
            .take(page.limit)
            .collect()
    } else {
        all.iter().skip(page.offset).take(page.limit).collect()
    };
    let mut messages = Vec::with_capacity(page_items.len());
    for m in page_items {
        let data = app.store.data(&m.id).map_err(|e| ApiError::store(&e))?;
        messages.push(Summary::new(m, &data));
    }
    let body = Listing {
        total,
        offset: page.offset,
        limit: page.limit,
        order: page.order(),
        messages,
    };
    Ok(axum::Json(body).into_response())
}

/// `GET /messages/{id}?reader=ADDRESS`: the whole message. The first read of a READACK
/// message marks it OPENED and notifies a local sender; `reader` names the recipient who
/// reads (it must be one of the message's recipients).
pub(super) async fn get(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let mut params = Params::new(query)?;
    let reader = params.take("reader")?;
    params.finish(&["reader"])?;
    let not_found = || ApiError::not_found(format!("no message with id {id:?} in the store"));
    let stored = app.store.get(&id).ok_or_else(not_found)?;
    let reader = match reader {
        Some(r) => Some(check_reader(&r, &stored)?),
        None => None,
    };
    let data = app.store.data(&id).map_err(|e| ApiError::store(&e))?;
    let reader = Reader {
        address: reader,
        peer: peer.to_string(),
    };
    let effect = app
        .notifier
        .on_read(&app.store, &stored, &reader, app.outbox.now_ms())
        .await
        .map_err(|e| ApiError::store(&e))?;
    // Read again: the status may have just changed to OPENED.
    let stored = app.store.get(&id).ok_or_else(not_found)?;
    let body = Full {
        summary: Summary::new(&stored, &data),
        data: base64::engine::general_purpose::STANDARD.encode(&data),
        text: std::str::from_utf8(&data).ok(),
        helo: &stored.message.helo,
        tls: stored.message.tls,
        read_receipt: effect
            .opened
            .then(|| json!({"notification": effect.notification})),
    };
    Ok(axum::Json(body).into_response())
}

fn check_reader(reader: &str, stored: &StoredMessage) -> Result<String, ApiError> {
    let mailbox = Mailbox::parse(reader)
        .map_err(|e| ApiError::field("reader", format!("{reader:?} is not an address: {e}")))?;
    let is_recipient = stored.message.recipients.iter().any(|r| {
        Mailbox::parse(r).is_ok_and(|m| {
            m.local_part == mailbox.local_part && m.domain.eq_ignore_ascii_case(&mailbox.domain)
        })
    });
    if !is_recipient {
        return Err(ApiError::field("reader", "not a recipient of this message"));
    }
    Ok(mailbox.to_string())
}

#[derive(Serialize)]
struct Listing<'a> {
    total: usize,
    offset: usize,
    limit: usize,
    order: &'static str,
    messages: Vec<Summary<'a>>,
}

/// The fields a listing shows for each message.
#[derive(Serialize)]
struct Summary<'a> {
    id: &'a str,
    /// The reverse-path; empty for `<>`.
    from: &'a str,
    to: &'a [String],
    subject: Option<String>,
    metadata: Ordered<'a>,
    status: &'static str,
    readack: bool,
    received_at: String,
    opened_at: Option<String>,
    size: usize,
    protocol: &'a str,
}

impl<'a> Summary<'a> {
    fn new(m: &'a StoredMessage, data: &[u8]) -> Self {
        Self {
            id: &m.id,
            from: &m.message.reverse_path,
            to: &m.message.recipients,
            subject: subject(data),
            metadata: Ordered(&m.message.metadata),
            status: match m.status {
                DeliveryStatus::Pending => "PENDING",
                DeliveryStatus::Delivered => "DELIVERED",
                DeliveryStatus::Opened => "OPENED",
            },
            readack: m.message.read_ack,
            received_at: rfc3339(m.message.received_at_ms),
            opened_at: m.opened_at_ms.map(rfc3339),
            size: data.len(),
            protocol: &m.message.protocol,
        }
    }
}

/// `GET /messages/{id}`: the summary, the message bytes (base64, and as text when they are
/// UTF-8), and what the read did for READACK.
#[derive(Serialize)]
struct Full<'a> {
    #[serde(flatten)]
    summary: Summary<'a>,
    data: String,
    text: Option<&'a str>,
    helo: &'a str,
    tls: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    read_receipt: Option<serde_json::Value>,
}

/// The Subject header's raw text (unfolded), if any.
fn subject(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let headers = text.split("\r\n\r\n").next()?;
    let mut lines = headers.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("subject") {
            let mut value = value.trim().to_string();
            while let Some(next) = lines.next_if(|l| l.starts_with([' ', '\t'])) {
                value.push(' ');
                value.push_str(next.trim());
            }
            return Some(value);
        }
    }
    None
}

/// Metadata pairs as a JSON object, in the order received.
struct Ordered<'a>(&'a [(String, String)]);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}
