//! The web app's forwarder on the event loop: the core's `DatagramSender` and what carries its
//! messages to the socket server, a connected UDP socket or one TCP stream (`--transport tcp`)
//! that is (re)connected without blocking when the core's `Reconnect` says so.
//!
//! When to send again, when to reconnect, how lines are framed, when a message has failed, and
//! which of the socket server's addresses to use and when to look its name up again
//! (`ForwardTarget`) are the core's decisions; this module moves bytes, starts lookups and
//! reports what the sockets say.

use std::io::{self, ErrorKind, Read};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr};
use std::time::Instant;

use ferry_core::datagram::{
    push_line, DatagramSender, ForwardTarget, LineFramer, Reconnect, ReconnectConfig,
    MAX_DATAGRAM_SIZE,
};
use ferry_shell::lookup::Lookup;
use mio::net::{TcpStream, UdpSocket};
use mio::{Interest, Registry, Token};

use crate::outbox::Outbox;

/// The forwarding half of the web app.
pub struct Forward {
    link: Link,
    pub sender: DatagramSender,
    /// Where transmissions are encoded before they go out.
    buf: Vec<u8>,
    /// Where reads land, datagrams or stream bytes.
    read_buf: Vec<u8>,
    /// Which of the socket server's addresses to use.
    target: ForwardTarget,
    /// `--forward` as given, looked up again when the target says so.
    name: String,
    lookup: Option<Lookup>,
    /// When to look at the lookup under way again (it ends on a thread of its own).
    lookup_check: Option<Instant>,
    /// The stream's failed attempts already reported to the target.
    seen_failures: u64,
}

enum Link {
    Udp(UdpLink),
    // Boxed: one per process, and it keeps `Forward` small for the UDP case.
    Stream(Box<StreamLink>),
}

/// The datagram socket, connected to the target's current address.
struct UdpLink {
    socket: UdpSocket,
    token: Token,
    /// Set by `register`; needed to replace the socket when the address family changes.
    registry: Option<Registry>,
}

/// The stream to the socket server, when there is one, and when to open the next.
struct StreamLink {
    token: Token,
    /// Set by `register`; a stream is only opened after that.
    registry: Option<Registry>,
    reconnect: Reconnect,
    conn: Option<StreamConn>,
}

struct StreamConn {
    stream: TcpStream,
    /// The non-blocking connect has completed.
    established: bool,
    framer: LineFramer,
    outbox: Outbox,
    /// Edge-triggered readiness: set by an event, cleared when the socket says WouldBlock.
    read_ready: bool,
}

impl Forward {
    /// A forwarder sending datagrams to `target` (`name`, as given on the command line) on a
    /// socket connected to its current address.
    pub fn udp(sender: DatagramSender, target: ForwardTarget, name: &str) -> io::Result<Forward> {
        let address = target.current().ok_or(ErrorKind::AddrNotAvailable)?;
        let socket = udp_socket_to(address)?;
        let link = UdpLink {
            socket,
            token: Token(usize::MAX),
            registry: None,
        };
        Ok(Forward::new(Link::Udp(link), sender, target, name))
    }

    /// A forwarder keeping one stream open to `target`; the first attempt is due at `now`.
    pub fn tcp(sender: DatagramSender, target: ForwardTarget, name: &str, now: Instant) -> Forward {
        let link = StreamLink {
            token: Token(usize::MAX),
            registry: None,
            reconnect: Reconnect::new(ReconnectConfig::default(), now),
            conn: None,
        };
        Forward::new(Link::Stream(Box::new(link)), sender, target, name)
    }

    fn new(link: Link, sender: DatagramSender, target: ForwardTarget, name: &str) -> Forward {
        Forward {
            link,
            sender,
            buf: Vec::with_capacity(MAX_DATAGRAM_SIZE),
            read_buf: vec![0; READ_BUFFER],
            target,
            name: name.to_string(),
            lookup: None,
            lookup_check: None,
            seen_failures: 0,
        }
    }

