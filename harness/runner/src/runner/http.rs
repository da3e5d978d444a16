//! HTTP for the gateway cases: one real client per case (reqwest over TCP, no proxy), the
//! last response kept for `expect_http`, and both sides written to the case's wire log in a
//! readable, snapshot-stable form (request line, the headers the case chose, the body; the
//! status line, Content-Type and Location, the body with long strings elided). relay-test
//! submits to the reference gateway with the same client ([`HttpState`]) and shows the
//! exchange the same way ([`render_request`], [`render_response`]).

use std::time::Duration;

use serde_json::Value;

/// The request method type of [`Outgoing`].
pub use reqwest::Method;

use crate::scenario::Case;
use crate::scenario::Step;
use crate::target::{Listener, Target};
use crate::wire::{WireKind, WireLog};

/// The wire log's connection number for HTTP exchanges (SMTP connections are 1 to 9).
pub(crate) const HTTP_CONN: u8 = 0;

/// Bodies longer than this are logged as their size only.
const LOGGED_BODY: usize = 2048;

/// Bodies longer than this are not parsed for the log (a 50 MB request).
const PARSED_BODY: usize = 1024 * 1024;

/// JSON strings longer than this are logged as `"[N chars]"` (message bytes, base64).
const LOGGED_STRING: usize = 120;

/// One response, read whole.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Lower-case names, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body, whole.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body as JSON, or why it is not.
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| {
            format!(
                "a body that is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(200)])
            )
        })
    }

    /// The headers as a JSON object (a repeated header: its values joined by `, `).
    pub(crate) fn headers_json(&self) -> Value {
        let mut object = serde_json::Map::new();
        for (name, value) in &self.headers {
            match object.get_mut(name) {
                Some(Value::String(s)) => {
                    s.push_str(", ");
                    s.push_str(value);
                }
                _ => {
                    object.insert(name.clone(), Value::String(value.clone()));
                }
            }
        }
        Value::Object(object)
    }

    /// A short description for failures.
    pub(crate) fn summary(&self) -> String {
        format!("{} {}", self.status, logged_body(&self.body))
    }
}

/// A request ready to go.
pub struct Outgoing {
    /// The method.
    pub method: reqwest::Method,
    /// The path (and query), appended to the base URL.
    pub path: String,
    /// Request headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
}

/// The HTTP side of a session.
#[derive(Default)]
pub struct HttpState {
    client: Option<reqwest::Client>,
    /// The last response.
    pub last: Option<HttpResponse>,
}

impl HttpState {
    fn client(&mut self, timeout: Duration) -> Result<reqwest::Client, String> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        // Plain HTTP only, but reqwest's rustls backend wants a configuration.
        let tls =
            mtp_server::client::tls::client_config(&mtp_server::client::tls::Verify::Insecure)
                .map_err(|e| format!("HTTP client: {e}"))?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured((*tls).clone())
            .no_proxy()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        self.client = Some(client.clone());
        Ok(client)
    }

    /// Sends `request` to `base`, logs both sides, and keeps the response.
    pub async fn send(
        &mut self,
        base: &str,
        request: Outgoing,
        timeout: Duration,
        log: Option<&WireLog>,
    ) -> Result<&HttpResponse, String> {
        let client = self.client(timeout)?;
        let url = format!("{base}{}", request.path);
        let mut builder = client.request(request.method.clone(), &url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(log) = log {
            log.record(HTTP_CONN, WireKind::Sent, false, &render_request(&request));
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| format!("{} {url}: {}", request.method, error_chain(&e)))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .bytes()
            .await
            .map_err(|e| {
                format!(
                    "reading the answer to {} {url}: {}",
                    request.method,
                    error_chain(&e)
                )
            })?
            .to_vec();
        let response = HttpResponse {
            status,
            headers,
            body,
        };
        if let Some(log) = log {
            log.record(
                HTTP_CONN,
                WireKind::Received,
                false,
                &render_response(&response),
            );
        }
        Ok(self.last.insert(response))
    }
}

/// Logs a request and its response (a poll's last exchange).
pub(crate) fn log_exchange(log: &WireLog, request: &Outgoing, response: &HttpResponse) {
    log.record(HTTP_CONN, WireKind::Sent, false, &render_request(request));
    log.record(
        HTTP_CONN,
        WireKind::Received,
        false,
        &render_response(response),
    );
}

