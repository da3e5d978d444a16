//! The client side of an SMTP/VMTP session as a sans-io state machine.
//!
//! ```text
//!  Greeting ─220─▶ EHLO ─250─▶ [STARTTLS|ENCRYPT START ─220─▶ handshake ─▶ EHLO again]
//!                   │5yz                     │454: go on in plain text unless TLS is required
//!                   ▼                        ▼
//!                  HELO ─250────────▶ Work: per message [METADATA…] VECMAIL|MAIL+RCPT…
//!                                            [READACK] [BATCH n] DATA ─354─▶ body ─250─▶ …
//!                                            ─▶ QUIT ─221─▶ Done(Outcome)
//! ```
//! Server bytes go in through [`ClientSession::receive`]; bytes to write, the TLS upgrade and
//! the final [`Outcome`] come out of [`ClientSession::poll_event`]. Commands are sent in
//! groups: with PIPELINING (RFC 2920) a whole group in one write, otherwise one command per
//! reply. Every command sent waits in a queue of expected replies, so replies are matched to
//! commands strictly in order, and a reply that no longer matters (a RCPT after a refused
//! MAIL) is read and set aside. VMTP verbs fall back feature by feature (DESIGN): a refused
//! VMTP command never stops the mail from going out in plain SMTP.

mod hello;
mod outcome;
mod output;
mod replies;
mod transaction;
mod types;

pub use outcome::{
    Delivered, DropReason, DroppedFeature, Failure, Feature, MessageOutcome, Outcome, RcptStatus,
    RecipientResult, TranscriptEntry, message_id,
};
pub use types::{ClientOptions, Event, Message, Wait};

use std::collections::VecDeque;

use super::command::Command;
use super::extension::Extensions;
use super::reply::{Reply, ReplyCode, ReplyParser};
use transaction::Txn;

/// The reply each command on the wire waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    Encrypt,
    /// METADATA for the key at this index of the transaction's first message.
    Metadata(usize),
    VecMail,
    Mail,
    Rcpt(usize),
    ReadAck,
    Batch,
    Data,
    /// The end of the message data.
    Body,
    /// The lone `.` sent after an unwanted 354 (RFC 2920 §3.1).
    AbortBody,
    Rset,
    /// The single command of a command session.
    Command,
    Quit,
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    /// Greeting, EHLO/HELO and the TLS upgrade.
    Hello,
    /// A 220 to STARTTLS/ENCRYPT arrived; the driver runs the handshake.
    Handshake,
    /// Sending mail (or the one command).
    Work,
    /// QUIT is sent; every reply but its own is set aside.
    Quitting,
    Done,
}

/// What the session is for.
#[derive(Debug)]
enum Task {
    Send(Vec<Message>),
    Command(Command),
}

/// One SMTP/VMTP client session over one connection.
#[derive(Debug)]
pub struct ClientSession {
    options: ClientOptions,
    task: Task,
    phase: Phase,
    parser: ReplyParser,
    /// Commands written whose replies have not arrived, oldest first.
    sent: VecDeque<Expect>,
    /// Commands of the current group not written yet (lock-step mode).
    queued: VecDeque<(Expect, String)>,
    events: VecDeque<Event>,
    ext: Extensions,
    tls: bool,
    starttls_tried: bool,
    encrypt_tried: bool,
    /// The refusal of the last TLS attempt, for `require_tls`.
    tls_refusal: Option<Reply>,
    txn: Option<Txn>,
    /// A BATCH broke down; the remaining messages go one by one.
    no_batch: bool,
    results: Vec<Option<Result<Delivered, Failure>>>,
    out: Outcome,
}

