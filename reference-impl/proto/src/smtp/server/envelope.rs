//! The mail transaction: MAIL, RCPT, VECMAIL, DATA and BDAT, their parameters, the recipient
//! policy (local domains, postmaster, no open relay) and the hand-off of a finished message.

use super::{ChunkState, Delivery, Phase, ServerSession};
use crate::smtp::address::{Mailbox, Path};
use crate::smtp::bdat::BdatChunk;
use crate::smtp::body::MessageBody;
use crate::smtp::command::Params;
use crate::smtp::data::{DataProblem, DataReceiver};
use crate::smtp::reply::{EnhancedCode, Reply, ReplyCode};

/// An open mail transaction.
#[derive(Debug)]
pub(super) struct Envelope {
    from: Path,
    recipients: Vec<String>,
    smtputf8: bool,
    pub(super) read_ack: bool,
    /// A VMTP verb shaped this transaction.
    pub(super) vmtp: bool,
    /// VMTP BATCH: `(count, messages done)`.
    pub(super) batch: Option<(u32, u32)>,
    /// BDAT chunks received so far; `Some` once BDAT was used, so DATA is out of sequence
    /// (RFC 3030 §3).
    pub(super) chunks: Option<MessageBody>,
}

impl Envelope {
    fn new(from: Path, smtputf8: bool) -> Self {
        Self {
            from,
            recipients: Vec::new(),
            smtputf8,
            read_ack: false,
            vmtp: false,
            batch: None,
            chunks: None,
        }
    }

    pub(super) fn in_batch(&self) -> bool {
        self.batch.is_some()
    }

    pub(super) fn has_recipients(&self) -> bool {
        !self.recipients.is_empty()
    }

    pub(super) fn chunking(&self) -> bool {
        self.chunks.is_some()
    }

    pub(super) fn delivery(
        &mut self,
        body: MessageBody,
        metadata: Vec<(String, String)>,
        helo: &str,
        tls: bool,
        auth: Option<String>,
        extended: bool,
    ) -> Delivery {
        let vmtp = self.vmtp || !metadata.is_empty();
        Delivery {
            reverse_path: self
                .from
                .mailbox()
                .map(Mailbox::to_string)
                .unwrap_or_default(),
            recipients: self.recipients.clone(),
            metadata,
            read_ack: self.read_ack,
            taken: body.taken(),
            data: body.into_held(),
            helo: helo.to_string(),
            tls,
            auth,
            protocol: if vmtp {
                "VMTP"
            } else if extended {
                "ESMTP"
            } else {
                "SMTP"
            },
        }
    }

    /// The state after one message of this transaction ended (stored or refused): the next
    /// message of a BATCH, or no transaction.
    pub(super) fn after_message(self) -> Phase {
        match self.batch {
            Some((count, done)) if done + 1 < count => Phase::Transaction(Envelope {
                batch: Some((count, done + 1)),
                chunks: None,
                ..self
            }),
            _ => Phase::Ready,
        }
    }
}

fn bad_value(keyword: &str) -> Reply {
    Reply::with_status(
        ReplyCode::PARAMETER_SYNTAX_ERROR,
        EnhancedCode::new(5, 5, 4),
        format!("Bad value for the {keyword} parameter"),
    )
}

/// The keyword is named when short: RFC 5321 §4.5.3.1.5 keeps a reply line within 512 octets.
fn unsupported_parameter(keyword: &str) -> Reply {
    let text = if keyword.len() <= 64 {
        format!("Unsupported parameter {keyword}")
    } else {
        "Unsupported parameter".to_string()
    };
    Reply::with_status(
        ReplyCode::PARAMETERS_NOT_RECOGNIZED,
        EnhancedCode::new(5, 5, 4),
        text,
    )
}

pub(super) fn data_problem_reply(problem: DataProblem) -> Reply {
    match problem {
        DataProblem::TooBig => Reply::with_status(
            ReplyCode::EXCEEDED_STORAGE,
            EnhancedCode::new(5, 3, 4),
            "Message size exceeds fixed maximum message size",
        ),
        // RFC 5321 §4.5.3.1.6: "The maximum total length of a text line including the <CRLF>
        // is 1000 octets (not counting the leading dot duplicated for transparency)."
        DataProblem::LineTooLong => Reply::with_status(
            ReplyCode::EXCEEDED_STORAGE,
            EnhancedCode::new(5, 6, 0),
            "Line too long in message data",
        ),
    }
}

