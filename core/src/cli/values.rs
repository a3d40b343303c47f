//! What a flag's value may be: addresses, store locations, limits, timeouts, enumerations.
//!
//! Owns the checks that turn one value string into a setting or a [`ValueError`]. It never
//! knows which flag a value belongs to or where the value came from; `flags.rs` and
//! [`super::parse`] do.

use std::net::{IpAddr, Ipv4Addr, SocketAddrV6};
use std::path::PathBuf;
use std::time::Duration;

use super::{ClientMethod, FsyncMode, StoreLocation, Transport, ValueError};
use crate::chat::check_username;
use crate::size::{parse_duration, parse_size};

/// Checks `HOST:PORT`: a port from 0 to 65535 and a host that is a name, an IPv4 address or an
/// IPv6 address in brackets. Names are not resolved here; the shell does that when it binds
/// or connects.
pub(super) fn check_address(text: &str) -> Result<(), ValueError> {
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

/// Checks a host to connect to (`chat-client HOST`): a name, an IPv4 address, or an IPv6
/// address with or without brackets. Returns it without brackets, as a resolver takes it.
pub(super) fn check_host(text: &str) -> Result<String, ValueError> {
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

/// Reads a port to connect to: a number from 1 to 65535.
pub(super) fn parse_port(text: &str) -> Result<u16, ValueError> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ => Err(ValueError::Port),
    }
}

/// Reads `--history`: a whole number up to [`MAX_HISTORY`].
pub(super) fn parse_history(text: &str) -> Result<usize, ValueError> {
    match text.parse::<usize>() {
        Ok(count) if count <= MAX_HISTORY && text.bytes().all(|b| b.is_ascii_digit()) => Ok(count),
        _ => Err(ValueError::History),
    }
}

/// Reads `--username` by the chat room's rules, so a name the server would refuse is refused
/// before connecting.
pub(super) fn parse_username(text: &str) -> Result<String, ValueError> {
    check_username(text).map_err(ValueError::Username)?;
    Ok(text.to_string())
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

/// Reads `--store`: a `mongodb://` URL (scheme in any case, RFC 3986 §3.1) or a file path.
pub(super) fn parse_store(text: &str) -> Result<StoreLocation, ValueError> {
    let scheme = text.get(..MONGODB_SCHEME.len());
    if scheme.is_some_and(|scheme| scheme.eq_ignore_ascii_case(MONGODB_SCHEME)) {
        let rest = text.get(MONGODB_SCHEME.len()..).unwrap_or_default();
        if rest.is_empty() || rest.starts_with('/') {
            return Err(ValueError::MongoDbWithoutHost);
        }
        return Ok(StoreLocation::MongoDb(text.to_string()));
    }
    // Any other scheme is a mistake, not a folder called `redis:`.
    if text.contains("://") {
        return Err(ValueError::StoreScheme);
    }
    Ok(StoreLocation::File(PathBuf::from(text)))
}

/// Reads a size limit: a size that is not zero.
pub(super) fn parse_limit(text: &str) -> Result<u64, ValueError> {
    match parse_size(text).map_err(ValueError::Size)? {
        0 => Err(ValueError::Zero),
        size => Ok(size),
    }
}

/// Reads a timeout: a duration above zero and at most [`MAX_TIMEOUT`].
pub(super) fn parse_timeout(text: &str) -> Result<Duration, ValueError> {
    match parse_duration(text).map_err(ValueError::Duration)? {
        Duration::ZERO => Err(ValueError::Zero),
        duration if duration > MAX_TIMEOUT => Err(ValueError::TooLong),
        duration => Ok(duration),
    }
}

/// Reads `--transport`.
pub(super) fn parse_transport(text: &str) -> Result<Transport, ValueError> {
    if text.eq_ignore_ascii_case("udp") {
        Ok(Transport::Udp)
    } else if text.eq_ignore_ascii_case("tcp") {
        Ok(Transport::Tcp)
    } else {
        Err(ValueError::Transport)
    }
}

/// Reads `--fsync`.
pub(super) fn parse_fsync(text: &str) -> Result<FsyncMode, ValueError> {
    if text.eq_ignore_ascii_case("always") {
        Ok(FsyncMode::Always)
    } else if text.eq_ignore_ascii_case("batch") {
        Ok(FsyncMode::Batch)
    } else if text.eq_ignore_ascii_case("never") {
        Ok(FsyncMode::Never)
    } else {
        Err(ValueError::Fsync)
    }
}

/// Reads a switch's value (`--read-only=VALUE`, `FERRY_READ_ONLY`): `1`/`true`/`yes`/`on` or
/// `0`/`false`/`no`/`off`, in any case.
pub(super) fn parse_switch(text: &str) -> Result<bool, ValueError> {
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ValueError::Switch),
    }
}

