//! [`ChatClient`]: the logic of `ferry chat-client`, as a sans-io machine.
//!
//! Owns everything the terminal client decides: asking for a username, turning typed lines into
//! JSON objects, turning the server's lines into text to print, keeping an idle connection alive,
//! and when the session ends. It never reads the terminal or the socket; the shell's loop feeds
//! it typed lines, server bytes and time, sends what it gives to send, and prints what it gives
//! to print.
//!
//! # Theory of operation
//!
//! - `AskingName`: no username yet; each typed line is a candidate, checked with the room's rules
//!   before it is sent. A name given on the command line skips this state. The prompt waits
//!   for the history to arrive (or [`HISTORY_WAIT`]), so it is not buried in it. `/register
//!   NAME` and `/login NAME` go to `AwaitingPassword` instead.
//! - `AwaitingPassword`: the next line is the password (the shell reads it without echo, asked
//!   by [`ClientEvent::AskPassword`]); the account request is sent and the client is `Joining`
//!   until the server's `welcome` and join.
//! - `Joining`: the name was sent; lines typed now wait (up to a bound) until the server confirms
//!   with the join announcement of this name. An error line instead (the name is taken) goes
//!   back to `AskingName` for a person at a terminal, and ends a script's client. Input that ends now (a script piping lines in) does not drop what
//!   waits: the client leaves once the name is confirmed and the waiting lines are sent, or
//!   once the name is refused or not confirmed in [`JOIN_WAIT`], saying what was not sent.
//! - `Joined`: each typed line becomes a message; empty lines are not sent.
//! - `Ended`: the user left (end of input, Ctrl-C), the server closed the connection on purpose
//!   (its error line said why), or no server could be reached again.
//!
//! A connection lost without such an error line is not the end (issue 17): the [`Failover`]
//! policy picks the next server and when to try it, the shell connects, and the client claims
//! its name again there (or logs in again with the password it kept), while lines typed in
//! between wait as they do while joining. The history the new server replays is shown only
//! where it holds messages this client has not shown yet. See `reconnect.rs`.
//!
//! Commands (`/register`, `/login`, `/password`, `/quit`, `/help`) are never sent as messages.
//! Server lines are printed as `[HH:MM] username: message` (the server's time, UTC, when it says),
//! history as `(earlier) [HH:MM] username: message`, a name in a colour of its own when the shell
//! says the output is a terminal,
//! announcements as `* ann joined` / `* ann left` (a large room's batches as `* ann, bob and
//! 12 others joined`), errors as `! reason`. Control characters in
//! what others sent are escaped, so nobody can move the cursor or clear the screen of a reader.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::framing::ObjectFramer;
use super::wire::{self, ServerLine};
use super::{check_username, ChatError, MAX_LINE};
use display::{clock, escaped};
pub use failover::{Failover, FailoverAction};
use reconnect::{Credentials, Reclaim};
use seen::SeenMessages;
mod account_flow;
mod commands;
mod display;
pub mod editor;
pub mod failover;
mod reconnect;
mod seen;

/// The terminal client's state machine.
#[derive(Debug)]
pub struct ChatClient {
    state: State,
    framer: ObjectFramer,
    /// Bytes for the server not yet taken by `poll_transmit`.
    output: Vec<u8>,
    events: VecDeque<ClientEvent>,
    /// Lines typed while joining, sent once the name is confirmed.
    pending: VecDeque<String>,
    /// Bytes in `pending`, bounded by [`MAX_PENDING_BYTES`].
    pending_bytes: usize,
    /// When the user's input ended while the name was not yet confirmed: the client leaves once
    /// it is, or at [`JOIN_WAIT`] after this.
    input_ended: Option<Instant>,
    /// A refused name asks for another (a person typing) rather than ending (a script).
    asks_again: bool,
    last_sent: Instant,
    /// Names are shown in colour (the shell prints to a terminal).
    colour: bool,
    /// When to ask for a name if no history has arrived by then.
    prompt_due: Option<Instant>,
    /// Where a `/password` stands.
    password_change: Option<PasswordChange>,
    /// Which server to reconnect to, and when to give up.
    failover: Failover,
    /// The account logged in to, kept in memory only, to log in again after a reconnect.
    credentials: Option<Credentials>,
    /// A new password sent with `/password`, kept once the server confirms it.
    new_password: Option<String>,
    /// The name claimed again after a reconnect, while the server may still hold it.
    reclaim: Option<Reclaim>,
    /// The last line from the server was an error: a close now is the server's decision.
    closing_said: bool,
    /// Messages shown lately, so a replayed history does not show them twice.
    seen: SeenMessages,
}

