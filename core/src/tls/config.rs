//! TLS configurations built from PEM bytes: the server's certificate chain and key, checked to
//! match, and the client's trusted roots. Protocol versions are TLS 1.3 and 1.2 only, with
//! rustls's cipher suites (AEAD only, forward secrecy only) on the ring provider.
//!
//! The shells read the files; this module only parses and checks bytes, so a bad file is
//! reported the same way in both binaries, at start and on reload.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::ring;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::time_provider::TimeProvider;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// A server's TLS settings: its certificate chain and key, versions, suites, ALPN. Cheap to
/// clone (one shared value), so each new connection takes the one current at its accept, and a
/// reload swaps it for later connections without touching open ones.
#[derive(Clone)]
pub struct TlsServerConfig {
    pub(crate) inner: Arc<ServerConfig>,
}

/// A client's TLS settings: the roots it trusts, versions, suites, ALPN.
#[derive(Clone)]
pub struct TlsClientConfig {
    pub(crate) inner: Arc<ClientConfig>,
}

/// Where rustls reads the wall-clock time: the shell passes the system clock, tests a fixed one.
pub trait WallClock: Send + Sync {
    /// Time since the Unix epoch.
    fn since_unix_epoch(&self) -> Duration;
}

/// The application protocol a port announces in the handshake (RFC 7301).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    /// HTTP/1.1: the web app and the file server.
    Http11,
    /// Nothing announced: the chat, whose protocol has no registered name.
    None,
}

/// Why a certificate, key or set of roots cannot be used. The text never includes key bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsConfigError {
    /// The certificate PEM holds no `CERTIFICATE` block.
    NoCertificate,
    /// A `CERTIFICATE` block is not valid PEM or base64.
    BadCertificatePem(String),
    /// The certificate does not parse as X.509, or uses a key type not supported.
    BadCertificate(String),
    /// The key PEM holds no private key block (PKCS#8, PKCS#1 or SEC1).
    NoKey,
    /// The key block is not valid PEM, or not a key this server can sign with.
    BadKey(String),
    /// The key is not the certificate's.
    KeyMismatch,
    /// A client was asked to connect to a name that is no DNS name or IP address.
    BadServerName(String),
    /// rustls refused the settings for another reason.
    Other(String),
}

impl TlsServerConfig {
    /// The application protocol this config announces, if any.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.inner.alpn_protocols.first().map(Vec::as_slice)
    }
}

impl fmt::Debug for TlsServerConfig {
    // Never the key: a config may be printed in a log by mistake.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServerConfig").finish_non_exhaustive()
    }
}

impl fmt::Debug for TlsClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClientConfig").finish_non_exhaustive()
    }
}

impl fmt::Display for TlsConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsConfigError::NoCertificate => f.write_str("no certificate (no CERTIFICATE block)"),
            TlsConfigError::BadCertificatePem(why) => {
                write!(f, "the certificate PEM is bad: {why}")
            }
            TlsConfigError::BadCertificate(why) => write!(f, "the certificate is bad: {why}"),
            TlsConfigError::NoKey => f.write_str("no private key (no PRIVATE KEY block)"),
            TlsConfigError::BadKey(why) => write!(f, "the private key is bad: {why}"),
            TlsConfigError::KeyMismatch => {
                f.write_str("the private key does not belong to the certificate")
            }
            TlsConfigError::BadServerName(name) => {
                write!(f, "'{name}' is not a host name or IP address")
            }
            TlsConfigError::Other(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for TlsConfigError {}

/// A server config from a PEM certificate chain (leaf first, then intermediates) and a PEM
/// private key, checked to belong together.
pub fn server_config(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
    alpn: Alpn,
    clock: Arc<dyn WallClock>,
) -> Result<TlsServerConfig, TlsConfigError> {
    let chain = certificates(cert_chain_pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|error| match error {
        pem::Error::NoItemsFound => TlsConfigError::NoKey,
        other => TlsConfigError::BadKey(pem_error_text(&other)),
    })?;
    let builder = ServerConfig::builder_with_details(provider(), time_provider(clock))
        .with_protocol_versions(VERSIONS)
        .map_err(|e| TlsConfigError::Other(e.to_string()))?
        .with_no_client_auth();
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|error| match error {
            rustls::Error::InconsistentKeys(_) => TlsConfigError::KeyMismatch,
            rustls::Error::InvalidCertificate(why) => {
                TlsConfigError::BadCertificate(format!("{why:?}"))
            }
            // rustls's text names the key type it could not read, never the key itself.
            other => TlsConfigError::BadKey(other.to_string()),
        })?;
    config.alpn_protocols = alpn_protocols(alpn);
    // Our suite order is strongest first; a TLS 1.2 client's own order may not be.
    config.ignore_client_order = true;
    Ok(TlsServerConfig {
        inner: Arc::new(config),
    })
}

/// A client config trusting the certificates of `roots_pem` (a CA bundle, or a self-signed
/// server certificate), or Mozilla's roots when `None`.
pub fn client_config(
    roots_pem: Option<&[u8]>,
    alpn: Alpn,
    clock: Arc<dyn WallClock>,
) -> Result<TlsClientConfig, TlsConfigError> {
    let mut roots = RootCertStore::empty();
    match roots_pem {
        Some(pem) => {
            for certificate in certificates(pem)? {
                roots
                    .add(certificate)
                    .map_err(|e| TlsConfigError::BadCertificate(e.to_string()))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let mut config = ClientConfig::builder_with_details(provider(), time_provider(clock))
        .with_protocol_versions(VERSIONS)
        .map_err(|e| TlsConfigError::Other(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn_protocols(alpn);
    Ok(TlsClientConfig {
        inner: Arc::new(config),
    })
}

/// Every `CERTIFICATE` block of `pem`, at least one.
fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsConfigError::BadCertificatePem(pem_error_text(&error)))?;
    if chain.is_empty() {
        return Err(TlsConfigError::NoCertificate);
    }
    Ok(chain)
}

/// A PEM error as text; its variants carry no key material, only positions and kinds.
fn pem_error_text(error: &pem::Error) -> String {
    match error {
        pem::Error::MissingSectionEnd { .. } => "a block has no END line".to_string(),
        pem::Error::IllegalSectionStart { .. } => "a BEGIN line is malformed".to_string(),
        pem::Error::Base64Decode(_) => "a block is not valid base64".to_string(),
        pem::Error::NoItemsFound => "nothing found".to_string(),
        _ => "unreadable PEM".to_string(),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(ring::default_provider())
}

fn time_provider(clock: Arc<dyn WallClock>) -> Arc<dyn TimeProvider> {
    Arc::new(ClockTime(clock))
}

fn alpn_protocols(alpn: Alpn) -> Vec<Vec<u8>> {
    match alpn {
        Alpn::Http11 => vec![super::ALPN_HTTP11.as_bytes().to_vec()],
        Alpn::None => Vec::new(),
    }
}

/// A [`WallClock`] as rustls asks for one.
struct ClockTime(Arc<dyn WallClock>);

impl fmt::Debug for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClockTime")
    }
}

impl TimeProvider for ClockTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(self.0.since_unix_epoch()))
    }
}

/// TLS 1.3 and 1.2; SSLv3 to TLS 1.1 are broken or deprecated (RFC 8996).
const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
