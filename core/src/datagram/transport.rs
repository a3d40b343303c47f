//! Which of the two carriers the web app and the socket server agree on (`--transport`), and what
//! that choice means for the sender's [`Link`] and the addresses both print.

use std::net::SocketAddr;
use std::time::Duration;

use super::sender::Link;

/// How the web app and the socket server exchange messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transport {
    /// One JSON message per UDP datagram, acknowledged by a datagram.
    #[default]
    Udp,
    /// Newline-delimited JSON messages over one TCP connection, acknowledged by lines.
    Tcp,
}

impl Transport {
    /// Every transport, in the order help lists them.
    pub const ALL: [Transport; 2] = [Transport::Udp, Transport::Tcp];

    /// The name of the transport, which is also the scheme of the addresses printed for it
    /// (`udp://127.0.0.1:5000`) and the value `--transport` takes.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }

    /// What the sender's retransmission has to assume about this carrier: datagrams get lost, a
    /// stream loses nothing while it is up.
    pub fn link(self) -> Link {
        match self {
            Transport::Udp => Link::Datagrams,
            Transport::Tcp => Link::Stream,
        }
    }

    /// The line the socket server prints once it listens on `address` for this transport.
    pub fn listening_line(self, address: SocketAddr) -> String {
        format!("socket server listening on {}://{address}", self.name())
    }

    /// The line the web app prints to say where it forwards messages over this transport.
    pub fn forwarding_line(self, address: SocketAddr) -> String {
        format!("web app forwarding messages to {}://{address}", self.name())
    }
}

/// How many web apps' streams a socket server holds at once (`--transport tcp`); further ones
/// are closed as soon as they are accepted. Each web app process keeps one connection, so this
/// is the number of web apps sharing one socket server, and 256 is far more than a deployment of
/// this size runs, while bounding the threads or buffers a flood of connections could cost.
pub const MAX_STREAM_PEERS: usize = 256;
/// How long a write on a stream between the web app and the socket server may block before the
/// connection counts as broken (`ferry-std`, whose writes block). A peer that takes no bytes for
/// a second is stalled or gone; the web app's messages are resent on its next connection, and
/// the socket server's acks are answered again when those copies arrive.
pub const STREAM_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_transport_has_its_own_name_and_link() {
        assert_eq!(Transport::Udp.name(), "udp");
        assert_eq!(Transport::Tcp.name(), "tcp");
        assert_eq!(Transport::Udp.link(), Link::Datagrams);
        assert_eq!(Transport::Tcp.link(), Link::Stream);
        assert_eq!(Transport::default(), Transport::Udp);
    }

    #[test]
    fn the_transport_sets_the_printed_lines() {
        let address = SocketAddr::from(([127, 0, 0, 1], 5000));
        assert_eq!(
            Transport::Udp.listening_line(address),
            "socket server listening on udp://127.0.0.1:5000"
        );
        assert_eq!(
            Transport::Tcp.listening_line(address),
            "socket server listening on tcp://127.0.0.1:5000"
        );
        assert_eq!(
            Transport::Tcp.forwarding_line(address),
            "web app forwarding messages to tcp://127.0.0.1:5000"
        );
        assert_eq!(
            Transport::Udp.forwarding_line(address),
            "web app forwarding messages to udp://127.0.0.1:5000"
        );
    }
}