    /// Registers the UDP socket under `token`, or keeps `token` for the streams to come.
    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        match &mut self.link {
            Link::Udp(link) => {
                link.token = token;
                link.registry = Some(registry.try_clone()?);
                registry.register(&mut link.socket, token, Interest::READABLE)
            }
            Link::Stream(link) => {
                link.token = token;
                link.registry = Some(registry.try_clone()?);
                Ok(())
            }
        }
    }

    /// The earliest moment the forwarder needs `handle_timeout`.
    pub fn next_deadline(&self) -> Option<Instant> {
        let reconnect = match &self.link {
            Link::Udp(_) => None,
            Link::Stream(link) => link.reconnect.poll_timeout(),
        };
        [
            self.sender.poll_timeout(),
            reconnect,
            self.target.poll_timeout(),
            self.lookup_check,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Fires the sender's timers and starts (or abandons) a connection attempt when due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.sender.poll_timeout().is_some_and(|due| due <= now) {
            self.sender.handle_timeout(now);
        }
        self.reconnect_when_due(now);
        self.follow_target(now);
    }

    fn reconnect_when_due(&mut self, now: Instant) {
        let Link::Stream(link) = &mut self.link else {
            return;
        };
        if link.reconnect.poll_timeout().is_none_or(|due| due > now) {
            return;
        }
        let was_connecting = link.reconnect.is_connecting();
        if link.reconnect.handle_timeout(now) {
            let connected = match self.target.current() {
                Some(address) => link.connect(address),
                None => Err(ErrorKind::AddrNotAvailable.into()),
            };
            if connected.is_err() {
                link.reconnect.handle_failure(now);
            }
        } else if was_connecting && !link.reconnect.is_connecting() {
            // The attempt took too long: the core counted it failed.
            link.close();
        }
    }

    /// Readiness of the UDP socket or the stream: reads what arrived into the sender.
    pub fn handle_ready(&mut self, now: Instant, readable: bool, writable: bool) {
        match &mut self.link {
            Link::Udp(link) => loop {
                match link.socket.recv(&mut self.read_buf) {
                    Ok(n) => self.sender.handle_datagram(now, &self.read_buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    // ICMP "port unreachable": nothing listens at this address (the socket
                    // server is down, or the name's other address is the right one).
                    Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                        if self.target.handle_failure() {
                            aim_udp(link, self.target.current());
                        }
                    }
                    // Other errors: the sender retransmits until its deadline regardless.
                    Err(_) => {}
                }
            },
            Link::Stream(link) => {
                let Some(conn) = link.conn.as_mut() else {
                    return;
                };
                conn.read_ready |= readable;
                conn.outbox.ready |= writable;
                if !conn.established {
                    match conn.check_established() {
                        Ok(true) => {
                            link.reconnect.handle_connected(now);
                            self.sender.handle_reconnect(now);
                        }
                        Ok(false) => return,
                        Err(_) => return link.fail(&mut self.sender, now),
                    }
                }
                if conn
                    .read(&mut self.read_buf, &mut self.sender, now)
                    .is_err()
                {
                    link.fail(&mut self.sender, now);
                }
            }
        }
        self.follow_target(now);
    }

    /// Sends what the sender queued: datagrams, or lines on the stream as far as it takes them.
    pub fn flush(&mut self, now: Instant) {
        match &mut self.link {
            Link::Udp(link) => {
                while let Some(len) = self.sender.poll_transmit(&mut self.buf) {
                    // A send that fails (buffer full, socket server down) is a lost datagram,
                    // which the sender's retransmits already cover.
                    let sent = link.socket.send(&self.buf[..len]);
                    self.buf.clear();
                    if sent.is_err_and(|e| e.kind() == ErrorKind::ConnectionRefused)
                        && self.target.handle_failure()
                    {
                        aim_udp(link, self.target.current());
                    }
                }
            }
            Link::Stream(link) => {
                let Some(conn) = link.conn.as_mut().filter(|conn| conn.established) else {
                    return;
                };
                // Output is bounded by the sender's in-flight limit: each message is queued
                // at most once per connection.
                while let Some(len) = self.sender.poll_transmit(&mut self.buf) {
                    push_line(&self.buf[..len], conn.outbox.buffer());
                    self.buf.clear();
                }
                if conn.outbox.flush(&mut conn.stream).is_err() {
                    link.fail(&mut self.sender, now);
                }
            }
        }
    }

    /// Tells the target what the links and the sender saw, starts or collects a lookup of the
    /// name when the target says so, and re-aims the UDP socket when the address changed.
    fn follow_target(&mut self, now: Instant) {
        let mut changed = false;
        match &self.link {
            // Messages acknowledged or failed: only datagrams fail silently at a wrong address.
            Link::Udp(_) => changed |= self.target.handle_sender_stats(&self.sender.stats()),
            Link::Stream(link) => {
                let failures = link.reconnect.failures();
                if failures > self.seen_failures {
                    self.seen_failures = failures;
                    changed |= self.target.handle_failure();
                } else if link.reconnect.is_connected() {
                    self.target.handle_success();
                }
            }
        }
        if let Some(lookup) = self.lookup.as_mut() {
            if let Some(addresses) = lookup.poll() {
                self.lookup = None;
                self.lookup_check = None;
                changed |= self.target.handle_resolved(now, addresses);
            } else if self.lookup_check.is_some_and(|due| due <= now) {
                self.lookup_check = Some(now + LOOKUP_POLL_INTERVAL);
            }
        } else if self.target.poll_resolve(now) {
            self.lookup = Some(Lookup::start(&self.name));
            self.lookup_check = Some(now + LOOKUP_POLL_INTERVAL);
        }
        if changed {
            // A stream uses the new address at its next connect.
            if let Link::Udp(link) = &mut self.link {
                aim_udp(link, self.target.current());
            }
        }
    }
}

