//! The MMTP part of the capability probe: one connection to the target's MMTP listener to
//! read its welcome (seed §5.2), which says whether it offers TLS and OpenPGP and, in the
//! reference (DESIGN), the HashCash difficulty the harness must mint tokens for.

use mtpspec_report::capabilities::MmtpWelcome;
use serde_json::Value;

use super::RunOptions;
use super::conn::Conn;
use crate::target::{Listener, Target, TargetError};
use crate::wire::WireLog;

/// The welcome `value` said.
fn welcome_from(value: &Value) -> MmtpWelcome {
    let feature = |name: &str| {
        value
            .pointer(&format!("/features/{name}"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    MmtpWelcome {
        message: value
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        tls: feature("tls"),
        pgp: feature("pgp"),
        difficulty: value
            .get("difficulty")
            .and_then(Value::as_u64)
            .and_then(|d| u32::try_from(d).ok()),
    }
}

/// Connects to `listener` and reads the welcome.
pub(crate) async fn probe(
    target: &dyn Target,
    listener: Listener,
    options: &RunOptions,
) -> Result<MmtpWelcome, TargetError> {
    let log = WireLog::new();
    let mut conn = Conn::open(target, listener, 1, &log, options.connect_timeout).await?;
    let welcome = conn.read_json(options.step_timeout).await;
    conn.close().await;
    let value = welcome.map_err(|e| {
        TargetError::Probe(format!(
            "{} ({listener}) sent no MMTP welcome: {e:?}",
            target.name()
        ))
    })?;
    if value.get("status").and_then(Value::as_str) != Some("OK") {
        return Err(TargetError::Probe(format!(
            "{} ({listener}) welcomed with {value}",
            target.name()
        )));
    }
    Ok(welcome_from(&value))
}
