//! The scripted server on one connection: greets, answers each command by the case's rules or
//! by the default reply, reads message data after a 354, switches to TLS, closes. This is a
//! deliberately lenient server (no state checks: any command gets its scripted reply), so that
//! what is judged is the client, never the server's opinion of it.

use std::sync::Arc;

use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::command::verb_of;
use super::model::{END_OF_DATA, ServerScript};
use super::record::{EventKind, Recorder, Side};
use super::wire::{End, Wire};

/// The host name the fake server gives.
pub const HOSTNAME: &str = "serve-test.example";

/// What follows a reply.
#[derive(Default)]
struct Effects {
    data: bool,
    tls: bool,
    close: bool,
    linger: std::time::Duration,
}

/// A reply and what follows it.
struct Answer {
    lines: Vec<String>,
    inject: Vec<String>,
    delay: std::time::Duration,
    effects: Effects,
}

/// One connection's scripted server.
pub struct Session {
    script: Arc<ServerScript>,
    tls: Option<Arc<ServerConfig>>,
    /// How often each rule's `on` matched on this connection.
    matched: Vec<u32>,
    messages: u32,
    txn: Transaction,
}

/// Just enough transaction state for the default replies to be those of a real server: DATA
/// gets 354 only with a sender and a recipient accepted (RFC 5321 §3.3), so a client that
/// pipelines DATA after a refused envelope is answered as it would be in the field.
#[derive(Default)]
struct Transaction {
    mail: bool,
    rcpts: u32,
}

impl Transaction {
    /// Follows the reply the server is about to send to `verb`.
    fn track(&mut self, verb: &str, reply: &[String]) {
        let ok = reply.first().is_some_and(|l| l.starts_with('2'));
        match verb {
            "MAIL" if ok => {
                *self = Self {
                    mail: true,
                    rcpts: 0,
                }
            }
            "VECMAIL" if ok => {
                *self = Self {
                    mail: true,
                    rcpts: 1,
                }
            }
            "RCPT" if ok && self.mail => self.rcpts += 1,
            "EHLO" | "HELO" | "RSET" | "STARTTLS" => *self = Self::default(),
            v if v == END_OF_DATA => *self = Self::default(),
            _ => {}
        }
    }
}

impl Session {
    /// A session playing `script`, upgrading to TLS with `tls` when the script says so.
    pub fn new(script: Arc<ServerScript>, tls: Option<Arc<ServerConfig>>) -> Self {
        Self {
            matched: vec![0; script.rules.len()],
            script,
            tls,
            messages: 0,
            txn: Transaction::default(),
        }
    }

