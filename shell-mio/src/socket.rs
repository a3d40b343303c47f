//! The socket server on the event loop: datagrams in (or lines from web apps' streams, see
//! `peers.rs`), the core's `DatagramReceiver` deciding what to store and what to acknowledge,
//! and a writer thread doing the appends so a slow disk never stalls the loop. While one batch
//! is being written (and synced), the next one gathers: group commit without a timer.

use std::io;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use ferry_core::datagram::{
    DatagramReceiver, DropReporter, MessageId, ReceiverConfig, ReceiverEvent, StoreToken,
    MAX_DATAGRAM_SIZE,
};
use ferry_core::Message;
use ferry_shell::Store;
use mio::net::{TcpListener, UdpSocket};
use mio::{Interest, Registry, Token, Waker};
use time::OffsetDateTime;

use crate::peers::Peers;

pub struct SocketServer {
    ingress: Ingress,
    /// For the streams' (de)registrations.
    registry: Registry,
    receiver: DatagramReceiver,
    drops: DropReporter,
    writer: Option<Writer>,
    /// Messages waiting for the writer to finish the batch it holds.
    queued: Vec<Job>,
    buf: Vec<u8>,
    out: Vec<u8>,
}

/// One message for the writer: its token, its id (recorded in the id journal), the message.
type Job = (StoreToken, Option<MessageId>, Message);

/// Where messages come in and acks go out.
enum Ingress {
    Udp(UdpSocket),
    Tcp(Peers),
}

/// The socket the socket server listens on, by transport.
pub enum Listening {
    Udp(UdpSocket),
    Tcp(TcpListener),
}

struct Writer {
    jobs: SyncSender<Vec<Job>>,
    results: Receiver<(Vec<StoreToken>, bool)>,
    thread: JoinHandle<()>,
    busy: bool,
}

impl SocketServer {
    /// Starts the writer thread, which wakes the loop through `waker_token` after each batch.
    pub fn start(
        listening: Listening,
        store: Store,
        registry: &Registry,
        socket_token: Token,
        waker_token: Token,
    ) -> io::Result<SocketServer> {
        let receiver_config = ReceiverConfig::default();
        let ingress = match listening {
            Listening::Udp(mut socket) => {
                registry.register(&mut socket, socket_token, Interest::READABLE)?;
                Ingress::Udp(socket)
            }
            Listening::Tcp(listener) => Ingress::Tcp(Peers::new(
                listener,
                registry,
                socket_token,
                receiver_config.max_pending,
            )?),
        };
        let waker = Arc::new(Waker::new(registry, waker_token)?);
        let mut receiver = DatagramReceiver::new(receiver_config);
        receiver.remember_stored(store.recent_ids().iter().cloned());
        // One batch at a time is in the writer; the queue bound only guards against misuse.
        let (jobs, job_queue) = mpsc::sync_channel(1);
        let (result_sender, results) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || write_batches(store, job_queue, result_sender, waker))?;
        Ok(SocketServer {
            ingress,
            registry: registry.try_clone()?,
            receiver,
            drops: DropReporter::default(),
            writer: Some(Writer {
                jobs,
                results,
                thread,
                busy: false,
            }),
            queued: Vec::new(),
            buf: vec![0; MAX_DATAGRAM_SIZE + 1],
            out: Vec::with_capacity(MAX_DATAGRAM_SIZE),
        })
    }

    /// Readiness of the socket server's socket: reads every waiting datagram, or accepts every
    /// waiting web app.
    pub fn readable(&mut self, now: Instant) {
        let socket = match &mut self.ingress {
            Ingress::Udp(socket) => socket,
            Ingress::Tcp(peers) => {
                peers.accept(&self.registry, &mut self.receiver, now);
                return self.after_input(now);
            }
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
        self.after_input(now);
    }

    /// Readiness of a web app's stream (`token` from `peers::FIRST_PEER` up).
    pub fn peer_ready(&mut self, token: Token, readable: bool, writable: bool, now: Instant) {
        if let Ingress::Tcp(peers) = &mut self.ingress {
            let registry = &self.registry;
            peers.handle_ready(registry, token, readable, writable, &mut self.receiver, now);
        }
        self.after_input(now);
    }

    /// The writer finished a batch.
    pub fn store_done(&mut self, now: Instant) {
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        while let Ok((tokens, stored)) = writer.results.try_recv() {
            writer.busy = false;
            for token in tokens {
                if stored {
                    self.receiver.handle_stored(now, token);
                } else {
                    self.receiver.handle_store_failed(token);
                }
            }
        }
        // Stores completed: streams paused on the receiver's bound read on.
        if let Ingress::Tcp(peers) = &mut self.ingress {
            peers.resume(&self.registry, &mut self.receiver, now);
        }
        self.after_input(now);
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

    fn after_input(&mut self, now: Instant) {
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
                let batch = std::mem::take(&mut self.queued);
                writer.busy = writer.jobs.send(batch).is_ok();
            }
        }
        while let Some(transmit) = self.receiver.poll_transmit(&mut self.out) {
            let ack = &self.out[..transmit.size];
            match &mut self.ingress {
                // A lost ack is retransmitted for: the sender sends the message again and the
                // receiver acknowledges the copy.
                Ingress::Udp(socket) => {
                    let _ = socket.send_to(ack, transmit.destination);
                }
                Ingress::Tcp(peers) => peers.send_ack(&self.registry, transmit.destination, ack),
            }
            self.out.clear();
        }
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
