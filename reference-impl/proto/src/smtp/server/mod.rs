//! The server side of an SMTP/VMTP session as a sans-io state machine.
//!
//! ```text
//!            greeting
//!   Fresh ──EHLO/HELO──▶ Ready ──MAIL/VECMAIL──▶ Transaction ──DATA──▶ Data ─┐
//!     ▲                    ▲  ▲                      │   │                    │ end of data
//!     │ STARTTLS/ENCRYPT   │  └──RSET/EHLO/done──────┘   └──BDAT──▶ Chunk ──┤ (Deliver action,
//!     └────────────────────┘                                              ▼  then 250 with id)
//! ```
//! Input bytes go in through [`ServerSession::receive`]; reply bytes come out through
//! [`ServerSession::take_output`]; everything that needs IO comes out as an [`Action`] from
//! [`ServerSession::poll_action`] and is answered with `delivered` or `status_answer`. While an
//! action is outstanding no further input is processed, which keeps replies in command order
//! under PIPELINING (RFC 2920).

mod auth;
mod config;
mod dispatch;
mod envelope;
mod vmtp;

pub use config::{Limits, ServerConfig};

use std::collections::VecDeque;
use std::sync::Arc;

use super::bdat::BdatChunk;
use super::body::MessageBody;
use super::data::DataReceiver;
use super::line::{InputBuffer, LineEvent, LineSplitter};
use super::reply::{EnhancedCode, Reply, ReplyCode};
use envelope::Envelope;

/// A message the driver must make durable before the session may answer 250.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The reverse-path without brackets; empty for the null path.
    pub reverse_path: String,
    /// The forward-paths accepted, `local@domain` without brackets; `<Postmaster>` alone becomes
    /// `postmaster@` the first local domain.
    pub recipients: Vec<String>,
    /// VMTP METADATA pairs (key, value) in the order given.
    pub metadata: Vec<(String, String)>,
    /// VMTP READACK was accepted for this message: the sender wants a read receipt.
    pub read_ack: bool,
    /// The message octets the driver took while they arrived
    /// ([`ServerSession::take_message_data`]); `data` is what followed them.
    pub taken: u64,
    /// The dot-unstuffed message octets the driver did not take: all of them if it took none.
    pub data: Vec<u8>,
    /// The domain the client gave in EHLO or HELO, for the Received field (RFC 5321 §4.4).
    pub helo: String,
    /// The connection was encrypted (implicit TLS, STARTTLS or VMTP ENCRYPT) when the message
    /// came.
    pub tls: bool,
    /// The AUTH user, if the client authenticated.
    pub auth: Option<String>,
    /// "SMTP", "ESMTP" or "VMTP" (a VMTP verb shaped this transaction).
    pub protocol: &'static str,
}

/// Delivery state of a stored message, as STATUS reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageState {
    /// Accepted and stored, not yet in the recipient's mailbox.
    Pending,
    /// In the recipient's mailbox; the time is when it arrived.
    Delivered,
    /// Read by its recipient (DESIGN: the VMTP "STATUS callback"); the time is when first read.
    Opened,
}

/// The answer to a [`Action::QueryStatus`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusInfo {
    /// Where the message is.
    pub state: MessageState,
    /// When it reached that state, Unix milliseconds; `None` when the store has no time for it.
    pub at_ms: Option<u64>,
}

/// Work the driver must do for the session.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Write pending output, then run the TLS handshake on this connection.
    StartTls,
    /// Store the message durably, then call [`ServerSession::delivered`].
    Deliver(Delivery),
    /// Look the message id up, then call [`ServerSession::status_answer`].
    QueryStatus(String),
    /// Write pending output, then close the connection.
    Close,
}

/// Facts about the connection the driver knows.
#[derive(Clone, Debug, Default)]
pub struct ConnectionInfo {
    /// The client's address as text; the session does not read it (the driver has its own for logs
    /// and the Received field).
    pub peer: String,
    /// Implicit TLS (the smtps and submissions ports).
    pub tls: bool,
    /// The client is on the deny list: the session opens with 554 and serves nothing.
    pub denied: bool,
}

#[derive(Debug)]
enum Phase {
    /// Before EHLO or HELO.
    Fresh,
    /// Greeted, no transaction.
    Ready,
    Transaction(Envelope),
    Data(DataReceiver, Envelope),
    Chunk(BdatChunk, Box<ChunkState>),
    /// AUTH PLAIN sent 334 and waits for the response line.
    AuthResponse,
    /// An action is outstanding; input waits.
    Waiting(Waiting),
    Closed,
}

