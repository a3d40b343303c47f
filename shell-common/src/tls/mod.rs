//! TLS in the shells, written once for both: reading the certificate and key files into the
//! core's configs (at start and on SIGHUP), the clients' trusted roots, a blocking TLS stream
//! over the core's [`TlsSession`] for ferry-std and both clients, and `ferry cert`.
//!
//! Every TLS decision (versions, suites, deadlines, what a failure means) is the core's
//! ([`ferry_core::tls`]); this module reads files, keeps the current config and moves bytes.
//! Key bytes are read into memory and handed to the core; they are never printed.

mod cert;
mod stream;
#[cfg(test)]
mod tests;

use std::fs;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry_cli::{ClientTlsFlags, TlsFiles};
use ferry_core::tls::{self, Alpn, TlsClientConfig, TlsServerConfig, TlsSession, WallClock};

pub use cert::run_cert;
pub use stream::{Socket, TlsStream};

/// The system's wall clock, for rustls's certificate validity checks and ticket ages.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock;

impl WallClock for SystemClock {
    fn since_unix_epoch(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
    }
}

/// One TLS port's settings: the files it was started with and the config made from them,
/// swapped by [`ServerTls::reload`]. Clones share the config, so a reload on any thread is
/// seen by the next connection everywhere.
#[derive(Clone)]
pub struct ServerTls {
    shared: Arc<Shared>,
}

struct Shared {
    /// The server's name in messages ("web app").
    server: &'static str,
    files: TlsFiles,
    alpn: Alpn,
    handshake_timeout: Duration,
    current: Mutex<TlsServerConfig>,
}

impl ServerTls {
    /// Reads and checks the certificate and key of `server` (named in the one-line error).
    pub fn load(
        server: &'static str,
        files: &TlsFiles,
        alpn: Alpn,
        handshake_timeout: Duration,
    ) -> Result<ServerTls, String> {
        let config = read_server_config(server, files, alpn)?;
        Ok(ServerTls {
            shared: Arc::new(Shared {
                server,
                files: files.clone(),
                alpn,
                handshake_timeout,
                current: Mutex::new(config),
            }),
        })
    }

    /// The options' TLS port, if they ask for one.
    pub fn for_port(
        server: &'static str,
        files: Option<&TlsFiles>,
        alpn: Alpn,
        handshake_timeout: Duration,
    ) -> Result<Option<ServerTls>, String> {
        files
            .map(|files| ServerTls::load(server, files, alpn, handshake_timeout))
            .transpose()
    }

    /// A new connection's session, accepted at `now`, with the config current now.
    pub fn session(&self, now: std::time::Instant) -> io::Result<TlsSession> {
        TlsSession::server(&self.config(), now, self.shared.handshake_timeout)
            .map_err(|e| io::Error::other(e.to_string()))
    }

    /// The config new connections take.
    pub fn config(&self) -> TlsServerConfig {
        self.shared
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// How long a client has to finish its handshake.
    pub fn handshake_timeout(&self) -> Duration {
        self.shared.handshake_timeout
    }

    /// Reads the files again: new connections use the new pair, open ones keep theirs. A pair
    /// that cannot be used changes nothing. Returns the one line to print either way.
    pub fn reload(&self) -> Result<String, String> {
        let shared = &self.shared;
        match read_server_config(shared.server, &shared.files, shared.alpn) {
            Ok(config) => {
                *shared.current.lock().unwrap_or_else(|e| e.into_inner()) = config;
                Ok(format!(
                    "{}: reloaded the TLS certificate '{}' and key '{}'",
                    shared.server,
                    shared.files.cert.display(),
                    shared.files.key.display()
                ))
            }
            Err(error) => Err(format!("{error}; keeping the certificate in use")),
        }
    }
}

/// The client config the options ask for: `None` without TLS; the roots of `--cacert`, or
/// Mozilla's.
pub fn client_config(
    flags: &ClientTlsFlags,
    alpn: Alpn,
) -> Result<Option<TlsClientConfig>, String> {
    if !flags.enabled() {
        return Ok(None);
    }
    let pem = match &flags.cacert {
        Some(path) => Some(read_file("CA certificate", path)?),
        None => None,
    };
    tls::client_config(pem.as_deref(), alpn, Arc::new(SystemClock))
        .map(Some)
        .map_err(|error| match &flags.cacert {
            Some(path) => format!("CA certificate '{}': {error}", path.display()),
            None => error.to_string(),
        })
}

fn read_server_config(
    server: &str,
    files: &TlsFiles,
    alpn: Alpn,
) -> Result<TlsServerConfig, String> {
    let context = |what: &str| format!("{server}: TLS {what}");
    let cert = read_file(&context("certificate"), &files.cert)?;
    let key = read_file(&context("key"), &files.key)?;
    tls::server_config(&cert, &key, alpn, Arc::new(SystemClock)).map_err(|error| {
        format!(
            "{server}: TLS certificate '{}' and key '{}': {error}",
            files.cert.display(),
            files.key.display()
        )
    })
}

fn read_file(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|error| {
        let cause = match error.kind() {
            io::ErrorKind::NotFound => "no such file".to_string(),
            io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => error.to_string(),
        };
        format!("{what} '{}': cannot read it: {cause}", path.display())
    })
}
