//! The socket server on the loop: datagrams in (or lines from web apps' streams, each a
//! connection of the loop with a [`PeerSession`]), the core's `DatagramReceiver` deciding what
//! to store and what to acknowledge, and a writer thread doing the appends so a slow disk never
//! stalls the loop. While one batch is being written (and synced), the next one gathers: group
//! commit without a timer.
//!
//! A stream's lines are handed to the receiver as datagrams from that web app's address, and
//! each ack is written back on the stream its copy came from. Streams stop reading while the
//! receiver has as many stores under way as it takes (lines wait in the framer, then in the
//! kernel's buffers: back-pressure instead of dropped messages, which a stream would not
//! resend) and resume when a batch is stored.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use ferry_core::datagram::MAX_STREAM_PEERS;
use ferry_core::datagram::{
    push_line, DatagramReceiver, DropReporter, LineFramer, MessageId, ReceiverConfig,
    ReceiverEvent, StoreToken, MAX_DATAGRAM_SIZE,
};
use ferry_core::Message;
use ferry_shell::Store;
use mio::net::UdpSocket;
use mio::{Interest, Registry, Token, Waker};
use time::OffsetDateTime;

use crate::conns::{ConnKey, Wakes};
use crate::session::{Protocol, Status};

pub struct SocketServer {
    /// The UDP socket; `None` with `--transport tcp`, whose streams are the loop's connections.
    udp: Option<UdpSocket>,
    receiver: DatagramReceiver,
    /// Stop reading streams while this many stores are under way (the receiver's own bound).
    max_pending: usize,
    /// The most messages handed to the writer at once.
    max_batch: usize,
    drops: DropReporter,
    writer: Option<Writer>,
    /// Messages waiting for the writer to finish the batch it holds.
    queued: Vec<Job>,
    /// The web apps' streams, by address, and acks written for them not yet taken.
    peers: HashMap<SocketAddr, ConnKey>,
    acks: HashMap<ConnKey, Vec<u8>>,
    buf: Vec<u8>,
    out: Vec<u8>,
}

/// One web app's stream to the socket server (`--transport tcp`).
pub struct PeerSession {
    address: SocketAddr,
    framer: LineFramer,
    /// The stream ended or its framing broke: close it.
    finished: bool,
}

/// One message for the writer: its token, its id (recorded in the id journal), the message.
type Job = (StoreToken, Option<MessageId>, Message);

struct Writer {
    jobs: SyncSender<Vec<Job>>,
    results: Receiver<(Vec<StoreToken>, bool)>,
    thread: JoinHandle<()>,
    busy: bool,
}

impl SocketServer {
    /// Starts the writer thread, which wakes the loop through `waker` after each batch. With a
    /// UDP socket, registers it under `udp_token`; streams arrive through a listener of the
    /// loop instead.
    pub fn start(
        udp: Option<UdpSocket>,
        store: Store,
        registry: &Registry,
        udp_token: Token,
        waker: Arc<Waker>,
    ) -> io::Result<SocketServer> {
        let receiver_config = ReceiverConfig::default();
        let max_pending = receiver_config.max_pending;
        let max_batch = receiver_config.max_batch;
        let udp = match udp {
            Some(mut socket) => {
                registry.register(&mut socket, udp_token, Interest::READABLE)?;
                Some(socket)
            }
            None => None,
        };
        let mut receiver = DatagramReceiver::new(receiver_config);
        receiver.remember_stored(store.recent_ids().iter().cloned());
        // One batch at a time is in the writer; the queue bound only guards against misuse.
        let (jobs, job_queue) = mpsc::sync_channel(1);
        let (result_sender, results) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || write_batches(store, job_queue, result_sender, waker))?;
        Ok(SocketServer {
            udp,
            receiver,
            max_pending,
            max_batch,
            drops: DropReporter::default(),
            writer: Some(Writer {
                jobs,
                results,
                thread,
                busy: false,
            }),
            queued: Vec::new(),
            peers: HashMap::new(),
            acks: HashMap::new(),
            buf: vec![0; MAX_DATAGRAM_SIZE + 1],
            out: Vec::with_capacity(MAX_DATAGRAM_SIZE),
        })
    }

    /// A web app's stream, unless [`MAX_STREAM_PEERS`] are connected already.
    pub fn open(&mut self, key: ConnKey, address: SocketAddr) -> Option<PeerSession> {
        if self.peers.len() >= MAX_STREAM_PEERS {
            return None;
        }
        self.peers.insert(address, key);
        Some(PeerSession {
            address,
            framer: LineFramer::new(),
            finished: false,
        })
    }

    /// Readiness of the UDP socket: reads every waiting datagram.
    pub fn readable(&mut self, now: Instant) {
        let Some(socket) = self.udp.as_mut() else {
            return;
        };
        loop {
            match socket.recv_from(&mut self.buf) {
                Ok((n, from)) => self.receiver.handle_datagram(now, from, &self.buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // An ICMP error from an earlier ack's destination: nothing to do.
                Err(_) => {}
            }
        }
    }

    /// The writer may have finished a batch.
    pub fn handle_wake(&mut self, wakes: &mut Wakes, now: Instant) {
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        let mut stored_any = false;
        while let Ok((tokens, stored)) = writer.results.try_recv() {
            writer.busy = false;
            stored_any = true;
            for token in tokens {
                if stored {
                    self.receiver.handle_stored(now, token);
                } else {
                    self.receiver.handle_store_failed(token);
                }
            }
        }
        if stored_any {
            // Stores completed: streams paused on the receiver's bound read on.
            for &key in self.peers.values() {
                wakes.wake(key);
            }
        }
    }

    /// Hands the messages that came in to the writer and sends the acks that are due.
    pub fn end_of_turn(&mut self, wakes: &mut Wakes, now: Instant) {
        while let Some(event) = self.receiver.poll_event() {
            match event {
                ReceiverEvent::Store { token, message } => {
                    let id = self.receiver.pending_id(token).cloned();
                    self.queued.push((token, id, message));
                }
                ReceiverEvent::Dropped { from, error } => {
                    if let Some(line) = self.drops.note(now, from, &error) {
                        eprintln!("{line}");
                    }
                }
            }
        }
        if let Some(writer) = self.writer.as_mut() {
            if !writer.busy && !self.queued.is_empty() {
                // Beyond a batch, the rest waits for the writer's next turn (its wake).
                let rest = if self.queued.len() > self.max_batch {
                    self.queued.split_off(self.max_batch)
                } else {
                    Vec::new()
                };
                let batch = std::mem::replace(&mut self.queued, rest);
                writer.busy = writer.jobs.send(batch).is_ok();
            }
        }
        while let Some(transmit) = self.receiver.poll_transmit(&mut self.out) {
            let ack = &self.out[..transmit.size];
            match self.udp.as_mut() {
                // A lost ack is retransmitted for: the sender sends the message again and the
                // receiver acknowledges the copy.
                Some(socket) => {
                    let _ = socket.send_to(ack, transmit.destination);
                }
                // An ack for a web app that has gone is dropped; its copy on the next
                // connection is acknowledged then.
                None => {
                    if let Some(&key) = self.peers.get(&transmit.destination) {
                        push_line(ack, self.acks.entry(key).or_default());
                        wakes.wake(key);
                    }
                }
            }
            self.out.clear();
        }
    }

    /// Whether no message is being or waiting to be stored.
    pub fn is_idle(&self) -> bool {
        self.queued.is_empty() && self.writer.as_ref().is_none_or(|w| !w.busy)
    }

    /// Lets the writer finish and sync what it holds, then joins it.
    pub fn finish(&mut self) {
        if let Some(writer) = self.writer.take() {
            drop(writer.jobs);
            let _ = writer.thread.join();
        }
    }
}

