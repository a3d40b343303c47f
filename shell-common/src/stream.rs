//! A connection that is plain TCP or TLS over TCP, so the blocking connection code of
//! ferry-std and both clients is written once for either.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use ferry_core::tls::{TlsClientConfig, TlsSession, DEFAULT_HANDSHAKE_TIMEOUT};

use crate::tls::{ServerTls, TlsStream};

/// One blocking connection, plain or TLS.
pub enum Stream {
    Plain(TcpStream),
    Tls(TlsStream<TcpStream>),
}

impl Stream {
    /// The server side of an accepted connection: as it is, or after a TLS handshake bounded
    /// by the port's handshake timeout.
    pub fn accept(tcp: TcpStream, tls: Option<&ServerTls>) -> io::Result<Stream> {
        match tls {
            None => Ok(Stream::Plain(tcp)),
            Some(tls) => {
                let session = tls.session(Instant::now())?;
                TlsStream::handshake(tcp, session).map(Stream::Tls)
            }
        }
    }

    /// The client side of a connection to `host`: as it is, or after a TLS handshake whose
    /// server certificate must verify for `host`.
    pub fn connect(
        tcp: TcpStream,
        host: &str,
        tls: Option<&TlsClientConfig>,
    ) -> io::Result<Stream> {
        match tls {
            None => Ok(Stream::Plain(tcp)),
            Some(config) => {
                let session =
                    TlsSession::client(config, host, Instant::now(), DEFAULT_HANDSHAKE_TIMEOUT)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
                TlsStream::handshake(tcp, session).map(Stream::Tls)
            }
        }
    }

    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.get_ref(),
        }
    }

    /// Whether a read would return at once without touching the socket: plaintext a TLS
    /// session decrypted already and nobody has read.
    pub fn has_buffered_input(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(tls) => tls.has_buffered_input(),
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(timeout)
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_write_timeout(timeout)
    }

    /// Shuts a side; over TLS, shutting the sending side sends `close_notify` first.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.shutdown(how),
            Stream::Tls(tls) => tls.shutdown(how),
        }
    }

    /// Another handle on the same connection, for another thread.
    pub fn try_clone(&self) -> io::Result<Stream> {
        match self {
            Stream::Plain(tcp) => tcp.try_clone().map(Stream::Plain),
            Stream::Tls(tls) => tls.try_clone().map(Stream::Tls),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buf),
            Stream::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write(buf),
            Stream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.flush(),
            Stream::Tls(tls) => tls.flush(),
        }
    }
}
