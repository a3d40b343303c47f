//! The tables behind the command line: every subcommand, every flag it takes, and how each
//! flag's value is checked and stored.
//!
//! Owns flag names, environment variable names, defaults as printed and help summaries. It never
//! scans arguments (that is [`super::parse`]), never checks a value itself (`values.rs`) and never
//! formats whole help texts or error lines (`help.rs`, `error.rs`).

use std::path::PathBuf;

mod chat;
mod files;

use self::chat::{CHAT, CHAT_CLIENT};
use self::files::{CLIENT, FILES};
use super::suggest::closest;
use super::values::{
    check_address, parse_fsync, parse_limit, parse_store, parse_timeout, parse_transport,
};
use super::{Command, Options, ValueError};

/// One flag: its names, its help line and how its value lands in the options.
pub(super) struct FlagSpec {
    /// The name without the leading `--`, e.g. `max-body`.
    pub name: &'static str,
    /// The environment variable read when the flag is absent: `FERRY_` + the name in upper
    /// case with hyphens as underscores.
    pub env: &'static str,
    /// What the value looks like in help and error texts (`ADDR`, `SIZE`, `udp|tcp`).
    pub placeholder: &'static str,
    /// The default as help prints it; a test checks it against the `Default` options.
    pub default: &'static str,
    /// False when `default` describes what happens without the flag rather than being a value
    /// the flag could take (`--username`: asked at start). Only the test that checks help's
    /// defaults against the `Default` options reads it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub default_is_value: bool,
    /// A flag that takes no value on the command line (`--read-only`): present means `true`;
    /// its variable and `--flag=VALUE` still take `1`/`0`, `true`/`false`, `on`/`off`.
    pub switch: bool,
    /// What the flag controls, a sentence or two, wrapped by the help writer.
    pub summary: &'static str,
    /// Checks a non-empty value and stores it in the options.
    pub apply: fn(&mut Options, &str) -> Result<(), ValueError>,
}

/// One argument that is not a flag (`HOST`, `PORT` of `chat-client`); unless required, it may
/// be left out, from the last one back.
pub(super) struct PositionalSpec {
    /// How help and errors name it.
    pub name: &'static str,
    /// The default as help prints it.
    pub default: &'static str,
    /// What it is, for help.
    pub summary: &'static str,
    /// Whether it must be given (`default` is then not used).
    pub required: bool,
    /// Checks the value and stores it in the options.
    pub apply: fn(&mut Options, &str) -> Result<(), ValueError>,
}

/// One subcommand: its name, its help texts and the flags it takes, in help order.
pub(super) struct SubcommandSpec {
    /// The word on the command line.
    pub name: &'static str,
    /// One line for the general help and the heading of its own help.
    pub summary: &'static str,
    /// A paragraph for its own help.
    pub about: &'static str,
    /// The flags it takes, in the order its help lists them.
    pub flags: &'static [&'static FlagSpec],
    /// The arguments it takes besides flags, in order; most take none.
    pub positionals: &'static [&'static PositionalSpec],
    /// Example argument lists (after the program name), each with what it does.
    pub examples: &'static [(&'static str, &'static str)],
    kind: SubcommandKind,
}

