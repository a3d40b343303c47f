//! [`Peer`]: what the hub is told about where a chat client connects from, for the rules that
//! depend on it (logins in clear only from this machine, limits per address).

use std::net::{IpAddr, Ipv4Addr};

/// Where a client connects from, and whether its connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The client's address.
    pub address: IpAddr,
    /// The connection came in on a TLS port.
    pub secure: bool,
}

impl Peer {
    /// A client on this machine over a plain port: what tests and the default `connect` use.
    pub const LOCAL: Peer = Peer {
        address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        secure: false,
    };

    /// Whether a password may cross this connection: it is encrypted, or it never leaves this
    /// machine.
    pub fn carries_passwords_safely(&self) -> bool {
        self.secure || self.address.is_loopback() || is_mapped_loopback(self.address)
    }
}

/// An IPv4 loopback address seen through an IPv6 socket (`::ffff:127.0.0.1`).
fn is_mapped_loopback(address: IpAddr) -> bool {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        IpAddr::V4(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_cross_only_tls_or_loopback() {
        let peer = |address: &str, secure| Peer {
            address: address.parse().unwrap(),
            secure,
        };
        assert!(peer("127.0.0.1", false).carries_passwords_safely());
        assert!(peer("::1", false).carries_passwords_safely());
        assert!(peer("::ffff:127.0.0.1", false).carries_passwords_safely());
        assert!(!peer("192.0.2.1", false).carries_passwords_safely());
        assert!(peer("192.0.2.1", true).carries_passwords_safely());
    }
}
