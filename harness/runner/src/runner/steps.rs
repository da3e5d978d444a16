//! Running the steps of one case: the session holds its numbered connections, its variables
//! and the wire log, and turns each step into bytes written and replies judged. The JSON
//! (MMTP) steps are in [`json`], `expect_one_of` in [`branch`].

mod branch;
mod http;
mod json;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mtp_proto::smtp::reply::{Reply, ReplyError};

use super::RunOptions;
use super::conn::{Conn, ReadFailure};
use super::mailbox;
use super::step_error::{StepError, show_reply};
use crate::scenario::model::WriteError;
use crate::scenario::vars::UnknownVariable;
use crate::scenario::{CodeSet, ExpectReply, LocatedStep, Step, Template, Vars};
use crate::target::{Listener, Observer, Target};
use crate::wire::WireLog;
use mtpspec_report::verdict::Observed;

pub(crate) struct Session<'a> {
    pub target: &'a dyn Target,
    pub listener: Listener,
    pub observer: Option<&'a dyn Observer>,
    pub options: &'a RunOptions,
    pub log: WireLog,
    pub vars: Vars,
    /// The step running now, for reporting a deadline.
    pub progress: Arc<AtomicUsize>,
    /// Set when a mailbox check could not be made (no observer).
    pub skipped: Option<String>,
    conns: BTreeMap<u8, Conn>,
    current: u8,
    /// The MMTP HashCash difficulty the probe learned, for connections whose welcome did not
    /// say.
    pub mmtp_difficulty: Option<u32>,
    /// Where the case's fixture OpenPGP keys are (`keys/` next to its scenario file).
    pub keys_dir: std::path::PathBuf,
    /// The HTTP client and the last response (gateway cases).
    http: super::http::HttpState,
}

impl<'a> Session<'a> {
    pub(crate) fn new(
        target: &'a dyn Target,
        listener: Listener,
        observer: Option<&'a dyn Observer>,
        options: &'a RunOptions,
        vars: Vars,
    ) -> Self {
        Self {
            target,
            listener,
            observer,
            options,
            log: WireLog::new(),
            vars,
            progress: Arc::new(AtomicUsize::new(0)),
            skipped: None,
            conns: BTreeMap::new(),
            current: 1,
            mmtp_difficulty: None,
            keys_dir: std::path::PathBuf::from("keys"),
            http: super::http::HttpState::default(),
        }
    }

    /// Runs `steps` in order, stopping at the first that does not succeed.
    pub(crate) async fn run(&mut self, steps: &[LocatedStep]) -> Result<(), (usize, StepError)> {
        for (i, located) in steps.iter().enumerate() {
            self.progress.store(i, Ordering::Relaxed);
            self.step(&located.step).await.map_err(|e| (i, e))?;
        }
        Ok(())
    }

    /// Closes every connection still open.
    pub(crate) async fn close_all(&mut self) {
        for (_, conn) in std::mem::take(&mut self.conns) {
            conn.close().await;
        }
    }

    async fn conn(&mut self) -> Result<&mut Conn, StepError> {
        let id = self.current;
        if !self.conns.contains_key(&id) {
            // An HTTP case's SMTP steps go to the SMTP listener.
            let listener = match self.listener {
                Listener::Http => Listener::Smtp,
                other => other,
            };
            let conn = Conn::open(
                self.target,
                listener,
                id,
                &self.log,
                self.options.connect_timeout,
            )
            .await
            .map_err(|e| StepError::Harness(e.to_string()))?;
            self.conns.insert(id, conn);
        }
        self.conns
            .get_mut(&id)
            .ok_or_else(|| StepError::Harness(format!("connection {id} vanished")))
    }

    fn expand(&self, template: &Template) -> Result<String, StepError> {
        template.expand(&self.vars).map_err(missing_variable)
    }

    async fn write(
        &mut self,
        bytes: &[u8],
        chunk: Option<usize>,
        pause: Duration,
    ) -> Result<(), StepError> {
        self.conn()
            .await?
            .write(bytes, chunk, pause)
            .await
            .map_err(StepError::Harness)
    }

