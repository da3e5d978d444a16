//! One load worker: takes message numbers from the shared counter and delivers them over its
//! own connection(s), timing each phase.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mtp_proto::smtp::data::dot_stuff;
use mtp_proto::smtp::reply::{Reply, ReplyParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{LoadOptions, LoadReport, Phase, message};

struct Conn {
    stream: TcpStream,
    parser: ReplyParser,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(options: &LoadOptions, report: &mut LoadReport) -> Result<Self, String> {
        let t = Instant::now();
        let stream = TcpStream::connect(options.target)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut conn = Self {
            stream,
            parser: ReplyParser::new(),
            buf: vec![0; 16 * 1024],
        };
        conn.expect(220).await?;
        report.record(Phase::Connect, t.elapsed());
        let t = Instant::now();
        conn.stream
            .write_all(b"EHLO load.mtpspec.test\r\n")
            .await
            .map_err(|e| e.to_string())?;
        conn.expect(250).await?;
        report.record(Phase::Ehlo, t.elapsed());
        Ok(conn)
    }

    async fn reply(&mut self) -> Result<Reply, String> {
        loop {
            if let Some(reply) = self.parser.next_reply() {
                return reply.map_err(|e| e.to_string());
            }
            let n = self
                .stream
                .read(&mut self.buf)
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("connection closed".into());
            }
            self.parser.feed(&self.buf[..n]);
        }
    }

    async fn expect(&mut self, code: u16) -> Result<(), String> {
        let reply = self.reply().await?;
        if reply.code.get() == code {
            Ok(())
        } else {
            Err(format!("{}", reply.code))
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(bytes)
            .await
            .map_err(|e| format!("write: {e}"))
    }
}

/// Delivers one message on an open connection.
async fn deliver(
    conn: &mut Conn,
    options: &LoadOptions,
    n: u64,
    report: &mut LoadReport,
) -> Result<(), String> {
    let start = Instant::now();
    let mut envelope = format!("MAIL FROM:<{}>\r\n", options.sender);
    for r in 0..options.recipients.max(1) {
        envelope.push_str(&format!(
            "RCPT TO:<load{r}@{}>\r\n",
            options.recipient_domain
        ));
    }
    envelope.push_str("DATA\r\n");
    let expected: Vec<u16> = std::iter::once(250)
        .chain(std::iter::repeat_n(250, options.recipients.max(1)))
        .chain([354])
        .collect();
    if options.pipelining {
        conn.send(envelope.as_bytes()).await?;
        for code in expected {
            conn.expect(code).await?;
        }
    } else {
        for (line, code) in envelope.split_inclusive("\r\n").zip(expected) {
            conn.send(line.as_bytes()).await?;
            conn.expect(code).await?;
        }
    }
    report.record(Phase::Envelope, start.elapsed());
    let t = Instant::now();
    conn.send(&dot_stuff(&message(n, options.size, &options.sender)))
        .await?;
    conn.expect(250).await?;
    report.record(Phase::Data, t.elapsed());
    report.record(Phase::Message, start.elapsed());
    Ok(())
}

pub(super) async fn worker(
    options: Arc<LoadOptions>,
    next: Arc<AtomicU64>,
    done: Arc<AtomicU64>,
    started: Instant,
) -> LoadReport {
    let mut report = LoadReport::default();
    let mut conn: Option<Conn> = None;
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= options.messages || options.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        if let Some(rate) = options.rate {
            let due = started + Duration::from_secs_f64(n as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        if conn.is_none() {
            match Conn::open(&options, &mut report).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    report.error(e);
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        match deliver(c, &options, n, &mut report).await {
            Ok(()) => {
                report.delivered += 1;
                done.fetch_add(1, Ordering::Relaxed);
                if !options.reuse {
                    let _ = c.send(b"QUIT\r\n").await;
                    let _ = c.expect(221).await;
                    conn = None;
                }
            }
            Err(e) => {
                report.error(e);
                conn = None;
            }
        }
    }
    if let Some(mut c) = conn {
        let _ = c.send(b"QUIT\r\n").await;
        let _ = c.expect(221).await;
    }
    report
}
