//! From what clap refused to a [`CliError`]: which subcommand it was about, what exactly went
//! wrong, and what the user most likely meant.
//!
//! clap reports an error as a kind plus context (the argument, the value, the cause a value
//! parser gave); this module reads those and the subcommands' definitions, and never words a
//! message itself (`error.rs` does).

use std::error::Error as _;

use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::command::DEFAULT_SUBCOMMAND;
use crate::error::{CliError, CliErrorKind, ValueSource};
use crate::suggest::closest;
use crate::values::ValueError;

/// The one-line error for `error`, which clap gave for `args` (without the program name) and
/// `command`, ferry's whole command line.
pub(crate) fn cli_error(
    program: &str,
    command: &clap::Command,
    args: &[String],
    error: &clap::Error,
) -> CliError {
    let subcommands: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .collect();
    let named = args.first().filter(|first| !first.starts_with('-'));
    let (name, rest) = match named {
        Some(name) => match command.find_subcommand(name) {
            Some(_) => (Some(name.as_str()), args.get(1..).unwrap_or_default()),
            None => (None, args),
        },
        None => (Some(DEFAULT_SUBCOMMAND), args),
    };
    let subcommand = name.and_then(|name| command.find_subcommand(name));
    let kind = match subcommand {
        Some(subcommand) => Reading {
            command,
            subcommand,
            args: rest,
        }
        .kind(error),
        None => unknown_subcommand(error, &subcommands).unwrap_or_else(|| other(error)),
    };
    let positionals = subcommand
        .map(|sub| sub.get_positionals().map(placeholder).collect())
        .unwrap_or_default();
    CliError::new(program, name, kind, subcommands, positionals)
}

/// An error about the arguments after a known subcommand (or of `serve`, named or not).
struct Reading<'a> {
    command: &'a clap::Command,
    subcommand: &'a clap::Command,
    args: &'a [String],
}

impl Reading<'_> {
    fn kind(&self, error: &clap::Error) -> CliErrorKind {
        let argument = text(error, ContextKind::InvalidArg);
        let value = text(error, ContextKind::InvalidValue);
        let read = match (error.kind(), argument, value) {
            (ErrorKind::UnknownArgument, Some(argument), _) => Some(self.unknown(argument)),
            (ErrorKind::InvalidValue, Some(argument), Some("")) => self.missing_value(argument),
            (ErrorKind::ValueValidation, Some(argument), Some(value)) => {
                self.invalid(argument, value, error)
            }
            (ErrorKind::ArgumentConflict, _, _) => conflict(error),
            (ErrorKind::TooManyValues, Some(argument), _) => long_name(argument)
                .filter(|flag| matches!(flag.as_str(), "help" | "version"))
                .map(|flag| CliErrorKind::UnexpectedValue { flag }),
            (ErrorKind::MissingRequiredArgument, _, _) => {
                let missing = match error.get(ContextKind::InvalidArg) {
                    Some(ContextValue::Strings(names)) => names.first().cloned(),
                    _ => None,
                };
                missing.map(|name| CliErrorKind::MissingArgument {
                    name: bare_placeholder(&name),
                })
            }
            _ => None,
        };
        read.unwrap_or_else(|| other(error))
    }

    /// An argument the subcommand does not take: a flag of another subcommand, a mistyped
    /// flag, or a word where none fits.
    fn unknown(&self, argument: &str) -> CliErrorKind {
        // After `--` nothing is a flag, however it looks.
        let mut after_dashes = self.args.iter().skip_while(|arg| *arg != "--").skip(1);
        if after_dashes.any(|arg| arg == argument) {
            let argument = argument.to_string();
            return CliErrorKind::UnexpectedArgument { argument };
        }
        if let Some(name) = argument.strip_prefix("--").filter(|name| !name.is_empty()) {
            let name = name.split_once('=').map_or(name, |(name, _)| name);
            let taken_by: Vec<String> = self
                .command
                .get_subcommands()
                .filter(|sub| find_long(sub, name).is_some())
                .map(|sub| sub.get_name().to_string())
                .collect();
            if !taken_by.is_empty() {
                let flag = name.to_string();
                return CliErrorKind::FlagNotTaken { flag, taken_by };
            }
            let flag = format!("--{name}");
            let suggestion = self.suggest_flag(name);
            return CliErrorKind::UnknownFlag { flag, suggestion };
        }
        if argument.len() > 1 && argument.starts_with('-') && argument != "--" {
            // clap reads `-forward` as the short flags `-f -o ...` and names the first; ferry
            // has no short flags but `-h` and `-V`, so the whole word is the mistake.
            let written = self
                .args
                .iter()
                .find(|arg| arg.starts_with(argument) && !arg.starts_with("--"))
                .map_or(argument, String::as_str);
            let written = written.split_once('=').map_or(written, |(flag, _)| flag);
            let suggestion = self.suggest_flag(written.trim_start_matches('-'));
            let flag = written.to_string();
            return CliErrorKind::UnknownFlag { flag, suggestion };
        }
        let argument = argument.to_string();
        CliErrorKind::UnexpectedArgument { argument }
    }

    /// A flag given without a value, or with an empty one.
    fn missing_value(&self, argument: &str) -> Option<CliErrorKind> {
        let flag = long_name(argument)?;
        let placeholder = find_long(self.subcommand, &flag).map(placeholder)?;
        Some(CliErrorKind::MissingValue { flag, placeholder })
    }

    /// A value a flag's or an argument's value parser refused.
    fn invalid(&self, argument: &str, value: &str, error: &clap::Error) -> Option<CliErrorKind> {
        let reason = error.source()?.downcast_ref::<ValueError>()?.clone();
        let Some(flag) = long_name(argument) else {
            let value = value.to_string();
            let name = bare_placeholder(argument);
            return Some(CliErrorKind::InvalidArgument {
                name,
                value,
                reason,
            });
        };
        if value.is_empty() {
            return self.missing_value(argument);
        }
        let value = value.to_string();
        // clap reads a variable only for a flag missing from the command line.
        let given = self.args.iter().any(|arg| {
            let written = arg.split_once('=').map_or(arg.as_str(), |(flag, _)| flag);
            written.strip_prefix("--") == Some(flag.as_str())
        });
        let variable = find_long(self.subcommand, &flag).and_then(clap::Arg::get_env);
        let source = match variable {
            Some(variable) if !given => {
                ValueSource::Environment(variable.to_string_lossy().into_owned())
            }
            _ => ValueSource::CommandLine,
        };
        Some(CliErrorKind::InvalidValue {
            flag,
            value,
            source,
            reason,
        })
    }

    /// The flag of this subcommand (or `help`, `version`) a mistyped `name` most likely meant.
    fn suggest_flag(&self, name: &str) -> Option<String> {
        let flags = self
            .subcommand
            .get_arguments()
            .filter_map(clap::Arg::get_long);
        closest(name, flags.chain(["help", "version"])).map(str::to_string)
    }
}

