//! The shape of ferry's command line as clap sees it: the subcommands, `serve` as what runs
//! without one, and the settings every subcommand shares (help layout, variables).

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::chat::{ChatClientOptions, ChatOptions};
use crate::files::{FileClientOptions, FilesOptions, PasswdOptions};
use crate::help;
use crate::tls::CertOptions;
use crate::web::{HttpArgs, ServeArgs, SocketArgs};
use crate::Command;

/// `ferry [SUBCOMMAND] [OPTIONS]`: a subcommand, or `serve`'s flags alone.
#[derive(Parser, Debug)]
#[command(
    version,
    propagate_version = true,
    args_conflicts_with_subcommands = true,
    disable_help_subcommand = true,
    subcommand_value_name = "SUBCOMMAND",
    subcommand_help_heading = "Subcommands"
)]
struct Cli {
    #[command(subcommand)]
    subcommand: Option<Subcommands>,
    #[command(flatten)]
    serve: ServeArgs,
}

/// The subcommands, in the order help lists them.
#[derive(Subcommand, Debug)]
enum Subcommands {
    /// run the web app and the socket server in one process
    #[command(
        before_help = "The web app forwards each message to the socket server of the \
                             same process, at the address that server bound. This is what runs \
                             when no subcommand is given."
    )]
    Serve(ServeArgs),
    /// run the web app alone, forwarding messages to a socket server
    #[command(
        before_help = "Serves the pages and the form, and forwards each submitted message \
                             to the socket server at --forward, which runs as its own process \
                             ('socket')."
    )]
    Http(HttpArgs),
    /// run the socket server alone, storing the messages it receives
    #[command(
        before_help = "Receives messages from web apps ('http'), stamps each with the \
                             time it arrived, stores it, and acknowledges it once stored."
    )]
    Socket(SocketArgs),
    /// serve a folder over HTTP: GET and HEAD downloads, PUT uploads
    #[command(
        before_help = "Serves the files under --root: GET and HEAD (with ranges and \
                             conditional requests; a folder serves its index.html), and PUT, \
                             which writes a file atomically and creates folders as needed (201 \
                             new, 204 replaced). No request can read or write outside the root. \
                             Every request is logged in Combined Log Format with its duration."
    )]
    Files(FilesOptions),
    /// download, upload or inspect a file on a file server
    #[command(
        before_help = "GET saves the file under the last name of PATH in the current \
                             folder (or --out) and prints 'saved NAME (N bytes)'; PUT uploads \
                             the local file of that name (or --file); HEAD prints the status and \
                             headers. Any answer but 2xx is printed on stderr and the exit code \
                             is 1. Long transfers show a progress bar when stderr is a terminal."
    )]
    Client(FileClientOptions),
    /// run the chat server, where terminal clients talk in real time
    #[command(
        before_help = "Clients connect over TCP and send one JSON object per line, \
                             {\"username\": \"...\", \"message\": \"...\"}; each message goes to \
                             every other client. A client's first object claims its username. \
                             Newcomers get the recent history; joins and leaves are announced; \
                             a client that falls too far behind reading is disconnected. \
                             How many clients at once: ferry, as many as its file descriptor \
                             limit allows (raised to the hard limit at start); ferry-std, at \
                             most 1024 (a reader and a writer thread each). One more gets an \
                             error line and is closed; the number is printed at start."
    )]
    Chat(ChatOptions),
    /// chat from this terminal with a chat server
    #[command(
        before_help = "Connects to the chat server at HOST PORT, asks for a username \
                             unless --username gives one, then prints what others say as \
                             'username: message' while every line typed is sent. Ctrl-D or \
                             Ctrl-C leaves."
    )]
    ChatClient(ChatClientOptions),
    /// set a user's password in a file server's password file
    #[command(
        before_help = "Asks for the password twice, without showing it (or reads two lines \
                             from standard input when it is not a terminal), and writes USER's \
                             line of FILE as an Argon2id hash (19 MiB, t=2, p=1): replaced if \
                             USER has one, added otherwise; FILE is created, readable by its \
                             owner only, when missing. Serve with 'files --auth FILE'."
    )]
    Passwd(PasswdOptions),
    /// write a self-signed certificate and key for TLS
    #[command(
        before_help = "Writes cert.pem and key.pem into --out: a new P-256 key and a \
                             certificate for it, signed by itself, valid for a year for the \
                             names given. Serve with --tls-cert cert.pem --tls-key key.pem and \
                             let clients trust it with --cacert cert.pem (curl takes the same \
                             flag). For local use: browsers warn about any certificate no \
                             authority signed."
    )]
    Cert(CertOptions),
}

/// ferry's command line for the binary called `program`, as clap reads it.
pub(crate) fn build(program: &str) -> clap::Command {
    let top = Cli::command()
        .name(program.to_string())
        .bin_name(program.to_string())
        .term_width(help::WIDTH)
        .help_template(help::general_template(program))
        .override_usage(format!("{program} [SUBCOMMAND] [OPTIONS]"))
        .after_help(help::general_after_help(program))
        // `serve`'s flags are there to run it without its name; its own help documents them.
        .mut_args(|arg| arg.hide(true))
        .mut_args(shared_arg_settings);
    top.mut_subcommands(|sub| {
        let name = sub.get_name().to_string();
        let after_help = help::subcommand_after_help(program, &sub);
        let sub = sub
            .term_width(help::WIDTH)
            .help_template(help::subcommand_template(program, &name))
            .after_help(after_help)
            .mut_args(shared_arg_settings);
        if name != DEFAULT_SUBCOMMAND {
            return sub;
        }
        sub.override_usage(format!(
            "{program} {name} [OPTIONS]\n       {program} [OPTIONS]"
        ))
    })
}

/// The command a successful parse stands for.
pub(crate) fn command(matches: &clap::ArgMatches) -> Result<Command, clap::Error> {
    let cli = Cli::from_arg_matches(matches)?;
    Ok(match cli.subcommand {
        None => Command::Serve(cli.serve.into()),
        Some(Subcommands::Serve(args)) => Command::Serve(args.into()),
        Some(Subcommands::Http(args)) => Command::Http(args.into()),
        Some(Subcommands::Socket(args)) => Command::Socket(args.into()),
        Some(Subcommands::Files(options)) => Command::Files(options),
        Some(Subcommands::Client(options)) => Command::Client(options),
        Some(Subcommands::Chat(options)) => Command::Chat(options),
        Some(Subcommands::ChatClient(options)) => Command::ChatClient(options),
        Some(Subcommands::Cert(options)) => Command::Cert(options),
        Some(Subcommands::Passwd(options)) => Command::Passwd(options),
    })
}

/// The name of the subcommand that runs `serve`'s flags when none is named.
pub(crate) const DEFAULT_SUBCOMMAND: &str = "serve";

/// Settings for every argument: values that start with `-` are taken when they look like
/// numbers (`--max-body -1` is a bad size, not a flag), and help shows which variable a flag
/// reads but never its value, which may hold a password in a `mongodb://` URL.
fn shared_arg_settings(arg: clap::Arg) -> clap::Arg {
    arg.allow_negative_numbers(true).hide_env_values(true)
}
