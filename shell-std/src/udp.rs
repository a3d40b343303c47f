//! The two UDP ends of the datagram protocol on blocking sockets: the web app's forwarding
//! thread (owning the core's `DatagramSender`) and the socket server (one thread owning the
//! core's `DatagramReceiver` and the message store). Retransmits, acks, dedup and which of the
//! socket server's addresses to send to (`ForwardTarget`) are the core's.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ferry_core::datagram::{
    DatagramReceiver, DatagramSender, DropReporter, ForwardTarget, ReceiverConfig, ReceiverEvent,
    SenderConfig, MAX_DATAGRAM_SIZE,
};
use ferry_shell::lookup::Lookup;
use ferry_shell::Store;
use time::OffsetDateTime;

use crate::forward::{self, Forwarder, ForwarderInput, Waiting};
use crate::signal::Shutdown;

/// Starts the forwarding thread with a UDP socket connected to `target`'s current address (the
/// socket server `name`, as given on the command line), and its ack reader.
pub fn start_forwarder(
    target: ForwardTarget,
    name: &str,
    config: SenderConfig,
) -> io::Result<(Forwarder, JoinHandle<()>)> {
    let address = target.current().ok_or(io::ErrorKind::AddrNotAvailable)?;
    let (inputs, queue) = mpsc::channel();
    let link = UdpLink::open(address, &inputs)?;
    let forwarder = Forwarder::new(inputs.clone(), config.ack_timeout);
    let name = name.to_string();
    let handle = thread::Builder::new()
        .name("forward".into())
        .spawn(move || run_sender(link, target, name, queue, inputs, config))?;
    Ok((forwarder, handle))
}

/// The forwarding socket, connected to one address, and its ack reader thread.
struct UdpLink {
    socket: UdpSocket,
    reader_stop: Shutdown,
}

impl UdpLink {
    /// Binds a socket of `address`'s family, connects it there, and starts its reader.
    fn open(address: SocketAddr, inputs: &Sender<ForwarderInput>) -> io::Result<UdpLink> {
        let local: SocketAddr = if address.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local)?;
        socket.connect(address)?;
        let reader_stop = Shutdown::default();
        let (reader_socket, reader_inputs) = (socket.try_clone()?, inputs.clone());
        let shutdown = reader_stop.clone();
        thread::Builder::new()
            .name("forward-acks".into())
            .spawn(move || read_acks(reader_socket, reader_inputs, shutdown))?;
        Ok(UdpLink {
            socket,
            reader_stop,
        })
    }

    /// Sends to `address` from now on: the same socket when the family allows, else a new one
    /// (the old reader ends). On failure the old link stays; the target moves on later.
    fn aim(&mut self, address: Option<SocketAddr>, inputs: &Sender<ForwarderInput>) {
        let Some(address) = address else {
            return;
        };
        let same_family = self
            .socket
            .local_addr()
            .is_ok_and(|local| local.is_ipv4() == address.is_ipv4());
        if same_family {
            // The reader's clone shares the socket, so it now hears from `address` too.
            let _ = self.socket.connect(address);
        } else if let Ok(link) = UdpLink::open(address, inputs) {
            self.reader_stop.request();
            *self = link;
        }
    }
}

impl Drop for UdpLink {
    fn drop(&mut self) {
        self.reader_stop.request();
    }
}

fn read_acks(socket: UdpSocket, inputs: Sender<ForwarderInput>, shutdown: Shutdown) {
    let mut buf = vec![0u8; MAX_DATAGRAM_SIZE];
    let _ = socket.set_read_timeout(Some(POLL_INTERVAL));
    while !shutdown.is_requested() {
        let input = match socket.recv(&mut buf) {
            Ok(n) => ForwarderInput::Received {
                link: 0,
                bytes: buf[..n].to_vec(),
            },
            // ICMP "port unreachable": nothing listens there (the socket server is down, or
            // the name's other address is the right one).
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => ForwarderInput::Refused,
            // Timeouts and the like: the sender's retransmits carry on regardless.
            Err(_) => continue,
        };
        if inputs.send(input).is_err() {
            return;
        }
    }
}

