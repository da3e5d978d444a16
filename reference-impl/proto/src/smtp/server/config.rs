//! What a server session is configured with: identity, local domains, limits, offered features.

/// Limits, each defaulting to at least the RFC 5321 §4.5.3 minimum.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Command line length with CRLF, one limit for every command and every AUTH exchange line
    /// (RFC 5321 §4.5.3.1.4: at least 512; default 4096).
    pub max_command_line: usize,
    /// Text line length in DATA with CRLF (RFC 5321 §4.5.3.1.6: 1000).
    pub max_text_line: usize,
    /// Message size in octets, advertised with SIZE (RFC 1870).
    pub max_message_size: u64,
    /// Recipients per transaction (RFC 5321 §4.5.3.1.8: at least 100).
    pub max_recipients: usize,
    /// Errors in a session before the server answers 421 and closes.
    pub max_errors: usize,
    /// VMTP METADATA entries per message (452 beyond).
    pub max_metadata_entries: usize,
    /// Total octets of the METADATA keys and values of one message (552 beyond).
    pub max_metadata_bytes: usize,
    /// VMTP BATCH count upper bound.
    pub max_batch: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_command_line: 4096,
            max_text_line: 1000,
            max_message_size: 10 * 1024 * 1024,
            max_recipients: 100,
            max_errors: 100,
            max_metadata_entries: 32,
            max_metadata_bytes: 4096,
            max_batch: 100,
        }
    }
}

impl Limits {
    /// Raises any limit below the RFC minimum to that minimum.
    pub fn with_rfc_floors(mut self) -> Self {
        self.max_command_line = self.max_command_line.max(512);
        self.max_text_line = self.max_text_line.max(1000);
        self.max_recipients = self.max_recipients.max(100);
        self.max_batch = self.max_batch.max(1);
        self
    }
}

/// The configuration shared by every session of one listener.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The name the server greets with and puts in its EHLO reply.
    pub hostname: String,
    /// Domains delivered into the local store (compared case-insensitively).
    pub local_domains: Vec<String>,
    /// When set, only these local parts (and postmaster) exist in local domains.
    pub local_users: Option<Vec<String>>,
    /// Line, size, recipient, error and VMTP limits.
    pub limits: Limits,
    /// STARTTLS and ENCRYPT START are offered (the driver holds a certificate).
    pub tls_available: bool,
    /// A submission listener: MAIL needs AUTH first.
    pub submission: bool,
    /// `(user, password)` pairs for AUTH PLAIN, offered only over TLS.
    pub credentials: Vec<(String, String)>,
    /// VMTP is advertised and its verbs accepted; when false they get 502, as a plain server.
    pub vmtp: bool,
}

impl ServerConfig {
    /// A configuration with default limits, no TLS, no AUTH, not submission, VMTP on.
    pub fn new(hostname: impl Into<String>, local_domains: Vec<String>) -> Self {
        Self {
            hostname: hostname.into(),
            local_domains,
            local_users: None,
            limits: Limits::default(),
            tls_available: false,
            submission: false,
            credentials: Vec::new(),
            vmtp: true,
        }
    }

    /// Whether `domain` is one of [`ServerConfig::local_domains`], case-insensitively.
    pub fn is_local_domain(&self, domain: &str) -> bool {
        self.local_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// Whether a local part exists in a local domain. Postmaster always does
    /// (RFC 5321 §4.5.1).
    pub fn is_local_user(&self, local_part: &str) -> bool {
        local_part.eq_ignore_ascii_case("postmaster")
            || self
                .local_users
                .as_ref()
                .is_none_or(|users| users.iter().any(|u| u.eq_ignore_ascii_case(local_part)))
    }
}
