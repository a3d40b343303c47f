//! The message web app and the socket server on the command line: `serve`, `http`, `socket`.
//!
//! The flags come in groups because the three subcommands share them differently: `serve`
//! takes the web app's and the socket server's, `http` the web app's and `--forward`, `socket`
//! the socket server's; all three take one `--transport`, which in `serve` sets both halves so
//! they cannot disagree. The groups are parsed by clap and then put together into
//! [`WebOptions`] and [`SocketOptions`], which the shells turn into machine configs with
//! [`WebOptions::http_config`] and [`WebOptions::sender_config`].

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ferry_core::datagram::sender::DEFAULT_ACK_TIMEOUT;
use ferry_core::datagram::{id_prefix, SenderConfig, Transport};
use ferry_core::http::{
    HttpConfig, DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY, DEFAULT_REQUEST_TIMEOUT, DEFAULT_WRITE_TIMEOUT,
};
use ferry_storage::{FsyncPolicy, StoreLocation};

use crate::size::{format_duration, format_size};
use crate::tls::{TlsFiles, TlsFlags};
use crate::values;

/// Settings of `ferry serve`: the web app and the socket server in one process.
///
/// `web.forward` keeps its default and is not used: in serve mode the web app forwards to the
/// socket server of the same process, at `ferry_core::datagram::forward_target` of the address
/// that server bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// Settings of the web app.
    pub web: WebOptions,
    /// Settings of the socket server.
    pub socket: SocketOptions,
}

/// Settings of the message web app (`ferry http`, and the web half of `ferry serve`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebOptions {
    /// `--http`: where the web app listens, `HOST:PORT`; the shell resolves and binds it.
    pub http: String,
    /// `--forward` (`ferry http` only): the socket server that stores messages, `HOST:PORT`.
    pub forward: String,
    /// `--static`: the folder holding the pages and assets.
    pub static_dir: PathBuf,
    /// `--max-body`: the largest request body accepted on `/message`, in bytes (never zero).
    pub max_body: u64,
    /// `--ack-timeout`: how long a message may wait for the socket server's acknowledgement.
    pub ack_timeout: Duration,
    /// `--header-timeout`: how long a client may take to send a whole request head.
    pub header_timeout: Duration,
    /// `--idle-timeout`: how long an idle keep-alive connection stays open.
    pub idle_timeout: Duration,
    /// `--body-timeout`: how long a request body may stall between two reads.
    pub body_timeout: Duration,
    /// `--request-timeout`: how long a whole request (head and body) may take.
    pub request_timeout: Duration,
    /// `--write-timeout`: how long a client may take no byte of a response before it is closed.
    pub write_timeout: Duration,
    /// `--transport`: how messages travel to the socket server.
    pub transport: Transport,
    /// `--tls-cert`/`--tls-key`: the web app speaks TLS with these.
    pub tls: Option<TlsFiles>,
}

impl WebOptions {
    /// The HTTP connection settings of the web app.
    pub fn http_config(&self) -> HttpConfig {
        HttpConfig {
            max_body: self.max_body,
            header_timeout: self.header_timeout,
            body_timeout: self.body_timeout,
            request_timeout: self.request_timeout,
            idle_timeout: self.idle_timeout,
            write_timeout: self.write_timeout,
            ..HttpConfig::default()
        }
    }

    /// The datagram sender settings of the web app; `process_id` and `start_nanos` (wall-clock
    /// nanoseconds at start) make its message ids unique, see [`id_prefix`].
    pub fn sender_config(&self, process_id: u32, start_nanos: u128) -> SenderConfig {
        SenderConfig {
            ack_timeout: self.ack_timeout,
            id_prefix: id_prefix(process_id, start_nanos),
            link: self.transport.link(),
            ..SenderConfig::default()
        }
    }
}

/// Settings of the socket server (`ferry socket`, and the storing half of `ferry serve`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketOptions {
    /// `--socket`: where the socket server listens, `HOST:PORT`; the shell resolves and binds it.
    pub socket: String,
    /// `--store`: where messages are stored.
    pub store: StoreLocation,
    /// `--transport`: datagrams or one stream per web app.
    pub transport: Transport,
    /// `--fsync`: when stored messages are forced to disk.
    pub fsync: FsyncPolicy,
}

/// The arguments of `ferry serve`, which are also those of `ferry` without a subcommand.
#[derive(Args, Debug, Clone)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    web: WebFlags,
    #[command(flatten)]
    socket: SocketFlags,
    #[command(flatten)]
    transport: TransportFlag,
}

impl From<ServeArgs> for ServeOptions {
    fn from(args: ServeArgs) -> Self {
        let transport = args.transport.transport;
        ServeOptions {
            web: args.web.options(DEFAULT_FORWARD.to_string(), transport),
            socket: args.socket.options(transport),
        }
    }
}

/// The arguments of `ferry http`.
#[derive(Args, Debug, Clone)]
pub(crate) struct HttpArgs {
    #[command(flatten)]
    web: WebFlags,
    /// The socket server that stores the messages (HOST:PORT; a host name is looked up again
    /// when sends fail).
    #[arg(long, env = "FERRY_FORWARD", value_name = "ADDR", default_value = DEFAULT_FORWARD,
          value_parser = values::address)]
    forward: String,
    #[command(flatten)]
    transport: TransportFlag,
}

impl From<HttpArgs> for WebOptions {
    fn from(args: HttpArgs) -> Self {
        args.web.options(args.forward, args.transport.transport)
    }
}

/// The arguments of `ferry socket`.
#[derive(Args, Debug, Clone)]
pub(crate) struct SocketArgs {
    #[command(flatten)]
    socket: SocketFlags,
    #[command(flatten)]
    transport: TransportFlag,
}