/// Two arguments that cannot go together: a flag given twice, or a subcommand named after
/// `serve`'s flags (which only run `serve` when no subcommand is named).
fn conflict(error: &clap::Error) -> Option<CliErrorKind> {
    if let Some(subcommand) = text(error, ContextKind::InvalidSubcommand) {
        let argument = subcommand.to_string();
        return Some(CliErrorKind::UnexpectedArgument { argument });
    }
    let argument = text(error, ContextKind::InvalidArg)?;
    let prior = text(error, ContextKind::PriorArg);
    let flag = long_name(argument).filter(|_| prior == Some(argument))?;
    Some(CliErrorKind::RepeatedFlag { flag })
}

/// The first argument names no subcommand.
fn unknown_subcommand(error: &clap::Error, subcommands: &[String]) -> Option<CliErrorKind> {
    let name = text(error, ContextKind::InvalidSubcommand)?.to_string();
    let suggestion = closest(&name, subcommands.iter().map(String::as_str)).map(str::to_string);
    Some(CliErrorKind::UnknownSubcommand { name, suggestion })
}

/// An error ferry has no words of its own for: the first line of clap's.
fn other(error: &clap::Error) -> CliErrorKind {
    let rendered = error.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    let message = first.strip_prefix("error: ").unwrap_or(first).to_string();
    CliErrorKind::Other { message }
}

/// A context value of `error` that is one text.
fn text(error: &clap::Error, kind: ContextKind) -> Option<&str> {
    match error.get(kind)? {
        ContextValue::String(text) => Some(text),
        _ => None,
    }
}

/// `http` from clap's `--http <ADDR>`, `--read-only[=<on|off>]` or `--http`; `None` for an
/// argument that is not a flag.
fn long_name(argument: &str) -> Option<String> {
    let name = argument.strip_prefix("--")?;
    let end = name.find([' ', '=', '[']).unwrap_or(name.len());
    Some(name[..end].to_string())
}

/// `PORT` from clap's `<PORT>` or `[PORT]`.
fn bare_placeholder(argument: &str) -> String {
    argument.trim_matches(['<', '>', '[', ']']).to_string()
}

/// The argument of `command` whose long name is `name`.
fn find_long<'a>(command: &'a clap::Command, name: &str) -> Option<&'a clap::Arg> {
    command
        .get_arguments()
        .find(|arg| arg.get_long() == Some(name))
}

/// What an argument's value looks like in help and errors (`ADDR`, `udp|tcp`, `HOST`).
fn placeholder(arg: &clap::Arg) -> String {
    match arg.get_value_names() {
        Some([name, ..]) => name.to_string(),
        _ => arg.get_id().to_string().to_ascii_uppercase(),
    }
}
