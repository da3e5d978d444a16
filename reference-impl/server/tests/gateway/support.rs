//! Test support: the reference server and the gateway in this process on loopback ports, an
//! HTTP client, polling a delivery until it settles, and aiosmtpd through its script.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mtp_server::client::queue::RetryPolicy;
use mtp_server::client::tls::{Verify, client_config};
use mtp_server::gateway::{GatewayOptions, RunningGateway, Upstream};
use mtp_server::server::{RunningServer, ServerOptions};
use mtp_server::store::Store;
use serde_json::Value;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub server: Option<RunningServer>,
    pub gateway: RunningGateway,
    pub http: reqwest::Client,
    pub base: String,
}

/// The reference server (SMTP, local domain example.test) and a gateway delivering to it,
/// sharing its store.
pub async fn with_reference() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut options = ServerOptions::new(dir.path().join("store"));
    options.smtp = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    let server = RunningServer::start(options).await.unwrap();
    let upstream = format!("smtp://{}", server.smtp_addr().unwrap());
    let store = server.store().clone();
    let gateway = gateway(&upstream, store, None, |_| {}).await;
    fixture(dir, Some(server), gateway)
}

/// A gateway alone: its own store in a temporary directory, delivering to `upstream`.
pub async fn with_upstream(upstream: &str, adjust: impl FnOnce(&mut GatewayOptions)) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), Default::default()).unwrap();
    let spool = dir.path().join("spool");
    let gateway = gateway(upstream, store, Some(spool), adjust).await;
    fixture(dir, None, gateway)
}

pub async fn gateway(
    upstream: &str,
    store: Store,
    spool: Option<PathBuf>,
    adjust: impl FnOnce(&mut GatewayOptions),
) -> RunningGateway {
    let upstream = Upstream::parse(upstream, &Verify::Insecure).unwrap();
    let mut options = GatewayOptions::new(SocketAddr::from(([127, 0, 0, 1], 0)), upstream);
    options.timeouts = mtp_server::client::Timeouts::uniform(Duration::from_secs(10));
    options.retry = RetryPolicy {
        initial: Duration::from_millis(200),
        max_interval: Duration::from_millis(400),
        max_age: Duration::from_secs(60),
    };
    options.spool_dir = spool;
    adjust(&mut options);
    RunningGateway::start(options, store).await.unwrap()
}

fn fixture(
    dir: tempfile::TempDir,
    server: Option<RunningServer>,
    gateway: RunningGateway,
) -> Fixture {
    let base = format!("http://{}", gateway.addr());
    Fixture {
        dir,
        server,
        gateway,
        http: http_client(),
        base,
    }
}

/// reqwest on rustls with the ring provider (the workspace builds no other).
pub fn http_client() -> reqwest::Client {
    let tls = client_config(&Verify::Insecure).unwrap();
    reqwest::Client::builder()
        .tls_backend_preconfigured((*tls).clone())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

impl Fixture {
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        read(response).await
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        read(response).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        read(response).await
    }

    /// Polls `GET /deliveries/{id}` until it is no longer queued, sending or deferred.
    pub async fn settled(&self, id: &str) -> Value {
        for _ in 0..200 {
            let (status, body) = self.get(&format!("/deliveries/{id}")).await;
            assert_eq!(status, 200, "{body}");
            if !matches!(
                body["status"].as_str(),
                Some("queued" | "sending" | "deferred")
            ) {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("delivery {id} did not settle");
    }

    pub fn smtp_addr(&self) -> SocketAddr {
        self.server
            .as_ref()
            .and_then(RunningServer::smtp_addr)
            .unwrap()
    }
}

async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, body)
}

/// aiosmtpd from harness/targets, stopped (by its PID file) when dropped.
pub struct Aiosmtpd {
    state: PathBuf,
    pub port: u16,
}

impl Aiosmtpd {
    /// Starts aiosmtpd on a free port (the test is ignored when it is not installed).
    pub fn start(dir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let state = dir.join("aiosmtpd");
        let ok = Command::new("bash")
            .arg(script())
            .args(["start", &port.to_string()])
            .arg(&state)
            .status()
            .unwrap()
            .success();
        assert!(ok, "aiosmtpd started");
        Self { state, port }
    }

    pub fn mailbox(&self) -> Vec<Value> {
        let out = Command::new("bash")
            .arg(script())
            .arg("mailbox")
            .arg(&self.state)
            .output()
            .unwrap();
        let value: Value = serde_json::from_slice(&out.stdout).expect("mailbox JSON");
        value.as_array().expect("an array").clone()
    }
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.state)
            .status();
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../harness/targets/aiosmtpd.sh")
}

pub fn b64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

pub fn unb64(text: &Value) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.as_str().unwrap())
        .unwrap()
}
