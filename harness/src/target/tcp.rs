//! `smtp://host:port` and `smtps://host:port`: a server on the network.

use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use super::{BoxFuture, Connected, Target, TargetError, server_name, tls};

/// A TCP server, optionally with implicit TLS (RFC 8314).
pub struct TcpTarget {
    host: String,
    port: u16,
    implicit_tls: bool,
}

impl TcpTarget {
    pub fn new(host: &str, port: u16, implicit_tls: bool) -> Self {
        Self {
            host: host.to_string(),
            port,
            implicit_tls,
        }
    }
}

impl Target for TcpTarget {
    fn name(&self) -> String {
        let scheme = if self.implicit_tls { "smtps" } else { "smtp" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}", self.port)
    }

    fn connect(&self) -> BoxFuture<'_, Result<Connected, TargetError>> {
        Box::pin(async move {
            let stream = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|error| TargetError::Connect {
                    target: self.name(),
                    error,
                })?;
            finish_connect(stream, self.implicit_tls, self.tls_server_name()).await
        })
    }

    fn tls_server_name(&self) -> ServerName<'static> {
        server_name(&self.host)
    }
}

/// Sets up a fresh TCP connection: no Nagle delay (small writes in byte-by-byte steps must
/// leave as they are written), then the TLS handshake when the listener speaks implicit TLS.
pub(super) async fn finish_connect(
    stream: TcpStream,
    implicit_tls: bool,
    server_name: ServerName<'static>,
) -> Result<Connected, TargetError> {
    let _ = stream.set_nodelay(true);
    if !implicit_tls {
        return Ok(Connected {
            stream: Box::new(stream),
            tls: false,
            guard: None,
        });
    }
    let (stream, _) = tls::connect(Box::new(stream), server_name).await?;
    Ok(Connected {
        stream,
        tls: true,
        guard: None,
    })
}