impl ClientSession {
    /// A session that sends `messages` (in order) and then quits.
    pub fn new(options: ClientOptions, messages: Vec<Message>) -> Self {
        let messages_out = messages
            .iter()
            .map(|m| MessageOutcome {
                result: Err(Failure::new(true, "not attempted")),
                recipients: m
                    .recipients
                    .iter()
                    .map(|r| RecipientResult {
                        mailbox: r.clone(),
                        status: RcptStatus::NotTried,
                    })
                    .collect(),
                dropped_metadata: Vec::new(),
                read_ack: false,
                used: Vec::new(),
            })
            .collect();
        let out = Outcome {
            messages: messages_out,
            ..Outcome::default()
        };
        Self {
            options,
            results: vec![None; messages.len()],
            task: Task::Send(messages),
            phase: Phase::Hello,
            parser: ReplyParser::new(),
            sent: VecDeque::from([Expect::Greeting]),
            queued: VecDeque::new(),
            events: VecDeque::new(),
            ext: Extensions::default(),
            tls: false,
            starttls_tried: false,
            encrypt_tried: false,
            tls_refusal: None,
            txn: None,
            no_batch: false,
            out,
        }
    }

    /// A session that greets, upgrades TLS as the options say, sends `command`, reads its
    /// reply into [`Outcome::command_reply`] and quits (used by `STATUS` lookups).
    pub fn command(options: ClientOptions, command: Command) -> Self {
        let mut session = Self::new(options, Vec::new());
        session.task = Task::Command(command);
        session
    }

    /// The connection is encrypted from the first byte (implicit TLS, RFC 8314): no upgrade
    /// is tried and `require_tls` is met. Call before the first `receive`.
    pub fn set_implicit_tls(&mut self) {
        self.tls = true;
    }

    /// Bytes from the server.
    pub fn receive(&mut self, bytes: &[u8]) {
        if matches!(self.phase, Phase::Done | Phase::Handshake) {
            return;
        }
        self.parser.feed(bytes);
        while matches!(self.phase, Phase::Hello | Phase::Work | Phase::Quitting) {
            match self.parser.next_reply() {
                None => return,
                Some(Ok(reply)) => self.reply(reply),
                Some(Err(e)) => {
                    self.fail_session(Failure::new(true, format!("protocol error: {e}")), false)
                }
            }
        }
        if self.phase == Phase::Handshake {
            // RFC 3207 §4.2 (and ENCRYPT START alike): nothing received before the handshake
            // may be trusted, so plaintext after the 220 is dropped.
            let junk = self.parser.take_buffered();
            if !junk.is_empty() {
                self.note(format!("discarded {} octets before TLS", junk.len()));
            }
        }
    }

    /// The next thing for the driver to do.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The handshake asked for by [`Event::StartTls`] succeeded. RFC 3207 §4.2: "the client
    /// MUST discard any knowledge obtained from the server" and issue EHLO again.
    pub fn tls_established(&mut self) {
        assert_eq!(
            self.phase,
            Phase::Handshake,
            "no TLS handshake was requested"
        );
        self.tls = true;
        self.ext = Extensions::default();
        self.out.transcript.push(TranscriptEntry::TlsStarted);
        self.phase = Phase::Hello;
        self.send_hello(true);
    }

    /// The connection closed or failed (including a failed TLS handshake).
    pub fn handle_closed(&mut self, reason: impl Into<String>) {
        let reason = reason.into();
        match self.phase {
            Phase::Done => {}
            Phase::Quitting => self.finish(),
            _ => {
                self.settle_unknown_outcome(&reason);
                self.fail_session(Failure::new(true, reason), false)
            }
        }
    }

    /// The end of the data went out and its reply never came: the server may have taken
    /// the message (RFC 5321 §6.1 lets the retry's duplicate happen), so the message's fate
    /// is unknown, not "not tried", and its recipients keep what their RCPT got.
    fn settle_unknown_outcome(&mut self, reason: &str) {
        if !matches!(self.sent.front(), Some(Expect::Body)) {
            return;
        }
        let Some(current) = self.txn.as_ref().map(|t| t.current) else {
            return;
        };
        if self.results.get(current).is_some_and(Option::is_none) {
            let failure = Failure {
                outcome_unknown: true,
                ..Failure::new(
                    true,
                    format!(
                        "{reason} after the end of the data was sent, before the server's \
                         reply: it may have accepted the message"
                    ),
                )
            };
            self.settle(current, Err(failure));
        }
    }