fn run_sender(
    mut link: UdpLink,
    mut target: ForwardTarget,
    name: String,
    queue: Receiver<ForwarderInput>,
    inputs: Sender<ForwarderInput>,
    config: SenderConfig,
) {
    let mut sender = DatagramSender::new(config, Instant::now());
    let mut waiting = Waiting::default();
    let mut stopping = false;
    let mut lookup: Option<Lookup> = None;
    let mut out = Vec::with_capacity(MAX_DATAGRAM_SIZE);
    loop {
        let now = Instant::now();
        let wait = [sender.poll_timeout(), target.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .map_or(POLL_INTERVAL, |deadline| {
                deadline.saturating_duration_since(now)
            });
        // A lookup under way is looked at again soon.
        let wait = if lookup.is_some() {
            wait.min(POLL_INTERVAL)
        } else {
            wait
        };
        let mut changed = false;
        match queue.recv_timeout(wait) {
            Ok(ForwarderInput::Submit { submission, reply }) => {
                forward::submit(&mut waiting, &mut sender, Instant::now(), submission, reply)
            }
            Ok(ForwarderInput::Received { bytes, .. }) => {
                sender.handle_datagram(Instant::now(), &bytes)
            }
            Ok(ForwarderInput::Refused) => changed |= target.handle_failure(),
            Ok(ForwarderInput::Closed { .. }) => {}
            Ok(ForwarderInput::Stop) => stopping = true,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        sender.handle_timeout(now);
        while let Some(len) = sender.poll_transmit(&mut out) {
            // A refused send (socket server down) is just a lost datagram to the core.
            let sent = link.socket.send(&out[..len]);
            out.clear();
            if sent.is_err_and(|e| e.kind() == io::ErrorKind::ConnectionRefused) {
                changed |= target.handle_failure();
            }
        }
        forward::settle(&mut waiting, &mut sender);
        changed |= target.handle_sender_stats(&sender.stats());
        if let Some(answer) = lookup.as_mut().and_then(Lookup::poll) {
            lookup = None;
            changed |= target.handle_resolved(now, answer);
        } else if lookup.is_none() && target.poll_resolve(now) {
            lookup = Some(Lookup::start(&name));
        }
        if changed {
            link.aim(target.current(), &inputs);
        }
        if stopping && waiting.is_empty() {
            return;
        }
    }
}

/// Runs the socket server on this thread until shutdown: receive, store in batches, ack.
pub fn run_socket_server(socket: UdpSocket, mut store: Store, shutdown: Shutdown) {
    let config = ReceiverConfig::default();
    let max_batch = config.max_batch;
    let mut receiver = DatagramReceiver::new(config);
    receiver.remember_stored(store.recent_ids().iter().cloned());
    let mut buf = vec![0u8; MAX_DATAGRAM_SIZE + 1];
    let mut out = Vec::with_capacity(MAX_DATAGRAM_SIZE);
    let mut drops = DropReporter::default();
    let _ = socket.set_read_timeout(Some(POLL_INTERVAL));
    while !shutdown.is_requested() {
        // Block for the first datagram, then take whatever else is already queued, so one
        // append (and one fsync) covers every message that arrived together.
        let mut received = receive(&socket, &mut buf, &mut receiver);
        if received {
            let _ = socket.set_nonblocking(true);
            while received && receiver.pending() < max_batch {
                received = receive(&socket, &mut buf, &mut receiver);
            }
            let _ = socket.set_nonblocking(false);
        }
        store_batch(&mut receiver, &mut store, &mut drops);
        while let Some(transmit) = receiver.poll_transmit(&mut out) {
            let _ = socket.send_to(&out[..transmit.size], transmit.destination);
            out.clear();
        }
    }
    ferry_shell::close_store(&mut store);
}

/// Stores, with one append, every message the receiver asked to store since the last call, and
/// reports the outcome to it; logs what it dropped (rate-limited by `drops`). Shared by the
/// UDP and the TCP socket server.
pub fn store_batch(receiver: &mut DatagramReceiver, store: &mut Store, drops: &mut DropReporter) {
    let mut tokens = Vec::new();
    let mut messages = Vec::new();
    while let Some(event) = receiver.poll_event() {
        match event {
            ReceiverEvent::Store { token, message } => {
                tokens.push(token);
                messages.push(message);
            }
            ReceiverEvent::Dropped { from, error } => {
                if let Some(line) = drops.note(Instant::now(), from, &error) {
                    eprintln!("{line}");
                }
            }
        }
    }
    if tokens.is_empty() {
        return;
    }
    let now = Instant::now();
    let ids: Vec<_> = tokens
        .iter()
        .map(|&token| receiver.pending_id(token).cloned())
        .collect();
    match store.store_batch(OffsetDateTime::now_utc(), &messages, &ids) {
        Ok(()) => tokens
            .into_iter()
            .for_each(|token| receiver.handle_stored(now, token)),
        Err(error) => {
            if !error.is_repeat() {
                eprintln!("socket server: not stored, not acknowledged: {error}");
            }
            tokens
                .into_iter()
                .for_each(|token| receiver.handle_store_failed(token));
        }
    }
}

/// Reads one datagram into the receiver; false when none was waiting.
fn receive(socket: &UdpSocket, buf: &mut [u8], receiver: &mut DatagramReceiver) -> bool {
    match socket.recv_from(buf) {
        Ok((n, from)) => {
            receiver.handle_datagram(Instant::now(), from, &buf[..n]);
            true
        }
        Err(_) => false,
    }
}

/// How often blocked threads look at the shutdown flag.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
