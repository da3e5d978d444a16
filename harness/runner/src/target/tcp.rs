//! `smtp://host:port`, `smtps://host:port`, `mmtp://host:port` and `mmtps://host:port`: a
//! server on the network.

use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use super::{BoxFuture, Connected, Listener, Target, TargetError, server_name, tls};

/// A TCP server, optionally with implicit TLS (RFC 8314 for SMTP, seed §3.1 for MMTP).
pub struct TcpTarget {
    host: String,
    port: u16,
    implicit_tls: bool,
    /// What it speaks: SMTP (cases on the `smtp` listener) or MMTP (`mmtp`, and `mmtps`
    /// when it is the TLS port).
    mmtp: bool,
}

impl TcpTarget {
    /// An SMTP server; with `implicit_tls` the `smtp` cases run inside TLS.
    pub fn new(host: &str, port: u16, implicit_tls: bool) -> Self {
        Self {
            host: host.to_string(),
            port,
            implicit_tls,
            mmtp: false,
        }
    }

    /// An MMTP server; with `implicit_tls` the `mmtp` and `mmtps` cases run inside TLS.
    pub fn mmtp(host: &str, port: u16, implicit_tls: bool) -> Self {
        Self {
            mmtp: true,
            ..Self::new(host, port, implicit_tls)
        }
    }
}

impl Target for TcpTarget {
    fn name(&self) -> String {
        let scheme = match (self.mmtp, self.implicit_tls) {
            (false, false) => "smtp",
            (false, true) => "smtps",
            (true, false) => "mmtp",
            (true, true) => "mmtps",
        };
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

    fn listeners(&self) -> Vec<Listener> {
        match (self.mmtp, self.implicit_tls) {
            (false, _) => vec![Listener::Smtp],
            (true, false) => vec![Listener::Mmtp],
            (true, true) => vec![Listener::Mmtp, Listener::Mmtps],
        }
    }

    fn connect_to(&self, listener: Listener) -> BoxFuture<'_, Result<Connected, TargetError>> {
        if self.listeners().contains(&listener) {
            self.connect()
        } else {
            Box::pin(async move { Err(TargetError::NoListener(listener)) })
        }
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
