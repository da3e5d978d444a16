//! Runs one [`Session`] against a target and watches it: the number of replies each operation
//! owes, their syntax, silence after the last one (a reply for nothing is desynchronization),
//! and how the connection ends. The first anomaly ends the session. A 421 is always a legitimate
//! end (RFC 5321 §3.8), as is the close after the 221 that answers QUIT.

use std::time::{Duration, Instant};

use super::conn::{Conn, ReadFail};
use super::oracle::{Kind, LineFault, RawReply, plain_known_verb};
use super::session::{Op, Session};
use mtpspec_runner::target::{Target, tls};
use mtpspec_runner::wire::escape_runs as escape;

/// Timeouts of one session.
#[derive(Clone, Debug)]
pub struct Timing {
    /// How long opening the connection may take (the CLI uses 5 s).
    pub connect: Duration,
    /// How long a reply owed may take before it is a hang.
    pub reply: Duration,
    /// How long the driver listens after the replies owed, for one owed to nothing.
    pub settle: Duration,
}

/// What the wire saw, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The client wrote `pieces` (one write each) for operation `op`, owing `owed` replies.
    Sent {
        /// Index into the session's operations; `None` for the driver's own lines: the `.`
        /// that ends data the session had no body for, the `*` that cancels an AUTH exchange.
        op: Option<usize>,
        /// The octets of each write, in order.
        pieces: Vec<Vec<u8>>,
        /// Replies owed for them: one per command line or body.
        owed: usize,
    },
    /// A reply from the server, as read.
    Received(RawReply),
    /// The TLS handshake after a 220 to STARTTLS or ENCRYPT START.
    Tls,
    /// Something the driver noted: why the session ended early, a body not sent, ...
    Note(String),
}

/// A finding's evidence: its kind, the operation during which it showed, and the details.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anomaly {
    /// Which oracle it breaks.
    pub kind: Kind,
    /// Index into the session's operations (None: the greeting).
    pub op: Option<usize>,
    /// What was seen, in words (the reply, the octets, the time waited).
    pub detail: String,
}

/// How a session went.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Everything written and read, in order: the transcript reports and replays show.
    pub events: Vec<Event>,
    /// The finding that ended the session, if any (only the first is kept).
    pub anomaly: Option<Anomaly>,
    /// Command lines and bodies actually sent.
    pub commands: u64,
    /// The connection could not be opened (a harness or target error, judged by the probe).
    pub connect_error: Option<String>,
    /// Why the session ended before its last operation without a finding (421, a TLS
    /// failure, an indeterminate state).
    pub ended: Option<String>,
}

/// Why the session stopped early without a finding, or with one.
enum Stop {
    /// A legitimate end: 421, 221, an indeterminate state, a TLS failure.
    End(String),
    Found(Anomaly),
}

/// What the driver tracks between operations.
#[derive(Default)]
struct State {
    last_code: u16,
    mail_ok: bool,
    rcpt_ok: bool,
    chunking: bool,
}

/// Runs `session`; `chunking` says whether the target advertised CHUNKING (BDAT is only sent
/// then).
pub async fn run(
    target: &dyn Target,
    session: &Session,
    timing: &Timing,
    chunking: bool,
) -> Outcome {
    let mut out = Outcome::default();
    let connected = match tokio::time::timeout(timing.connect, target.connect()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            out.connect_error = Some(e.to_string());
            return out;
        }
        Err(_) => {
            out.connect_error = Some(format!("connect took over {:?}", timing.connect));
            return out;
        }
    };
    let mut conn = Conn::new(connected.stream);
    let mut state = State {
        chunking,
        ..State::default()
    };
    let mut driver = Driver {
        conn: &mut conn,
        timing,
        out: &mut out,
        target,
        quit: false,
        sent_at: Instant::now(),
        latency: Duration::ZERO,
        last_code: 0,
        lax_endings: false,
    };
    let stop = driver.session(session, &mut state).await;
    match stop {
        Ok(()) => {}
        Err(Stop::End(note)) => {
            out.events.push(Event::Note(note.clone()));
            out.ended = Some(note);
        }
        Err(Stop::Found(anomaly)) => out.anomaly = Some(anomaly),
    }
    drop(connected.guard);
    out
}

struct Driver<'a> {
    conn: &'a mut Conn,
    timing: &'a Timing,
    out: &'a mut Outcome,
    target: &'a dyn Target,
    /// A 221 came: the server is closing.
    quit: bool,
    /// When the last write began, and how long its replies took: a loaded server answers
    /// late, so the silence window after an operation grows with that latency.
    sent_at: Instant,
    latency: Duration,
    /// The code of the last reply read.
    last_code: u16,
    /// A bare CR or LF (or a smuggling-style end of data) was sent: a lax server may have
    /// answered it twice, so which reply answers which line is no longer certain.
    lax_endings: bool,
}

