//! [`NameClaims`]: the names this node's clients hold in Redis, so that a name is unique across
//! the cluster (issue 17). The [`super::ClusterNode`] owns it and hands it the link's state;
//! the worker carries out the commands.
//!
//! # Theory of operation
//!
//! Each name a local client wants is a claim, by its compared form, in one of three states:
//!
//! - `Asking`: the hub waits to welcome the client. The claim goes to Redis at once while the
//!   link is up, or at the next sync while it is connecting. Granted, it becomes `Held`;
//!   refused, it is dropped and the client is told the name is taken. Unanswered within
//!   [`CLAIM_PATIENCE`], or when the link is lost, the client gets the name on this node's
//!   word alone and the claim becomes `Local`.
//! - `Held`: Redis holds the name for this node, for a ttl that every heartbeat renews. A node
//!   that dies stops renewing, so its names expire and may be claimed elsewhere.
//! - `Local`: the client has the name, but Redis does not know yet. Made while the link is
//!   down; claimed again at every sync until Redis answers. Refused then (another node took
//!   the name meanwhile), it is dropped with one notice; the client keeps its name.
//!
//! Every claim carries a fresh token, and an answer counts only for the claim of the
//! same token: a late answer for a client that left, to a name claimed again since, is no
//! answer for the new claim. A client leaving lets go of its name in Redis (compare-and-delete:
//! only while this node holds it), right behind any claim still on its way, since the worker
//! carries out commands in order.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use super::{ClusterCommand, Delivery, CLAIM_PATIENCE};
use crate::chat::ClientId;

/// The claims of this node's clients.
#[derive(Debug, Default)]
pub struct NameClaims {
    /// By the name's compared form; ordered, so a resync claims in a stable order.
    claims: BTreeMap<String, Claim>,
    /// The last token given to a claim.
    token: u64,
    /// `Asking` claims by deadline, earliest first (deadlines only grow, since `now` does);
    /// an entry whose claim is no longer asking under that token is stale, and dropped once
    /// in front.
    deadlines: VecDeque<(Instant, String, u64)>,
}

/// What [`NameClaims`] needs to know of the link to Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Commands go out now, under this attempt.
    Up { attempt: u64 },
    /// A connect is under way: claims wait for its sync.
    Connecting,
    /// Nothing reaches Redis until the next connect.
    Down,
}

/// Where the claims put what they decide.
pub struct ClaimOutput<'a> {
    pub commands: &'a mut VecDeque<ClusterCommand>,
    pub deliveries: &'a mut VecDeque<Delivery>,
    pub notices: &'a mut VecDeque<String>,
}

#[derive(Debug)]
struct Claim {
    token: u64,
    state: ClaimState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClaimState {
    Asking { client: ClientId },
    Held,
    Local,
}

impl NameClaims {
    /// `client` wants the name `key`, which the hub holds for it meanwhile.
    pub fn claim(
        &mut self,
        now: Instant,
        client: ClientId,
        key: String,
        link: LinkState,
        ttl: Duration,
        out: &mut ClaimOutput<'_>,
    ) {
        self.token += 1;
        let token = self.token;
        let state = match link {
            LinkState::Down => {
                out.deliveries.push_back(Delivery::Claimed {
                    client,
                    granted: true,
                });
                ClaimState::Local
            }
            LinkState::Up { attempt } => {
                out.commands
                    .push_back(claim_command(attempt, token, &key, ttl));
                ClaimState::Asking { client }
            }
            LinkState::Connecting => ClaimState::Asking { client },
        };
        if let ClaimState::Asking { .. } = state {
            self.deadlines
                .push_back((now + CLAIM_PATIENCE, key.clone(), token));
        }
        self.claims.insert(key, Claim { token, state });
    }

    /// `client` left while its claim of `key` was unanswered.
    pub fn abandon(&mut self, client: ClientId, key: &str, link: LinkState, out: &mut ClaimOutput) {
        let asking = ClaimState::Asking { client };
        if self.claims.get(key).is_some_and(|c| c.state == asking) {
            self.claims.remove(key);
            release(key, link, out);
        }
        self.drop_stale_deadlines();
    }

    /// The local client holding `key` left.
    pub fn release(&mut self, key: &str, link: LinkState, out: &mut ClaimOutput) {
        let holding = |c: &Claim| matches!(c.state, ClaimState::Held | ClaimState::Local);
        if self.claims.get(key).is_some_and(holding) {
            self.claims.remove(key);
            release(key, link, out);
        }
    }

