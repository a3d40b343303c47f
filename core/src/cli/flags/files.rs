//! The file server's part of the tables: `files`, `client`, their flags and the client's
//! `HOST PORT METHOD PATH` arguments.

use std::path::PathBuf;

use super::{FlagSpec, PositionalSpec, SubcommandKind, SubcommandSpec};
use crate::cli::values::{
    check_address, check_host, parse_client_method, parse_client_path, parse_limit, parse_port,
    parse_switch, parse_timeout,
};
use crate::cli::{Options, ValueError};

pub(super) const FILES: SubcommandSpec = SubcommandSpec {
    name: "files",
    summary: "serve a folder over HTTP: GET and HEAD downloads, PUT uploads",
    about: "Serves the files under --root on port 8080: GET and HEAD (with ranges and \
            conditional requests; a folder serves its index.html), and PUT, which writes a file \
            atomically and creates folders as needed (201 new, 204 replaced). No request can \
            read or write outside the root. Every request is logged in Combined Log Format with \
            its duration.",
    flags: &[
        &FILES_BIND,
        &ROOT,
        &LOG,
        &READ_ONLY,
        &MAX_UPLOAD,
        &FILES_HEADER_TIMEOUT,
        &FILES_BODY_TIMEOUT,
        &FILES_IDLE_TIMEOUT,
        &FILES_WRITE_TIMEOUT,
    ],
    examples: &[
        ("files", "serve this folder on 127.0.0.1:8080"),
        (
            "files --bind 0.0.0.0:8080 --root /srv/share --read-only",
            "share a folder with the network, downloads only",
        ),
        (
            "files --log access.log --max-upload 10G",
            "log to a file, take uploads up to 10 GiB",
        ),
    ],
    positionals: &[],
    kind: SubcommandKind::Files,
};

pub(super) const CLIENT: SubcommandSpec = SubcommandSpec {
    name: "client",
    summary: "download, upload or inspect a file on a file server",
    about: "GET saves the file under the last name of PATH in the current folder (or --out) and \
            prints 'saved NAME (N bytes)'; PUT uploads the local file of that name (or --file); \
            HEAD prints the status and headers. Any answer but 2xx is printed on stderr and the \
            exit code is 1. Long transfers show a progress bar when stderr is a terminal.",
    flags: &[&OUT, &FILE],
    examples: &[
        (
            "client 127.0.0.1 8080 GET /docs/report.pdf",
            "save report.pdf here",
        ),
        (
            "client 127.0.0.1 8080 PUT /backup/db.tar --file /tmp/db.tar",
            "upload a local file under another name",
        ),
        ("client example.org 8080 HEAD /", "show the headers of /"),
    ],
    positionals: &[&HOST, &PORT, &METHOD, &PATH],
    kind: SubcommandKind::Client,
};

const FILES_BIND: FlagSpec = FlagSpec {
    name: "bind",
    env: "FERRY_BIND",
    placeholder: "ADDR",
    default: "127.0.0.1:8080",
    default_is_value: true,
    switch: false,
    summary: "Where the file server listens.",
    apply: set_bind,
};

const ROOT: FlagSpec = FlagSpec {
    name: "root",
    env: "FERRY_ROOT",
    placeholder: "DIR",
    default: ".",
    default_is_value: true,
    switch: false,
    summary: "The folder served; nothing outside it is read or written.",
    apply: set_root,
};

const LOG: FlagSpec = FlagSpec {
    name: "log",
    env: "FERRY_LOG",
    placeholder: "FILE",
    default: "stdout",
    default_is_value: false,
    switch: false,
    summary: "Append the access log to this file instead of printing it.",
    apply: set_log,
};

const READ_ONLY: FlagSpec = FlagSpec {
    name: "read-only",
    env: "FERRY_READ_ONLY",
    placeholder: "",
    default: "off",
    default_is_value: true,
    switch: true,
    summary: "Refuse uploads: PUT is answered 405.",
    apply: set_read_only,
};

const MAX_UPLOAD: FlagSpec = FlagSpec {
    name: "max-upload",
    env: "FERRY_MAX_UPLOAD",
    placeholder: "SIZE",
    default: "1G",
    default_is_value: true,
    switch: false,
    summary: "The largest upload; a larger one gets 413 before it is sent.",
    apply: set_max_upload,
};