impl PeerSession {
    /// Hands whole lines to the receiver while it takes more.
    fn feed(&mut self, service: &mut SocketServer, now: Instant) {
        while !self.finished && service.receiver.pending() < service.max_pending {
            match self.framer.poll_line() {
                Ok(Some(line)) => service.receiver.handle_datagram(now, self.address, line),
                Ok(None) => break,
                Err(error) => {
                    eprintln!(
                        "socket server: closing the stream from {}: {error}",
                        self.address
                    );
                    self.finished = true;
                }
            }
        }
    }
}

impl Protocol for PeerSession {
    type Service = SocketServer;

    fn wants_read(&self, service: &SocketServer) -> bool {
        !self.finished && service.receiver.pending() < service.max_pending
    }

    fn receive(
        &mut self,
        service: &mut SocketServer,
        _: &mut Wakes,
        _: ConnKey,
        now: Instant,
        bytes: &[u8],
    ) {
        self.framer.receive(bytes);
        self.feed(service, now);
    }

    fn receive_eof(&mut self, _: &mut SocketServer, _: &mut Wakes, _: ConnKey, _: Instant) {
        self.finished = true;
    }

    fn poll_transmit(
        &mut self,
        service: &mut SocketServer,
        _: &mut Wakes,
        key: ConnKey,
        now: Instant,
        out: &mut Vec<u8>,
    ) {
        // Lines left in the framer while the receiver was full.
        self.feed(service, now);
        if let Some(mut acks) = service.acks.remove(&key) {
            out.append(&mut acks);
        }
    }

    fn status(&self) -> Status {
        if self.finished {
            Status::Gone
        } else {
            Status::Open
        }
    }

    fn closed(&mut self, service: &mut SocketServer, _: &mut Wakes, key: ConnKey, _: Instant) {
        service.peers.remove(&self.address);
        service.acks.remove(&key);
    }

    fn holds_a_stop(&self) -> bool {
        false
    }
}

fn write_batches(
    mut store: Store,
    jobs: Receiver<Vec<Job>>,
    results: mpsc::Sender<(Vec<StoreToken>, bool)>,
    waker: Arc<Waker>,
) {
    for batch in jobs {
        let mut tokens = Vec::with_capacity(batch.len());
        let mut ids = Vec::with_capacity(batch.len());
        let mut messages = Vec::with_capacity(batch.len());
        for (token, id, message) in batch {
            tokens.push(token);
            ids.push(id);
            messages.push(message);
        }
        let stored = match store.store_batch(OffsetDateTime::now_utc(), &messages, &ids) {
            Ok(()) => true,
            Err(error) => {
                if !error.is_repeat() {
                    eprintln!("socket server: not stored, not acknowledged: {error}");
                }
                false
            }
        };
        if results.send((tokens, stored)).is_err() {
            break;
        }
        let _ = waker.wake();
    }
    ferry_shell::close_store(&mut store);
}