/// The steps of `/password`: the current password, then the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PasswordChange {
    Old,
    New(String),
}

/// What the shell shows or does for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Print this line (the shell adds the newline).
    Print(String),
    /// Print this without a newline and flush: the client waits for the user to type.
    Prompt(String),
    /// Print this prompt and read the next line without echo: it is a password. Echo goes back
    /// on once that line is read.
    AskPassword(String),
    /// Connect to `servers[server]` (in the order the shell gave them), trying for at most
    /// `timeout`; then call [`ChatClient::handle_connected`] or
    /// [`ChatClient::handle_connect_failed`].
    Connect { server: usize, timeout: Duration },
    /// The session is over; close the connection and exit with [`ClientEnd::exit_code`].
    Ended(ClientEnd),
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEnd {
    /// The user left: end of input (Ctrl-D) or an interrupt (Ctrl-C).
    Left,
    /// The server closed the connection.
    ServerClosed,
    /// The connection was lost and no server could be reached again in time.
    Unreachable,
    /// Input ended before the server confirmed the name, which it then refused or never
    /// confirmed: what was typed was not sent.
    NotJoined,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    AskingName,
    AwaitingPassword { username: String, register: bool },
    Joining { username: String },
    Joined { username: String },
    Ended(ClientEnd),
}

impl ChatClient {
    /// A client that just connected, typed into by a person: with `username` it joins at once,
    /// else it asks for one, and asks again when a name is refused.
    pub fn new(now: Instant, username: Option<&str>) -> Self {
        Self::start(now, username, true)
    }

    /// A client fed by a script (input that is not a terminal): the same, but a refused name
    /// ends the session, since the lines after it are messages, not another name to try.
    pub fn scripted(now: Instant, username: Option<&str>) -> Self {
        Self::start(now, username, false)
    }

    fn start(now: Instant, username: Option<&str>, asks_again: bool) -> Self {
        let mut client = ChatClient {
            state: State::AskingName,
            framer: ObjectFramer::new(MAX_LINE),
            output: Vec::new(),
            events: VecDeque::new(),
            pending: VecDeque::new(),
            pending_bytes: 0,
            input_ended: None,
            asks_again,
            last_sent: now,
            colour: false,
            prompt_due: None,
            password_change: None,
            failover: Failover::new(Vec::new(), 0),
            credentials: None,
            new_password: None,
            reclaim: None,
            closing_said: false,
            seen: SeenMessages::default(),
        };
        match username {
            Some(name) => client.try_name(now, name),
            None => client.prompt_due = Some(now + HISTORY_WAIT),
        }
        client
    }

    /// Shows each name in a colour of its own: for output to a terminal.
    pub fn with_colour(mut self, colour: bool) -> Self {
        self.colour = colour;
        self
    }

    /// A line the user typed (with or without its line ending).
    pub fn handle_line(&mut self, now: Instant, line: &str) {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let State::AwaitingPassword { username, register } = &self.state {
            let (username, register) = (username.clone(), *register);
            return self.send_credentials(now, username, register, line);
        }
        if self.password_change.is_some() {
            return self.change_password(now, line);
        }
        if let Some(command) = commands::parse(line) {
            return self.run_command(command);
        }
        match &self.state {
            State::AskingName => {
                self.prompt_due = None;
                self.try_name(now, line.trim())
            }
            State::AwaitingPassword { .. } => {}
            State::Joining { .. } => {
                if line.trim().is_empty() {
                    return;
                }
                if self.pending_bytes + line.len() <= MAX_PENDING_BYTES {
                    self.pending_bytes += line.len();
                    self.pending.push_back(line.to_string());
                } else {
                    self.print("! still joining; that line was not sent".to_string());
                }
            }
            State::Joined { username } => {
                let username = username.clone();
                self.send_message(now, &username, line);
            }
            State::Ended(_) => {}
        }
    }

    /// The user's input ended (Ctrl-D, or the end of piped lines): leave once what was typed is
    /// sent, which waits for the name to be confirmed if it is not yet.
    pub fn handle_end_of_input(&mut self, now: Instant) {
        match self.state {
            State::Joining { .. } => self.input_ended = Some(now),
            _ => self.end(ClientEnd::Left, "* you left the chat"),
        }
    }

    /// The user interrupted (Ctrl-C): leave now, whatever waits.
    pub fn handle_interrupt(&mut self) {
        self.end(ClientEnd::Left, "* you left the chat");
    }