    async fn step(&mut self, step: &Step) -> Result<(), StepError> {
        match step {
            Step::Send(line) => {
                let line = format!("{}\r\n", self.expand(line)?);
                self.write(line.as_bytes(), None, Duration::ZERO).await
            }
            Step::Pipeline(lines) => {
                let mut bytes = String::new();
                for line in lines {
                    bytes.push_str(&self.expand(line)?);
                    bytes.push_str("\r\n");
                }
                self.write(bytes.as_bytes(), None, Duration::ZERO).await
            }
            Step::Write(w) => {
                let data = w.bytes(&self.vars).map_err(|e| match e {
                    WriteError::Variable(e) => missing_variable(e),
                    WriteError::Octets(why) => StepError::Harness(why),
                })?;
                self.write(&data, w.chunk, Duration::from_millis(w.pause_ms))
                    .await
            }
            Step::Bdat(b) => {
                let data = b.data.expand(&self.vars).map_err(missing_variable)?;
                let last = if b.last { " LAST" } else { "" };
                let mut bytes = format!("BDAT {}{last}\r\n", data.len()).into_bytes();
                bytes.extend_from_slice(&data);
                self.write(&bytes, None, Duration::ZERO).await
            }
            Step::Expect(expect) => self.expect(expect).await,
            Step::ExpectClose => self.expect_close().await,
            Step::ExpectSilence(ms) => self.expect_silence(Duration::from_millis(*ms)).await,
            Step::Ehlo => {
                let line = format!(
                    "EHLO {}\r\n",
                    self.vars.get("client").unwrap_or("localhost")
                );
                self.write(line.as_bytes(), None, Duration::ZERO).await?;
                self.expect_code(250).await.map(drop)
            }
            Step::Starttls => self.upgrade("STARTTLS").await,
            Step::EncryptStart => self.upgrade("ENCRYPT START").await,
            Step::TlsHandshake => self.handshake().await,
            Step::Connection(n) => {
                self.current = *n;
                Ok(())
            }
            Step::Disconnect => {
                if let Some(conn) = self.conns.remove(&self.current) {
                    conn.close().await;
                }
                Ok(())
            }
            Step::Sleep(ms) => {
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                Ok(())
            }
            Step::SendJson(template) => self.send_json(template).await,
            Step::WriteJson(w) => self.write_json(w).await,
            Step::ExpectJson(pattern) => self.expect_json(pattern).await,
            Step::Http(request) => self.http_request(request).await,
            Step::ExpectHttp(expect) => self.expect_http(expect).await,
            Step::PollHttp(poll) => self.poll_http(poll).await,
            Step::ExpectOneOf(branches) => self.expect_one_of(branches).await,
            Step::Mailbox(check) => match self.observer {
                Some(observer) => {
                    let unique = self.options.vars.unique_recipients();
                    mailbox::check(
                        observer,
                        check,
                        &self.vars,
                        unique,
                        self.options.mailbox_wait,
                    )
                    .await
                }
                None => {
                    self.skipped = Some(
                        "delivery check needs a mailbox observer (--maildir or --mailbox-cmd)"
                            .into(),
                    );
                    Ok(())
                }
            },
        }
    }

    async fn read_reply(&mut self, timeout: Duration) -> Result<Reply, StepError> {
        let result = self.conn().await?.read_reply(timeout).await;
        result.map_err(|e| read_failure(e, timeout))
    }

    async fn expect(&mut self, expect: &ExpectReply) -> Result<(), StepError> {
        let timeout = expect
            .timeout_ms
            .map_or(self.options.step_timeout, Duration::from_millis);
        let reply = self
            .read_reply(timeout)
            .await
            .map_err(|e| e.expecting(expect.to_string()))?;
        if expect.mismatch(&reply).is_some() {
            if let Some(closing) = self.unasked_421(&reply) {
                return Err(closing);
            }
            if let Some(why) = &expect.or_skip {
                return Err(StepError::Skip(format!(
                    "{why} (expected {expect}, got {})",
                    show_reply(&reply)
                )));
            }
        }
        self.judge_reply(expect, &reply)
    }

    /// A 421 the step did not ask for. RFC 5321 §3.8: "An SMTP server MUST NOT intentionally
    /// close the connection under normal operational circumstances ... except: ... After
    /// detecting the need to shut down the SMTP service and returning a 421 reply code. This
    /// reply code can be issued after the server receives any command". So a 421 is never the
    /// cited requirement's failure: as the greeting it refuses the connection (a connection or
    /// rate limit: retried later), later it ends the session (the case is not judged).
    pub(super) fn unasked_421(&self, reply: &Reply) -> Option<StepError> {
        if reply.code.get() != 421 {
            return None;
        }
        let shown = show_reply(reply);
        let first = self
            .conns
            .get(&self.current)
            .is_some_and(|conn| conn.replies_read <= 1);
        Some(if first {
            StepError::Refused(format!("the target refused the connection: {shown}"))
        } else {
            StepError::ServiceClosing(format!(
                "the target ended the session with {shown}, which RFC 5321 §3.8 allows after \
                 any command; the case could not be judged on this connection"
            ))
        })
    }

    /// Checks `reply` against `expect` and sets its captures.
    fn judge_reply(&mut self, expect: &ExpectReply, reply: &Reply) -> Result<(), StepError> {
        if let Some(why) = expect.mismatch(reply) {
            return Err(StepError::reply(expect.to_string(), reply, Some(&why)));
        }
        let text = reply.lines.join("\n");
        for (name, pattern) in &expect.capture {
            let Some(caps) = pattern.regex.captures(&text) else {
                return Err(StepError::reply(
                    format!(
                        "reply text matching /{}/ (capture `{name}`)",
                        pattern.as_str()
                    ),
                    reply,
                    None,
                ));
            };
            let value = caps
                .get(1)
                .or_else(|| caps.get(0))
                .map_or("", |m| m.as_str());
            self.vars.set(name, value);
        }
        Ok(())
    }

