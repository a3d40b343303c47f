//! The two TCP ends of the datagram protocol (`--transport tcp`) on blocking sockets: the web
//! app's forwarding thread, which owns its one stream to the socket server (a reader thread per
//! connection feeds it the acks), and the socket server: a [`Listener`] whose connection threads
//! read one web app each, all feeding one thread that owns the core's `DatagramReceiver` and
//! the store.
//!
//! Framing, when to reconnect, what to send again, what to store and which of the socket
//! server's addresses to connect to are the core's decisions (`LineFramer`, `Reconnect`,
//! `DatagramSender`, `DatagramReceiver`, `ForwardTarget`); this module moves bytes.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown as SocketShutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ferry_core::datagram::{
    push_line, DatagramReceiver, DatagramSender, DropReporter, ForwardTarget, LineFramer,
    ReceiverConfig, Reconnect, ReconnectConfig, SenderConfig,
};
use ferry_core::datagram::{MAX_STREAM_PEERS, STREAM_WRITE_TIMEOUT};
use ferry_core::limits::SHUTDOWN_GRACE;
use ferry_shell::lookup::Lookup;
use ferry_shell::Store;

use crate::accept::{Listener, StopConnections};
use crate::forward::{self, Forwarder, ForwarderInput, Waiting};
use crate::signal::Shutdown;
use crate::udp::{store_batch, POLL_INTERVAL};

/// Starts the forwarding thread, which connects to `target` (the socket server `name`, as given
/// on the command line) and reconnects by itself, looking the name up again when due.
pub fn start_forwarder(
    target: ForwardTarget,
    name: &str,
    config: SenderConfig,
) -> io::Result<(Forwarder, JoinHandle<()>)> {
    let (inputs, queue) = mpsc::channel();
    let forwarder = Forwarder::new(inputs.clone(), config.ack_timeout);
    let name = name.to_string();
    let handle = thread::Builder::new()
        .name("forward".into())
        .spawn(move || run_sender(target, name, queue, inputs, config))?;
    Ok((forwarder, handle))
}

/// The web app's connection up now.
struct Link {
    id: u64,
    stream: TcpStream,
    framer: LineFramer,
}

