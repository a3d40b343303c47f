//! What can be wrong with a command line, and the one-line message that says so.
//!
//! Owns the wording of every command-line error. Each message names the problem and ends by
//! saying where help is (`see 'ferry serve --help'`). clap finds the problems; `reading.rs`
//! turns what clap found into a [`CliErrorKind`], since clap's own messages span several lines
//! and ferry promises one.

use std::fmt;

use crate::values::ValueError;

/// A command line that cannot run; its `Display` is one line for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    program: String,
    subcommand: Option<String>,
    // Boxed so that `Result<Command, CliError>` stays small on the success path.
    kind: Box<CliErrorKind>,
    /// Every subcommand's name, for an error that lists them.
    subcommands: Vec<String>,
    /// The arguments other than flags the subcommand takes (`HOST PORT`), for errors about them.
    positionals: Vec<String>,
}

impl CliError {
    /// An error of `program` about the arguments of `subcommand` (`None` when no subcommand
    /// could be chosen), which takes `positionals` besides flags; `subcommands` are all there are.
    pub(crate) fn new(
        program: &str,
        subcommand: Option<&str>,
        kind: CliErrorKind,
        subcommands: Vec<String>,
        positionals: Vec<String>,
    ) -> Self {
        CliError {
            program: program.to_string(),
            subcommand: subcommand.map(str::to_string),
            kind: Box::new(kind),
            subcommands,
            positionals,
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
        let subcommand = self.subcommand.as_deref().unwrap_or_default();
        write!(f, "{program}: ")?;
        match self.kind.as_ref() {
            CliErrorKind::UnknownSubcommand { name, suggestion } => {
                write!(f, "unknown subcommand {}", Quoted(name))?;
                if let Some(suggestion) = suggestion {
                    write!(f, " (did you mean {suggestion}?)")?;
                }
                write!(f, "; the subcommands are {}", self.subcommands.join(", "))?;
            }
            CliErrorKind::UnknownFlag { flag, suggestion } => {
                write!(f, "unknown flag {} for '{subcommand}'", Quoted(flag))?;
                if let Some(suggestion) = suggestion {
                    write!(f, " (did you mean --{suggestion}?)")?;
                }
            }
            CliErrorKind::FlagNotTaken { flag, taken_by } => {
                let owners: Vec<String> = taken_by.iter().map(|name| format!("'{name}'")).collect();
                let owners = owners.join(" and ");
                write!(f, "'{subcommand}' does not take --{flag} (only {owners})")?;
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
                let quoted = Quoted(argument);
                write!(f, "unexpected argument {quoted} for '{subcommand}'")?;
                if self.subcommands.contains(argument) {
                    f.write_str(" (a subcommand must come first)")?;
                } else if self.positionals.is_empty() {
                    f.write_str(" (it takes flags only)")?;
                } else {
                    let names = self.positionals.join(" ");
                    write!(f, " (it takes {names} and flags only)")?;
                }
            }
            CliErrorKind::InvalidArgument {
                name,
                value,
                reason,
            } => write!(f, "invalid value {} for {name}: {reason}", Quoted(value))?,
            CliErrorKind::MissingArgument { name } => {
                let names = self.positionals.join(" ");
                write!(f, "missing {name} (write '{subcommand} {names}')")?;
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
            CliErrorKind::Other { message } => write!(f, "{}", Quoted(message).bare())?,
        }
        match &self.subcommand {
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
        suggestion: Option<String>,
    },
    /// No subcommand takes this flag.
    UnknownFlag {
        /// The flag as written, dashes included, without any `=value`.
        flag: String,
        /// The flag of the subcommand it most likely meant.
        suggestion: Option<String>,
    },
    /// Another subcommand takes this flag, but not the chosen one (`serve --forward`).
    FlagNotTaken {
        /// The flag's name.
        flag: String,
        /// The subcommands that take it.
        taken_by: Vec<String>,
    },
    /// `--help=...` or `--version=...`.
    UnexpectedValue {
        /// `help` or `version`.
        flag: String,
    },
    /// A flag at the end of the line, before another flag, or with an empty value.
    MissingValue {
        /// The flag's name.
        flag: String,
        /// What its value looks like (`ADDR`, `SIZE`).
        placeholder: String,
    },
    /// The same flag twice on the command line.
    RepeatedFlag {
        /// The flag's name.
        flag: String,
    },
    /// An argument that is not a flag, after the subcommand.
    UnexpectedArgument {
        /// The argument as written.
        argument: String,
    },
    /// A value an argument that is not a flag (`HOST`, `PORT`) cannot use.
    InvalidArgument {
        /// The argument's name as help shows it.
        name: String,
        /// The value as given.
        value: String,
        /// Why it cannot be used.
        reason: ValueError,
    },
    /// A required argument that is not a flag (`PATH` of `client`) is missing.
    MissingArgument {
        /// The argument's name as help shows it.
        name: String,
    },
    /// A value the flag cannot use.
    InvalidValue {
        /// The flag's name.
        flag: String,
        /// The value as given.
        value: String,
        /// Where the value came from.
        source: ValueSource,
        /// Why it cannot be used.
        reason: ValueError,
    },
    /// Anything else clap refuses, in the words of the first line of its message.
    Other {
        /// That line, without clap's `error: `.
        message: String,
    },
}

/// Where a flag's value came from, so an error can point at a variable set long ago.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueSource {
    /// The command line.
    CommandLine,
    /// This environment variable.
    Environment(String),
}

/// Shows a user-given text in single quotes, with control characters escaped so the message
/// stays on one line, and cut after [`MAX_QUOTED_CHARS`] characters.
pub(crate) struct Quoted<'a>(pub(crate) &'a str);

impl<'a> Quoted<'a> {
    /// The same text without the quotes, for a message that is not a value.
    fn bare(self) -> Bare<'a> {
        Bare(self.0)
    }

    fn write_inner(text: &str, f: &mut fmt::Formatter<'_>, limit: usize) -> fmt::Result {
        for (index, c) in text.chars().enumerate() {
            if index == limit {
                return f.write_str("...");
            }
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("'")?;
        Quoted::write_inner(self.0, f, MAX_QUOTED_CHARS)?;
        f.write_str("'")
    }
}

/// A message of clap's, on one line: control characters escaped, but no length limit, as clap
/// bounds what it quotes itself.
struct Bare<'a>(&'a str);

impl fmt::Display for Bare<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Quoted::write_inner(self.0, f, usize::MAX)
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
        assert_eq!(Quoted("a\nb").bare().to_string(), "a\\nb");
    }

    #[test]
    fn usage_errors_exit_with_2() {
        let kind = CliErrorKind::UnexpectedValue { flag: "x".into() };
        let error = CliError::new("ferry", None, kind, Vec::new(), Vec::new());
        assert_eq!(error.exit_code(), 2);
    }
}
