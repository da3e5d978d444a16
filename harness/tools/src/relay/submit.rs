//! The harness as the relay client of the target: one SMTP session (EHLO, MAIL, RCPT, DATA,
//! the content as octets, QUIT) over plain TCP, every reply awaited with a bound, the whole
//! exchange kept as a transcript. What the target answered decides whether the case goes on
//! (accepted), stops with the target's refusal, or cannot be set up (an extension the message
//! needs is not offered, the target cannot be reached).

use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::servetest::reporting::clip;
use mtpspec_runner::wire::escape;

/// The name the harness gives in EHLO.
pub const EHLO_NAME: &str = "relay-client.mtpspec.test";
/// How long one reply may take (the reply after the data too).
const STEP: Duration = Duration::from_secs(30);
const CONNECT: Duration = Duration::from_secs(10);
/// How long the harness listens for replies nobody asked for after the data's.
const UNASKED: Duration = Duration::from_millis(500);

/// What the harness submits, filled in for one case.
pub struct Submission<'a> {
    /// The reverse-path (empty for `MAIL FROM:<>`).
    pub sender: &'a str,
    /// The recipients, one RCPT each.
    pub rcpts: &'a [String],
    /// `BODY=8BITMIME` on MAIL.
    pub body_8bitmime: bool,
    /// `SMTPUTF8` on MAIL.
    pub smtputf8: bool,
    /// The data after the 354, with its end (`content::terminate`).
    pub data: &'a [u8],
}

/// How the submission went.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Submitted {
    /// The end of data got 2yz: the target took responsibility for the message. `extra`:
    /// reply lines that came unasked after it (a target that ended the data early and ran
    /// the rest as commands answers them: inbound smuggling).
    Accepted {
        /// The reply to the end of data.
        reply: String,
        /// Reply lines that came unasked after it.
        extra: Vec<String>,
    },
    /// A reply that was not the expected one, at a stage: `greeting`, `ehlo`, `mail`,
    /// `rcpt`, `data` or `end of data`.
    Refused {
        /// Where: `greeting`, `ehlo`, `mail`, `rcpt`, `data` or `end of data`.
        stage: String,
        /// The reply, its lines joined by ` / `.
        reply: String,
    },
    /// The target closed the connection (or a reply did not come) at a stage.
    Closed {
        /// Where, as for `Refused`.
        stage: String,
        /// What happened.
        why: String,
    },
    /// The message needs an extension the target does not advertise.
    Unsupported {
        /// The EHLO keyword.
        extension: String,
    },
    /// The target's submission side cannot carry the case's message (the gateway's JSON
    /// has no null reverse-path, no header fields of the case's own).
    NotExpressible {
        /// Why.
        why: String,
    },
    /// No connection.
    Unreachable {
        /// The connection error.
        why: String,
    },
}

impl Submitted {
    /// Whether the refusal is about the content (at DATA or after it), rather than the
    /// envelope or the session.
    pub fn refused_content(&self) -> bool {
        match self {
            Submitted::Refused { stage, .. } | Submitted::Closed { stage, .. } => {
                stage == "data" || stage == "end of data"
            }
            _ => false,
        }
    }

    /// One line for reports.
    pub fn describe(&self) -> String {
        match self {
            Submitted::Accepted { reply, extra } if extra.is_empty() => {
                format!("accepted: {reply}")
            }
            Submitted::Accepted { reply, extra } => format!(
                "accepted: {reply}, then {} more reply line(s) unasked: {}",
                extra.len(),
                extra.join(" / ")
            ),
            Submitted::Refused { stage, reply } => format!("refused at {stage}: {reply}"),
            Submitted::Closed { stage, why } => format!("connection lost at {stage}: {why}"),
            Submitted::Unsupported { extension } => {
                format!("the target does not advertise {extension}, which the message needs")
            }
            Submitted::NotExpressible { why } => format!("not expressible: {why}"),
            Submitted::Unreachable { why } => format!("the target could not be reached: {why}"),
        }
    }
}

/// One SMTP session with the target; returns the outcome and the transcript (`C:`/`S:` lines,
/// escaped).
pub async fn submit(addr: &str, sub: &Submission<'_>) -> (Submitted, Vec<String>) {
    let mut client = match tokio::time::timeout(CONNECT, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => Client {
            stream,
            buf: Vec::new(),
            log: Vec::new(),
        },
        Ok(Err(e)) => {
            let why = format!("{addr}: {e}");
            return (Submitted::Unreachable { why }, Vec::new());
        }
        Err(_) => {
            let why = format!("{addr}: no connection within {} s", CONNECT.as_secs());
            return (Submitted::Unreachable { why }, Vec::new());
        }
    };
    let outcome = client.session(sub).await;
    if !matches!(outcome, Submitted::Closed { .. }) {
        // The outcome is known; a QUIT that goes unanswered changes nothing.
        let _ = client.command("QUIT", "quit").await;
    }
    (outcome, client.log)
}

struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    log: Vec<String>,
}

/// A reply: its code and lines.
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn text(&self) -> String {
        self.lines.join(" / ")
    }
}

impl Client {
    async fn session(&mut self, sub: &Submission<'_>) -> Submitted {
        let greeting = match self.reply("greeting").await {
            Ok(r) => r,
            Err(e) => return e,
        };
        if greeting.code != 220 {
            return refused("greeting", &greeting);
        }
        let ehlo = match self.command(&format!("EHLO {EHLO_NAME}"), "ehlo").await {
            Ok(r) if r.code == 250 => r,
            Ok(r) => return refused("ehlo", &r),
            Err(e) => return e,
        };
        let offers = |keyword: &str| {
            ehlo.lines.iter().skip(1).any(|l| {
                l.get(4..)
                    .and_then(|k| k.split_whitespace().next())
                    .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
            })
        };
        let mut mail = format!("MAIL FROM:<{}>", sub.sender);
        for (wanted, keyword, param) in [
            (sub.body_8bitmime, "8BITMIME", " BODY=8BITMIME"),
            (sub.smtputf8, "SMTPUTF8", " SMTPUTF8"),
        ] {
            if wanted {
                if !offers(keyword) {
                    return Submitted::Unsupported {
                        extension: keyword.into(),
                    };
                }
                mail.push_str(param);
            }
        }
        let steps = std::iter::once((mail, "mail", 250..=250))
            .chain(
                sub.rcpts
                    .iter()
                    .map(|r| (format!("RCPT TO:<{r}>"), "rcpt", 250..=251)),
            )
            .chain(std::iter::once(("DATA".to_string(), "data", 354..=354)));
        for (line, stage, ok) in steps {
            match self.command(&line, stage).await {
                Ok(r) if ok.contains(&r.code) => {}
                Ok(r) => return refused(stage, &r),
                Err(e) => return e,
            }
        }
        if let Err(e) = self.write(sub.data, "end of data").await {
            return e;
        }
        self.log.push(format!(
            "C: <data {} octets> {}",
            sub.data.len(),
            clip(&escape(sub.data), 600)
        ));
        match self.reply("end of data").await {
            Ok(r) if (200..300).contains(&r.code) => Submitted::Accepted {
                reply: r.text(),
                extra: self.unasked().await,
            },
            Ok(r) => refused("end of data", &r),
            Err(e) => e,
        }
    }

    /// Reply lines that arrive unasked within a moment after the reply to the data.
    async fn unasked(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        let until = tokio::time::Instant::now() + UNASKED;
        while let Ok(Ok(line)) = tokio::time::timeout_at(until, self.line("end of data")).await {
            self.log
                .push(format!("S: {} (unasked)", escape(line.as_bytes())));
            lines.push(line);
        }
        lines
    }

    async fn command(&mut self, line: &str, stage: &str) -> Result<Reply, Submitted> {
        self.log.push(format!("C: {line}"));
        self.write(format!("{line}\r\n").as_bytes(), stage).await?;
        self.reply(stage).await
    }

    async fn write(&mut self, bytes: &[u8], stage: &str) -> Result<(), Submitted> {
        match tokio::time::timeout(STEP, self.stream.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(closed(stage, e.to_string())),
            Err(_) => Err(closed(
                stage,
                format!("write blocked for {} s", STEP.as_secs()),
            )),
        }
    }

    /// Reads one reply, to its last line (code and SP, or the code alone).
    async fn reply(&mut self, stage: &str) -> Result<Reply, Submitted> {
        let mut lines = Vec::new();
        loop {
            let line = self.line(stage).await?;
            self.log.push(format!("S: {}", escape(line.as_bytes())));
            let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if let (Some(code), true) = (code, last) {
                return Ok(Reply { code, lines });
            }
            if code.is_none() {
                return Err(closed(stage, "a reply line without a code".into()));
            }
        }
    }

    async fn line(&mut self, stage: &str) -> Result<String, Submitted> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = self.buf.drain(..=pos).collect();
                let text = String::from_utf8_lossy(&raw);
                return Ok(text.trim_end_matches(['\r', '\n']).to_string());
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout(STEP, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) => return Err(closed(stage, "closed by the target".into())),
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => return Err(closed(stage, e.to_string())),
                Err(_) => {
                    return Err(closed(
                        stage,
                        format!("no reply within {} s", STEP.as_secs()),
                    ));
                }
            }
        }
    }
}

fn refused(stage: &str, reply: &Reply) -> Submitted {
    Submitted::Refused {
        stage: stage.into(),
        reply: reply.text(),
    }
}

fn closed(stage: &str, why: String) -> Submitted {
    Submitted::Closed {
        stage: stage.into(),
        why,
    }
}
