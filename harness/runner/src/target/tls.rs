//! The harness's TLS client: the reference client's configuration that accepts any
//! certificate (`mtp_server::client::tls`, rustls with the ring provider). A conformance
//! tester checks the protocol, not the PKI; signatures over the handshake are still verified,
//! so a broken TLS stack is still noticed.

use std::sync::{Arc, OnceLock};

use mtp_server::client::tls::{self, Verify};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio_rustls::TlsConnector;

use super::{BoxStream, TargetError};

/// The reference client's "insecure" configuration (any certificate; handshake signatures
/// still checked), built once.
fn client_config() -> Result<Arc<ClientConfig>, TargetError> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| tls::client_config(&Verify::Insecure).map_err(|e| e.to_string()))
        .clone()
        .map_err(TargetError::Tls)
}

/// What the handshake agreed on, for the wire log.
#[derive(Clone, Debug)]
pub struct TlsInfo {
    /// The protocol version (`TLSv1_3`), `?` when unknown.
    pub version: String,
    /// The cipher suite (`TLS13_AES_256_GCM_SHA384`), `?` when unknown.
    pub cipher: String,
}

/// Runs a client handshake over `stream`.
pub async fn connect(
    stream: BoxStream,
    name: ServerName<'static>,
) -> Result<(BoxStream, TlsInfo), TargetError> {
    let connector = TlsConnector::from(client_config()?);
    let tls = connector
        .connect(name, stream)
        .await
        .map_err(|e| TargetError::Tls(explain_handshake_error(&e)))?;
    let (_, session) = tls.get_ref();
    let info = TlsInfo {
        version: session
            .protocol_version()
            .map_or("?".into(), |v| format!("{v:?}")),
        cipher: session
            .negotiated_cipher_suite()
            .map_or("?".into(), |c| format!("{:?}", c.suite())),
    };
    Ok((Box::new(tls), info))
}

/// The handshake error, and what to do when the port does not speak TLS at all: rustls then
/// sees a plain-text greeting where a TLS record should be.
fn explain_handshake_error(error: &std::io::Error) -> String {
    let text = error.to_string();
    if text.contains("InvalidContentType") || text.contains("corrupt message") {
        format!(
            "this port did not answer TLS ({text}); a plain port takes smtp:// or mmtp:// \
             (STARTTLS is tried there)"
        )
    } else {
        text
    }
}
