//! Accounts, flood control and the history that survives (issue 14), with a stand-in for the
//! shell's hashing: a "hash" here is the password with a prefix, which is all the hub needs to
//! see carried out.

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::chat::accounts::{AccountOutcome, AccountWork, AccountsMode};
use crate::chat::flood::Rate;
use crate::chat::{Peer, SaidMessage};

const REMOTE: Peer = Peer {
    address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)),
    secure: false,
};

fn fake_hash(password: &str) -> String {
    format!("hash:{password}")
}

impl Room {
    /// Carries out every piece of account work the hub handed out, as a shell would (at once,
    /// whatever its due time), with `taken` the keys the store already holds.
    fn carry_out(&mut self, taken: &[&str]) -> Vec<AccountWork> {
        let mut done = Vec::new();
        while let Some(work) = self.hub.poll_account_work() {
            let outcome = match &work {
                AccountWork::Register { key, password, .. } => {
                    if taken.contains(&key.as_str()) {
                        AccountOutcome::Taken
                    } else {
                        AccountOutcome::Registered {
                            hash: fake_hash(password.expose()),
                        }
                    }
                }
                AccountWork::Verify { hash, password, .. } => {
                    AccountOutcome::Verified(hash.as_deref() == Some(&fake_hash(password.expose())))
                }
                AccountWork::ChangePassword { hash, old, new, .. } => {
                    if *hash == fake_hash(old.expose()) {
                        AccountOutcome::PasswordChanged {
                            hash: fake_hash(new.expose()),
                        }
                    } else {
                        AccountOutcome::Verified(false)
                    }
                }
            };
            self.hub.handle_account(self.now, work.client(), outcome);
            done.push(work);
        }
        self.pump();
        done
    }

    fn register(&mut self, client: ClientId, name: &str, password: &str) {
        let line = json!({"type": "register", "username": name, "password": password});
        self.send(client, &format!("{line}\n"));
    }

    fn login(&mut self, client: ClientId, name: &str, password: &str) {
        let line = json!({"type": "login", "username": name, "password": password});
        self.send(client, &format!("{line}\n"));
    }
}

fn welcome(name: &str) -> Value {
    json!({"type": "welcome", "username": name})
}

fn join(name: &str) -> Value {
    json!({"type": "join", "username": name})
}

#[test]
fn register_then_login_on_another_connection_then_speak() {
    let mut room = Room::new(config());
    let first = room.connect();
    room.register(first, "Ann", "correct horse");
    room.carry_out(&[]);
    assert_eq!(room.lines(first), [welcome("Ann"), join("Ann")]);
    room.send(first, "");
    room.hub.disconnect(room.now, first);
    room.pump();

    let listener = room.join("bob");
    let second = room.connect();
    room.login(second, "ann", "correct horse");
    room.carry_out(&[]);
    assert_eq!(room.lines(second), [welcome("Ann"), join("Ann")]);
    // A logged-in client may leave its name out.
    room.send(second, "{\"message\":\"hello\"}\n");
    let heard = room.lines(listener);
    assert_eq!(heard.last(), Some(&message("Ann", "hello")));
}

#[test]
fn a_wrong_password_and_an_unknown_name_get_the_same_answer() {
    let mut room = Room::new(config());
    let owner = room.connect();
    room.register(owner, "ann", "correct horse");
    room.carry_out(&[]);
    let guesser = room.connect();
    room.login(guesser, "ann", "wrong horse!");
    let work = room.carry_out(&[]);
    let wrong = room.lines(guesser);
    let stranger = room.connect();
    room.login(stranger, "nobody", "wrong horse!");
    let unknown_work = room.carry_out(&[]);
    let unknown = room.lines(stranger);
    assert_eq!(wrong, [error(ChatError::LoginFailed)]);
    assert_eq!(unknown, wrong);
    // Both were verified by the shell: an unknown name against no hash, which takes as long.
    assert!(matches!(
        work[..],
        [AccountWork::Verify { hash: Some(_), .. }]
    ));
    assert!(matches!(
        unknown_work[..],
        [AccountWork::Verify { hash: None, .. }]
    ));
}

