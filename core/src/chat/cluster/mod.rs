//! The chat shared across nodes through Redis (issue 17), as a sans-io machine: [`ClusterNode`]
//! decides what a node publishes, what it delivers to its own clients, in which order, which
//! copies it drops, and what it does while Redis is out of reach. It never opens a connection:
//! the shell's worker carries out its [`ClusterCommand`]s and reports back with
//! [`ClusterReport`]s.
//!
//! - [`wire`]: the JSON form of a [`ClusterEvent`] on the channel and in the history stream.
//! - [`node`]: the machine itself.
//! - [`claims`]: the names this node's clients hold in Redis, so a name is unique across nodes.

pub mod claims;
pub mod node;
pub mod wire;

use std::fmt;
use std::time::Duration;

pub use node::ClusterNode;
pub use wire::{ClusterEvent, EventKind};

use super::{ClientId, SaidMessage};

/// What happened in a room that every node must hear of: the hub hands its own out
/// ([`crate::chat::ChatHub::poll_shared`]) and takes the other nodes' in
/// ([`crate::chat::ChatHub::deliver_remote`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomEvent {
    Said(SaidMessage),
    Joined(String),
    Left(String),
}

/// What the hub asks of the cluster for a name a local client wants (issue 17): the hub hands
/// these out ([`crate::chat::ChatHub::poll_name_claim`]) and hears the answer as
/// [`Delivery::Claimed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameClaim {
    /// `client` wants the name of compared form `key`: claim it in Redis.
    Claim { client: ClientId, key: String },
    /// `client` left before its claim was answered: let go of `key` if it was claimed.
    Abandon { client: ClientId, key: String },
}

/// A node's id: random per start (the shell draws it), so a restarted node is a new node and
/// nobody mistakes its fresh sequence numbers for old ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u64);

impl NodeId {
    /// Reads the 16 hex digits [`NodeId`]'s `Display` writes.
    pub fn parse(text: &str) -> Option<NodeId> {
        if text.len() != 16 {
            return None;
        }
        u64::from_str_radix(text, 16).ok().map(NodeId)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// How a node takes part in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterConfig {
    pub node: NodeId,
    /// A node not heard from for this long is dead: its clients are announced as gone. Each
    /// node says it is alive every third of it (`--cluster-ttl`).
    pub ttl: Duration,
    /// Messages kept in the shared history stream and read back at a resync (`--history`).
    pub history: usize,
    /// Events that may wait for Redis while it is out of reach; beyond, the oldest are dropped
    /// and counted.
    pub max_buffered: usize,
}

impl ClusterConfig {
    /// The defaults for `node`: a 10 s ttl, 20 messages of history, 10,000 buffered events.
    pub fn new(node: NodeId) -> ClusterConfig {
        ClusterConfig {
            node,
            ttl: DEFAULT_TTL,
            history: super::DEFAULT_HISTORY,
            max_buffered: MAX_BUFFERED,
        }
    }
}

/// What the machine asks the worker to do. Each carries the connection attempt it belongs to;
/// the worker reports with the same number, and reports of an older attempt are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterCommand {
    /// Drop any connection, open new ones, subscribe to the channel, then read the last
    /// `history` entries of the stream and report them ([`ClusterReport::Synced`]).
    Connect { attempt: u64, history: usize },
    /// Publish `payload` on the channel, once per (`node`, `seq`) even when repeated after a
    /// lost reply; `keep` also appends it to the history stream (capped at `history`).
    Publish {
        attempt: u64,
        seq: u64,
        payload: Vec<u8>,
        keep: bool,
    },
    /// Publish `payload` (a heartbeat) on the channel alone, with no dedup.
    Beat { attempt: u64, payload: Vec<u8> },
    /// Claim the name `key` for this node for `ttl`, unless another node holds it; a name this
    /// node holds already is granted again. Answered with [`ClusterReport::Claimed`].
    Claim {
        attempt: u64,
        token: u64,
        key: String,
        ttl: Duration,
    },
    /// Keep the names `keys` this node holds for another `ttl` (those another node took
    /// meanwhile stay theirs; those that expired are claimed again). No answer.
    Refresh {
        attempt: u64,
        keys: Vec<String>,
        ttl: Duration,
    },
    /// Let go of the name `key`, if this node holds it. No answer.
    Release { attempt: u64, key: String },
}

/// What the worker reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterReport {
    /// Subscribed; then the history stream held these payloads, oldest first.
    Synced { attempt: u64, history: Vec<Vec<u8>> },
    /// A payload arrived on the channel.
    Received { attempt: u64, payload: Vec<u8> },
    /// The publish of `seq` is done.
    Published { attempt: u64, seq: u64 },
    /// The claim `token` of the name `key` was `granted`, or another node holds the name.
    Claimed {
        attempt: u64,
        token: u64,
        key: String,
        granted: bool,
    },
    /// The connection failed or could not be made.
    Lost { attempt: u64, error: String },
}

/// What the machine hands the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Something that happened on another node, to tell the local clients now.
    Live(RoomEvent),
    /// The shared history at the first sync, oldest first: for newcomers, not told live.
    History(Vec<SaidMessage>),
    /// This node's own message, back from Redis: it takes its place in the history here, in
    /// the order Redis gave it, so every node keeps the same history.
    Echo(SaidMessage),
    /// The answer to `client`'s [`NameClaim::Claim`]: the name is its own, or held elsewhere.
    /// While Redis is out of reach the name is granted on this node's word alone.
    Claimed { client: ClientId, granted: bool },
}

/// The start-up line of a node in a cluster; `url` with any password hidden.
pub fn cluster_line(url: &str) -> String {
    format!("chat room shared with the other nodes through {url}")
}

/// How long a node may stay silent before it counts as dead.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);
/// How long a client waits for Redis to answer its name's claim before it gets the name on
/// this node's word alone (and the claim is made when Redis answers): longer than the worker's
/// command timeout, so a Redis that stopped answering is usually noticed as lost first.
pub const CLAIM_PATIENCE: Duration = Duration::from_secs(3);
/// Events kept for Redis during an outage: at 2,000 messages a second, five seconds; at the
/// size of a chat line, a few MiB at most.
pub const MAX_BUFFERED: usize = 10_000;
/// The first reconnect waits this long; each failure doubles it up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between reconnect attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests;
