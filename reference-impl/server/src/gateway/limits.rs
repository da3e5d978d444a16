//! The gateway's limits: request and message sizes, recipients, batch size, the delivery
//! queue and paging. Every one is configurable; the defaults suit a reference deployment.

/// Limits on what the gateway accepts and holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A request body larger than this gets 413 before it is parsed.
    pub max_request_bytes: usize,
    /// The built RFC 5322 message (headers, body, attachments in base64); larger gets 413.
    /// The default is the reference server's SIZE default.
    pub max_message_bytes: usize,
    /// Recipients of one message; more get 400.
    pub max_recipients: usize,
    /// Messages in one `/batch` request; more get 400.
    pub max_batch: usize,
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
    /// VMTP METADATA entries per message and their total size (the reference server's).
    pub max_metadata_entries: usize,
    pub max_metadata_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let server = mtp_proto::smtp::server::Limits::default();
        Self {
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
