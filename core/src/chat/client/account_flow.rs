//! The client's commands and account requests (issue 14): what `/register`, `/login`,
//! `/password`, `/quit` and `/help` do, and how a typed password becomes the object sent.

use std::time::Instant;

use super::commands::{Command, HELP};
use super::{escaped, ChatClient, ClientEnd, ClientEvent, Credentials, PasswordChange, State};
use crate::chat::accounts::check_account_name;
use crate::chat::wire::{self, AccountRequest};

impl ChatClient {
    pub(super) fn run_command(&mut self, command: Command<'_>) {
        let before_joining = self.state == State::AskingName;
        match command {
            Command::Register(name) | Command::Login(name) if before_joining => {
                if let Err(error) = check_account_name(name) {
                    self.print(format!("! {error}"));
                    return self.ask();
                }
                self.prompt_due = None;
                self.state = State::AwaitingPassword {
                    username: name.to_string(),
                    register: matches!(command, Command::Register(_)),
                };
                self.events
                    .push_back(ClientEvent::AskPassword("password: ".to_string()));
            }
            Command::Register(_) | Command::Login(_) => {
                self.print("! you already joined; reconnect to log in".to_string())
            }
            Command::Password => match &self.state {
                State::Joined { .. } => {
                    self.password_change = Some(PasswordChange::Old);
                    self.events
                        .push_back(ClientEvent::AskPassword("current password: ".to_string()));
                }
                _ => self.print("! log in before changing your password".to_string()),
            },
            Command::Quit => self.end(ClientEnd::Left, "* you left the chat"),
            Command::Help => {
                for line in HELP {
                    self.print((*line).to_string());
                }
                if before_joining {
                    self.ask();
                }
            }
            Command::MissingName(word) => {
                self.print(format!("! /{word} needs a name: /{word} NAME"));
                if before_joining {
                    self.ask();
                }
            }
            Command::Unknown(word) => {
                self.print(format!(
                    "! unknown command /{}; /help lists them",
                    escaped(word)
                ));
                if before_joining {
                    self.ask();
                }
            }
        }
    }

    /// The password of a `/register` or `/login` was typed: the request goes out.
    pub(super) fn send_credentials(
        &mut self,
        now: Instant,
        username: String,
        register: bool,
        password: &str,
    ) {
        let request = if register {
            AccountRequest::Register {
                username: &username,
                password,
            }
        } else {
            AccountRequest::Login {
                username: &username,
                password,
            }
        };
        wire::encode_account_request(&request, &mut self.output);
        self.last_sent = now;
        // A reconnect logs in again with it, even after a registration.
        self.credentials = Some(Credentials {
            username: username.clone(),
            password: password.to_string(),
        });
        self.state = State::Joining { username };
    }

    /// One password of a `/password` was typed.
    pub(super) fn change_password(&mut self, now: Instant, line: &str) {
        match self.password_change.take() {
            Some(PasswordChange::Old) => {
                self.password_change = Some(PasswordChange::New(line.to_string()));
                self.events
                    .push_back(ClientEvent::AskPassword("new password: ".to_string()));
            }
            Some(PasswordChange::New(old)) => {
                let request = AccountRequest::Password {
                    old: &old,
                    new: line,
                };
                wire::encode_account_request(&request, &mut self.output);
                self.last_sent = now;
                self.new_password = Some(line.to_string());
            }
            None => {}
        }
    }
}
