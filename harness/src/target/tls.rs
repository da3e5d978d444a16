//! The harness's TLS client: rustls with the ring provider and a verifier that accepts any
//! certificate. A conformance tester checks the protocol, not the PKI; signatures over the
//! handshake are still verified, so a broken TLS stack is still noticed.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::TlsConnector;

use super::{BoxStream, TargetError};

#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn client_config() -> Result<Arc<ClientConfig>, TargetError> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider: Arc<CryptoProvider> = Arc::new(rustls::crypto::ring::default_provider());
            let verifier = Arc::new(AcceptAnyCertificate {
                algorithms: provider.signature_verification_algorithms,
            });
            ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|builder| {
                    Arc::new(
                        builder
                            .dangerous()
                            .with_custom_certificate_verifier(verifier)
                            .with_no_client_auth(),
                    )
                })
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(TargetError::Tls)
}

/// What the handshake agreed on, for the wire log.
#[derive(Clone, Debug)]
pub struct TlsInfo {
    pub version: String,
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
