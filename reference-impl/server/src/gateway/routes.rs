//! The sending side of the API: `POST /send`, `POST /batch`, and `GET /deliveries[/{id}]`,
//! where an accepted message's delivery state is read.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use super::AppState;
use super::compose;
use super::error::ApiError;
use super::outbox::Prepared;
use super::query::{Page, Params};
use super::submission::{Submission, parse_batch, parse_message};
use mtp_proto::mmtp::json::Json;

/// `POST /send`: one message; 202 with its id once it is queued (and spooled).
pub(super) async fn send(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let json = json_body(&headers, body)?;
    let submission = parse_message(&json, app.outbox.limits())?;
    let prepared = prepare(&app, &submission)?;
    let result = app.outbox.accept(vec![prepared]).await.pop();
    let id = result.unwrap_or_else(|| unreachable!("accept answers once per message"))?;
    let location = format!("/deliveries/{id}");
    // The seed Worker answers `{"status":"accepted","id":..}`; `delivery` is ours.
    let body = json!({"status": "accepted", "id": id, "delivery": location});
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        axum::Json(body),
    )
        .into_response())
}

/// Any route the gateway does not have. The seed's Worker sends every POST other than
/// `/batch` as one message (its client library posts to the bare worker URL), so a POST here
/// is `POST /send`; any other method gets 404.
pub(super) async fn unknown_route(
    method: Method,
    state: State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if method == Method::POST {
        send(state, headers, body).await
    } else {
        Err(ApiError::not_found("no such route; see /openapi.json"))
    }
}

/// `POST /batch`: `{"messages": [...]}`; one result per message, in order. 202 when every
/// message was accepted, 207 when some were, and the errors' status (400 if mixed) when none.
pub(super) async fn batch(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let json = json_body(&headers, body)?;
    let items = parse_batch(&json, app.outbox.limits())?;
    let mut results: Vec<Option<Result<String, ApiError>>> = Vec::with_capacity(items.len());
    let mut prepared = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|s| prepare(&app, s).map_err(|e| e.within(&format!("messages[{i}]"))))
        {
            Ok(p) => {
                prepared.push(p);
                results.push(None);
            }
            Err(e) => results.push(Some(Err(e))),
        }
    }
    let mut accepted = app.outbox.accept(prepared).await.into_iter();
    let results: Vec<Result<String, ApiError>> = results
        .into_iter()
        .map(|r| {
            r.or_else(|| accepted.next())
                .unwrap_or_else(|| unreachable!("accept answers once per message"))
        })
        .collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let status = batch_status(&results, ok);
    let entries: Vec<BatchEntry<'_>> = results
        .iter()
        .enumerate()
        .map(|(index, r)| match r {
            Ok(id) => BatchEntry {
                index,
                status: StatusCode::ACCEPTED.as_u16(),
                id: Some(id),
                delivery: Some(format!("/deliveries/{id}")),
                error: None,
                field: None,
            },
            Err(e) => BatchEntry {
                index,
                status: e.status.as_u16(),
                id: None,
                delivery: None,
                error: Some(&e.error),
                field: e.field.as_deref(),
            },
        })
        .collect();
    let body = BatchAnswer {
        status: if ok > 0 { "accepted" } else { "rejected" },
        ids: results.iter().filter_map(|r| r.as_deref().ok()).collect(),
        accepted: ok,
        rejected: results.len() - ok,
        error: (ok == 0).then_some("no message was accepted; see results"),
        results: entries,
    };
    Ok((status, axum::Json(body)).into_response())
}

/// The `/batch` answer: the seed Worker's `{"status":"accepted","ids":[..]}` (the ids of the
/// accepted messages, in request order), then the per-message results it lacks.
#[derive(Serialize)]
struct BatchAnswer<'a> {
    status: &'static str,
    ids: Vec<&'a str>,
    accepted: usize,
    rejected: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    results: Vec<BatchEntry<'a>>,
}

/// One message's result in a `/batch` answer.
#[derive(Serialize)]
struct BatchEntry<'a> {
    index: usize,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

fn batch_status(results: &[Result<String, ApiError>], ok: usize) -> StatusCode {
    if ok == results.len() {
        return StatusCode::ACCEPTED;
    }
    if ok > 0 {
        return StatusCode::MULTI_STATUS;
    }
    let mut statuses = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.status));
    let first = statuses.next().unwrap_or(StatusCode::BAD_REQUEST);
    if statuses.all(|s| s == first) {
        first
    } else {
        StatusCode::BAD_REQUEST
    }
}

fn prepare(app: &AppState, submission: &Submission) -> Result<Prepared, ApiError> {
    let now = app.outbox.now_ms();
    let id = compose::new_id(now, &app.hostname);
    let message = compose::message(submission, &id, &app.hostname, now, app.outbox.limits())?;
    Ok(Prepared {
        id,
        subject: submission.subject.clone(),
        message,
        created_at_ms: now,
    })
}

/// The body as JSON: 413 past the size limit, 415 for a declared type other than JSON
/// (no Content-Type at all is taken as JSON, as curl -d sends it), 400 for bad JSON.
fn json_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Json, ApiError> {
    if let Some(value) = headers.get(header::CONTENT_TYPE) {
        let essence = value
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let json = essence == "application/json" || essence.ends_with("+json");
        // curl -d without -H sends this; the seed's curl example sets JSON explicitly.
        if !json && essence != "application/x-www-form-urlencoded" {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("send application/json, not {essence}"),
            ));
        }
    }
    let bytes = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is larger than the gateway accepts",
        ),
        status => ApiError::new(status, e.body_text()),
    })?;
    Json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the request body is not valid JSON: {e}"),
        )
    })
}

/// `GET /deliveries/{id}`.
pub(super) async fn delivery(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match app.outbox.get(&id) {
        Some(view) => Ok(axum::Json(view).into_response()),
        None => Err(ApiError::not_found(format!(
            "no delivery with id {id:?} (finished deliveries are kept for a while, and not across restarts)"
        ))),
    }
}

/// `GET /deliveries?offset=&limit=&order=`: acceptance order, oldest first by default.
pub(super) async fn deliveries(
    State(app): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let mut params = Params::new(query)?;
    let page = Page::take(&mut params, app.outbox.limits().max_page)?;
    params.finish(&["offset", "limit", "order"])?;
    let (total, items) = app.outbox.list(page.offset, page.limit, page.newest_first);
    let body = json!({
        "total": total, "offset": page.offset, "limit": page.limit, "order": page.order(),
        "deliveries": items,
    });
    Ok(axum::Json(body).into_response())
}
