//! A small loopback relay for `relay-test`'s tests: it accepts SMTP from the harness, stores
//! the message, and relays it at once to the next hop the harness plays, as an MTA would:
//! STARTTLS when offered, the next hop's SIZE, 8BITMIME and SMTPUTF8 respected, long lines
//! wrapped, dot-stuffing, retries after temporary failures (300 ms apart, at most five), and
//! an RFC 3464 notification for the recipients refused for good (none for a message with a
//! null reverse-path). Each fault in [`Faults`] breaks one of these; the tests switch them on
//! one at a time. Blocking I/O on threads, every read bounded by [`IO`], loopback only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// How long any read may block.
const IO: Duration = Duration::from_secs(10);
/// The pause before a retry.
const RETRY_AFTER: Duration = Duration::from_millis(300);
/// Attempts per message.
const ATTEMPTS: u32 = 5;

/// The faults the fixture relay can have, each off by default.
#[derive(Clone, Copy, Default)]
pub struct Faults {
    /// Bare CR and LF relayed as they came.
    pub forward_bare_line_ends: bool,
    /// 8-bit content sent to a next hop without 8BITMIME.
    pub eight_bit_to_7bit_hop: bool,
    /// MAIL and RCPT sent in one write without PIPELINING.
    pub pipeline_always: bool,
    /// A temporary failure returned to the sender instead of retried.
    pub bounce_on_4yz: bool,
    /// Lines starting with "." relayed without the extra dot.
    pub no_dot_stuffing: bool,
    /// Lines over 998 octets relayed as they came.
    pub pass_long_lines: bool,
    /// The next hop's SIZE ignored: no SIZE=, the content sent.
    pub ignore_size: bool,
    /// An SMTPUTF8 message sent to a next hop without SMTPUTF8.
    pub utf8_to_ascii_hop: bool,
    /// STARTTLS never used.
    pub no_starttls: bool,
    /// No EHLO after the TLS handshake.
    pub no_ehlo_after_tls: bool,
    /// Plaintext buffered after STARTTLS's 220 read as the reply to the EHLO under TLS.
    pub takes_injected_reply: bool,
    /// The notification of a partial failure lists every recipient as failed.
    pub notify_all_recipients: bool,
    /// A message with a null reverse-path refused for good is returned to its From address.
    pub bounce_null_sender: bool,
    /// A null reverse-path relayed as the relay's postmaster.
    pub rewrite_null_sender: bool,
    /// One transaction per recipient.
    pub one_transaction_per_recipient: bool,
    /// The whole transaction sent again after the next hop's 250.
    pub resend_after_250: bool,
    /// A 554 greeting ignored: EHLO and the transaction follow (RFC 5321 §3.1 allows the
    /// commands; no finding).
    pub mail_after_554: bool,
    /// A 554 greeting answered by closing the connection without QUIT.
    pub no_quit_after_554: bool,
    /// The inbound side ends the data at `<LF>.<LF>`, `<LF>.<CR><LF>` or `<CR><LF>.<LF>` and
    /// reads what follows as commands (inbound smuggling), relaying the smuggled message too.
    pub inbound_ends_data_at_bare_lf: bool,
}

/// A message the relay accepted.
#[derive(Clone)]
struct Queued {
    /// The reverse-path; empty for `<>`.
    sender: String,
    rcpts: Vec<String>,
    content: Vec<u8>,
    /// Submitted with SMTPUTF8.
    smtputf8: bool,
}

/// Starts the fixture relay, relaying to `next_hop`; returns its port. Its threads end with
/// the test process.
pub fn start(next_hop: u16, faults: Faults) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fixture");
    let port = listener.local_addr().expect("its address").port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || {
                for msg in accept(stream, faults) {
                    Relay { next_hop, faults }.deliver(&msg, 0);
                }
            });
        }
    });
    port
}

/// The fixture's inbound side: one session; the messages it accepted.
fn accept(stream: TcpStream, faults: Faults) -> Vec<Queued> {
    let mut queued = Vec::new();
    let _ = accept_into(stream, faults, &mut queued);
    queued
}

