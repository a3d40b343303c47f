//! What a flag's value may be: addresses, store locations, limits, timeouts, enumerations.
//!
//! Owns the checks that turn one value string into a setting or a [`ValueError`]; each check is
//! a clap value parser. It never knows which flag a value belongs to or where the value came
//! from; clap and `error.rs` do.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV6};
use std::path::PathBuf;
use std::time::Duration;

use ferry_core::chat::{check_username, AccountsMode, ChatError};
use ferry_core::datagram::Transport;
use ferry_core::files::auth::check_user;
use ferry_core::files::client::ClientMethod;
use ferry_storage::{FsyncPolicy, LocationError, StoreLocation};

use crate::chat::ServerAddress;
use crate::size::{parse_duration, parse_size, DurationError, SizeError};

/// Checks `HOST:PORT`: a port from 0 to 65535 and a host that is a name, an IPv4 address or an
/// IPv6 address in brackets. Names are not resolved here; the shell does that when it binds
/// or connects.
pub(crate) fn address(text: &str) -> Result<String, ValueError> {
    check_address(non_empty(text)?)?;
    Ok(text.to_string())
}

/// A folder or file path: any text but an empty one.
pub(crate) fn path(text: &str) -> Result<PathBuf, ValueError> {
    Ok(PathBuf::from(non_empty(text)?))
}

/// Checks a host to connect to (`chat-client HOST`): a name, an IPv4 address, or an IPv6
/// address with or without brackets. Returns it without brackets, as a resolver takes it.
pub(crate) fn host(text: &str) -> Result<String, ValueError> {
    let bare = text
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(text);
    if bare.parse::<IpAddr>().is_ok() {
        return Ok(bare.to_string());
    }
    // A name is checked as an address would be, with any port.
    match check_address(&format!("{bare}:1")) {
        Ok(()) => Ok(bare.to_string()),
        Err(_) => Err(ValueError::Host),
    }
}

/// Reads a chat server to connect to (`--server`): `HOST:PORT`, an IPv6 host in brackets.
pub(crate) fn server(text: &str) -> Result<ServerAddress, ValueError> {
    let text = non_empty(text.trim())?;
    let (host, port_text) = text
        .rsplit_once(':')
        .ok_or(ValueError::AddressWithoutPort)?;
    if host.contains(':') && !host.starts_with('[') {
        return Err(ValueError::AddressIpv6WithoutBrackets);
    }
    Ok(ServerAddress {
        host: self::host(host)?,
        port: port(port_text)?,
    })
}

/// Reads a port to connect to: a number from 1 to 65535.
pub(crate) fn port(text: &str) -> Result<u16, ValueError> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ => Err(ValueError::Port),
    }
}

/// Reads `--history`: a whole number up to [`MAX_HISTORY`].
pub(crate) fn history(text: &str) -> Result<usize, ValueError> {
    match text.parse::<usize>() {
        Ok(count) if count <= MAX_HISTORY && text.bytes().all(|b| b.is_ascii_digit()) => Ok(count),
        _ => Err(ValueError::History),
    }
}

/// Reads a number of clients (`--announce-limit`): a whole number.
pub(crate) fn count(text: &str) -> Result<usize, ValueError> {
    match text.parse::<usize>() {
        Ok(count) if text.bytes().all(|b| b.is_ascii_digit()) => Ok(count),
        _ => Err(ValueError::Count),
    }
}

/// Reads `--username` by the chat room's rules, so a name the server would refuse is refused
/// before connecting.
pub(crate) fn username(text: &str) -> Result<String, ValueError> {
    check_username(non_empty(text)?).map_err(ValueError::Username)?;
    Ok(text.to_string())
}

/// Reads a password file's user name, by the file's rules (no `:`, no spaces, at most 64
/// characters).
pub(crate) fn user(text: &str) -> Result<String, ValueError> {
    check_user(non_empty(text)?).map_err(ValueError::User)?;
    Ok(text.to_string())
}

/// Reads `--store`: a file path or a `mongodb://` URL, as storage tells them apart.
pub(crate) fn store(text: &str) -> Result<StoreLocation, ValueError> {
    StoreLocation::parse(non_empty(text)?).map_err(ValueError::Store)
}

/// Reads `--cluster`: a `redis://` URL with a host.
pub(crate) fn cluster_url(text: &str) -> Result<String, ValueError> {
    let rest = non_empty(text)?
        .strip_prefix("redis://")
        .ok_or(ValueError::ClusterUrl)?;
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    if host.is_empty() || host.starts_with('/') {
        return Err(ValueError::ClusterUrl);
    }
    Ok(text.to_owned())
}

