//! Tests of `--help` and `--version`: where they may appear, what each page documents, and
//! that every line fits the terminal.

use super::line;
use crate::command::build;
use crate::{parse, CliError, Command};

/// The help text `args` print.
fn help(args: &str) -> String {
    match line(args) {
        Ok(Command::Help(text)) => text,
        other => panic!("{args}: {other:?}"),
    }
}

/// Every subcommand's name, in the order help lists them.
fn subcommands() -> Vec<String> {
    let command = build("ferry");
    let names = command.get_subcommands().map(|sub| sub.get_name());
    names.map(str::to_string).collect()
}

#[test]
fn help_and_version_win_anywhere() {
    let general = Ok(Command::Help(help("--help")));
    let help_of = |name: &str| Ok(Command::Help(help(&format!("{name} --help"))));
    let version = Ok(Command::Version(format!(
        "ferry {}",
        env!("CARGO_PKG_VERSION")
    )));
    let cases: &[(&str, Result<Command, CliError>)] = &[
        ("-h", general.clone()),
        ("--http 127.0.0.1:1 --help", general.clone()),
        ("--bogus -h", general.clone()),
        ("frobnicate --help", general.clone()),
        ("serve -h", help_of("serve")),
        ("http --static x -h", help_of("http")),
        ("http --http -h", help_of("http")),
        ("socket --bogus --help", help_of("socket")),
        ("socket extra --store --help", help_of("socket")),
        ("client --help", help_of("client")),
        ("-V", version.clone()),
        ("--version", version.clone()),
        ("socket -V", version.clone()),
        ("http --nonsense --version", version.clone()),
        ("--version --help", version.clone()),
        ("--help --version", general.clone()),
    ];
    for (args, expected) in cases {
        assert_eq!(&line(args), expected, "{args:?}");
    }
    let pages: Vec<String> = subcommands()
        .iter()
        .map(|name| help(&format!("{name} -h")))
        .collect();
    for (index, page) in pages.iter().enumerate() {
        assert!(
            !pages[..index].contains(page),
            "two subcommands share a help page"
        );
        assert_ne!(page, &help("--help"));
    }
}

#[test]
fn help_and_version_name_the_program() {
    let args = ["--version".to_string()];
    let version = parse("ferry-std", &args);
    let expected = format!("ferry-std {}", env!("CARGO_PKG_VERSION"));
    assert_eq!(version, Ok(Command::Version(expected)));
    let args = ["serve".to_string(), "--help".to_string()];
    let Ok(Command::Help(text)) = parse("ferry-std", &args) else {
        panic!("no help");
    };
    assert!(text.starts_with("ferry-std serve: "), "{text}");
    assert!(text.contains("Usage: ferry-std serve [OPTIONS]"), "{text}");
    assert!(text.contains("\n  ferry-std serve --http "), "{text}");
}

#[test]
fn help_fits_in_80_columns() {
    let mut pages = vec![("--help".to_string(), help("--help"))];
    for name in subcommands() {
        let args = format!("{name} --help");
        pages.push((args.clone(), help(&args)));
    }
    for (args, text) in pages {
        for text_line in text.lines() {
            assert!(text_line.chars().count() <= 80, "{args}: {text_line:?}");
            assert_eq!(text_line, text_line.trim_end(), "{args}: {text_line:?}");
        }
        assert!(text.ends_with('\n') && !text.ends_with("\n\n"), "{args}");
    }
}