fn accept_into(stream: TcpStream, faults: Faults, queued: &mut Vec<Queued>) -> Option<()> {
    stream.set_read_timeout(Some(IO)).ok()?;
    let mut w = stream.try_clone().ok()?;
    let mut r = BufReader::new(stream);
    w.write_all(b"220 fixture.relay.example ESMTP\r\n").ok()?;
    let mut msg = Queued {
        sender: String::new(),
        rcpts: Vec::new(),
        content: Vec::new(),
        smtputf8: false,
    };
    while let Some(line) = read_line(&mut r) {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-fixture.relay.example\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 10485760\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            msg.sender = between(&line);
            msg.smtputf8 = upper.contains(" SMTPUTF8");
            msg.rcpts.clear();
            b"250 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            msg.rcpts.push(between(&line));
            b"250 ok\r\n"
        } else if upper.starts_with("DATA") {
            w.write_all(b"354 go ahead\r\n").ok()?;
            let mut data = Vec::new();
            let ending = loop {
                let mut byte = [0u8; 1];
                r.read_exact(&mut byte).ok()?;
                data.push(byte[0]);
                if data.ends_with(b"\r\n.\r\n") {
                    break 3;
                }
                if faults.inbound_ends_data_at_bare_lf {
                    if data.ends_with(b"\n.\r\n") {
                        break 3;
                    }
                    if data.ends_with(b"\n.\n") {
                        break 2;
                    }
                }
            };
            data.truncate(data.len() - ending);
            msg.content = unstuff(&data);
            queued.push(msg.clone());
            b"250 queued\r\n"
        } else if upper.starts_with("QUIT") {
            w.write_all(b"221 bye\r\n").ok()?;
            break;
        } else {
            b"502 no\r\n"
        };
        w.write_all(reply).ok()?;
    }
    Some(())
}

fn read_line(r: &mut impl BufRead) -> Option<String> {
    let mut line = Vec::new();
    (r.read_until(b'\n', &mut line).ok()? > 0).then(|| String::from_utf8_lossy(&line).into())
}

fn between(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| start + i);
    line[start..end].to_string()
}

fn unstuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &b) in data.iter().enumerate() {
        if b == b'.' && (i == 0 || data[..i].ends_with(b"\r\n")) {
            continue;
        }
        out.push(b);
    }
    out
}