impl SubcommandSpec {
    /// Every subcommand, in the order the general help lists them.
    pub fn all() -> &'static [&'static SubcommandSpec] {
        SUBCOMMANDS
    }

    /// The subcommand that runs when the arguments name none.
    pub fn default_subcommand() -> &'static SubcommandSpec {
        &SERVE
    }

    /// True for the subcommand that runs when the arguments name none.
    pub fn is_default(&self) -> bool {
        self.kind == SubcommandKind::Serve
    }

    /// The subcommand called `name`, if there is one.
    pub fn find(name: &str) -> Option<&'static SubcommandSpec> {
        SUBCOMMANDS.iter().copied().find(|spec| spec.name == name)
    }

    /// The subcommand a mistyped `name` most likely meant.
    pub fn suggest_subcommand(name: &str) -> Option<&'static str> {
        closest(name, SUBCOMMANDS.iter().map(|spec| spec.name))
    }

    /// The subcommands that take the flag `name` (without dashes), in table order.
    pub fn taking(name: &str) -> Vec<&'static str> {
        let takes = |spec: &&&SubcommandSpec| spec.flags.iter().any(|flag| flag.name == name);
        SUBCOMMANDS
            .iter()
            .filter(takes)
            .map(|spec| spec.name)
            .collect()
    }

    /// The flag of this subcommand (or `help`, `version`) a mistyped `name` most likely meant,
    /// without dashes.
    pub fn suggest_flag(&self, name: &str) -> Option<&'static str> {
        let names = self.flags.iter().map(|flag| flag.name);
        closest(name, names.chain(["help", "version"]))
    }

    /// Wraps parsed options into the command this subcommand stands for.
    pub fn command(&self, options: Options) -> Command {
        match self.kind {
            SubcommandKind::Serve => Command::Serve(options.serve),
            SubcommandKind::Http => Command::Http(options.serve.web),
            SubcommandKind::Socket => Command::Socket(options.serve.socket),
            SubcommandKind::Chat => Command::Chat(options.chat),
            SubcommandKind::ChatClient => Command::ChatClient(options.client),
            SubcommandKind::Files => Command::Files(options.files),
            SubcommandKind::Client => Command::Client(options.file_client),
        }
    }
}

/// Which [`Command`] a subcommand produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubcommandKind {
    Serve,
    Http,
    Socket,
    Chat,
    ChatClient,
    Files,
    Client,
}

fn set_http(options: &mut Options, value: &str) -> Result<(), ValueError> {
    check_address(value)?;
    options.serve.web.http = value.to_string();
    Ok(())
}

fn set_forward(options: &mut Options, value: &str) -> Result<(), ValueError> {
    check_address(value)?;
    options.serve.web.forward = value.to_string();
    Ok(())
}

fn set_static(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.serve.web.static_dir = PathBuf::from(value);
    Ok(())
}

fn set_max_body(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.serve.web.max_body = parse_limit(value)?;
    Ok(())
}

fn set_ack_timeout(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.serve.web.ack_timeout = parse_timeout(value)?;
    Ok(())
}

fn set_header_timeout(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.serve.web.header_timeout = parse_timeout(value)?;
    Ok(())
}

fn set_idle_timeout(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.serve.web.idle_timeout = parse_timeout(value)?;
    Ok(())
}

fn set_body_timeout(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.serve.web.body_timeout = parse_timeout(value)?;
    Ok(())
}

fn set_write_timeout(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.serve.web.write_timeout = parse_timeout(value)?;
    Ok(())
}

/// `--transport` sets both halves, so in `serve` the web app and the socket server agree.
fn set_transport(options: &mut Options, value: &str) -> Result<(), ValueError> {
    let transport = parse_transport(value)?;
    options.serve.web.transport = transport;
    options.serve.socket.transport = transport;
    Ok(())
}

fn set_socket(options: &mut Options, value: &str) -> Result<(), ValueError> {
    check_address(value)?;
    options.serve.socket.socket = value.to_string();
    Ok(())
}

fn set_store(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.serve.socket.store = parse_store(value)?;
    Ok(())
}

fn set_fsync(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.serve.socket.fsync = parse_fsync(value)?;
    Ok(())
}

const HTTP: FlagSpec = FlagSpec {
    name: "http",
    env: "FERRY_HTTP",
    placeholder: "ADDR",
    default: "0.0.0.0:3000",
    default_is_value: true,
    switch: false,
    summary: "Where the web app listens.",
    apply: set_http,
};

