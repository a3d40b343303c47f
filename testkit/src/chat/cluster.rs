//! Suite: chat rooms shared across nodes through Redis (issue 17). Each test starts its own
//! `redis-server` on a free loopback port ([`Redis`]) and nodes of the binary under test on
//! it, with a short `--cluster-ttl` so a dead node is noticed within a second or two.

use std::collections::HashMap;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::harness::{message, ChatServer, Peer};
use super::redis::Redis;

/// A message sent on one node reaches the clients of the two others once each, and each
/// sender's messages arrive in the order sent.
pub fn cluster_delivers_across_nodes_once_in_order(bin: &str) {
    let Some(redis) = Redis::start("cluster_delivers_across_nodes_once_in_order") else {
        return;
    };
    let nodes = start_nodes(bin, &redis, "cluster_once", 3);
    let mut ann = nodes[0].join("ann");
    let mut bob = nodes[1].join("bob");
    let mut cid = nodes[2].join("cid");
    meet(&mut [(&mut ann, "ann"), (&mut bob, "bob"), (&mut cid, "cid")]);
    for i in 0..COUNT {
        ann.say("ann", &format!("a{i}"));
        bob.say("bob", &format!("b{i}"));
    }
    let from_ann: Vec<String> = (0..COUNT).map(|i| format!("a{i}")).collect();
    let from_bob: Vec<String> = (0..COUNT).map(|i| format!("b{i}")).collect();
    let heard = messages(&mut cid, 2 * COUNT);
    assert_eq!(heard["ann"], from_ann, "ann's messages on the third node");
    assert_eq!(heard["bob"], from_bob, "bob's messages on the third node");
    assert_eq!(messages(&mut ann, COUNT)["bob"], from_bob);
    assert_eq!(messages(&mut bob, COUNT)["ann"], from_ann);
    for peer in [&mut ann, &mut bob, &mut cid] {
        assert_quiet(peer);
    }
}

/// A newcomer gets the same history from every node, a node started after the messages were
/// said included (it reads them from Redis).
pub fn cluster_history_is_the_same_from_every_node(bin: &str) {
    let Some(redis) = Redis::start("cluster_history_is_the_same_from_every_node") else {
        return;
    };
    let mut nodes = start_nodes(bin, &redis, "cluster_history", 2);
    let mut ann = nodes[0].join("ann");
    let mut bob = nodes[1].join("bob");
    meet(&mut [(&mut ann, "ann"), (&mut bob, "bob")]);
    for i in 0..5 {
        ann.say("ann", &format!("from a {i}"));
        bob.say("bob", &format!("from b {i}"));
    }
    messages(&mut ann, 5);
    messages(&mut bob, 5);
    nodes.extend(start_nodes(bin, &redis, "cluster_history_late", 1));
    // A node's own messages take their place in its history when Redis echoes them: the
    // histories agree once every echo is back.
    let deadline = Instant::now() + Duration::from_secs(5);
    let histories = loop {
        let histories: Vec<Vec<Value>> = nodes
            .iter()
            .map(|node| {
                let mut newcomer = node.connect();
                std::iter::from_fn(|| newcomer.line_within(HISTORY_WAIT)).collect()
            })
            .collect();
        let agree = histories.iter().all(|history| *history == histories[0]);
        if (agree && histories[0].len() == 10) || Instant::now() > deadline {
            break histories;
        }
    };
    assert_eq!(histories[0].len(), 10, "history: {:?}", histories[0]);
    assert!(histories[0]
        .iter()
        .all(|line| line["history"] == json!(true)));
    assert_eq!(histories[0], histories[1], "the second node's history");
    assert_eq!(histories[0], histories[2], "the late node's history");
}

/// A name held on one node is refused on another.
pub fn cluster_name_taken_on_one_node_is_refused_on_another(bin: &str) {
    let Some(redis) = Redis::start("cluster_name_taken_on_one_node_is_refused_on_another") else {
        return;
    };
    let nodes = start_nodes(bin, &redis, "cluster_names", 2);
    let mut bob = nodes[1].join("bob");
    let mut ann = nodes[0].join("ann");
    meet(&mut [(&mut bob, "bob"), (&mut ann, "ann")]);
    let mut other = nodes[1].connect();
    other.send(&json!({"username": "ann"}));
    other.expect_error();
    other.send(&json!({"username": "Ann"}));
    other.expect_error();
    // Once ann leaves, the name is free everywhere.
    drop(ann);
    bob.expect(&json!({"type": "leave", "username": "ann"}));
    other.send(&json!({"username": "ann"}));
    other.expect(&json!({"type": "join", "username": "ann"}));
}

