//! The gateway's errors: [`ApiError`], what a request gets back (an HTTP status and a JSON
//! body `{"error": "...", "field": "recipients[2]"}` naming the offending field when there is
//! one), and [`GatewayError`], why the gateway could not start.

use std::fmt;
use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

/// A refused request: the status and the JSON body the client gets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiError {
    /// The HTTP status (400 for a bad field); not part of the JSON body.
    #[serde(skip)]
    pub status: StatusCode,
    /// A sentence a person can act on.
    pub error: String,
    /// The JSON path of the offending field (`messages[1].recipients[2]`), or the query
    /// parameter; absent when the whole request is at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// 400 naming `field`.
    pub fn field(field: impl Into<String>, error: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: error.into(),
            field: Some(field.into()),
        }
    }

    /// A status without a field.
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        Self {
            status,
            error: error.into(),
            field: None,
        }
    }

    /// 404 with `what` as the message, e.g. an unknown delivery id or route.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, what)
    }

    /// A store failure: the client did nothing wrong.
    pub fn store(e: &StoreError) -> Self {
        tracing::error!(error = %e, "gateway store operation failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the store failed: {e}"),
        )
    }

    /// Prefixes the field path with `prefix` (`messages[3]`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field.take() {
            Some(f) if f.starts_with('[') => format!("{prefix}{f}"),
            Some(f) if !f.is_empty() => format!("{prefix}.{f}"),
            _ => prefix.to_string(),
        });
        self
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{} {field}: {}", self.status.as_u16(), self.error),
            None => write!(f, "{} {}", self.status.as_u16(), self.error),
        }
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(&self)).into_response()
    }
}

/// Why the gateway did not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum GatewayError {
    /// The HTTP listener could not bind this address.
    Bind(SocketAddr, std::io::Error),
    /// The delivery spool could not be opened or read.
    Spool(StoreError),
    /// Limits that contradict each other.
    Limits(String),
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bind(addr, e) => write!(f, "cannot listen for HTTP on {addr}: {e}"),
            Self::Spool(e) => write!(f, "cannot open the gateway's delivery spool: {e}"),
            Self::Limits(reason) => write!(f, "the gateway's limits do not fit: {reason}"),
        }
    }
}

impl std::error::Error for GatewayError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Bind(_, e) => Some(e),
            Self::Spool(e) => Some(e),
            Self::Limits(_) => None,
        }
    }
}
