//! The HTTP gateway (the seeds' Cloudflare Worker, done properly): an axum service beside the
//! reference server.
//!
//! | route | what |
//! | --- | --- |
//! | `POST /send` | one message (the seed's JSON); 202 with its id once queued |
//! | `POST /batch` | `{"messages": [...]}`; one result per message, never one dropped |
//! | `GET /deliveries[/{id}]` | what became of accepted messages (per recipient, VMTP or fallback) |
//! | `GET /messages[/{id}]` | the local store; reading a READACK message marks it OPENED |
//! | `GET /openapi.json` | the OpenAPI 3 document (`reference-impl/server/openapi.json`) |
//! | `POST` anywhere else | one message, as `POST /send` (the seed Worker's routing: its client posts to the bare URL) |
//!
//! Accepted messages go to the configured upstream through the reference client (VMTP with
//! per-feature fallback) and the retry queue ([`outbox`]). Invalid input gets 400 with a
//! JSON error naming the field; sizes and counts are bounded ([`Limits`]), and so are the
//! HTTP connections: how many at once (`listener`), how long a request head may take and a
//! kept-alive connection may idle (`activity`), how fast a body must come and how much
//! memory all bodies in flight may hold (`body`).

mod activity;
mod attachment;
mod body;
mod compose;
mod error;
mod limits;
mod listener;
mod mailbox;
mod openapi;
pub mod outbox;
mod oversize;
mod query;
mod readack;
mod routes;
mod submission;
mod upstream;

pub use attachment::{Attachment, MediaType, Transfer};
pub use error::{ApiError, GatewayError};
pub use limits::Limits;
pub use mtp_proto::mmtp::json::Json;
pub use openapi::DOCUMENT as OPENAPI_DOCUMENT;
pub use readack::{Notifier, ReadEffect, Reader};
pub use submission::{Submission, parse_batch, parse_message};
pub use upstream::{Upstream, UpstreamError};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use body::BodyRules;
use mtp_proto::smtp::client::ClientOptions;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::Timeouts;
use crate::client::queue::RetryPolicy;
use crate::store::{Store, StoreOptions};
use outbox::{Outbox, OutboxConfig};

/// Everything the gateway is configured with.
#[derive(Clone)]
pub struct GatewayOptions {
    /// The HTTP listener's address; port 0 picks a free one ([`RunningGateway::addr`] tells
    /// which).
    pub listen: SocketAddr,
    /// Where accepted messages are delivered, and how TLS is used there.
    pub upstream: Upstream,
    /// The name in Message-IDs and read notifications; also the EHLO name upstream.
    pub hostname: String,
    /// Senders in these domains get read notifications in the store.
    pub local_domains: Vec<String>,
    /// Connection, size, count and queue limits ([`Limits::default`] by default).
    pub limits: Limits,
    /// How long the client waits on the upstream (default: 60 s for every step).
    pub timeouts: Timeouts,
    /// Backoff and expiry for transient upstream failures (default: [`RetryPolicy::default`], 1
    /// minute doubling to 1 hour, given up after 5 days).
    pub retry: RetryPolicy,
    /// Where accepted messages are kept until delivered; `None` keeps them in memory only.
    pub spool_dir: Option<PathBuf>,
    /// The wall clock in Unix milliseconds.
    pub now_ms: fn() -> u64,
}

impl GatewayOptions {
    /// Options for `listen` and `upstream` with the defaults: hostname `mx.example.test`, local
    /// domain `example.test`, default limits, 60 s timeouts, the default retry policy, no spool
    /// (accepted messages kept in memory only) and the system clock.
    pub fn new(listen: SocketAddr, upstream: Upstream) -> Self {
        Self {
            listen,
            upstream,
            hostname: "mx.example.test".into(),
            local_domains: vec!["example.test".into()],
            limits: Limits::default(),
            timeouts: Timeouts::uniform(Duration::from_secs(60)),
            retry: RetryPolicy::default(),
            spool_dir: None,
            now_ms: crate::server::system_now_ms,
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub outbox: Outbox,
    pub store: Store,
    pub notifier: Arc<Notifier>,
    pub hostname: Arc<str>,
}

/// A started gateway.
pub struct RunningGateway {
    addr: SocketAddr,
    outbox: Outbox,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<()>,
    worker: JoinHandle<()>,
}

impl RunningGateway {
    /// Binds `options.listen` and serves; `store` is the local mailbox the `/messages` routes
    /// read (share the reference server's: [`crate::server::RunningServer::store`]).
    pub async fn start(options: GatewayOptions, store: Store) -> Result<Self, GatewayError> {
        options.limits.check().map_err(GatewayError::Limits)?;
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|e| GatewayError::Bind(options.listen, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| GatewayError::Bind(options.listen, e))?;
        let spool = match &options.spool_dir {
            Some(dir) => {
                Some(Store::open(dir, StoreOptions::default()).map_err(GatewayError::Spool)?)
            }
            None => None,
        };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let client = ClientOptions {
            helo_name: options.hostname.clone(),
            starttls: options.upstream.starttls,
            prefer_encrypt: options.upstream.starttls,
            ..ClientOptions::default()
        };
        let config = OutboxConfig {
            target: options.upstream.target.clone(),
            client,
            timeouts: options.timeouts.clone(),
            retry: options.retry.clone(),
            limits: options.limits.clone(),
            now_ms: options.now_ms,
        };
        let (outbox, worker) =
            Outbox::start(config, spool, shutdown_rx.clone()).map_err(GatewayError::Spool)?;
        let state = AppState {
            outbox: outbox.clone(),
            store,
            notifier: Arc::new(Notifier {
                hostname: options.hostname.clone(),
                local_domains: options.local_domains.clone(),
            }),
            hostname: options.hostname.as_str().into(),
        };
        let app = router(state, &options.limits);
        let limits = options.limits.clone();
        let server = tokio::spawn(async move {
            listener::serve(listener, app, &limits, shutdown_rx).await;
        });
        tracing::info!(%addr, upstream = %options.upstream.url, "HTTP gateway listening");
        Ok(Self {
            addr,
            outbox,
            shutdown,
            server,
            worker,
        })
    }

    /// The address the HTTP listener is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The outbox: the deliveries accepted and what became of them.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Stops accepting requests, lets the ones under way finish, and stops the outbox (what
    /// is still queued stays in the spool). Once this returns, the spool is closed and may be
    /// opened again.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.server.await;
        let _ = self.worker.await;
    }
}

fn router(state: AppState, limits: &Limits) -> Router {
    let max_request_bytes = limits.max_request_bytes;
    let bodies = Arc::new(BodyRules::new(limits));
    Router::new()
        .route("/send", post(routes::send))
        .route("/batch", post(routes::batch))
        .route("/deliveries", get(routes::deliveries))
        .route("/deliveries/{id}", get(routes::delivery))
        .route("/messages", get(mailbox::list))
        .route("/messages/{id}", get(mailbox::get))
        .route("/openapi.json", get(openapi::serve))
        .fallback(routes::unknown_route)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this route; see /openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(max_request_bytes))
        .layer(axum::middleware::from_fn(move |request, next| {
            body::read_body(bodies.clone(), request, next)
        }))
        .layer(axum::middleware::from_fn(move |request, next| {
            oversize::refuse_oversize(max_request_bytes, request, next)
        }))
        .with_state(state)
}
