//! The capability probe: one connection before any case runs, to learn what the target
//! advertises (in plaintext and, when it offers STARTTLS, over TLS), and one to its MMTP
//! listener, if it has one, for the welcome. Cases whose `requires` are not advertised run
//! their fallback or are skipped.

use std::time::Duration;

use mtp_proto::smtp::extension::Extensions;
use mtpspec_report::capabilities::Capabilities;

use super::RunOptions;
use super::conn::Conn;
use crate::scenario::Keyword;
use crate::target::{Listener, Target, TargetError};
use crate::wire::WireLog;

pub(crate) async fn probe(
    target: &dyn Target,
    options: &RunOptions,
) -> Result<Capabilities, TargetError> {
    let listeners = target.listeners();
    let smtp = listeners.contains(&Listener::Smtp);
    let mut caps = if smtp {
        smtp_probe(target, options).await?
    } else {
        Capabilities::default()
    };
    let mmtp = [Listener::Mmtp, Listener::Mmtps]
        .into_iter()
        .find(|l| listeners.contains(l));
    if let Some(listener) = mmtp {
        match super::mmtp_probe::probe(target, listener, options).await {
            Ok(welcome) => caps.mmtp = Some(welcome),
            // Only MMTP to probe: without it nothing can run.
            Err(e) if !smtp => return Err(e),
            Err(e) => caps.notes.push(format!("MMTP: {e}")),
        }
    }
    Ok(caps)
}

async fn smtp_probe(
    target: &dyn Target,
    options: &RunOptions,
) -> Result<Capabilities, TargetError> {
    let log = WireLog::new();
    let timeout = options.step_timeout;
    let mut conn = Conn::open(target, Listener::Smtp, 1, &log, options.connect_timeout).await?;
    let probe_error = |what: &str| TargetError::Probe(format!("{} {what}", target.name()));
    let greeting = conn
        .read_reply(timeout)
        .await
        .map_err(|e| probe_error(&format!("sent no greeting: {e}")))?;
    if !greeting.code.is_positive() {
        return Err(probe_error(&format!(
            "greeted with {}",
            greeting.to_string().trim_end()
        )));
    }
    let mut caps = Capabilities::default();
    caps.greeting = greeting.lines.first().cloned().unwrap_or_default();
    caps.hostname = greeting
        .lines
        .first()
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_default()
        .to_string();
    let plain = ehlo(&mut conn, options, timeout)
        .await
        .unwrap_or_else(|why| {
            caps.notes.push(format!("EHLO: {why}"));
            Extensions::default()
        });
    caps.set_plain(plain);
    let starttls = Keyword {
        keyword: "STARTTLS".into(),
        param: None,
    };
    if !conn.is_tls() && caps.offers(&starttls) {
        match upgrade(&mut conn, target, options, timeout).await {
            Ok(tls) => caps.set_tls(tls),
            Err(why) => caps.notes.push(format!("STARTTLS: {why}")),
        }
    }
    let _ = conn.write(b"QUIT\r\n", None, Duration::ZERO).await;
    let _ = conn.read_reply(Duration::from_millis(500)).await;
    conn.close().await;
    Ok(caps)
}

async fn ehlo(
    conn: &mut Conn,
    options: &RunOptions,
    timeout: Duration,
) -> Result<Extensions, String> {
    let line = format!("EHLO {}\r\n", options.vars.helo);
    conn.write(line.as_bytes(), None, Duration::ZERO).await?;
    let reply = conn
        .read_reply(timeout)
        .await
        .map_err(|e| format!("{e:?}"))?;
    if reply.code.get() != 250 {
        return Err(format!("answered {}", reply.to_string().trim_end()));
    }
    Ok(Extensions::from_ehlo(&reply))
}

async fn upgrade(
    conn: &mut Conn,
    target: &dyn Target,
    options: &RunOptions,
    timeout: Duration,
) -> Result<Extensions, String> {
    conn.write(b"STARTTLS\r\n", None, Duration::ZERO).await?;
    let reply = conn
        .read_reply(timeout)
        .await
        .map_err(|e| format!("{e:?}"))?;
    if reply.code.get() != 220 {
        return Err(format!("answered {}", reply.to_string().trim_end()));
    }
    conn.start_tls(target).await.map_err(|e| e.to_string())?;
    ehlo(conn, options, timeout).await
}