impl ServerSession {
    pub(super) fn mail(&mut self, from: Path, params: Params) {
        if matches!(self.phase, Phase::Transaction(_)) {
            return self.error(Reply::with_status(
                ReplyCode::BAD_SEQUENCE,
                EnhancedCode::new(5, 5, 1),
                "Nested MAIL command",
            ));
        }
        if let Some(reply) = self.refuse_sender(&from, &params) {
            return self.error(reply);
        }
        let smtputf8 = params.get("SMTPUTF8").is_some();
        self.send(Reply::with_status(
            ReplyCode::OK,
            EnhancedCode::new(2, 1, 0),
            format!("Sender {from} ok"),
        ));
        self.phase = Phase::Transaction(Envelope::new(from, smtputf8));
    }

    /// Checks shared by MAIL and VECMAIL.
    fn refuse_sender(&self, from: &Path, params: &Params) -> Option<Reply> {
        if self.config.submission && self.auth_user.is_none() {
            // RFC 3207 §4: a server that requires TLS "SHOULD return the reply code: 530 Must
            // issue a STARTTLS command first"; RFC 4954 §6: "530 5.7.0 Authentication
            // required". The submission listener needs both, TLS first.
            let text = if !self.tls && self.config.tls_available {
                "Must issue a STARTTLS command first"
            } else {
                "Authentication required"
            };
            return Some(Reply::with_status(
                ReplyCode::AUTH_REQUIRED,
                EnhancedCode::new(5, 7, 0),
                text,
            ));
        }
        if let Err(reply) = self.check_mail_params(params) {
            return Some(reply);
        }
        // RFC 6531 §3.4: a non-ASCII address without the SMTPUTF8 parameter is refused.
        if from.needs_utf8() && params.get("SMTPUTF8").is_none() {
            return Some(Reply::with_status(
                ReplyCode::MAILBOX_NAME_INVALID,
                EnhancedCode::new(5, 6, 7),
                format!("{from}: non-ASCII address requires the SMTPUTF8 parameter"),
            ));
        }
        None
    }

