//! Which of the two carriers the web app and the socket server agree on (`--transport`), and what
//! that choice means for the sender's [`Link`] and the addresses both print.

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
}

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
}
