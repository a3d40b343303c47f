//! What can be wrong with a command line, and the one-line message that says so.
//!
//! Owns the wording of every command-line error. Each message names the problem and ends by
//! saying where help is (`see 'ferry serve --help'`). It never decides what is an error; that is
//! [`super::parse`] and the value checks in `flags.rs`.

use std::fmt;

use super::flags::SubcommandSpec;
use super::values::{MAX_HISTORY, MAX_TIMEOUT};
use crate::chat::ChatError;
use crate::size::{DurationError, SizeError};

/// A command line that cannot run; its `Display` is one line for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    program: String,
    subcommand: Option<&'static str>,
    // Boxed so that `Result<Command, CliError>` stays small on the success path.
    kind: Box<CliErrorKind>,
}

impl CliError {
    /// An error of `program`, about the arguments of `subcommand` (`None` when no subcommand
    /// could be chosen).
    pub(super) fn new(program: &str, subcommand: Option<&'static str>, kind: CliErrorKind) -> Self {
        CliError {
            program: program.to_string(),
            subcommand,
            kind: Box::new(kind),
        }
    }

    /// What is wrong.
    pub fn kind(&self) -> &CliErrorKind {
        &self.kind
    }

    /// The exit status for this error: 2, the usual status for a command line the program
    /// cannot use, kept apart from 1 for a server that started and then failed.
    pub fn exit_code(&self) -> i32 {
        USAGE_EXIT_CODE
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let program = &self.program;
        let subcommand = self.subcommand.unwrap_or_default();
        write!(f, "{program}: ")?;
        match self.kind.as_ref() {
            CliErrorKind::UnknownSubcommand { name, suggestion } => {
                write!(f, "unknown subcommand {}", Quoted(name))?;
                if let Some(suggestion) = suggestion {
                    write!(f, " (did you mean {suggestion}?)")?;
                }
                let names: Vec<&str> = SubcommandSpec::all().iter().map(|spec| spec.name).collect();
                write!(f, "; the subcommands are {}", names.join(", "))?;
            }
            CliErrorKind::UnknownFlag { flag, suggestion } => {
                write!(f, "unknown flag {} for '{subcommand}'", Quoted(flag))?;
                if let Some(suggestion) = suggestion {
                    write!(f, " (did you mean --{suggestion}?)")?;
                }
            }
            CliErrorKind::FlagNotTaken { flag, taken_by } => {
                let owners: Vec<String> = taken_by.iter().map(|name| format!("'{name}'")).collect();
                write!(
                    f,
                    "'{subcommand}' does not take --{flag} (only {})",
                    owners.join(" and ")
                )?;
            }
            CliErrorKind::UnexpectedValue { flag } => write!(f, "--{flag} takes no value")?,
            CliErrorKind::MissingValue { flag, placeholder } => {
                write!(
                    f,
                    "missing value for --{flag} (write --{flag} {placeholder})"
                )?;
            }
            CliErrorKind::RepeatedFlag { flag } => write!(f, "--{flag} is given more than once")?,
            CliErrorKind::UnexpectedArgument { argument } => {
                write!(
                    f,
                    "unexpected argument {} for '{subcommand}'",
                    Quoted(argument)
                )?;
                let positionals = SubcommandSpec::find(subcommand)
                    .map(|spec| spec.positionals)
                    .unwrap_or_default();
                if SubcommandSpec::find(argument).is_some() {
                    f.write_str(" (a subcommand must come first)")?;
                } else if positionals.is_empty() {
                    f.write_str(" (it takes flags only)")?;
                } else {
                    let names: Vec<&str> = positionals.iter().map(|spec| spec.name).collect();
                    write!(f, " (it takes {} and flags only)", names.join(" "))?;
                }
            }
            CliErrorKind::InvalidArgument {
                name,
                value,
                reason,
            } => write!(f, "invalid value {} for {name}: {reason}", Quoted(value))?,
            CliErrorKind::MissingArgument { name } => {
                let names: Vec<&str> = SubcommandSpec::find(subcommand)
                    .map(|spec| spec.positionals)
                    .unwrap_or_default()
                    .iter()
                    .map(|spec| spec.name)
                    .collect();
                write!(
                    f,
                    "missing {name} (write '{subcommand} {}')",
                    names.join(" ")
                )?;
            }
            CliErrorKind::InvalidValue {
                flag,
                value,
                source,
                reason,
            } => {
                write!(f, "invalid value {} for --{flag}", Quoted(value))?;
                if let ValueSource::Environment(variable) = source {
                    write!(f, " (from {variable})")?;
                }
                write!(f, ": {reason}")?;
            }
        }
        match self.subcommand {
            Some(subcommand) => write!(f, "; see '{program} {subcommand} --help'"),
            None => write!(f, "; see '{program} --help'"),
        }
    }
}