#[derive(Debug)]
struct ChunkState {
    last: bool,
    size: u64,
    /// The BDAT was refused; its octets are consumed and then this reply is sent.
    refused: Option<Reply>,
    /// The phase to return to after the chunk (holds the transaction of an accepted chunk).
    resume: Phase,
}

#[derive(Debug)]
enum Waiting {
    Delivery(Envelope),
    Status { id: String, resume: Box<Phase> },
}

/// One SMTP/VMTP server session.
#[derive(Debug)]
pub struct ServerSession {
    config: Arc<ServerConfig>,
    phase: Phase,
    input: InputBuffer,
    lines: LineSplitter,
    output: Vec<u8>,
    actions: VecDeque<Action>,
    /// `Some(true)` after EHLO, `Some(false)` after HELO.
    extended: Option<bool>,
    helo: String,
    tls: bool,
    auth_user: Option<String>,
    /// VMTP METADATA waiting for the next message.
    metadata: Vec<(String, String)>,
    /// The session opened with 554: only QUIT is served (RFC 5321 §3.1).
    refused: bool,
    errors: usize,
    /// AUTH exchanges refused with 535 (see [`ServerSession::auth_failures`]).
    auth_failures: u32,
    /// Messages begun (DATA accepted, or a transaction's first BDAT): numbers each one.
    messages: u64,
    /// Octets of plaintext dropped after STARTTLS/ENCRYPT (for logs and tests).
    pub discarded_after_tls: usize,
}

impl ServerSession {
    /// A session on a new connection; the greeting is queued as output.
    pub fn new(config: Arc<ServerConfig>, conn: ConnectionInfo) -> Self {
        let mut session = Self {
            lines: LineSplitter::new(config.limits.max_command_line),
            tls: conn.tls,
            config,
            phase: Phase::Fresh,
            input: InputBuffer::default(),
            output: Vec::new(),
            actions: VecDeque::new(),
            extended: None,
            helo: String::new(),
            auth_user: None,
            metadata: Vec::new(),
            refused: conn.denied,
            errors: 0,
            auth_failures: 0,
            messages: 0,
            discarded_after_tls: 0,
        };
        let hostname = &session.config.hostname;
        let greeting = if session.refused {
            // RFC 5321 §3.1: "a 554 response MAY be given in the initial connection opening
            // message instead of the 220."
            Reply::with_status(
                ReplyCode::TRANSACTION_FAILED,
                EnhancedCode::new(5, 7, 1),
                format!("{hostname} No SMTP service here"),
            )
        } else {
            let text = format!("{hostname} ESMTP mtpspec reference ready");
            Reply::new(super::ReplyCode::SERVICE_READY, None, text)
        };
        session.send(greeting);
        session
    }

    /// RFC 5321 §3.1: a server that will not serve may answer the connection with 554 (or 421
    /// when the refusal is temporary, e.g. too many connections) and close.
    pub fn refuse_connection(hostname: &str) -> Vec<u8> {
        Reply::with_status(
            ReplyCode::SERVICE_UNAVAILABLE,
            EnhancedCode::new(4, 3, 2),
            format!("{hostname} Too many connections, try again later"),
        )
        .to_bytes()
    }

    /// Bytes from the client.
    pub fn receive(&mut self, bytes: &[u8]) {
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        self.input.extend(bytes);
        self.process();
    }

    /// Reply bytes to write, in order.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// True when reply bytes wait in [`ServerSession::take_output`].
    pub fn has_output(&self) -> bool {
        !self.output.is_empty()
    }

    /// The next IO the driver must perform, if any; see [`Action`].
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// True once the session ended (QUIT, a 421, a refused client); only output and
    /// [`Action::Close`] remain.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// True while mail data or a chunk is being received (a disconnect now loses nothing that
    /// was acknowledged, and stores nothing).
    pub fn in_data(&self) -> bool {
        matches!(self.phase, Phase::Data(..) | Phase::Chunk(..))
    }

    /// The message being received, by its number in the session, and the octets of it held in
    /// memory: from DATA's 354 to the end of data, and in a BDAT transaction from its first
    /// chunk to its last. `None` when no message is under way (one that was refused or reset
    /// is over: octets the driver took of it are garbage).
    pub fn message_in_progress(&self) -> Option<(u64, usize)> {
        phase_body(&self.phase).map(|body| (body.number(), body.held()))
    }

