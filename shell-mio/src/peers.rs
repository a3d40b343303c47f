//! The socket server's TCP side on the event loop (`--transport tcp`): the listener and one
//! stream per web app, each read until WouldBlock into its own `LineFramer`, each line handed
//! to the core's `DatagramReceiver` as a datagram from that web app's address, and each ack
//! written back on the stream its copy came from.
//!
//! Framing and what to store or acknowledge are the core's decisions; this module moves bytes.
//! It stops reading while the receiver has as many stores under way as it takes (lines wait in
//! the framer, then in the kernel's buffers: back-pressure instead of dropped messages, which a
//! stream would not resend) and resumes when a batch is stored.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read};
use std::net::{Shutdown, SocketAddr};
use std::time::Instant;

use ferry_core::datagram::{push_line, DatagramReceiver, LineFramer, MAX_DATAGRAM_SIZE};
use ferry_core::settings::MAX_STREAM_PEERS;
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};

use crate::outbox::Outbox;

/// The listener and the web apps' streams.
pub struct Peers {
    listener: TcpListener,
    slots: Vec<Option<Peer>>,
    free: Vec<usize>,
    by_address: HashMap<SocketAddr, usize>,
    /// Stop reading while this many stores are under way (the receiver's own bound).
    max_pending: usize,
    read_buf: Vec<u8>,
}

struct Peer {
    stream: TcpStream,
    address: SocketAddr,
    framer: LineFramer,
    outbox: Outbox,
    /// Edge-triggered readiness: set by an event, cleared when the socket says WouldBlock.
    read_ready: bool,
}

impl Peers {
    /// Registers `listener` under `token`; streams get tokens from [`FIRST_PEER`] up.
    pub fn new(
        mut listener: TcpListener,
        registry: &Registry,
        token: Token,
        max_pending: usize,
    ) -> io::Result<Peers> {
        registry.register(&mut listener, token, Interest::READABLE)?;
        Ok(Peers {
            listener,
            slots: Vec::new(),
            free: Vec::new(),
            by_address: HashMap::new(),
            max_pending,
            read_buf: vec![0; READ_BUFFER],
        })
    }

    /// Accepts every waiting web app, up to [`MAX_STREAM_PEERS`]; beyond, streams are closed.
    pub fn accept(&mut self, registry: &Registry, receiver: &mut DatagramReceiver, now: Instant) {
        loop {
            let (mut stream, address) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // A peer that gave up before being accepted, or no fds left: the next readiness
                // event tries again.
                Err(_) => return,
            };
            if self.by_address.len() >= MAX_STREAM_PEERS {
                continue;
            }
            let _ = stream.set_nodelay(true);
            let slot = self.free.pop().unwrap_or_else(|| {
                self.slots.push(None);
                self.slots.len() - 1
            });
            // Registered once for both directions, as the web app's connections are.
            let interest = Interest::READABLE | Interest::WRITABLE;
            if registry
                .register(&mut stream, Token(FIRST_PEER + slot), interest)
                .is_err()
            {
                self.free.push(slot);
                continue;
            }
            self.slots[slot] = Some(Peer {
                stream,
                address,
                framer: LineFramer::new(),
                outbox: Outbox::new(true, RETAINED_OUTPUT),
                read_ready: true,
            });
            self.by_address.insert(address, slot);
            self.drive(registry, slot, receiver, now);
        }
    }

    /// Readiness of a web app's stream.
    pub fn handle_ready(
        &mut self,
        registry: &Registry,
        token: Token,
        readable: bool,
        writable: bool,
        receiver: &mut DatagramReceiver,
        now: Instant,
    ) {
        let slot = token.0 - FIRST_PEER;
        let Some(Some(peer)) = self.slots.get_mut(slot) else {
            return;
        };
        peer.read_ready |= readable;
        peer.outbox.ready |= writable;
        self.drive(registry, slot, receiver, now);
    }

    /// Reads on from every stream that has input waiting, once stores have completed.
    pub fn resume(&mut self, registry: &Registry, receiver: &mut DatagramReceiver, now: Instant) {
        for slot in 0..self.slots.len() {
            if receiver.pending() >= self.max_pending {
                return;
            }
            self.drive(registry, slot, receiver, now);
        }
    }

    /// Writes `ack` as a line on the stream of `destination`; an ack for a web app that has
    /// gone is dropped (its copy on the next connection is acknowledged then).
    pub fn send_ack(&mut self, registry: &Registry, destination: SocketAddr, ack: &[u8]) {
        let Some(&slot) = self.by_address.get(&destination) else {
            return;
        };
        let Some(Some(peer)) = self.slots.get_mut(slot) else {
            return;
        };
        push_line(ack, peer.outbox.buffer());
        if peer.outbox.flush(&mut peer.stream).is_err() {
            self.close(registry, slot);
        }
    }

    /// Reads what the stream in `slot` has (while the receiver takes more), writes its acks.
    fn drive(
        &mut self,
        registry: &Registry,
        slot: usize,
        receiver: &mut DatagramReceiver,
        now: Instant,
    ) {
        let Some(Some(peer)) = self.slots.get_mut(slot) else {
            return;
        };
        let alive = peer
            .read(&mut self.read_buf, receiver, self.max_pending, now)
            .is_ok()
            && peer.outbox.flush(&mut peer.stream).is_ok();
        if !alive {
            self.close(registry, slot);
        }
    }

    fn close(&mut self, registry: &Registry, slot: usize) {
        if let Some(Some(mut peer)) = self.slots.get_mut(slot).map(Option::take) {
            let _ = registry.deregister(&mut peer.stream);
            let _ = peer.stream.shutdown(Shutdown::Both);
            self.by_address.remove(&peer.address);
            self.free.push(slot);
        }
    }
}

impl Peer {
    /// Hands whole lines to the receiver and reads more, until WouldBlock or until the
    /// receiver has `max_pending` stores under way. EOF, an error and broken framing end it.
    fn read(
        &mut self,
        buf: &mut [u8],
        receiver: &mut DatagramReceiver,
        max_pending: usize,
        now: Instant,
    ) -> io::Result<()> {
        loop {
            while receiver.pending() < max_pending {
                match self.framer.poll_line() {
                    Ok(Some(line)) => receiver.handle_datagram(now, self.address, line),
                    Ok(None) => break,
                    Err(error) => {
                        eprintln!(
                            "socket server: closing the stream from {}: {error}",
                            self.address
                        );
                        return Err(ErrorKind::InvalidData.into());
                    }
                }
            }
            if !self.read_ready || receiver.pending() >= max_pending {
                return Ok(());
            }
            match self.stream.read(buf) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.framer.receive(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.read_ready = false,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Tokens of the web apps' streams start here: the upper half of the token space, far above the
/// HTTP connections (from 16, at most a million) and the loop's fixed sources (below 16).
pub const FIRST_PEER: usize = usize::MAX / 2;

/// One read takes a burst of lines; a line is at most one datagram.
const READ_BUFFER: usize = MAX_DATAGRAM_SIZE + 1;
/// Buffers above this are released once written; acks and forwarded lines are small.
const RETAINED_OUTPUT: usize = 16 * 1024;