/// The cause of a [`CliError`]. Flag names are written without their leading `--`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliErrorKind {
    /// The first argument is not a flag and names no subcommand.
    UnknownSubcommand {
        /// The argument as written.
        name: String,
        /// The subcommand it most likely meant.
        suggestion: Option<&'static str>,
    },
    /// No subcommand takes this flag.
    UnknownFlag {
        /// The flag as written, dashes included, without any `=value`.
        flag: String,
        /// The flag of the subcommand it most likely meant.
        suggestion: Option<&'static str>,
    },
    /// Another subcommand takes this flag, but not the chosen one (`serve --forward`).
    FlagNotTaken {
        /// The flag's name.
        flag: String,
        /// The subcommands that take it.
        taken_by: Vec<&'static str>,
    },
    /// `--help=...` or `--version=...`.
    UnexpectedValue {
        /// `help` or `version`.
        flag: String,
    },
    /// A flag at the end of the line, before another flag, or with an empty value.
    MissingValue {
        /// The flag's name.
        flag: &'static str,
        /// What its value looks like (`ADDR`, `SIZE`).
        placeholder: &'static str,
    },
    /// The same flag twice on the command line.
    RepeatedFlag {
        /// The flag's name.
        flag: &'static str,
    },
    /// An argument that is not a flag, after the subcommand.
    UnexpectedArgument {
        /// The argument as written.
        argument: String,
    },
    /// A value an argument that is not a flag (`HOST`, `PORT`) cannot use.
    InvalidArgument {
        /// The argument's name as help shows it.
        name: &'static str,
        /// The value as given.
        value: String,
        /// Why it cannot be used.
        reason: ValueError,
    },
    /// A required argument that is not a flag (`PATH` of `client`) is missing.
    MissingArgument {
        /// The argument's name as help shows it.
        name: &'static str,
    },
    /// A value the flag cannot use.
    InvalidValue {
        /// The flag's name.
        flag: &'static str,
        /// The value as given.
        value: String,
        /// Where the value came from.
        source: ValueSource,
        /// Why it cannot be used.
        reason: ValueError,
    },
}

/// Where a flag's value came from, so an error can point at a variable set long ago.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueSource {
    /// The command line.
    CommandLine,
    /// This environment variable.
    Environment(&'static str),
}

/// Why a flag's value cannot be used. The `Display` text completes
/// "invalid value 'x' for --flag: ...".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueError {
    /// Not a size.
    Size(SizeError),
    /// Not a duration.
    Duration(DurationError),
    /// A size or timeout of zero, which would refuse everything or expire at once.
    Zero,
    /// A timeout longer than one day.
    TooLong,
    /// An address without `:PORT`.
    AddressWithoutPort,
    /// An address whose port is not a number from 0 to 65535.
    AddressPort,
    /// An address whose host is empty, not a name, or not a valid IP address.
    AddressHost,
    /// An IPv6 address without brackets, which cannot be told apart from its port.
    AddressIpv6WithoutBrackets,
    /// A URL where an address is expected.
    AddressIsUrl,
    /// `--store` with a URL scheme other than `mongodb://`.
    StoreScheme,
    /// `--store mongodb://` without a host.
    MongoDbWithoutHost,
    /// `--transport` other than `udp` or `tcp`.
    Transport,
    /// `--fsync` other than `always`, `batch` or `never`.
    Fsync,
    /// A host to connect to that is neither a name nor an IP address.
    Host,
    /// A port to connect to that is not a number from 1 to 65535.
    Port,
    /// `--history` that is not a whole number from 0 to 1000.
    History,
    /// A username the chat server would refuse.
    Username(ChatError),
    /// A switch's value that is neither on nor off.
    Switch,
    /// The client's `METHOD` other than GET, PUT or HEAD.
    ClientMethod,
    /// The client's `PATH` that does not start with `/` or holds a space or control character.
    ClientPath,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::Size(error) => write!(f, "{error}"),
            ValueError::Duration(error) => write!(f, "{error}"),
            ValueError::Zero => f.write_str("it must be more than zero"),
            ValueError::TooLong => {
                write!(
                    f,
                    "it must be at most {}m (one day)",
                    MAX_TIMEOUT.as_secs() / 60
                )
            }
            ValueError::AddressWithoutPort => {
                f.write_str("expected HOST:PORT, like 127.0.0.1:3000 (the port is missing)")
            }
            ValueError::AddressPort => f.write_str("the port must be a number from 0 to 65535"),
            ValueError::AddressHost => f.write_str(
                "expected HOST:PORT with a host name or an IP address, like 127.0.0.1:3000",
            ),
            ValueError::AddressIpv6WithoutBrackets => {
                f.write_str("write an IPv6 address in brackets, like [::1]:3000")
            }
            ValueError::AddressIsUrl => {
                f.write_str("expected HOST:PORT without a scheme, like 127.0.0.1:3000")
            }
            ValueError::StoreScheme => {
                f.write_str("expected a file path or a mongodb://HOST:PORT/DB URL")
            }
            ValueError::MongoDbWithoutHost => {
                f.write_str("the URL names no host, expected mongodb://HOST:PORT/DB")
            }
            ValueError::Transport => f.write_str("expected udp or tcp"),
            ValueError::Fsync => f.write_str("expected always, batch or never"),
            ValueError::Host => f.write_str("expected a host name or an IP address"),
            ValueError::Port => f.write_str("the port must be a number from 1 to 65535"),
            ValueError::History => {
                write!(f, "expected a whole number from 0 to {MAX_HISTORY}")
            }
            ValueError::Username(error) => write!(f, "{error}"),
            ValueError::Switch => f.write_str("expected on or off (1/0, true/false, yes/no)"),
            ValueError::ClientMethod => f.write_str("expected GET, PUT or HEAD"),
            ValueError::ClientPath => {
                f.write_str("expected a path starting with /, without spaces, like /docs/a.txt")
            }
        }
    }
}

