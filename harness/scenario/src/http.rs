//! The HTTP steps of the scenario model (the gateway cases, `protocol: http`): a request
//! (`http`), the expectation on its response (`expect_http`), and a poll that repeats a GET
//! until its answer matches (`poll_http`, for a delivery to settle).
//!
//! Bodies are JSON templates (the MMTP ones: `{{variables}}` and computed fields such as
//! `$text`) or raw bytes in parts (`text`, `hex` or `base64`, each repeated), so that a case
//! can send invalid JSON, a 50 MB body or 10,000 recipients without writing them out.
//! Responses are matched with the protocol-neutral JSON pattern matcher, headers too (as an
//! object of lower-case names).

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::Listener;
use super::json_pattern::JsonPattern;
use super::json_template::JsonTemplate;
use super::payload::{Payload, decode_hex};
use super::profile::Profile;
use super::vars::Template;

/// Methods a request may use.
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// `http:` one request to the target's HTTP listener.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpRequest {
    /// Upper case, one of `METHODS` (default GET, POST when there is a body).
    pub method: String,
    /// The path and query, starting with `/` (`/deliveries/{{id}}`).
    pub path: Template,
    /// The body: `json`, `body` or `body_parts` (at most one); `None`: no body.
    pub body: Option<HttpBody>,
    /// Extra request headers.
    pub headers: BTreeMap<String, Template>,
    /// The Content-Type sent (default `application/json` for a `json` body, none otherwise).
    pub content_type: Option<String>,
}

/// What a request carries.
#[derive(Clone, Debug, PartialEq)]
pub enum HttpBody {
    /// A JSON value built from a template (the MMTP template language).
    Json(JsonTemplate),
    /// Raw bytes: the parts in order, each repeated.
    Raw(Vec<BodyPart>),
}

/// A piece of a raw body.
#[derive(Clone, Debug, PartialEq)]
pub struct BodyPart {
    /// The octets of one copy: `text` (with variables), `hex` or `base64`.
    pub data: Payload,
    /// `repeat:` how many copies are sent back to back (default 1).
    pub repeat: usize,
}

impl HttpRequest {
    /// Every text with `{{variables}}` in the request (path, header values, the body's
    /// strings and text parts): the loader checks each variable is known.
    pub fn templates(&self) -> Vec<&Template> {
        let mut out = vec![&self.path];
        out.extend(self.headers.values());
        match &self.body {
            Some(HttpBody::Json(t)) => out.extend(t.templates()),
            Some(HttpBody::Raw(parts)) => out.extend(parts.iter().filter_map(|p| match &p.data {
                Payload::Text(t) => Some(t),
                Payload::Bytes(_) => None,
            })),
            None => {}
        }
        out
    }

    /// The variables the request itself sets: the `as: NAME` of computed fields in a `json`
    /// body (`$now`, `$hashcash`, ...), usable from the next step on.
    pub fn captures(&self) -> Vec<&str> {
        match &self.body {
            Some(HttpBody::Json(t)) => t.stores(),
            _ => vec![],
        }
    }
}

impl fmt::Display for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path.as_str())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    method: Option<String>,
    path: Template,
    json: Option<JsonTemplate>,
    body: Option<RawPart>,
    body_parts: Option<Vec<RawPart>>,
    #[serde(default)]
    headers: BTreeMap<String, Template>,
    content_type: Option<String>,
}

/// `text`, `hex` or `base64`, and how many times.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPart {
    text: Option<Template>,
    hex: Option<String>,
    base64: Option<String>,
    repeat: Option<usize>,
}

impl RawPart {
    fn build(self) -> Result<BodyPart, String> {
        let data = match (self.text, self.hex, self.base64) {
            (Some(t), None, None) => Payload::Text(t),
            (None, Some(h), None) => Payload::Bytes(decode_hex(&h)?),
            (None, None, Some(b)) => Payload::Bytes(
                base64::engine::general_purpose::STANDARD
                    .decode(b.split_whitespace().collect::<String>())
                    .map_err(|e| format!("http body: bad base64: {e}"))?,
            ),
            _ => return Err("http body: give exactly one of text, hex and base64".into()),
        };
        Ok(BodyPart {
            data,
            repeat: self.repeat.unwrap_or(1),
        })
    }
}

