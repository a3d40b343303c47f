//! The chat server and its terminal client on the command line: `chat` and `chat-client`.

use std::fmt;
use std::time::Duration;

use clap::Args;
use ferry_core::chat::cluster::DEFAULT_TTL;
use ferry_core::chat::flood::{self, Rate};
use ferry_core::chat::{
    AccountsMode, ChatConfig, WebChatConfig, DEFAULT_ANNOUNCE_LIMIT, DEFAULT_HISTORY,
    DEFAULT_IDLE_TIMEOUT,
};
use ferry_core::ws::WsConfig;
use ferry_storage::chat::DEFAULT_FOLDER;
use ferry_storage::StoreLocation;

use crate::size::format_duration;
use crate::tls::{ClientTlsFlags, TlsFlags};
use crate::values;

/// Settings of the chat server (`ferry chat`).
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ChatOptions {
    /// Where the chat server listens.
    #[arg(long, env = "FERRY_BIND", value_name = "ADDR",
          default_value = format!("0.0.0.0:{DEFAULT_PORT}"), value_parser = values::address)]
    pub bind: String,
    /// How many recent messages a newcomer is sent when it connects (0 to 1000).
    #[arg(long, env = "FERRY_HISTORY", value_name = "COUNT",
          default_value = DEFAULT_HISTORY.to_string(), value_parser = values::history)]
    pub history: usize,
    /// A client that sends nothing for this long is disconnected (the chat client sends an
    /// empty line every minute to stay connected).
    #[arg(long, env = "FERRY_IDLE_TIMEOUT", value_name = "DURATION",
          default_value = format_duration(DEFAULT_IDLE_TIMEOUT), value_parser = values::timeout)]
    pub idle_timeout: Duration,
    /// In a room of more clients than this, joins and leaves are announced in batches, once a
    /// second ({"type":"joins","usernames":[...]}), so a reconnect storm is not one line per
    /// newcomer per client; 0 always batches.
    #[arg(long, env = "FERRY_ANNOUNCE_LIMIT", value_name = "CLIENTS",
          default_value = DEFAULT_ANNOUNCE_LIMIT.to_string(), value_parser = values::count)]
    pub announce_limit: usize,
    /// Also serve the chat in browsers: a page at / and its WebSocket at /ws on this address,
    /// in the same room as the TCP clients (https:// and wss:// with --tls-cert); without it,
    /// only TCP clients.
    #[arg(long, env = "FERRY_WEB", value_name = "ADDR", value_parser = values::address)]
    pub web: Option<String>,
    /// With --web: also serve /echo, a WebSocket that sends every message back (messages up
    /// to 16 MiB), for conformance tests such as Autobahn's. Off by default.
    #[arg(long, env = "FERRY_WEB_ECHO", value_name = "on|off",
          default_value = values::switch_text(false),
          num_args = 0..=1, require_equals = true, default_missing_value = values::switch_text(true),
          value_parser = values::switch)]
    pub web_echo: bool,
    /// Where accounts (users.json) and the history that survives a restart (chat.json) are
    /// kept: a folder, or a mongodb://HOST:PORT/DB URL (collections users and chat).
    #[arg(long, env = "FERRY_STORE", value_name = "FOLDER|URL",
          default_value = DEFAULT_FOLDER, value_parser = values::store)]
    pub store: StoreLocation,
    /// Accounts: off (anyone takes any free name), optional (guests may use names nobody
    /// registered) or required (register or log in before anything else).
    #[arg(long, env = "FERRY_ACCOUNTS", value_name = "off|optional|required",
          default_value = values::accounts_text(AccountsMode::default()),
          value_parser = values::accounts)]
    pub accounts: AccountsMode,
    /// Accept logins and password changes over a plain (non-TLS) port from other machines,
    /// which sends passwords across the network in clear.
    #[arg(long, env = "FERRY_ALLOW_INSECURE_LOGIN", value_name = "on|off",
          default_value = values::switch_text(false),
          num_args = 0..=1, require_equals = true, default_missing_value = values::switch_text(true),
          value_parser = values::switch)]
    pub allow_insecure_login: bool,
    /// Flood limit: messages one client may send a second once its burst is spent (0: no
    /// limit). Over it a message is refused with an error line; a client that keeps on is
    /// disconnected.
    #[arg(long, env = "FERRY_FLOOD_RATE", value_name = "COUNT",
          default_value = flood::DEFAULT_PER_SECOND.to_string(), value_parser = values::rate)]
    pub flood_rate: u32,
    /// Flood limit: messages one client may send at once before the rate applies.
    #[arg(long, env = "FERRY_FLOOD_BURST", value_name = "COUNT",
          default_value = flood::DEFAULT_BURST.to_string(), value_parser = values::rate)]
    pub flood_burst: u32,
    /// Share the room with other chat nodes through Redis (redis://[:PASSWORD@]HOST:PORT[/DB]):
    /// messages, joins and leaves reach every node's clients, the history lives in Redis and
    /// a name is unique across the nodes; without it, the room is this process's alone.
    #[arg(long, env = "FERRY_CLUSTER", value_name = "URL", value_parser = values::cluster_url)]
    pub cluster: Option<String>,
    /// With --cluster: a node not heard from for this long counts as gone and its clients are
    /// announced as left on the other nodes; each node says it is alive every third of it.
    #[arg(long, env = "FERRY_CLUSTER_TTL", value_name = "DURATION",
          default_value = format_duration(DEFAULT_TTL), value_parser = values::timeout)]
    pub cluster_ttl: Duration,
    #[command(flatten)]
    pub tls: TlsFlags,
}