    /// Bytes from the server.
    pub fn receive(&mut self, bytes: &[u8]) {
        if matches!(self.state, State::Ended(_)) || !self.failover.is_connected() {
            return;
        }
        let mut lines = Vec::new();
        self.framer.receive(bytes, |frame| {
            lines.push(frame.and_then(wire::decode_server_line));
        });
        for line in lines {
            self.show(line);
        }
        // The history came with the first bytes: now the prompt goes below it.
        if self.prompt_due.take().is_some() && self.state == State::AskingName {
            self.ask();
        }
    }

    /// The server closed the connection, or writing to it failed. After an error line (the
    /// server disconnected this client on purpose) the session ends; otherwise the client
    /// reconnects, to the next server if there are several.
    pub fn receive_eof(&mut self, now: Instant) {
        if self.is_ended() || !self.failover.is_connected() {
            return;
        }
        if self.closing_said {
            return self.end(
                ClientEnd::ServerClosed,
                "* the server closed the connection",
            );
        }
        self.connection_lost(now);
    }

    /// Sends an empty line when nothing was sent for a while, so the server does not take a
    /// client that only reads for a dead one.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.state, State::Ended(_)) {
            return;
        }
        self.failover.handle_timeout(now);
        self.drain_failover();
        self.retry_reclaim(now);
        if self.is_ended() {
            return;
        }
        if self.prompt_due.is_some_and(|due| now >= due) {
            self.prompt_due = None;
            if self.state == State::AskingName {
                self.ask();
            }
        }
        if self
            .input_ended
            .is_some_and(|ended| now >= ended + JOIN_WAIT)
        {
            self.print("! the server did not confirm the name".to_string());
            self.leave_unjoined();
            return;
        }
        if now >= self.last_sent + KEEPALIVE_INTERVAL {
            self.output.push(b'\n');
            self.last_sent = now;
        }
    }

    /// Appends the bytes to send to the server; returns how many, `None` when nothing waits.
    /// Changes after any input.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<usize> {
        let len = self.output.len();
        // Nothing goes out without a connection; `handle_connected` starts the new one afresh.
        if len == 0 || !self.failover.is_connected() {
            return None;
        }
        out.append(&mut self.output);
        Some(len)
    }

    /// When [`ChatClient::handle_timeout`] should run next; `None` once the session ended.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Ended(_) => None,
            _ => {
                let keepalive = self.last_sent + KEEPALIVE_INTERVAL;
                let give_up = self.input_ended.map(|ended| ended + JOIN_WAIT);
                let reclaim = self.reclaim.as_ref().and_then(|reclaim| reclaim.retry_at);
                let failover = self.failover.poll_timeout();
                [Some(keepalive), give_up, self.prompt_due, reclaim, failover]
                    .into_iter()
                    .flatten()
                    .min()
            }
        }
    }

    /// The next thing to print or do. Drain after every input.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// True once the session ended; no input changes anything after that.
    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Ended(_))
    }

    fn ask(&mut self) {
        self.events
            .push_back(ClientEvent::Prompt("username: ".to_string()));
    }

    fn try_name(&mut self, now: Instant, name: &str) {
        match check_username(name) {
            Ok(()) => {
                wire::encode_client_object(name, None, &mut self.output);
                self.last_sent = now;
                self.state = State::Joining {
                    username: name.to_string(),
                };
            }
            Err(error) => {
                self.print(format!("! {error}"));
                if self.asks_again {
                    self.ask();
                } else {
                    self.leave_unjoined();
                }
            }
        }
    }

    fn send_message(&mut self, now: Instant, username: &str, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        let start = self.output.len();
        wire::encode_client_object(username, Some(text), &mut self.output);
        // The object without its newline must fit the server's line limit.
        if self.output.len() - start - 1 > MAX_LINE {
            self.output.truncate(start);
            self.print(format!("! not sent: {}", ChatError::LineTooLong));
            return;
        }
        self.last_sent = now;
    }

    fn show(&mut self, line: Result<ServerLine, ChatError>) {
        self.closing_said = matches!(line, Ok(ServerLine::Error { .. }))
            && !matches!(&line, Ok(ServerLine::Error { error }) if is_shutdown(error));
        let text = match line {
            Ok(ServerLine::Message {
                username,
                message,
                history,
                time,
            }) => {
                let shown = self
                    .seen
                    .check_and_remember(&username, &message, time.as_deref());
                // Only a replay is left out: the same words said again live are news.
                if history && shown {
                    return;
                }
                let earlier = if history { "(earlier) " } else { "" };
                let stamp = time.as_deref().and_then(clock).unwrap_or_default();
                let name = self.name(&username);
                format!("{earlier}{stamp}{name}: {}", escaped(&message))
            }
            Ok(ServerLine::Join { username }) => {
                if let State::Joining { username: mine } = &self.state {
                    if *mine == username {
                        self.rejoined();
                        self.joined(username);
                        return;
                    }
                }
                format!("* {} joined", escaped(&username))
            }
            Ok(ServerLine::Leave { username }) => format!("* {} left", escaped(&username)),
            Ok(ServerLine::Welcome { username }) => match &mut self.state {
                // The account's name as registered, perhaps in another case than typed.
                State::Joining { username: mine } => {
                    *mine = username.clone();
                    format!("* welcome, {}", escaped(&username))
                }
                _ => {
                    self.password_confirmed();
                    "* your password was changed".to_string()
                }
            },
            Ok(ServerLine::Joins { usernames, others }) => match self.others(&usernames, others) {
                Some(names) => format!("* {names} joined"),
                None => return,
            },
            Ok(ServerLine::Leaves { usernames, others }) => match self.others(&usernames, others) {
                Some(names) => format!("* {names} left"),
                None => return,
            },
            Ok(ServerLine::Error { error }) => {
                if self.refused_reclaim(&error) {
                    return;
                }
                if matches!(self.state, State::Joining { .. }) {
                    self.credentials = None;
                    // The server answers a join with its announcement or an error, in order,
                    // so an error now refuses the name.
                    self.state = State::AskingName;
                    self.print(format!("! {}", escaped(&error)));
                    if self.input_ended.is_some() || !self.asks_again {
                        self.leave_unjoined();
                    } else {
                        self.ask();
                    }
                    return;
                }
                format!("! {}", escaped(&error))
            }
            Err(error) => format!("! {error}"),
        };
        self.print(text);
    }

    fn joined(&mut self, username: String) {
        self.print(format!("* you joined as {}", escaped(&username)));
        self.state = State::Joined {
            username: username.clone(),
        };
        let now = self.last_sent;
        self.pending_bytes = 0;
        while let Some(line) = self.pending.pop_front() {
            self.send_message(now, &username, &line);
        }
        if self.input_ended.is_some() {
            self.end(ClientEnd::Left, "* you left the chat");
        }
    }

    /// Input ended and the name was refused or never confirmed: nothing typed can be sent.
    fn leave_unjoined(&mut self) {
        let unsent = self.pending.len();
        self.pending.clear();
        self.pending_bytes = 0;
        let text = match unsent {
            0 => "* you left the chat without joining".to_string(),
            1 => "* you left the chat without joining; 1 line was not sent".to_string(),
            n => format!("* you left the chat without joining; {n} lines were not sent"),
        };
        self.end(ClientEnd::NotJoined, &text);
    }

    fn end(&mut self, end: ClientEnd, text: &str) {
        if matches!(self.state, State::Ended(_)) {
            return;
        }
        self.state = State::Ended(end);
        self.print(text.to_string());
        self.events.push_back(ClientEvent::Ended(end));
    }

    fn print(&mut self, text: String) {
        self.events.push_back(ClientEvent::Print(text));
    }
}

impl ClientEnd {
    /// The process exit code for this end: 0 when the user left, 1 when the server went away
    /// or what was typed could not be sent.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientEnd::Left => 0,
            ClientEnd::ServerClosed | ClientEnd::Unreachable | ClientEnd::NotJoined => 1,
        }
    }
}

/// True for the error line of a server that is shutting down: unlike the others, it is no
/// verdict on this client, so another server is tried.
fn is_shutdown(error: &str) -> bool {
    error == super::hub::CloseReason::Shutdown.to_string()
}

/// How long the client waits for the history before asking for a name anyway: the history
/// comes with the server's first bytes, within a round trip.
pub const HISTORY_WAIT: Duration = Duration::from_millis(300);
/// An empty line goes out after this long without sending, far inside the server's 10-minute
/// idle timeout, so a client that only reads stays connected.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);
/// Text typed or piped in before the server confirmed the name: enough for any script's
/// message batch, bounded so input that never ends cannot grow the client without limit.
const MAX_PENDING_BYTES: usize = 1024 * 1024;
/// How long a client whose input ended waits for the server to confirm its name, so the lines
/// it holds can be sent, before it leaves without them.
pub const JOIN_WAIT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests;
