//! One attacking connection: the ordinary steps that bring the server into the state an
//! attack wants (greeting, EHLO, a transaction up to DATA's 354), and the two ways of
//! stalling there (silence, or octets dripped one at a time) while watching for the server
//! to close the connection.

use std::time::{Duration, Instant};

use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};

use super::measure::{Fate, Slot};
use super::wire::{NoReply, Reply, ReplyReader};
use crate::target::BoxStream;

/// A connection under the attack's control.
pub(crate) struct Attacker {
    reader: ReplyReader<ReadHalf<BoxStream>>,
    writer: WriteHalf<BoxStream>,
}

impl Attacker {
    /// A connection on which nothing has been read or written yet.
    pub(crate) fn raw(stream: BoxStream) -> Attacker {
        let (read, writer) = tokio::io::split(stream);
        Attacker {
            reader: ReplyReader::new(read),
            writer,
        }
    }

    /// Connects to the main listener from the system's address and reads the 220; a refusal
    /// (a 421 greeting, a failed connect, a close) is [`Fate::Refused`].
    pub(crate) async fn greeted(slot: &Slot, recv_buffer: Option<u32>) -> Result<Attacker, Fate> {
        let bound = slot.options.greeting_bound;
        let stream = slot
            .endpoint
            .open(None, recv_buffer, bound)
            .await
            .map_err(Fate::Refused)?;
        let mut attacker = Attacker::raw(stream);
        match attacker.reader.reply(bound).await {
            Ok(reply) if reply.code == 220 => Ok(attacker),
            Ok(reply) => Err(Fate::Refused(format!("greeted with {reply}"))),
            Err(e) => Err(Fate::Refused(format!("no greeting: {e}"))),
        }
    }

    /// Sends one command line and reads its reply; no reply is [`Fate::Refused`].
    pub(crate) async fn command(&mut self, slot: &Slot, line: &str) -> Result<Reply, Fate> {
        let bound = slot.options.greeting_bound;
        self.write(slot, format!("{line}\r\n").as_bytes())
            .await
            .map_err(|e| Fate::Refused(format!("{line}: {e}")))?;
        self.reader
            .reply(bound)
            .await
            .map_err(|e| Fate::Refused(format!("{line}: {e}")))
    }

    /// EHLO (HELO when EHLO is refused); the EHLO keywords are not needed, only the state.
    pub(crate) async fn hello(&mut self, slot: &Slot) -> Result<Reply, Fate> {
        let helo = slot.options.helo.clone();
        let reply = self.command(slot, &format!("EHLO {helo}")).await?;
        if reply.code == 250 {
            return Ok(reply);
        }
        let reply = self.command(slot, &format!("HELO {helo}")).await?;
        expect(reply, 250, "HELO")
    }

    /// EHLO, MAIL, RCPT to the postmaster of the target's domain (RFC 5321 §4.5.1: every
    /// domain has one) and DATA, up to the 354.
    pub(crate) async fn in_data(&mut self, slot: &Slot) -> Result<(), Fate> {
        self.hello(slot).await?;
        let from = format!("MAIL FROM:<robustness@{}>", slot.options.helo);
        let reply = self.command(slot, &from).await?;
        expect(reply, 250, "MAIL")?;
        let to = format!("RCPT TO:<postmaster@{}>", slot.options.domain);
        let reply = self.command(slot, &to).await?;
        expect(reply, 250, "RCPT")?;
        let reply = self.command(slot, "DATA").await?;
        expect(reply, 354, "DATA").map(|_| ())
    }

    /// Writes `bytes`, counting them as sent.
    pub(crate) async fn write(&mut self, slot: &Slot, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes).await?;
        slot.count_sent(bytes.len());
        Ok(())
    }

    /// Stalls in silence until the server closes the connection or the case stops.
    pub(crate) async fn hold_silent(mut self, slot: &Slot) -> Fate {
        let began = slot.begin_stall();
        let mut last = None;
        loop {
            tokio::select! {
                read = self.reader.reply(Duration::from_secs(3600)) => {
                    if let Some(fate) = closed(read, &mut last, began) {
                        return fate;
                    }
                }
                () = slot.stopped() => return Fate::OpenAtCap { held: began.elapsed() },
            }
        }
    }

    /// Stalls by sending `octets` one per second (then silence), until the server closes the
    /// connection or the case stops.
    pub(crate) async fn drip(mut self, slot: &Slot, octets: &[u8]) -> Fate {
        let began = slot.begin_stall();
        let mut last = None;
        let mut next = octets.iter();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                read = self.reader.reply(Duration::from_secs(3600)) => {
                    if let Some(fate) = closed(read, &mut last, began) {
                        return fate;
                    }
                }
                _ = tick.tick() => {
                    if let Some(&octet) = next.next()
                        && let Err(e) = self.write(slot, &[octet]).await
                    {
                        return Fate::Closed { after: began.elapsed(), how: described(&last, &format!("a write failed: {e}")) };
                    }
                }
                () = slot.stopped() => return Fate::OpenAtCap { held: began.elapsed() },
            }
        }
    }

    /// The raw halves, for an attack that never reads (it writes only).
    pub(crate) fn into_writer(self) -> WriteHalf<BoxStream> {
        self.writer
    }
}

/// A reply while stalled is remembered (a 421 before the close); the end of the stream is
/// the close.
fn closed(read: Result<Reply, NoReply>, last: &mut Option<Reply>, began: Instant) -> Option<Fate> {
    match read {
        Ok(reply) => {
            *last = Some(reply);
            None
        }
        Err(NoReply::Timeout) => None,
        Err(NoReply::Closed) => Some(Fate::Closed {
            after: began.elapsed(),
            how: described(last, "closed"),
        }),
        Err(NoReply::Error(e)) => Some(Fate::Closed {
            after: began.elapsed(),
            how: described(last, &format!("read error: {e}")),
        }),
        Err(NoReply::Garbage(line)) => Some(Fate::Closed {
            after: began.elapsed(),
            how: described(last, &format!("sent {line:?}")),
        }),
    }
}

fn described(last: &Option<Reply>, end: &str) -> String {
    match last {
        Some(reply) => format!("{reply}, then {end}"),
        None => end.to_string(),
    }
}

/// `reply` if it has `code`, else why the attack cannot go on.
fn expect(reply: Reply, code: u16, what: &str) -> Result<Reply, Fate> {
    if reply.code == code {
        Ok(reply)
    } else {
        Err(Fate::NotApplicable(format!("{what} was answered {reply}")))
    }
}
