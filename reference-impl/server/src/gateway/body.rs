//! Reading request bodies within bounds: the size limit while streaming, a memory budget
//! shared by every body in flight, and a deadline for a body that stalls or trickles.
//!
//! Every body is read here, before any route runs, so the bounds hold for every route (also
//! the ones that ignore their body). A body that breaks one is answered at once and dropped
//! with its buffer:
//!
//! - over `max_request_bytes` while streaming (chunked, or longer than declared): 413;
//! - not fitting the budget (`max_body_memory` octets over all bodies in flight): 503. A body
//!   with a `Content-Length` reserves it all before its first octet is read, so it is refused
//!   before it is sent; a chunked body reserves as it arrives;
//! - no octet for `body_timeout`, or after `body_timeout` fewer than `body_min_rate` octets
//!   per second on average since the body began (Apache's mod_reqtimeout model): 408.
//!
//! Each of these answers says `Connection: close`, since the rest of the body is not read.
//! The reservation is kept until the route has answered: the route holds the body until then.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::ApiError;
use super::limits::Limits;

/// The bounds on request bodies and the budget they share.
pub(crate) struct BodyRules {
    max_bytes: usize,
    timeout: Duration,
    min_rate: u64,
    budget: Arc<Semaphore>,
    budget_total: usize,
}

impl BodyRules {
    pub(super) fn new(limits: &Limits) -> Self {
        let budget_total = limits.max_body_memory.min(Semaphore::MAX_PERMITS);
        Self {
            max_bytes: limits.max_request_bytes,
            timeout: limits.body_timeout,
            min_rate: limits.body_min_rate,
            budget: Arc::new(Semaphore::new(budget_total)),
            budget_total,
        }
    }

    /// Octets of the budget not held by a body in flight.
    #[cfg(test)]
    pub(super) fn available(&self) -> usize {
        self.budget.available_permits()
    }
}

/// Middleware: reads the body within [`BodyRules`], then runs the route on the buffered body.
pub(super) async fn read_body(rules: Arc<BodyRules>, request: Request, next: Next) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let declared = body.size_hint().exact();
    let (bytes, reservation) = match collect(&rules, body, declared).await {
        Ok(read) => read,
        Err(error) => return closing(error),
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    drop(reservation);
    response
}

/// Octets of the budget held for one body.
struct Reservation {
    permit: Option<OwnedSemaphorePermit>,
}

impl Reservation {
    /// Takes `octets` more from the budget, or says no at once.
    fn grow(&mut self, rules: &BodyRules, octets: usize) -> Result<(), ApiError> {
        let permit = u32::try_from(octets)
            .ok()
            .and_then(|n| rules.budget.clone().try_acquire_many_owned(n).ok())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "the gateway holds as many request bodies as it can ({} octets); try again later",
                        rules.budget_total
                    ),
                )
            })?;
        match &mut self.permit {
            Some(held) => held.merge(permit),
            None => self.permit = Some(permit),
        }
        Ok(())
    }
}

async fn collect(
    rules: &BodyRules,
    mut body: Body,
    declared: Option<u64>,
) -> Result<(Bytes, Reservation), ApiError> {
    let mut reservation = Reservation { permit: None };
    // The declared length is at most the limit: `oversize` refused longer ones.
    let declared = declared.and_then(|n| usize::try_from(n).ok());
    let mut buffer = Vec::new();
    if let Some(length) = declared {
        reservation.grow(rules, length)?;
        buffer.reserve_exact(length);
    }
    let start = Instant::now();
    let mut last = start;
    loop {
        let received = u64::try_from(buffer.len()).unwrap_or(u64::MAX);
        let deadline = deadline(start, last, received, rules.timeout, rules.min_rate);
        let frame = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
        let frame = match tokio::time::timeout_at(deadline, frame).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("the request body could not be read: {e}"),
                ));
            }
            Err(_) => return Err(too_slow(received, rules)),
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        last = Instant::now();
        let total = buffer.len() + data.len();
        if total > rules.max_bytes {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the request body is over {} octets, the most the gateway accepts",
                    rules.max_bytes
                ),
            ));
        }
        if total > declared.unwrap_or(0) {
            reservation.grow(rules, total - buffer.len().max(declared.unwrap_or(0)))?;
        }
        buffer.extend_from_slice(&data);
    }
    Ok((Bytes::from(buffer), reservation))
}

/// When a body that began at `start`, last brought octets at `last` and has brought
/// `received` octets so far is cut off: `timeout` after its last octet, and never later than
/// `timeout` plus one second for every `min_rate` octets received.
pub(crate) fn deadline(
    start: Instant,
    last: Instant,
    received: u64,
    timeout: Duration,
    min_rate: u64,
) -> Instant {
    let stalled = last + timeout;
    if min_rate == 0 {
        return stalled;
    }
    let earned = Duration::from_millis(received.saturating_mul(1000) / min_rate);
    stalled.min(start + timeout + earned)
}

fn too_slow(received: u64, rules: &BodyRules) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        format!(
            "the request body stalled or came too slowly ({received} octets received; the gateway waits {} s for the next octet and wants {} octets per second after that)",
            rules.timeout.as_secs_f64(),
            rules.min_rate
        ),
    )
}

/// The error, and the connection closed after it: the rest of the body is not read.
fn closing(error: ApiError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_cut_off_when_it_stalls_or_trickles() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        // Nothing yet: the timeout from the start.
        assert_eq!(deadline(t0, t0, 0, s(60), 1024), t0 + s(60));
        // Steady progress: the last octet plus the timeout, while the rate holds.
        assert_eq!(
            deadline(t0, t0 + s(100), 1024 * 100, s(60), 1024),
            t0 + s(160)
        );
        // A trickle: 10 octets in 100 s earn 10 ms beyond the timeout.
        assert_eq!(
            deadline(t0, t0 + s(50), 10, s(60), 1024),
            t0 + s(60) + Duration::from_millis(9)
        );
        // No rate: only stalls count.
        assert_eq!(deadline(t0, t0 + s(500), 1, s(60), 0), t0 + s(560));
    }

    #[tokio::test]
    async fn the_budget_is_shared_and_given_back() {
        let limits = Limits {
            max_request_bytes: 100,
            max_body_memory: 150,
            ..Limits::default()
        };
        let rules = BodyRules::new(&limits);
        let (bytes, held) = collect(&rules, Body::from(vec![b'x'; 100]), Some(100))
            .await
            .unwrap();
        assert_eq!(bytes.len(), 100);
        assert_eq!(rules.available(), 50);
        let e = collect(&rules, Body::from(vec![b'x'; 60]), Some(60))
            .await
            .err()
            .unwrap();
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        drop(held);
        assert_eq!(rules.available(), 150);
        let e = collect(&rules, Body::from(vec![b'x'; 101]), None)
            .await
            .err()
            .unwrap();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(rules.available(), 150);
    }
}
