//! `ferry`: the production shell. One mio event loop serves every connection of every service
//! the command runs (web app, socket server, forwarder, file server, chat); a writer thread does
//! the store's appends and short-lived threads commit uploads. The protocol logic is all in
//! `ferry-core`, shared with `ferry-std`.

mod accept;
mod chat;
mod conns;
mod event_loop;
mod files;
mod forward;
mod http;
mod outbox;
mod refuse;
mod session;
mod socket;
mod timers;
mod web;
mod webchat;

use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ferry_cli::{ChatOptions, Command, FilesOptions, SocketOptions, WebOptions};
use ferry_core::chat as chat_core;
use ferry_core::datagram::{self, DatagramSender, ForwardTarget, Transport};
use ferry_core::files as files_core;
use ferry_core::limits;
use ferry_core::tls::{self, Alpn, DEFAULT_HANDSHAKE_TIMEOUT};
use ferry_core::web::app::MessageApp;
use ferry_core::web::site::Site;
use ferry_shell::chat_accounts::ChatBackend;
use ferry_shell::files::FileServer;
use ferry_shell::tls::ServerTls;
use mio::net::{TcpListener, UdpSocket};

use event_loop::{EventLoop, FORWARD, SOCKET};
use forward::Forward;
use session::ServiceKind;

const PROGRAM: &str = "ferry";

fn main() -> ExitCode {
    let command = match ferry_shell::command_line(PROGRAM) {
        Ok(command) => command,
        Err(code) => return code,
    };
    let result = match command {
        Command::Serve(options) => run(Some(options.web), Some(options.socket), None, None),
        Command::Http(options) => run(Some(options), None, None, None),
        Command::Socket(options) => run(None, Some(options), None, None),
        Command::Chat(options) => run(None, None, None, Some(options)),
        Command::Files(options) => run(None, None, Some(options), None),
        Command::ChatClient(options) => return ferry_shell::run_chat_client(PROGRAM, &options),
        Command::Client(options) => {
            return ferry_shell::file_client::run_file_client(PROGRAM, &options)
        }
        Command::Cert(options) => return ferry_shell::tls::run_cert(PROGRAM, &options),
        Command::Passwd(options) => ferry_shell::passwd::run_passwd(&options),
        Command::Help(_) | Command::Version(_) => Ok(()),
    };
    ferry_shell::exit_code(PROGRAM, result)
}

/// Runs the services given, all on one event loop.
fn run(
    web: Option<WebOptions>,
    socket: Option<SocketOptions>,
    files: Option<FilesOptions>,
    chat: Option<ChatOptions>,
) -> Result<(), String> {
    let max_connections = limits::connection_limit(ferry_shell::raise_fd_limit(), false);
    let mut event_loop =
        EventLoop::new(max_connections).map_err(|e| format!("cannot start the event loop: {e}"))?;
    // The web app's site, certificate and listener come before the socket server, whose store
    // is opened last, so a start that fails (a missing static folder, a bad certificate, a busy
    // port) creates no store.
    let web = match web {
        Some(options) => {
            let site = ferry_shell::load_site(&options.static_dir)?;
            let tls = ServerTls::for_port(
                "web app",
                options.tls.as_ref(),
                Alpn::Http11,
                options.header_timeout,
            )?;
            let listener = bind("web app", &options.http)?;
            Some((options, site, tls, listener))
        }
        None => None,
    };
    let mut lines = Vec::new();
    let mut socket_address = None;
    if let Some(options) = &socket {
        let (address, line) = start_socket_server(&mut event_loop, options)?;
        socket_address = Some(address);
        lines.push(line);
    }
    if let Some((options, site, tls, listener)) = web {
        let (listening, forwarding) = start_web(
            &mut event_loop,
            &options,
            site,
            tls,
            listener,
            socket_address,
        )?;
        lines.insert(0, listening);
        lines.extend(forwarding);
    }
    if let Some(options) = &files {
        lines.push(start_files(&mut event_loop, options)?);
    }
    if let Some(options) = &chat {
        lines.push(start_chat(&mut event_loop, options)?);
        lines.push(chat_core::capacity_line(max_connections));
        if let Some(address) = &options.web {
            lines.push(start_web_chat(&mut event_loop, options, address)?);
        }
        if let Some(url) = options.cluster_shown() {
            lines.push(chat_core::cluster::cluster_line(&url));
        }
    }
    for line in lines {
        println!("{line}");
    }
    event_loop
        .run()
        .map_err(|e| format!("event loop failed: {e}"))
}

/// Binds the socket server's socket, then opens the store; returns its address and listening
/// line.
fn start_socket_server(
    event_loop: &mut EventLoop,
    options: &SocketOptions,
) -> Result<(std::net::SocketAddr, String), String> {
    let context = |e: std::io::Error| format!("socket server: {e}");
    let (udp, listener, address, line) = match options.transport {
        Transport::Udp => {
            let udp = ferry_shell::bind_udp("socket server", &options.socket)?;
            let address = udp.local_addr().map_err(context)?;
            udp.set_nonblocking(true).map_err(context)?;
            let line = Transport::Udp.listening_line(address);
            (Some(UdpSocket::from_std(udp)), None, address, line)
        }
        Transport::Tcp => {
            let listener = ferry_shell::bind_tcp("socket server", &options.socket)?;
            let address = listener.local_addr().map_err(context)?;
            listener.set_nonblocking(true).map_err(context)?;
            let line = Transport::Tcp.listening_line(address);
            (None, Some(TcpListener::from_std(listener)), address, line)
        }
    };
    let (store, repaired) = ferry_shell::open_store(options)?;
    if let Some(note) = repaired {
        eprintln!("{PROGRAM}: {note}");
    }
    let registry = event_loop.poll.registry();
    let waker = event_loop.waker.clone();
    let server = socket::SocketServer::start(udp, store, registry, SOCKET, waker)
        .map_err(|e| format!("cannot start the socket server: {e}"))?;
    event_loop.services.socket = Some(server);
    if let Some(listener) = listener {
        event_loop
            .listen(listener, ServiceKind::Peer, None)
            .map_err(context)?;
    }
    Ok((address, line))
}

