//! Joining in a cluster (issue 17): a name is unique across the nodes, so a client that wants
//! one (as a guest, or by logging in or registering) is welcomed only once the cluster has
//! claimed the name in Redis.
//!
//! # Theory of operation
//!
//! Outside a cluster a client joins at once, as ever. In one, the join waits in
//! `pending_claims` and the name in `claiming`, where it counts as held: no second local
//! client can race for it, and the waiting client's further objects are refused until the
//! answer. The hub hands the shell a [`NameClaim::Claim`] ([`ChatHub::poll_name_claim`]); the
//! cluster answers with [`ChatHub::handle_claim`]: granted, the client joins as it would have
//! at once; refused, it is told the name is taken and may try another. A client that leaves
//! while waiting gives its claim up with a [`NameClaim::Abandon`], so a name granted too late
//! is let go again. When Redis cannot be asked, the cluster grants on the node's own word.

use std::time::Instant;

use super::{ChatEvent, ChatHub};
use crate::chat::cluster::NameClaim;
use crate::chat::{wire, ChatError, ClientId};

/// A join waiting for its name's claim.
#[derive(Debug)]
pub(super) struct PendingClaim {
    /// The name's compared form.
    key: String,
    join: Join,
}

/// How a client joins once its name is its own.
#[derive(Debug)]
pub(super) enum Join {
    /// A guest's first object, perhaps with a message.
    Guest {
        username: String,
        message: Option<String>,
    },
    /// A register or login that succeeded: welcomed into the account `key`, shown as `name`.
    Account { name: String },
}

impl ChatHub {
    /// The next name to claim in the cluster, or claim given up. Drain after every input.
    pub fn poll_name_claim(&mut self) -> Option<NameClaim> {
        self.name_claims.pop_front()
    }

    /// The cluster's answer to `client`'s claim: it joins, or is told the name is taken.
    /// Answers for clients no longer waiting are ignored.
    pub fn handle_claim(&mut self, now: Instant, client: ClientId, granted: bool) {
        let Some(pending) = self.pending_claims.remove(&client) else {
            return;
        };
        self.claiming.remove(&pending.key);
        if granted {
            self.join(now, client, pending.key, pending.join);
        } else {
            self.refuse(now, client, ChatError::UsernameTaken);
        }
        self.disconnect_overflowed(now);
    }

    /// `client` takes the name of key `key` once it is its own: at once outside a cluster,
    /// after the claim inside one.
    pub(super) fn join_when_claimed(
        &mut self,
        now: Instant,
        client: ClientId,
        key: String,
        join: Join,
    ) {
        if self.shared.is_none() {
            return self.join(now, client, key, join);
        }
        self.claiming.insert(key.clone(), client);
        self.name_claims.push_back(NameClaim::Claim {
            client,
            key: key.clone(),
        });
        self.pending_claims
            .insert(client, PendingClaim { key, join });
    }

    /// Whether `client` waits for its name's claim.
    pub(super) fn is_claiming(&self, client: ClientId) -> bool {
        self.pending_claims.contains_key(&client)
    }

    /// `client` leaves: a claim it waits for is given up.
    pub(super) fn abandon_claim(&mut self, client: ClientId) {
        if let Some(pending) = self.pending_claims.remove(&client) {
            self.claiming.remove(&pending.key);
            let key = pending.key;
            self.name_claims
                .push_back(NameClaim::Abandon { client, key });
        }
    }

    /// `client` holds the name of key `key` from now on, and hears the room.
    fn join(&mut self, now: Instant, client: ClientId, key: String, join: Join) {
        if !self.clients.contains_key(&client) {
            return;
        }
        self.names.insert(key.clone(), client);
        match join {
            Join::Guest { username, message } => {
                if let Some(state) = self.clients.get_mut(&client) {
                    state.username = Some(username.clone());
                }
                self.admit(now, client, &username);
                if let Some(message) = &message {
                    self.say(now, client, &username, message);
                }
                self.events
                    .push_back(ChatEvent::Joined { client, username });
            }
            Join::Account { name } => {
                if let Some(state) = self.clients.get_mut(&client) {
                    state.username = Some(name.clone());
                    state.account = Some(key);
                }
                self.line.clear();
                wire::encode_welcome(&name, &mut self.line);
                self.send_private(now, client);
                self.admit(now, client, &name);
                self.events.push_back(ChatEvent::Joined {
                    client,
                    username: name,
                });
            }
        }
    }
}
