//! TLS client configurations for the driver: CA roots (given or the system's), "insecure"
//! (any certificate), and DESIGN's "pinned public-key fingerprint" (the SHA-256 of the
//! server certificate's SubjectPublicKeyInfo). rustls with the ring provider only.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

/// Where Debian (and most distributions) keep the system's CA bundle.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// How the client decides to trust a server certificate.
#[derive(Clone, Debug)]
pub enum Verify {
    /// Chain to one of these roots and match the server name (the usual WebPKI check).
    Roots(Arc<RootCertStore>),
    /// Accept any certificate (test servers with self-signed certificates).
    Insecure,
    /// Accept only a leaf whose SubjectPublicKeyInfo has this SHA-256.
    PinSha256([u8; 32]),
}

/// Why a TLS configuration could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// The CA file could not be read.
    Io(std::io::Error),
    /// The CA file is not valid PEM, or holds no certificate.
    Pem(String),
    /// rustls refused a CA certificate or the configuration.
    Rustls(rustls::Error),
    /// A `--pin-sha256` value that is not 64 hex digits (colons allowed); the value as given.
    BadPin(String),
}

impl fmt::Display for TlsSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "cannot read certificates: {e}"),
            Self::Pem(e) => write!(f, "bad PEM certificate file: {e}"),
            Self::Rustls(e) => write!(f, "TLS setup failed: {e}"),
            Self::BadPin(p) => write!(f, "a SHA-256 pin is 64 hex digits, got {p:?}"),
        }
    }
}

impl std::error::Error for TlsSetupError {}

/// The ring crypto provider, the only one the client and server use.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate of a PEM file into a root store.
pub fn load_roots(path: &Path) -> Result<RootCertStore, TlsSetupError> {
    let bytes = std::fs::read(path).map_err(TlsSetupError::Io)?;
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert = cert.map_err(|e| TlsSetupError::Pem(e.to_string()))?;
        store.add(cert).map_err(TlsSetupError::Rustls)?;
    }
    if store.is_empty() {
        return Err(TlsSetupError::Pem(format!(
            "no certificate in {}",
            path.display()
        )));
    }
    Ok(store)
}

/// The system's CA bundle, or an empty store when there is none.
pub fn system_roots() -> RootCertStore {
    load_roots(Path::new(SYSTEM_CA_BUNDLE)).unwrap_or_else(|_| RootCertStore::empty())
}

/// A client configuration for `verify`.
pub fn client_config(verify: &Verify) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsSetupError::Rustls)?;
    let config = match verify {
        Verify::Roots(roots) => builder.with_root_certificates(roots.clone()),
        Verify::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert {
                provider,
                pin: None,
            })),
        Verify::PinSha256(pin) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert {
                provider,
                pin: Some(*pin),
            })),
    };
    Ok(Arc::new(config.with_no_client_auth()))
}

/// SHA-256 of the certificate's DER SubjectPublicKeyInfo.
pub fn spki_sha256(cert: &CertificateDer<'_>) -> Result<[u8; 32], rustls::Error> {
    let parsed = rustls::server::ParsedCertificate::try_from(cert)?;
    Ok(Sha256::digest(parsed.subject_public_key_info().as_ref()).into())
}

/// Parses a SHA-256 pin for [`Verify::PinSha256`]: 64 hex digits of either case, colons between
/// them ignored.
pub fn parse_pin(hex: &str) -> Result<[u8; 32], TlsSetupError> {
    let clean: String = hex.chars().filter(|c| *c != ':').collect();
    let bad = || TlsSetupError::BadPin(hex.to_string());
    if clean.len() != 64 || !clean.is_ascii() {
        return Err(bad());
    }
    let mut pin = [0u8; 32];
    for (i, byte) in pin.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&clean[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(pin)
}

/// Lower-case hex, two digits per byte, no separators (how pins are printed).
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Accepts any certificate, or only the pinned key; handshake signatures are still checked,
/// so the server must hold the private key of the certificate it shows.
#[derive(Debug)]
struct AnyCert {
    provider: Arc<CryptoProvider>,
    pin: Option<[u8; 32]>,
}

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(pin) = self.pin {
            let got = spki_sha256(end_entity)?;
            if got != pin {
                return Err(rustls::Error::General(format!(
                    "server public key SHA-256 {} does not match the pinned {}",
                    to_hex(&got),
                    to_hex(&pin)
                )));
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_with_or_without_colons() {
        let hex = "00".repeat(31) + "ff";
        assert_eq!(parse_pin(&hex).unwrap()[31], 0xff);
        let colons: Vec<String> = (0..32).map(|_| "ab".to_string()).collect();
        assert_eq!(parse_pin(&colons.join(":")).unwrap(), [0xab; 32]);
        assert!(parse_pin("abc").is_err());
        assert_eq!(to_hex(&[0, 0xfe]), "00fe");
    }
}
