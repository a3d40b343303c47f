//! What went wrong with a TLS peer: one variant per cause, each a one-line text. rustls's own
//! errors are mapped here, so no rustls type leaves the core.

use std::fmt;

/// Why a TLS session failed. Once failed, a session stays failed (STYLE §4): the alert rustls
/// queued, if any, is still handed out by `poll_transmit`, then the connection closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsError {
    /// The first bytes were no TLS record: plain text sent to a TLS port.
    NotTls,
    /// A record or handshake message that does not parse.
    Malformed,
    /// A record that does not decrypt: corrupted or forged.
    Decrypt,
    /// No version, cipher suite, key exchange or application protocol in common.
    Incompatible(String),
    /// The peer broke the protocol: a message out of order, a forbidden value.
    Misbehaved(String),
    /// The peer sent a fatal alert.
    AlertReceived(String),
    /// The peer's certificate does not verify (a client's check of its server).
    BadCertificate(String),
    /// The connection ended before the handshake did.
    HandshakeTruncated,
    /// The handshake did not finish by its deadline.
    HandshakeTimeout,
    /// Anything else rustls reports.
    Other(String),
}

impl TlsError {
    /// ferry's cause for an error rustls reported.
    pub(crate) fn from_rustls(error: rustls::Error) -> TlsError {
        use rustls::Error as E;
        match error {
            E::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
            | E::InvalidMessage(rustls::InvalidMessage::UnknownProtocolVersion) => TlsError::NotTls,
            E::InvalidMessage(_) | E::PeerSentOversizedRecord => TlsError::Malformed,
            E::DecryptError => TlsError::Decrypt,
            E::PeerIncompatible(why) => TlsError::Incompatible(format!("{why:?}")),
            E::NoApplicationProtocol => {
                TlsError::Incompatible("no application protocol in common".to_string())
            }
            E::PeerMisbehaved(why) => TlsError::Misbehaved(format!("{why:?}")),
            E::InappropriateMessage { got_type, .. } => {
                TlsError::Misbehaved(format!("unexpected {got_type:?} message"))
            }
            E::InappropriateHandshakeMessage { got_type, .. } => {
                TlsError::Misbehaved(format!("unexpected {got_type:?} handshake message"))
            }
            E::AlertReceived(alert) => TlsError::AlertReceived(format!("{alert:?}")),
            E::InvalidCertificate(why) => TlsError::BadCertificate(certificate_text(&why)),
            other => TlsError::Other(other.to_string()),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::NotTls => f.write_str("not TLS (plain text sent to a TLS port?)"),
            TlsError::Malformed => f.write_str("a malformed TLS record"),
            TlsError::Decrypt => f.write_str("a TLS record that does not decrypt"),
            TlsError::Incompatible(why) => write!(f, "nothing in common to speak TLS with: {why}"),
            TlsError::Misbehaved(why) => write!(f, "the TLS peer broke the protocol: {why}"),
            TlsError::AlertReceived(alert) => write!(f, "the TLS peer sent the alert {alert}"),
            TlsError::BadCertificate(why) => write!(f, "the certificate does not verify: {why}"),
            TlsError::HandshakeTruncated => {
                f.write_str("the connection ended in the TLS handshake")
            }
            TlsError::HandshakeTimeout => f.write_str("the TLS handshake did not finish in time"),
            TlsError::Other(why) => write!(f, "TLS: {why}"),
        }
    }
}

impl std::error::Error for TlsError {}

/// A certificate failure in words a user can act on.
fn certificate_text(error: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    match error {
        // A bad signature on a path that names a trusted issuer means another key signed it:
        // for the user the same thing as an unknown issuer.
        C::UnknownIssuer | C::BadSignature => {
            "it is not signed by a trusted authority (give its CA with --cacert)".to_string()
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "it is not valid for this host name".to_string()
        }
        C::Expired | C::ExpiredContext { .. } => "it has expired".to_string(),
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".to_string(),
        other => format!("{other:?}"),
    }
}