    /// Redis answered the claim `token` of `key`.
    pub fn answered(&mut self, token: u64, key: &str, granted: bool, out: &mut ClaimOutput) {
        let Some(claim) = self.claims.get_mut(key) else {
            return;
        };
        if claim.token != token {
            return;
        }
        match (claim.state, granted) {
            (ClaimState::Asking { client }, _) => {
                out.deliveries
                    .push_back(Delivery::Claimed { client, granted });
                if granted {
                    claim.state = ClaimState::Held;
                } else {
                    self.claims.remove(key);
                }
            }
            (ClaimState::Local, true) => claim.state = ClaimState::Held,
            (ClaimState::Local, false) => {
                self.claims.remove(key);
                out.notices.push_back(format!(
                    "cluster: the name {key:?} was given here while Redis was out of reach, but \
                     another node holds it too; both clients keep it until they leave"
                ));
            }
            (ClaimState::Held, _) => {}
        }
        self.drop_stale_deadlines();
    }

    /// Clients whose claims waited [`CLAIM_PATIENCE`] by `now` get their names on this node's
    /// word alone.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut ClaimOutput) {
        while let Some((deadline, key, token)) = self.deadlines.front() {
            if *deadline > now {
                break;
            }
            if let Some(claim) = self.claims.get_mut(key.as_str()) {
                if let (true, ClaimState::Asking { client }) = (claim.token == *token, claim.state)
                {
                    claim.state = ClaimState::Local;
                    out.deliveries.push_back(Delivery::Claimed {
                        client,
                        granted: true,
                    });
                }
            }
            self.deadlines.pop_front();
        }
        self.drop_stale_deadlines();
    }

    /// The earliest deadline of an unanswered claim (rarely one answered out of order since:
    /// handling it then does nothing). Changes after every input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.front().map(|(deadline, _, _)| *deadline)
    }

    /// The link is lost: unanswered claims are granted on this node's word, to be claimed
    /// again at the next sync.
    pub fn lost(&mut self, out: &mut ClaimOutput) {
        for claim in self.claims.values_mut() {
            if let ClaimState::Asking { client } = claim.state {
                claim.state = ClaimState::Local;
                out.deliveries.push_back(Delivery::Claimed {
                    client,
                    granted: true,
                });
            }
        }
        self.deadlines.clear();
    }

    /// The link is up under `attempt`: every claim Redis has not answered goes out. Tokens
    /// stay: an answer of an older attempt never reaches here.
    pub fn synced(&mut self, attempt: u64, ttl: Duration, out: &mut ClaimOutput) {
        for (key, claim) in &self.claims {
            if claim.state != ClaimState::Held {
                out.commands
                    .push_back(claim_command(attempt, claim.token, key, ttl));
            }
        }
    }

    /// The renewal of every name Redis holds for this node, if there is any.
    pub fn refresh(&self, attempt: u64, ttl: Duration) -> Option<ClusterCommand> {
        let keys: Vec<String> = self
            .claims
            .iter()
            .filter(|(_, claim)| claim.state == ClaimState::Held)
            .map(|(key, _)| key.clone())
            .collect();
        (!keys.is_empty()).then_some(ClusterCommand::Refresh { attempt, keys, ttl })
    }

    /// Drops the deadlines in front whose claims were answered or given up, so the next
    /// deadline is a live one.
    fn drop_stale_deadlines(&mut self) {
        while let Some((_, key, token)) = self.deadlines.front() {
            let asking = self.claims.get(key.as_str()).is_some_and(|claim| {
                claim.token == *token && matches!(claim.state, ClaimState::Asking { .. })
            });
            if asking {
                break;
            }
            self.deadlines.pop_front();
        }
    }
}

/// A node's output queues as a [`ClaimOutput`]: its own fields, borrowed apart from its
/// claims (a method could not borrow them beside `self.claims`).
macro_rules! claim_output {
    ($node:expr) => {
        &mut $crate::chat::cluster::claims::ClaimOutput {
            commands: &mut $node.commands,
            deliveries: &mut $node.deliveries,
            notices: &mut $node.notices,
        }
    };
}
pub(super) use claim_output;

fn claim_command(attempt: u64, token: u64, key: &str, ttl: Duration) -> ClusterCommand {
    ClusterCommand::Claim {
        attempt,
        token,
        key: key.to_owned(),
        ttl,
    }
}

/// Lets go of `key` in Redis while the link is up; otherwise it expires after its ttl.
fn release(key: &str, link: LinkState, out: &mut ClaimOutput) {
    if let LinkState::Up { attempt } = link {
        out.commands.push_back(ClusterCommand::Release {
            attempt,
            key: key.to_owned(),
        });
    }
}