#[test]
fn a_guest_cannot_take_a_registered_name_in_any_case_or_form() {
    let mut room = Room::new(config());
    let owner = room.connect();
    room.register(owner, "Ren\u{e9}", "correct horse");
    room.carry_out(&[]);
    for name in ["René", "RENE\u{301}", "rené"] {
        let guest = room.connect();
        room.send(guest, &format!("{}\n", json!({"username": name})));
        assert_eq!(
            room.lines(guest),
            [error(ChatError::NameRegistered)],
            "{name}"
        );
    }
    let other = room.connect();
    room.send(other, "{\"username\":\"bob\"}\n");
    assert_eq!(room.lines(other), [join("bob")]);
}

#[test]
fn concurrent_registrations_of_one_name_have_one_winner() {
    let mut room = Room::new(config());
    let clients: Vec<ClientId> = (0..8).map(|_| room.connect()).collect();
    for (index, &client) in clients.iter().enumerate() {
        let name = if index % 2 == 0 { "ann" } else { "ANN" };
        room.register(client, name, "correct horse");
    }
    let work = room.carry_out(&[]);
    assert_eq!(work.len(), 1);
    let welcomed = clients
        .iter()
        .filter(|&&client| {
            room.lines(client).first().map(|l| &l["type"]) == Some(&json!("welcome"))
        })
        .count();
    assert_eq!(welcomed, 1);
    // A name another server registered first in a shared store loses too.
    let late = room.connect();
    room.register(late, "zed", "correct horse");
    room.carry_out(&["zed"]);
    assert_eq!(room.lines(late), [error(ChatError::NameAlreadyRegistered)]);
}

#[test]
fn names_and_passwords_follow_the_rules() {
    let mut room = Room::new(config());
    let client = room.connect();
    room.register(client, "ann", "short");
    room.register(client, &"a".repeat(33), "correct horse");
    room.register(client, "a\u{7}", "correct horse");
    room.send(client, "{\"type\":\"login\",\"username\":\"ann\"}\n");
    room.send(client, "{\"type\":\"dance\"}\n");
    room.send(
        client,
        "{\"type\":\"password\",\"old\":\"a\",\"new\":\"bbbbbbbbb\"}\n",
    );
    assert!(room.carry_out(&[]).is_empty());
    assert_eq!(
        room.lines(client),
        [
            error(ChatError::PasswordLength),
            error(ChatError::AccountNameTooLong),
            error(ChatError::UsernameControlCharacter),
            error(ChatError::MissingField),
            error(ChatError::UnknownType),
            error(ChatError::NotLoggedIn),
        ]
    );
}

#[test]
fn required_accounts_accept_nothing_else_before_login_and_off_refuses_them() {
    let mut room = Room::new(ChatConfig {
        accounts: AccountsMode::Required,
        ..config()
    });
    let client = room.connect();
    room.send(client, "{\"username\":\"ann\",\"message\":\"hi\"}\n");
    assert_eq!(room.lines(client), [error(ChatError::LoginRequired)]);
    room.register(client, "ann", "correct horse");
    room.carry_out(&[]);
    room.send(client, "{\"message\":\"hi\"}\n");
    assert_eq!(room.lines(client), [welcome("ann"), join("ann")]);

    let mut off = Room::new(ChatConfig {
        accounts: AccountsMode::Off,
        ..config()
    });
    let client = off.connect();
    off.register(client, "ann", "correct horse");
    assert_eq!(off.lines(client), [error(ChatError::AccountsOff)]);
}

#[test]
fn passwords_cross_a_network_only_over_tls_unless_allowed() {
    let mut room = Room::new(config());
    let remote = room.hub.connect_from(room.now, REMOTE);
    room.register(remote, "ann", "correct horse");
    assert_eq!(room.lines(remote), [error(ChatError::InsecureLogin)]);
    let secure = room.hub.connect_from(
        room.now,
        Peer {
            secure: true,
            ..REMOTE
        },
    );
    room.register(secure, "ann", "correct horse");
    assert_eq!(room.carry_out(&[]).len(), 1);

    let mut allowed = Room::new(ChatConfig {
        allow_insecure_login: true,
        ..config()
    });
    let remote = allowed.hub.connect_from(allowed.now, REMOTE);
    allowed.register(remote, "ann", "correct horse");
    assert_eq!(allowed.carry_out(&[]).len(), 1);
}