/// Two clients asking for the same name at the same moment on two nodes: in every round
/// exactly one is welcomed (the name is claimed in Redis before anyone is welcomed).
pub fn cluster_same_name_at_once_on_two_nodes_has_one_winner(bin: &str) {
    let Some(redis) = Redis::start("cluster_same_name_at_once_on_two_nodes_has_one_winner") else {
        return;
    };
    let nodes = start_nodes(bin, &redis, "cluster_race", 2);
    for round in 0..RACE_ROUNDS {
        let name = format!("racer{round}");
        let mut racers = [nodes[0].connect(), nodes[1].connect()];
        let start = Barrier::new(racers.len());
        let welcomed: Vec<bool> = thread::scope(|scope| {
            let runs: Vec<_> = racers
                .iter_mut()
                .map(|racer| {
                    let (start, name) = (&start, &name);
                    scope.spawn(move || {
                        start.wait();
                        racer.send(&json!({"username": name}));
                        first_answer(racer, name)
                    })
                })
                .collect();
            runs.into_iter()
                .map(|run| run.join().expect("a racer"))
                .collect()
        });
        let winners = welcomed.iter().filter(|&&won| won).count();
        assert_eq!(winners, 1, "round {round}: welcomed {welcomed:?}");
    }
}

/// kill -9 of the node holding a name: it stops renewing the name's claim, which expires after
/// the ttl; then the name can be taken on another node.
pub fn cluster_name_of_a_killed_node_is_free_after_the_ttl(bin: &str) {
    let Some(redis) = Redis::start("cluster_name_of_a_killed_node_is_free_after_the_ttl") else {
        return;
    };
    let mut nodes = start_nodes(bin, &redis, "cluster_expiry", 2);
    let mut bob = nodes[1].join("bob");
    let mut ann = nodes[0].join("ann");
    meet(&mut [(&mut bob, "bob"), (&mut ann, "ann")]);
    let killed_at = Instant::now();
    drop(nodes.remove(0));
    let deadline = killed_at + TTL * 4;
    loop {
        let mut newcomer = nodes[0].connect();
        newcomer.send(&json!({"username": "ann"}));
        let welcomed = first_answer(&mut newcomer, "ann");
        let waited = killed_at.elapsed();
        if welcomed {
            assert!(waited >= TTL / 2, "ann was free after only {waited:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ann is still held {waited:?} later"
        );
        thread::sleep(RETRY);
    }
}

/// While Redis is down a node keeps giving names, unique among its own clients, and claims
/// them in Redis once it is back: then the other node refuses the name.
pub fn cluster_names_are_given_locally_while_redis_is_down(bin: &str) {
    let Some(mut redis) = Redis::start("cluster_names_are_given_locally_while_redis_is_down")
    else {
        return;
    };
    let nodes = start_nodes(bin, &redis, "cluster_outage_names", 2);
    let mut ann = nodes[0].join("ann");
    let mut bob = nodes[1].join("bob");
    meet(&mut [(&mut ann, "ann"), (&mut bob, "bob")]);
    redis.stop();
    let mut cid = nodes[0].connect();
    cid.send(&json!({"username": "cid"}));
    assert!(
        first_answer(&mut cid, "cid"),
        "cid is welcomed without Redis"
    );
    let mut rival = nodes[0].connect();
    rival.send(&json!({"username": "CID"}));
    assert!(
        !first_answer(&mut rival, "CID"),
        "a name stays unique on its node"
    );
    redis.start_again();
    let deadline = Instant::now() + READ_TIMEOUT_BACK;
    loop {
        let mut elsewhere = nodes[1].connect();
        elsewhere.send(&json!({"username": "cid"}));
        if !first_answer(&mut elsewhere, "cid") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "cid was given on the other node too"
        );
        // Welcomed before the nodes heard of each other again: let go, ask again.
        drop(elsewhere);
        thread::sleep(RETRY);
    }
}

/// Reads `peer`'s lines until the answer to its claim of `name`: true for its join, false for
/// an error.
fn first_answer(peer: &mut Peer, name: &str) -> bool {
    loop {
        let line = peer.line();
        if line["type"] == "error" {
            return false;
        }
        if line == json!({"type": "join", "username": name}) {
            return true;
        }
    }
}

/// kill -9 of a node: the others announce its clients' leaves once, within about a ttl, and
/// deliver nothing twice.
pub fn cluster_killed_node_clients_leave_elsewhere_once(bin: &str) {
    let Some(redis) = Redis::start("cluster_killed_node_clients_leave_elsewhere_once") else {
        return;
    };
    let mut nodes = start_nodes(bin, &redis, "cluster_kill", 3);
    // bob, on the node to be killed, joins last: both other nodes then know his name.
    let mut ann = nodes[0].join("ann");
    let mut cid = nodes[2].join("cid");
    let mut bob = nodes[1].join("bob");
    meet(&mut [(&mut ann, "ann"), (&mut cid, "cid"), (&mut bob, "bob")]);
    bob.say("bob", "last words");
    ann.expect(&message("bob", "last words"));
    cid.expect(&message("bob", "last words"));
    let killed_at = Instant::now();
    drop(nodes.remove(1));
    for peer in [&mut ann, &mut cid] {
        peer.expect(&json!({"type": "leave", "username": "bob"}));
        assert!(
            killed_at.elapsed() < TTL * 3,
            "the leave took {:?}",
            killed_at.elapsed()
        );
    }
    ann.say("ann", "still here");
    cid.expect(&message("ann", "still here"));
    for peer in [&mut ann, &mut cid] {
        assert_quiet(peer);
    }
}

