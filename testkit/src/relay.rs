//! A UDP relay between the web app and the socket server, for the suites that need the network
//! to misbehave: it drops, duplicates and reorders datagrams both ways with seeded chances, and
//! can hold back every acknowledgement for a while.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// How often each fault happens to a datagram, in either direction.
#[derive(Clone, Copy)]
pub(crate) struct Faults {
    pub drop: f64,
    pub duplicate: f64,
    pub reorder: f64,
}

/// A UDP relay in the middle: the web app sends to [`Relay::address`], the relay forwards to
/// the socket server and the acknowledgements back, applying [`Faults`] both ways.
pub(crate) struct Relay {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
    counts: Arc<Mutex<[usize; 4]>>,
    /// While set, acknowledgements are dropped: the socket server stores, the web app never
    /// hears of it.
    acks_blocked: Arc<AtomicBool>,
}

impl Relay {
    pub(crate) fn start(target: SocketAddr, faults: Faults) -> Relay {
        let front = UdpSocket::bind("127.0.0.1:0").expect("bind relay front");
        let back = UdpSocket::bind("127.0.0.1:0").expect("bind relay back");
        back.connect(target).expect("connect relay back");
        for socket in [&front, &back] {
            socket
                .set_read_timeout(Some(Duration::from_millis(20)))
                .expect("timeout");
        }
        let address = front.local_addr().expect("relay address");
        let stop = Arc::new(AtomicBool::new(false));
        let web_app: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let counts: Arc<Mutex<[usize; 4]>> = Arc::default();
        let acks_blocked = Arc::new(AtomicBool::new(false));
        let forward = {
            let (front, back) = (
                front.try_clone().expect("clone"),
                back.try_clone().expect("clone"),
            );
            let (stop, web_app, counts) = (stop.clone(), web_app.clone(), counts.clone());
            thread::spawn(move || {
                let mut faulty = FaultyLink::new(0x5eed_0001, faults, counts);
                let mut buf = vec![0u8; 65_536];
                while !stop.load(Ordering::SeqCst) {
                    if let Ok((n, from)) = front.recv_from(&mut buf) {
                        *web_app.lock().expect("peer") = Some(from);
                        faulty.pass(&buf[..n], |bytes| {
                            let _ = back.send(bytes);
                        });
                    }
                }
            })
        };
        let backward = {
            let (stop, counts, blocked) = (stop.clone(), counts.clone(), acks_blocked.clone());
            thread::spawn(move || {
                let mut faulty = FaultyLink::new(0x5eed_0002, faults, counts);
                let mut buf = vec![0u8; 65_536];
                while !stop.load(Ordering::SeqCst) {
                    if let Ok(n) = back.recv(&mut buf) {
                        if blocked.load(Ordering::SeqCst) {
                            continue;
                        }
                        let Some(peer) = *web_app.lock().expect("peer") else {
                            continue;
                        };
                        faulty.pass(&buf[..n], |bytes| {
                            let _ = front.send_to(bytes, peer);
                        });
                    }
                }
            })
        };
        Relay {
            address,
            stop,
            threads: vec![forward, backward],
            counts,
            acks_blocked,
        }
    }

    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    pub(crate) fn summary(&self) -> String {
        let [passed, dropped, duplicated, reordered] = *self.counts.lock().expect("counts");
        format!("relay passed {passed}, dropped {dropped}, duplicated {duplicated}, reordered {reordered}")
    }

    /// Drops acknowledgements from now on (`true`) or passes them again.
    pub(crate) fn block_acks(&self, blocked: bool) {
        self.acks_blocked.store(blocked, Ordering::SeqCst);
    }

    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// One direction of the relay: decides each datagram's fate from a seeded xorshift generator.
struct FaultyLink {
    state: u64,
    faults: Faults,
    /// A datagram held back, sent after the next one: reordering.
    held: Option<Vec<u8>>,
    counts: Arc<Mutex<[usize; 4]>>,
}

impl FaultyLink {
    fn new(seed: u64, faults: Faults, counts: Arc<Mutex<[usize; 4]>>) -> FaultyLink {
        FaultyLink {
            state: seed,
            faults,
            held: None,
            counts,
        }
    }

    fn chance(&mut self) -> f64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pass(&mut self, bytes: &[u8], mut send: impl FnMut(&[u8])) {
        let mut counts = self.counts.lock().expect("counts").to_owned();
        if self.chance() < self.faults.drop {
            counts[1] += 1;
        } else if self.held.is_none() && self.chance() < self.faults.reorder {
            counts[3] += 1;
            self.held = Some(bytes.to_vec());
        } else {
            counts[0] += 1;
            send(bytes);
            if self.chance() < self.faults.duplicate {
                counts[2] += 1;
                send(bytes);
            }
            if let Some(held) = self.held.take() {
                send(&held);
            }
        }
        *self.counts.lock().expect("counts") = counts;
    }
}
