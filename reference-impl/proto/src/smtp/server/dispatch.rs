//! Dispatch of one command line by session state: sequencing (503), the session-level verbs
//! (EHLO, HELO, RSET, NOOP, VRFY, EXPN, HELP, QUIT, STARTTLS, AUTH) and the hand-off to the
//! envelope and VMTP handlers.

use super::auth::{PlainOutcome, check_plain};
use super::{Phase, ServerSession};
use crate::smtp::command::{ArgError, Command, CommandError, Verb};
use crate::smtp::extension::VMTP_VERBS;
use crate::smtp::reply::{EnhancedCode, Reply, ReplyCode};

fn bad_sequence(text: &str) -> Reply {
    Reply::with_status(ReplyCode::BAD_SEQUENCE, EnhancedCode::new(5, 5, 1), text)
}

/// The verbs of extensions, which only an EHLO session may use (RFC 5321 §4.1.1.1: a client
/// that greeted with HELO gets no extensions).
impl ServerSession {
    pub(super) fn line(&mut self, line: &[u8]) {
        if matches!(self.phase, Phase::AuthResponse) {
            self.phase = Phase::Ready;
            return self.auth_response(&String::from_utf8_lossy(line));
        }
        if self.refused {
            return self.refused_line(line);
        }
        match Command::parse(line) {
            Ok(command) => self.command(command),
            // VMTP-BATCH-3: a verb not allowed in a BATCH block gets 503 whatever its
            // arguments, so a malformed one is refused like a well-formed one.
            Err(CommandError::Syntax { verb, .. })
                if let Some(reply) = self.refuse_in_batch(verb) =>
            {
                self.error(reply)
            }
            Err(error) => {
                if let CommandError::Syntax {
                    verb: Verb::Bdat, ..
                } = error
                {
                    self.abort_after_bad_bdat();
                }
                let reply = self.command_error_reply(&error);
                self.error(reply);
            }
        }
    }

    /// RFC 5321 §3.1: "A server taking this approach MUST still wait for the client to send a
    /// QUIT (see Section 4.1.1.10) before closing the connection and SHOULD respond to any
    /// intervening commands with "503 bad sequence of commands"."
    fn refused_line(&mut self, line: &[u8]) {
        match Command::parse(line) {
            Ok(Command::Quit) => self.command(Command::Quit),
            _ => self.error(Reply::with_status(
                ReplyCode::BAD_SEQUENCE,
                EnhancedCode::new(5, 7, 1),
                "No SMTP service here",
            )),
        }
    }

    /// A BDAT whose size cannot be read: its chunk cannot be skipped, so the message cannot be
    /// completed. RFC 3030 §2: after a failed BDAT "the transaction should be considered
    /// failed"; the reference aborts it (not inside a BATCH block, which refuses BDAT anyway).
    fn abort_after_bad_bdat(&mut self) {
        if matches!(&self.phase, Phase::Transaction(e) if !e.in_batch()) {
            self.metadata.clear();
            self.phase = Phase::Ready;
        }
    }

    fn command_error_reply(&self, error: &CommandError) -> Reply {
        match error {
            CommandError::Unrecognized => Reply::with_status(
                ReplyCode::SYNTAX_ERROR,
                EnhancedCode::new(5, 5, 2),
                "Command unrecognized",
            ),
            CommandError::Nul => Reply::with_status(
                ReplyCode::SYNTAX_ERROR,
                EnhancedCode::new(5, 5, 2),
                "NUL octet in command line",
            ),
            CommandError::BareLineBreak => Reply::with_status(
                ReplyCode::SYNTAX_ERROR,
                EnhancedCode::new(5, 5, 2),
                "Bare CR or LF in command line; lines end with CRLF",
            ),
            CommandError::InvalidUtf8 => Reply::with_status(
                ReplyCode::SYNTAX_ERROR,
                EnhancedCode::new(5, 5, 2),
                "Command line is not valid UTF-8",
            ),
            CommandError::Syntax { verb, .. } if verb.spec().vmtp && !self.config.vmtp => {
                not_implemented()
            }
            // RFC 5321 §4.5.3.1.9: "Errors due to exceeding these limits may be reported by
            // using the reply codes. Some examples of reply codes are: ... 501 Path too long".
            CommandError::Syntax {
                error: ArgError::PathTooLong,
                ..
            } => Reply::with_status(
                ReplyCode::PARAMETER_SYNTAX_ERROR,
                EnhancedCode::new(5, 5, 4),
                "Path too long",
            ),
            CommandError::Syntax { verb, error } => {
                // RFC 3463: X.1.7 bad sender's mailbox syntax, X.1.3 bad destination mailbox
                // syntax; a VECMAIL list mixes both, so it gets the generic X.5.4.
                let status = match (verb, error) {
                    (Verb::Mail, ArgError::Address(_)) => EnhancedCode::new(5, 1, 7),
                    (Verb::Rcpt, ArgError::Address(_)) => EnhancedCode::new(5, 1, 3),
                    _ => EnhancedCode::new(5, 5, 4),
                };
                Reply::with_status(
                    ReplyCode::PARAMETER_SYNTAX_ERROR,
                    status,
                    format!("Syntax: {} ({error})", verb.spec().usage),
                )
            }
        }
    }

