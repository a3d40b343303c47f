//! The command line of ferry: arguments and environment variables in, a [`Command`] out.
//!
//! Both binaries (`ferry` and `ferry-std`) call [`parse`], so every flag, default, environment
//! variable, help text and error message is decided once, here. This module never reads the
//! process arguments or the environment itself, never prints and never exits: the shell passes
//! the arguments and a lookup function in, prints the help, version or error it gets back, and
//! exits with [`CliError::exit_code`] on an error.
//!
//! Precedence for every flag: the command line, then its `FERRY_<FLAG>` variable (an empty one
//! counts as unset), then the default. Variables of flags the subcommand does not take are never
//! read, so a `FERRY_FORWARD` left in the environment does not break `ferry serve`.

mod error;
mod flags;
mod help;
mod suggest;
#[cfg(test)]
mod tests;
mod values;

use std::path::PathBuf;
use std::time::Duration;

pub use error::{CliError, CliErrorKind, ValueError, ValueSource};
// Shells still name these through the command line until they move to `ferry-cli`.
pub use crate::datagram::{forward_target, Transport};
pub use crate::files::client::ClientMethod;

use flags::{FlagSpec, SubcommandSpec};

/// What the user asked the binary to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the web app and the socket server in one process (also: no subcommand at all).
    Serve(ServeOptions),
    /// Run the web app alone, forwarding messages to a separate socket server.
    Http(WebOptions),
    /// Run the socket server alone.
    Socket(SocketOptions),
    /// Run the chat server.
    Chat(ChatOptions),
    /// Chat from this terminal with a chat server.
    ChatClient(ChatClientOptions),
    /// Run the file server.
    Files(FilesOptions),
    /// Download, upload or inspect one file on a file server.
    Client(FileClientOptions),
    /// Print this text on stdout and exit successfully (`-h`/`--help` anywhere).
    Help(String),
    /// Print this text on stdout and exit successfully (`-V`/`--version` anywhere).
    Version(String),
}

/// Settings of `ferry serve`: the web app and the socket server in one process.
///
/// `web.forward` keeps its default and is not used: in serve mode the web app forwards to the
/// socket server of the same process, at [`forward_target`] of the address that server bound.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// `--write-timeout`: how long a client may take no byte of a response before it is closed.
    pub write_timeout: Duration,
    /// `--transport`: how messages travel to the socket server.
    pub transport: Transport,
}