impl From<SocketArgs> for SocketOptions {
    fn from(args: SocketArgs) -> Self {
        args.socket.options(args.transport.transport)
    }
}

/// The web app's flags that `serve` and `http` share.
#[derive(Args, Debug, Clone)]
struct WebFlags {
    /// Where the web app listens.
    #[arg(long, env = "FERRY_HTTP", value_name = "ADDR", default_value = DEFAULT_HTTP,
          value_parser = values::address)]
    http: String,
    /// The folder holding the pages and assets.
    #[arg(long = "static", env = "FERRY_STATIC", value_name = "DIR",
          default_value = DEFAULT_STATIC, value_parser = values::path)]
    static_dir: PathBuf,
    /// The largest form body; a larger one gets 413.
    #[arg(long, env = "FERRY_MAX_BODY", value_name = "SIZE",
          default_value = format_size(DEFAULT_MAX_BODY), value_parser = values::limit)]
    max_body: u64,
    /// How long to keep resending a message until the socket server acknowledges it; then the
    /// form answers 503.
    #[arg(long, env = "FERRY_ACK_TIMEOUT", value_name = "DURATION",
          default_value = format_duration(DEFAULT_ACK_TIMEOUT), value_parser = values::timeout)]
    ack_timeout: Duration,
    /// How long a client may take to send a whole request head; then it gets 408.
    #[arg(long, env = "FERRY_HEADER_TIMEOUT", value_name = "DURATION",
          default_value = format_duration(DEFAULT_HEADER_TIMEOUT), value_parser = values::timeout)]
    header_timeout: Duration,
    /// How long a request body may stall between two reads; then it gets 408.
    #[arg(long, env = "FERRY_BODY_TIMEOUT", value_name = "DURATION",
          default_value = format_duration(DEFAULT_BODY_TIMEOUT), value_parser = values::timeout)]
    body_timeout: Duration,
    /// How long a whole request (head and body) may take from its first byte, however steadily
    /// it trickles in; then it gets 408.
    #[arg(long, env = "FERRY_REQUEST_TIMEOUT", value_name = "DURATION",
          default_value = format_duration(DEFAULT_REQUEST_TIMEOUT), value_parser = values::timeout)]
    request_timeout: Duration,
    /// How long an idle keep-alive connection stays open.
    #[arg(long, env = "FERRY_IDLE_TIMEOUT", value_name = "DURATION",
          default_value = format_duration(DEFAULT_IDLE_TIMEOUT), value_parser = values::timeout)]
    idle_timeout: Duration,
    /// How long a client may take no byte of its answer before it is closed.
    #[arg(long, env = "FERRY_WRITE_TIMEOUT", value_name = "DURATION",
          default_value = format_duration(DEFAULT_WRITE_TIMEOUT), value_parser = values::timeout)]
    write_timeout: Duration,
    #[command(flatten)]
    tls: TlsFlags,
}

impl WebFlags {
    fn options(self, forward: String, transport: Transport) -> WebOptions {
        WebOptions {
            http: self.http,
            forward,
            static_dir: self.static_dir,
            max_body: self.max_body,
            ack_timeout: self.ack_timeout,
            header_timeout: self.header_timeout,
            idle_timeout: self.idle_timeout,
            body_timeout: self.body_timeout,
            request_timeout: self.request_timeout,
            write_timeout: self.write_timeout,
            transport,
            tls: self.tls.files(),
        }
    }
}

/// The socket server's flags that `serve` and `socket` share.
#[derive(Args, Debug, Clone)]
struct SocketFlags {
    /// Where the socket server listens.
    #[arg(long, env = "FERRY_SOCKET", value_name = "ADDR", default_value = DEFAULT_SOCKET,
          value_parser = values::address)]
    socket: String,
    /// A JSON file to append messages to, created with its folder if missing, or a MongoDB
    /// database (mongodb://HOST:PORT/DB): one document per message in 'messages'.
    #[arg(long, env = "FERRY_STORE", value_name = "FILE|URL",
          default_value = StoreLocation::default().to_string(), value_parser = values::store)]
    store: StoreLocation,
    /// When stored messages are forced to disk: after each message, once per group of messages
    /// that arrive together, or never (left to the system).
    #[arg(long, env = "FERRY_FSYNC", value_name = "always|batch|never",
          default_value = FsyncPolicy::default().name(), value_parser = values::fsync)]
    fsync: FsyncPolicy,
}

impl SocketFlags {
    fn options(self, transport: Transport) -> SocketOptions {
        SocketOptions {
            socket: self.socket,
            store: self.store,
            transport,
            fsync: self.fsync,
        }
    }
}

/// `--transport`, one flag for both ends of the link.
#[derive(Args, Debug, Clone)]
struct TransportFlag {
    /// How messages travel from the web app to the socket server: udp datagrams, or tcp
    /// (newline-delimited JSON over one connection per web app). The web app and the socket
    /// server must be given the same transport.
    #[arg(long, env = "FERRY_TRANSPORT", value_name = "udp|tcp",
          default_value = Transport::default().name(), value_parser = values::transport)]
    transport: Transport,
}

/// Where the web app listens unless told: every interface, the SPEC's port 3000.
const DEFAULT_HTTP: &str = "0.0.0.0:3000";
/// Where the socket server listens unless told: every interface, the SPEC's port 5000.
const DEFAULT_SOCKET: &str = "0.0.0.0:5000";
/// The socket server `ferry http` forwards to unless told: the default one, on this machine.
const DEFAULT_FORWARD: &str = "127.0.0.1:5000";
/// The static folder, relative to where the server starts (the repository's `static/`).
const DEFAULT_STATIC: &str = "static";
