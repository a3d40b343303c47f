//! `ferry-cli`: the command line of ferry. Arguments and `FERRY_*` variables in, a [`Command`]
//! out, whose options the shells turn into the configs of the core's machines.
//!
//! Both binaries (`ferry` and `ferry-std`) call [`parse`], so every flag, default, environment
//! variable, help text and error message is decided once, here, on clap. Defaults are the ones
//! the core and storage own (`ferry_core::http::DEFAULT_IDLE_TIMEOUT`, ...), written in the
//! flags' own notation, and each options struct maps its flags onto configs once
//! ([`WebOptions::http_config`], [`FilesOptions::files_config`], [`ChatOptions::chat_config`],
//! ...). This crate never prints and never exits: the shell prints the help, version or error
//! it gets back and exits with [`CliError::exit_code`] on an error.
//!
//! Precedence for every flag: the command line, then its `FERRY_<FLAG>` variable (an empty one
//! counts as unset), then the default. Variables of flags the subcommand does not take are
//! never used, so a `FERRY_FORWARD` left in the environment does not break `ferry serve`.

mod chat;
mod command;
mod error;
mod files;
mod help;
mod reading;
mod size;
mod suggest;
#[cfg(test)]
mod tests;
mod tls;
mod values;
mod web;

use std::ffi::OsString;

use clap::error::ErrorKind;

pub use chat::{ChatClientOptions, ChatOptions, ServerAddress};
pub use error::{CliError, CliErrorKind, ValueSource};
pub use files::{FileClientOptions, FilesOptions, PasswdOptions};
pub use size::{DurationError, SizeError};
pub use tls::{CertOptions, ClientTlsFlags, TlsFiles, TlsFlags};
pub use values::ValueError;
pub use web::{ServeOptions, SocketOptions, WebOptions};

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
    /// Write a self-signed certificate and its key for TLS.
    Cert(CertOptions),
    /// Set a user's password in a file server's password file.
    Passwd(PasswdOptions),
    /// Print this text on stdout and exit successfully (`-h`/`--help` anywhere).
    Help(String),
    /// Print this text on stdout and exit successfully (`-V`/`--version` anywhere).
    Version(String),
}

/// Turns the arguments (without the program name) and this process's `FERRY_*` variables into
/// a [`Command`]. `program` names the binary in help, version and error texts.
pub fn parse(program: &str, args: &[String]) -> Result<Command, CliError> {
    if let Some(command) = help_or_version(program, args) {
        return Ok(command);
    }
    let clap_command = with_variables(command::build(program), args);
    let argv = std::iter::once(program).chain(args.iter().map(String::as_str));
    let parsed = clap_command
        .clone()
        .try_get_matches_from(argv)
        .and_then(|matches| command::command(&matches));
    match parsed {
        Ok(command) => Ok(command),
        // Help or version clap found where the scan above did not look, as in `-hV`.
        Err(shown) if shown.kind() == ErrorKind::DisplayVersion => Ok(version(program)),
        Err(shown) if !shown.use_stderr() => Ok(Command::Help(shown.to_string())),
        Err(error) => Err(reading::cli_error(program, &clap_command, args, &error)),
    }
}

/// Help and version win wherever they appear, even after a mistake, because a user who typed
/// one wants to read it rather than an error about the rest of the line.
fn help_or_version(program: &str, args: &[String]) -> Option<Command> {
    let asked = args.iter().find_map(|arg| match arg.as_str() {
        "-h" | "--help" => Some(true),
        "-V" | "--version" => Some(false),
        _ => None,
    })?;
    if !asked {
        return Some(version(program));
    }
    let clap_command = command::build(program);
    let subcommand = args
        .first()
        .and_then(|first| clap_command.find_subcommand(first))
        .map(|sub| sub.get_name().to_string());
    let argv = [program.to_string()].into_iter().chain(subcommand);
    let argv = argv.chain(["--help".to_string()]);
    let text = match clap_command.try_get_matches_from(argv) {
        Err(shown) => shown.to_string(),
        Ok(_) => String::new(),
    };
    Some(Command::Help(text))
}

/// `ferry 0.1.0`, whichever subcommand asked.
fn version(program: &str) -> Command {
    Command::Version(format!("{program} {}", env!("CARGO_PKG_VERSION")))
}

/// Leaves clap only the variables ferry's rules let it read. clap reads the variable of every
/// flag of the top level, where `serve`'s flags are, even when a subcommand is named, so those
/// are forgotten unless `serve` runs without its name. And an empty variable counts as unset,
/// where clap would read an empty value.
fn with_variables(command: clap::Command, args: &[String]) -> clap::Command {
    let named = args
        .first()
        .and_then(|first| command.find_subcommand(first));
    let command = match named {
        Some(_) => command.mut_args(|arg| arg.env(None)),
        None => command.mut_args(unset_if_empty),
    };
    command.mut_subcommands(|sub| sub.mut_args(unset_if_empty))
}

/// Forgets the variable of an argument when it is set but empty.
fn unset_if_empty(arg: clap::Arg) -> clap::Arg {
    let empty = arg
        .get_env()
        .and_then(std::env::var_os)
        .is_some_and(|value: OsString| value.is_empty());
    if empty {
        arg.env(None)
    } else {
        arg
    }
}
