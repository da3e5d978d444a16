//! Where the robustness cases and the fuzzer's service oracle connect: the target's SMTP
//! listener as a socket address (the attacks need raw sockets: a small receive buffer, another
//! loopback source address), its implicit-TLS listener, and the PID of a local target whose
//! memory can be read. Also opening a target together with its endpoint.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::net::{TcpSocket, TcpStream};

use crate::target::{BoxStream, EmbeddedTarget, Target, TargetError, TargetSpec};

/// An SMTP server reachable over TCP.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The listener the attacks and the fresh client use.
    pub addr: SocketAddr,
    /// `addr` speaks TLS from the first octet (an `smtps://` target).
    pub implicit_tls: bool,
    /// The implicit-TLS listener, if the target has one (for the stalled handshake).
    pub tls_addr: Option<SocketAddr>,
    /// The name sent in TLS handshakes (SNI): the target's host, or `localhost` when that is
    /// not a valid name; certificates are not checked.
    pub server_name: ServerName<'static>,
}

/// A local target's process, for its memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetProcess {
    /// Its PID (`--target-pid`, or the harness's own); its children count too.
    pub pid: u32,
    /// The harness's own process (the embedded reference).
    pub in_process: bool,
}

impl Endpoint {
    /// `host:port` resolved to its first address.
    pub async fn resolve(
        host: &str,
        port: u16,
        implicit_tls: bool,
        tls_addr: Option<&str>,
    ) -> Result<Endpoint, String> {
        let addr = first_address(&format!("{}:{port}", bracket(host))).await?;
        let tls_addr = match tls_addr {
            Some(text) => Some(first_address(text).await?),
            None if implicit_tls => Some(addr),
            None => None,
        };
        Ok(Endpoint {
            addr,
            implicit_tls,
            tls_addr,
            server_name: ServerName::try_from(host.to_string())
                .unwrap_or_else(|_| ServerName::try_from("localhost").expect("a DNS name")),
        })
    }

    /// The embedded reference's SMTP and implicit-TLS listeners.
    pub fn of_embedded(target: &EmbeddedTarget) -> Endpoint {
        Endpoint {
            addr: target.smtp_addr(),
            implicit_tls: false,
            tls_addr: target.smtps_addr(),
            server_name: target.tls_server_name(),
        }
    }

    /// A TCP connection to `addr` from `source` (any port), with a receive buffer of
    /// `recv_buffer` octets when given, within `timeout`.
    pub async fn tcp(
        addr: SocketAddr,
        source: Option<IpAddr>,
        recv_buffer: Option<u32>,
        timeout: Duration,
    ) -> std::io::Result<TcpStream> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size)?;
        }
        if let Some(ip) = source {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        let stream = tokio::time::timeout(timeout, socket.connect(addr))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// A session stream on the main listener: TCP, and the TLS handshake when it is
    /// implicit TLS.
    pub async fn open(
        &self,
        source: Option<IpAddr>,
        recv_buffer: Option<u32>,
        timeout: Duration,
    ) -> Result<BoxStream, String> {
        let tcp = Self::tcp(self.addr, source, recv_buffer, timeout)
            .await
            .map_err(|e| format!("connect to {}: {e}", self.addr))?;
        if !self.implicit_tls {
            return Ok(Box::new(tcp));
        }
        let handshake = crate::target::tls::connect(Box::new(tcp), self.server_name.clone());
        match tokio::time::timeout(timeout, handshake).await {
            Ok(Ok((stream, _))) => Ok(stream),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "TLS handshake not done within {:.1} s",
                timeout.as_secs_f64()
            )),
        }
    }
}

/// Another loopback address than the target's, so that a per-address limit (legitimate)
/// does not count the fresh client with the attackers: 127.0.0.2 for a target on 127.0.0.1.
/// `None` for a target off loopback or on `::1` (the only IPv6 loopback address).
pub fn other_loopback(target: IpAddr) -> Option<IpAddr> {
    match target {
        IpAddr::V4(v4) if v4.is_loopback() => {
            let pick = if v4 == Ipv4Addr::new(127, 0, 0, 2) {
                Ipv4Addr::new(127, 0, 0, 3)
            } else {
                Ipv4Addr::new(127, 0, 0, 2)
            };
            Some(IpAddr::V4(pick))
        }
        _ => None,
    }
}

async fn first_address(text: &str) -> Result<SocketAddr, String> {
    tokio::net::lookup_host(text)
        .await
        .map_err(|e| format!("{text}: {e}"))?
        .next()
        .ok_or_else(|| format!("{text}: no address"))
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// A target opened for `run` or `fuzz`, with what the robustness cases and the fuzzer's
/// service oracle need to reach it raw.
pub struct Opened {
    /// The target, as [`crate::target::open`] opens it (the embedded reference started).
    pub target: Arc<dyn Target>,
    /// Why the target has no such endpoint (an `exec:` target, an MMTP or HTTP one).
    pub endpoint: Result<Endpoint, String>,
    /// The embedded reference's process (the harness itself); others come from `--target-pid`.
    pub process: Option<TargetProcess>,
}

/// Opens (or starts) the target of `spec`; `tls_listener` is the `--smtps HOST:PORT` of a
/// plain SMTP target.
pub async fn open(spec: &TargetSpec, tls_listener: Option<&str>) -> Result<Opened, TargetError> {
    if *spec == TargetSpec::Embedded {
        let embedded = EmbeddedTarget::start().await?;
        return Ok(Opened {
            endpoint: Ok(Endpoint::of_embedded(&embedded)),
            process: Some(TargetProcess {
                pid: std::process::id(),
                in_process: true,
            }),
            target: Arc::new(embedded),
        });
    }
    let target = crate::target::open(spec).await?;
    let endpoint = endpoint_of(spec, tls_listener).await;
    Ok(Opened {
        target,
        endpoint,
        process: None,
    })
}

/// The SMTP endpoint of a network target, or why it has none.
async fn endpoint_of(spec: &TargetSpec, tls_listener: Option<&str>) -> Result<Endpoint, String> {
    match spec {
        TargetSpec::Smtp { host, port } => {
            Endpoint::resolve(host, *port, false, tls_listener).await
        }
        TargetSpec::Smtps { host, port } => Endpoint::resolve(host, *port, true, None).await,
        TargetSpec::Exec(_) => Err("an exec: target has no network listener: each session is \
             its own process, with nothing shared to exhaust"
            .into()),
        TargetSpec::Mmtp { .. } | TargetSpec::Mmtps { .. } => {
            Err("the target speaks MMTP only; these cases attack an SMTP listener".into())
        }
        TargetSpec::Http { .. } => {
            Err("the target is an HTTP gateway only; these cases attack an SMTP listener".into())
        }
        TargetSpec::Embedded => Err("the embedded reference is opened with its endpoint".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_another_loopback_address() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(other_loopback(ip("127.0.0.1")), Some(ip("127.0.0.2")));
        assert_eq!(other_loopback(ip("127.0.0.2")), Some(ip("127.0.0.3")));
        assert_eq!(other_loopback(ip("::1")), None);
        assert_eq!(other_loopback(ip("192.0.2.1")), None);
    }
}
