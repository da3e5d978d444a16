//! `mtpspec send --gateway URL`: the VMTP seed's node CLI (`--worker URL`) done against the
//! mtpspec HTTP gateway. One message goes as `POST /send`; `--batch FILE.json` sends the file
//! as `POST /batch`; `--wait` follows each accepted message through `GET /deliveries/{id}`
//! until it is delivered, refused or given up.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::client::mime::content_type_for;
use crate::client::tls::client_config;
use anyhow::{Context, bail};
use base64::Engine;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

use super::{SendArgs, envelope};

/// What the gateway said about one message.
enum Sent {
    Accepted(String),
    Refused(String),
}

pub(super) fn main(args: &SendArgs, url: &str) -> anyhow::Result<ExitCode> {
    let base = base_url(url)?;
    let http = client(args)?;
    let (path, body) = match &args.batch {
        Some(file) => {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            serde_json::from_slice::<Value>(&bytes)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            ("/batch", bytes)
        }
        None => ("/send", serde_json::to_vec(&outgoing(args)?)?),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let response = http
            .post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .with_context(|| format!("POST {base}{path}"))?;
        let status = response.status().as_u16();
        let answer: Value = response
            .json()
            .await
            .with_context(|| format!("the answer to POST {base}{path} is not JSON"))?;
        let sent = read_answer(path, status, &answer)?;
        let refused = report(&sent);
        if !args.wait {
            return Ok(ExitCode::from(if refused { 1 } else { 0 }));
        }
        let limit = args.conn.timeout.unwrap_or(Duration::from_secs(120));
        let mut code = if refused { 1 } else { 0 };
        for (i, s) in sent.iter().enumerate() {
            if let Sent::Accepted(id) = s {
                let label = label(sent.len(), i);
                code = code.max(follow(&http, &base, id, &label, limit).await?);
            }
        }
        Ok(ExitCode::from(code))
    })
}

fn base_url(url: &str) -> anyhow::Result<String> {
    let base = url.trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        bail!("--gateway {url}: expected an http:// or https:// URL");
    }
    Ok(base.to_string())
}

/// reqwest on rustls with ring, trusting certificates as --insecure, --pin-sha256 or --ca say.
fn client(args: &SendArgs) -> anyhow::Result<reqwest::Client> {
    let tls = client_config(&args.conn.verify()?)?;
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured((*tls).clone())
        .timeout(args.conn.timeout.unwrap_or(Duration::from_secs(60)))
        .build()?)
}

/// The `/send` body from the command line.
#[derive(Serialize)]
struct Outgoing {
    sender: String,
    recipients: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    subject: String,
    body: String,
    #[serde(skip_serializing_if = "Pairs::is_empty")]
    metadata: Pairs,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<OutAttachment>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    readack: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutAttachment {
    filename: String,
    content: String,
    content_type: String,
}

/// Metadata as a JSON object in the order given on the command line.
struct Pairs(Vec<(String, String)>);

impl Pairs {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Pairs {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

fn outgoing(args: &SendArgs) -> anyhow::Result<Outgoing> {
    let (sender, recipients, body) = envelope(args)?;
    let attachments = args
        .attach
        .iter()
        .map(|path| {
            let data =
                std::fs::read(path).with_context(|| format!("--attach {}", path.display()))?;
            let filename = path
                .file_name()
                .map_or_else(|| "attachment".into(), |n| n.to_string_lossy().into_owned());
            Ok(OutAttachment {
                content_type: content_type_for(&filename).to_string(),
                filename,
                content: base64::engine::general_purpose::STANDARD.encode(data),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Outgoing {
        sender,
        recipients,
        subject: args.subject.clone(),
        body,
        metadata: Pairs(args.metadata.clone()),
        attachments,
        readack: args.readack,
    })
}

/// One [`Sent`] per message, or an error for a request refused as a whole.
fn read_answer(path: &str, status: u16, answer: &Value) -> anyhow::Result<Vec<Sent>> {
    if path == "/batch" {
        if let Some(results) = answer["results"].as_array() {
            return Ok(results.iter().map(sent).collect());
        }
    } else if status == 202 {
        let id = answer["id"]
            .as_str()
            .context("the gateway's 202 names no id")?;
        return Ok(vec![Sent::Accepted(id.to_string())]);
    } else if (400..500).contains(&status) {
        return Ok(vec![Sent::Refused(refusal(status, answer))]);
    }
    bail!(
        "the gateway refused the request: {}",
        refusal(status, answer)
    )
}

fn sent(result: &Value) -> Sent {
    match result["id"].as_str() {
        Some(id) if result["status"] == 202 => Sent::Accepted(id.to_string()),
        _ => Sent::Refused(refusal(
            result["status"].as_u64().unwrap_or(0) as u16,
            result,
        )),
    }
}

/// `400 recipients[2]: "x" is not an address ...`
fn refusal(status: u16, answer: &Value) -> String {
    let error = answer["error"].as_str().unwrap_or("(no error text)");
    match answer["field"].as_str() {
        Some(field) => format!("{status} {field}: {error}"),
        None => format!("{status} {error}"),
    }
}

fn label(count: usize, i: usize) -> String {
    if count > 1 {
        format!("message {}: ", i + 1)
    } else {
        String::new()
    }
}

/// Prints what was accepted; true when anything was refused.
fn report(sent: &[Sent]) -> bool {
    let mut refused = false;
    for (i, s) in sent.iter().enumerate() {
        let label = label(sent.len(), i);
        match s {
            Sent::Accepted(id) => outln!("{label}accepted, id {id}"),
            Sent::Refused(why) => {
                refused = true;
                outln!("{label}refused: {why}");
            }
        }
    }
    refused
}

/// Polls the delivery until it settles; prints it; returns the exit code it deserves.
async fn follow(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    label: &str,
    limit: Duration,
) -> anyhow::Result<u8> {
    let start = Instant::now();
    let url = format!("{base}/deliveries/{id}");
    loop {
        let delivery: Value = http
            .get(&url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let status = delivery["status"].as_str().unwrap_or("unknown").to_string();
        let pending = matches!(status.as_str(), "queued" | "sending" | "deferred");
        if !pending || start.elapsed() >= limit {
            print_delivery(label, &status, &delivery);
            return Ok(match status.as_str() {
                "delivered" => 0,
                _ if pending => 3,
                _ => 1,
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn print_delivery(label: &str, status: &str, delivery: &Value) {
    let via = if delivery["vmtp"] == true {
        "VMTP"
    } else {
        "SMTP"
    };
    let ids: Vec<&str> = delivery["upstream_ids"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match status {
        "delivered" | "partial" => {
            outln!("{label}{status} via {via}, upstream id {}", ids.join(", "));
        }
        _ => outln!("{label}{status}"),
    }
    for r in delivery["recipients"].as_array().into_iter().flatten() {
        let reply = r["reply"]
            .as_str()
            .map(|t| format!(": {t}"))
            .unwrap_or_default();
        outln!(
            "  <{}> {}{reply}",
            r["address"].as_str().unwrap_or_default(),
            r["status"].as_str().unwrap_or_default()
        );
    }
    if let Some(error) = delivery["error"].as_str() {
        outln!("  last error: {error}");
    }
    for note in delivery["fallback"].as_array().into_iter().flatten() {
        eprintln!("warning: {}", note.as_str().unwrap_or_default());
    }
}

#[cfg(test)]
#[path = "gateway_tests.rs"]
mod tests;
