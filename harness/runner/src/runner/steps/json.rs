//! The JSON steps of a session (MMTP): writing values built from templates, reading values
//! and matching them against partial patterns.

use std::time::Duration;

use super::{Session, missing_variable, with_partial};
use crate::runner::conn::ReadFailure;
use crate::runner::mmtp::{DEFAULT_DIFFICULTY, EvalContext, evaluate};
use crate::runner::step_error::StepError;
use crate::scenario::json_pattern::{JsonPattern, PatternError, show};
use crate::scenario::{JsonTemplate, WriteJsonStep};
use mtpspec_report::verdict::Observed;

impl Session<'_> {
    /// The HashCash difficulty for the current connection: its welcome's, else the probe's,
    /// else the original's default.
    async fn difficulty(&mut self) -> Result<u32, StepError> {
        let fallback = self.mmtp_difficulty.unwrap_or(DEFAULT_DIFFICULTY);
        Ok(self.conn().await?.mmtp_difficulty.unwrap_or(fallback))
    }

    async fn render(
        &mut self,
        templates: &[JsonTemplate],
        end: &str,
    ) -> Result<Vec<u8>, StepError> {
        let difficulty = self.difficulty().await?;
        let mut bytes = Vec::new();
        for template in templates {
            let mut ctx = EvalContext {
                vars: &mut self.vars,
                difficulty,
                keys_dir: &self.keys_dir,
            };
            let value = evaluate(template, &mut ctx).await?;
            bytes.extend_from_slice(value.to_compact_string().as_bytes());
            bytes.extend_from_slice(end.as_bytes());
        }
        Ok(bytes)
    }

    pub(super) async fn send_json(&mut self, template: &JsonTemplate) -> Result<(), StepError> {
        let bytes = self.render(std::slice::from_ref(template), "\n").await?;
        self.write(&bytes, None, Duration::ZERO).await
    }

    pub(super) async fn write_json(&mut self, step: &WriteJsonStep) -> Result<(), StepError> {
        let bytes = self.render(&step.values, &step.end).await?;
        self.write(&bytes, step.chunk, Duration::from_millis(step.pause_ms))
            .await
    }

    pub(super) async fn expect_json(&mut self, pattern: &JsonPattern) -> Result<(), StepError> {
        let timeout = self.options.step_timeout;
        let ms = timeout.as_millis();
        let expected = || format!("a JSON value matching {pattern}");
        let welcome = !self.conn().await?.welcome_read();
        let value = match self.conn().await?.read_json(timeout).await {
            Ok(value) => value,
            Err(ReadFailure::Timeout { partial }) => {
                return Err(StepError::observed(
                    expected(),
                    with_partial(format!("nothing within {ms} ms"), &partial),
                    Observed::NoReply {
                        waited_ms: u64::try_from(ms).unwrap_or(u64::MAX),
                        partial: String::from_utf8_lossy(&partial).into_owned(),
                    },
                ));
            }
            Err(ReadFailure::Closed { partial }) => {
                return Err(StepError::observed(
                    expected(),
                    with_partial("the target closed the connection".into(), &partial),
                    Observed::Closed {
                        partial: String::from_utf8_lossy(&partial).into_owned(),
                    },
                ));
            }
            Err(ReadFailure::NotJson(bad)) => {
                return Err(StepError::failed(
                    expected(),
                    format!(
                        "bytes that are not JSON: {:?} ({})",
                        String::from_utf8_lossy(&bad.bytes),
                        bad.error
                    ),
                ));
            }
            Err(ReadFailure::Malformed(e)) => return Err(StepError::Harness(e.to_string())),
            Err(ReadFailure::Io(e)) => return Err(StepError::Harness(e)),
        };
        match pattern.check(&value, &self.vars) {
            Ok(captures) => {
                for (name, text) in captures {
                    self.vars.set(&name, &text);
                }
                Ok(())
            }
            Err(PatternError::Variable(e)) => Err(missing_variable(e)),
            Err(_) if welcome && is_connection_refusal(&value) => Err(StepError::Refused(format!(
                "the target refused the connection: {}",
                show(&value)
            ))),
            Err(mismatch) => Err(StepError::failed(
                expected(),
                format!("{} ({mismatch})", show(&value)),
            )),
        }
    }
}

/// An MMTP welcome that refuses the connection for a connection or rate limit: the reference's
/// `RATE_LIMITED` code, or the original server's error text about too many connections.
fn is_connection_refusal(value: &serde_json::Value) -> bool {
    let field = |name: &str| value.get(name).and_then(serde_json::Value::as_str);
    if field("status") != Some("ERROR") {
        return false;
    }
    let message = field("message").unwrap_or_default().to_ascii_lowercase();
    field("code") == Some("RATE_LIMITED")
        || message.contains("rate limit")
        || message.contains("too many connections")
}