/// Reads a size limit: a size that is not zero.
pub(crate) fn limit(text: &str) -> Result<u64, ValueError> {
    match parse_size(non_empty(text)?).map_err(ValueError::Size)? {
        0 => Err(ValueError::Zero),
        size => Ok(size),
    }
}

/// Reads a timeout: a duration above zero and at most [`MAX_TIMEOUT`].
pub(crate) fn timeout(text: &str) -> Result<Duration, ValueError> {
    match parse_duration(non_empty(text)?).map_err(ValueError::Duration)? {
        Duration::ZERO => Err(ValueError::Zero),
        duration if duration > MAX_TIMEOUT => Err(ValueError::TooLong),
        duration => Ok(duration),
    }
}

/// Reads a freshness lifetime: a duration from zero (ask every time) up to [`MAX_TIMEOUT`]; a
/// file served longer than a day without asking is better served with a new name.
pub(crate) fn max_age(text: &str) -> Result<Duration, ValueError> {
    match parse_duration(non_empty(text)?).map_err(ValueError::Duration)? {
        duration if duration > MAX_TIMEOUT => Err(ValueError::TooLong),
        duration => Ok(duration),
    }
}

/// Reads `--transport` by the transports' own names, in any case.
pub(crate) fn transport(text: &str) -> Result<Transport, ValueError> {
    let found = Transport::ALL.into_iter().find(|t| named(t.name(), text));
    found.ok_or(ValueError::Transport)
}

/// Reads `--fsync` by the policies' own names, in any case.
pub(crate) fn fsync(text: &str) -> Result<FsyncPolicy, ValueError> {
    let found = FsyncPolicy::ALL.into_iter().find(|p| named(p.name(), text));
    found.ok_or(ValueError::Fsync)
}

/// Reads the client's `METHOD`: GET, PUT or HEAD, in any case.
pub(crate) fn client_method(text: &str) -> Result<ClientMethod, ValueError> {
    let found = ClientMethod::ALL
        .into_iter()
        .find(|m| named(m.name(), text));
    found.ok_or(ValueError::ClientMethod)
}

/// Reads the client's `PATH`: starts with `/`, and has no space or control character, which
/// would break the request line.
pub(crate) fn client_path(text: &str) -> Result<String, ValueError> {
    if !text.starts_with('/') || text.chars().any(|c| c.is_control() || c == ' ') {
        return Err(ValueError::ClientPath);
    }
    Ok(text.to_string())
}

/// Reads a switch's value (`--read-only=VALUE`, `FERRY_READ_ONLY`): `1`/`true`/`yes`/`on` or
/// `0`/`false`/`no`/`off`, in any case.
pub(crate) fn switch(text: &str) -> Result<bool, ValueError> {
    let lower = non_empty(text)?.to_ascii_lowercase();
    match lower.as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ValueError::Switch),
    }
}

/// Reads `--accounts`: off, optional or required, in any case.
pub(crate) fn accounts(text: &str) -> Result<AccountsMode, ValueError> {
    [
        AccountsMode::Off,
        AccountsMode::Optional,
        AccountsMode::Required,
    ]
    .into_iter()
    .find(|mode| named(accounts_text(*mode), text))
    .ok_or(ValueError::Accounts)
}

/// How help writes an accounts mode; [`accounts`] reads it back.
pub(crate) fn accounts_text(mode: AccountsMode) -> &'static str {
    match mode {
        AccountsMode::Off => "off",
        AccountsMode::Optional => "optional",
        AccountsMode::Required => "required",
    }
}

/// Reads a rate or a burst of the flood limit: a count that fits 32 bits.
pub(crate) fn rate(text: &str) -> Result<u32, ValueError> {
    u32::try_from(count(text)?).map_err(|_| ValueError::Count)
}

