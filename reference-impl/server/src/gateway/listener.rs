//! The gateway's HTTP listener: a hand-written accept loop instead of `axum::serve`, which
//! has no connection limit and no timeouts.
//!
//! Up to `max_connections` connections are served at once, each by hyper (HTTP/1.1 with
//! keep-alive) under the header and idle timeouts of its [`Activity`]. A connection past the
//! limit is answered `503` with `Connection: close` (while at most [`REFUSING`] such answers
//! are under way; past that it is closed unanswered) and never reaches hyper, so it holds no
//! more than its socket for at most [`REFUSAL_LINGER`]. Shutting down stops accepting, asks
//! every connection to finish its request and close, and waits for them.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

use super::activity::{Activity, Timeouts, Watched};
use super::limits::Limits;

/// Refusals (503 past the connection limit) under way at once; more are closed unanswered.
pub(super) const REFUSING: usize = 64;
/// The longest a refused connection is kept to deliver its 503.
pub(super) const REFUSAL_LINGER: Duration = Duration::from_secs(1);
/// hyper's read buffer: a request head larger than this gets 431.
const MAX_HEAD_BUFFER: usize = 64 * 1024;
/// The pause after a failed accept (such as EMFILE), so that the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `router` on `listener` until `stop` changes, then waits for the connections.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    mut stop: watch::Receiver<bool>,
) {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let refusing = Arc::new(Semaphore::new(REFUSING));
    let timeouts = Timeouts {
        header: limits.header_timeout,
        idle: limits.idle_timeout,
    };
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "the HTTP gateway could not accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let connection = Connection {
                    router: router.clone(),
                    peer,
                    timeouts,
                    stop: stop.clone(),
                    _slot: slot,
                };
                tokio::spawn(connection.run(stream));
            }
            Err(_) => refuse(stream, &refusing, max),
        }
    }
    drop(listener);
    // Every connection gives its slot back when it ends.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// One accepted connection and what it needs.
struct Connection {
    router: Router,
    peer: SocketAddr,
    timeouts: Timeouts,
    stop: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(mut self, stream: TcpStream) {
        let activity = Activity::new(Instant::now(), self.timeouts);
        let io = TokioIo::new(Watched::new(stream, activity.clone()));
        let service = service(self.router, self.peer, activity.clone());
        let connection = http1::Builder::new()
            .keep_alive(true)
            .header_read_timeout(None)
            .max_buf_size(MAX_HEAD_BUFFER)
            .serve_connection(io, service);
        tokio::pin!(connection);
        let mut stopping = false;
        loop {
            let deadline = activity.deadline();
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(peer = %self.peer, error = %e, "HTTP connection ended");
                    }
                    return;
                }
                () = activity.changed() => {}
                () = sleep_until(deadline) => {
                    if activity.deadline().is_some_and(|d| d <= Instant::now()) {
                        tracing::debug!(peer = %self.peer, "HTTP connection timed out; closing it");
                        return;
                    }
                }
                _ = self.stop.changed(), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Sleeps until `deadline`, or for ever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The router as a hyper service that tells `activity` when a request begins and when its
/// response has been handed over, and gives handlers the peer address.
fn service(
    router: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<Answered>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Answered>, Infallible>> + Send,
> + Clone {
    let router = TowerToHyperService::new(router);
    hyper::service::service_fn(move |mut request: Request<Incoming>| {
        activity.serving();
        request.extensions_mut().insert(ConnectInfo(peer));
        let call = hyper::service::Service::call(&router, request);
        let activity = activity.clone();
        async move {
            let response = call.await?;
            Ok(response.map(|body| Answered { body, activity }))
        }
    })
}

/// A response body that marks its connection as waiting for the next request once hyper
/// is done with it (and drops it).
struct Answered {
    body: Body,
    activity: Arc<Activity>,
}

impl HttpBody for Answered {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Answered {
    fn drop(&mut self) {
        self.activity.answered(Instant::now());
    }
}

/// Past the connection limit: 503 and close, reading what the client sent meanwhile so that
/// the kernel does not reset the connection before the answer is read.
fn refuse(mut stream: TcpStream, refusing: &Arc<Semaphore>, max: usize) {
    let Ok(permit) = refusing.clone().try_acquire_owned() else {
        return; // dropped: closed unanswered
    };
    tokio::spawn(async move {
        let _permit = permit;
        let body = format!(
            r#"{{"error":"the gateway serves at most {max} HTTP connections at once; try again later"}}"#
        );
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
             retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = tokio::time::timeout(REFUSAL_LINGER, async {
            stream.write_all(answer.as_bytes()).await?;
            stream.shutdown().await?;
            let mut sink = [0u8; 4096];
            while stream.read(&mut sink).await? > 0 {}
            std::io::Result::Ok(())
        })
        .await;
    });
}
