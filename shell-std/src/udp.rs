//! The two UDP ends of the datagram protocol on blocking sockets: the web app's [`Forwarder`]
//! (one thread owning the core's `DatagramSender`) and the socket server (one thread owning the
//! core's `DatagramReceiver` and the message store). Retransmits, acks and dedup are the core's.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ferry_core::app::ForwardOutcome;
use ferry_core::datagram::{
    DatagramReceiver, DatagramSender, DropReporter, ReceiverConfig, ReceiverEvent, SenderConfig,
    SenderEvent, MAX_DATAGRAM_SIZE,
};
use ferry_core::Message;
use ferry_storage::FileStore;
use time::OffsetDateTime;

use crate::signal::Shutdown;

/// The web app's handle on the forwarding thread; cloned into every connection thread.
#[derive(Clone)]
pub struct Forwarder {
    inputs: Sender<ForwarderInput>,
    /// Past the core's own deadline, a caller stops waiting (the thread has gone).
    give_up_after: Duration,
}

enum ForwarderInput {
    Submit {
        message: Message,
        reply: Sender<ForwardOutcome>,
    },
    Datagram(Vec<u8>),
    Stop,
}

impl Forwarder {
    /// Starts the forwarding thread with a socket connected to `target`.
    pub fn start(
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
        let reader_done = reader_stop.clone();
        let give_up_after = config.ack_timeout + Duration::from_secs(1);
        let handle = thread::Builder::new()
            .name("forward".into())
            .spawn(move || {
                run_sender(socket, queue, config);
                reader_done.request();
            })?;
        Ok((
            Forwarder {
                inputs,
                give_up_after,
            },
            handle,
        ))
    }

    /// Forwards one message and waits for the outcome.
    pub fn forward(&self, message: Message) -> ForwardOutcome {
        let (reply, outcome) = mpsc::channel();
        if self
            .inputs
            .send(ForwarderInput::Submit { message, reply })
            .is_err()
        {
            return ForwardOutcome::NotAcknowledged;
        }
        outcome
            .recv_timeout(self.give_up_after)
            .unwrap_or(ForwardOutcome::NotAcknowledged)
    }

    /// Asks the forwarding thread to end once its in-flight messages are settled.
    pub fn stop(&self) {
        let _ = self.inputs.send(ForwarderInput::Stop);
    }
}

fn read_acks(socket: UdpSocket, inputs: Sender<ForwarderInput>, shutdown: Shutdown) {
    let mut buf = vec![0u8; MAX_DATAGRAM_SIZE];
    let _ = socket.set_read_timeout(Some(POLL_INTERVAL));
    while !shutdown.is_requested() {
        // Errors are timeouts, or ICMP "port unreachable" while the socket server is down: the
        // sender's retransmits carry on regardless.
        if let Ok(n) = socket.recv(&mut buf) {
            if inputs
                .send(ForwarderInput::Datagram(buf[..n].to_vec()))
                .is_err()
            {
                return;
            }
        }
    }
}

fn run_sender(socket: UdpSocket, queue: Receiver<ForwarderInput>, config: SenderConfig) {
    let mut sender = DatagramSender::new(config, Instant::now());
    let mut waiting: HashMap<u64, Sender<ForwardOutcome>> = HashMap::new();
    let mut next_tag: u64 = 0;
    let mut stopping = false;
    let mut out = Vec::with_capacity(MAX_DATAGRAM_SIZE);
    loop {
        let now = Instant::now();
        let wait = sender.poll_timeout().map_or(POLL_INTERVAL, |deadline| {
            deadline.saturating_duration_since(now)
        });
        match queue.recv_timeout(wait) {
            Ok(ForwarderInput::Submit { message, reply }) => {
                next_tag += 1;
                match sender.send(Instant::now(), message, next_tag) {
                    Ok(_) => {
                        waiting.insert(next_tag, reply);
                    }
                    Err(error) => {
                        let _ = reply.send(error.into());
                    }
                }
            }
            Ok(ForwarderInput::Datagram(bytes)) => sender.handle_datagram(Instant::now(), &bytes),
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
        while let Some(event) = sender.poll_event() {
            let (tag, outcome) = match event {
                SenderEvent::Delivered { tag } => (tag, ForwardOutcome::Stored),
                SenderEvent::Failed { tag } => (tag, ForwardOutcome::NotAcknowledged),
            };
            if let Some(reply) = waiting.remove(&tag) {
                let _ = reply.send(outcome);
            }
        }
        if stopping && waiting.is_empty() {
            return;
        }
    }
}

/// Runs the socket server on this thread until shutdown: receive, store in batches, ack.
pub fn run_socket_server(socket: UdpSocket, mut store: FileStore, shutdown: Shutdown) {
    let mut receiver = DatagramReceiver::new(ReceiverConfig::default());
    receiver.remember_stored(store.recent_ids().iter().cloned());
    let mut buf = vec![0u8; MAX_DATAGRAM_SIZE + 1];
    let mut out = Vec::with_capacity(MAX_DATAGRAM_SIZE);
    let mut batch = Vec::new();
    let mut messages = Vec::new();
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
        while let Some(event) = receiver.poll_event() {
            match event {
                ReceiverEvent::Store { token, message } => {
                    batch.push(token);
                    messages.push(message);
                }
                ReceiverEvent::Dropped { from, error } => {
                    if let Some(line) = drops.note(Instant::now(), from, &error) {
                        eprintln!("{line}");
                    }
                }
            }
        }
        if !batch.is_empty() {
            let now = Instant::now();
            let ids: Vec<_> = batch
                .iter()
                .map(|&token| receiver.pending_id(token).cloned())
                .collect();
            match store.append_identified(OffsetDateTime::now_utc(), &messages, &ids) {
                Ok(_) => batch
                    .drain(..)
                    .for_each(|token| receiver.handle_stored(now, token)),
                Err(error) => {
                    eprintln!("socket server: not stored, not acknowledged: {error}");
                    batch
                        .drain(..)
                        .for_each(|token| receiver.handle_store_failed(token));
                }
            }
            messages.clear();
        }
        while let Some(transmit) = receiver.poll_transmit(&mut out) {
            let _ = socket.send_to(&out[..transmit.size], transmit.destination);
            out.clear();
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
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// At most this many messages go into one append.
const BATCH_LIMIT: usize = 512;
