//! TLS material for the reference server: certificates from PEM files or a generated
//! self-signed one, and the rustls server configuration (ring provider only: aws-lc and ring
//! together panic at start, see DESIGN).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Where the server certificate comes from.
#[derive(Clone, Debug, Default)]
pub enum TlsSource {
    /// Generate a self-signed certificate for the server's hostname at start.
    #[default]
    SelfSigned,
    /// A certificate and key from PEM files (`mtpspec serve --tls-cert`, `--tls-key`).
    Files {
        /// The certificate chain, leaf first.
        cert: PathBuf,
        /// The private key (PKCS#8, PKCS#1 or SEC1).
        key: PathBuf,
    },
    /// No TLS: STARTTLS and ENCRYPT answer 454, no implicit TLS listener.
    Disabled,
}

/// Why the server's TLS configuration could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file could not be read or parsed.
    Pem {
        /// The file.
        path: PathBuf,
        /// What went wrong, from the PEM parser.
        reason: String,
    },
    /// The certificate file holds no certificate.
    NoCertificate(PathBuf),
    /// The self-signed certificate could not be generated.
    Generate(String),
    /// rustls refused the certificate and key (say, a key that does not match).
    Config(rustls::Error),
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pem { path, reason } => {
                write!(f, "cannot read PEM file {}: {reason}", path.display())
            }
            Self::NoCertificate(path) => write!(f, "no certificate in {}", path.display()),
            Self::Generate(reason) => {
                write!(f, "cannot generate a self-signed certificate: {reason}")
            }
            Self::Config(e) => write!(f, "invalid TLS configuration: {e}"),
        }
    }
}

impl std::error::Error for TlsError {}

/// The ring crypto provider, the only one this workspace builds.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the rustls server configuration, or `None` when TLS is disabled.
pub fn server_config(
    source: &TlsSource,
    hostname: &str,
) -> Result<Option<Arc<ServerConfig>>, TlsError> {
    let (chain, key) = match source {
        TlsSource::Disabled => return Ok(None),
        TlsSource::SelfSigned => self_signed(hostname)?,
        TlsSource::Files { cert, key } => (read_chain(cert)?, read_key(key)?),
    };
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Config)?;
    Ok(Some(Arc::new(config)))
}

fn self_signed(
    hostname: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let names = vec![hostname.to_string(), "localhost".to_string()];
    let certified =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    Ok((vec![certified.cert.der().clone()], key))
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_error = |e: rustls_pki_types::pem::Error| TlsError::Pem {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(pem_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(path.to_path_buf()));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Pem {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}