impl<'de> Deserialize<'de> for HttpRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawRequest::deserialize(deserializer)?;
        if !path_ok(&raw.path) {
            return Err(de::Error::custom(format!(
                "http: path {:?} must start with / (or be a variable, such as a Location)",
                raw.path.as_str()
            )));
        }
        let body = match (raw.json, raw.body, raw.body_parts) {
            (None, None, None) => None,
            (Some(j), None, None) => Some(HttpBody::Json(j)),
            (None, Some(p), None) => {
                Some(HttpBody::Raw(vec![p.build().map_err(de::Error::custom)?]))
            }
            (None, None, Some(parts)) if !parts.is_empty() => Some(HttpBody::Raw(
                parts
                    .into_iter()
                    .map(RawPart::build)
                    .collect::<Result<_, _>>()
                    .map_err(de::Error::custom)?,
            )),
            _ => {
                return Err(de::Error::custom(
                    "http: give at most one of json, body and a non-empty body_parts",
                ));
            }
        };
        let method = match raw.method {
            Some(m) => m.to_ascii_uppercase(),
            None if body.is_some() => "POST".into(),
            None => "GET".into(),
        };
        if !METHODS.contains(&method.as_str()) {
            return Err(de::Error::custom(format!(
                "http: method {method:?} is not one of {}",
                METHODS.join(", ")
            )));
        }
        if let Some(bad) = raw.headers.keys().find(|h| !is_token(h)) {
            return Err(de::Error::custom(format!(
                "http: {bad:?} is not a header name"
            )));
        }
        Ok(Self {
            method,
            path: raw.path,
            body,
            headers: raw.headers,
            content_type: raw.content_type,
        })
    }
}

/// A path starts with `/`, or with a variable that holds one (a captured Location).
fn path_ok(path: &Template) -> bool {
    path.as_str().starts_with('/') || path.as_str().starts_with("{{")
}

/// An RFC 9110 token (a header name).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `expect_http:` what the last response must be.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectHttp {
    /// Acceptable status codes (any of them).
    pub status: Vec<u16>,
    /// The body, parsed as JSON, must match (captures set variables).
    pub json: Option<JsonPattern>,
    /// The headers, as an object of lower-case names to values, must match.
    pub headers: Option<JsonPattern>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    status: Codes,
    json: Option<JsonPattern>,
    headers: Option<JsonPattern>,
}

impl<'de> Deserialize<'de> for ExpectHttp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawExpect::deserialize(deserializer)?;
        let status = check_statuses(raw.status.0).map_err(de::Error::custom)?;
        Ok(Self {
            status,
            json: raw.json,
            headers: raw.headers,
        })
    }
}

/// One status code or a list of them.
struct Codes(Vec<u16>);

impl<'de> Deserialize<'de> for Codes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(u16),
            Many(Vec<u16>),
        }
        match OneOrMany::deserialize(deserializer) {
            Ok(OneOrMany::One(c)) => Ok(Codes(vec![c])),
            Ok(OneOrMany::Many(cs)) => Ok(Codes(cs)),
            Err(_) => Err(de::Error::custom(
                "status: expected a status code (202) or a list of them ([200, 207])",
            )),
        }
    }
}

fn check_statuses(status: Vec<u16>) -> Result<Vec<u16>, String> {
    if status.is_empty() {
        return Err("expect_http: status needs at least one code".into());
    }
    if let Some(bad) = status.iter().find(|s| !(100..=599).contains(*s)) {
        return Err(format!(
            "expect_http: {bad} is not an HTTP status (100 to 599)"
        ));
    }
    Ok(status)
}