    fn command(&mut self, command: Command) {
        let verb = command.verb();
        if let Some(reply) = self.refuse_by_state(verb) {
            return match command {
                Command::Bdat { size, last } => self.bdat(size, last, Some(reply)),
                _ => self.error(reply),
            };
        }
        match command {
            Command::Ehlo(domain) => self.hello(domain, true),
            Command::Helo(domain) => self.hello(domain, false),
            Command::Rset => {
                self.reset_transaction();
                self.send(Reply::with_status(
                    ReplyCode::OK,
                    EnhancedCode::new(2, 0, 0),
                    "Ok",
                ));
            }
            Command::Noop(_) => self.send(Reply::with_status(
                ReplyCode::OK,
                EnhancedCode::new(2, 0, 0),
                "Ok",
            )),
            Command::Quit => {
                self.send(Reply::with_status(
                    ReplyCode::CLOSING,
                    EnhancedCode::new(2, 0, 0),
                    format!("{} Bye", self.config.hostname),
                ));
                self.phase = Phase::Closed;
                self.actions.push_back(super::Action::Close);
            }
            // RFC 5321 §3.5.3: "A server MUST NOT return a 250 code in response to a VRFY or
            // EXPN command unless it has actually verified the address." §4.2.2: "252 Cannot
            // VRFY user, but will accept message and attempt delivery". The same reply for
            // every user, so VRFY reveals none (§7.3).
            Command::Vrfy(_) => self.send(Reply::with_status(
                ReplyCode::CANNOT_VRFY,
                EnhancedCode::new(2, 0, 0),
                "Cannot VRFY user, but will accept message and attempt delivery",
            )),
            Command::Expn(_) => self.error(Reply::with_status(
                ReplyCode::NOT_IMPLEMENTED,
                EnhancedCode::new(5, 5, 1),
                "EXPN not implemented",
            )),
            Command::Help(_) => self.send(help_reply(self.config.vmtp)),
            Command::StartTls | Command::EncryptStart => self.tls_command(),
            Command::Auth { mechanism, initial } => self.auth(&mechanism, initial),
            Command::Mail { from, params } => self.mail(from, params),
            Command::Rcpt { to, params } => self.rcpt(to, params),
            Command::Data => self.data(),
            Command::Bdat { size, last } => self.bdat(size, last, None),
            Command::VecMail { from, to, params } => self.vecmail(from, to, params),
            Command::Metadata { key, value } => self.metadata(key, value),
            Command::Batch(count) => self.batch(count),
            Command::ReadAck => self.read_ack(),
            Command::Status(id) => self.status(id),
        }
    }

    /// Refusals that depend only on the state, not on the arguments.
    fn refuse_by_state(&self, verb: Verb) -> Option<Reply> {
        let spec = verb.spec();
        if spec.vmtp && !self.config.vmtp {
            return Some(not_implemented());
        }
        if let Some(reply) = self.refuse_in_batch(verb) {
            return Some(reply);
        }
        // The verb table's states (`States`: RFC 5321 §4.1.4 and §4.1.1.1).
        if !spec.states.after_helo && self.extended != Some(true) {
            return Some(bad_sequence("Send EHLO first"));
        }
        if !spec.states.before_hello && self.extended.is_none() {
            return Some(bad_sequence("Send EHLO or HELO first"));
        }
        None
    }

    /// DESIGN: inside a BATCH block only DATA, RSET, NOOP and QUIT are allowed (the verb
    /// table's `in_batch`).
    fn refuse_in_batch(&self, verb: Verb) -> Option<Reply> {
        let in_batch = matches!(&self.phase, Phase::Transaction(envelope) if envelope.in_batch());
        (in_batch && !verb.spec().states.in_batch).then(|| {
            bad_sequence("Only DATA, RSET, NOOP and QUIT are allowed inside a BATCH block")
        })
    }

    /// RFC 5321 §4.1.4: EHLO (or HELO) in the middle of a session resets it like RSET.
    fn hello(&mut self, domain: String, extended: bool) {
        self.extended = Some(extended);
        self.reset_transaction();
        self.helo = domain.clone();
        let first = format!("{} greets {domain}", self.config.hostname);
        if !extended {
            return self.send(Reply::new(ReplyCode::OK, None, first));
        }
        let limits = &self.config.limits;
        let mut lines = vec![
            first,
            "PIPELINING".into(),
            format!("SIZE {}", limits.max_message_size),
        ];
        lines.extend(["8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING"].map(String::from));
        if self.config.tls_available && !self.tls {
            lines.push("STARTTLS".into());
        }
        if self.auth_offered() {
            lines.push("AUTH PLAIN".into());
        }
        if self.config.vmtp {
            let verbs: Vec<&str> = VMTP_VERBS
                .iter()
                .copied()
                .filter(|v| *v != "ENCRYPT" || (self.config.tls_available && !self.tls))
                .collect();
            lines.push(format!("VMTP {}", verbs.join(" ")));
        }
        lines.push("HELP".into());
        self.send(Reply::multiline(ReplyCode::OK, None, lines));
    }

