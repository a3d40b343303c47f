//! `ferry-std`: ferry on std threads, the simple shell. Blocking sockets, a thread per HTTP
//! connection, the same core as `ferry`, so both behave the same.

mod accept;
mod chat;
mod conn;
mod files;
mod forward;
mod signal;
mod tcp;
mod udp;

use std::fmt::Display;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ferry_cli::{Command, SocketOptions, WebOptions};
use ferry_core::datagram::{self, ForwardTarget, Transport};
use ferry_core::limits;
use ferry_core::web::app::MessageApp;
use ferry_core::web::site::Site;
use ferry_shell::Store;

use accept::{Listener, StopConnections};
use conn::WebContext;
use forward::Forwarder;
use signal::Shutdown;

const PROGRAM: &str = "ferry-std";

fn main() -> ExitCode {
    let command = match ferry_shell::command_line(PROGRAM) {
        Ok(command) => command,
        Err(code) => return code,
    };
    let result = match command {
        Command::Serve(options) => serve(options.web, options.socket),
        Command::Http(options) => http(options),
        Command::Socket(options) => socket(options),
        Command::Chat(options) => chat::run(&options),
        Command::ChatClient(options) => return ferry_shell::run_chat_client(PROGRAM, &options),
        Command::Files(options) => files::run(&options),
        Command::Client(options) => {
            return ferry_shell::file_client::run_file_client(PROGRAM, &options)
        }
        Command::Cert(options) => return ferry_shell::tls::run_cert(PROGRAM, &options),
        Command::Passwd(options) => ferry_shell::passwd::run_passwd(&options),
        Command::Help(_) | Command::Version(_) => Ok(()),
    };
    ferry_shell::exit_code(PROGRAM, result)
}

/// The web app and the socket server in one process.
fn serve(web: WebOptions, socket: SocketOptions) -> Result<(), String> {
    let shutdown = Shutdown::on_signals().map_err(context("cannot watch signals"))?;
    let site = load_site(&web)?;
    let endpoint = SocketEndpoint::bind(&socket)?;
    let listener = bind_tcp(&web.http)?;
    let store = open_store(&socket)?;
    let socket_address = endpoint.address()?;
    let line = endpoint.listening_line(socket_address);
    let socket_stop = Shutdown::default();
    let socket_thread = endpoint.spawn(store, socket_stop.clone())?;
    let target = ForwardTarget::new(
        Instant::now(),
        vec![datagram::forward_target(socket_address)],
        false,
    );
    let (forwarder, forward_thread) = start_forwarder(&web, target)?;
    let web_server = start_web(listener, &web, site, forwarder.clone(), shutdown.clone())?;
    announce(&line);
    shutdown.wait();
    // Web requests first (they wait on acks), then the forwarder, then the store.
    web_server.stop(limits::SHUTDOWN_GRACE, StopConnections::Notify);
    forwarder.stop();
    let _ = forward_thread.join();
    socket_stop.request();
    let _ = socket_thread.join();
    Ok(())
}

/// The web app alone, forwarding to a socket server elsewhere.
fn http(web: WebOptions) -> Result<(), String> {
    let shutdown = Shutdown::on_signals().map_err(context("cannot watch signals"))?;
    let site = load_site(&web)?;
    let target = ferry_shell::lookup::forward_target(Instant::now(), &web.forward)?;
    // Where the first message goes; a name may later stand for another address.
    let first = target.current().ok_or("no address to forward to")?;
    let listener = bind_tcp(&web.http)?;
    let (forwarder, forward_thread) = start_forwarder(&web, target)?;
    let web_server = start_web(listener, &web, site, forwarder.clone(), shutdown.clone())?;
    announce(&web.transport.forwarding_line(first));
    shutdown.wait();
    web_server.stop(limits::SHUTDOWN_GRACE, StopConnections::Notify);
    forwarder.stop();
    let _ = forward_thread.join();
    Ok(())
}

/// The socket server alone.
fn socket(socket: SocketOptions) -> Result<(), String> {
    let shutdown = Shutdown::on_signals().map_err(context("cannot watch signals"))?;
    let endpoint = SocketEndpoint::bind(&socket)?;
    let store = open_store(&socket)?;
    let address = endpoint.address()?;
    let line = endpoint.listening_line(address);
    let socket_thread = endpoint.spawn(store, shutdown.clone())?;
    announce(&line);
    shutdown.wait();
    let _ = socket_thread.join();
    Ok(())
}

