//! Refusing a request body that is too large so that the client hears why.
//!
//! Answering 413 and closing while the client is still writing makes the kernel reset the
//! connection, and the client then sees "connection reset" instead of the answer. A request
//! whose `Content-Length` is over the limit is therefore read to its end and thrown away, up
//! to [`DRAIN_FACTOR`] times the limit and for at most [`DRAIN_TIME`], before the 413 goes
//! out; nothing of it is parsed or kept. A body larger still is refused at once.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// How many times the limit is drained before the gateway stops listening.
pub(super) const DRAIN_FACTOR: u64 = 4;
/// The longest a refused body is drained.
pub(super) const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Middleware: a declared body over `max_request_bytes` gets 413 before any handler runs.
pub(super) async fn refuse_oversize(
    max_request_bytes: usize,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let limit = u64::try_from(max_request_bytes).unwrap_or(u64::MAX);
    match declared {
        Some(length) if length > limit => {
            if length <= limit.saturating_mul(DRAIN_FACTOR) {
                let _ = tokio::time::timeout(DRAIN_TIME, drain(request.into_body())).await;
            }
            too_large(length, limit)
        }
        _ => next.run(request).await,
    }
}

/// Reads a body to its end, keeping nothing.
async fn drain(mut body: Body) {
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if frame.is_err() {
            return;
        }
    }
}

fn too_large(length: u64, limit: u64) -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is {length} octets; the gateway accepts at most {limit}"),
    )
    .into_response()
}