/// An error with its causes (reqwest's own message is terse).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// A request as the log shows it: request line, headers, the body ([`logged_body`]).
pub fn render_request(request: &Outgoing) -> Vec<u8> {
    let mut text = format!("{} {} HTTP/1.1\r\n", request.method, request.path);
    for (name, value) in &request.headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = &request.body {
        text.push_str(&format!("\r\n{}\r\n", logged_body(body)));
    }
    text.into_bytes()
}

/// A response as the log shows it: status line, Content-Type, Location and Allow, the body
/// ([`logged_body`]).
pub fn render_response(response: &HttpResponse) -> Vec<u8> {
    let reason = reqwest::StatusCode::from_u16(response.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut text = format!("HTTP/1.1 {} {reason}\r\n", response.status);
    for (name, value) in &response.headers {
        if matches!(name.as_str(), "content-type" | "location" | "allow") {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    if !response.body.is_empty() {
        text.push_str(&format!("\r\n{}\r\n", logged_body(&response.body)));
    }
    text.into_bytes()
}

/// A body as the log shows it: JSON compact with long strings elided, other text as it is,
/// large bodies as their size.
pub fn logged_body(body: &[u8]) -> String {
    if body.len() > PARSED_BODY {
        return format!("[a body of {} bytes]", body.len());
    }
    if let Ok(mut value) = serde_json::from_slice::<Value>(body) {
        elide(&mut value);
        let text = value.to_string();
        if text.len() <= LOGGED_BODY {
            return text;
        }
    }
    if body.len() <= LOGGED_BODY {
        return String::from_utf8_lossy(body).replace(['\r', '\n'], " ");
    }
    format!("[a body of {} bytes]", body.len())
}

fn elide(value: &mut Value) {
    match value {
        Value::String(s) if s.chars().count() > LOGGED_STRING => {
            *s = format!("[{} chars]", s.chars().count());
        }
        Value::Array(items) => items.iter_mut().for_each(elide),
        Value::Object(members) => members.values_mut().for_each(elide),
        _ => {}
    }
}

/// Why a case cannot run on `target` for want of a listener, beyond its own: an HTTP case
/// with SMTP steps needs the SMTP listener too, and one with `requires` the SMTP listener's
/// EHLO (the gateway's upstream) to know what to expect.
pub(crate) fn missing_listener(case: &Case, target: &dyn Target) -> Option<String> {
    if case.listener != Listener::Http || target.listeners().contains(&Listener::Smtp) {
        return None;
    }
    if !case.requires.is_empty() {
        let keywords: Vec<String> = case.requires.iter().map(ToString::to_string).collect();
        return Some(format!(
            "needs the upstream to offer {}: the target has no SMTP listener whose EHLO says so (--target smtp://HOST:PORT with --http HOST:PORT)",
            keywords.join(", ")
        ));
    }
    let smtp_steps = case.steps.iter().any(|s| {
        !matches!(
            s.step,
            Step::Http(_) | Step::ExpectHttp(_) | Step::PollHttp(_) | Step::Sleep(_)
        )
    });
    smtp_steps.then(|| {
        "an HTTP case with SMTP steps: the target has no SMTP listener (--target smtp://HOST:PORT with --http HOST:PORT)".to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_bodies_readably() {
        let long = "x".repeat(500);
        let body = serde_json::json!({"id": "a", "data": long}).to_string();
        assert_eq!(
            logged_body(body.as_bytes()),
            r#"{"data":"[500 chars]","id":"a"}"#
        );
        assert_eq!(logged_body(b"{\"sender\": "), "{\"sender\": ");
        assert_eq!(logged_body(&vec![b'x'; 5000]), "[a body of 5000 bytes]");
        let response = HttpResponse {
            status: 202,
            headers: vec![
                ("location".into(), "/d/1".into()),
                ("vary".into(), "a".into()),
                ("vary".into(), "b".into()),
            ],
            body: b"{}".to_vec(),
        };
        assert_eq!(
            response.headers_json(),
            serde_json::json!({"location": "/d/1", "vary": "a, b"})
        );
        assert_eq!(
            String::from_utf8(render_response(&response)).unwrap(),
            "HTTP/1.1 202 Accepted\r\nlocation: /d/1\r\n\r\n{}\r\n"
        );
    }
}