/// Redis restarted (killed, nothing saved) while a node keeps accepting messages: delivery
/// resumes and every message, those accepted during the outage too, arrives once, in order.
pub fn cluster_redis_restart_loses_and_repeats_nothing(bin: &str) {
    let Some(mut redis) = Redis::start("cluster_redis_restart_loses_and_repeats_nothing") else {
        return;
    };
    let nodes = start_nodes(bin, &redis, "cluster_restart", 2);
    let mut ann = nodes[0].join("ann");
    let mut bob = nodes[1].join("bob");
    meet(&mut [(&mut ann, "ann"), (&mut bob, "bob")]);
    let said: Vec<String> = (0..30).map(|i| format!("m{i}")).collect();
    for text in &said[..10] {
        ann.say("ann", text);
    }
    assert_eq!(messages(&mut bob, 10)["ann"], said[..10]);
    redis.restart_after(Duration::from_millis(300));
    for text in &said[10..20] {
        ann.say("ann", text);
    }
    std::thread::sleep(Duration::from_millis(500));
    for text in &said[20..] {
        ann.say("ann", text);
    }
    let heard = messages(&mut bob, 20);
    assert_eq!(heard["ann"], said[10..], "after the restart");
    assert_quiet(&mut bob);
}

/// Starts `count` nodes of `bin` on `redis`.
fn start_nodes(bin: &str, redis: &Redis, label: &str, count: usize) -> Vec<ChatServer> {
    let url = redis.url();
    let ttl = format!("{}ms", TTL.as_millis());
    let flags = ["--cluster", url.as_str(), "--cluster-ttl", ttl.as_str()];
    (0..count)
        .map(|i| ChatServer::start(bin, &format!("{label}_{i}"), &flags))
        .collect()
}

/// `peers` joined in this order: waits until each heard every later one join, wherever it
/// joined. A room tells a newcomer of nobody who was there before it, so only the later joins
/// can be waited for; once each is heard, the nodes of both clients are subscribed, and the
/// earlier client's node knows the later client's name.
fn meet(peers: &mut [(&mut Peer, &str)]) {
    let names: Vec<&str> = peers.iter().map(|(_, name)| *name).collect();
    for (index, (peer, _)) in peers.iter_mut().enumerate() {
        let later: Vec<Value> = names[index + 1..]
            .iter()
            .map(|name| json!({"type": "join", "username": name}))
            .collect();
        peer.expect_all(&later);
    }
}

/// Reads until `count` messages arrived (joins and leaves skipped): their texts by sender.
fn messages(peer: &mut Peer, count: usize) -> HashMap<String, Vec<String>> {
    let mut heard: HashMap<String, Vec<String>> = HashMap::new();
    let mut got = 0;
    while got < count {
        let line = peer.line();
        let (Some(name), Some(text)) = (line["username"].as_str(), line["message"].as_str()) else {
            continue;
        };
        assert!(line.get("history").is_none(), "a live message: {line}");
        heard
            .entry(name.to_owned())
            .or_default()
            .push(text.to_owned());
        got += 1;
    }
    heard
}

/// Nothing more arrives for a while: no message came twice.
fn assert_quiet(peer: &mut Peer) {
    while let Some(line) = peer.line_within(QUIET) {
        assert!(line.get("message").is_none(), "a message too many: {line}");
    }
}

/// Rounds of two clients racing for one name.
const RACE_ROUNDS: usize = 20;
/// How long nodes may take to be back in touch after Redis restarts (their reconnect backoff
/// is at most 5 s).
const READ_TIMEOUT_BACK: Duration = Duration::from_secs(10);
/// How long a client waits before asking again for a name that is still held.
const RETRY: Duration = Duration::from_millis(100);
/// Messages per sender in the delivery test.
const COUNT: usize = 20;
/// The nodes' `--cluster-ttl`: a killed node is noticed within about this.
const TTL: Duration = Duration::from_millis(1000);
/// How long a client hears nothing before the test takes it that nothing more comes.
const QUIET: Duration = Duration::from_millis(500);
/// How long a newcomer waits for more history lines: they come at once, in one write.
const HISTORY_WAIT: Duration = Duration::from_millis(200);