/// How help writes a switch's state; [`switch`] reads both words back.
pub(crate) fn switch_text(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// Why a flag's value cannot be used. The `Display` text completes
/// "invalid value 'x' for --flag: ...".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueError {
    /// An empty value, which is reported as a missing one.
    Empty,
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
    /// `--store` that names no store.
    Store(LocationError),
    /// `--transport` other than `udp` or `tcp`.
    Transport,
    /// `--cluster` that is not a `redis://` URL.
    ClusterUrl,
    /// `--fsync` other than `always`, `batch` or `never`.
    Fsync,
    /// A host to connect to that is neither a name nor an IP address.
    Host,
    /// A port to connect to that is not a number from 1 to 65535.
    Port,
    /// `--history` that is not a whole number from 0 to 1000.
    History,
    /// A number of clients that is not a whole number.
    Count,
    /// A username the chat server would refuse.
    Username(ChatError),
    /// A password file's user name that the file cannot hold.
    User(&'static str),
    /// A switch's value that is neither on nor off.
    Switch,
    /// Not an accounts mode.
    Accounts,
    /// The client's `METHOD` other than GET, PUT or HEAD.
    ClientMethod,
    /// The client's `PATH` that does not start with `/` or holds a space or control character.
    ClientPath,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::Empty => f.write_str("a value is required"),
            ValueError::Size(error) => write!(f, "{error}"),
            ValueError::Duration(error) => write!(f, "{error}"),
            ValueError::Zero => f.write_str("it must be more than zero"),
            ValueError::TooLong => {
                let minutes = MAX_TIMEOUT.as_secs() / 60;
                write!(f, "it must be at most {minutes}m (one day)")
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
            ValueError::Store(error) => write!(f, "{error}"),
            ValueError::ClusterUrl => write!(f, "expected a redis://HOST:PORT[/DB] URL"),
            ValueError::Transport => write!(
                f,
                "expected {}",
                choices(Transport::ALL.map(Transport::name))
            ),
            ValueError::Fsync => write!(
                f,
                "expected {}",
                choices(FsyncPolicy::ALL.map(FsyncPolicy::name))
            ),
            ValueError::Host => f.write_str("expected a host name or an IP address"),
            ValueError::Port => f.write_str("the port must be a number from 1 to 65535"),
            ValueError::History => write!(f, "expected a whole number from 0 to {MAX_HISTORY}"),
            ValueError::Count => f.write_str("expected a whole number, like 500"),
            ValueError::Username(error) => write!(f, "{error}"),
            ValueError::User(reason) => f.write_str(reason),
            ValueError::Switch => f.write_str("expected on or off (1/0, true/false, yes/no)"),
            ValueError::Accounts => f.write_str("expected off, optional or required"),
            ValueError::ClientMethod => {
                write!(
                    f,
                    "expected {}",
                    choices(ClientMethod::ALL.map(ClientMethod::name))
                )
            }
            ValueError::ClientPath => {
                f.write_str("expected a path starting with /, without spaces, like /docs/a.txt")
            }
        }
    }
}

impl std::error::Error for ValueError {}

/// `a, b or c`, as the errors list what a value may be.
pub(crate) fn choices<const N: usize>(names: [&str; N]) -> String {
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The longest timeout accepted: one day. No ferry timeout is useful beyond that, and the bound
/// keeps `now + timeout` far from the end of `Instant`'s range, where adding would panic.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// The most messages `--history` keeps: each may be up to 16 KiB, so 1,000 bound the history at
/// 16 MiB, and no newcomer wants to read more before the conversation starts.
pub(crate) const MAX_HISTORY: usize = 1000;

fn non_empty(text: &str) -> Result<&str, ValueError> {
    match text {
        "" => Err(ValueError::Empty),
        text => Ok(text),
    }
}

/// Whether `text` is `name`, in any case.
fn named(name: &str, text: &str) -> bool {
    name.eq_ignore_ascii_case(text)
}

fn check_address(text: &str) -> Result<(), ValueError> {
    if text.contains("://") {
        return Err(ValueError::AddressIsUrl);
    }
    if text.starts_with('[') {
        let Some((_, port)) = text.rsplit_once("]:") else {
            return Err(ValueError::AddressWithoutPort);
        };
        check_port(port)?;
        // The shell parses bracketed literals the same way, scope ids included.
        return match text.parse::<SocketAddrV6>() {
            Ok(_) => Ok(()),
            Err(_) => Err(ValueError::AddressHost),
        };
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(ValueError::AddressWithoutPort);
    };
    if host.contains(':') {
        return Err(ValueError::AddressIpv6WithoutBrackets);
    }
    check_port(port)?;
    let name_bytes = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
    if host.is_empty() || !host.bytes().all(name_bytes) {
        return Err(ValueError::AddressHost);
    }
    // Digits and dots only can be nothing but an IPv4 address; catch `256.1.1.1` here rather
    // than as a failed name lookup.
    let dotted = host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if dotted && host.parse::<Ipv4Addr>().is_err() {
        return Err(ValueError::AddressHost);
    }
    Ok(())
}

/// Checks the port of an address: decimal digits, at most 65535.
fn check_port(port: &str) -> Result<(), ValueError> {
    if port.is_empty() {
        return Err(ValueError::AddressWithoutPort);
    }
    // `u16::from_str` would also take a leading `+`.
    if !port.bytes().all(|b| b.is_ascii_digit()) || port.parse::<u16>().is_err() {
        return Err(ValueError::AddressPort);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