    /// The timeout for [`Self::waiting_for`] ran out: RFC 5321 §4.5.3.2, the client treats
    /// the attempt as failed and tries again later. It is the client that closes the
    /// connection then, so it sends QUIT first (RFC 5321 §4.1.1.10: "The sender MUST NOT
    /// intentionally close the transmission channel until it sends a QUIT command"), and ends
    /// without waiting for a reply from a server already silent past its limit (the same
    /// section's "SHOULD wait until it receives the reply" gives way to the timeout). A
    /// timeout while quitting ends the session.
    pub fn handle_timeout(&mut self) {
        let what = self.waiting_for();
        let reason = format!("timed out waiting for the server ({what:?})");
        match self.phase {
            Phase::Done => {}
            Phase::Quitting | Phase::Handshake => self.handle_closed(reason),
            _ => {
                self.settle_unknown_outcome(&reason);
                self.fail_and_quit_at_once(Failure::new(true, reason));
            }
        }
    }

    /// What the session waits for; `None` when done or during a handshake.
    pub fn waiting_for(&self) -> Option<Wait> {
        if matches!(self.phase, Phase::Done | Phase::Handshake) {
            return None;
        }
        Some(match self.sent.front()? {
            Expect::Greeting => Wait::Greeting,
            Expect::Mail | Expect::VecMail => Wait::Mail,
            Expect::Rcpt(_) => Wait::Rcpt,
            Expect::Data => Wait::DataInit,
            Expect::Body | Expect::AbortBody => Wait::DataTermination,
            _ => Wait::Command,
        })
    }

    /// The session has finished and emitted [`Event::Done`].
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    fn reply(&mut self, reply: Reply) {
        self.out
            .transcript
            .push(TranscriptEntry::Received(reply.clone()));
        let Some(expect) = self.sent.pop_front() else {
            let failure = Failure::from_reply("unexpected reply from the server", &reply);
            let transient = Failure {
                transient: true,
                ..failure
            };
            return self.fail_session(transient, reply.code != ReplyCode::SERVICE_UNAVAILABLE);
        };
        if self.phase == Phase::Quitting {
            if expect == Expect::Quit {
                self.finish();
            }
            return;
        }
        // RFC 5321 §3.8: 421 means the server is closing the connection.
        if reply.code == ReplyCode::SERVICE_UNAVAILABLE && expect != Expect::Quit {
            let failure = Failure::from_reply("the server is closing the connection", &reply);
            return self.fail_session(failure, false);
        }
        match expect {
            Expect::Greeting => self.on_greeting(&reply),
            Expect::Ehlo => self.on_ehlo(&reply),
            Expect::Helo => self.on_helo(&reply),
            Expect::StartTls | Expect::Encrypt => self.on_tls(expect, &reply),
            Expect::Command => {
                self.out.command_reply = Some(reply);
                self.quit();
            }
            Expect::Quit => self.finish(),
            _ => self.on_transaction_reply(expect, &reply),
        }
        if self.phase == Phase::Work {
            self.pump();
        }
    }

    /// Writes the next queued command in lock-step mode, and starts the next group when
    /// nothing is outstanding.
    fn pump(&mut self) {
        while self.sent.is_empty() && self.phase == Phase::Work {
            match self.queued.pop_front() {
                Some((expect, line)) => {
                    if self.still_wanted(expect) {
                        self.write_line(expect, &line);
                    } else {
                        self.skipped(expect);
                    }
                }
                None => self.advance(),
            }
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fake;
#[cfg(test)]
mod tests_scripted;
