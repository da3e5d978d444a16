//! The server side of an MMTP connection as a sans-io state machine.
//!
//! ```text
//!           welcome
//!   (new) ──────────▶ Ready ──request needing IO──▶ Waiting(Pending) ──answer──▶ Ready
//!                       │  ▲                                                     │
//!                       │  └─────────────── more requests buffered ◀─────────────┘
//!                       └──too large / too deep / too many errors / timeout──▶ Closed
//! ```
//! Bytes go in through [`ServerSession::receive`] (with the current time); response bytes come
//! out of [`ServerSession::take_output`], one JSON value and `\n` per response; IO comes out
//! as an [`Action`] from [`ServerSession::poll_action`] and is answered through the method the
//! action names. While an action is outstanding no further request is processed, so
//! responses keep request order.
//!
//! A SEND runs: checks in the session (`send`), then [`Action::ClaimToken`] (the replay
//! cache), then [`Action::VerifySignature`] when the packet is signed, then
//! [`Action::Deliver`]. RECEIVE and RECEIVE_FILTERED list the mailbox, answer, then
//! [`Action::Drain`] the messages sent: the driver writes the response before removing them,
//! so a crash in between delivers them again rather than losing them.

mod action;
mod config;
mod send;

#[cfg(test)]
mod tests;

pub use action::{Action, ConnectionInfo, Delivery, KeyError, MailboxEntry};
pub use config::{DEFAULT_DIFFICULTY, SessionConfig};
pub use send::SignatureCheck;

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::value::RawValue;

use super::framing::{FrameError, JsonDecoder};
use super::json::Json;
use super::request::Request;
use super::response::{ErrorCode, Features, OK, Refusal, Response};
use super::tags::{TagCounts, TagFilter, categories_json};
use send::SendJob;

#[derive(Debug)]
enum Phase {
    Ready,
    Waiting(Pending),
    Closed,
}

/// What an outstanding action is for.
#[derive(Debug)]
enum Pending {
    Token(Box<SendJob>),
    Signature(Box<SendJob>),
    Delivery(Box<SendJob>),
    Mailbox(Listing),
    Drain,
    RegisterKey,
    Key { email: String },
}

#[derive(Debug)]
enum Listing {
    Receive,
    ReceiveFiltered {
        filter: TagFilter,
        tag_filters: Option<Json>,
    },
    Check {
        filter: TagFilter,
    },
}

/// One MMTP server session.
#[derive(Debug)]
pub struct ServerSession {
    config: Arc<SessionConfig>,
    decoder: JsonDecoder,
    phase: Phase,
    output: Vec<u8>,
    actions: VecDeque<Action>,
    /// The time of the latest input, which requests buffered with it are judged by.
    now_ms: u64,
    errors: usize,
}

impl ServerSession {
    /// A session on a new connection; the welcome is queued as output.
    pub fn new(config: Arc<SessionConfig>, conn: ConnectionInfo, now_ms: u64) -> Self {
        let mut session = Self {
            decoder: JsonDecoder::new(config.frame),
            phase: Phase::Ready,
            output: Vec::new(),
            actions: VecDeque::new(),
            now_ms,
            errors: 0,
            config,
        };
        // Seed §5.2: "Upon connection, the server MUST send a welcome message". The
        // original appended " (Secure Connection)" on its TLS port.
        let secure = if conn.tls { " (Secure Connection)" } else { "" };
        session.respond(&Response::Welcome {
            status: OK,
            message: format!("MMTP Server Ready{secure}"),
            features: Features {
                tls: session.config.tls_available,
                pgp: session.config.pgp,
            },
            difficulty: session.config.difficulty,
        });
        session
    }

    /// Bytes from the client, received at `now_ms`.
    pub fn receive(&mut self, bytes: &[u8], now_ms: u64) {
        if self.is_closed() {
            return;
        }
        self.now_ms = now_ms;
        self.decoder.push(bytes);
        self.process();
    }

    /// Takes the response bytes queued so far, for the driver to write.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// True when response bytes wait in [`ServerSession::take_output`].
    pub fn has_output(&self) -> bool {
        !self.output.is_empty()
    }

    /// The next IO the driver must perform, if any; see [`Action`].
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// True once the session ended (a fatal error, timeout or shutdown); only output and
    /// [`Action::Close`] remain.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// True when no request is partly received (a close now loses nothing).
    pub fn is_idle(&self) -> bool {
        matches!(self.phase, Phase::Ready) && self.decoder.is_idle()
    }

    /// No request within the idle timeout.
    pub fn idle_timeout(&mut self) {
        self.close_with(Refusal::new(
            ErrorCode::Timeout,
            "Idle timeout, closing connection",
        ));
    }

    /// Graceful shutdown.
    pub fn shutdown(&mut self) {
        self.close_with(Refusal::new(
            ErrorCode::ShuttingDown,
            "Server shutting down",
        ));
    }

