//! [`ClusterNode`]: one node's view of the cluster.
//!
//! # Theory of operation
//!
//! The link to Redis is `Down` (waiting to retry), `Connecting` (a [`ClusterCommand::Connect`]
//! is out) or `Up`. A connect subscribes first and reads the history stream second, so nothing
//! published in between is missed; what arrives on the channel before the history is held and
//! handled after it. At the first sync the history becomes the hub's history; at a later one,
//! the messages not yet seen are delivered live.
//!
//! Every room event the hub hands over gets the next sequence number of this node and waits in
//! the outbox until it is published; at most [`ClusterConfig::max_buffered`] wait or are in
//! flight, beyond which the oldest waiting one is dropped and counted. A lost connection puts
//! what was in flight back in front: the worker's publish is once per (node, seq), so a repeat
//! after a lost reply is not published twice.
//!
//! Other nodes' events are delivered once: an event whose sequence number is not above the
//! last one seen from its node is a copy (a repeat, or a resync of what was heard live), and
//! this node's own echoes are not delivered again: its messages only take their place in the
//! history, in Redis's order, the same on every node. Each node says it is alive with the names its clients
//! hold every third of the ttl; a node not heard for a ttl is dead and its names leave. While
//! this node's own link is down nobody is declared dead: silence is then ours.
//!
//! The names local clients want are claimed in Redis first ([`NameClaims`]); the heartbeat
//! renews those held, and a leave lets go of its name.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::claims::{claim_output, LinkState, NameClaims};
use super::wire::{self, ClusterEvent, EventKind};
use super::{
    ClusterCommand, ClusterConfig, ClusterReport, Delivery, NameClaim, NodeId, RoomEvent,
    MAX_BACKOFF, MIN_BACKOFF,
};
use crate::chat::accounts::account_key;
use crate::chat::SaidMessage;

/// One node's part in the cluster.
#[derive(Debug)]
pub struct ClusterNode {
    config: ClusterConfig,
    link: Link,
    /// The current connection attempt; reports of another are stale.
    attempt: u64,
    backoff: Duration,
    synced_once: bool,
    /// The last sequence number given to an event.
    seq: u64,
    /// The last sequence number handed to the worker.
    sent_seq: u64,
    /// Events not yet handed to the worker, oldest first.
    outbox: VecDeque<Outgoing>,
    /// Events handed to the worker, not yet reported published.
    in_flight: VecDeque<Outgoing>,
    /// The outage was said on stderr; it is said again only after the link was back.
    said_down: bool,
    /// Events dropped from a full outbox since the last report of it.
    dropped: u64,
    /// Names the local clients hold.
    names: BTreeSet<String>,
    /// The same names (and those still asked for) as claimed in Redis.
    claims: NameClaims,
    /// The last sequence number seen from each node ever heard of, alive or not, so a resync
    /// never delivers a dead node's messages twice. One entry per node start.
    seen: HashMap<NodeId, u64>,
    /// The last of this node's own messages heard back from Redis.
    echoed: u64,
    /// The nodes heard live, and the names their clients hold.
    peers: HashMap<NodeId, Peer>,
    next_beat: Option<Instant>,
    /// Payloads that arrived while connecting, before the history was read.
    held: VecDeque<Vec<u8>>,
    commands: VecDeque<ClusterCommand>,
    deliveries: VecDeque<Delivery>,
    notices: VecDeque<String>,
    scratch: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Down { retry_at: Instant },
    Connecting,
    Syncing,
    Up,
}

#[derive(Debug)]
struct Outgoing {
    seq: u64,
    payload: Vec<u8>,
    keep: bool,
}

/// What this node knows of another.
#[derive(Debug)]
struct Peer {
    names: BTreeSet<String>,
    heard: Instant,
}

