//! Looking up the socket server's host name for the web app's forwarder (`--forward
//! HOST:PORT`), at start and whenever the core's `ForwardTarget` says it is due.
//!
//! Owns the lookups themselves: the first one, made before serving, and later ones on a thread
//! of their own, because the system resolver may block for seconds and a shell's loop must not.
//! Never decides when to look up or which address to use; the core's `ForwardTarget` does.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::thread;
use std::time::Instant;

use ferry_core::datagram::ForwardTarget;

/// The forward target for `address` at `now`: its addresses now (an error when there are none),
/// and whether it is a name that may stand for others later.
pub fn forward_target(now: Instant, address: &str) -> Result<ForwardTarget, String> {
    let addresses = resolve_all(address)?;
    Ok(ForwardTarget::new(now, addresses, is_name(address)))
}

/// Every address `HOST:PORT` stands for, in the resolver's order; an error when there is none.
pub fn resolve_all(address: &str) -> Result<Vec<SocketAddr>, String> {
    let addresses: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve '{address}': {error}"))?
        .collect();
    if addresses.is_empty() {
        return Err(format!("cannot resolve '{address}': no address found"));
    }
    Ok(addresses)
}

/// Whether `address` is a host name rather than an IP address with its port.
pub fn is_name(address: &str) -> bool {
    address.parse::<SocketAddr>().is_err()
}

/// One lookup under way on its own thread.
pub struct Lookup {
    answer: Receiver<Vec<SocketAddr>>,
}

impl Lookup {
    /// Starts looking up `address`.
    pub fn start(address: &str) -> Lookup {
        let (sender, answer) = mpsc::channel();
        let address = address.to_string();
        let spawned = thread::Builder::new()
            .name("forward-lookup".into())
            .spawn(move || {
                let _ = sender.send(resolve_all(&address).unwrap_or_default());
            });
        if spawned.is_err() {
            // No thread to spare: the lookup counts as failed, so the old addresses stay.
            let (sender, answer) = mpsc::channel();
            let _ = sender.send(Vec::new());
            return Lookup { answer };
        }
        Lookup { answer }
    }

    /// The answer once the lookup has ended: the addresses, empty when it failed.
    pub fn poll(&mut self) -> Option<Vec<SocketAddr>> {
        match self.answer.try_recv() {
            Ok(addresses) => Some(addresses),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Vec::new()),
        }
    }

    /// Waits for the answer (for a shell whose forwarding thread may block).
    pub fn wait(self) -> Vec<SocketAddr> {
        self.answer.recv().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_names_from_addresses() {
        assert!(!is_name("127.0.0.1:5000"));
        assert!(!is_name("[::1]:5000"));
        assert!(is_name("localhost:5000"));
        assert!(is_name("socket:5000"));
    }

    #[test]
    fn resolves_localhost_to_loopback_addresses() {
        let addresses = resolve_all("localhost:5000").unwrap();
        assert!(addresses
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 5000));
        let looked_up = Lookup::start("localhost:5000").wait();
        assert_eq!(looked_up, addresses);
    }

    #[test]
    fn a_name_that_does_not_resolve_is_an_error_and_an_empty_lookup() {
        let name = "no-such-host.invalid:5000";
        assert!(resolve_all(name).unwrap_err().contains(name));
        assert_eq!(Lookup::start(name).wait(), Vec::<SocketAddr>::new());
    }
}
