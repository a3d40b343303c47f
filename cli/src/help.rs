//! The `--help` texts around clap's list of flags: the layout of each page, what the value
//! formats mean, how variables combine with flags, and examples naming the binary.
//!
//! clap writes every flag with its default and variable, from the same definitions it parses
//! with, so the help cannot drift from what is accepted. Lines fit in [`WIDTH`] columns.

/// Every help line fits in this many columns, the classic terminal width; fixed rather than
/// the terminal's, so help reads the same everywhere and can be tested.
pub(crate) const WIDTH: usize = 80;

/// The layout of `ferry --help`: what the program is, usage, subcommands, flags.
pub(crate) fn general_template(program: &str) -> String {
    let mut out = String::new();
    let version = env!("CARGO_PKG_VERSION");
    push_paragraph(&mut out, &format!("{program} {version}: {ABOUT}"));
    out + "\n{usage-heading} {usage}\n\n{all-args}{after-help}\n"
}

/// The layout of `ferry SUBCOMMAND --help`: its summary, usage, what it does, then its flags.
pub(crate) fn subcommand_template(program: &str, subcommand: &str) -> String {
    format!(
        "{program} {subcommand}: {{about}}\n\n{{usage-heading}} {{usage}}\n\n{{before-help}}\
         {{all-args}}{{after-help}}\n"
    )
}

/// What follows the list of subcommands in the general help.
pub(crate) fn general_after_help(program: &str) -> String {
    let mut out = String::new();
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
    finish(out)
}

/// What follows the flags in a subcommand's help: the variables, the value formats its flags
/// use, examples.
pub(crate) fn subcommand_after_help(program: &str, subcommand: &clap::Command) -> String {
    let mut out = String::new();
    push_paragraph(
        &mut out,
        &format!("Each flag can also be set by the variable shown with it; {ENVIRONMENT_RULE}"),
    );
    let takes = |placeholder: &str| {
        subcommand.get_arguments().any(|arg| {
            let names = arg.get_value_names().unwrap_or_default();
            names.iter().any(|name| name.as_str() == placeholder)
        })
    };
    let used: Vec<&(&str, &str)> = VALUE_FORMATS
        .iter()
        .filter(|(placeholder, _)| takes(placeholder))
        .collect();
    if !used.is_empty() {
        out.push_str("\nValues:\n");
        let column = INDENT + used.iter().map(|(label, _)| label.len()).max().unwrap_or(0) + GAP;
        for (placeholder, text) in used {
            push_item(&mut out, placeholder, column, text);
        }
    }
    let examples = EXAMPLES
        .iter()
        .find(|(name, _)| *name == subcommand.get_name())
        .map(|(_, examples)| *examples)
        .unwrap_or_default();
    if !examples.is_empty() {
        out.push_str("\nExamples:\n");
        push_examples(&mut out, program, examples);
    }
    finish(out)
}

/// Without the last newline, which the templates add, so clap's wrapping keeps every line.
fn finish(mut out: String) -> String {
    while out.ends_with('\n') {
        out.pop();
    }
    out
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

/// What ferry is, in the first lines of the general help.
const ABOUT: &str = "a message web app, the socket server that stores its messages, a file \
                     server and a chat server";

/// How flags and environment variables combine, said in both kinds of help.
const ENVIRONMENT_RULE: &str =
    "a flag on the command line wins over its variable, and an empty variable counts as unset.";

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
    (
        "cert",
        "write a self-signed cert.pem and key.pem for TLS on this machine",
    ),
];

/// Each subcommand's examples: argument lists after the program name, and what they do.
const EXAMPLES: &[(&str, &[(&str, &str)])] = &[
    (
        "serve",
        &[
            ("", "web app on port 3000, socket server on port 5000"),
            (
                "serve --http 127.0.0.1:8000",
                "web app on this machine only, port 8000",
            ),
            (
                "serve --store /var/lib/ferry/data.json",
                "keep messages in another file",
            ),
            (
                "serve --tls-cert cert.pem --tls-key key.pem",
                "the web app over TLS (https://)",
            ),
        ],
    ),
    (
        "http",
        &[
            (
                "http --forward 10.0.0.5:5000",
                "web app for a socket server on another host",
            ),
            (
                "http --http [::]:3000 --static /srv/ferry/static",
                "listen on IPv6, pages from /srv",
            ),
        ],
    ),
    (
        "socket",
        &[
            (
                "socket --socket 127.0.0.1:5000",
                "accept messages from this machine only",
            ),
            (
                "socket --store /var/lib/ferry/data.json --fsync always",
                "sync every message",
            ),
        ],
    ),
    (
        "files",
        &[
            ("files", "serve this folder on 127.0.0.1:8080"),
            (
                "files --bind 0.0.0.0:8080 --root /srv/share --read-only",
                "share a folder with the network, downloads only",
            ),
            (
                "files --log access.log --max-upload 10G",
                "log to a file, take uploads up to 10 GiB",
            ),
            (
                "files --bind 0.0.0.0:8080 --auth users.txt",
                "uploads and deletions with a password from 'passwd'",
            ),
        ],
    ),
    (
        "passwd",
        &[(
            "passwd users.txt ann",
            "set ann's password (asked twice) for 'files --auth users.txt'",
        )],
    ),
    (
        "client",
        &[
            (
                "client 127.0.0.1 8080 GET /docs/report.pdf",
                "save report.pdf here",
            ),
            (
                "client 127.0.0.1 8080 PUT /backup/db.tar --file /tmp/db.tar",
                "upload a local file under another name",
            ),
            ("client example.org 8080 HEAD /", "show the headers of /"),
            (
                "client localhost 8443 GET /a.txt --cacert cert.pem",
                "over TLS, trusting a self-signed certificate",
            ),
        ],
    ),
    (
        "chat",
        &[
            ("chat", "chat server on port 7072"),
            (
                "chat --bind 127.0.0.1:7000 --history 50",
                "on this machine only, with a longer history",
            ),
            (
                "chat --tls-cert cert.pem --tls-key key.pem",
                "the chat over TLS (tls://)",
            ),
        ],
    ),
    (
        "chat-client",
        &[
            ("chat-client", "the chat server on this machine, port 7072"),
            (
                "chat-client chat.example.org 7072 --username ann",
                "another server, as ann",
            ),
            (
                "chat-client localhost 7072 --cacert cert.pem",
                "over TLS, trusting a self-signed certificate",
            ),
            (
                "chat-client --server a.lan:7072 --server b.lan:7072",
                "two servers: when one goes away, reconnects to the other",
            ),
        ],
    ),
    (
        "cert",
        &[
            ("cert", "cert.pem and key.pem here, for localhost"),
            (
                "cert --out /etc/ferry --name files.lan --name 192.168.1.20",
                "for a host on the local network",
            ),
        ],
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
        "HOST:PORT",
        "A server to connect to: a name or an IP address, IPv6 in brackets ([::1]:7072), and \
         a port from 1 to 65535.",
    ),
    (
        "SIZE",
        "Bytes, or a whole number with K, M or G (1K = 1024 bytes).",
    ),
    (
        "FILE",
        "A path. --tls-cert and --tls-key are PEM files: the certificate chain, and the \
         private key (PKCS#8, PKCS#1 or SEC1).",
    ),
    (
        "DURATION",
        "A whole number with ms, s or m (minutes): 500ms, 2s, 1m.",
    ),
];

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
