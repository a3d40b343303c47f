//! The client's side of a lost connection (issue 17): telling the user, following the
//! [`Failover`] policy's attempts, and claiming the name again on the server reached, by
//! logging in with the password kept in memory when the user had logged in.
//!
//! The server reached may still hold the name for the connection that was lost (it has not
//! noticed yet, or a server of the same cluster holds it): a claim refused as taken is tried
//! again every [`RECLAIM_RETRY`] for [`RECLAIM_WINDOW`] before the client asks for another
//! name as after any refusal.

use std::time::{Duration, Instant};

use super::failover::{Failover, FailoverAction};
use super::{ChatClient, ClientEnd, ClientEvent, State};
use crate::chat::framing::ObjectFramer;
use crate::chat::wire::{self, AccountRequest};
use crate::chat::{ChatError, MAX_LINE};

/// The account logged in to: the name and password, as typed, held in memory only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Credentials {
    pub(super) username: String,
    pub(super) password: String,
}

/// A name claimed again after a reconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reclaim {
    /// Refusals as taken are retried until then.
    until: Instant,
    /// When to send the claim again after it was refused.
    pub(super) retry_at: Option<Instant>,
}

impl ChatClient {
    /// The servers the shell may connect to, in order, as the user named them; the shell is
    /// connected to `servers[connected]`. Without this the client knows one server and
    /// reconnects to it.
    pub fn with_servers(mut self, servers: Vec<String>, connected: usize) -> Self {
        self.failover = Failover::new(servers, connected);
        self
    }

    /// The connection asked for by [`ClientEvent::Connect`] is up: the name is claimed again,
    /// and lines typed meanwhile follow once the server confirms it.
    pub fn handle_connected(&mut self, now: Instant) {
        if self.is_ended() || self.failover.is_connected() {
            return;
        }
        self.failover.handle_connected();
        self.print(format!("* connected to {}", self.failover.current()));
        self.framer = ObjectFramer::new(MAX_LINE);
        self.output.clear();
        self.closing_said = false;
        self.last_sent = now;
        if let State::Joining { username } = &self.state {
            let username = username.clone();
            self.reclaim = Some(Reclaim {
                until: now + RECLAIM_WINDOW,
                retry_at: None,
            });
            self.claim(now, &username);
        }
    }

    /// The connection asked for by [`ClientEvent::Connect`] failed for `reason`.
    pub fn handle_connect_failed(&mut self, now: Instant, reason: &str) {
        let Some(target) = self.failover.target().map(str::to_string) else {
            return;
        };
        self.failover.handle_connect_failed(now);
        if let Some(next) = self.failover.target() {
            let line = format!("* cannot reach {target} ({reason}); trying {next}");
            self.print(line);
        }
        self.drain_failover();
    }

    /// The connection was lost without a word from the server: on to the next server.
    pub(super) fn connection_lost(&mut self, now: Instant) {
        let from = self.failover.current().to_string();
        self.failover.handle_lost(now);
        if let Some(to) = self.failover.target() {
            let line = format!("* connection to {from} lost; reconnecting to {to}");
            self.print(line);
        }
        if let State::Joined { username } = &self.state {
            self.state = State::Joining {
                username: username.clone(),
            };
        }
        // Whatever was under way with the lost server is gone with it.
        self.password_change = None;
        self.new_password = None;
        self.reclaim = None;
        self.output.clear();
        self.drain_failover();
    }

    /// Turns the failover's actions into the client's events.
    pub(super) fn drain_failover(&mut self) {
        while let Some(action) = self.failover.poll_action() {
            match action {
                FailoverAction::Connect { server, timeout } => {
                    self.events
                        .push_back(ClientEvent::Connect { server, timeout });
                }
                FailoverAction::GiveUp => {
                    let servers = match self.failover.server_count() {
                        1 => format!("to {}", self.failover.current()),
                        n => format!("to any of the {n} servers"),
                    };
                    let line = format!("! the connection was lost and could not be made again {servers}; giving up");
                    self.end(ClientEnd::Unreachable, &line);
                }
            }
        }
    }

    /// An error line answered a claim: true when it is the refusal of a reclaimed name that
    /// is tried again, false when it is an answer to act on as ever.
    pub(super) fn refused_reclaim(&mut self, error: &str) -> bool {
        let Some(reclaim) = self.reclaim.as_mut() else {
            return false;
        };
        // The claim went out at `last_sent`, and the server answers a claim at once.
        let retry_at = self.last_sent + RECLAIM_RETRY;
        let joining = matches!(self.state, State::Joining { .. });
        if joining && error == ChatError::UsernameTaken.to_string() && retry_at < reclaim.until {
            reclaim.retry_at = Some(retry_at);
            return true;
        }
        self.reclaim = None;
        false
    }