    /// Takes the octets of the message in progress held so far (after dot-unstuffing), so
    /// that a driver can keep a large message out of memory; the [`Delivery`] of that
    /// message then counts them in `taken` and carries only the rest. A driver that never
    /// takes gets the whole message in [`Delivery::data`].
    pub fn take_message_data(&mut self) -> Vec<u8> {
        phase_body_mut(&mut self.phase).map_or_else(Vec::new, MessageBody::take)
    }

    /// AUTH exchanges this session refused with 535 so far. The core has no clock: a driver
    /// that throttles password guessing holds the replies back for a while each time this
    /// grows (the error limit still closes the session after enough failures).
    pub fn auth_failures(&self) -> u32 {
        self.auth_failures
    }

    /// The driver's answer to [`Action::Deliver`]: the message id, or `Err` when it could
    /// not be made durable (the client gets a 451 and may retry).
    pub fn delivered(&mut self, result: Result<String, String>) {
        let Phase::Waiting(Waiting::Delivery(envelope)) =
            std::mem::replace(&mut self.phase, Phase::Ready)
        else {
            panic!("delivered() called with no delivery outstanding");
        };
        match result {
            Ok(id) => self.send(Reply::with_status(
                ReplyCode::OK,
                EnhancedCode::new(2, 0, 0),
                format!("Ok: queued as {id}"),
            )),
            Err(reason) => self.send(Reply::with_status(
                ReplyCode::LOCAL_ERROR,
                EnhancedCode::new(4, 3, 0),
                format!("Local error in processing: {reason}"),
            )),
        }
        self.phase = envelope.after_message();
        self.process();
    }

    /// The driver's answer to [`Action::QueryStatus`].
    pub fn status_answer(&mut self, info: Option<StatusInfo>) {
        let previous = std::mem::replace(&mut self.phase, Phase::Ready);
        let Phase::Waiting(Waiting::Status { id, resume }) = previous else {
            panic!("status_answer() called with no status query outstanding");
        };
        self.phase = *resume;
        self.send(vmtp::status_reply(&id, info));
        self.process();
    }

    /// RFC 5321 §4.5.3.2: after the idle timeout the server closes with 421.
    pub fn idle_timeout(&mut self) {
        self.close_with(Reply::with_status(
            ReplyCode::SERVICE_UNAVAILABLE,
            EnhancedCode::new(4, 4, 2),
            format!("{} Idle timeout, closing connection", self.config.hostname),
        ));
    }

    /// Graceful shutdown: 421 and close (RFC 5321 §3.8).
    pub fn shutdown(&mut self) {
        self.close_with(Reply::with_status(
            ReplyCode::SERVICE_UNAVAILABLE,
            EnhancedCode::new(4, 3, 2),
            format!("{} Service shutting down", self.config.hostname),
        ));
    }

    fn close_with(&mut self, reply: Reply) {
        if self.is_closed() {
            return;
        }
        self.send(reply);
        self.phase = Phase::Closed;
        self.actions.push_back(Action::Close);
    }

    fn send(&mut self, reply: Reply) {
        reply.encode_into(&mut self.output);
    }

    /// Runs the state machine over buffered input until it needs more bytes, waits for an
    /// action, or the session is closed.
    fn process(&mut self) {
        loop {
            match &mut self.phase {
                Phase::Closed | Phase::Waiting(_) => return,
                Phase::Data(receiver, _) => {
                    let (used, done) = receiver.feed(self.input.unread());
                    self.input.consume(used);
                    if !done {
                        return;
                    }
                    self.end_of_data();
                }
                Phase::Chunk(chunk, state) => {
                    let body = match (&state.refused, &mut state.resume) {
                        (None, Phase::Transaction(envelope)) => envelope.chunks.as_mut(),
                        // A refused chunk is read and dropped.
                        _ => None,
                    };
                    let used = chunk.feed(self.input.unread(), body);
                    self.input.consume(used);
                    if !chunk.is_complete() {
                        return;
                    }
                    self.end_of_chunk();
                }
                Phase::Fresh | Phase::Ready | Phase::Transaction(_) | Phase::AuthResponse => {
                    let Some(event) = self.lines.next_line(&mut self.input) else {
                        return;
                    };
                    match event {
                        LineEvent::Line(line) => self.line(&line),
                        LineEvent::TooLong => self.line_too_long(),
                    }
                }
            }
        }
    }

