//! `http://host:port`: an HTTP gateway on the network (the reference's `mtpspec serve --http`,
//! or another implementation of the seed's Worker API). Only `protocol: http` cases run on
//! it; their requests go to [`Target::http_base`] through a real HTTP client.

use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use super::{BoxFuture, Connected, Listener, Target, TargetError, server_name};

/// An HTTP server (plain HTTP/1.1 over TCP).
pub struct HttpTarget {
    host: String,
    port: u16,
}

impl HttpTarget {
    /// The gateway at `host:port` (its base URL `http://host:port`).
    pub fn new(host: &str, port: u16) -> Self {
        Self {
            host: host.to_string(),
            port,
        }
    }

    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl Target for HttpTarget {
    fn name(&self) -> String {
        format!("http://{}", self.authority())
    }

    /// A raw TCP connection to the HTTP listener (the cases use [`Target::http_base`]).
    fn connect(&self) -> BoxFuture<'_, Result<Connected, TargetError>> {
        Box::pin(async move {
            let stream = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|error| TargetError::Connect {
                    target: self.name(),
                    error,
                })?;
            super::tcp::finish_connect(stream, false, self.tls_server_name()).await
        })
    }

    fn listeners(&self) -> Vec<Listener> {
        vec![Listener::Http]
    }

    fn connect_to(&self, listener: Listener) -> BoxFuture<'_, Result<Connected, TargetError>> {
        if listener == Listener::Http {
            self.connect()
        } else {
            Box::pin(async move { Err(TargetError::NoListener(listener)) })
        }
    }

    fn http_base(&self) -> Option<String> {
        Some(self.name())
    }

    fn tls_server_name(&self) -> ServerName<'static> {
        server_name(&self.host)
    }
}

/// The embedded reference's gateway: on an ephemeral loopback port, delivering to the
/// reference's SMTP listener `smtp` (so VMTP is used) and reading its `store`; retries are
/// quick, so that a case's delivery settles within its deadline.
pub(crate) async fn embedded_gateway(
    smtp: std::net::SocketAddr,
    store: mtp_server::store::Store,
) -> Result<mtp_server::gateway::RunningGateway, TargetError> {
    use mtp_server::client::queue::RetryPolicy;
    use mtp_server::client::tls::Verify;
    use mtp_server::gateway::{GatewayOptions, RunningGateway, Upstream};
    use std::time::Duration;

    let embedded = |e: String| TargetError::Embedded(format!("HTTP gateway: {e}"));
    let upstream = Upstream::parse(&format!("smtp://{smtp}"), &Verify::Insecure)
        .map_err(|e| embedded(e.to_string()))?;
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let mut options = GatewayOptions::new(listen, upstream);
    options.timeouts = mtp_server::client::Timeouts::uniform(Duration::from_secs(10));
    options.retry = RetryPolicy {
        initial: Duration::from_millis(200),
        max_interval: Duration::from_millis(400),
        max_age: Duration::from_secs(60),
    };
    RunningGateway::start(options, store)
        .await
        .map_err(|e| embedded(e.to_string()))
}