    /// Sends the refused claim again when its retry is due.
    pub(super) fn retry_reclaim(&mut self, now: Instant) {
        let Some(reclaim) = self.reclaim.as_mut() else {
            return;
        };
        if reclaim.retry_at.is_none_or(|due| now < due) {
            return;
        }
        reclaim.retry_at = None;
        if let State::Joining { username } = &self.state {
            let username = username.clone();
            self.claim(now, &username);
        }
    }

    /// The server confirmed the name: any outage is over.
    pub(super) fn rejoined(&mut self) {
        self.failover.handle_rejoined();
        self.reclaim = None;
    }

    /// The server confirmed a `/password`: the new one is the one to log in with from now.
    pub(super) fn password_confirmed(&mut self) {
        if let (Some(new), Some(credentials)) = (self.new_password.take(), &mut self.credentials) {
            credentials.password = new;
        }
    }

    /// Claims `username` on the server just reached: a login with the kept password for an
    /// account, else the name alone.
    fn claim(&mut self, now: Instant, username: &str) {
        match &self.credentials {
            Some(credentials) => {
                let request = AccountRequest::Login {
                    username: &credentials.username,
                    password: &credentials.password,
                };
                wire::encode_account_request(&request, &mut self.output);
            }
            None => wire::encode_client_object(username, None, &mut self.output),
        }
        self.last_sent = now;
    }
}

/// How long after a reconnect a name refused as taken is claimed again: a server notices a
/// connection that died with its client's machine only at its idle timeout, but one that a
/// restart or a crash of a server cut is usually gone within seconds.
const RECLAIM_WINDOW: Duration = Duration::from_secs(10);
/// The wait between claims of a name refused as taken.
const RECLAIM_RETRY: Duration = Duration::from_millis(500);

#[cfg(test)]
mod tests {
    use super::super::{ChatClient, ClientEnd, ClientEvent};
    use super::*;

    fn drain(client: &mut ChatClient) -> (String, Vec<ClientEvent>) {
        let mut out = Vec::new();
        client.poll_transmit(&mut out);
        let events = std::iter::from_fn(|| client.poll_event()).collect();
        (String::from_utf8(out).expect("JSON is UTF-8"), events)
    }

    fn print(text: &str) -> ClientEvent {
        ClientEvent::Print(text.to_string())
    }

    fn connect(server: usize) -> ClientEvent {
        ClientEvent::Connect {
            server,
            timeout: Duration::from_secs(10),
        }
    }

    /// A client joined as `me` to the first of two servers.
    fn joined(now: Instant) -> ChatClient {
        let mut client =
            ChatClient::new(now, Some("me")).with_servers(vec!["a:1".into(), "b:2".into()], 0);
        client.receive(b"{\"type\":\"join\",\"username\":\"me\"}\n");
        drain(&mut client);
        client
    }

    #[test]
    fn a_lost_connection_moves_to_the_next_server_and_claims_the_name_again() {
        let now = crate::testing::epoch();
        let mut client = joined(now);
        client.receive_eof(now);
        assert_eq!(
            drain(&mut client),
            (
                String::new(),
                vec![print("* connection to a:1 lost; reconnecting to b:2")]
            )
        );
        assert_eq!(client.poll_timeout(), Some(now));
        client.handle_timeout(now);
        assert_eq!(drain(&mut client).1, [connect(1)]);
        // Typed while no server listens: kept until the name is confirmed again.
        client.handle_line(now, "are you there?");
        client.handle_timeout(now + Duration::from_secs(61));
        assert_eq!(drain(&mut client), (String::new(), vec![]));
        client.handle_connected(now);
        assert_eq!(
            drain(&mut client),
            (
                "{\"username\":\"me\"}\n".to_string(),
                vec![print("* connected to b:2")]
            )
        );
        client.receive(b"{\"type\":\"join\",\"username\":\"me\"}\n");
        assert_eq!(
            drain(&mut client),
            (
                "{\"username\":\"me\",\"message\":\"are you there?\"}\n".to_string(),
                vec![print("* you joined as me")]
            )
        );
        // The next loss goes back to the first server.
        client.receive_eof(now);
        client.handle_timeout(now);
        assert_eq!(
            drain(&mut client).1,
            [
                print("* connection to b:2 lost; reconnecting to a:1"),
                connect(0)
            ]
        );
    }

    #[test]
    fn a_server_that_shuts_down_is_failed_over_but_other_closing_errors_end() {
        let now = crate::testing::epoch();
        let mut client = joined(now);
        client.receive(b"{\"type\":\"error\",\"error\":\"the server is shutting down\"}\n");
        client.receive_eof(now);
        assert!(!client.is_ended());
        let mut client = joined(now);
        client.receive(
            b"{\"type\":\"error\",\"error\":\"disconnected: nothing received for too long\"}\n",
        );
        client.receive_eof(now);
        assert!(client.is_ended());
        let mut client = joined(now);
        client.handle_line(now, "/quit");
        client.receive_eof(now);
        assert_eq!(
            drain(&mut client).1.last(),
            Some(&ClientEvent::Ended(ClientEnd::Left))
        );
    }