    /// RFC 5321 §4.5.3.1.9: "500 Line too long." The line was consumed through its CRLF, so
    /// nothing of it runs as a command. In an AUTH exchange, RFC 4954 §4: "If, during an
    /// authentication exchange, the server receives a line that is longer than the server's
    /// authentication buffer, the server fails the AUTH command with the 500 reply. Servers
    /// using the enhanced status codes extension [ESMTP-CODES] SHOULD return an enhanced status
    /// code of 5.5.6 in this case." The buffer is the command line limit, whose default (4096)
    /// holds a PLAIN response with three 255-octet fields (RFC 4616 §2), 1037 octets at most.
    fn line_too_long(&mut self) {
        if matches!(self.phase, Phase::AuthResponse) {
            self.phase = Phase::Ready;
            return self.error(Reply::with_status(
                ReplyCode::SYNTAX_ERROR,
                EnhancedCode::new(5, 5, 6),
                "Authentication Exchange line is too long",
            ));
        }
        self.error(Reply::with_status(
            ReplyCode::SYNTAX_ERROR,
            EnhancedCode::new(5, 5, 2),
            "Line too long",
        ));
    }

    /// A 5xx caused by the client's input; too many of them end the session.
    fn error(&mut self, reply: Reply) {
        self.send(reply);
        self.errors += 1;
        if self.errors >= self.config.limits.max_errors {
            self.close_with(Reply::with_status(
                ReplyCode::SERVICE_UNAVAILABLE,
                EnhancedCode::new(4, 7, 0),
                format!(
                    "{} Too many errors, closing connection",
                    self.config.hostname
                ),
            ));
        }
    }

    fn end_of_data(&mut self) {
        let Phase::Data(receiver, envelope) = std::mem::replace(&mut self.phase, Phase::Ready)
        else {
            unreachable!("end_of_data outside Data");
        };
        self.finish_message(envelope, receiver.finish_body());
    }

    /// Hands a complete message on for storage, or refuses it. The metadata belongs to this
    /// message whatever the outcome.
    fn finish_message(
        &mut self,
        mut envelope: Envelope,
        message: Result<MessageBody, super::data::DataProblem>,
    ) {
        let metadata = std::mem::take(&mut self.metadata);
        match message {
            Ok(body) => {
                let delivery = envelope.delivery(
                    body,
                    metadata,
                    &self.helo,
                    self.tls,
                    self.auth_user.clone(),
                    self.extended == Some(true),
                );
                self.actions.push_back(Action::Deliver(delivery));
                self.phase = Phase::Waiting(Waiting::Delivery(envelope));
            }
            Err(problem) => {
                self.send(envelope::data_problem_reply(problem));
                envelope.chunks = None;
                self.phase = envelope.after_message();
            }
        }
    }

    /// A STARTTLS or ENCRYPT START was accepted: RFC 3207 §4.2, the server "MUST discard any
    /// knowledge obtained from the client" and plaintext after the command is not processed.
    fn start_tls(&mut self) {
        self.send(Reply::with_status(
            ReplyCode::SERVICE_READY,
            EnhancedCode::new(2, 0, 0),
            "Ready to start TLS",
        ));
        self.discarded_after_tls += self.input.clear();
        self.phase = Phase::Fresh;
        self.extended = None;
        self.helo.clear();
        self.metadata.clear();
        self.auth_user = None;
        self.tls = true;
        self.actions.push_back(Action::StartTls);
    }
}

/// The message under way in `phase`: DATA's, or a BDAT transaction's (also while a chunk or
/// a status query is under way).
fn phase_body(phase: &Phase) -> Option<&MessageBody> {
    match phase {
        Phase::Data(receiver, _) => Some(receiver.body()),
        Phase::Transaction(envelope) => envelope.chunks.as_ref(),
        Phase::Chunk(_, state) => phase_body(&state.resume),
        Phase::Waiting(Waiting::Status { resume, .. }) => phase_body(resume),
        _ => None,
    }
}

fn phase_body_mut(phase: &mut Phase) -> Option<&mut MessageBody> {
    match phase {
        Phase::Data(receiver, _) => Some(receiver.body_mut()),
        Phase::Transaction(envelope) => envelope.chunks.as_mut(),
        Phase::Chunk(_, state) => phase_body_mut(&mut state.resume),
        Phase::Waiting(Waiting::Status { resume, .. }) => phase_body_mut(resume),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