#[test]
fn subcommand_help_lists_every_flag_with_its_default_and_variable() {
    let command = build("ferry");
    for sub in command.get_subcommands() {
        let name = sub.get_name();
        let text = help(&format!("{name} --help"));
        // `passwd` takes only its two operands; every other subcommand has flags.
        let has_flags = sub.get_arguments().any(|arg| arg.get_long().is_some());
        let usage = if has_flags {
            format!("Usage: ferry {name} [OPTIONS]")
        } else {
            format!("Usage: ferry {name} <")
        };
        assert!(text.contains(&usage), "{text}");
        for arg in sub.get_arguments().filter(|arg| arg.get_long().is_some()) {
            let long = arg.get_long().unwrap_or_default();
            let variable = format!("FERRY_{}", long.to_ascii_uppercase().replace('-', "_"));
            let env = arg.get_env().map(|env| env.to_string_lossy().into_owned());
            assert_eq!(env.as_deref(), Some(variable.as_str()), "{name} --{long}");
            // The flag's entry runs to the next flag or the end of the list, its lines joined.
            let rest = text
                .split_once(&format!("\n      --{long}"))
                .map_or("", |(_, rest)| rest);
            let ends = [
                rest.find("\n      --"),
                rest.find("\n  -"),
                rest.find("\n\n"),
            ];
            let end = ends.into_iter().flatten().min().unwrap_or(rest.len());
            let entry = rest[..end].split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                entry.contains(&format!("[env: {variable}]")),
                "{name} --{long}: {entry}"
            );
            match arg.get_default_values() {
                [default] => {
                    let shown = format!("[default: {}]", default.to_string_lossy());
                    assert!(entry.contains(&shown), "{name} --{long}: {entry}");
                }
                // Without a default, the text says what happens without the flag.
                _ => assert!(
                    ["instead", "without it"]
                        .iter()
                        .any(|word| entry.contains(word)),
                    "{name} --{long}: {entry}"
                ),
            }
        }
        assert!(
            text.contains("-h, --help") && text.contains("-V, --version"),
            "{text}"
        );
    }
}

#[test]
fn subcommand_help_explains_the_value_formats_its_flags_use() {
    let command = build("ferry");
    for sub in command.get_subcommands() {
        let text = help(&format!("{} --help", sub.get_name()));
        for placeholder in ["ADDR", "SIZE", "DURATION"] {
            let used = sub.get_arguments().any(|arg| {
                let names = arg.get_value_names().unwrap_or_default();
                names.iter().any(|name| name.as_str() == placeholder)
            });
            let explained = text.contains(&format!("\n  {placeholder}  "));
            assert_eq!(used, explained, "{} explains {placeholder}", sub.get_name());
        }
    }
}

#[test]
fn only_serve_runs_without_its_name() {
    for name in subcommands() {
        let text = help(&format!("{name} --help"));
        assert_eq!(
            text.contains("\n       ferry [OPTIONS]\n"),
            name == "serve",
            "{text}"
        );
    }
}

#[test]
fn general_help_lists_every_subcommand_and_says_serve_is_the_default() {
    let text = help("--help");
    assert!(
        text.starts_with(&format!("ferry {}: ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    for sub in build("ferry").get_subcommands() {
        assert!(
            text.contains(&format!("\n  {}  ", sub.get_name())),
            "{text}"
        );
        let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
        assert!(!about.is_empty() && text.contains(&about), "{text}");
    }
    assert!(
        text.contains("Without a subcommand, ferry runs 'serve'"),
        "{text}"
    );
    assert!(text.contains("FERRY_MAX_BODY"), "{text}");
    // serve's flags work without its name but are documented once, under serve.
    assert!(!text.contains("--max-body <SIZE>"), "{text}");
}

#[test]
fn tcp_is_documented_as_a_transport() {
    for name in ["serve", "http", "socket"] {
        assert!(help(&format!("{name} --help")).contains("--transport <udp|tcp>"));
    }
}

#[test]
fn help_or_version_among_short_flags_is_still_help_or_version() {
    assert_eq!(line("-hV"), Ok(Command::Help(help("--help"))));
    let version = format!("ferry {}", env!("CARGO_PKG_VERSION"));
    assert_eq!(line("files -Vh"), Ok(Command::Version(version)));
}

#[test]
fn chat_help_says_how_many_clients_each_binary_holds() {
    let text = help("chat --help")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let threads = ferry_core::limits::MAX_CONNECTION_THREADS;
    assert!(
        text.contains(&format!("ferry-std, at most {threads}")),
        "{text}"
    );
    assert!(text.contains("file descriptor limit"), "{text}");
}
