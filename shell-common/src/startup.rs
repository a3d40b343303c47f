//! The steps every shell takes before serving: loading the static site, opening the store named
//! on the command line, resolving and binding the listening sockets. Each fails with one line
//! that names the cause, so both binaries report the same errors the same way.

use std::env;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs, UdpSocket};
use std::path::Path;

use std::process::ExitCode;

use ferry_cli::{Command, SocketOptions};
use ferry_core::web::site::Site;

use ferry_storage::{FileStore, MessageStore, MongoStore, StoreLocation, StoreOptions};

use crate::read_static_folder;

/// Parses this process's arguments and `FERRY_*` environment into the command to run. Help and
/// version are printed here and end the process successfully; a command line that cannot be
/// used is reported in one line on stderr with exit code 2.
pub fn command_line(program: &str) -> Result<Command, ExitCode> {
    let args: Vec<String> = env::args().skip(1).collect();
    match ferry_cli::parse(program, &args) {
        Ok(Command::Help(text)) => {
            print!("{text}");
            Err(ExitCode::SUCCESS)
        }
        Ok(Command::Version(text)) => {
            println!("{text}");
            Err(ExitCode::SUCCESS)
        }
        Ok(command) => Ok(command),
        Err(error) => {
            eprintln!("{error}");
            Err(ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2)))
        }
    }
}

/// Ends a server run: success, or one line naming the cause on stderr and exit code 1.
pub fn exit_code(program: &str, result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{program}: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the static folder and checks it holds the pages the web app needs.
pub fn load_site(folder: &Path) -> Result<Site, String> {
    let files = read_static_folder(folder).map_err(|error| error.to_string())?;
    Site::new(files).map_err(|error| format!("static folder '{}': {error}", folder.display()))
}

/// The store a socket server writes to, whichever backend `--store` names.
pub type Store = Box<dyn MessageStore + Send>;

/// Opens the store the socket server's options name: the JSON file, or the MongoDB database of
/// a `mongodb://` URL. Returns the store and a one-line note to print when there is something
/// to say: the file's tail was repaired after a crash, or MongoDB does not answer yet (the
/// socket server starts anyway and acknowledges messages once it does).
///
/// A file store is created (with its folder) here, so a shell calls this after every other
/// step of its start that can fail: a start that fails leaves no empty store behind.
pub fn open_store(options: &SocketOptions) -> Result<(Store, Option<String>), String> {
    let path = match &options.store {
        StoreLocation::File(path) => path,
        StoreLocation::MongoDb(url) => {
            let (store, note) = MongoStore::open(url).map_err(|error| error.to_string())?;
            return Ok((Box::new(store), note));
        }
    };
    let options = StoreOptions {
        fsync: options.fsync,
    };
    let (store, note) = FileStore::open(path, options).map_err(|error| error.to_string())?;
    Ok((Box::new(store), note))
}

/// Makes the store durable as the socket server stops (the SPEC's clean shutdown). A failure
/// is reported in one line; nothing is left to retry.
pub fn close_store(store: &mut Store) {
    if let Err(error) = store.close() {
        eprintln!("socket server: stopping: {error}");
    }
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

/// Raises this process's soft limit on open files to its hard limit, where allowed, and returns
/// the limit in force afterwards (`None` if it cannot be read). Each connection costs a file
/// descriptor, so this bounds how many connections a server can hold.
pub fn raise_fd_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own and reads nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct; failure leaves the old limit in force.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        }
    }
    Some(limit.rlim_cur)
}
