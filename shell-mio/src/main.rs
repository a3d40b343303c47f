//! `ferry`: the production shell. One mio event loop serves every HTTP connection, the forwarder
//! and the socket server; a writer thread does the store's appends. The protocol logic is all in
//! `ferry-core`, shared with `ferry-std`.

mod chat;
mod event_loop;
mod files;
mod forward;
mod outbox;
mod peers;
mod socket;
mod timers;
mod web;

use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ferry_cli::{Command, SocketOptions, WebOptions};
use ferry_core::app::MessageApp;
use ferry_core::datagram::{self, DatagramSender, ForwardTarget, Transport};
use ferry_core::settings;
use mio::net::{TcpListener, UdpSocket};

use event_loop::{EventLoop, FORWARD, FORWARD_STREAM, LISTENER, SOCKET, STORE_DONE};
use forward::Forward;
use socket::{Listening, SocketServer};
use web::Web;

const PROGRAM: &str = "ferry";

fn main() -> ExitCode {
    let command = match ferry_shell::command_line(PROGRAM) {
        Ok(command) => command,
        Err(code) => return code,
    };
    let result = match command {
        Command::Serve(options) => run(Some(options.web), Some(options.socket)),
        Command::Http(options) => run(Some(options), None),
        Command::Socket(options) => run(None, Some(options)),
        Command::Chat(options) => chat::run(&options),
        Command::ChatClient(options) => return ferry_shell::run_chat_client(PROGRAM, &options),
        Command::Files(options) => files::run(&options),
        Command::Client(options) => {
            return ferry_shell::file_client::run_file_client(PROGRAM, &options)
        }
        Command::Help(_) | Command::Version(_) => Ok(()),
    };
    ferry_shell::exit_code(PROGRAM, result)
}

/// Runs the web app, the socket server, or both (serve), on one event loop.
fn run(web: Option<WebOptions>, socket: Option<SocketOptions>) -> Result<(), String> {
    let mut event_loop =
        EventLoop::new().map_err(|e| format!("cannot start the event loop: {e}"))?;
    let mut lines = Vec::new();
    let mut socket_address = None;
    if let Some(options) = &socket {
        let (store, repaired) = ferry_shell::open_store(options)?;
        if let Some(note) = repaired {
            eprintln!("{PROGRAM}: {note}");
        }
        let context = |e: std::io::Error| format!("socket server: {e}");
        let (listening, address, line) = match options.transport {
            Transport::Udp => {
                let udp = ferry_shell::bind_udp("socket server", &options.socket)?;
                let address = udp.local_addr().map_err(context)?;
                udp.set_nonblocking(true).map_err(context)?;
                let line = settings::socket_listening(address);
                (Listening::Udp(UdpSocket::from_std(udp)), address, line)
            }
            Transport::Tcp => {
                let listener = ferry_shell::bind_tcp("socket server", &options.socket)?;
                let address = listener.local_addr().map_err(context)?;
                listener.set_nonblocking(true).map_err(context)?;
                let line = settings::socket_listening_tcp(address);
                (
                    Listening::Tcp(TcpListener::from_std(listener)),
                    address,
                    line,
                )
            }
        };
        let server = SocketServer::start(
            listening,
            store,
            event_loop.poll.registry(),
            SOCKET,
            STORE_DONE,
        )
        .map_err(|e| format!("cannot start the socket server: {e}"))?;
        event_loop.socket = Some(server);
        socket_address = Some(address);
        lines.push(line);
    }
    if let Some(options) = &web {
        let site = ferry_shell::load_site(&options.static_dir)?;
        let now = Instant::now();
        let target = match socket_address {
            Some(bound) => ForwardTarget::new(now, vec![datagram::forward_target(bound)], false),
            None => ferry_shell::lookup::forward_target(now, &options.forward)?,
        };
        // Where the first message goes; a name may later stand for another address.
        let first = target.current().ok_or("no address to forward to")?;
        let listener = ferry_shell::bind_tcp("web app", &options.http)?;
        let address = listener.local_addr().map_err(|e| format!("web app: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("web app: {e}"))?;
        let forward = open_forward(options, target)?;
        let mut web = Web::new(
            TcpListener::from_std(listener),
            LISTENER,
            MessageApp::new(site),
            options.http_config(),
            forward,
            settings::connection_limit(ferry_shell::raise_fd_limit(), false),
        );
        let forward_token = match options.transport {
            Transport::Udp => FORWARD,
            Transport::Tcp => FORWARD_STREAM,
        };
        web.register(event_loop.poll.registry(), forward_token)
            .map_err(|e| format!("web app: {e}"))?;
        event_loop.web = Some(web);
        lines.insert(0, settings::web_listening(address));
        if socket_address.is_none() {
            lines.push(settings::forwarding_to(first, options.transport));
        }
    }
    for line in lines {
        println!("{line}");
    }
    event_loop
        .run()
        .map_err(|e| format!("event loop failed: {e}"))
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