/// Points the UDP link at `address`: connects the socket there, or replaces it by one of the
/// address's family. On failure the old socket stays; its messages fail and the target moves on.
fn aim_udp(link: &mut UdpLink, address: Option<SocketAddr>) {
    let Some(address) = address else {
        return;
    };
    let same_family = link
        .socket
        .local_addr()
        .is_ok_and(|local| local.is_ipv4() == address.is_ipv4());
    if same_family {
        let _ = link.socket.connect(address);
        return;
    }
    let Ok(mut socket) = udp_socket_to(address) else {
        return;
    };
    if let Some(registry) = link.registry.as_ref() {
        if registry
            .register(&mut socket, link.token, Interest::READABLE)
            .is_err()
        {
            return;
        }
        let _ = registry.deregister(&mut link.socket);
    }
    link.socket = socket;
}

/// A non-blocking UDP socket on an ephemeral port of `address`'s family, connected to it.
fn udp_socket_to(address: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = if address.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(address)?;
    Ok(socket)
}

impl StreamLink {
    /// Starts a non-blocking connect to `address`; its outcome arrives as readiness of `token`.
    fn connect(&mut self, address: SocketAddr) -> io::Result<()> {
        let Some(registry) = self.registry.as_ref() else {
            return Err(ErrorKind::NotConnected.into());
        };
        let mut stream = TcpStream::connect(address)?;
        registry.register(
            &mut stream,
            self.token,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        self.conn = Some(StreamConn {
            stream,
            established: false,
            framer: LineFramer::new(),
            outbox: Outbox::new(false, RETAINED_OUTPUT),
            read_ready: false,
        });
        Ok(())
    }

    /// The stream failed or its attempt did: drop it and tell both machines.
    fn fail(&mut self, sender: &mut DatagramSender, now: Instant) {
        self.close();
        sender.handle_disconnect(now);
        self.reconnect.handle_failure(now);
    }

    fn close(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            if let Some(registry) = self.registry.as_ref() {
                let _ = registry.deregister(&mut conn.stream);
            }
            let _ = conn.stream.shutdown(Shutdown::Both);
        }
    }
}

impl StreamConn {
    /// Whether the non-blocking connect has completed; an error when it failed.
    fn check_established(&mut self) -> io::Result<bool> {
        if let Some(error) = self.stream.take_error()? {
            return Err(error);
        }
        // Writable without an error means connected; `peer_addr` confirms it, and says
        // NotConnected on a spurious wake-up before the handshake is done.
        match self.stream.peer_addr() {
            Ok(_) => {
                self.established = true;
                let _ = self.stream.set_nodelay(true);
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Reads until WouldBlock, handing every whole line to the sender. EOF, a read error and
    /// broken framing all end the stream.
    fn read(
        &mut self,
        buf: &mut [u8],
        sender: &mut DatagramSender,
        now: Instant,
    ) -> io::Result<()> {
        loop {
            if !self.read_ready {
                break Ok(());
            }
            match self.stream.read(buf) {
                Ok(0) => break Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.framer.receive(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.read_ready = false,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
            loop {
                match self.framer.poll_line() {
                    Ok(Some(line)) => sender.handle_datagram(now, line),
                    Ok(None) => break,
                    Err(_) => return Err(ErrorKind::InvalidData.into()),
                }
            }
        }
    }
}

/// One read takes a burst of acks, or the largest datagram.
const READ_BUFFER: usize = MAX_DATAGRAM_SIZE + 1;
/// Buffers above this are released once written; acks and forwarded lines are small.
const RETAINED_OUTPUT: usize = 16 * 1024;
/// How often a lookup under way is looked at: short next to the resolver's own timeouts.
const LOOKUP_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);
