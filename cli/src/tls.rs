//! TLS on the command line: the servers' `--tls-cert`/`--tls-key` (the same on `serve`, `http`,
//! `files` and `chat`), the clients' `--tls`/`--cacert`, and `ferry cert`, which makes a
//! self-signed certificate for trying it out.

use std::path::PathBuf;

use clap::Args;

use crate::values;

/// A server's TLS flags. Given together, the port speaks only TLS.
#[derive(Args, Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsFlags {
    /// Speak only TLS, with this PEM certificate (the server's own first, then any
    /// intermediates) and --tls-key; without it the port speaks plain text. SIGHUP reloads both
    /// files.
    #[arg(long, env = "FERRY_TLS_CERT", value_name = "FILE", value_parser = values::path,
          requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert; without it, no TLS.
    #[arg(long, env = "FERRY_TLS_KEY", value_name = "FILE", value_parser = values::path,
          requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// The certificate and key files a TLS port serves with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The PEM certificate chain.
    pub cert: PathBuf,
    /// The PEM private key.
    pub key: PathBuf,
}

impl TlsFlags {
    /// The files, when TLS was asked for (clap makes sure both are given, or neither).
    pub fn files(&self) -> Option<TlsFiles> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }
}

/// A client's TLS flags.
#[derive(Args, Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientTlsFlags {
    /// Speak TLS to the server, whose certificate must verify (against Mozilla's roots, or
    /// --cacert); never falls back to plain text. A value after '=', and the variable, may say
    /// on or off.
    #[arg(long, env = "FERRY_TLS", value_name = "on|off",
          default_value = values::switch_text(false), num_args = 0..=1, require_equals = true,
          default_missing_value = values::switch_text(true), value_parser = values::switch)]
    pub tls: bool,
    /// Trust the certificates in this PEM file (a CA, or the server's self-signed certificate)
    /// instead of Mozilla's roots; implies --tls.
    #[arg(long, env = "FERRY_CACERT", value_name = "FILE", value_parser = values::path)]
    pub cacert: Option<PathBuf>,
}

impl ClientTlsFlags {
    /// Whether to speak TLS.
    pub fn enabled(&self) -> bool {
        self.tls || self.cacert.is_some()
    }
}

/// Settings of `ferry cert`.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct CertOptions {
    /// The folder to write cert.pem and key.pem into (created if missing; existing files there
    /// are not replaced).
    #[arg(long, env = "FERRY_OUT", value_name = "DIR", default_value = ".",
          value_parser = values::path)]
    pub out: PathBuf,
    /// A host name or IP address the certificate is valid for; repeat for more; without it
    /// the certificate is for this machine.
    #[arg(long = "name", env = "FERRY_NAME", value_name = "HOST", value_delimiter = ',',
          default_values = DEFAULT_NAMES, value_parser = values::host)]
    pub names: Vec<String>,
}

/// The names a certificate made by `ferry cert` is for unless told: this machine.
const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
