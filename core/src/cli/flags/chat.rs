//! The chat subcommands' part of the tables: `chat` and `chat-client`, their flags and the
//! `HOST`/`PORT` arguments of the client.

use super::{FlagSpec, PositionalSpec, SubcommandKind, SubcommandSpec};
use crate::cli::values::{
    check_address, check_host, parse_history, parse_port, parse_timeout, parse_username,
};
use crate::cli::{Options, ValueError};

pub(super) const CHAT: SubcommandSpec = SubcommandSpec {
    name: "chat",
    summary: "run the chat server, where terminal clients talk in real time",
    about: "Clients connect over TCP and send one JSON object per line, {\"username\": \"...\", \
            \"message\": \"...\"}; each message goes to every other client. A client's first \
            object claims its username. Newcomers get the recent history; joins and leaves are \
            announced; a client that falls too far behind reading is disconnected.",
    flags: &[&BIND, &HISTORY, &CHAT_IDLE_TIMEOUT],
    examples: &[
        ("chat", "chat server on port 7072"),
        (
            "chat --bind 127.0.0.1:7000 --history 50",
            "on this machine only, with a longer history",
        ),
    ],
    positionals: &[],
    kind: SubcommandKind::Chat,
};

pub(super) const CHAT_CLIENT: SubcommandSpec = SubcommandSpec {
    name: "chat-client",
    summary: "chat from this terminal with a chat server",
    about: "Connects to the chat server at HOST PORT, asks for a username unless --username \
            gives one, then prints what others say as 'username: message' while every line \
            typed is sent. Ctrl-D or Ctrl-C leaves.",
    flags: &[&USERNAME],
    examples: &[
        ("chat-client", "the chat server on this machine, port 7072"),
        (
            "chat-client chat.example.org 7072 --username ann",
            "another server, as ann",
        ),
    ],
    positionals: &[&HOST, &PORT],
    kind: SubcommandKind::ChatClient,
};

const BIND: FlagSpec = FlagSpec {
    name: "bind",
    env: "FERRY_BIND",
    placeholder: "ADDR",
    default: "0.0.0.0:7072",
    default_is_value: true,
    switch: false,
    summary: "Where the chat server listens.",
    apply: set_bind,
};

const HISTORY: FlagSpec = FlagSpec {
    name: "history",
    env: "FERRY_HISTORY",
    placeholder: "COUNT",
    default: "20",
    default_is_value: true,
    switch: false,
    summary: "How many recent messages a newcomer is sent when it connects (0 to 1000).",
    apply: set_history,
};

const CHAT_IDLE_TIMEOUT: FlagSpec = FlagSpec {
    name: "idle-timeout",
    env: "FERRY_IDLE_TIMEOUT",
    placeholder: "DURATION",
    default: "10m",
    default_is_value: true,
    switch: false,
    summary: "A client that sends nothing for this long is disconnected (the chat client \
              sends an empty line every minute to stay connected).",
    apply: set_chat_idle_timeout,
};

const USERNAME: FlagSpec = FlagSpec {
    name: "username",
    env: "FERRY_USERNAME",
    placeholder: "NAME",
    default: "asked at start",
    default_is_value: false,
    switch: false,
    summary: "The name to chat under; without it the client asks for one.",
    apply: set_username,
};

const HOST: PositionalSpec = PositionalSpec {
    name: "HOST",
    default: "127.0.0.1",
    summary: "The chat server's host name or IP address.",
    required: false,
    apply: set_host,
};

const PORT: PositionalSpec = PositionalSpec {
    name: "PORT",
    default: "7072",
    summary: "The chat server's port.",
    required: false,
    apply: set_port,
};

fn set_bind(options: &mut Options, value: &str) -> Result<(), ValueError> {
    check_address(value)?;
    options.chat.bind = value.to_string();
    Ok(())
}

fn set_history(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.chat.history = parse_history(value)?;
    Ok(())
}

fn set_chat_idle_timeout(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.chat.idle_timeout = parse_timeout(value)?;
    Ok(())
}

fn set_username(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.client.username = Some(parse_username(value)?);
    Ok(())
}

fn set_host(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.client.host = check_host(value)?;
    Ok(())
}

fn set_port(options: &mut Options, value: &str) -> Result<(), ValueError> {
    options.client.port = parse_port(value)?;
    Ok(())
}