/// Reads the client's `METHOD`: GET, PUT or HEAD, in any case.
pub(super) fn parse_client_method(text: &str) -> Result<ClientMethod, ValueError> {
    match text.to_ascii_uppercase().as_str() {
        "GET" => Ok(ClientMethod::Get),
        "PUT" => Ok(ClientMethod::Put),
        "HEAD" => Ok(ClientMethod::Head),
        _ => Err(ValueError::ClientMethod),
    }
}

/// Reads the client's `PATH`: starts with `/`, and has no space or control character, which
/// would break the request line.
pub(super) fn parse_client_path(text: &str) -> Result<String, ValueError> {
    if !text.starts_with('/') || text.chars().any(|c| c.is_control() || c == ' ') {
        return Err(ValueError::ClientPath);
    }
    Ok(text.to_string())
}

/// The longest timeout accepted: one day. No ferry timeout is useful beyond that, and the bound
/// keeps `now + timeout` far from the end of `Instant`'s range, where adding would panic.
pub(super) const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// The most messages `--history` keeps: each may be up to 16 KiB, so 1,000 bound the history at
/// 16 MiB, and no newcomer wants to read more before the conversation starts.
pub(super) const MAX_HISTORY: usize = 1000;

/// The scheme that makes `--store` a MongoDB URL rather than a file path.
const MONGODB_SCHEME: &str = "mongodb://";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_addresses() {
        let cases: &[(&str, Result<(), ValueError>)] = &[
            ("0.0.0.0:3000", Ok(())),
            ("127.0.0.1:0", Ok(())),
            ("localhost:65535", Ok(())),
            ("socket_server:5000", Ok(())),
            ("web-1.example.internal:80", Ok(())),
            ("[::]:3000", Ok(())),
            ("[::1]:3000", Ok(())),
            ("[fe80::1%2]:3000", Ok(())),
            ("127.0.0.1", Err(ValueError::AddressWithoutPort)),
            ("localhost", Err(ValueError::AddressWithoutPort)),
            ("localhost:", Err(ValueError::AddressWithoutPort)),
            ("[::1]", Err(ValueError::AddressWithoutPort)),
            ("[::1]:", Err(ValueError::AddressWithoutPort)),
            ("127.0.0.1:65536", Err(ValueError::AddressPort)),
            ("127.0.0.1:+80", Err(ValueError::AddressPort)),
            ("127.0.0.1:http", Err(ValueError::AddressPort)),
            ("[::1]:-1", Err(ValueError::AddressPort)),
            (":3000", Err(ValueError::AddressHost)),
            ("256.0.0.1:3000", Err(ValueError::AddressHost)),
            ("1.2.3:3000", Err(ValueError::AddressHost)),
            ("my host:3000", Err(ValueError::AddressHost)),
            ("[::g]:3000", Err(ValueError::AddressHost)),
            ("[127.0.0.1]:3000", Err(ValueError::AddressHost)),
            ("::1:3000", Err(ValueError::AddressIpv6WithoutBrackets)),
            ("http://127.0.0.1:3000", Err(ValueError::AddressIsUrl)),
        ];
        for (text, expected) in cases {
            assert_eq!(&check_address(text), expected, "check_address({text:?})");
        }
    }

    #[test]
    fn reads_store_locations() {
        let file = |path: &str| Ok(StoreLocation::File(PathBuf::from(path)));
        let mongo = |url: &str| Ok(StoreLocation::MongoDb(url.to_string()));
        let cases: &[(&str, Result<StoreLocation, ValueError>)] = &[
            ("storage/data.json", file("storage/data.json")),
            ("/var/lib/ferry/data.json", file("/var/lib/ferry/data.json")),
            ("data.json", file("data.json")),
            (
                "mongodb://localhost:27017/ferry",
                mongo("mongodb://localhost:27017/ferry"),
            ),
            ("MongoDB://db/ferry", mongo("MongoDB://db/ferry")),
            ("mongodb://", Err(ValueError::MongoDbWithoutHost)),
            ("mongodb:///ferry", Err(ValueError::MongoDbWithoutHost)),
            ("postgres://db/ferry", Err(ValueError::StoreScheme)),
            ("mongodb+srv://cluster/ferry", Err(ValueError::StoreScheme)),
        ];
        for (text, expected) in cases {
            assert_eq!(&parse_store(text), expected, "parse_store({text:?})");
        }
    }

    #[test]
    fn limits_refuse_zero_and_timeouts_refuse_more_than_a_day() {
        assert_eq!(parse_limit("0"), Err(ValueError::Zero));
        assert_eq!(parse_limit("0K"), Err(ValueError::Zero));
        assert_eq!(parse_limit("1"), Ok(1));
        assert_eq!(parse_timeout("0s"), Err(ValueError::Zero));
        assert_eq!(parse_timeout("0ms"), Err(ValueError::Zero));
        assert_eq!(parse_timeout("1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(parse_timeout("1440m"), Ok(MAX_TIMEOUT));
        assert_eq!(parse_timeout("1441m"), Err(ValueError::TooLong));
        assert_eq!(parse_timeout("86400001ms"), Err(ValueError::TooLong));
    }

    #[test]
    fn reads_chat_client_hosts_ports_and_names() {
        assert_eq!(check_host("localhost"), Ok("localhost".into()));
        assert_eq!(check_host("10.0.0.7"), Ok("10.0.0.7".into()));
        assert_eq!(check_host("::1"), Ok("::1".into()));
        assert_eq!(check_host("[::1]"), Ok("::1".into()));
        assert_eq!(
            check_host("chat.example.org"),
            Ok("chat.example.org".into())
        );
        assert_eq!(check_host("300.1.1.1"), Err(ValueError::Host));
        assert_eq!(check_host("a b"), Err(ValueError::Host));
        assert_eq!(check_host(""), Err(ValueError::Host));
        assert_eq!(check_host("host:7072"), Err(ValueError::Host));
        assert_eq!(parse_port("7072"), Ok(7072));
        assert_eq!(parse_port("65535"), Ok(65535));
        assert_eq!(parse_port("0"), Err(ValueError::Port));
        assert_eq!(parse_port("+1"), Err(ValueError::Port));
        assert_eq!(parse_port("65536"), Err(ValueError::Port));
        assert_eq!(parse_history("0"), Ok(0));
        assert_eq!(parse_history("1000"), Ok(1000));
        assert_eq!(parse_history("1001"), Err(ValueError::History));
        assert_eq!(parse_history("-1"), Err(ValueError::History));
        assert_eq!(parse_username("ann"), Ok("ann".into()));
        assert_eq!(
            parse_username(" ann"),
            Err(ValueError::Username(
                crate::chat::ChatError::UsernameEdgeWhitespace
            ))
        );
    }

    #[test]
    fn reads_switches_methods_and_paths() {
        for (text, value) in [
            ("1", true),
            ("ON", true),
            ("yes", true),
            ("0", false),
            ("off", false),
        ] {
            assert_eq!(parse_switch(text), Ok(value), "{text}");
        }
        assert_eq!(parse_switch("maybe"), Err(ValueError::Switch));
        assert_eq!(parse_client_method("get"), Ok(ClientMethod::Get));
        assert_eq!(parse_client_method("Put"), Ok(ClientMethod::Put));
        assert_eq!(parse_client_method("HEAD"), Ok(ClientMethod::Head));
        assert_eq!(parse_client_method("POST"), Err(ValueError::ClientMethod));
        assert_eq!(parse_client_path("/a/b.txt"), Ok("/a/b.txt".to_string()));
        for bad in ["a.txt", "/a b", "/a\r\n", ""] {
            let bad = bad.replace("\\r\\n", "\r\n");
            assert_eq!(
                parse_client_path(&bad),
                Err(ValueError::ClientPath),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn reads_enumerations_in_any_case() {
        assert_eq!(parse_transport("udp"), Ok(Transport::Udp));
        assert_eq!(parse_transport("TCP"), Ok(Transport::Tcp));
        assert_eq!(parse_transport("quic"), Err(ValueError::Transport));
        assert_eq!(parse_fsync("always"), Ok(FsyncMode::Always));
        assert_eq!(parse_fsync("Batch"), Ok(FsyncMode::Batch));
        assert_eq!(parse_fsync("never"), Ok(FsyncMode::Never));
        assert_eq!(parse_fsync("sometimes"), Err(ValueError::Fsync));
    }
}
