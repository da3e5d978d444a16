//! One load worker: takes message numbers from the shared counter and delivers them over its
//! own connection(s), timing each phase.
//!
//! With `--pipelining --reuse` (and no `--rate`) a worker keeps one command group in flight
//! per message, as RFC 2920 §3.1 allows: "The actual transfer of message content is explicitly
//! allowed to be the first "command" in a group", so the message's content and final dot go
//! in one write with the next message's MAIL, RCPT and DATA, and each message costs one round
//! trip. Without pipelining, each command waits for its reply (as smtp-source does).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::Shared;
use super::conn::{Conn, Failure};
use super::payload::Payload;
use super::stats::{LoadReport, Phase};

/// What one worker owns while it runs.
struct Worker {
    shared: Arc<Shared>,
    payload: Payload,
    /// The bytes of the next write, reused for every message.
    out: Vec<u8>,
    report: LoadReport,
}

pub(super) async fn worker(shared: Arc<Shared>) -> LoadReport {
    let payload = Payload::new(&shared.options);
    let mut w = Worker {
        shared,
        out: Vec::with_capacity(payload.capacity()),
        payload,
        report: LoadReport::default(),
    };
    w.run().await;
    w.report
}

impl Worker {
    async fn run(&mut self) {
        let options = &self.shared.options;
        let chain = options.pipelining && options.reuse && options.rate.is_none();
        let mut conn: Option<Conn> = None;
        let mut retry: Option<u64> = None;
        loop {
            let n = match retry.take() {
                Some(n) => n,
                None => match self.next().await {
                    Some(n) => n,
                    None => break,
                },
            };
            let mut c = match conn.take() {
                Some(c) => c,
                None => match self.open().await {
                    Ok(c) => c,
                    Err(Failure(e)) => {
                        self.report.error(e);
                        continue;
                    }
                },
            };
            let result = if chain {
                self.chain(&mut c, n).await
            } else {
                self.one(&mut c, n).await.map_err(|e| (e, None))
            };
            match result {
                Ok(()) if self.shared.options.reuse => conn = Some(c),
                Ok(()) => {}
                Err((Failure(e), pending)) => {
                    self.report.error(e);
                    retry = pending;
                }
            }
        }
        if let Some(c) = conn {
            c.quit().await;
        }
    }

    async fn open(&mut self) -> Result<Conn, Failure> {
        let options = &self.shared.options;
        Conn::open(options.target, self.shared.tls.as_ref(), &mut self.report).await
    }

    /// The next message number, once `--rate` lets it go; `None` when the run is over.
    async fn next(&self) -> Option<u64> {
        let options = &self.shared.options;
        let n = self.shared.next.fetch_add(1, Ordering::Relaxed);
        let over = options
            .duration
            .is_some_and(|d| self.shared.started.elapsed() >= d);
        if n >= options.messages || over {
            return None;
        }
        if let Some(rate) = options.rate {
            let due = self.shared.started + Duration::from_secs_f64(n as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        Some(n)
    }

    fn delivered(&mut self) {
        self.report.delivered += 1;
        self.shared.done.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads the replies to MAIL, each RCPT and DATA (a group already written).
    async fn envelope_replies(&self, c: &mut Conn) -> Result<(), Failure> {
        c.expect(250, "MAIL").await?;
        for _ in 0..self.payload.recipients {
            c.expect(250, "RCPT").await?;
        }
        c.expect(354, "DATA").await
    }

    /// One message on `c`, then QUIT unless connections are reused.
    async fn one(&mut self, c: &mut Conn, n: u64) -> Result<(), Failure> {
        let options = &self.shared.options;
        let (pipelining, quit) = (options.pipelining, !options.reuse);
        let start = Instant::now();
        if pipelining {
            c.send(&self.payload.envelope).await?;
            self.envelope_replies(c).await?;
        } else {
            let lines = self.payload.envelope_lines();
            let last = lines.len() - 1;
            for (i, line) in lines.into_iter().enumerate() {
                c.send(line).await?;
                let (code, verb) = match i {
                    0 => (250, "MAIL"),
                    i if i == last => (354, "DATA"),
                    _ => (250, "RCPT"),
                };
                c.expect(code, verb).await?;
            }
        }
        self.report.record(Phase::Envelope, start.elapsed());
        let t = Instant::now();
        self.out.clear();
        self.payload.write_message(&mut self.out, n);
        if quit && pipelining {
            // RFC 2920 §3.1: QUIT may end a group.
            self.out.extend_from_slice(b"QUIT\r\n");
        }
        c.send(&self.out).await?;
        c.expect(250, "end of data").await?;
        self.report.record(Phase::Data, t.elapsed());
        self.report.record(Phase::Message, start.elapsed());
        self.delivered();
        if quit {
            if !pipelining {
                c.send(b"QUIT\r\n").await?;
            }
            // The message is delivered whatever happens to the QUIT.
            let _ = c.expect(221, "QUIT").await;
        }
        Ok(())
    }

    /// Messages back to back on `c`, each message's content written with the next envelope,
    /// until the run is over. On failure, the number of a message whose envelope was already
    /// written is handed back to be tried again on a new connection.
    async fn chain(&mut self, c: &mut Conn, first: u64) -> Result<(), (Failure, Option<u64>)> {
        let mut n = first;
        let mut start = Instant::now();
        c.send(&self.payload.envelope)
            .await
            .map_err(|e| (e, None))?;
        self.envelope_replies(c).await.map_err(|e| (e, None))?;
        self.report.record(Phase::Envelope, start.elapsed());
        loop {
            let next = self.next().await;
            self.out.clear();
            self.payload.write_message(&mut self.out, n);
            if next.is_some() {
                self.out.extend_from_slice(&self.payload.envelope);
            }
            let t = Instant::now();
            c.send(&self.out).await.map_err(|e| (e, next))?;
            c.expect(250, "end of data").await.map_err(|e| (e, next))?;
            self.report.record(Phase::Data, t.elapsed());
            self.report.record(Phase::Message, start.elapsed());
            self.delivered();
            let Some(m) = next else { return Ok(()) };
            (n, start) = (m, t);
            self.envelope_replies(c).await.map_err(|e| (e, Some(m)))?;
            self.report.record(Phase::Envelope, start.elapsed());
        }
    }
}