const FORWARD: FlagSpec = FlagSpec {
    name: "forward",
    env: "FERRY_FORWARD",
    placeholder: "ADDR",
    default: "127.0.0.1:5000",
    default_is_value: true,
    switch: false,
    summary: "The socket server that stores the messages (HOST:PORT; a host name is looked up \
              again when sends fail).",
    apply: set_forward,
};

const STATIC: FlagSpec = FlagSpec {
    name: "static",
    env: "FERRY_STATIC",
    placeholder: "DIR",
    default: "static",
    default_is_value: true,
    switch: false,
    summary: "The folder holding the pages and assets.",
    apply: set_static,
};

const MAX_BODY: FlagSpec = FlagSpec {
    name: "max-body",
    env: "FERRY_MAX_BODY",
    placeholder: "SIZE",
    default: "64K",
    default_is_value: true,
    switch: false,
    summary: "The largest form body; a larger one gets 413.",
    apply: set_max_body,
};

const ACK_TIMEOUT: FlagSpec = FlagSpec {
    name: "ack-timeout",
    env: "FERRY_ACK_TIMEOUT",
    placeholder: "DURATION",
    default: "2s",
    default_is_value: true,
    switch: false,
    summary: "How long to keep resending a message until the socket server acknowledges it; \
              then the form answers 503.",
    apply: set_ack_timeout,
};

const HEADER_TIMEOUT: FlagSpec = FlagSpec {
    name: "header-timeout",
    env: "FERRY_HEADER_TIMEOUT",
    placeholder: "DURATION",
    default: "10s",
    default_is_value: true,
    switch: false,
    summary: "How long a client may take to send a whole request head; then it gets 408.",
    apply: set_header_timeout,
};

const IDLE_TIMEOUT: FlagSpec = FlagSpec {
    name: "idle-timeout",
    env: "FERRY_IDLE_TIMEOUT",
    placeholder: "DURATION",
    default: "15s",
    default_is_value: true,
    switch: false,
    summary: "How long an idle keep-alive connection stays open.",
    apply: set_idle_timeout,
};

const BODY_TIMEOUT: FlagSpec = FlagSpec {
    name: "body-timeout",
    env: "FERRY_BODY_TIMEOUT",
    placeholder: "DURATION",
    default: "10s",
    default_is_value: true,
    switch: false,
    summary: "How long a request body may stall between two reads; then it gets 408.",
    apply: set_body_timeout,
};

const WRITE_TIMEOUT: FlagSpec = FlagSpec {
    name: "write-timeout",
    env: "FERRY_WRITE_TIMEOUT",
    placeholder: "DURATION",
    default: "10s",
    default_is_value: true,
    switch: false,
    summary: "How long a client may take no byte of its answer before it is closed.",
    apply: set_write_timeout,
};

const TRANSPORT: FlagSpec = FlagSpec {
    name: "transport",
    env: "FERRY_TRANSPORT",
    placeholder: "udp|tcp",
    default: "udp",
    default_is_value: true,
    switch: false,
    summary: "How messages travel from the web app to the socket server: udp datagrams, or tcp \
              (newline-delimited JSON over one connection per web app). The web app and the \
              socket server must be given the same transport.",
    apply: set_transport,
};

const SOCKET: FlagSpec = FlagSpec {
    name: "socket",
    env: "FERRY_SOCKET",
    placeholder: "ADDR",
    default: "0.0.0.0:5000",
    default_is_value: true,
    switch: false,
    summary: "Where the socket server listens.",
    apply: set_socket,
};

const STORE: FlagSpec = FlagSpec {
    name: "store",
    env: "FERRY_STORE",
    placeholder: "FILE|URL",
    default: "storage/data.json",
    default_is_value: true,
    switch: false,
    summary: "A JSON file to append messages to, created with its folder if missing, or a MongoDB \
              database (mongodb://HOST:PORT/DB): one document per message in 'messages'.",
    apply: set_store,
};

