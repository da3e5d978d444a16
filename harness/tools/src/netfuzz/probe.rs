//! The liveness probe: a fresh connection must be greeted with 220, answer EHLO with 250 and
//! QUIT with 221. Run before fuzzing (to learn the EHLO keywords) and after every session (a
//! port that stops answering is a crash).

use std::time::Duration;

use super::conn::Conn;
use super::driver::Timing;
use mtpspec_runner::target::Target;

/// Probes once; the EHLO keywords (upper case) or why the probe failed.
pub async fn probe(target: &dyn Target, timing: &Timing) -> Result<Vec<String>, String> {
    let connected = tokio::time::timeout(timing.connect, target.connect())
        .await
        .map_err(|_| format!("connect took over {} ms", timing.connect.as_millis()))?
        .map_err(|e| e.to_string())?;
    let mut conn = Conn::new(connected.stream);
    let greeting = conn
        .reply(timing.reply)
        .await
        .map_err(|e| format!("greeting: {e:?}"))?;
    if greeting.code != 220 {
        return Err(format!("greeted with {}", greeting.code));
    }
    conn.write(b"EHLO probe.mtpspec.example\r\n", timing.reply)
        .await
        .map_err(|e| format!("EHLO: {e:?}"))?;
    let ehlo = conn
        .reply(timing.reply)
        .await
        .map_err(|e| format!("EHLO: {e:?}"))?;
    if ehlo.code != 250 {
        return Err(format!("EHLO answered {}", ehlo.code));
    }
    let keywords = ehlo
        .lines
        .iter()
        .skip(1)
        .filter_map(|l| {
            let text = String::from_utf8_lossy(l.get(4..)?)
                .trim()
                .to_ascii_uppercase();
            text.split_whitespace().next().map(str::to_string)
        })
        .collect();
    conn.write(b"QUIT\r\n", timing.reply)
        .await
        .map_err(|e| format!("QUIT: {e:?}"))?;
    let bye = conn
        .reply(timing.reply)
        .await
        .map_err(|e| format!("QUIT: {e:?}"))?;
    if bye.code != 221 {
        return Err(format!("QUIT answered {}", bye.code));
    }
    Ok(keywords)
}

/// Probes up to `attempts` times, a second apart: a busy server gets a few chances before
/// it is called dead.
pub async fn probe_retrying(
    target: &dyn Target,
    timing: &Timing,
    attempts: u32,
) -> Result<Vec<String>, String> {
    let mut last = String::new();
    for attempt in 0..attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        match probe(target, timing).await {
            Ok(keywords) => return Ok(keywords),
            Err(e) => last = e,
        }
    }
    Err(last)
}