impl Driver<'_> {
    async fn session(&mut self, session: &Session, state: &mut State) -> Result<(), Stop> {
        let greeting = self.replies(None, 1).await?;
        if greeting[0].code != 220 {
            return Err(Stop::End(format!("greeted with {}", greeting[0].code)));
        }
        let mut quit = false;
        for (i, op) in session.ops.iter().enumerate() {
            quit = self.op(i, op, state).await?;
            if quit {
                break;
            }
        }
        if quit {
            self.after_quit().await
        } else {
            // The last chance to see a reply for nothing: listen longer.
            self.latency = self.latency.max(self.timing.settle * 2);
            self.settle(session.ops.len().checked_sub(1), false).await
        }
    }

    /// Runs one operation; `Ok(true)` when QUIT got its 221.
    async fn op(&mut self, i: usize, op: &Op, state: &mut State) -> Result<bool, Stop> {
        if state.last_code == 354 && !matches!(op, Op::Data { .. }) {
            // DATA was accepted but the session has no body for it (a mutated line the server
            // took for DATA, or a body the minimizer removed): end the data at once.
            self.send(None, vec![b".\r\n".to_vec()], 1).await?;
            let r = self.replies(Some(i), 1).await?;
            state.data_done(r[0].code);
        }
        match op {
            Op::Group { lines, chunking } => {
                let bytes: Vec<u8> = lines.iter().flat_map(|l| l.wire()).collect();
                self.send(Some(i), chunking.pieces(&bytes), lines.len())
                    .await?;
                let replies = self.replies(Some(i), lines.len()).await?;
                for (line, reply) in lines.iter().zip(&replies) {
                    state.after(line.verb, reply.code);
                }
                // A reply is pinned on its line only while no bare CR or LF has been sent.
                let mut trusted = !self.lax_endings;
                let mut wrong = None;
                for (line, reply) in lines.iter().zip(&replies) {
                    trusted &= !line.content.iter().any(|&b| b == b'\r' || b == b'\n');
                    if trusted && reply.code == 500 && plain_known_verb(&line.content) {
                        wrong = Some(line);
                        break;
                    }
                }
                self.lax_endings |= !trusted
                    || lines
                        .iter()
                        .any(|l| l.content.iter().any(|&b| b == b'\r' || b == b'\n'));
                if let Some(line) = wrong {
                    return Err(Stop::Found(Anomaly {
                        kind: Kind::UnrecognizedKnownVerb,
                        op: Some(i),
                        detail: format!("500 to a known verb: {}", escape(&line.content)),
                    }));
                }
                let quit = self.quit;
                if replies[..replies.len() - 1]
                    .iter()
                    .any(|r| r.code / 100 == 3)
                {
                    return Err(Stop::End(
                        "a 3yz reply inside a pipelined group: the rest of the group was not commands".into(),
                    ));
                }
                if !quit {
                    self.settle(Some(i), state.last_code == 334).await?;
                }
                if state.last_code == 334 {
                    // RFC 4954 §4: "*" cancels an AUTH exchange; the server answers 501.
                    self.send(None, vec![b"*\r\n".to_vec()], 1).await?;
                    let r = self.replies(Some(i), 1).await?;
                    state.last_code = r[0].code;
                }
                Ok(quit)
            }
            Op::Data { body, chunking, .. } => {
                if state.last_code != 354 {
                    self.out
                        .events
                        .push(Event::Note(format!("op {i}: no 354, body not sent")));
                    return Ok(false);
                }
                self.lax_endings |= dot_beside_bare_ending(body);
                self.send(Some(i), chunking.pieces(body), 1).await?;
                let r = self.replies(Some(i), 1).await?;
                state.data_done(r[0].code);
                self.settle(Some(i), false).await?;
                Ok(false)
            }
            Op::Bdat {
                payload,
                last,
                chunking,
            } => {
                if !(state.chunking && state.mail_ok && state.rcpt_ok) {
                    self.out.events.push(Event::Note(format!(
                        "op {i}: no open transaction, BDAT not sent"
                    )));
                    return Ok(false);
                }
                let verb = if *last { " LAST" } else { "" };
                let mut bytes = format!("BDAT {}{verb}\r\n", payload.len()).into_bytes();
                bytes.extend_from_slice(payload);
                self.send(Some(i), chunking.pieces(&bytes), 1).await?;
                let r = self.replies(Some(i), 1).await?;
                if *last || r[0].code / 100 != 2 {
                    state.data_done(r[0].code);
                }
                self.settle(Some(i), false).await?;
                Ok(false)
            }
            Op::StartTls { command } => {
                self.send(Some(i), vec![format!("{command}\r\n").into_bytes()], 1)
                    .await?;
                let r = self.replies(Some(i), 1).await?;
                state.last_code = r[0].code;
                if r[0].code != 220 {
                    self.settle(Some(i), false).await?;
                    return Ok(false);
                }
                self.handshake(i).await?;
                *state = State {
                    chunking: state.chunking,
                    ..State::default()
                };
                Ok(false)
            }
        }
    }

    async fn handshake(&mut self, i: usize) -> Result<(), Stop> {
        if !self.conn.buffered().is_empty() {
            return Err(Stop::Found(Anomaly {
                kind: Kind::ExtraReply,
                op: Some(i),
                detail: format!(
                    "octets after the 220 to a TLS upgrade, before the handshake: {}",
                    escape(self.conn.buffered())
                ),
            }));
        }
        let plain = std::mem::replace(&mut self.conn.stream, Box::new(tokio::io::duplex(1).0));
        let handshake = tls::connect(plain, self.target.tls_server_name());
        match tokio::time::timeout(self.timing.reply, handshake).await {
            Ok(Ok((stream, _))) => {
                self.conn.stream = stream;
                self.out.events.push(Event::Tls);
                Ok(())
            }
            Ok(Err(e)) => Err(Stop::End(format!("TLS handshake failed: {e}"))),
            Err(_) => Err(Stop::End("TLS handshake timed out".into())),
        }
    }

    async fn send(
        &mut self,
        op: Option<usize>,
        pieces: Vec<Vec<u8>>,
        owed: usize,
    ) -> Result<(), Stop> {
        self.out.commands += owed as u64;
        self.sent_at = Instant::now();
        self.out.events.push(Event::Sent {
            op,
            pieces: pieces.clone(),
            owed,
        });
        for piece in &pieces {
            if let Err(fail) = self.conn.write(piece, self.timing.reply).await {
                if let ReadFail::Reset(_) | ReadFail::Eof(_) = fail
                    && let Some(stop) = self.announced_close(op).await
                {
                    return Err(stop);
                }
                return Err(self.judge(op, fail, "writing"));
            }
        }
        Ok(())
    }

    /// Reads the `owed` replies of operation `op`. A 421 ends the session legitimately.
    async fn replies(&mut self, op: Option<usize>, owed: usize) -> Result<Vec<RawReply>, Stop> {
        let mut got = Vec::with_capacity(owed);
        for n in 0..owed {
            match self.conn.reply(self.timing.reply).await {
                Ok(reply) => {
                    self.out.events.push(Event::Received(reply.clone()));
                    if reply.code == 421 {
                        return Err(Stop::End("421: the server closes the session".into()));
                    }
                    let quit = reply.code == 221;
                    self.last_code = reply.code;
                    got.push(reply);
                    if quit {
                        // SMTP-QUIT-2: what followed QUIT in the group is neither run nor answered.
                        self.quit = true;
                        break;
                    }
                }
                Err(fail) => {
                    let what = format!("reply {} of {owed}", n + 1);
                    return Err(self.judge(op, fail, &what));
                }
            }
        }
        self.latency = self.sent_at.elapsed();
        Ok(got)
    }

    /// Listens for `settle`: any reply now answers nothing that was sent.
    async fn settle(&mut self, op: Option<usize>, skip: bool) -> Result<(), Stop> {
        if skip {
            return Ok(());
        }
        let window = self
            .timing
            .settle
            .max(self.latency * 2)
            .min(self.timing.settle * 20);
        match self.conn.anything_within(window).await {
            Ok(false) => Ok(()),
            Ok(true) => match self.conn.reply(self.timing.reply).await {
                Ok(reply) if reply.code == 421 => {
                    self.out.events.push(Event::Received(reply));
                    Err(Stop::End("421: the server closes the session".into()))
                }
                Ok(reply) => {
                    self.out.events.push(Event::Received(reply.clone()));
                    Err(Stop::Found(Anomaly {
                        kind: Kind::ExtraReply,
                        op,
                        detail: format!(
                            "a reply for nothing, after every reply owed had come: {}",
                            escape(&reply.lines.concat())
                        ),
                    }))
                }
                Err(fail) => Err(self.judge(op, fail, "an unexpected reply")),
            },
            Err(ReadFail::Eof(_)) if self.last_code >= 400 => Err(Stop::Found(Anomaly {
                kind: Kind::CloseAfterError,
                op,
                detail: format!(
                    "the server closed the connection after answering {}, without 421",
                    self.last_code
                ),
            })),
            Err(fail) => Err(self.judge(op, fail, "silence after the replies")),
        }
    }

    /// RFC 5321 §4.1.1.10: after the 221 "the receiver MUST ... close the transmission
    /// channel"; nothing may follow the 221 (SMTP-QUIT-2).
    async fn after_quit(&mut self) -> Result<(), Stop> {
        match self.conn.anything_within(self.timing.reply).await {
            Ok(false) => Err(Stop::End("the connection stayed open after 221".into())),
            Ok(true) => {
                let extra = self.conn.buffered().to_vec();
                Err(Stop::Found(Anomaly {
                    kind: Kind::ExtraReply,
                    op: None,
                    detail: format!("octets after the 221 to QUIT: {}", escape(&extra)),
                }))
            }
            Err(ReadFail::Eof(_) | ReadFail::Reset(_)) => Ok(()),
            Err(fail) => Err(self.judge(None, fail, "after QUIT")),
        }
    }

    /// The server closed while the client was still writing: read what it said before. A
    /// close announced with 221 or 421 ends the session legitimately; one after another 4yz or
    /// 5yz is [`Kind::CloseAfterError`]. `None` when nothing readable came.
    async fn announced_close(&mut self, op: Option<usize>) -> Option<Stop> {
        let mut last = None;
        while let Ok(reply) = self.conn.reply(self.timing.settle).await {
            self.out.events.push(Event::Received(reply.clone()));
            last = Some(reply.code);
        }
        match last? {
            221 | 421 => Some(Stop::End(
                "the server announced its close (221 or 421) while the client was writing".into(),
            )),
            code if code >= 400 => Some(Stop::Found(Anomaly {
                kind: Kind::CloseAfterError,
                op,
                detail: format!(
                    "the server closed the connection after answering {code}, without 421"
                ),
            })),
            _ => None,
        }
    }

    fn judge(&mut self, op: Option<usize>, fail: ReadFail, what: &str) -> Stop {
        let (kind, detail) = match fail {
            ReadFail::Timeout(partial) => (
                Kind::Hang,
                format!(
                    "{what}: nothing complete within {} ms{}",
                    self.timing.reply.as_millis(),
                    shown(&partial)
                ),
            ),
            ReadFail::Eof(partial) => (
                Kind::UnexpectedClose,
                format!(
                    "{what}: the server closed the connection without 421{}",
                    shown(&partial)
                ),
            ),
            ReadFail::Reset(e) => (Kind::Reset, format!("{what}: {e}")),
            ReadFail::Fault(LineFault::Malformed(m), partial) => (
                Kind::MalformedReply,
                format!("{what}: {m}{}", shown(&partial)),
            ),
            ReadFail::Fault(LineFault::Text(m), _) => (Kind::ReplyText, format!("{what}: {m}")),
        };
        Stop::Found(Anomaly { kind, op, detail })
    }
}