    fn check_mail_params(&self, params: &Params) -> Result<(), Reply> {
        if self.extended == Some(false) && !params.0.is_empty() {
            return Err(Reply::with_status(
                ReplyCode::PARAMETERS_NOT_RECOGNIZED,
                EnhancedCode::new(5, 5, 4),
                "MAIL parameters need an EHLO session",
            ));
        }
        for (keyword, value) in &params.0 {
            match (keyword.as_str(), value.as_deref()) {
                // RFC 1870 §6: a declared size over the fixed maximum gets 552 at MAIL.
                ("SIZE", Some(v))
                    if !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    let declared: u64 = v.parse().unwrap_or(u64::MAX);
                    if declared > self.config.limits.max_message_size {
                        return Err(Reply::with_status(
                            ReplyCode::EXCEEDED_STORAGE,
                            EnhancedCode::new(5, 3, 4),
                            "Message size exceeds fixed maximum message size",
                        ));
                    }
                }
                ("BODY", Some(v))
                    if v.eq_ignore_ascii_case("7BIT") || v.eq_ignore_ascii_case("8BITMIME") => {}
                ("SMTPUTF8", None) => {}
                // RFC 4954 §5: "servers that advertise support for this extension MUST support
                // the AUTH parameter to the MAIL FROM command even when the client has not
                // authenticated itself to the server." Only those that advertise it: below.
                ("AUTH", Some(_)) if self.auth_offered() => {}
                ("SIZE" | "BODY" | "SMTPUTF8", _) => return Err(bad_value(keyword)),
                ("AUTH", _) if self.auth_offered() => return Err(bad_value(keyword)),
                // RFC 5321 §4.1.1.11: "If the server SMTP does not recognize or cannot implement
                // one or more of the parameters associated with a particular MAIL FROM or RCPT
                // TO command, it will return code 555."
                _ => return Err(unsupported_parameter(keyword)),
            }
        }
        Ok(())
    }

    pub(super) fn rcpt(&mut self, to: Path, params: Params) {
        let Phase::Transaction(envelope) = &self.phase else {
            return self.error(Reply::with_status(
                ReplyCode::BAD_SEQUENCE,
                EnhancedCode::new(5, 5, 1),
                "Need MAIL before RCPT",
            ));
        };
        if let Some((keyword, _)) = params.0.first() {
            return self.error(unsupported_parameter(keyword));
        }
        match self.check_recipient(&to, envelope.smtputf8, envelope.recipients.len()) {
            Ok(address) => {
                if let Phase::Transaction(envelope) = &mut self.phase {
                    envelope.recipients.push(address);
                }
                self.send(Reply::with_status(
                    ReplyCode::OK,
                    EnhancedCode::new(2, 1, 5),
                    format!("Recipient {to} ok"),
                ));
            }
            Err(reply) if reply.code.is_transient() => self.send(reply),
            Err(reply) => self.error(reply),
        }
    }

    /// The recipient policy: local domains take any user (or the configured ones, and always
    /// postmaster); other domains only from an authenticated client (no open relay).
    fn check_recipient(&self, to: &Path, smtputf8: bool, count: usize) -> Result<String, Reply> {
        // RFC 5321 §4.5.3.1.8: at least 100 recipients; beyond the limit, 452.
        if count >= self.config.limits.max_recipients {
            return Err(Reply::with_status(
                ReplyCode::INSUFFICIENT_STORAGE,
                EnhancedCode::new(4, 5, 3),
                "Too many recipients",
            ));
        }
        let mailbox = match to {
            Path::Mailbox(m) => m,
            // RFC 5321 §4.1.1.3: <Postmaster> without a domain must be accepted.
            Path::Postmaster | Path::Null => {
                let domain = self
                    .config
                    .local_domains
                    .first()
                    .unwrap_or(&self.config.hostname);
                return Ok(format!("postmaster@{domain}"));
            }
        };
        if mailbox.needs_utf8() && !smtputf8 {
            return Err(Reply::with_status(
                ReplyCode::MAILBOX_NAME_INVALID,
                EnhancedCode::new(5, 6, 7),
                format!("<{mailbox}>: non-ASCII address requires the SMTPUTF8 parameter"),
            ));
        }
        if self.config.is_local_domain(&mailbox.domain) {
            if !self.config.is_local_user(&mailbox.unquoted_local()) {
                return Err(Reply::with_status(
                    ReplyCode::MAILBOX_UNAVAILABLE,
                    EnhancedCode::new(5, 1, 1),
                    format!("<{mailbox}>: User unknown"),
                ));
            }
        } else if self.auth_user.is_none() {
            return Err(Reply::with_status(
                ReplyCode::MAILBOX_UNAVAILABLE,
                EnhancedCode::new(5, 7, 1),
                format!("<{mailbox}>: Relaying denied"),
            ));
        }
        Ok(mailbox.to_string())
    }

    /// VMTP VECMAIL: MAIL plus one RCPT per address, all or nothing, one reply.
    pub(super) fn vecmail(&mut self, from: Path, to: Vec<Mailbox>, params: Params) {
        if matches!(self.phase, Phase::Transaction(_)) {
            return self.error(Reply::with_status(
                ReplyCode::BAD_SEQUENCE,
                EnhancedCode::new(5, 5, 1),
                "A mail transaction is already open",
            ));
        }
        if let Some(reply) = self.refuse_sender(&from, &params) {
            return self.error(reply);
        }
        let mut envelope = Envelope::new(from, params.get("SMTPUTF8").is_some());
        envelope.vmtp = true;
        for (i, mailbox) in to.into_iter().enumerate() {
            match self.check_recipient(&Path::Mailbox(mailbox), envelope.smtputf8, i) {
                Ok(address) => envelope.recipients.push(address),
                Err(reply) if reply.code.is_transient() => return self.send(reply),
                Err(reply) => return self.error(reply),
            }
        }
        let n = envelope.recipients.len();
        self.send(Reply::with_status(
            ReplyCode::OK,
            EnhancedCode::new(2, 1, 5),
            format!("Sender and {n} recipients ok"),
        ));
        self.phase = Phase::Transaction(envelope);
    }

    pub(super) fn data(&mut self) {
        let reply = match &self.phase {
            Phase::Transaction(e) if e.chunking() => Reply::with_status(
                ReplyCode::BAD_SEQUENCE,
                EnhancedCode::new(5, 5, 1),
                "DATA not allowed after BDAT",
            ),
            // RFC 5321 §3.3: with no accepted recipient, DATA gets 554 (or 503).
            Phase::Transaction(e) if !e.has_recipients() => Reply::with_status(
                ReplyCode::TRANSACTION_FAILED,
                EnhancedCode::new(5, 5, 1),
                "No valid recipients",
            ),
            Phase::Transaction(_) => {
                let Phase::Transaction(envelope) = std::mem::replace(&mut self.phase, Phase::Ready)
                else {
                    unreachable!("matched Transaction above");
                };
                let limits = &self.config.limits;
                self.messages += 1;
                let body = MessageBody::new(self.messages, limits.max_message_size);
                self.phase =
                    Phase::Data(DataReceiver::for_body(body, limits.max_text_line), envelope);
                return self.send(Reply::new(
                    ReplyCode::START_MAIL_INPUT,
                    None,
                    "End data with <CR><LF>.<CR><LF>",
                ));
            }
            _ => Reply::with_status(
                ReplyCode::BAD_SEQUENCE,
                EnhancedCode::new(5, 5, 1),
                "Need MAIL and RCPT before DATA",
            ),
        };
        self.error(reply);
    }

    /// RFC 3030: a BDAT chunk is consumed whole even when the command is refused, so the
    /// octets are never read as commands; the reply comes after the chunk.
    pub(super) fn bdat(&mut self, size: u64, last: bool, refused: Option<Reply>) {
        let refused = refused.or_else(|| match &self.phase {
            Phase::Transaction(e) if e.in_batch() => Some(Reply::with_status(
                ReplyCode::BAD_SEQUENCE,
                EnhancedCode::new(5, 5, 1),
                "BDAT not allowed inside a BATCH block",
            )),
            Phase::Transaction(e) if !e.has_recipients() => Some(Reply::with_status(
                ReplyCode::TRANSACTION_FAILED,
                EnhancedCode::new(5, 5, 1),
                "No valid recipients",
            )),
            Phase::Transaction(_) => None,
            _ => Some(Reply::with_status(
                ReplyCode::BAD_SEQUENCE,
                EnhancedCode::new(5, 5, 1),
                "Need MAIL and RCPT before BDAT",
            )),
        });
        let mut resume = std::mem::replace(&mut self.phase, Phase::Ready);
        if let (None, Phase::Transaction(envelope)) = (&refused, &mut resume)
            && envelope.chunks.is_none()
        {
            self.messages += 1;
            let max = self.config.limits.max_message_size;
            envelope.chunks = Some(MessageBody::new(self.messages, max));
        }
        self.phase = Phase::Chunk(
            BdatChunk::new(size),
            Box::new(ChunkState {
                last,
                size,
                refused,
                resume,
            }),
        );
    }

    pub(super) fn end_of_chunk(&mut self) {
        let Phase::Chunk(_, state) = std::mem::replace(&mut self.phase, Phase::Ready) else {
            unreachable!("end_of_chunk outside Chunk");
        };
        let ChunkState {
            last,
            size,
            refused,
            resume,
        } = *state;
        if let Some(reply) = refused {
            self.phase = resume;
            return self.error(reply);
        }
        let Phase::Transaction(mut envelope) = resume else {
            unreachable!("an accepted chunk resumes a transaction");
        };
        if envelope.chunks.as_ref().is_some_and(MessageBody::too_big) {
            self.metadata.clear();
            return self.error(data_problem_reply(DataProblem::TooBig));
        }
        if last {
            let Some(message) = envelope.chunks.take() else {
                unreachable!("an accepted chunk has a message body");
            };
            return self.finish_message(envelope, Ok(message));
        }
        self.send(Reply::with_status(
            ReplyCode::OK,
            EnhancedCode::new(2, 0, 0),
            format!("{size} octets received"),
        ));
        self.phase = Phase::Transaction(envelope);
    }
}
