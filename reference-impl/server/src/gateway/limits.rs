//! The gateway's limits: HTTP connections and their timeouts, request and message sizes,
//! recipients, batch size, the delivery queue and paging. Every one is configurable; the
//! defaults suit a reference deployment.

use std::time::Duration;

/// Limits on what the gateway accepts and holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// HTTP connections at once; a connection past this is answered 503 and closed.
    pub max_connections: usize,
    /// A request's header section must be complete this long after the connection opened (or,
    /// on a kept-alive connection, after the request's first octet); else the connection is
    /// closed without an answer.
    pub header_timeout: Duration,
    /// A request body that brings no octet for this long, or falls behind `body_min_rate`
    /// after this long, is cut off with 408 and its memory freed.
    pub body_timeout: Duration,
    /// Octets per second a body must average once `body_timeout` has passed.
    pub body_min_rate: u64,
    /// A kept-alive connection waiting this long for the next request is closed.
    pub idle_timeout: Duration,
    /// Octets of request bodies held at once over every connection; a body that does not
    /// fit gets 503. At least `max_request_bytes`.
    pub max_body_memory: usize,
    /// A request body larger than this gets 413 before it is parsed.
    pub max_request_bytes: usize,
    /// The built RFC 5322 message (headers, body, attachments in base64); larger gets 413.
    /// The default is the reference server's SIZE default.
    pub max_message_bytes: usize,
    /// Recipients of one message; more get 400.
    pub max_recipients: usize,
    /// Messages in one `/batch` request; more get 400.
    pub max_batch: usize,
    /// Attachments of one message (100 by default); more get 400.
    pub max_attachments: usize,
    /// The upstream receives a message in transactions of at most this many recipients
    /// (RFC 5321 §4.5.3.1.8: a server must take at least 100).
    pub recipients_per_transaction: usize,
    /// Messages accepted but not yet delivered or given up; past this, 503.
    pub max_queued: usize,
    /// Upstream sessions at once.
    pub max_sessions: usize,
    /// Messages sent in one upstream session.
    pub messages_per_session: usize,
    /// Finished deliveries kept for `GET /deliveries/{id}` (the oldest are forgotten).
    pub kept_finished: usize,
    /// The largest `limit` of a listing.
    pub max_page: usize,
    /// VMTP METADATA entries per message (the reference server's limit, 32 by default);
    /// more get 400.
    pub max_metadata_entries: usize,
    /// Octets of a message's metadata keys and values together (the reference server's
    /// limit, 4096 by default); more get 400.
    pub max_metadata_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let server = mtp_proto::smtp::server::Limits::default();
        Self {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            body_min_rate: 1024,
            idle_timeout: Duration::from_secs(60),
            max_body_memory: 256 * 1024 * 1024,
            max_request_bytes: 25 * 1024 * 1024,
            max_message_bytes: usize::try_from(server.max_message_size).unwrap_or(usize::MAX),
            max_recipients: 1000,
            max_batch: 1000,
            max_attachments: 100,
            recipients_per_transaction: 100,
            max_queued: 10_000,
            max_sessions: 4,
            messages_per_session: 50,
            kept_finished: 10_000,
            max_page: 500,
            max_metadata_entries: server.max_metadata_entries,
            max_metadata_bytes: server.max_metadata_bytes,
        }
    }
}

impl Limits {
    /// Limits that cannot work together: a budget for bodies smaller than one body, or no
    /// connection at all.
    pub fn check(&self) -> Result<(), String> {
        if self.max_body_memory < self.max_request_bytes {
            return Err(format!(
                "the memory for request bodies ({} octets) is less than one request body may take ({})",
                self.max_body_memory, self.max_request_bytes
            ));
        }
        if self.max_connections == 0 {
            return Err("at least one HTTP connection must be allowed".into());
        }
        Ok(())
    }
}