/// Whether a body has a dot next to a bare CR or LF (or right after DATA's CRLF and before
/// one): an end of data to a lax server, though not to RFC 5321 §4.1.1.4.
fn dot_beside_bare_ending(body: &[u8]) -> bool {
    let bare = |i: usize| match body.get(i) {
        Some(b'\n') => i == 0 || body[i - 1] != b'\r',
        Some(b'\r') => body.get(i + 1) != Some(&b'\n'),
        _ => false,
    };
    (0..body.len()).any(|i| body[i] == b'.' && ((i > 0 && bare(i - 1)) || bare(i + 1)))
}

fn shown(partial: &[u8]) -> String {
    if partial.is_empty() {
        String::new()
    } else {
        format!(" (received {})", escape(partial))
    }
}

impl State {
    /// Tracks whether a transaction is open, for BDAT.
    fn after(&mut self, verb: &str, code: u16) {
        self.last_code = code;
        let ok = code / 100 == 2;
        match verb {
            "MAIL" | "VECMAIL" if ok => {
                self.mail_ok = true;
                self.rcpt_ok |= verb == "VECMAIL";
            }
            "RCPT" if ok => self.rcpt_ok = true,
            "RSET" | "EHLO" | "HELO" if ok => {
                self.mail_ok = false;
                self.rcpt_ok = false;
            }
            _ => {}
        }
    }

    fn data_done(&mut self, code: u16) {
        self.last_code = code;
        self.mail_ok = false;
        self.rcpt_ok = false;
    }
}

#[cfg(test)]
mod tests {
    use super::dot_beside_bare_ending;

    #[test]
    fn lax_ends_of_data() {
        assert!(!dot_beside_bare_ending(b"a\r\n..b\r\n.\r\n"));
        for lax in [
            &b".\nx\r\n.\r\n"[..],
            b"a\n.\nx\r\n.\r\n",
            b"a\r\n.\rX\r\n.\r\n",
            b"a\r.\r\n.\r\n",
        ] {
            assert!(dot_beside_bare_ending(lax), "{lax:?}");
        }
    }
}