    /// Plays the script on `stream` (a tokio socket, or turmoil's in the simulation) until
    /// either side closes or the deadline passes.
    pub async fn run<S>(mut self, stream: S, conn: u32, rec: Recorder, deadline: Instant)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut wire = Wire::new(stream, conn, rec, deadline);
        wire.rec.push(conn, EventKind::Connected);
        match self.play(&mut wire).await {
            Ok(()) => {}
            Err(End::ClientClosed) => {
                wire.rec.push(conn, EventKind::Closed { by: Side::Client });
            }
            Err(End::Deadline) => {
                wire.rec.push(conn, EventKind::TimedOut);
                wire.close().await;
            }
            Err(End::Tls) => wire.close().await,
        }
    }

    async fn play<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        wire: &mut Wire<S>,
    ) -> Result<(), End> {
        if !self.script.greeting_delay.is_zero() {
            wire.pause(self.script.greeting_delay).await?;
        }
        if self.script.greeting.is_empty() {
            // No greeting at all: the connection is closed at once (a next hop that refuses
            // the connection, as far as one listener can).
            wire.close().await;
            return Ok(());
        }
        wire.send(&self.script.greeting, &[], None).await?;
        loop {
            let command = wire.next_command().await?;
            let answer = self.answer(&command.line, wire.tls);
            if self.reply(wire, answer, command.event).await? {
                return Ok(());
            }
        }
    }

    /// Sends one answer and carries out its effects; `true` when the server closed.
    async fn reply<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        wire: &mut Wire<S>,
        answer: Answer,
        event: usize,
    ) -> Result<bool, End> {
        if !answer.delay.is_zero() {
            wire.pause(answer.delay).await?;
        }
        wire.send(&answer.lines, &answer.inject, Some(event))
            .await?;
        let effects = answer.effects;
        if effects.close {
            wire.pause(effects.linger).await?;
            wire.close().await;
            return Ok(true);
        }
        if effects.tls {
            match &self.tls {
                Some(config) => wire.start_tls(config).await?,
                None => {
                    wire.rec.push(
                        wire.conn,
                        EventKind::TlsFailed {
                            error: "no TLS configuration".into(),
                        },
                    );
                    return Err(End::Tls);
                }
            }
        }
        if effects.data {
            let (octets, complete) = wire.read_data().await?;
            let event = wire.rec.push_data(wire.conn, octets, complete);
            if !complete {
                return Err(End::ClientClosed);
            }
            self.messages += 1;
            let answer = self.answer(END_OF_DATA, wire.tls);
            return Box::pin(self.reply(wire, answer, event)).await;
        }
        Ok(false)
    }

    /// The answer to `line`, with the transaction state following it.
    fn answer(&mut self, line: &str, tls: bool) -> Answer {
        let answer = self.choose(line, tls);
        self.txn.track(&verb_of(line), &answer.lines);
        answer
    }

    /// The case's rule for `line`, else the default reply.
    fn choose(&mut self, line: &str, tls: bool) -> Answer {
        let mut chosen = None;
        for (i, rule) in self.script.rules.iter().enumerate() {
            if !rule.on.is_match(line) {
                continue;
            }
            self.matched[i] += 1;
            if chosen.is_none() && rule.nth.is_none_or(|n| n == self.matched[i]) {
                chosen = Some(i);
            }
        }
        let verb = verb_of(line);
        let (default_lines, mut effects) = self.default_reply(&verb, tls);
        let script = Arc::clone(&self.script);
        let Some(rule) = chosen.map(|i| &script.rules[i]) else {
            return Answer {
                lines: default_lines,
                inject: Vec::new(),
                delay: self.script.reply_delay,
                effects,
            };
        };
        let lines = match &rule.reply {
            None => default_lines,
            Some(lines) => {
                // An explicit reply keeps only the data switch, and only for a 354.
                effects = Effects {
                    data: verb == "DATA" && lines.first().is_some_and(|l| l.starts_with("354")),
                    ..Effects::default()
                };
                lines.clone()
            }
        };
        effects.tls |= rule.tls;
        effects.close |= rule.close;
        if rule.close {
            effects.linger = rule.linger;
        }
        Answer {
            lines,
            inject: rule.inject.clone(),
            delay: if rule.delay.is_zero() {
                self.script.reply_delay
            } else {
                rule.delay
            },
            effects,
        }
    }

    /// What a well-behaved, permissive server would answer.
    fn default_reply(&self, verb: &str, tls: bool) -> (Vec<String>, Effects) {
        let one = |s: &str| vec![s.to_string()];
        let none = Effects::default();
        let vmtp = self.script.advertises("VMTP");
        match verb {
            "EHLO" => (self.ehlo_reply(tls), none),
            "HELO" => (one(&format!("250 {HOSTNAME}")), none),
            "MAIL" => (one("250 2.1.0 Ok"), none),
            "VECMAIL" if vmtp => (one("250 2.1.0 Ok"), none),
            "RCPT" => (one("250 2.1.5 Ok"), none),
            "DATA" if !(self.txn.mail && self.txn.rcpts > 0) => {
                (one("554 5.5.1 Error: no valid recipients"), none)
            }
            "DATA" => (
                one("354 End data with <CR><LF>.<CR><LF>"),
                Effects { data: true, ..none },
            ),
            v if v == END_OF_DATA => (
                one(&format!("250 2.0.0 Ok: queued as ST{:04}", self.messages)),
                none,
            ),
            "RSET" | "NOOP" => (one("250 2.0.0 Ok"), none),
            "METADATA" | "READACK" | "BATCH" if vmtp => (one("250 2.0.0 Ok"), none),
            "QUIT" => (
                one("221 2.0.0 Bye"),
                Effects {
                    close: true,
                    ..none
                },
            ),
            "STARTTLS" if !tls && self.script.advertises("STARTTLS") => (
                one("220 2.0.0 Ready to start TLS"),
                Effects { tls: true, ..none },
            ),
            "STARTTLS" => (one("503 5.5.1 TLS already active or not offered"), none),
            "VRFY" => (one("252 2.0.0 Cannot VRFY user"), none),
            _ => (one("502 5.5.2 Command not recognized"), none),
        }
    }

    fn ehlo_reply(&self, tls: bool) -> Vec<String> {
        let keywords = if tls {
            &self.script.ehlo_tls
        } else {
            &self.script.ehlo
        };
        let mut lines = vec![HOSTNAME.to_string()];
        lines.extend(keywords.iter().cloned());
        let last = lines.len() - 1;
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
            .collect()
    }
}