const FSYNC: FlagSpec = FlagSpec {
    name: "fsync",
    env: "FERRY_FSYNC",
    placeholder: "always|batch|never",
    default: "batch",
    default_is_value: true,
    switch: false,
    summary: "When stored messages are forced to disk: after each message, once per group of \
              messages that arrive together, or never (left to the system).",
    apply: set_fsync,
};

const SERVE: SubcommandSpec = SubcommandSpec {
    name: "serve",
    summary: "run the web app and the socket server in one process",
    about: "The web app forwards each message to the socket server of the same process, at the \
            address that server bound. This is what runs when no subcommand is given.",
    flags: &[
        &HTTP,
        &STATIC,
        &MAX_BODY,
        &ACK_TIMEOUT,
        &HEADER_TIMEOUT,
        &BODY_TIMEOUT,
        &IDLE_TIMEOUT,
        &WRITE_TIMEOUT,
        &SOCKET,
        &STORE,
        &FSYNC,
        &TRANSPORT,
    ],
    examples: &[
        ("", "web app on port 3000, socket server on port 5000"),
        (
            "serve --http 127.0.0.1:8000",
            "web app on this machine only, port 8000",
        ),
        (
            "serve --store /var/lib/ferry/data.json",
            "keep messages in another file",
        ),
    ],
    positionals: &[],
    kind: SubcommandKind::Serve,
};

const HTTP_SUBCOMMAND: SubcommandSpec = SubcommandSpec {
    name: "http",
    summary: "run the web app alone, forwarding messages to a socket server",
    about: "Serves the pages and the form, and forwards each submitted message to the socket \
            server at --forward, which runs as its own process ('socket').",
    flags: &[
        &HTTP,
        &FORWARD,
        &STATIC,
        &MAX_BODY,
        &ACK_TIMEOUT,
        &HEADER_TIMEOUT,
        &BODY_TIMEOUT,
        &IDLE_TIMEOUT,
        &WRITE_TIMEOUT,
        &TRANSPORT,
    ],
    examples: &[
        (
            "http --forward 10.0.0.5:5000",
            "web app for a socket server on another host",
        ),
        (
            "http --http [::]:3000 --static /srv/ferry/static",
            "listen on IPv6, pages from /srv",
        ),
    ],
    positionals: &[],
    kind: SubcommandKind::Http,
};

const SOCKET_SUBCOMMAND: SubcommandSpec = SubcommandSpec {
    name: "socket",
    summary: "run the socket server alone, storing the messages it receives",
    about: "Receives messages from web apps ('http'), stamps each with the time it arrived, \
            stores it, and acknowledges it once stored.",
    flags: &[&SOCKET, &STORE, &FSYNC, &TRANSPORT],
    examples: &[
        (
            "socket --socket 127.0.0.1:5000",
            "accept messages from this machine only",
        ),
        (
            "socket --store /var/lib/ferry/data.json --fsync always",
            "sync every message",
        ),
    ],
    positionals: &[],
    kind: SubcommandKind::Socket,
};

static SUBCOMMANDS: &[&SubcommandSpec] = &[
    &SERVE,
    &HTTP_SUBCOMMAND,
    &SOCKET_SUBCOMMAND,
    &FILES,
    &CLIENT,
    &CHAT,
    &CHAT_CLIENT,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_environment_variable_is_named_after_its_flag() {
        for spec in SubcommandSpec::all() {
            for flag in spec.flags {
                let expected =
                    format!("FERRY_{}", flag.name.to_ascii_uppercase().replace('-', "_"));
                assert_eq!(flag.env, expected);
            }
        }
    }

    #[test]
    fn each_subcommand_takes_each_flag_once() {
        for spec in SubcommandSpec::all() {
            for (index, flag) in spec.flags.iter().enumerate() {
                let later = spec.flags.iter().skip(index + 1);
                assert!(
                    later.filter(|other| other.name == flag.name).count() == 0,
                    "{}",
                    flag.name
                );
            }
        }
    }
}
