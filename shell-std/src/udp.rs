//! The two UDP ends of the datagram protocol on blocking sockets: the web app's forwarding
//! thread (owning the core's `DatagramSender`) and the socket server (one thread owning the
//! core's `DatagramReceiver` and the message store). Retransmits, acks and dedup are the core's.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ferry_core::datagram::{
    DatagramReceiver, DatagramSender, DropReporter, ReceiverConfig, ReceiverEvent, SenderConfig,
    MAX_DATAGRAM_SIZE,
};
use ferry_shell::Store;
use time::OffsetDateTime;

use crate::forward::{Forwarder, ForwarderInput, Waiting};
use crate::signal::Shutdown;

/// Starts the forwarding thread with a UDP socket connected to `target`, and its ack reader.
pub fn start_forwarder(
    target: SocketAddr,
    config: SenderConfig,
) -> io::Result<(Forwarder, JoinHandle<()>)> {
    let reader_stop = Shutdown::default();
    let shutdown = reader_stop.clone();
    let local: SocketAddr = if target.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(target)?;
    let (inputs, queue) = mpsc::channel();
    let reader_socket = socket.try_clone()?;
    let reader_inputs = inputs.clone();
    thread::Builder::new()
        .name("forward-acks".into())
        .spawn(move || read_acks(reader_socket, reader_inputs, shutdown))?;
    let forwarder = Forwarder::new(inputs, config.ack_timeout);
    let handle = thread::Builder::new()
        .name("forward".into())
        .spawn(move || {
            run_sender(socket, queue, config);
            reader_stop.request();
        })?;
    Ok((forwarder, handle))
}

fn read_acks(socket: UdpSocket, inputs: Sender<ForwarderInput>, shutdown: Shutdown) {
    let mut buf = vec![0u8; MAX_DATAGRAM_SIZE];
    let _ = socket.set_read_timeout(Some(POLL_INTERVAL));
    while !shutdown.is_requested() {
        // Errors are timeouts, or ICMP "port unreachable" while the socket server is down: the
        // sender's retransmits carry on regardless.
        if let Ok(n) = socket.recv(&mut buf) {
            let bytes = buf[..n].to_vec();
            if inputs
                .send(ForwarderInput::Received { link: 0, bytes })
                .is_err()
            {
                return;
            }
        }
    }
}

fn run_sender(socket: UdpSocket, queue: Receiver<ForwarderInput>, config: SenderConfig) {
    let mut sender = DatagramSender::new(config, Instant::now());
    let mut waiting = Waiting::default();
    let mut stopping = false;
    let mut out = Vec::with_capacity(MAX_DATAGRAM_SIZE);
    loop {
        let now = Instant::now();
        let wait = sender.poll_timeout().map_or(POLL_INTERVAL, |deadline| {
            deadline.saturating_duration_since(now)
        });
        match queue.recv_timeout(wait) {
            Ok(ForwarderInput::Submit { message, reply }) => {
                waiting.submit(&mut sender, Instant::now(), message, reply)
            }
            Ok(ForwarderInput::Received { bytes, .. }) => {
                sender.handle_datagram(Instant::now(), &bytes)
            }
            Ok(ForwarderInput::Closed { .. }) => {}
            Ok(ForwarderInput::Stop) => stopping = true,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        sender.handle_timeout(Instant::now());
        while let Some(len) = sender.poll_transmit(&mut out) {
            // A refused send (socket server down) is just a lost datagram to the core.
            let _ = socket.send(&out[..len]);
            out.clear();
        }
        waiting.settle(&mut sender);
        if stopping && waiting.is_empty() {
            return;
        }
    }
}

/// Runs the socket server on this thread until shutdown: receive, store in batches, ack.
pub fn run_socket_server(socket: UdpSocket, mut store: Store, shutdown: Shutdown) {
    let mut receiver = DatagramReceiver::new(ReceiverConfig::default());
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
            while received && receiver.pending() < BATCH_LIMIT {
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
/// At most this many messages go into one append.
pub const BATCH_LIMIT: usize = 512;