    /// The driver's answer to [`Action::ClaimToken`].
    pub fn token_claimed(&mut self, result: Result<bool, String>) {
        let Pending::Token(job) = self.take_pending("token_claimed") else {
            panic!("token_claimed() called with no token claim outstanding");
        };
        match result {
            Ok(true) => match job.signature.clone() {
                Some(check) if self.config.pgp => {
                    self.wait(Pending::Signature(job), Action::VerifySignature(check));
                }
                _ => self.deliver(job),
            },
            Ok(false) => self.refuse(&send::hashcash_failure(
                ErrorCode::HashcashReplayed,
                "this token was already used",
            )),
            Err(reason) => self.refuse(&internal(&reason)),
        }
        self.process();
    }

    /// The driver's answer to [`Action::VerifySignature`]: `None` when no key is registered
    /// for the signer (then nothing is claimed either way).
    pub fn signature_checked(&mut self, verified: Option<bool>) {
        let Pending::Signature(mut job) = self.take_pending("signature_checked") else {
            panic!("signature_checked() called with no signature check outstanding");
        };
        job.signature_verified = verified;
        self.deliver(job);
        self.process();
    }

    /// The driver's answer to [`Action::Deliver`]: the store's id, or why it failed.
    pub fn delivered(&mut self, result: Result<String, String>) {
        let Pending::Delivery(job) = self.take_pending("delivered") else {
            panic!("delivered() called with no delivery outstanding");
        };
        match result {
            Ok(_id) => self.respond(&Response::Sent {
                status: OK,
                message: "Message delivered successfully",
                message_id: &job.message_id,
                encrypted: job.encrypted,
                signed: job.signed,
                signature_verified: job.signature_verified,
            }),
            Err(reason) => self.refuse(&internal(&reason)),
        }
        self.process();
    }

    /// The driver's answer to [`Action::ListMailbox`], in delivery order.
    pub fn mailbox(&mut self, entries: Vec<MailboxEntry>) {
        let Pending::Mailbox(listing) = self.take_pending("mailbox") else {
            panic!("mailbox() called with no listing outstanding");
        };
        let drain = match listing {
            Listing::Receive => self.send_messages(entries, &TagFilter::default(), None),
            Listing::ReceiveFiltered {
                filter,
                tag_filters,
            } => self.send_messages(entries, &filter, tag_filters.as_ref()),
            Listing::Check { filter } => {
                let count = entries.iter().filter(|e| filter.matches(&e.tags)).count();
                self.respond(&Response::Counts {
                    status: OK,
                    count,
                    total_count: entries.len(),
                    tag_counts: TagCounts::count(entries.iter().map(|e| &e.tags)),
                });
                Vec::new()
            }
        };
        if !drain.is_empty() {
            self.wait(Pending::Drain, Action::Drain(drain));
        }
        self.process();
    }

    /// The driver's answer to [`Action::Drain`]. The response is already written; a failure
    /// leaves the messages in the mailbox, to be delivered again.
    pub fn drained(&mut self, _result: Result<(), String>) {
        let Pending::Drain = self.take_pending("drained") else {
            panic!("drained() called with no drain outstanding");
        };
        self.process();
    }

    /// The driver's answer to [`Action::RegisterKey`].
    pub fn key_registered(&mut self, result: Result<(), KeyError>) {
        let Pending::RegisterKey = self.take_pending("key_registered") else {
            panic!("key_registered() called with no registration outstanding");
        };
        match result {
            Ok(()) => self.respond(&Response::Message {
                status: OK,
                message: "Public key registered successfully",
            }),
            Err(KeyError::Invalid(reason)) => self.refuse(&Refusal::new(
                ErrorCode::InvalidKey,
                format!("Failed to register key: {reason}"),
            )),
            Err(KeyError::Conflict) => self.refuse(&Refusal::new(
                ErrorCode::KeyConflict,
                "Failed to register key: another key is registered for this email",
            )),
            Err(KeyError::Failed(reason)) => self.refuse(&internal(&reason)),
        }
        self.process();
    }

    /// The driver's answer to [`Action::LookupKey`]: the armored key as registered.
    pub fn key_found(&mut self, key: Option<String>) {
        let Pending::Key { email } = self.take_pending("key_found") else {
            panic!("key_found() called with no lookup outstanding");
        };
        match key {
            Some(key) => self.respond(&Response::PublicKey {
                status: OK,
                email: &email,
                public_key: &key,
            }),
            None => self.refuse(&Refusal::new(
                ErrorCode::KeyNotFound,
                "Public key not found for this email",
            )),
        }
        self.process();
    }

    fn take_pending(&mut self, answer: &str) -> Pending {
        match std::mem::replace(&mut self.phase, Phase::Ready) {
            Phase::Waiting(pending) => pending,
            other => panic!("{answer}() called in {other:?}"),
        }
    }

    fn wait(&mut self, pending: Pending, action: Action) {
        self.phase = Phase::Waiting(pending);
        self.actions.push_back(action);
    }

    fn respond(&mut self, response: &Response<'_>) {
        response.encode_into(&mut self.output);
    }

    fn refuse(&mut self, refusal: &Refusal) {
        self.respond(&Response::error(refusal));
    }

    fn close_with(&mut self, refusal: Refusal) {
        if self.is_closed() {
            return;
        }
        self.refuse(&refusal);
        self.phase = Phase::Closed;
        self.actions.push_back(Action::Close);
    }