/// Gives the sessions still open `within` to end on their own (the client's QUIT, a close),
/// then aborts the rest.
pub async fn drain(sessions: &mut JoinSet<()>, within: std::time::Duration) {
    let until = Instant::now() + within;
    while tokio::time::timeout_at(until, sessions.join_next())
        .await
        .is_ok_and(|j| j.is_some())
    {}
    sessions.abort_all();
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn session(yaml: &str) -> Session {
        let cases = crate::servetest::load::load_str(yaml, Path::new("t.yaml")).unwrap();
        Session::new(Arc::clone(&cases[0].server), None)
    }

    fn first(answer: &Answer) -> &str {
        answer.lines.first().map_or("", String::as_str)
    }

    #[test]
    fn nth_rule_applies_once_and_defaults_follow_the_transaction() {
        let mut s = session(
            "- id: a\n  title: t\n  server:\n    rules:\n      - {on: RCPT, nth: 2, reply: 550 no}\n  judge:\n    - {spec: SMTP-CLIENT-8, level: must, check: {never: DATA}}\n",
        );
        // DATA before any accepted recipient is refused, as a real server would.
        assert!(first(&s.answer("DATA", false)).starts_with("554"));
        assert!(first(&s.answer("MAIL FROM:<a@b>", false)).starts_with("250"));
        assert!(first(&s.answer("RCPT TO:<c@d>", false)).starts_with("250"));
        assert_eq!(first(&s.answer("rcpt TO:<e@f>", false)), "550 no");
        assert!(first(&s.answer("RCPT TO:<g@h>", false)).starts_with("250"));
        let data = s.answer("DATA", false);
        assert!(first(&data).starts_with("354") && data.effects.data);
        assert!(first(&s.answer(END_OF_DATA, false)).starts_with("250"));
        // The end of data closed the transaction.
        assert!(first(&s.answer("DATA", false)).starts_with("554"));
        let quit = s.answer("QUIT", false);
        assert!(first(&quit).starts_with("221") && quit.effects.close);
    }

    #[test]
    fn ehlo_lists_keywords_and_vmtp_verbs_need_the_advertisement() {
        let mut s = session(
            "- id: a\n  title: t\n  server:\n    ehlo: [STARTTLS, 8BITMIME]\n  judge:\n    - {spec: SMTP-CLIENT-8, level: must, check: {never: DATA}}\n",
        );
        let ehlo = s.answer("EHLO x", false);
        assert_eq!(
            ehlo.lines,
            ["250-serve-test.example", "250-STARTTLS", "250 8BITMIME"]
        );
        assert_eq!(
            s.answer("EHLO x", true).lines,
            ["250-serve-test.example", "250 8BITMIME"]
        );
        assert!(s.answer("STARTTLS", false).effects.tls);
        assert!(first(&s.answer("VECMAIL FROM:<a@b> TO:<c@d>", false)).starts_with("502"));
        assert!(first(&s.answer("METADATA k v", false)).starts_with("502"));
    }
}
