//! The `--help` texts: the general one and one per subcommand.
//!
//! Owns layout and wording; every flag, default and variable name comes from the tables in
//! `flags.rs`, so the help cannot drift from what [`super::parse`] accepts. Lines fit in
//! [`WIDTH`] columns. It never prints; the shell does.

use super::flags::{FlagSpec, SubcommandSpec};

/// The help for the program as a whole: subcommands, general flags, environment, examples.
pub(super) fn general_help(program: &str) -> String {
    let mut out = String::new();
    push_paragraph(
        &mut out,
        &format!("{program} {}: {ABOUT}", env!("CARGO_PKG_VERSION")),
    );
    out.push('\n');
    out.push_str(&format!("Usage: {program} [SUBCOMMAND] [FLAGS]\n\n"));

    out.push_str("Subcommands:\n");
    let subcommands = SubcommandSpec::all();
    let column = INDENT
        + subcommands
            .iter()
            .map(|spec| spec.name.len())
            .max()
            .unwrap_or(0)
        + GAP;
    for spec in subcommands {
        push_item(&mut out, spec.name, column, spec.summary);
    }

    out.push_str("\nFlags:\n");
    let column = INDENT
        + GENERAL_FLAGS
            .iter()
            .map(|(label, _)| label.len())
            .max()
            .unwrap_or(0);
    for (label, text) in GENERAL_FLAGS {
        push_item(&mut out, label, column + GAP, text);
    }

    out.push('\n');
    push_paragraph(
        &mut out,
        &format!(
            "Without a subcommand, {program} runs 'serve' with the flags given. Every flag can \
             also be set by an environment variable named after it, such as FERRY_MAX_BODY for \
             --max-body; {ENVIRONMENT_RULE}"
        ),
    );

    out.push_str("\nExamples:\n");
    push_examples(&mut out, program, GENERAL_EXAMPLES);
    out.push('\n');
    push_paragraph(
        &mut out,
        &format!("Run '{program} SUBCOMMAND --help' for the flags of each subcommand."),
    );
    out
}

/// The help for one subcommand: usage, every flag with its default and variable, the value
/// formats its flags use, examples.
pub(super) fn subcommand_help(program: &str, spec: &SubcommandSpec) -> String {
    let name = spec.name;
    let mut out = String::new();
    push_paragraph(&mut out, &format!("{program} {name}: {}", spec.summary));
    out.push('\n');
    let positionals: String = spec
        .positionals
        .iter()
        .map(|positional| match positional.required {
            true => format!(" {}", positional.name),
            false => format!(" [{}]", positional.name),
        })
        .collect();
    out.push_str(&format!("Usage: {program} {name} [FLAGS]{positionals}\n"));
    if spec.is_default() {
        out.push_str(&format!("       {program} [FLAGS]\n"));
    }
    out.push('\n');
    push_paragraph(&mut out, spec.about);

    if !spec.positionals.is_empty() {
        out.push_str("\nArguments:\n");
        let column = INDENT
            + spec
                .positionals
                .iter()
                .map(|positional| positional.name.len())
                .max()
                .unwrap_or(0)
            + GAP;
        for positional in spec.positionals {
            let text = match positional.required {
                true => positional.summary.to_string(),
                false => format!("{} [default: {}]", positional.summary, positional.default),
            };
            push_item(&mut out, positional.name, column, &text);
        }
    }

    out.push_str("\nFlags:\n");
    let labels: Vec<String> = spec.flags.iter().map(|flag| flag_label(flag)).collect();
    let widest = labels
        .iter()
        .map(String::len)
        .chain(GENERAL_FLAGS.map(|(label, _)| label.len()));
    let column = INDENT + widest.max().unwrap_or(0) + GAP;
    for (flag, label) in spec.flags.iter().zip(&labels) {
        let details = format!("[default: {}] [env: {}]", flag.default, flag.env);
        push_item(&mut out, label, column, flag.summary);
        push_item(&mut out, "", column, &details);
    }
    push_item(&mut out, "-h, --help", column, "Print this help.");
    push_item(&mut out, "-V, --version", column, "Print the version.");
    out.push('\n');
    push_paragraph(
        &mut out,
        &format!("Each flag can also be set by the variable shown with it; {ENVIRONMENT_RULE}"),
    );

    let used = VALUE_FORMATS.iter().filter(|(placeholder, _)| {
        spec.flags
            .iter()
            .any(|flag| flag.placeholder == *placeholder)
    });
    let used: Vec<&(&str, &str)> = used.collect();
    if !used.is_empty() {
        out.push_str("\nValues:\n");
        let column = INDENT + used.iter().map(|(label, _)| label.len()).max().unwrap_or(0) + GAP;
        for (placeholder, text) in used {
            push_item(&mut out, placeholder, column, text);
        }
    }

    out.push_str("\nExamples:\n");
    push_examples(&mut out, program, spec.examples);
    out
}

