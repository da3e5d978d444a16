//! The HTTP steps of a session (gateway cases): sending a request built from the case's
//! templates, judging the last response, and polling a path until its answer matches.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Session, missing_variable};
use crate::runner::http::{HttpResponse, Outgoing};
use crate::runner::mmtp::{DEFAULT_DIFFICULTY, EvalContext, evaluate};
use crate::runner::step_error::StepError;
use crate::scenario::http::{BodyPart, ExpectHttp, HttpBody, HttpRequest, PollHttp};
use crate::scenario::json_pattern::{JsonPattern, PatternError, show};
use mtpspec_report::verdict::Observed;

impl Session<'_> {
    fn http_base(&self) -> Result<String, StepError> {
        self.target.http_base().ok_or_else(|| {
            StepError::Skip("the target has no HTTP listener (--http HOST:PORT)".into())
        })
    }

    async fn http_body(&mut self, body: &HttpBody) -> Result<Vec<u8>, StepError> {
        match body {
            HttpBody::Json(template) => {
                let mut ctx = EvalContext {
                    vars: &mut self.vars,
                    difficulty: self.mmtp_difficulty.unwrap_or(DEFAULT_DIFFICULTY),
                    keys_dir: &self.keys_dir,
                };
                let value = evaluate(template, &mut ctx).await?;
                Ok(value.to_compact_string().into_bytes())
            }
            HttpBody::Raw(parts) => {
                let mut bytes = Vec::new();
                for BodyPart { data, repeat } in parts {
                    let piece = data.expand(&self.vars).map_err(missing_variable)?;
                    bytes.reserve(piece.len() * repeat);
                    for _ in 0..*repeat {
                        bytes.extend_from_slice(&piece);
                    }
                }
                Ok(bytes)
            }
        }
    }

    pub(super) async fn http_request(&mut self, request: &HttpRequest) -> Result<(), StepError> {
        let base = self.http_base()?;
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| StepError::Harness(format!("method {}: {e}", request.method)))?;
        let path = self.expand(&request.path)?;
        let body = match &request.body {
            Some(body) => Some(self.http_body(body).await?),
            None => None,
        };
        let mut headers = Vec::new();
        let content_type = match (&request.content_type, &request.body) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(HttpBody::Json(_))) => Some("application/json".into()),
            (None, _) => None,
        };
        headers.extend(content_type.map(|t| ("content-type".to_string(), t)));
        for (name, value) in &request.headers {
            headers.push((name.to_ascii_lowercase(), self.expand(value)?));
        }
        let outgoing = Outgoing {
            method,
            path,
            headers,
            body,
        };
        let timeout = self.options.step_timeout;
        self.http
            .send(&base, outgoing, timeout, Some(&self.log))
            .await
            .map_err(StepError::Harness)?;
        Ok(())
    }

    pub(super) async fn expect_http(&mut self, expect: &ExpectHttp) -> Result<(), StepError> {
        let response = self.http.last.clone().ok_or_else(|| {
            StepError::Harness("expect_http without an http step before it".into())
        })?;
        let expected = || format!("a response with {expect}");
        if !expect.status.contains(&response.status) {
            return Err(StepError::observed(
                expected(),
                response.summary(),
                Observed::Http {
                    status: response.status,
                },
            ));
        }
        if let Some(pattern) = &expect.headers {
            self.match_json(pattern, &response.headers_json(), "headers", expected())?;
        }
        if let Some(pattern) = &expect.json {
            let value = response
                .json()
                .map_err(|why| StepError::failed(expected(), why))?;
            self.match_json(pattern, &value, "body", expected())?;
        }
        Ok(())
    }

    /// Matches `value` (the `what` of a response) and sets the captures.
    fn match_json(
        &mut self,
        pattern: &JsonPattern,
        value: &Value,
        what: &str,
        expected: String,
    ) -> Result<(), StepError> {
        match pattern.check(value, &self.vars) {
            Ok(captures) => {
                for (name, text) in captures {
                    self.vars.set(&name, &text);
                }
                Ok(())
            }
            Err(PatternError::Variable(e)) => Err(missing_variable(e)),
            Err(mismatch) => Err(StepError::failed(
                expected,
                format!("{what} {} ({mismatch})", show(value)),
            )),
        }
    }

    pub(super) async fn poll_http(&mut self, poll: &PollHttp) -> Result<(), StepError> {
        let base = self.http_base()?;
        let path = self.expand(&poll.path)?;
        let timeout = self.options.step_timeout;
        let started = Instant::now();
        let within = Duration::from_millis(poll.within_ms);
        let expected = format!(
            "GET {path} to answer {} with {} within {} ms",
            poll.status
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" or "),
            poll.until,
            poll.within_ms
        );
        // Bounded: at most one request per `every_ms` until `within_ms` has passed.
        let response = loop {
            let request = Outgoing {
                method: reqwest::Method::GET,
                path: path.clone(),
                headers: Vec::new(),
                body: None,
            };
            // Only the last answer is logged (the number of polls varies from run to run).
            let response = self
                .http
                .send(&base, request, timeout, None)
                .await
                .map_err(StepError::Harness)?
                .clone();
            let matched = poll.status.contains(&response.status)
                && response
                    .json()
                    .is_ok_and(|value| pattern_matches(&poll.until, &value, &self.vars));
            if matched || started.elapsed() >= within {
                break response;
            }
            tokio::time::sleep(Duration::from_millis(poll.every_ms)).await;
        };
        self.log_poll(&path, &response);
        if !poll.status.contains(&response.status) {
            return Err(StepError::observed(
                expected,
                response.summary(),
                Observed::Http {
                    status: response.status,
                },
            ));
        }
        let value = response
            .json()
            .map_err(|why| StepError::failed(expected.clone(), why))?;
        self.match_json(&poll.until, &value, "last answer", expected)
    }

    fn log_poll(&mut self, path: &str, response: &HttpResponse) {
        let request = Outgoing {
            method: reqwest::Method::GET,
            path: path.to_string(),
            headers: Vec::new(),
            body: None,
        };
        crate::runner::http::log_exchange(&self.log, &request, response);
    }
}

fn pattern_matches(pattern: &JsonPattern, value: &Value, vars: &crate::scenario::Vars) -> bool {
    pattern.check(value, vars).is_ok()
}
