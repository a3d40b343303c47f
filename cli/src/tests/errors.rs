//! Tests of the errors [`crate::parse`] reports: the kind and the exact line for each, in
//! ferry's words rather than clap's.

use ferry_storage::LocationError;

use super::run;
use crate::size::{DurationError, SizeError};
use crate::{CliErrorKind, ValueError, ValueSource};

/// Arguments, environment, the error they give and its message.
type ErrorCase = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    CliErrorKind,
    String,
);

#[test]
fn errors_name_the_problem_in_one_line() {
    let see_serve = "; see 'ferry serve --help'";
    let cases: &[ErrorCase] = &[
        (
            &["serv"],
            &[],
            CliErrorKind::UnknownSubcommand {
                name: "serv".into(),
                suggestion: Some("serve".into()),
            },
            "ferry: unknown subcommand 'serv' (did you mean serve?); the subcommands are serve, \
             http, socket, files, client, chat, chat-client, passwd, cert; see 'ferry --help'"
                .into(),
        ),
        (
            &["mail", "--root", "."],
            &[],
            CliErrorKind::UnknownSubcommand {
                name: "mail".into(),
                suggestion: None,
            },
            "ferry: unknown subcommand 'mail'; the subcommands are serve, http, socket, files, \
             client, chat, chat-client, passwd, cert; see 'ferry --help'"
                .into(),
        ),
        (
            &["--htp", "127.0.0.1:80"],
            &[],
            CliErrorKind::UnknownFlag {
                flag: "--htp".into(),
                suggestion: Some("http".into()),
            },
            format!("ferry: unknown flag '--htp' for 'serve' (did you mean --http?){see_serve}"),
        ),
        (
            &["serve", "--stor=x.json"],
            &[],
            CliErrorKind::UnknownFlag {
                flag: "--stor".into(),
                suggestion: Some("store".into()),
            },
            format!("ferry: unknown flag '--stor' for 'serve' (did you mean --store?){see_serve}"),
        ),
        (
            &["socket", "--bogus"],
            &[],
            CliErrorKind::UnknownFlag {
                flag: "--bogus".into(),
                suggestion: None,
            },
            "ferry: unknown flag '--bogus' for 'socket'; see 'ferry socket --help'".into(),
        ),
        (
            &["-x"],
            &[],
            CliErrorKind::UnknownFlag {
                flag: "-x".into(),
                suggestion: None,
            },
            format!("ferry: unknown flag '-x' for 'serve'{see_serve}"),
        ),
        (
            &["http", "-forward", "a:1"],
            &[],
            CliErrorKind::UnknownFlag {
                flag: "-forward".into(),
                suggestion: Some("forward".into()),
            },
            "ferry: unknown flag '-forward' for 'http' (did you mean --forward?); see 'ferry \
             http --help'"
                .into(),
        ),
        (
            &["serve", "--forward", "10.0.0.1:5000"],
            &[],
            CliErrorKind::FlagNotTaken {
                flag: "forward".into(),
                taken_by: vec!["http".into()],
            },
            format!("ferry: 'serve' does not take --forward (only 'http'){see_serve}"),
        ),
        (
            &["socket", "--http=a:1"],
            &[],
            CliErrorKind::FlagNotTaken {
                flag: "http".into(),
                taken_by: vec!["serve".into(), "http".into()],
            },
            "ferry: 'socket' does not take --http (only 'serve' and 'http'); see 'ferry socket \
             --help'"
                .into(),
        ),
        (
            &["--help=yes"],
            &[],
            CliErrorKind::UnexpectedValue {
                flag: "help".into(),
            },
            format!("ferry: --help takes no value{see_serve}"),
        ),
        (
            &["--http"],
            &[],
            CliErrorKind::MissingValue {
                flag: "http".into(),
                placeholder: "ADDR".into(),
            },
            format!("ferry: missing value for --http (write --http ADDR){see_serve}"),
        ),
        (
            &["--http", "--static", "x"],
            &[],
            CliErrorKind::MissingValue {
                flag: "http".into(),
                placeholder: "ADDR".into(),
            },
            format!("ferry: missing value for --http (write --http ADDR){see_serve}"),
        ),
        (
            &["socket", "--transport="],
            &[],
            CliErrorKind::MissingValue {
                flag: "transport".into(),
                placeholder: "udp|tcp".into(),
            },
            "ferry: missing value for --transport (write --transport udp|tcp); see 'ferry \
             socket --help'"
                .into(),
        ),
        (
            &["--static", ""],
            &[],
            CliErrorKind::MissingValue {
                flag: "static".into(),
                placeholder: "DIR".into(),
            },
            format!("ferry: missing value for --static (write --static DIR){see_serve}"),
        ),
        (
            &["--http", "a:1", "--http=a:2"],
            &[],
            CliErrorKind::RepeatedFlag {
                flag: "http".into(),
            },
            format!("ferry: --http is given more than once{see_serve}"),
        ),
        (
            &["serve", "extra"],
            &[],
            CliErrorKind::UnexpectedArgument {
                argument: "extra".into(),
            },
            format!(
                "ferry: unexpected argument 'extra' for 'serve' (it takes flags only){see_serve}"
            ),
        ),
        (
            &["--http", "a:1", "socket"],
            &[],
            CliErrorKind::UnexpectedArgument {
                argument: "socket".into(),
            },
            "ferry: unexpected argument 'socket' for 'serve' (a subcommand must come first); \
             see 'ferry serve --help'"
                .into(),
        ),
        (
            &["serve", "--", "--http"],
            &[],
            CliErrorKind::UnexpectedArgument {
                argument: "--http".into(),
            },
            format!(
                "ferry: unexpected argument '--http' for 'serve' (it takes flags only){see_serve}"
            ),
        ),
        (
            &["--max-body", "abc"],
            &[],
            invalid(
                "max-body",
                "abc",
                None,
                ValueError::Size(SizeError::Invalid),
            ),
            format!(
                "ferry: invalid value 'abc' for --max-body: expected a size like 64K (bytes, or \
                 a whole number with K, M or G){see_serve}"
            ),
        ),
        (
            &[],
            &[("FERRY_MAX_BODY", "abc")],
            invalid(
                "max-body",
                "abc",
                Some("FERRY_MAX_BODY"),
                ValueError::Size(SizeError::Invalid),
            ),
            format!(
                "ferry: invalid value 'abc' for --max-body (from FERRY_MAX_BODY): expected a size \
                 like 64K (bytes, or a whole number with K, M or G){see_serve}"
            ),
        ),
        (
            &["http", "--max-body", "-1"],
            &[],
            invalid("max-body", "-1", None, ValueError::Size(SizeError::Invalid)),
            "ferry: invalid value '-1' for --max-body: expected a size like 64K (bytes, or a \
             whole number with K, M or G); see 'ferry http --help'"
                .into(),
        ),
        (
            &["--max-body=0"],
            &[],
            invalid("max-body", "0", None, ValueError::Zero),
            format!(
                "ferry: invalid value '0' for --max-body: it must be more than zero{see_serve}"
            ),
        ),
        (
            &["--max-body", "18446744073709551616"],
            &[],
            invalid(
                "max-body",
                "18446744073709551616",
                None,
                ValueError::Size(SizeError::Overflow),
            ),
            format!(
                "ferry: invalid value '18446744073709551616' for --max-body: the size does not \
                 fit in 64 bits{see_serve}"
            ),
        ),
        (
            &["--ack-timeout", "2"],
            &[],
            invalid(
                "ack-timeout",
                "2",
                None,
                ValueError::Duration(DurationError::MissingUnit),
            ),
            format!(
                "ferry: invalid value '2' for --ack-timeout: a duration needs a unit: ms, s or m \
                 (like 500ms, 2s, 1m){see_serve}"
            ),
        ),
        (
            &["http"],
            &[("FERRY_IDLE_TIMEOUT", "1h")],
            invalid(
                "idle-timeout",
                "1h",
                Some("FERRY_IDLE_TIMEOUT"),
                ValueError::Duration(DurationError::UnknownUnit("h".into())),
            ),
            "ferry: invalid value '1h' for --idle-timeout (from FERRY_IDLE_TIMEOUT): unknown \
             duration unit 'h', expected ms, s or m; see 'ferry http --help'"
                .into(),
        ),
        (
            &["--header-timeout", "0s"],
            &[],
            invalid("header-timeout", "0s", None, ValueError::Zero),
            format!(
                "ferry: invalid value '0s' for --header-timeout: it must be more than zero\
                 {see_serve}"
            ),
        ),
        (
            &["--idle-timeout", "2000m"],
            &[],
            invalid("idle-timeout", "2000m", None, ValueError::TooLong),
            format!(
                "ferry: invalid value '2000m' for --idle-timeout: it must be at most 1440m (one \
                 day){see_serve}"
            ),
        ),
        (
            &["socket", "--transport", "quic"],
            &[],
            invalid("transport", "quic", None, ValueError::Transport),
            "ferry: invalid value 'quic' for --transport: expected udp or tcp; see 'ferry socket \
             --help'"
                .into(),
        ),
        (
            &["socket", "--fsync", "sometimes"],
            &[],
            invalid("fsync", "sometimes", None, ValueError::Fsync),
            "ferry: invalid value 'sometimes' for --fsync: expected always, batch or never; see \
             'ferry socket --help'"
                .into(),
        ),
        (
            &["--http", "localhost"],
            &[],
            invalid("http", "localhost", None, ValueError::AddressWithoutPort),
            format!(
                "ferry: invalid value 'localhost' for --http: expected HOST:PORT, like \
                 127.0.0.1:3000 (the port is missing){see_serve}"
            ),
        ),
        (
            &["--socket", "0.0.0.0:70000"],
            &[],
            invalid("socket", "0.0.0.0:70000", None, ValueError::AddressPort),
            format!(
                "ferry: invalid value '0.0.0.0:70000' for --socket: the port must be a number \
                 from 0 to 65535{see_serve}"
            ),
        ),
        (
            &["http"],
            &[("FERRY_FORWARD", "::1:5000")],
            invalid(
                "forward",
                "::1:5000",
                Some("FERRY_FORWARD"),
                ValueError::AddressIpv6WithoutBrackets,
            ),
            "ferry: invalid value '::1:5000' for --forward (from FERRY_FORWARD): write an IPv6 \
             address in brackets, like [::1]:3000; see 'ferry http --help'"
                .into(),
        ),
        (
            &["--store", "redis://cache/0"],
            &[],
            invalid(
                "store",
                "redis://cache/0",
                None,
                ValueError::Store(LocationError::Scheme),
            ),
            format!(
                "ferry: invalid value 'redis://cache/0' for --store: expected a file path or a \
                 mongodb://HOST:PORT/DB URL{see_serve}"
            ),
        ),
        (
            &["--http", "a:1\n"],
            &[],
            invalid("http", "a:1\n", None, ValueError::AddressPort),
            format!(
                "ferry: invalid value 'a:1\\n' for --http: the port must be a number from 0 to \
                 65535{see_serve}"
            ),
        ),
    ];
    for (args, env, kind, message) in cases {
        let error = run(args, env).expect_err(&format!("{args:?} {env:?} parsed"));
        assert_eq!(error.kind(), kind, "{args:?} {env:?}");
        assert_eq!(&error.to_string(), message, "{args:?} {env:?}");
        assert!(!message.contains('\n'));
    }
}

/// The kind of an invalid value, from the command line or from `variable`.
fn invalid(flag: &str, value: &str, variable: Option<&str>, reason: ValueError) -> CliErrorKind {
    let source = variable.map_or(ValueSource::CommandLine, |variable| {
        ValueSource::Environment(variable.into())
    });
    CliErrorKind::InvalidValue {
        flag: flag.into(),
        value: value.into(),
        source,
        reason,
    }
}