impl Default for WebOptions {
    /// The documented defaults; `ferry --help` prints the same values.
    fn default() -> Self {
        WebOptions {
            http: "0.0.0.0:3000".to_string(),
            forward: "127.0.0.1:5000".to_string(),
            static_dir: PathBuf::from("static"),
            max_body: 64 * 1024,
            ack_timeout: Duration::from_secs(2),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(15),
            body_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            transport: Transport::Udp,
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
    pub fsync: FsyncMode,
}

impl Default for SocketOptions {
    /// The documented defaults; `ferry --help` prints the same values.
    fn default() -> Self {
        SocketOptions {
            socket: "0.0.0.0:5000".to_string(),
            store: StoreLocation::File(PathBuf::from("storage/data.json")),
            transport: Transport::Udp,
            fsync: FsyncMode::Batch,
        }
    }
}

/// Settings of the chat server (`ferry chat`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatOptions {
    /// `--bind`: where the chat server listens, `HOST:PORT`; the shell resolves and binds it.
    pub bind: String,
    /// `--history`: how many recent messages a newcomer is sent.
    pub history: usize,
    /// `--idle-timeout`: how long a client may send nothing before it is disconnected.
    pub idle_timeout: Duration,
}

impl Default for ChatOptions {
    /// The documented defaults; `ferry chat --help` prints the same values.
    fn default() -> Self {
        ChatOptions {
            bind: "0.0.0.0:7072".to_string(),
            history: crate::chat::DEFAULT_HISTORY,
            idle_timeout: crate::chat::DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// Settings of the terminal chat client (`ferry chat-client`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatClientOptions {
    /// `HOST`: the chat server's host, a name or an IP address (IPv6 without brackets).
    pub host: String,
    /// `PORT`: the chat server's port.
    pub port: u16,
    /// `--username`: the name to chat under; `None` asks for one.
    pub username: Option<String>,
}

impl Default for ChatClientOptions {
    /// The documented defaults: the chat server on this machine, a name asked at start.
    fn default() -> Self {
        ChatClientOptions {
            host: "127.0.0.1".to_string(),
            port: 7072,
            username: None,
        }
    }
}

/// Settings of the file server (`ferry files`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesOptions {
    /// `--bind`: where the file server listens, `HOST:PORT`; the shell resolves and binds it.
    pub bind: String,
    /// `--root`: the folder served.
    pub root: PathBuf,
    /// `--log`: the file the access log is appended to; `None` prints it on stdout.
    pub log: Option<PathBuf>,
    /// `--read-only`: refuse uploads.
    pub read_only: bool,
    /// `--max-upload`: the largest upload, in bytes (never zero).
    pub max_upload: u64,
    /// `--header-timeout`: how long a client may take to send a head.
    pub header_timeout: Duration,
    /// `--body-timeout`: how long an upload may stall between two reads.
    pub body_timeout: Duration,
    /// `--idle-timeout`: how long an idle keep-alive connection stays open.
    pub idle_timeout: Duration,
    /// `--write-timeout`: how long a client may take no byte of its answer.
    pub write_timeout: Duration,
}

impl Default for FilesOptions {
    /// The documented defaults; `ferry files --help` prints the same values.
    fn default() -> Self {
        FilesOptions {
            bind: "127.0.0.1:8080".to_string(),
            root: PathBuf::from("."),
            log: None,
            read_only: false,
            max_upload: crate::files::DEFAULT_MAX_UPLOAD,
            header_timeout: crate::http::DEFAULT_HEADER_TIMEOUT,
            body_timeout: crate::http::DEFAULT_BODY_TIMEOUT,
            idle_timeout: crate::http::DEFAULT_IDLE_TIMEOUT,
            write_timeout: crate::http::DEFAULT_WRITE_TIMEOUT,
        }
    }
}

/// Settings of the file client (`ferry client`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileClientOptions {
    /// `HOST`: the file server's host, a name or an IP address (IPv6 without brackets).
    pub host: String,
    /// `PORT`: the file server's port.
    pub port: u16,
    /// `METHOD`: what to do with the file.
    pub method: ClientMethod,
    /// `PATH`: the file's path on the server, starting with `/`, sent as written.
    pub path: String,
    /// `--out`: where GET saves the download; `None` is the last name of the path, here.
    pub out: Option<PathBuf>,
    /// `--file`: the local file PUT uploads; `None` is the last name of the path, here.
    pub file: Option<PathBuf>,
}

impl Default for FileClientOptions {
    /// What a command line sets before its arguments are read (all four are required).
    fn default() -> Self {
        FileClientOptions {
            host: "127.0.0.1".to_string(),
            port: 8080,
            method: ClientMethod::Get,
            path: "/".to_string(),
            out: None,
            file: None,
        }
    }
}

/// Where the socket server keeps messages (`--store`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A `data.json` file, created with its folder when missing.
    File(PathBuf),
    /// A MongoDB database; holds the whole `mongodb://` URL as given.
    MongoDb(String),
}

/// When the socket server forces stored messages to disk (`--fsync`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FsyncMode {
    /// After every message, before acknowledging it.
    Always,
    /// Once for each group of messages that arrive together, before acknowledging them.
    #[default]
    Batch,
    /// Never; the operating system writes the data back when it chooses.
    Never,
}

/// Turns the arguments (without the program name) and the environment into a [`Command`].
///
/// `program` names the binary in help, version and error texts. `env` looks up one environment
/// variable (`|name| std::env::var(name).ok()` in a shell, a map in tests); it is asked only
/// for the `FERRY_*` variables of the flags the chosen subcommand takes.
pub fn parse(
    program: &str,
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Command, CliError> {
    let named = args.first().filter(|first| !first.starts_with('-'));
    let subcommand = named.and_then(|name| SubcommandSpec::find(name));

    // Help and version win wherever they appear, even after a mistake, because a user who
    // typed one wants to read it rather than an error about the rest of the line.
    for arg in args {
        match arg.as_str() {
            "-h" | "--help" => {
                return Ok(Command::Help(match subcommand {
                    Some(spec) => help::subcommand_help(program, spec),
                    None => help::general_help(program),
                }));
            }
            "-V" | "--version" => return Ok(Command::Version(version(program))),
            _ => {}
        }
    }

    let (spec, flag_args) = match named {
        None => (SubcommandSpec::default_subcommand(), args),
        Some(name) => match subcommand {
            Some(spec) => (spec, args.get(1..).unwrap_or_default()),
            None => {
                return Err(CliError::new(
                    program,
                    None,
                    CliErrorKind::UnknownSubcommand {
                        name: name.clone(),
                        suggestion: SubcommandSpec::suggest_subcommand(name),
                    },
                ))
            }
        },
    };
    let fail = |kind| CliError::new(program, Some(spec.name), kind);

    let (given, positionals) = collect_flags(spec, flag_args).map_err(fail)?;
    let mut options = Options::default();
    for (flag, from_command_line) in given {
        let (value, source) = match from_command_line {
            Some(value) => (value, ValueSource::CommandLine),
            None => match env(flag.env) {
                Some(value) if !value.is_empty() => (value, ValueSource::Environment(flag.env)),
                _ => continue,
            },
        };
        if let Err(reason) = (flag.apply)(&mut options, &value) {
            return Err(fail(CliErrorKind::InvalidValue {
                flag: flag.name,
                value,
                source,
                reason,
            }));
        }
    }
    let required = spec.positionals.iter().filter(|p| p.required);
    if let Some(missing) = required.clone().nth(positionals.len()) {
        return Err(fail(CliErrorKind::MissingArgument { name: missing.name }));
    }
    for (positional, value) in spec.positionals.iter().zip(positionals) {
        if let Err(reason) = (positional.apply)(&mut options, &value) {
            return Err(fail(CliErrorKind::InvalidArgument {
                name: positional.name,
                value,
                reason,
            }));
        }
    }
    Ok(spec.command(options))
}

/// Every subcommand's options while a command line is read; the chosen subcommand's part
/// becomes the [`Command`]. Flags store into it through the tables in `flags.rs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Options {
    pub serve: ServeOptions,
    pub chat: ChatOptions,
    pub client: ChatClientOptions,
    pub files: FilesOptions,
    pub file_client: FileClientOptions,
}