impl ExpectHttp {
    /// The `{{variables}}` texts of the `json` and `headers` patterns, for the loader's check
    /// that each variable is known.
    pub fn templates(&self) -> Vec<&Template> {
        self.json
            .iter()
            .chain(&self.headers)
            .flat_map(JsonPattern::templates)
            .collect()
    }

    /// The variables the step sets: every `$capture` in the `json` and `headers` patterns.
    pub fn captures(&self) -> Vec<&str> {
        self.json
            .iter()
            .chain(&self.headers)
            .flat_map(JsonPattern::captures)
            .collect()
    }
}

impl fmt::Display for ExpectHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let codes: Vec<String> = self.status.iter().map(ToString::to_string).collect();
        write!(f, "status {}", codes.join(" or "))?;
        if let Some(json) = &self.json {
            write!(f, ", JSON {json}")?;
        }
        if let Some(headers) = &self.headers {
            write!(f, ", headers {headers}")?;
        }
        Ok(())
    }
}

/// `poll_http:` GET `path` until the answer has `status` and its JSON matches `until`, or
/// `within_ms` passes. The last answer is the one `expect_http` then checks.
#[derive(Clone, Debug, PartialEq)]
pub struct PollHttp {
    /// `path:` what to GET, as in [`HttpRequest::path`] (starts with `/` or is a variable).
    pub path: Template,
    /// `status:` the status codes a matching answer has (default `[200]`).
    pub status: Vec<u16>,
    /// `until:` the JSON pattern the answer's body must match (captures set variables).
    pub until: JsonPattern,
    /// `within_ms:` how long to keep polling before the step fails with the last answer, in
    /// milliseconds (default [`DEFAULT_POLL_MS`], 10 s).
    pub within_ms: u64,
    /// `every_ms:` the pause between two GETs, in milliseconds (default 100, at least 1).
    pub every_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPoll {
    path: Template,
    status: Option<Codes>,
    until: JsonPattern,
    within_ms: Option<u64>,
    every_ms: Option<u64>,
}

/// How long a poll waits by default: a delivery through the retry queue takes a few round
/// trips on loopback.
pub const DEFAULT_POLL_MS: u64 = 10_000;

impl<'de> Deserialize<'de> for PollHttp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawPoll::deserialize(deserializer)?;
        if !path_ok(&raw.path) {
            return Err(de::Error::custom(format!(
                "poll_http: path {:?} must start with / (or be a variable, such as a Location)",
                raw.path.as_str()
            )));
        }
        let status = match raw.status {
            Some(s) => check_statuses(s.0).map_err(de::Error::custom)?,
            None => vec![200],
        };
        let every_ms = raw.every_ms.unwrap_or(100);
        if every_ms == 0 {
            return Err(de::Error::custom("poll_http: every_ms must be at least 1"));
        }
        Ok(Self {
            path: raw.path,
            status,
            until: raw.until,
            within_ms: raw.within_ms.unwrap_or(DEFAULT_POLL_MS),
            every_ms,
        })
    }
}

impl PollHttp {
    /// The `{{variables}}` texts of `path` and `until`, for the loader's check that each
    /// variable is known.
    pub fn templates(&self) -> Vec<&Template> {
        let mut out = vec![&self.path];
        out.extend(self.until.templates());
        out
    }
}