fn start_web(
    listener: TcpListener,
    web: &WebOptions,
    site: Site,
    forwarder: Forwarder,
    shutdown: Shutdown,
) -> Result<Listener, String> {
    let address = listener.local_addr().map_err(context("web app"))?;
    let tls = ferry_shell::tls::ServerTls::for_port(
        "web app",
        web.tls.as_ref(),
        ferry_core::tls::Alpn::Http11,
        web.header_timeout,
    )?;
    signal::reload_on_sighup(tls.iter().cloned().collect())
        .map_err(context("cannot watch signals"))?;
    let secure = tls.is_some();
    let context_value = WebContext {
        app: MessageApp::new(site, web.max_body),
        http: web.http_config(),
        forwarder,
        stop: shutdown.clone(),
    };
    let limit = limits::connection_limit(ferry_shell::raise_fd_limit(), true);
    let context_value = Arc::new(context_value);
    let refusal = conn::refusal_for(secure);
    let server = Listener::start(listener, shutdown, limit, refusal, move |tcp| {
        if let Ok(stream) = ferry_shell::stream::Stream::accept(tcp, tls.as_ref()) {
            let _ = conn::serve(stream, &context_value);
        }
    })
    .map_err(context("cannot start"))?;
    announce(&conn::secure_if(
        secure,
        ferry_core::web::listening_line(address),
    ));
    Ok(server)
}

fn start_forwarder(
    web: &WebOptions,
    target: ForwardTarget,
) -> Result<(Forwarder, thread::JoinHandle<()>), String> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let config = web.sender_config(std::process::id(), nanos);
    let started = match web.transport {
        Transport::Udp => udp::start_forwarder(target, &web.forward, config),
        Transport::Tcp => tcp::start_forwarder(target, &web.forward, config),
    };
    started.map_err(context("cannot open the forwarding socket"))
}

/// The socket server's listening socket, for the transport chosen with `--transport`.
enum SocketEndpoint {
    Udp(UdpSocket),
    Tcp(TcpListener),
}

impl SocketEndpoint {
    fn bind(socket: &SocketOptions) -> Result<SocketEndpoint, String> {
        Ok(match socket.transport {
            Transport::Udp => SocketEndpoint::Udp(bind_udp(&socket.socket)?),
            Transport::Tcp => {
                SocketEndpoint::Tcp(ferry_shell::bind_tcp("socket server", &socket.socket)?)
            }
        })
    }

    fn address(&self) -> Result<SocketAddr, String> {
        match self {
            SocketEndpoint::Udp(udp) => udp.local_addr(),
            SocketEndpoint::Tcp(listener) => listener.local_addr(),
        }
        .map_err(context("socket server"))
    }

    fn listening_line(&self, address: SocketAddr) -> String {
        match self {
            SocketEndpoint::Udp(_) => Transport::Udp.listening_line(address),
            SocketEndpoint::Tcp(_) => Transport::Tcp.listening_line(address),
        }
    }

    /// Runs the socket server on its own thread until `stop`.
    fn spawn(self, store: Store, stop: Shutdown) -> Result<thread::JoinHandle<()>, String> {
        thread::Builder::new()
            .name("socket-server".into())
            .spawn(move || match self {
                SocketEndpoint::Udp(udp) => udp::run_socket_server(udp, store, stop),
                SocketEndpoint::Tcp(listener) => tcp::run_socket_server(listener, store, stop),
            })
            .map_err(context("cannot start the socket server"))
    }
}

fn load_site(web: &WebOptions) -> Result<Site, String> {
    ferry_shell::load_site(&web.static_dir)
}

/// Called after every other step of a start that can fail, so a failed start creates no store.
fn open_store(socket: &SocketOptions) -> Result<Store, String> {
    let (store, repaired) = ferry_shell::open_store(socket)?;
    if let Some(note) = repaired {
        eprintln!("{PROGRAM}: {note}");
    }
    Ok(store)
}

fn bind_tcp(address: &str) -> Result<TcpListener, String> {
    ferry_shell::bind_tcp("web app", address)
}

fn bind_udp(address: &str) -> Result<UdpSocket, String> {
    ferry_shell::bind_udp("socket server", address)
}

fn announce(line: &str) {
    println!("{line}");
}

fn context<E: Display>(what: &'static str) -> impl Fn(E) -> String {
    move |error| format!("{what}: {error}")
}