/// The `--version` text: the program name and the crate version.
fn version(program: &str) -> String {
    format!("{program} {}", env!("CARGO_PKG_VERSION"))
}

/// The flags of a subcommand, each with the value given for it, and the other arguments.
type Collected = (Vec<(&'static FlagSpec, Option<String>)>, Vec<String>);

/// Scans the arguments after the subcommand; pairs each of `spec.flags` with the value given for
/// it and keeps up to as many other arguments as the subcommand takes.
fn collect_flags(
    spec: &'static SubcommandSpec,
    args: &[String],
) -> Result<Collected, CliErrorKind> {
    let mut given: Vec<(&'static FlagSpec, Option<String>)> =
        spec.flags.iter().map(|&flag| (flag, None)).collect();
    let mut positionals = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let Some(body) = arg.strip_prefix("--").filter(|body| !body.is_empty()) else {
            if !arg.starts_with('-') && positionals.len() < spec.positionals.len() {
                positionals.push(arg.clone());
                continue;
            }
            return Err(not_a_flag(spec, arg));
        };
        let (name, inline) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let Some((flag, slot)) = given.iter_mut().find(|(flag, _)| flag.name == name) else {
            return Err(unknown_flag(spec, arg, name));
        };
        if slot.is_some() {
            return Err(CliErrorKind::RepeatedFlag { flag: flag.name });
        }
        let value = match inline {
            Some(value) => Some(value.to_string()),
            // A switch present on the command line is on; it never takes the next argument.
            None if flag.switch => Some("on".to_string()),
            // A following flag is not taken as the value: `--http --static x` most likely lost
            // its address, and a value that starts with `--` can still be written `--http=--x`.
            None => args.next().filter(|next| !next.starts_with("--")).cloned(),
        };
        match value {
            Some(value) if !value.is_empty() => *slot = Some(value),
            _ => {
                let (flag, placeholder) = (flag.name, flag.placeholder);
                return Err(CliErrorKind::MissingValue { flag, placeholder });
            }
        }
    }
    Ok((given, positionals))
}

/// The error for an argument that does not start with `--` (or is `--` alone).
fn not_a_flag(spec: &'static SubcommandSpec, arg: &str) -> CliErrorKind {
    if arg.len() > 1 && arg.starts_with('-') && arg != "--" {
        // A single-dash flag: ferry has only `-h` and `-V`, which were handled before, so
        // suggest the long flag it resembles (`-http` is most likely `--http`).
        let suggestion = spec.suggest_flag(arg.trim_start_matches('-'));
        CliErrorKind::UnknownFlag {
            flag: arg.to_string(),
            suggestion,
        }
    } else {
        CliErrorKind::UnexpectedArgument {
            argument: arg.to_string(),
        }
    }
}

/// The error for `--name` (written as `arg`) that `spec` does not take.
fn unknown_flag(spec: &'static SubcommandSpec, arg: &str, name: &str) -> CliErrorKind {
    if matches!(name, "help" | "version") {
        return CliErrorKind::UnexpectedValue {
            flag: name.to_string(),
        };
    }
    let taken_by = SubcommandSpec::taking(name);
    if !taken_by.is_empty() {
        return CliErrorKind::FlagNotTaken {
            flag: name.to_string(),
            taken_by,
        };
    }
    let written = arg.split_once('=').map_or(arg, |(flag, _)| flag);
    CliErrorKind::UnknownFlag {
        flag: written.to_string(),
        suggestion: spec.suggest_flag(name),
    }
}