impl ClusterNode {
    /// A node that connects at once.
    pub fn new(config: ClusterConfig, now: Instant) -> ClusterNode {
        let mut node = ClusterNode {
            config,
            link: Link::Down { retry_at: now },
            attempt: 0,
            backoff: MIN_BACKOFF,
            synced_once: false,
            seq: 0,
            sent_seq: 0,
            outbox: VecDeque::new(),
            in_flight: VecDeque::new(),
            dropped: 0,
            said_down: false,
            names: BTreeSet::new(),
            claims: NameClaims::default(),
            seen: HashMap::new(),
            echoed: 0,
            peers: HashMap::new(),
            next_beat: None,
            held: VecDeque::new(),
            commands: VecDeque::new(),
            deliveries: VecDeque::new(),
            notices: VecDeque::new(),
            scratch: Vec::new(),
        };
        node.handle_timeout(now);
        node
    }

    /// A room event of this node's hub, to publish (now, or once Redis is back).
    pub fn publish(&mut self, now: Instant, event: RoomEvent) {
        match &event {
            RoomEvent::Joined(name) => {
                self.names.insert(name.clone());
            }
            RoomEvent::Left(name) => {
                self.names.remove(name);
                let link = self.link_state();
                self.claims
                    .release(&account_key(name), link, claim_output!(self));
            }
            RoomEvent::Said(_) => {}
        }
        self.seq += 1;
        let keep = matches!(event, RoomEvent::Said(_));
        let event = ClusterEvent {
            node: self.config.node,
            seq: self.seq,
            kind: EventKind::Room(event),
        };
        let mut payload = Vec::new();
        wire::encode(&event, &mut payload);
        self.outbox.push_back(Outgoing {
            seq: self.seq,
            payload,
            keep,
        });
        while self.outbox.len() + self.in_flight.len() > self.config.max_buffered {
            if self.outbox.pop_front().is_none() {
                break;
            }
            self.dropped += 1;
        }
        self.flush(now);
    }

    /// A local client's name to claim, or a claim its client no longer waits for; the answer
    /// comes out as [`Delivery::Claimed`].
    pub fn claim(&mut self, now: Instant, claim: NameClaim) {
        let link = self.link_state();
        let ttl = self.config.ttl;
        match claim {
            NameClaim::Claim { client, key } => {
                self.claims
                    .claim(now, client, key, link, ttl, claim_output!(self))
            }
            NameClaim::Abandon { client, key } => {
                self.claims.abandon(client, &key, link, claim_output!(self))
            }
        }
    }

    /// What the worker reports.
    pub fn handle_report(&mut self, now: Instant, report: ClusterReport) {
        match report {
            ClusterReport::Synced { attempt, history } if attempt == self.attempt => {
                self.synced(now, &history)
            }
            ClusterReport::Received { attempt, payload } if attempt == self.attempt => {
                match self.link {
                    Link::Up => self.receive_payload(now, &payload),
                    // Handled after the history, which may hold what came before it.
                    Link::Connecting if self.held.len() < self.config.max_buffered => {
                        self.held.push_back(payload)
                    }
                    _ => {}
                }
            }
            ClusterReport::Published { attempt, seq } if attempt == self.attempt => {
                while self.in_flight.front().is_some_and(|sent| sent.seq <= seq) {
                    self.in_flight.pop_front();
                }
                self.flush(now);
            }
            ClusterReport::Claimed {
                attempt,
                token,
                key,
                granted,
            } if attempt == self.attempt => {
                self.claims
                    .answered(token, &key, granted, claim_output!(self))
            }
            ClusterReport::Lost { attempt, error } if attempt == self.attempt => {
                self.lost(now, &error)
            }
            // A report of an attempt given up already.
            _ => {}
        }
    }

