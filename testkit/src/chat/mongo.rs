//! Suite: the chat's accounts and history in MongoDB (issue 14), run with the other MongoDB
//! tests (`mongo::`, ignored without a server; `.ci/run` starts one).

use std::thread;

use mongodb::bson::doc;
use serde_json::{json, Value};

use super::harness::{ChatServer, Peer};
use crate::mongo::{shared_server, Database};

const PASSWORD: &str = "correct horse battery";

fn answer(peer: &mut Peer) -> Value {
    for _ in 0..1000 {
        let line = peer.line();
        if line["type"] == "welcome" || line["type"] == "error" {
            return line;
        }
    }
    panic!("no answer to an account request");
}

fn register(peer: &mut Peer, name: &str) -> Value {
    peer.send(&json!({"type": "register", "username": name, "password": PASSWORD}));
    answer(peer)
}

/// Accounts land in `users` (hashed, under the compared name), messages in `chat`; both are
/// there for a restarted server.
pub fn chat_accounts_and_history_live_in_mongodb(bin: &str) {
    let database = Database::new(&shared_server(), "chat");
    let store = database.store_url();
    let flags = ["--store", store.as_str(), "--history", "5"];
    let server = ChatServer::start(bin, "mongo_chat", &flags);
    let mut ann = server.connect();
    assert_eq!(register(&mut ann, "Ann")["type"], "welcome");
    let mut bob = server.join("bob");
    ann.send(&json!({"message": "kept in mongodb"}));
    bob.expect(&json!({"username": "Ann", "message": "kept in mongodb"}));
    let users = database.collection("users");
    let account = users
        .find_one(doc! { "key": "ann" })
        .run()
        .expect("read users")
        .expect("ann's account");
    assert_eq!(account.get_str("name").ok(), Some("Ann"));
    let hash = account.get_str("hash").unwrap_or_default();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!format!("{account}").contains(PASSWORD));
    drop((ann, bob));

    let server = server.restart(bin, &flags, false);
    let mut newcomer = server.connect();
    newcomer.expect(&json!({"username": "Ann", "message": "kept in mongodb", "history": true}));
    newcomer.send(&json!({"type": "login", "username": "ANN", "password": PASSWORD}));
    assert_eq!(
        answer(&mut newcomer),
        json!({"type": "welcome", "username": "Ann"})
    );
}

/// Two servers sharing one database: the unique index lets one registration of a name win.
pub fn two_chat_servers_on_one_database_register_a_name_once(bin: &str) {
    let database = Database::new(&shared_server(), "chat_race");
    let store = database.store_url();
    let flags = ["--store", store.as_str()];
    let first = ChatServer::start(bin, "mongo_chat_race_1", &flags);
    let second = ChatServer::start(bin, "mongo_chat_race_2", &flags);
    let answers: Vec<Value> = thread::scope(|scope| {
        let racers: Vec<_> = [&first, &second]
            .into_iter()
            .map(|server| {
                scope.spawn(move || {
                    let mut peer = server.connect();
                    register(&mut peer, "racer")
                })
            })
            .collect();
        racers
            .into_iter()
            .map(|racer| racer.join().expect("a racer"))
            .collect()
    });
    let winners = answers.iter().filter(|a| a["type"] == "welcome").count();
    assert_eq!(winners, 1, "{answers:?}");
    let stored = database
        .collection("users")
        .count_documents(doc! { "key": "racer" })
        .run()
        .expect("count users");
    assert_eq!(stored, 1);
}