/// Every bare CR and bare LF as CRLF.
fn normalize(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < content.len() {
        match (content[i], content.get(i + 1)) {
            (b'\r', Some(b'\n')) => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            (b'\r' | b'\n', _) => out.extend_from_slice(b"\r\n"),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    out
}

/// Lines over 998 octets cut into lines of 998 (CRLF-ended content).
fn wrap(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in content.split_inclusive(|b| *b == b'\n') {
        let text = line.strip_suffix(b"\r\n").unwrap_or(line);
        for (i, chunk) in text.chunks(998).enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(chunk);
        }
        if line.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

fn stuff(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &b) in content.iter().enumerate() {
        if b == b'.' && (i == 0 || content[..i].ends_with(b"\r\n")) {
            out.push(b'.');
        }
        out.push(b);
    }
    out
}

/// A byte stream, plain or TLS.
trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// A client session with the next hop.
struct Conn {
    r: BufReader<Box<dyn Stream>>,
    /// Reply lines read before they were asked for (the plaintext after STARTTLS's 220, kept
    /// by a client with the `takes_injected_reply` fault).
    pending: Vec<String>,
}

impl Conn {
    fn send(&mut self, bytes: &[u8]) -> Option<()> {
        let w = self.r.get_mut();
        w.write_all(bytes).ok()?;
        w.flush().ok()
    }

    /// One reply, all its lines; `None` when the connection ended first.
    fn reply(&mut self) -> Option<String> {
        let mut all = String::new();
        loop {
            let line = if self.pending.is_empty() {
                read_line(&mut self.r)?
            } else {
                self.pending.remove(0)
            };
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return Some(all);
            }
        }
    }

    fn command(&mut self, line: &str) -> Option<String> {
        self.send(format!("{line}\r\n").as_bytes())?;
        self.reply()
    }
}

/// What the next hop's EHLO reply offers.
struct Offers {
    text: String,
}

impl Offers {
    fn has(&self, keyword: &str) -> bool {
        self.text.lines().skip(1).any(|l| {
            l.get(4..)
                .is_some_and(|k| k.to_ascii_uppercase().starts_with(keyword))
        })
    }

    fn size(&self) -> Option<usize> {
        self.text.lines().skip(1).find_map(|l| {
            let k = l.get(4..)?.trim();
            k.to_ascii_uppercase()
                .strip_prefix("SIZE ")
                .and_then(|n| n.trim().parse().ok())
        })
    }
}

/// How one attempt ended, per recipient.
#[derive(Default)]
struct Attempt {
    retry: Vec<String>,
    failed: Vec<(String, String)>,
}

impl Attempt {
    fn all_temporary(msg: &Queued) -> Self {
        Self {
            retry: msg.rcpts.clone(),
            failed: Vec::new(),
        }
    }

    fn all_failed(rcpts: &[String], status: &str) -> Self {
        Self {
            retry: Vec::new(),
            failed: rcpts
                .iter()
                .map(|r| (r.clone(), status.to_string()))
                .collect(),
        }
    }
}

struct Relay {
    next_hop: u16,
    faults: Faults,
}

impl Relay {
    /// Relays `msg`, retrying and notifying as its outcome asks.
    fn deliver(&self, msg: &Queued, attempt: u32) {
        if self.faults.one_transaction_per_recipient && msg.rcpts.len() > 1 {
            for rcpt in &msg.rcpts {
                let one = Queued {
                    rcpts: vec![rcpt.clone()],
                    ..msg.clone()
                };
                self.deliver(&one, attempt);
            }
            return;
        }
        let outcome = self
            .attempt(msg)
            .unwrap_or_else(|| Attempt::all_temporary(msg));
        if !outcome.failed.is_empty() {
            self.notify(msg, &outcome.failed);
        }
        if outcome.retry.is_empty() {
            return;
        }
        if self.faults.bounce_on_4yz {
            let failed: Vec<_> = outcome
                .retry
                .iter()
                .map(|r| (r.clone(), "5.0.0".to_string()))
                .collect();
            self.notify(msg, &failed);
        } else if attempt + 1 < ATTEMPTS {
            thread::sleep(RETRY_AFTER);
            let again = Queued {
                rcpts: outcome.retry,
                ..msg.clone()
            };
            self.deliver(&again, attempt + 1);
        }
    }

    fn connect(&self) -> Option<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", self.next_hop)).ok()?;
        stream.set_read_timeout(Some(IO)).ok()?;
        Some(Conn {
            r: BufReader::new(Box::new(stream)),
            pending: Vec::new(),
        })
    }

    /// One attempt; `None` when the connection failed before any verdict on a recipient.
    fn attempt(&self, msg: &Queued) -> Option<Attempt> {
        let mut c = self.connect()?;
        let greeting = c.reply()?;
        if !greeting.starts_with("220") && !self.faults.mail_after_554 {
            // RFC 5321 §3.1: the session is refused; QUIT, and try again later.
            if !self.faults.no_quit_after_554 {
                let _ = c.command("QUIT");
            }
            return Some(Attempt::all_temporary(msg));
        }
        let mut offers = Offers {
            text: c.command("EHLO fixture.relay.example")?,
        };
        if offers.has("STARTTLS") && !self.faults.no_starttls {
            c = self.start_tls(c)?;
            if !self.faults.no_ehlo_after_tls {
                offers.text = c.command("EHLO fixture.relay.example")?;
            }
        }
        let eight_bit = msg.content.iter().any(|b| *b > 0x7F);
        if eight_bit && !offers.has("8BITMIME") && !self.faults.eight_bit_to_7bit_hop {
            // RFC 6152 §3: the barrier to 8-bit treated as a permanent failure.
            let _ = c.command("QUIT");
            return Some(Attempt::all_failed(&msg.rcpts, "5.6.3"));
        }
        if msg.smtputf8 && !offers.has("SMTPUTF8") && !self.faults.utf8_to_ascii_hop {
            let _ = c.command("QUIT");
            return Some(Attempt::all_failed(&msg.rcpts, "5.6.7"));
        }
        let content = self.relayed_content(msg);
        if let Some(max) = offers.size()
            && content.len() > max
            && !self.faults.ignore_size
        {
            let _ = c.command("QUIT");
            return Some(Attempt::all_failed(&msg.rcpts, "5.3.4"));
        }
        let outcome = self.transaction(&mut c, msg, &offers, &content);
        let _ = c.command("QUIT");
        Some(outcome)
    }

    fn start_tls(&self, mut c: Conn) -> Option<Conn> {
        let reply = c.command("STARTTLS")?;
        if !reply.starts_with("220") {
            return Some(c);
        }
        // What came after the 220 in plaintext: a correct client throws it away.
        let leftover = String::from_utf8_lossy(c.r.buffer()).into_owned();
        let pending = if self.faults.takes_injected_reply {
            leftover.split_inclusive('\n').map(str::to_string).collect()
        } else {
            Vec::new()
        };
        let plain = c.r.into_inner();
        let config =
            mtp_server::client::tls::client_config(&mtp_server::client::tls::Verify::Insecure)
                .ok()?;
        let name = rustls::pki_types::ServerName::try_from("next-hop.relay.test").ok()?;
        let tls = rustls::ClientConnection::new(Arc::clone(&config), name).ok()?;
        let stream: Box<dyn Stream> = Box::new(rustls::StreamOwned::new(tls, plain));
        Some(Conn {
            r: BufReader::new(stream),
            pending,
        })
    }

    /// The content as it goes out: a Received field on top, line ends and long lines as the
    /// faults say.
    fn relayed_content(&self, msg: &Queued) -> Vec<u8> {
        let mut content = b"Received: from relay-client.mtpspec.test ([127.0.0.1])\r\n\tby fixture.relay.example; Mon, 1 Jan 2024 00:00:00 +0000\r\n".to_vec();
        if self.faults.forward_bare_line_ends {
            content.extend_from_slice(&msg.content);
        } else {
            content.extend_from_slice(&normalize(&msg.content));
        }
        if self.faults.pass_long_lines {
            content
        } else {
            wrap(&content)
        }
    }

    fn transaction(&self, c: &mut Conn, msg: &Queued, offers: &Offers, content: &[u8]) -> Attempt {
        let sender = if msg.sender.is_empty() && self.faults.rewrite_null_sender {
            "postmaster@fixture.relay.example"
        } else {
            &msg.sender
        };
        let mut mail = format!("MAIL FROM:<{sender}>");
        if offers.size().is_some() && !self.faults.ignore_size {
            mail.push_str(&format!(" SIZE={}", content.len()));
        }
        if msg.smtputf8 && offers.has("SMTPUTF8") {
            mail.push_str(" SMTPUTF8");
        }
        let rcpts: Vec<String> = msg.rcpts.iter().map(|r| format!("RCPT TO:<{r}>")).collect();
        let replies: Option<Vec<String>> = if self.faults.pipeline_always {
            let group: String = std::iter::once(&mail)
                .chain(&rcpts)
                .map(|l| format!("{l}\r\n"))
                .collect();
            c.send(group.as_bytes())
                .and_then(|()| (0..=rcpts.len()).map(|_| c.reply()).collect())
        } else {
            std::iter::once(&mail)
                .chain(&rcpts)
                .map(|l| c.command(l))
                .collect()
        };
        let Some(replies) = replies else {
            return Attempt::all_temporary(msg);
        };
        let mut outcome = Attempt::default();
        if !replies[0].starts_with('2') {
            return match replies[0].as_bytes()[0] {
                b'5' => Attempt::all_failed(&msg.rcpts, "5.0.0"),
                _ => Attempt::all_temporary(msg),
            };
        }
        let mut accepted = Vec::new();
        for (rcpt, reply) in msg.rcpts.iter().zip(&replies[1..]) {
            match reply.as_bytes()[0] {
                b'2' => accepted.push(rcpt.clone()),
                b'5' => outcome.failed.push((rcpt.clone(), "5.1.1".into())),
                _ => outcome.retry.push(rcpt.clone()),
            }
        }
        if accepted.is_empty() {
            return outcome;
        }
        let mut data = if self.faults.no_dot_stuffing {
            content.to_vec()
        } else {
            stuff(content)
        };
        if !data.ends_with(b"\r\n") {
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b".\r\n");
        let end = c.command("DATA").and_then(|go| {
            if go.starts_with("354") {
                c.send(&data)?;
                c.reply()
            } else {
                Some(go)
            }
        });
        match end.as_deref().map(|r| r.as_bytes()[0]) {
            Some(b'2') => {
                if self.faults.resend_after_250 {
                    let _ = std::iter::once(&mail)
                        .chain(&rcpts)
                        .try_for_each(|l| c.command(l).map(drop));
                    let _ = c
                        .command("DATA")
                        .and_then(|_| c.send(&data))
                        .and_then(|()| c.reply());
                }
            }
            Some(b'5') => outcome
                .failed
                .extend(accepted.into_iter().map(|r| (r, "5.0.0".to_string()))),
            // 4yz, or the connection lost before the reply: try again later.
            _ => outcome.retry.extend(accepted),
        }
        outcome
    }

    /// A DSN to the sender, with a null reverse-path, for the recipients that failed; none
    /// for a null reverse-path (unless the fault sends one to the From address).
    fn notify(&self, msg: &Queued, failed: &[(String, String)]) {
        let to = if !msg.sender.is_empty() {
            msg.sender.clone()
        } else if self.faults.bounce_null_sender {
            let text = String::from_utf8_lossy(&msg.content);
            match text.lines().find(|l| l.starts_with("From:")) {
                Some(from) => between(from),
                None => return,
            }
        } else {
            return;
        };
        let listed: Vec<(String, String)> = if self.faults.notify_all_recipients {
            msg.rcpts
                .iter()
                .map(|r| (r.clone(), "5.1.1".to_string()))
                .collect()
        } else {
            failed.to_vec()
        };
        let groups: String = listed
            .iter()
            .map(|(r, status)| {
                format!(
                    "Final-Recipient: rfc822; {r}\r\nAction: failed\r\nStatus: {status}\r\n\r\n"
                )
            })
            .collect();
        let dsn = Queued {
            sender: String::new(),
            rcpts: vec![to],
            content: format!(
                "From: MAILER-DAEMON@fixture.relay.example\r\nSubject: Undelivered\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nThe message could not be delivered.\r\n\r\n--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; fixture.relay.example\r\n\r\n{groups}--b1--\r\n"
            )
            .into_bytes(),
            smtputf8: false,
        };
        Relay {
            next_hop: self.next_hop,
            faults: Faults::default(),
        }
        .deliver(&dsn, 0);
    }
}
