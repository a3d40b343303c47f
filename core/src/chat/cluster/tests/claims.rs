//! Names claimed in Redis (issue 17): what the node asks, what it hands the hub on each answer,
//! on a timeout and while Redis is out of reach, and what it renews and lets go of.

use super::*;
use crate::chat::ClientId;

const ANN: ClientId = ClientId(7);
const BOB: ClientId = ClientId(8);

fn claim(node: &mut ClusterNode, now: Instant, client: ClientId, key: &str) {
    let key = key.to_owned();
    node.claim(now, NameClaim::Claim { client, key });
}

/// The claims among `commands`, as (token, key).
fn claimed(commands: &[ClusterCommand]) -> Vec<(u64, String)> {
    commands
        .iter()
        .filter_map(|command| match command {
            ClusterCommand::Claim { token, key, .. } => Some((*token, key.clone())),
            _ => None,
        })
        .collect()
}

fn released(commands: &[ClusterCommand]) -> Vec<String> {
    commands
        .iter()
        .filter_map(|command| match command {
            ClusterCommand::Release { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect()
}

fn refreshed(commands: &[ClusterCommand]) -> Vec<Vec<String>> {
    commands
        .iter()
        .filter_map(|command| match command {
            ClusterCommand::Refresh { keys, .. } => Some(keys.clone()),
            _ => None,
        })
        .collect()
}

fn answer(node: &mut ClusterNode, now: Instant, attempt: u64, token: u64, granted: bool) {
    let key = "ann".to_owned();
    let report = ClusterReport::Claimed {
        attempt,
        token,
        key,
        granted,
    };
    node.handle_report(now, report);
}

fn granted(client: ClientId, granted: bool) -> Vec<Delivery> {
    vec![Delivery::Claimed { client, granted }]
}

fn notices(node: &mut ClusterNode) -> Vec<String> {
    std::iter::from_fn(|| node.poll_notice()).collect()
}

/// Loses the link of `node`, then reconnects it: returns the commands of the sync.
fn reconnect(node: &mut ClusterNode, now: Instant, attempt: u64) -> (u64, Vec<ClusterCommand>) {
    let error = "gone".to_owned();
    node.handle_report(now, ClusterReport::Lost { attempt, error });
    let retry = node.poll_timeout().expect("a retry");
    node.handle_timeout(retry);
    let attempt = attempt_of(&commands(node));
    let history = vec![];
    node.handle_report(retry, ClusterReport::Synced { attempt, history });
    (attempt, commands(node))
}

#[test]
fn a_granted_claim_welcomes_is_renewed_every_beat_and_let_go_on_leave() {
    let now = crate::testing::epoch();
    let mut node = synced(now);
    claim(&mut node, now, ANN, "ann");
    let sent = commands(&mut node);
    assert_eq!(
        sent,
        [ClusterCommand::Claim {
            attempt: 1,
            token: 1,
            key: "ann".into(),
            ttl: DEFAULT_TTL
        }]
    );
    assert_eq!(deliveries(&mut node), []);
    answer(&mut node, now, 1, 1, true);
    assert_eq!(deliveries(&mut node), granted(ANN, true));
    node.publish(now, RoomEvent::Joined("Ann".into()));
    commands(&mut node);
    let beat = now + DEFAULT_TTL / 3;
    assert_eq!(node.poll_timeout(), Some(beat));
    node.handle_timeout(beat);
    assert_eq!(refreshed(&commands(&mut node)), [vec!["ann".to_owned()]]);
    node.publish(beat, RoomEvent::Left("Ann".into()));
    assert_eq!(released(&commands(&mut node)), ["ann"]);
    node.handle_timeout(beat + DEFAULT_TTL / 3);
    assert_eq!(refreshed(&commands(&mut node)), Vec::<Vec<String>>::new());
}

#[test]
fn a_name_held_elsewhere_is_refused_and_never_renewed() {
    let now = crate::testing::epoch();
    let mut node = synced(now);
    claim(&mut node, now, ANN, "ann");
    commands(&mut node);
    answer(&mut node, now, 1, 1, false);
    assert_eq!(deliveries(&mut node), granted(ANN, false));
    node.handle_timeout(now + DEFAULT_TTL / 3);
    assert_eq!(refreshed(&commands(&mut node)), Vec::<Vec<String>>::new());
}

#[test]
fn a_claim_given_up_is_let_go_and_its_late_answer_answers_nobody() {
    let now = crate::testing::epoch();
    let mut node = synced(now);
    claim(&mut node, now, ANN, "ann");
    node.claim(
        now,
        NameClaim::Abandon {
            client: ANN,
            key: "ann".into(),
        },
    );
    claim(&mut node, now, BOB, "ann");
    let sent = commands(&mut node);
    assert_eq!(claimed(&sent), [(1, "ann".into()), (2, "ann".into())]);
    assert_eq!(released(&sent), ["ann"]);
    answer(&mut node, now, 1, 1, true);
    assert_eq!(deliveries(&mut node), [], "not Bob's answer");
    answer(&mut node, now, 1, 2, false);
    assert_eq!(deliveries(&mut node), granted(BOB, false));
}

#[test]
fn an_unanswered_claim_is_granted_after_its_patience_and_made_later() {
    let now = crate::testing::epoch();
    let mut node = synced(now);
    claim(&mut node, now, ANN, "ann");
    commands(&mut node);
    let due = now + CLAIM_PATIENCE;
    assert_eq!(
        node.poll_timeout(),
        Some(now + DEFAULT_TTL / 3).min(Some(due))
    );
    node.handle_timeout(due);
    assert_eq!(deliveries(&mut node), granted(ANN, true));
    // Redis answers at last: the name is this node's, and renewed from then on.
    answer(&mut node, due, 1, 1, true);
    assert_eq!(deliveries(&mut node), []);
    node.handle_timeout(now + DEFAULT_TTL);
    assert!(refreshed(&commands(&mut node)).contains(&vec!["ann".to_owned()]));
}

#[test]
fn while_redis_is_down_names_are_granted_here_and_claimed_when_it_is_back() {
    let now = crate::testing::epoch();
    let mut node = synced(now);
    // Lost while a claim waits: granted at once.
    claim(&mut node, now, ANN, "ann");
    commands(&mut node);
    let error = "gone".to_owned();
    node.handle_report(now, ClusterReport::Lost { attempt: 1, error });
    assert_eq!(deliveries(&mut node), granted(ANN, true));
    // Claimed while down: granted at once too.
    claim(&mut node, now, BOB, "bob");
    assert_eq!(deliveries(&mut node), granted(BOB, true));
    assert_eq!(commands(&mut node), []);
    notices(&mut node);
    let retry = node.poll_timeout().expect("a retry");
    node.handle_timeout(retry);
    let attempt = attempt_of(&commands(&mut node));
    let history = vec![];
    node.handle_report(retry, ClusterReport::Synced { attempt, history });
    let sent = commands(&mut node);
    assert_eq!(claimed(&sent), [(1, "ann".into()), (2, "bob".into())]);
    assert_eq!(deliveries(&mut node), []);
    // Another node took "ann" meanwhile: said once, nobody is told to leave.
    notices(&mut node);
    answer(&mut node, retry, attempt, 1, false);
    assert_eq!(deliveries(&mut node), []);
    let said = notices(&mut node);
    assert_eq!(said.len(), 1);
    assert!(said[0].contains("\"ann\""), "{said:?}");
    // It is not claimed again at the next sync, nor let go (it is not ours).
    let (_, sent) = reconnect(&mut node, retry, attempt);
    assert_eq!(claimed(&sent), [(2, "bob".into())]);
    node.publish(retry, RoomEvent::Left("ann".into()));
    assert_eq!(released(&commands(&mut node)), Vec::<String>::new());
}

#[test]
fn a_claim_made_while_connecting_goes_out_at_the_sync() {
    let now = crate::testing::epoch();
    let mut node = ClusterNode::new(ClusterConfig::new(ME), now);
    let attempt = attempt_of(&commands(&mut node));
    claim(&mut node, now, ANN, "ann");
    assert_eq!(commands(&mut node), []);
    let history = vec![];
    node.handle_report(now, ClusterReport::Synced { attempt, history });
    assert_eq!(claimed(&commands(&mut node)), [(1, "ann".into())]);
    answer(&mut node, now, attempt, 1, true);
    let answered: Vec<Delivery> = deliveries(&mut node)
        .into_iter()
        .filter(|delivery| matches!(delivery, Delivery::Claimed { .. }))
        .collect();
    assert_eq!(answered, granted(ANN, true));
}