/// Shows a user-given text in single quotes, with control characters escaped so the message
/// stays on one line, and cut after [`MAX_QUOTED_CHARS`] characters.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("'")?;
        for (index, c) in self.0.chars().enumerate() {
            if index == MAX_QUOTED_CHARS {
                f.write_str("...")?;
                break;
            }
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        f.write_str("'")
    }
}

/// Exit status for an unusable command line; 2 is what most command-line tools use for it.
const USAGE_EXIT_CODE: i32 = 2;

/// An error echoes at most this many characters of a value: enough to recognise it, short
/// enough that a pasted file does not flood the terminal.
const MAX_QUOTED_CHARS: usize = 80;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_values_on_one_line() {
        let cases: &[(&str, &str)] = &[
            ("abc", "'abc'"),
            ("", "''"),
            ("a\nb", "'a\\nb'"),
            ("tab\there", "'tab\\there'"),
            ("\u{1b}[31m", "'\\u{1b}[31m'"),
            ("été", "'été'"),
        ];
        for (text, expected) in cases {
            assert_eq!(Quoted(text).to_string(), *expected);
        }
        let long = "x".repeat(MAX_QUOTED_CHARS + 1);
        assert_eq!(
            Quoted(&long).to_string(),
            format!("'{}...'", "x".repeat(MAX_QUOTED_CHARS))
        );
        let exact = "x".repeat(MAX_QUOTED_CHARS);
        assert_eq!(Quoted(&exact).to_string(), format!("'{exact}'"));
    }

    #[test]
    fn value_errors_are_one_line() {
        let errors = [
            ValueError::Size(SizeError::Invalid),
            ValueError::Duration(DurationError::MissingUnit),
            ValueError::Zero,
            ValueError::TooLong,
            ValueError::AddressWithoutPort,
            ValueError::AddressPort,
            ValueError::AddressHost,
            ValueError::AddressIpv6WithoutBrackets,
            ValueError::AddressIsUrl,
            ValueError::StoreScheme,
            ValueError::MongoDbWithoutHost,
            ValueError::Transport,
            ValueError::Fsync,
        ];
        for error in errors {
            let message = error.to_string();
            assert!(
                !message.is_empty() && !message.contains('\n'),
                "{error:?}: {message:?}"
            );
        }
        assert_eq!(
            ValueError::TooLong.to_string(),
            "it must be at most 1440m (one day)"
        );
    }

    #[test]
    fn usage_errors_exit_with_2() {
        let error = CliError::new(
            "ferry",
            None,
            CliErrorKind::UnexpectedValue { flag: "x".into() },
        );
        assert_eq!(error.exit_code(), 2);
    }
}