const FILES_HEADER_TIMEOUT: FlagSpec = FlagSpec {
    name: "header-timeout",
    env: "FERRY_HEADER_TIMEOUT",
    placeholder: "DURATION",
    default: "10s",
    default_is_value: true,
    switch: false,
    summary: "How long a client may take to send a whole request head; then it gets 408.",
    apply: set_header_timeout,
};

const FILES_BODY_TIMEOUT: FlagSpec = FlagSpec {
    name: "body-timeout",
    env: "FERRY_BODY_TIMEOUT",
    placeholder: "DURATION",
    default: "10s",
    default_is_value: true,
    switch: false,
    summary: "How long an upload may stall between two reads; then it gets 408.",
    apply: set_body_timeout,
};

const FILES_WRITE_TIMEOUT: FlagSpec = FlagSpec {
    name: "write-timeout",
    env: "FERRY_WRITE_TIMEOUT",
    placeholder: "DURATION",
    default: "10s",
    default_is_value: true,
    switch: false,
    summary: "How long a client may take no byte of its answer (a download included) before \
              it is closed.",
    apply: set_write_timeout,
};

const FILES_IDLE_TIMEOUT: FlagSpec = FlagSpec {
    name: "idle-timeout",
    env: "FERRY_IDLE_TIMEOUT",
    placeholder: "DURATION",
    default: "15s",
    default_is_value: true,
    switch: false,
    summary: "How long an idle keep-alive connection stays open.",
    apply: set_idle_timeout,
};

const OUT: FlagSpec = FlagSpec {
    name: "out",
    env: "FERRY_OUT",
    placeholder: "FILE",
    default: "the last name of PATH",
    default_is_value: false,
    switch: false,
    summary: "GET: save the download here instead.",
    apply: set_out,
};

const FILE: FlagSpec = FlagSpec {
    name: "file",
    env: "FERRY_FILE",
    placeholder: "LOCAL",
    default: "the last name of PATH",
    default_is_value: false,
    switch: false,
    summary: "PUT: upload this local file instead.",
    apply: set_file,
};

const HOST: PositionalSpec = PositionalSpec {
    name: "HOST",
    default: "",
    summary: "The file server's host name or IP address.",
    required: true,
    apply: set_host,
};

const PORT: PositionalSpec = PositionalSpec {
    name: "PORT",
    default: "",
    summary: "The file server's port.",
    required: true,
    apply: set_port,
};

const METHOD: PositionalSpec = PositionalSpec {
    name: "METHOD",
    default: "",
    summary: "GET, PUT or HEAD.",
    required: true,
    apply: set_method,
};

const PATH: PositionalSpec = PositionalSpec {
    name: "PATH",
    default: "",
    summary: "The file's path on the server, starting with /.",
    required: true,
    apply: set_path,
};

fn set_bind(options: &mut Options, value: &str) -> Result<(), ValueError> {
    check_address(value)?;
    options.files.bind = value.to_string();
    Ok(())
}

fn set_root(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.files.root = PathBuf::from(value);
    Ok(())
}

fn set_log(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.files.log = Some(PathBuf::from(value));
    Ok(())
}

fn set_read_only(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.files.read_only = parse_switch(value)?;
    Ok(())
}

fn set_max_upload(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.files.max_upload = parse_limit(value)?;
    Ok(())
}

fn set_header_timeout(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.files.header_timeout = parse_timeout(value)?;
    Ok(())
}

fn set_idle_timeout(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.files.idle_timeout = parse_timeout(value)?;
    Ok(())
}

fn set_body_timeout(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.files.body_timeout = parse_timeout(value)?;
    Ok(())
}

fn set_write_timeout(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.files.write_timeout = parse_timeout(value)?;
    Ok(())
}

fn set_out(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.file_client.out = Some(PathBuf::from(value));
    Ok(())
}

fn set_file(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.file_client.file = Some(PathBuf::from(value));
    Ok(())
}

fn set_host(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.file_client.host = check_host(value)?;
    Ok(())
}

fn set_port(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.file_client.port = parse_port(value)?;
    Ok(())
}

fn set_method(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.file_client.method = parse_client_method(value)?;
    Ok(())
}

fn set_path(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.file_client.path = parse_client_path(value)?;
    Ok(())
}