#[test]
fn failed_logins_are_slowed_and_one_request_waits_at_a_time() {
    let mut room = Room::new(config());
    let owner = room.connect();
    room.register(owner, "ann", "correct horse");
    room.carry_out(&[]);
    let guesser = room.connect();
    room.login(guesser, "ann", "wrong one");
    room.login(guesser, "ann", "wrong two");
    assert_eq!(room.lines(guesser), [error(ChatError::RequestPending)]);
    room.carry_out(&[]);
    room.lines(guesser);
    room.login(guesser, "ann", "wrong three");
    let work = room.carry_out(&[]);
    match &work[..] {
        [work] => assert!(work.due(room.now) > room.now, "a failure slows the next"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_password_change_needs_the_old_one_and_the_new_one_logs_in() {
    let mut room = Room::new(config());
    let ann = room.connect();
    room.register(ann, "ann", "correct horse");
    room.carry_out(&[]);
    room.lines(ann);
    room.send(
        ann,
        "{\"type\":\"password\",\"old\":\"nope nope\",\"new\":\"battery staple\"}\n",
    );
    room.carry_out(&[]);
    assert_eq!(room.lines(ann), [error(ChatError::LoginFailed)]);
    room.advance(Duration::from_secs(5));
    room.send(
        ann,
        "{\"type\":\"password\",\"old\":\"correct horse\",\"new\":\"battery staple\"}\n",
    );
    room.carry_out(&[]);
    assert_eq!(room.lines(ann), [welcome("ann")]);
    room.hub.disconnect(room.now, ann);
    let again = room.connect();
    room.login(again, "ann", "battery staple");
    room.carry_out(&[]);
    assert_eq!(room.lines(again), [welcome("ann"), join("ann")]);
}

#[test]
fn a_flooding_client_is_refused_then_disconnected_and_others_are_not() {
    let mut room = Room::new(ChatConfig {
        flood: Rate::per_second(10, 5),
        ..config()
    });
    let flooder = room.join("flooder");
    let calm = room.join("calm");
    room.lines(flooder);
    for n in 0..11 {
        room.say(flooder, "flooder", &format!("m{n}"));
    }
    let told = room.lines(flooder);
    assert_eq!(told.last(), Some(&error(ChatError::TooFast)));
    // Every object counts, its join too: nine messages make the burst of ten.
    let heard: Vec<Value> = room.lines(calm);
    assert_eq!(heard.len(), 9, "{heard:?}");
    room.say(calm, "calm", "still here");
    assert_eq!(
        room.lines(flooder).last(),
        Some(&message("calm", "still here"))
    );
    for n in 0..20 {
        room.say(flooder, "flooder", &format!("more{n}"));
    }
    assert_eq!(room.closed.get(&flooder), Some(&CloseReason::Flooding));
    // After a second, a calm client has tokens again.
    room.advance(Duration::from_secs(1));
    room.say(calm, "calm", "again");
    assert!(!room.closed.contains_key(&calm));
}

#[test]
fn messages_carry_the_server_time_and_are_handed_out_to_be_stored() {
    let mut room = Room::new(ChatConfig {
        history: 2,
        ..config()
    });
    let utc = time::macros::datetime!(2026-12-05 17:20:00.25 UTC);
    room.hub.set_clock(room.now, utc);
    let ann = room.join("ann");
    let bob = room.join("bob");
    room.advance(Duration::from_secs(61));
    room.say(ann, "ann", "hi");
    let line = json!({"username": "ann", "message": "hi", "time": "2026-12-05T17:21:01Z"});
    assert_eq!(room.lines(bob).last(), Some(&line));
    assert_eq!(
        room.hub.poll_said_message(),
        Some(SaidMessage {
            username: "ann".into(),
            message: "hi".into(),
            time: Some("2026-12-05T17:21:01Z".into()),
        })
    );
    assert_eq!(room.hub.poll_said_message(), None);
}

#[test]
fn a_restored_history_greets_newcomers() {
    let mut room = Room::new(ChatConfig {
        history: 2,
        ..config()
    });
    let kept = (0..3).map(|n| SaidMessage {
        username: "ann".into(),
        message: format!("m{n}"),
        time: Some(format!("2026-12-05T17:2{n}:00Z")),
    });
    room.hub.restore_history(kept);
    let newcomer = room.connect();
    assert_eq!(
        room.lines(newcomer),
        [
            json!({"username": "ann", "message": "m1", "history": true,
                   "time": "2026-12-05T17:21:00Z"}),
            json!({"username": "ann", "message": "m2", "history": true,
                   "time": "2026-12-05T17:22:00Z"}),
        ]
    );
    // Restored messages are the store's already: nothing to store again.
    assert_eq!(room.hub.poll_said_message(), None);
}

mod props {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;
    use crate::chat::accounts::account_key;

    #[derive(Debug, Clone)]
    enum Step {
        Connect,
        Guest {
            who: usize,
            name: &'static str,
        },
        Register {
            who: usize,
            name: &'static str,
        },
        Login {
            who: usize,
            name: &'static str,
            right: bool,
        },
        Leave {
            who: usize,
        },
        CarryOut,
    }

    const NAMES: [&str; 5] = ["ann", "ANN", "Ann", "bob", "cid"];

    fn step() -> impl Strategy<Value = Step> {
        let name = prop::sample::select(&NAMES[..]);
        prop_oneof![
            2 => Just(Step::Connect),
            2 => (0usize..6, name.clone()).prop_map(|(who, name)| Step::Guest { who, name }),
            2 => (0usize..6, name.clone()).prop_map(|(who, name)| Step::Register { who, name }),
            2 => (0usize..6, name, any::<bool>())
                .prop_map(|(who, name, right)| Step::Login { who, name, right }),
            1 => (0usize..6).prop_map(|who| Step::Leave { who }),
            2 => Just(Step::CarryOut),
        ]
    }

    proptest! {
        #[test]
        fn no_two_clients_share_a_name_and_no_guest_holds_a_registered_one(
            steps in prop::collection::vec(step(), 0..60),
        ) {
            let mut room = Room::new(config());
            let mut clients: Vec<ClientId> = Vec::new();
            for step in steps {
                let pick = |who: usize| clients.get(who % clients.len().max(1)).copied();
                match step {
                    Step::Connect => clients.push(room.connect()),
                    Step::Guest { who, name } => {
                        if let Some(client) = pick(who) {
                            room.send(client, &format!("{}\n", json!({"username": name})));
                        }
                    }
                    Step::Register { who, name } => {
                        if let Some(client) = pick(who) {
                            room.register(client, name, "correct horse");
                        }
                    }
                    Step::Login { who, name, right } => {
                        if let Some(client) = pick(who) {
                            let password = if right { "correct horse" } else { "wrong horse!" };
                            room.login(client, name, password);
                        }
                    }
                    Step::Leave { who } => {
                        if let Some(client) = pick(who) {
                            room.hub.disconnect(room.now, client);
                            room.pump();
                            clients.retain(|c| *c != client);
                        }
                    }
                    Step::CarryOut => {
                        room.carry_out(&[]);
                    }
                }
                room.advance(Duration::from_secs(5));
                let mut held = HashSet::new();
                for (_, state) in room.hub.clients.iter() {
                    let Some(name) = &state.username else { continue };
                    let key = account_key(name);
                    prop_assert!(held.insert(key.clone()), "{name} held twice");
                    if state.account.is_none() {
                        prop_assert!(!room.hub.accounts.is_claimed(&key), "guest holds {name}");
                    }
                }
            }
        }
    }
}