    /// Retries the connection, says this node is alive, and lets nodes not heard for a ttl
    /// go. Call when [`ClusterNode::poll_timeout`] has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.claims.handle_timeout(now, claim_output!(self));
        match self.link {
            Link::Down { retry_at } if retry_at <= now => {
                self.attempt += 1;
                self.link = Link::Connecting;
                self.commands.push_back(ClusterCommand::Connect {
                    attempt: self.attempt,
                    history: self.config.history,
                });
            }
            Link::Up => {
                if self.next_beat.is_some_and(|beat| beat <= now) {
                    self.beat(now);
                }
                let ttl = self.config.ttl;
                let mut dead: Vec<NodeId> = self
                    .peers
                    .iter()
                    .filter(|(_, peer)| peer.heard + ttl <= now)
                    .map(|(&node, _)| node)
                    .collect();
                dead.sort_unstable();
                for node in dead {
                    if let Some(peer) = self.peers.remove(&node) {
                        for name in peer.names {
                            self.deliveries
                                .push_back(Delivery::Live(RoomEvent::Left(name)));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// The next deadline: a reconnect, a heartbeat, a peer's ttl, or a claim's patience.
    /// Changes after every input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let link = match self.link {
            Link::Down { retry_at } => Some(retry_at),
            Link::Up => {
                let ttl = self.config.ttl;
                let expiry = self.peers.values().map(|peer| peer.heard + ttl).min();
                [self.next_beat, expiry].into_iter().flatten().min()
            }
            Link::Connecting | Link::Syncing => None,
        };
        link.into_iter().chain(self.claims.poll_timeout()).min()
    }

    /// The next command for the worker. Drain after every input.
    pub fn poll_command(&mut self) -> Option<ClusterCommand> {
        self.commands.pop_front()
    }

    /// The next thing for the hub. Drain after every input.
    pub fn poll_delivery(&mut self) -> Option<Delivery> {
        self.deliveries.pop_front()
    }

    /// The next line to say on stderr (the link went down or came back). Drain after every
    /// input.
    pub fn poll_notice(&mut self) -> Option<String> {
        self.notices.pop_front()
    }

    /// Whether the link to Redis is up.
    pub fn is_up(&self) -> bool {
        self.link == Link::Up
    }

    /// Events waiting for Redis or in flight.
    pub fn buffered(&self) -> usize {
        self.outbox.len() + self.in_flight.len()
    }

    fn link_state(&self) -> LinkState {
        match self.link {
            Link::Up => LinkState::Up {
                attempt: self.attempt,
            },
            Link::Connecting | Link::Syncing => LinkState::Connecting,
            Link::Down { .. } => LinkState::Down,
        }
    }

    fn synced(&mut self, now: Instant, history: &[Vec<u8>]) {
        if self.link != Link::Connecting {
            return;
        }
        self.link = Link::Syncing;
        let mut kept = Vec::new();
        for payload in history {
            let Ok(event) = wire::decode(payload) else {
                continue;
            };
            let EventKind::Room(RoomEvent::Said(said)) = event.kind else {
                continue;
            };
            if event.node == self.config.node {
                self.echo(event.seq, said);
                continue;
            }
            let last = self.seen.entry(event.node).or_insert(0);
            if event.seq <= *last {
                continue;
            }
            *last = event.seq;
            if self.synced_once {
                self.deliveries
                    .push_back(Delivery::Live(RoomEvent::Said(said)));
            } else {
                kept.push(said);
            }
        }
        // Our own silence ends here: nobody counts as dead for what we did not hear meanwhile.
        for peer in self.peers.values_mut() {
            peer.heard = now;
        }
        let was_down = std::mem::take(&mut self.said_down);
        if !self.synced_once {
            self.synced_once = true;
            self.deliveries.push_back(Delivery::History(kept));
            if was_down {
                self.notices
                    .push_back("cluster: Redis reached; sharing the room".to_owned());
            }
        } else if self.dropped > 0 {
            self.notices.push_back(format!(
                "cluster: Redis is back; {} messages did not fit the outage buffer and were not \
                 shared",
                self.dropped
            ));
            self.dropped = 0;
        } else {
            self.notices
                .push_back("cluster: Redis is back; nothing was lost".to_owned());
        }
        self.link = Link::Up;
        self.backoff = MIN_BACKOFF;
        while let Some(payload) = self.held.pop_front() {
            self.receive_payload(now, &payload);
        }
        self.flush(now);
        let (attempt, ttl) = (self.attempt, self.config.ttl);
        self.claims.synced(attempt, ttl, claim_output!(self));
        self.beat(now);
    }

    fn receive_payload(&mut self, now: Instant, payload: &[u8]) {
        if let Ok(event) = wire::decode(payload) {
            self.receive(now, event);
        }
    }

    fn receive(&mut self, now: Instant, event: ClusterEvent) {
        if event.node == self.config.node {
            if let EventKind::Room(RoomEvent::Said(said)) = event.kind {
                self.echo(event.seq, said);
            }
            return;
        }
        let peer = self.peers.entry(event.node).or_insert(Peer {
            names: BTreeSet::new(),
            heard: now,
        });
        peer.heard = now;
        let last = self.seen.entry(event.node).or_insert(0);
        match event.kind {
            EventKind::Room(room) => {
                if event.seq <= *last {
                    return;
                }
                *last = event.seq;
                let fresh = match &room {
                    RoomEvent::Joined(name) => peer.names.insert(name.clone()),
                    RoomEvent::Left(name) => peer.names.remove(name),
                    RoomEvent::Said(_) => true,
                };
                if fresh {
                    self.deliveries.push_back(Delivery::Live(room));
                }
            }
            EventKind::Beat { names } => {
                // A beat older than an event already seen says nothing new about names.
                if event.seq < *last {
                    return;
                }
                *last = event.seq;
                let names: BTreeSet<String> = names.into_iter().collect();
                for gone in peer.names.difference(&names) {
                    self.deliveries
                        .push_back(Delivery::Live(RoomEvent::Left(gone.clone())));
                }
                for came in names.difference(&peer.names) {
                    self.deliveries
                        .push_back(Delivery::Live(RoomEvent::Joined(came.clone())));
                }
                peer.names = names;
            }
        }
    }

    /// This node's own message came back: once, into the history.
    fn echo(&mut self, seq: u64, said: SaidMessage) {
        if seq > self.echoed {
            self.echoed = seq;
            self.deliveries.push_back(Delivery::Echo(said));
        }
    }

    fn lost(&mut self, now: Instant, error: &str) {
        if matches!(self.link, Link::Down { .. }) {
            return;
        }
        if !self.said_down {
            self.said_down = true;
            self.notices.push_back(format!(
                "cluster: Redis unreachable ({error}); serving local clients, keeping up to {} \
                 events until it is back",
                self.config.max_buffered
            ));
        }
        while let Some(sent) = self.in_flight.pop_back() {
            self.outbox.push_front(sent);
        }
        self.link = Link::Down {
            retry_at: now + self.backoff,
        };
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.next_beat = None;
        self.held.clear();
        self.claims.lost(claim_output!(self));
    }

    /// Hands waiting events to the worker while the link is up.
    fn flush(&mut self, _now: Instant) {
        if self.link != Link::Up {
            return;
        }
        while let Some(event) = self.outbox.pop_front() {
            self.sent_seq = event.seq;
            self.commands.push_back(ClusterCommand::Publish {
                attempt: self.attempt,
                seq: event.seq,
                payload: event.payload.clone(),
                keep: event.keep,
            });
            self.in_flight.push_back(event);
        }
    }

    fn beat(&mut self, now: Instant) {
        let event = ClusterEvent {
            node: self.config.node,
            seq: self.sent_seq,
            kind: EventKind::Beat {
                names: self.names.iter().cloned().collect(),
            },
        };
        self.scratch.clear();
        wire::encode(&event, &mut self.scratch);
        self.commands.push_back(ClusterCommand::Beat {
            attempt: self.attempt,
            payload: self.scratch.clone(),
        });
        self.commands
            .extend(self.claims.refresh(self.attempt, self.config.ttl));
        self.next_beat = Some(now + self.config.ttl / 3);
    }
}