fn run_sender(
    mut target: ForwardTarget,
    name: String,
    queue: Receiver<ForwarderInput>,
    inputs: Sender<ForwarderInput>,
    config: SenderConfig,
) {
    let reconnect_config = ReconnectConfig::default();
    let mut sender = DatagramSender::new(config, Instant::now());
    let mut reconnect = Reconnect::new(reconnect_config, Instant::now());
    let mut link: Option<Link> = None;
    let mut next_link: u64 = 0;
    let mut waiting = Waiting::default();
    let mut stopping = false;
    let mut out = Vec::new();
    let mut lines = Vec::new();
    loop {
        let now = Instant::now();
        let wait = [sender.poll_timeout(), reconnect.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .map_or(POLL_INTERVAL, |due| due.saturating_duration_since(now));
        let mut broken = false;
        match queue.recv_timeout(wait) {
            Ok(ForwarderInput::Submit { submission, reply }) => {
                forward::submit(&mut waiting, &mut sender, Instant::now(), submission, reply)
            }
            Ok(ForwarderInput::Received { link: id, bytes }) => {
                if let Some(link) = link.as_mut().filter(|link| link.id == id) {
                    link.framer.receive(&bytes);
                    loop {
                        match link.framer.poll_line() {
                            Ok(Some(line)) => sender.handle_datagram(Instant::now(), line),
                            Ok(None) => break,
                            // The socket server broke the framing: start afresh.
                            Err(_) => {
                                broken = true;
                                break;
                            }
                        }
                    }
                }
            }
            Ok(ForwarderInput::Closed { link: id }) => {
                broken = link.as_ref().is_some_and(|link| link.id == id);
            }
            Ok(ForwarderInput::Refused) => {}
            Ok(ForwarderInput::Stop) => stopping = true,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        if reconnect.poll_timeout().is_some_and(|due| due <= now) && reconnect.handle_timeout(now) {
            if target.poll_resolve(now) {
                // This thread only waits for the reconnect here: a blocking lookup is fine.
                let addresses = Lookup::start(&name).wait();
                target.handle_resolved(Instant::now(), addresses);
            }
            next_link += 1;
            // A blocking connect, bounded by the core's attempt timeout: on the machine or the
            // network next door it succeeds or is refused at once.
            let opened = match target.current() {
                Some(address) => open_link(
                    address,
                    next_link,
                    reconnect_config.connect_timeout,
                    &inputs,
                ),
                None => Err(io::ErrorKind::AddrNotAvailable.into()),
            };
            match opened {
                Ok(opened) => {
                    reconnect.handle_connected(Instant::now());
                    sender.handle_reconnect(Instant::now());
                    target.handle_success();
                    link = Some(opened);
                }
                Err(_) => {
                    reconnect.handle_failure(Instant::now());
                    target.handle_failure();
                }
            }
        }
        sender.handle_timeout(now);
        while let Some(len) = sender.poll_transmit(&mut out) {
            push_line(&out[..len], &mut lines);
            out.clear();
        }
        if let Some(link) = link.as_mut().filter(|_| !lines.is_empty() && !broken) {
            broken = link.stream.write_all(&lines).is_err();
        }
        lines.clear();
        if broken {
            if let Some(link) = link.take() {
                // Ends the reader thread too.
                let _ = link.stream.shutdown(SocketShutdown::Both);
            }
            sender.handle_disconnect(now);
            reconnect.handle_failure(now);
        }
        forward::settle(&mut waiting, &mut sender);
        if stopping && waiting.is_empty() {
            if let Some(link) = link.take() {
                let _ = link.stream.shutdown(SocketShutdown::Both);
            }
            return;
        }
    }
}

/// Connects to `target` and starts the reader thread of the new connection `id`.
fn open_link(
    target: SocketAddr,
    id: u64,
    timeout: Duration,
    inputs: &Sender<ForwarderInput>,
) -> io::Result<Link> {
    let stream = TcpStream::connect_timeout(&target, timeout)?;
    // Each message is one small write the socket server should see at once.
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(STREAM_WRITE_TIMEOUT))?;
    let reader = stream.try_clone()?;
    let inputs = inputs.clone();
    thread::Builder::new()
        .name("forward-acks".into())
        .spawn(move || read_link(reader, id, inputs))?;
    Ok(Link {
        id,
        stream,
        framer: LineFramer::new(),
    })
}

/// Feeds what connection `link` reads to the forwarding thread until it ends.
fn read_link(mut stream: TcpStream, link: u64, inputs: Sender<ForwarderInput>) {
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let bytes = buf[..n].to_vec();
                if inputs
                    .send(ForwarderInput::Received { link, bytes })
                    .is_err()
                {
                    return;
                }
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = inputs.send(ForwarderInput::Closed { link });
}

/// What the socket server's thread hears from its accept and reader threads.
enum PeerInput {
    Opened { peer: SocketAddr, stream: TcpStream },
    Received { peer: SocketAddr, bytes: Vec<u8> },
    Closed { peer: SocketAddr },
}

/// One web app connected to the socket server.
struct Peer {
    stream: TcpStream,
    framer: LineFramer,
}

/// Runs the TCP socket server on this thread until shutdown: accept web apps' streams, read
/// their lines, store in batches, ack each on the stream its copy came on.
pub fn run_socket_server(listener: TcpListener, mut store: Store, shutdown: Shutdown) {
    let (inputs, queue) = mpsc::sync_channel(INPUT_QUEUE);
    // Beyond the bound a stream is closed at once, with nothing sent: the web app's forwarder
    // reconnects by itself.
    let listener = Listener::start(
        listener,
        shutdown.clone(),
        MAX_STREAM_PEERS,
        |_| {},
        move |stream| serve_peer(stream, &inputs),
    );
    let config = ReceiverConfig::default();
    let max_batch = config.max_batch;
    let mut receiver = DatagramReceiver::new(config);
    receiver.remember_stored(store.recent_ids().iter().cloned());
    let mut drops = DropReporter::default();
    let mut peers: HashMap<SocketAddr, Peer> = HashMap::new();
    let mut out = Vec::new();
    let mut lines = Vec::new();
    while !shutdown.is_requested() {
        // Block for the first input, then take whatever else is already queued, so one append
        // (and one fsync) covers every message that arrived together.
        match queue.recv_timeout(POLL_INTERVAL) {
            Ok(input) => handle_peer_input(input, &mut peers, &mut receiver),
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        }
        while receiver.pending() < max_batch {
            let Ok(input) = queue.try_recv() else {
                break;
            };
            handle_peer_input(input, &mut peers, &mut receiver);
        }
        store_batch(&mut receiver, &mut store, &mut drops);
        while let Some(transmit) = receiver.poll_transmit(&mut out) {
            // An ack for a web app that has gone is dropped: its copy on the next connection
            // is acknowledged then.
            if let Some(peer) = peers.get_mut(&transmit.destination) {
                push_line(&out[..transmit.size], &mut lines);
                if peer.stream.write_all(&lines).is_err() {
                    close_peer(&mut peers, transmit.destination);
                }
                lines.clear();
            }
            out.clear();
        }
    }
    ferry_shell::close_store(&mut store);
    for peer in peers.values() {
        let _ = peer.stream.shutdown(SocketShutdown::Both);
    }
    // Readers blocked on a full queue give up once nobody takes from it.
    drop(queue);
    if let Ok(listener) = listener {
        listener.stop(SHUTDOWN_GRACE, StopConnections::HalfClose);
    }
}

fn handle_peer_input(
    input: PeerInput,
    peers: &mut HashMap<SocketAddr, Peer>,
    receiver: &mut DatagramReceiver,
) {
    match input {
        PeerInput::Opened { peer, stream } => {
            let framer = LineFramer::new();
            peers.insert(peer, Peer { stream, framer });
        }
        PeerInput::Received { peer, bytes } => {
            let Some(entry) = peers.get_mut(&peer) else {
                return;
            };
            entry.framer.receive(&bytes);
            loop {
                match entry.framer.poll_line() {
                    Ok(Some(line)) => receiver.handle_datagram(Instant::now(), peer, line),
                    Ok(None) => return,
                    Err(error) => {
                        eprintln!("socket server: closing the stream from {peer}: {error}");
                        close_peer(peers, peer);
                        return;
                    }
                }
            }
        }
        PeerInput::Closed { peer } => {
            peers.remove(&peer);
        }
    }
}

fn close_peer(peers: &mut HashMap<SocketAddr, Peer>, peer: SocketAddr) {
    if let Some(entry) = peers.remove(&peer) {
        // Its reader thread sees the end and reports it; the report finds nothing to remove.
        let _ = entry.stream.shutdown(SocketShutdown::Both);
    }
}

/// One web app's stream, on the listener's thread: hands the socket server a handle to write
/// acks on, then reads until the stream ends.
fn serve_peer(stream: TcpStream, inputs: &SyncSender<PeerInput>) {
    let (Ok(peer), Ok(writer), Ok(())) = (
        stream.peer_addr(),
        stream.try_clone(),
        stream.set_write_timeout(Some(STREAM_WRITE_TIMEOUT)),
    ) else {
        return;
    };
    let _ = stream.set_nodelay(true);
    if inputs
        .send(PeerInput::Opened {
            peer,
            stream: writer,
        })
        .is_ok()
    {
        read_peer(stream, peer, inputs);
    }
}

/// Feeds what one web app's stream reads to the socket server's thread until it ends.
fn read_peer(mut stream: TcpStream, peer: SocketAddr, inputs: &SyncSender<PeerInput>) {
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let bytes = buf[..n].to_vec();
                // Blocks while the socket server's thread is behind: back-pressure on the
                // stream instead of an unbounded queue.
                if inputs.send(PeerInput::Received { peer, bytes }).is_err() {
                    return;
                }
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = inputs.send(PeerInput::Closed { peer });
}

/// One read takes a burst of lines; messages are at most 64 KiB.
const READ_BUFFER: usize = 64 * 1024;
/// Reads waiting for the socket server's thread, from all web apps together; with 64 KiB
/// reads this holds the thread's input to a few MiB.
const INPUT_QUEUE: usize = 64;