/// Starts the web app on `listener`, forwarding to the socket server of this process if there
/// is one; returns its listening line and, when it forwards elsewhere, the line saying where.
fn start_web(
    event_loop: &mut EventLoop,
    options: &WebOptions,
    site: Site,
    tls: Option<ServerTls>,
    listener: TcpListener,
    socket_address: Option<std::net::SocketAddr>,
) -> Result<(String, Option<String>), String> {
    let now = Instant::now();
    let target = match socket_address {
        Some(bound) => ForwardTarget::new(now, vec![datagram::forward_target(bound)], false),
        None => ferry_shell::lookup::forward_target(now, &options.forward)?,
    };
    // Where the first message goes; a name may later stand for another address.
    let first = target.current().ok_or("no address to forward to")?;
    let address = listener.local_addr().map_err(|e| format!("web app: {e}"))?;
    let mut forward = open_forward(options, target)?;
    forward
        .register(event_loop.poll.registry(), FORWARD)
        .map_err(|e| format!("web app: {e}"))?;
    let app = MessageApp::new(site, options.max_body);
    let service = web::WebService::new(app, options.http_config(), forward);
    event_loop.services.web = Some(service);
    let line = secure_if(tls.is_some(), ferry_core::web::listening_line(address));
    event_loop
        .listen(listener, ServiceKind::Web, tls)
        .map_err(|e| format!("web app: {e}"))?;
    let forwarding = socket_address
        .is_none()
        .then(|| options.transport.forwarding_line(first));
    Ok((line, forwarding))
}

fn start_files(event_loop: &mut EventLoop, options: &FilesOptions) -> Result<String, String> {
    let mut server = FileServer::open(options)?;
    let tls = ServerTls::for_port(
        "file server",
        options.tls.files().as_ref(),
        Alpn::Http11,
        options.header_timeout,
    )?;
    let listener = bind("file server", &options.bind)?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("file server: {e}"))?;
    if let Some(notice) = server.bound(address.ip(), options.allow_anonymous_writes) {
        eprintln!("{PROGRAM}: {notice}");
    }
    let http = options.http_config();
    let waker = event_loop.waker.clone();
    event_loop.services.files = Some(files::FilesService::new(server, http, waker));
    let line = secure_if(tls.is_some(), files_core::listening(address));
    event_loop
        .listen(listener, ServiceKind::Files, tls)
        .map_err(|e| format!("file server: {e}"))?;
    Ok(line)
}

fn start_chat(event_loop: &mut EventLoop, options: &ChatOptions) -> Result<String, String> {
    let tls = ServerTls::for_port(
        "chat server",
        options.tls.files().as_ref(),
        Alpn::None,
        DEFAULT_HANDSHAKE_TIMEOUT,
    )?;
    let listener = bind("chat server", &options.bind)?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("chat server: {e}"))?;
    let (backend, restored) = ChatBackend::open(options)?;
    let mut service = chat::ChatService::new(
        options.chat_config(),
        options.web_config(),
        backend,
        restored,
        tls.is_some(),
        event_loop.waker.clone(),
    );
    service.join_cluster(options, event_loop.waker.clone())?;
    event_loop.services.chat = Some(service);
    let line = secure_if(tls.is_some(), chat_core::listening_line(address));
    event_loop
        .listen(listener, ServiceKind::Chat, tls)
        .map_err(|e| format!("chat server: {e}"))?;
    Ok(line)
}

/// Starts the chat's web port (`--web`), in the room [`start_chat`] opened.
fn start_web_chat(
    event_loop: &mut EventLoop,
    options: &ChatOptions,
    address: &str,
) -> Result<String, String> {
    let tls = ServerTls::for_port(
        "chat web page",
        options.tls.files().as_ref(),
        Alpn::Http11,
        options.web_config().http.header_timeout,
    )?;
    let listener = bind("chat web page", address)?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("chat web page: {e}"))?;
    let line = secure_if(tls.is_some(), chat_core::web::listening_line(address));
    event_loop
        .listen(listener, ServiceKind::WebChat, tls)
        .map_err(|e| format!("chat web page: {e}"))?;
    Ok(line)
}

/// A listening line with the secure scheme when the port speaks TLS.
fn secure_if(tls: bool, line: String) -> String {
    if tls {
        tls::listening_line(&line)
    } else {
        line
    }
}

/// Binds a non-blocking listener for `server` (named in errors) at `address`.
fn bind(server: &str, address: &str) -> Result<TcpListener, String> {
    let listener = ferry_shell::bind_tcp(server, address)?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("{server}: {e}"))?;
    Ok(TcpListener::from_std(listener))
}

fn open_forward(options: &WebOptions, target: ForwardTarget) -> Result<Forward, String> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let config = options.sender_config(std::process::id(), nanos);
    let sender = DatagramSender::new(config, Instant::now());
    let name = &options.forward;
    if options.transport == Transport::Tcp {
        // The stream opens from the event loop, without blocking, when the core says so.
        return Ok(Forward::tcp(sender, target, name, Instant::now()));
    }
    Forward::udp(sender, target, name)
        .map_err(|e| format!("cannot open the forwarding socket: {e}"))
}