    async fn expect_code(&mut self, code: u16) -> Result<Reply, StepError> {
        let expected = code.to_string();
        let reply = self
            .read_reply(self.options.step_timeout)
            .await
            .map_err(|e| e.expecting(expected.clone()))?;
        let set = CodeSet::parse(&expected).map_err(StepError::Harness)?;
        if !set.matches(reply.code.get()) {
            return Err(self
                .unasked_421(&reply)
                .unwrap_or_else(|| StepError::reply(expected, &reply, None)));
        }
        Ok(reply)
    }

    async fn expect_close(&mut self) -> Result<(), StepError> {
        let timeout = self.options.step_timeout;
        let outcome = self
            .conn()
            .await?
            .wait_close(timeout)
            .await
            .map_err(StepError::Harness)?;
        match outcome {
            Ok(early) if early.is_empty() => {
                self.conns.remove(&self.current);
                Ok(())
            }
            Ok(early) => {
                self.conns.remove(&self.current);
                let text = String::from_utf8_lossy(&early).into_owned();
                Err(StepError::observed(
                    "the target to close the connection without sending more",
                    format!("received {text:?} before the close"),
                    Observed::Received { text },
                ))
            }
            Err(partial) => Err(StepError::observed(
                "the target to close the connection",
                with_partial(
                    format!("still open after {} ms", timeout.as_millis()),
                    &partial,
                ),
                Observed::StillOpen {
                    waited_ms: millis(timeout),
                },
            )),
        }
    }

    async fn expect_silence(&mut self, duration: Duration) -> Result<(), StepError> {
        let expected = format!("no bytes for {} ms", duration.as_millis());
        match self
            .conn()
            .await?
            .silence(duration)
            .await
            .map_err(StepError::Harness)?
        {
            None => Ok(()),
            Some(bytes) if bytes.is_empty() => Err(StepError::observed(
                expected,
                "the target closed the connection",
                Observed::Closed {
                    partial: String::new(),
                },
            )),
            Some(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                Err(StepError::observed(
                    expected,
                    format!("received {text:?}"),
                    Observed::Received { text },
                ))
            }
        }
    }

    async fn upgrade(&mut self, command: &str) -> Result<(), StepError> {
        let line = format!("{command}\r\n");
        self.write(line.as_bytes(), None, Duration::ZERO).await?;
        self.expect_code(220).await?;
        self.handshake().await
    }

    async fn handshake(&mut self) -> Result<(), StepError> {
        let target = self.target;
        self.conn()
            .await?
            .start_tls(target)
            .await
            .map_err(|e| StepError::Harness(e.to_string()))
    }
}

/// A variable without a value: the credentials were not given (SKIP), or a capture did not
/// happen (which a failed expect reports first, so this is the harness's trouble).
fn missing_variable(e: UnknownVariable) -> StepError {
    if e.0.starts_with("auth_") {
        StepError::Skip("needs AUTH credentials (--auth USER:PASSWORD)".into())
    } else if e.0.starts_with("size_") {
        StepError::Skip(
            "the target advertises no SIZE maximum to exceed (none, or over 64 MiB)".into(),
        )
    } else {
        StepError::Harness(e.to_string())
    }
}

/// Why no reply could be read, as a step error.
fn read_failure(failure: ReadFailure, timeout: Duration) -> StepError {
    let ms = timeout.as_millis();
    match failure {
        ReadFailure::Timeout { partial } => StepError::observed(
            "a reply",
            with_partial(format!("no reply within {ms} ms"), &partial),
            Observed::NoReply {
                waited_ms: millis(timeout),
                partial: String::from_utf8_lossy(&partial).into_owned(),
            },
        ),
        ReadFailure::Closed { partial } => StepError::observed(
            "a reply",
            with_partial("the target closed the connection".into(), &partial),
            Observed::Closed {
                partial: String::from_utf8_lossy(&partial).into_owned(),
            },
        ),
        // The two a MUST forbids: a line end other than CRLF (RFC 5321 §2.3.8: "MUST NOT
        // recognize or generate any other character or character sequence as a line
        // terminator") and a code that changes within a reply (§4.2.1). Other malformations
        // (8-bit text, an overlong line) break only the grammar: the step's own failure.
        ReadFailure::Malformed(e @ (ReplyError::BareLf | ReplyError::CodeMismatch { .. })) => {
            StepError::MalformedReply(format!("malformed reply: {e}"))
        }
        ReadFailure::Malformed(e) => StepError::observed(
            "a well-formed reply",
            format!("malformed reply: {e}"),
            Observed::Malformed { why: e.to_string() },
        ),
        ReadFailure::NotJson(e) => StepError::Harness(e.error),
        ReadFailure::Io(e) => StepError::Harness(e),
    }
}

/// Whole milliseconds of `d`, for [`Observed`] (saturating).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn with_partial(message: String, partial: &[u8]) -> String {
    if partial.is_empty() {
        message
    } else {
        format!(
            "{message}; incomplete bytes {:?}",
            String::from_utf8_lossy(partial)
        )
    }
}