impl ChatOptions {
    /// The chat's web port (`--web`): the page, the WebSocket's limits (the room's line
    /// limit per message) and the echo endpoint if asked for.
    pub fn web_config(&self) -> WebChatConfig {
        let chat = self.chat_config();
        WebChatConfig {
            ws: WsConfig {
                max_message: chat.max_line,
                ..WsConfig::default()
            },
            echo: self.web_echo.then(WebChatConfig::echo_limits),
            ..WebChatConfig::default()
        }
    }

    /// The cluster's URL as a start-up line may show it: any password replaced by `***`.
    pub fn cluster_shown(&self) -> Option<String> {
        self.cluster.as_deref().map(hide_password)
    }

    /// The room `ferry chat` runs with these options.
    pub fn chat_config(&self) -> ChatConfig {
        ChatConfig {
            history: self.history,
            idle_timeout: self.idle_timeout,
            announce_limit: self.announce_limit,
            accounts: self.accounts,
            allow_insecure_login: self.allow_insecure_login,
            flood: Rate::per_second(self.flood_burst, self.flood_rate),
            ..ChatConfig::default()
        }
    }
}

/// Settings of the terminal chat client (`ferry chat-client`).
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ChatClientOptions {
    /// The chat server's host name or IP address (IPv6 with or without brackets).
    #[arg(value_name = "HOST", default_value = DEFAULT_HOST, value_parser = values::host)]
    pub host: String,
    /// The chat server's port.
    #[arg(value_name = "PORT", default_value_t = DEFAULT_PORT, value_parser = values::port)]
    pub port: u16,
    /// A chat server as HOST:PORT, instead of HOST and PORT. Give it again for more servers
    /// (or list them in FERRY_SERVER, separated by commas): the client connects to the first
    /// that answers, and when a connection is lost it reconnects to the next, round robin.
    #[arg(long = "server", env = "FERRY_SERVER", value_name = "HOST:PORT",
          value_delimiter = ',', value_parser = values::server,
          conflicts_with_all = ["host", "port"])]
    pub servers: Vec<ServerAddress>,
    /// The name to chat under; without it the client asks for one at start.
    #[arg(long, env = "FERRY_USERNAME", value_name = "NAME", value_parser = values::username)]
    pub username: Option<String>,
    #[command(flatten)]
    pub tls: ClientTlsFlags,
}

impl ChatClientOptions {
    /// The servers to connect to, in order: those of `--server`, else HOST and PORT.
    pub fn servers(&self) -> Vec<ServerAddress> {
        if self.servers.is_empty() {
            vec![ServerAddress {
                host: self.host.clone(),
                port: self.port,
            }]
        } else {
            self.servers.clone()
        }
    }
}

/// A chat server to connect to (`--server HOST:PORT`); the host without brackets, as a
/// resolver takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddress {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for ServerAddress {
    /// `HOST:PORT`, an IPv6 host in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// `url` with the password of its user part, if any, replaced by `***`.
fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}"),
            None => format!("{scheme}://***@{host}"),
        },
        None => url.to_owned(),
    }
}

/// The chat server's port unless told, for the server and the client alike.
const DEFAULT_PORT: u16 = 7072;
/// The chat server the client talks to unless told: the one on this machine.
const DEFAULT_HOST: &str = "127.0.0.1";

#[cfg(test)]
mod tests {
    use super::hide_password;
    use crate::values::cluster_url;

    #[test]
    fn a_cluster_url_shows_no_password() {
        for (url, shown) in [
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("redis://:s3cret@redis:6379/2", "redis://:***@redis:6379/2"),
            (
                "redis://ann:s3cret@redis:6379",
                "redis://ann:***@redis:6379",
            ),
            ("redis://token@redis:6379", "redis://***@redis:6379"),
        ] {
            assert_eq!(hide_password(url), shown);
        }
    }

    #[test]
    fn only_redis_urls_with_a_host_are_cluster_urls() {
        assert!(cluster_url("redis://127.0.0.1:6379/1").is_ok());
        assert!(cluster_url("redis://:pw@redis:6379").is_ok());
        for bad in [
            "",
            "127.0.0.1:6379",
            "rediss://redis:6379",
            "redis://",
            "redis:///0",
        ] {
            assert!(cluster_url(bad).is_err(), "{bad:?}");
        }
    }
}
