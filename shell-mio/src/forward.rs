//! The web app's forwarder on the event loop: the core's `DatagramSender` and what carries its
//! messages to the socket server, a connected UDP socket or one TCP stream (`--transport tcp`)
//! that is (re)connected without blocking when the core's `Reconnect` says so.
//!
//! When to send again, when to reconnect, how lines are framed and when a message has failed
//! are the core's decisions; this module moves bytes and reports what the sockets say.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read};
use std::net::{Shutdown, SocketAddr};
use std::time::Instant;

use ferry_core::datagram::{
    push_line, DatagramSender, LineFramer, Reconnect, ReconnectConfig, MAX_DATAGRAM_SIZE,
};
use mio::net::{TcpStream, UdpSocket};
use mio::{Interest, Registry, Token};

use crate::outbox::Outbox;
use crate::timers::TimerKey;

/// The forwarding half of the web app.
pub struct Forward {
    link: Link,
    pub sender: DatagramSender,
    /// Which connection waits on which message.
    pub waiting: HashMap<u64, TimerKey>,
    pub next_tag: u64,
    /// Where transmissions are encoded before they go out.
    buf: Vec<u8>,
    /// Where reads land, datagrams or stream bytes.
    read_buf: Vec<u8>,
}

enum Link {
    Udp(UdpSocket),
    // Boxed: one per process, and it keeps `Forward` small for the UDP case.
    Stream(Box<StreamLink>),
}

/// The stream to the socket server, when there is one, and when to open the next.
struct StreamLink {
    target: SocketAddr,
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
    /// A forwarder sending datagrams on `socket`, connected to the socket server.
    pub fn udp(socket: UdpSocket, sender: DatagramSender) -> Forward {
        Forward::new(Link::Udp(socket), sender)
    }

    /// A forwarder keeping one stream open to `target`; the first attempt is due at `now`.
    pub fn tcp(target: SocketAddr, sender: DatagramSender, now: Instant) -> Forward {
        let link = StreamLink {
            target,
            token: Token(usize::MAX),
            registry: None,
            reconnect: Reconnect::new(ReconnectConfig::default(), now),
            conn: None,
        };
        Forward::new(Link::Stream(Box::new(link)), sender)
    }

    fn new(link: Link, sender: DatagramSender) -> Forward {
        Forward {
            link,
            sender,
            waiting: HashMap::new(),
            next_tag: 0,
            buf: Vec::with_capacity(MAX_DATAGRAM_SIZE),
            read_buf: vec![0; READ_BUFFER],
        }
    }

    /// Registers the UDP socket under `token`, or keeps `token` for the streams to come.
    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        match &mut self.link {
            Link::Udp(socket) => registry.register(socket, token, Interest::READABLE),
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
        [self.sender.poll_timeout(), reconnect]
            .into_iter()
            .flatten()
            .min()
    }

    /// Fires the sender's timers and starts (or abandons) a connection attempt when due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.sender.poll_timeout().is_some_and(|due| due <= now) {
            self.sender.handle_timeout(now);
        }
        let Link::Stream(link) = &mut self.link else {
            return;
        };
        if link.reconnect.poll_timeout().is_none_or(|due| due > now) {
            return;
        }
        let was_connecting = link.reconnect.is_connecting();
        if link.reconnect.handle_timeout(now) {
            if link.connect().is_err() {
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
            Link::Udp(socket) => loop {
                match socket.recv(&mut self.read_buf) {
                    Ok(n) => self.sender.handle_datagram(now, &self.read_buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    // ICMP "port unreachable" while the socket server is down, and the like:
                    // the sender retransmits until its deadline regardless.
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
    }

    /// Sends what the sender queued: datagrams, or lines on the stream as far as it takes them.
    pub fn flush(&mut self, now: Instant) {
        match &mut self.link {
            Link::Udp(socket) => {
                while let Some(len) = self.sender.poll_transmit(&mut self.buf) {
                    // A send that fails (buffer full, socket server down) is a lost datagram,
                    // which the sender's retransmits already cover.
                    let _ = socket.send(&self.buf[..len]);
                    self.buf.clear();
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

    /// Whether no caller waits on a message.
    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty()
    }
}

impl StreamLink {
    /// Starts a non-blocking connect; its outcome arrives as readiness of `token`.
    fn connect(&mut self) -> io::Result<()> {
        let Some(registry) = self.registry.as_ref() else {
            return Err(ErrorKind::NotConnected.into());
        };
        let mut stream = TcpStream::connect(self.target)?;
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
