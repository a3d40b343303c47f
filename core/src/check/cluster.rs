//! Invariants of the cluster's events as they come from Redis, checked on arbitrary bytes.

use std::time::Instant;

use crate::chat::cluster::{
    wire, ClusterCommand, ClusterConfig, ClusterNode, ClusterReport, NodeId,
};

/// Checks that a payload that decodes re-encodes to one that decodes the same, and that a node
/// fed it on the channel and in the history (twice each) delivers at most one copy of each
/// event and never panics.
pub fn check_cluster_payload(now: Instant, bytes: &[u8]) {
    if let Ok(event) = wire::decode(bytes) {
        let mut again = Vec::new();
        wire::encode(&event, &mut again);
        assert_eq!(wire::decode(&again), Ok(event), "re-encoded differently");
    }
    let mut node = ClusterNode::new(ClusterConfig::new(NodeId(1)), now);
    let Some(ClusterCommand::Connect { attempt, .. }) = node.poll_command() else {
        panic!("a new node connects first");
    };
    let payload = bytes.to_vec();
    node.handle_report(now, ClusterReport::Received { attempt, payload });
    let history = vec![bytes.to_vec(), bytes.to_vec()];
    node.handle_report(now, ClusterReport::Synced { attempt, history });
    for _ in 0..2 {
        let payload = bytes.to_vec();
        node.handle_report(now, ClusterReport::Received { attempt, payload });
    }
    // The history at the first sync, then at most one delivery per event, or a beat's names.
    let delivered = std::iter::from_fn(|| node.poll_delivery()).count();
    let names = wire::decode(bytes).map_or(0, |event| match event.kind {
        wire::EventKind::Beat { names } => names.len(),
        wire::EventKind::Room(_) => 1,
    });
    assert!(
        delivered <= 1 + names,
        "{delivered} deliveries of one payload"
    );
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::check_cluster_payload;

    proptest! {
        #[test]
        fn arbitrary_payloads_keep_the_invariants(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            check_cluster_payload(crate::testing::epoch(), &bytes);
        }
    }

    #[test]
    fn a_real_event_keeps_the_invariants() {
        let payload =
            br#"{"node":"0000000000000002","seq":1,"kind":"said","username":"a","message":"b"}"#;
        check_cluster_payload(crate::testing::epoch(), payload);
        let beat = br#"{"node":"0000000000000002","seq":1,"kind":"beat","names":["a","a","b"]}"#;
        check_cluster_payload(crate::testing::epoch(), beat);
    }
}