    #[test]
    fn gives_up_with_one_line_and_exit_code_1_when_no_server_answers() {
        let start = crate::testing::epoch();
        let mut now = start;
        let mut client = joined(now);
        client.receive_eof(now);
        drain(&mut client);
        let mut attempts = 0;
        let end = loop {
            if let Some(due) = client.poll_timeout() {
                now = now.max(due);
            }
            client.handle_timeout(now);
            let (_, events) = drain(&mut client);
            match events.last() {
                Some(ClientEvent::Connect { .. }) => {
                    attempts += 1;
                    client.handle_connect_failed(now, "connection refused");
                }
                Some(ClientEvent::Ended(end)) => break (*end, events),
                _ => {}
            }
            let (_, events) = drain(&mut client);
            if let Some(ClientEvent::Ended(end)) = events.last() {
                break (*end, events);
            }
            assert!(now - start < Duration::from_secs(60), "never gave up");
        };
        assert_eq!(attempts, 16);
        assert_eq!(end.0, ClientEnd::Unreachable);
        assert_eq!(end.0.exit_code(), 1);
        assert_eq!(
            end.1,
            [
                print("! the connection was lost and could not be made again to any of the 2 servers; giving up"),
                ClientEvent::Ended(ClientEnd::Unreachable)
            ]
        );
    }

    #[test]
    fn a_login_is_made_again_with_the_kept_password_and_history_is_not_shown_twice() {
        let now = crate::testing::epoch();
        let mut client = ChatClient::new(now, None).with_servers(vec!["a:1".into()], 0);
        client.handle_line(now, "/login ann");
        client.handle_line(now, "secret-words");
        client.receive(b"{\"type\":\"welcome\",\"username\":\"ann\"}\n{\"type\":\"join\",\"username\":\"ann\"}\n");
        client.receive(
            b"{\"username\":\"bob\",\"message\":\"one\",\"time\":\"2026-12-05T17:20:00Z\"}\n",
        );
        drain(&mut client);
        client.handle_line(now, "/password");
        client.handle_line(now, "secret-words");
        client.handle_line(now, "newer-secret");
        client.receive(b"{\"type\":\"welcome\",\"username\":\"ann\"}\n");
        drain(&mut client);
        client.receive_eof(now);
        client.handle_timeout(now);
        assert_eq!(drain(&mut client).1.last(), Some(&connect(0)));
        client.handle_connected(now);
        let (sent, _) = drain(&mut client);
        assert!(
            sent.contains("\"login\"") && sent.contains("newer-secret"),
            "{sent}"
        );
        client.receive(concat!(
            "{\"username\":\"bob\",\"message\":\"one\",\"time\":\"2026-12-05T17:20:00Z\",\"history\":true}\n",
            "{\"username\":\"bob\",\"message\":\"two\",\"time\":\"2026-12-05T17:21:00Z\",\"history\":true}\n",
            "{\"type\":\"welcome\",\"username\":\"ann\"}\n{\"type\":\"join\",\"username\":\"ann\"}\n",
        ).as_bytes());
        assert_eq!(
            drain(&mut client).1,
            [
                print("(earlier) [17:21] bob: two"),
                print("* welcome, ann"),
                print("* you joined as ann")
            ]
        );
    }

    #[test]
    fn a_name_still_taken_after_a_reconnect_is_claimed_again_then_asked_for() {
        let start = crate::testing::epoch();
        let mut client = joined(start);
        client.receive_eof(start);
        client.handle_timeout(start);
        client.handle_connected(start);
        drain(&mut client);
        let taken =
            b"{\"type\":\"error\",\"error\":\"that username is taken by someone connected\"}\n";
        let mut claims = 1;
        let mut now = start;
        loop {
            client.receive(taken);
            let (_, events) = drain(&mut client);
            if !events.is_empty() {
                assert_eq!(
                    events,
                    [
                        print("! that username is taken by someone connected"),
                        ClientEvent::Prompt("username: ".to_string())
                    ]
                );
                break;
            }
            now = client.poll_timeout().expect("a retry is due");
            client.handle_timeout(now);
            assert_eq!(drain(&mut client).0, "{\"username\":\"me\"}\n");
            claims += 1;
        }
        assert_eq!(claims, 20);
        assert!(now - start < RECLAIM_WINDOW);
        // Confirmed in the window instead: joined again, as usual.
        let mut client = joined(start);
        client.receive_eof(start);
        client.handle_timeout(start);
        client.handle_connected(start);
        client.receive(taken);
        client.handle_timeout(start + RECLAIM_RETRY);
        client.receive(b"{\"type\":\"join\",\"username\":\"me\"}\n");
        assert_eq!(
            drain(&mut client).1.last(),
            Some(&print("* you joined as me"))
        );
    }
}
