//! The terminal client's commands (issue 14): a typed line that starts with `/` is a command,
//! never a message. Pure: [`parse`] reads one line, the client acts on it.

/// A command the user typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Command<'a> {
    /// `/register NAME`: create the account, then log in.
    Register(&'a str),
    /// `/login NAME`
    Login(&'a str),
    /// `/password`: change the password of the account logged in.
    Password,
    /// `/quit`
    Quit,
    /// `/help`
    Help,
    /// A command that needs a name was given none.
    MissingName(&'a str),
    /// Anything else after a `/`.
    Unknown(&'a str),
}

/// The command `line` holds, or `None` for a line that is not one.
pub(super) fn parse(line: &str) -> Option<Command<'_>> {
    let rest = line.trim().strip_prefix('/')?;
    let (word, argument) = match rest.split_once(char::is_whitespace) {
        Some((word, argument)) => (word, argument.trim()),
        None => (rest, ""),
    };
    Some(match word {
        "register" | "login" if argument.is_empty() => Command::MissingName(word),
        "register" => Command::Register(argument),
        "login" => Command::Login(argument),
        "password" => Command::Password,
        "quit" => Command::Quit,
        "help" => Command::Help,
        _ => Command::Unknown(word),
    })
}

/// What `/help` prints, one line each.
pub(super) const HELP: &[&str] = &[
    "* /register NAME   create an account and log in (asks for a password)",
    "* /login NAME      log in to your account (asks for your password)",
    "* /password        change your password (asks for the current and the new one)",
    "* /quit            leave the chat (Ctrl-D does too)",
    "* /help            this list; any other line is a message",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_starting_with_a_slash_are_commands() {
        let cases: &[(&str, Option<Command>)] = &[
            ("hello", None),
            ("/register ann", Some(Command::Register("ann"))),
            ("  /login   Ann Lee  ", Some(Command::Login("Ann Lee"))),
            ("/login", Some(Command::MissingName("login"))),
            ("/password", Some(Command::Password)),
            ("/quit", Some(Command::Quit)),
            ("/help", Some(Command::Help)),
            ("/dance now", Some(Command::Unknown("dance"))),
            ("a /quit", None),
        ];
        for (line, expected) in cases {
            assert_eq!(parse(line), *expected, "{line:?}");
        }
    }
}