    /// AUTH PLAIN is advertised only over TLS (RFC 4954 §4, plaintext passwords) and only
    /// when credentials are configured.
    pub(super) fn auth_offered(&self) -> bool {
        self.extended == Some(true) && self.tls && !self.config.credentials.is_empty()
    }

    /// RSET, EHLO and HELO end any transaction and drop pending METADATA.
    pub(super) fn reset_transaction(&mut self) {
        self.metadata.clear();
        self.phase = if self.extended.is_some() {
            Phase::Ready
        } else {
            Phase::Fresh
        };
    }

    fn tls_command(&mut self) {
        if self.tls {
            return self.error(bad_sequence("TLS already active"));
        }
        if matches!(self.phase, Phase::Transaction(_)) {
            return self.error(bad_sequence("TLS cannot start inside a mail transaction"));
        }
        if !self.config.tls_available {
            return self.send(Reply::with_status(
                ReplyCode::TLS_UNAVAILABLE,
                EnhancedCode::new(4, 7, 0),
                "TLS not available",
            ));
        }
        self.start_tls();
    }

    /// RFC 4954 §4: AUTH is refused inside a transaction and after a successful AUTH.
    fn auth(&mut self, mechanism: &str, initial: Option<String>) {
        if self.auth_user.is_some() {
            return self.error(bad_sequence("Already authenticated"));
        }
        if matches!(self.phase, Phase::Transaction(_)) {
            return self.error(bad_sequence("AUTH not allowed inside a mail transaction"));
        }
        if self.config.credentials.is_empty() {
            return self.error(not_implemented());
        }
        // RFC 4954 §6: 538 when the mechanism needs an encrypted connection.
        if !self.tls {
            return self.error(Reply::with_status(
                ReplyCode::ENCRYPTION_REQUIRED,
                EnhancedCode::new(5, 7, 11),
                "Encryption required for requested authentication mechanism",
            ));
        }
        if mechanism != "PLAIN" {
            return self.error(Reply::with_status(
                ReplyCode::PARAMETER_NOT_IMPLEMENTED,
                EnhancedCode::new(5, 5, 4),
                "Unrecognized authentication type",
            ));
        }
        match initial {
            Some(response) => self.auth_response(&response),
            None => {
                self.send(Reply::new(ReplyCode::AUTH_CONTINUE, None, ""));
                self.phase = Phase::AuthResponse;
            }
        }
    }

    fn auth_response(&mut self, response: &str) {
        // RFC 4954 §4: "If the server receives such a response ["*"], it MUST reject the AUTH
        // command by sending a 501 reply. Servers using the enhanced status codes extension
        // [ESMTP-CODES] SHOULD return an enhanced status code of 5.7.0 in this case."
        if response == "*" {
            return self.error(Reply::with_status(
                ReplyCode::PARAMETER_SYNTAX_ERROR,
                EnhancedCode::new(5, 7, 0),
                "Authentication cancelled",
            ));
        }
        match check_plain(&self.config, response) {
            PlainOutcome::Success(user) => {
                self.auth_user = Some(user);
                self.send(Reply::with_status(
                    ReplyCode::AUTH_SUCCEEDED,
                    EnhancedCode::new(2, 7, 0),
                    "Authentication successful",
                ));
            }
            // A PLAIN message that decodes but is malformed fails like a wrong password.
            PlainOutcome::BadCredentials | PlainOutcome::Malformed => {
                self.auth_failures = self.auth_failures.saturating_add(1);
                self.error(Reply::with_status(
                    ReplyCode::AUTH_INVALID,
                    EnhancedCode::new(5, 7, 8),
                    "Authentication credentials invalid",
                ))
            }
            // RFC 4954 §4: "If the server cannot [BASE64] decode any client response, it MUST
            // reject the AUTH command with a 501 reply (and an enhanced status code of 5.5.2)."
            PlainOutcome::NotBase64 => self.error(Reply::with_status(
                ReplyCode::PARAMETER_SYNTAX_ERROR,
                EnhancedCode::new(5, 5, 2),
                "Cannot decode the AUTH response",
            )),
        }
    }
}

pub(super) fn not_implemented() -> Reply {
    Reply::with_status(
        ReplyCode::NOT_IMPLEMENTED,
        EnhancedCode::new(5, 5, 1),
        "Command not implemented",
    )
}

fn help_reply(vmtp: bool) -> Reply {
    let mut lines = vec![
        "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT STARTTLS AUTH"
            .to_string(),
    ];
    if vmtp {
        lines.push("VMTP: VECMAIL METADATA ENCRYPT BATCH READACK STATUS".to_string());
    }
    lines.push("See RFC 5321 and the mtpspec SPEC.md".to_string());
    Reply::multiline(
        ReplyCode::HELP,
        Some(crate::smtp::EnhancedCode::new(2, 0, 0)),
        lines,
    )
}