    /// A malformed request: answered, counted, and too many end the session.
    fn malformed(&mut self, refusal: &Refusal) {
        self.refuse(refusal);
        self.errors += 1;
        if self.errors >= self.config.max_errors {
            self.close_with(Refusal::new(
                ErrorCode::TooManyErrors,
                "Too many invalid requests, closing connection",
            ));
        }
    }

    /// Runs requests from buffered input until more bytes are needed, an action is
    /// outstanding, or the session is closed.
    fn process(&mut self) {
        while matches!(self.phase, Phase::Ready) {
            match self.decoder.next_value() {
                None => return,
                Some(Ok(frame)) => self.request(&frame),
                Some(Err(FrameError::NotJson)) => self.malformed(&Refusal::bad_json()),
                Some(Err(error @ FrameError::TooLarge { .. })) => self.close_with(Refusal::new(
                    ErrorCode::TooLarge,
                    format!("Request too large: {error}"),
                )),
                Some(Err(error)) => self.close_with(Refusal::new(
                    ErrorCode::TooDeep,
                    format!("Invalid request: {error}"),
                )),
            }
        }
    }

    fn request(&mut self, frame: &[u8]) {
        let request = match Request::parse(frame) {
            Ok(request) => request,
            Err(refusal) => {
                return match refusal.code {
                    ErrorCode::BadJson | ErrorCode::BadRequest | ErrorCode::UnknownAction => {
                        self.malformed(&refusal)
                    }
                    _ => self.refuse(&refusal),
                };
            }
        };
        match request {
            Request::Send { packet } => match send::check(packet, &self.config, self.now_ms) {
                Ok(job) => {
                    let action = Action::ClaimToken {
                        key: job.token,
                        timestamp_ms: job.timestamp_ms,
                    };
                    self.wait(Pending::Token(Box::new(job)), action);
                }
                Err(refusal) => self.refuse(&refusal),
            },
            Request::Receive { email } => self.list(email.mailbox_key(), Listing::Receive),
            Request::ReceiveFiltered {
                email,
                filter,
                tag_filters,
            } => self.list(
                email.mailbox_key(),
                Listing::ReceiveFiltered {
                    filter,
                    tag_filters,
                },
            ),
            Request::Check { email, filter } => {
                self.list(email.mailbox_key(), Listing::Check { filter })
            }
            Request::RegisterKey { .. } | Request::RequestPublicKey { .. } if !self.config.pgp => {
                self.refuse(&Refusal::pgp_disabled())
            }
            Request::RegisterKey { email, public_key } => self.wait(
                Pending::RegisterKey,
                Action::RegisterKey {
                    mailbox: email.mailbox_key(),
                    email: email.to_string(),
                    armored: public_key,
                },
            ),
            Request::RequestPublicKey { email } => {
                let action = Action::LookupKey {
                    mailbox: email.mailbox_key(),
                };
                self.wait(
                    Pending::Key {
                        email: email.to_string(),
                    },
                    action,
                );
            }
            Request::GetTagCategories => self.respond(&Response::TagCategories {
                status: OK,
                tag_categories: categories_json(),
            }),
        }
    }

    fn list(&mut self, mailbox: String, listing: Listing) {
        let with_packets = !matches!(listing, Listing::Check { .. });
        self.wait(
            Pending::Mailbox(listing),
            Action::ListMailbox {
                mailbox,
                with_packets,
            },
        );
    }

    fn deliver(&mut self, mut job: Box<SendJob>) {
        let delivery = Delivery {
            mailbox: job.mailbox.clone(),
            sender: job.sender.clone(),
            recipient: job.recipient.clone(),
            message_id: job.message_id.clone(),
            packet: job.finished_packet(),
            tags: job.tags.clone(),
            encrypted: job.encrypted,
            signed: job.signed,
            signature_verified: job.signature_verified,
            timestamp_ms: job.timestamp_ms,
        };
        self.wait(Pending::Delivery(job), Action::Deliver(Box::new(delivery)));
    }

    /// Answers a RECEIVE or RECEIVE_FILTERED; returns the ids to drain. Seed §6.6 and the
    /// original: RECEIVE_FILTERED takes only the matching messages out of the mailbox.
    fn send_messages(
        &mut self,
        entries: Vec<MailboxEntry>,
        filter: &TagFilter,
        tag_filters: Option<&Json>,
    ) -> Vec<String> {
        let chosen: Vec<MailboxEntry> = entries
            .into_iter()
            .filter(|e| e.packet.is_some() && filter.matches(&e.tags))
            .collect();
        let messages: Vec<&RawValue> = chosen.iter().filter_map(|e| e.packet.as_deref()).collect();
        self.respond(&Response::Messages {
            status: OK,
            count: messages.len(),
            messages,
            tag_filters,
        });
        chosen.into_iter().map(|e| e.id).collect()
    }
}

fn internal(reason: &str) -> Refusal {
    Refusal::new(
        ErrorCode::Internal,
        format!("Failed to process message: {reason}"),
    )
}