/// `--name PLACEHOLDER`, as the flag list shows it.
fn flag_label(flag: &FlagSpec) -> String {
    if flag.switch {
        return format!("--{}", flag.name);
    }
    format!("--{} {}", flag.name, flag.placeholder)
}

/// Appends `text` wrapped to [`WIDTH`] columns, then a newline.
fn push_paragraph(out: &mut String, text: &str) {
    for line in wrap(text, WIDTH) {
        out.push_str(&line);
        out.push('\n');
    }
}

/// Appends `label` indented by [`INDENT`], then `text` wrapped from column `column` on; when
/// the label reaches the column, the text starts on the next line.
fn push_item(out: &mut String, label: &str, column: usize, text: &str) {
    let mut line = format!("{:INDENT$}{label}", "");
    let width = WIDTH.saturating_sub(column).max(MIN_TEXT_WIDTH);
    for part in wrap(text, width) {
        if line.len() + 1 > column {
            out.push_str(line.trim_end());
            out.push('\n');
            line.clear();
        }
        line.push_str(&format!("{:1$}", "", column - line.len()));
        line.push_str(&part);
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// Appends each example as a command line, with what it does indented below.
fn push_examples(out: &mut String, program: &str, examples: &[(&str, &str)]) {
    for (args, what) in examples {
        let command = format!("{program} {args}");
        out.push_str(&format!("{:INDENT$}{}\n", "", command.trim_end()));
        push_item(out, "", EXAMPLE_COLUMN, what);
    }
}

/// Splits `text` at spaces into lines of at most `width` characters; a longer word stays whole.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The one-line description of the program in the general help.
const ABOUT: &str =
    "a message web app, the socket server that stores its messages, a file server and a chat \
     server";

/// How flags and environment variables combine, said in both kinds of help.
const ENVIRONMENT_RULE: &str =
    "a flag on the command line wins over its variable, and an empty variable counts as unset.";

/// The flags every subcommand takes, with what they do in the general help.
const GENERAL_FLAGS: [(&str, &str); 2] = [
    (
        "-h, --help",
        "Print help; after a subcommand, the help of that subcommand.",
    ),
    ("-V, --version", "Print the version."),
];

/// Examples in the general help: argument lists after the program name, and what they do.
const GENERAL_EXAMPLES: &[(&str, &str)] = &[
    (
        "",
        "web app on port 3000 and socket server on port 5000, in one process",
    ),
    (
        "--http 127.0.0.1:8000",
        "the same, with the web app on this machine only, port 8000",
    ),
    (
        "socket --socket 127.0.0.1:5000 --store /var/lib/ferry/data.json",
        "socket server alone, on this machine only, into another file",
    ),
    (
        "files --root /srv/share",
        "file server for a folder on port 8080",
    ),
    (
        "client 127.0.0.1 8080 GET /notes.txt",
        "download a file from it",
    ),
    ("chat", "chat server on port 7072"),
    (
        "chat-client --username ann",
        "chat as ann with the chat server on this machine",
    ),
];

/// What the placeholders of flag values mean; a subcommand's help lists those its flags use.
const VALUE_FORMATS: &[(&str, &str)] = &[
    (
        "ADDR",
        "HOST:PORT, where HOST is a name or an IP address, IPv6 in brackets ([::1]:3000). \
         Port 0 lets the system pick a free port to listen on.",
    ),
    (
        "SIZE",
        "Bytes, or a whole number with K, M or G (1K = 1024 bytes).",
    ),
    (
        "DURATION",
        "A whole number with ms, s or m (minutes): 500ms, 2s, 1m.",
    ),
];

/// Every help line fits in this many columns, the classic terminal width.
const WIDTH: usize = 80;
/// Spaces before each item of a list.
const INDENT: usize = 2;
/// Spaces at least between an item's label and its text.
const GAP: usize = 2;
/// Where the description of an example starts, indented below its command line.
const EXAMPLE_COLUMN: usize = 6;
/// Text is never wrapped narrower than this, however long the labels.
const MIN_TEXT_WIDTH: usize = 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_within_the_width() {
        let cases: &[(&str, usize, &[&str])] = &[
            ("", 10, &[]),
            ("one", 10, &["one"]),
            ("one two three", 7, &["one two", "three"]),
            ("one two three", 8, &["one two", "three"]),
            ("a verylongword b", 4, &["a", "verylongword", "b"]),
            ("  spaced   out  ", 20, &["spaced out"]),
        ];
        for (text, width, expected) in cases {
            assert_eq!(wrap(text, *width), *expected, "wrap({text:?}, {width})");
        }
    }

    /// Every help text, for a short and a long program name.
    fn all_help_texts() -> Vec<(String, String)> {
        let mut texts = Vec::new();
        for program in ["ferry", "ferry-std"] {
            texts.push((format!("{program} --help"), general_help(program)));
            for spec in SubcommandSpec::all() {
                texts.push((
                    format!("{program} {} --help", spec.name),
                    subcommand_help(program, spec),
                ));
            }
        }
        texts
    }

    #[test]
    fn help_fits_in_80_columns() {
        for (name, text) in all_help_texts() {
            for line in text.lines() {
                assert!(line.chars().count() <= WIDTH, "{name}: {line:?}");
                assert_eq!(line, line.trim_end(), "{name}: trailing space in {line:?}");
            }
            assert!(text.ends_with('\n') && !text.ends_with("\n\n"), "{name}");
        }
    }

    #[test]
    fn subcommand_help_lists_every_flag_with_its_default_and_variable() {
        for spec in SubcommandSpec::all() {
            let text = subcommand_help("ferry", spec);
            assert!(
                text.contains(&format!("Usage: ferry {} [FLAGS]", spec.name)),
                "{text}"
            );
            assert!(text.contains(spec.summary), "{text}");
            for flag in spec.flags {
                let label = format!("  --{} {}", flag.name, flag.placeholder);
                let entry = text
                    .split_once(&label)
                    .map(|(_, rest)| rest)
                    .unwrap_or_default();
                // The default and the variable follow the flag, before the next flag starts.
                let entry = entry.split("\n  -").next().unwrap_or_default();
                let entry = entry.split_whitespace().collect::<Vec<_>>().join(" ");
                assert!(
                    entry.contains(&format!("[default: {}]", flag.default)),
                    "{label}: {entry}"
                );
                assert!(
                    entry.contains(&format!("[env: {}]", flag.env)),
                    "{label}: {entry}"
                );
            }
            assert!(
                text.contains("-h, --help") && text.contains("-V, --version"),
                "{text}"
            );
            for (placeholder, _) in VALUE_FORMATS {
                let used = spec
                    .flags
                    .iter()
                    .any(|flag| flag.placeholder == *placeholder);
                let explained = text.contains(&format!("\n  {placeholder}  "));
                assert_eq!(used, explained, "{} explains {placeholder}", spec.name);
            }
        }
    }

    #[test]
    fn only_serve_runs_without_its_name() {
        for spec in SubcommandSpec::all() {
            let text = subcommand_help("ferry", spec);
            assert_eq!(
                text.contains("\n       ferry [FLAGS]\n"),
                spec.name == "serve",
                "{text}"
            );
        }
    }

    #[test]
    fn general_help_lists_every_subcommand_and_says_serve_is_the_default() {
        let text = general_help("ferry");
        assert!(
            text.starts_with(&format!("ferry {}: ", env!("CARGO_PKG_VERSION"))),
            "{text}"
        );
        for spec in SubcommandSpec::all() {
            assert!(text.contains(&format!("\n  {}  ", spec.name)), "{text}");
            assert!(text.contains(spec.summary), "{text}");
        }
        assert!(
            text.contains("Without a subcommand, ferry runs 'serve'"),
            "{text}"
        );
        assert!(text.contains("FERRY_MAX_BODY"), "{text}");
    }

    #[test]
    fn tcp_is_documented_as_a_transport() {
        for name in ["serve", "http", "socket"] {
            let spec = SubcommandSpec::find(name).unwrap();
            assert!(subcommand_help("ferry", spec).contains("--transport udp|tcp"));
        }
    }

    #[test]
    fn items_align_their_text_at_the_column() {
        let mut out = String::new();
        push_item(&mut out, "--http ADDR", 16, "Where the web app listens.");
        assert_eq!(out, "  --http ADDR   Where the web app listens.\n");

        let mut out = String::new();
        push_item(&mut out, "--a-very-long-label X", 16, "Text.");
        assert_eq!(out, "  --a-very-long-label X\n                Text.\n");

        let mut out = String::new();
        push_item(&mut out, "", 6, "what it does");
        assert_eq!(out, "      what it does\n");
    }
}
