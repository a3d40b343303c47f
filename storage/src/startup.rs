//! The steps every shell takes before serving: loading the static site, opening the store named
//! on the command line, resolving and binding the listening sockets. Each fails with one line
//! that names the cause, so both binaries report the same errors the same way.

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs, UdpSocket};
use std::path::Path;

use ferry_core::cli::{FsyncMode, SocketOptions, StoreLocation};
use ferry_core::site::Site;

use crate::{read_static_folder, FileStore, FsyncPolicy, StoreOptions};

/// Reads the static folder and checks it holds the pages the web app needs.
pub fn load_site(folder: &Path) -> Result<Site, String> {
    let files = read_static_folder(folder).map_err(|error| error.to_string())?;
    Site::new(files).map_err(|error| format!("static folder '{}': {error}", folder.display()))
}

/// Opens the store the socket server's options name. Returns the store and, when the file's
/// tail had to be repaired after a crash, a one-line note saying what was done.
pub fn open_store(options: &SocketOptions) -> Result<(FileStore, Option<String>), String> {
    let path = match &options.store {
        StoreLocation::File(path) => path,
        StoreLocation::MongoDb(url) => {
            return Err(format!(
                "cannot use store '{url}': MongoDB is not available in this version"
            ))
        }
    };
    let options = StoreOptions {
        fsync: options.fsync.into(),
    };
    FileStore::open(path, options).map_err(|error| error.to_string())
}

/// Resolves `HOST:PORT` to its first address.
pub fn resolve(address: &str) -> Result<SocketAddr, String> {
    address
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve '{address}': {error}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve '{address}': no address found"))
}

/// Binds the TCP listener of `server` (named in the error) at `address`.
pub fn bind_tcp(server: &str, address: &str) -> Result<TcpListener, String> {
    TcpListener::bind(resolve(address)?).map_err(|error| bind_error(server, address, &error))
}

/// Binds the UDP socket of `server` (named in the error) at `address`.
pub fn bind_udp(server: &str, address: &str) -> Result<UdpSocket, String> {
    UdpSocket::bind(resolve(address)?).map_err(|error| bind_error(server, address, &error))
}

fn bind_error(server: &str, address: &str, error: &io::Error) -> String {
    let cause = match error.kind() {
        io::ErrorKind::AddrInUse => "address already in use".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        io::ErrorKind::AddrNotAvailable => "no such address on this machine".to_string(),
        _ => error.to_string(),
    };
    format!("{server} cannot listen on {address}: {cause}")
}

impl From<FsyncMode> for FsyncPolicy {
    fn from(mode: FsyncMode) -> Self {
        match mode {
            FsyncMode::Always => FsyncPolicy::Always,
            FsyncMode::Batch => FsyncPolicy::Batch,
            FsyncMode::Never => FsyncPolicy::Never,
        }
    }
}