/// An HTTP case names its profile and runs on the HTTP listener (its SMTP steps, if any, on
/// the target's SMTP listener).
pub(crate) fn case_listener(
    id: &str,
    profile: Option<Profile>,
    listener: Option<Listener>,
) -> Result<Listener, (&'static str, String)> {
    match (profile, listener) {
        (None, _) => Err((
            "profile",
            format!("HTTP case `{id}` needs `profile: compat` or `profile: strict`"),
        )),
        (Some(_), None | Some(Listener::Http)) => Ok(Listener::Http),
        (Some(_), Some(l)) => Err((
            "listener",
            format!("HTTP case `{id}` cannot use the {l} listener (it runs on http)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(yaml: &str) -> Result<HttpRequest, String> {
        serde_saphyr::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_requests() {
        let r = request("path: /send\njson: {sender: \"{{sender}}\"}\n").unwrap();
        assert_eq!(r.method, "POST");
        assert!(matches!(r.body, Some(HttpBody::Json(_))));
        let r = request("path: /messages?limit=1\n").unwrap();
        assert_eq!(r.method, "GET");
        let r = request(
            "path: /send\nbody_parts: [{text: '['}, {text: 'x,', repeat: 3}, {hex: '5d'}]\n",
        )
        .unwrap();
        let Some(HttpBody::Raw(parts)) = r.body else {
            panic!("raw body")
        };
        assert_eq!(parts[1].repeat, 3);
        assert_eq!(parts[2].data, Payload::Bytes(b"]".to_vec()));
        for bad in [
            "path: send\n",
            "path: /x\nmethod: FETCH\n",
            "path: /x\njson: {}\nbody: {text: x}\n",
            "path: /x\nbody: {text: x, hex: '00'}\n",
            "path: /x\nheaders: {\"bad name\": x}\n",
            "path: /x\nbodyy: {text: x}\n",
        ] {
            assert!(request(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn http_cases_are_checked_when_loaded() {
        let load = |text: &str| {
            crate::load_str(text, std::path::Path::new("h.yaml")).map_err(|e| e.to_string())
        };
        let head = "- id: a\n  title: t\n  spec: [GATEWAY-SEND-1]\n  level: must\n";
        let good = format!(
            "{head}  protocol: http\n  profile: strict\n  steps:\n    - http: {{path: /send, json: {{a: 1}}}}\n    - expect_http: {{status: 202, json: {{id: {{$capture: id}}}}}}\n    - poll_http: {{path: \"/deliveries/{{{{id}}}}\", until: {{}}}}\n    - ehlo\n"
        );
        let cases = load(&good).unwrap();
        assert_eq!(cases[0].listener, Listener::Http);
        let e = load(&format!(
            "{head}  protocol: http\n  steps: [{{http: {{path: /}}}}]\n"
        ))
        .unwrap_err();
        assert!(e.contains("field `profile`: HTTP case `a` needs"), "{e}");
        let e = load(&format!(
            "{head}  protocol: http\n  profile: compat\n  listener: smtps\n  steps: [{{http: {{path: /}}}}]\n"
        ))
        .unwrap_err();
        assert!(e.contains("cannot use the smtps listener"), "{e}");
        let e = load(&format!("{head}  steps: [{{http: {{path: /}}}}]\n")).unwrap_err();
        assert!(e.contains("does not fit a smtp case"), "{e}");
        let e = load(&format!(
            "{head}  protocol: http\n  profile: strict\n  steps: [{{expect_json: {{}}}}]\n"
        ))
        .unwrap_err();
        assert!(e.contains("does not fit a http case"), "{e}");
        let e = load(&format!(
            "{head}  protocol: http\n  profile: strict\n  steps:\n    - http: {{path: /x, jsn: {{}}}}\n"
        ))
        .unwrap_err();
        assert!(
            e.starts_with("h.yaml:8:24: field `jsn`: unknown field"),
            "{e}"
        );
    }

    #[test]
    fn reads_expectations_and_polls() {
        let e: ExpectHttp =
            serde_saphyr::from_str("status: [200, 207]\njson: {id: {$capture: id}}\n").unwrap();
        assert_eq!(e.status, vec![200, 207]);
        assert_eq!(e.captures(), vec!["id"]);
        assert!(serde_saphyr::from_str::<ExpectHttp>("status: 42\n").is_err());
        assert!(serde_saphyr::from_str::<ExpectHttp>("json: {}\n").is_err());
        let p: PollHttp =
            serde_saphyr::from_str("path: /deliveries/x\nuntil: {status: delivered}\n").unwrap();
        assert_eq!(
            (p.status.clone(), p.within_ms),
            (vec![200], DEFAULT_POLL_MS)
        );
        assert!(serde_saphyr::from_str::<PollHttp>("path: /d\nuntil: {}\nevery_ms: 0\n").is_err());
    }
}
