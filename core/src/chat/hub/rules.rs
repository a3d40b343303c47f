//! The room's rules for one message object a client sent: who may claim which name, what must
//! come with it, and what a valid object asks the hub to do. Pure: the hub carries the answer
//! out. Account objects (register, login, password) have their own rules in `accounts`.

use std::collections::HashMap;

use super::super::accounts::{account_key, display_name, AccountTable, AccountsMode};
use super::super::wire::ClientObject;
use super::super::{check_username, ChatError, ClientId};

/// What a valid object asks for.
pub(super) enum Action {
    Join {
        username: String,
        message: Option<String>,
    },
    Say {
        username: String,
        message: String,
    },
}

/// What the rules look at in the room.
pub(super) struct Room<'a> {
    /// The names connected clients hold, by key.
    pub(super) names: &'a HashMap<String, ClientId>,
    /// The names clients of other nodes of the cluster hold, by key (issue 17).
    pub(super) remote_names: &'a HashMap<String, usize>,
    /// The names local clients wait to have claimed in the cluster, by key.
    pub(super) claiming: &'a HashMap<String, ClientId>,
    pub(super) accounts: &'a AccountTable,
    pub(super) mode: AccountsMode,
}

/// What the rules look at in the client that sent the object.
#[derive(Clone, Copy)]
pub(super) struct Speaker<'a> {
    /// The name it holds (`None`: not joined yet).
    pub(super) claimed: Option<&'a str>,
    /// It logged in to the account of that name.
    pub(super) logged_in: bool,
}

/// Checks `object` from `speaker` against the rules of `room`.
pub(super) fn check_object(
    room: &Room<'_>,
    speaker: Speaker<'_>,
    object: ClientObject<'_>,
) -> Result<Action, ChatError> {
    let message = match object.message {
        Some(message) if message.trim().is_empty() => return Err(ChatError::BlankMessage),
        Some(message) => Some(message.into_owned()),
        None => None,
    };
    match speaker.claimed {
        Some(claimed) => {
            // A logged-in client may leave its name out, or write it in another case.
            let same = match object.username.as_deref() {
                None => speaker.logged_in,
                Some(username) if speaker.logged_in => {
                    account_key(username) == account_key(claimed)
                }
                Some(username) => username == claimed,
            };
            if !same {
                return Err(match object.username {
                    None => ChatError::MissingUsername,
                    Some(_) => ChatError::UsernameChanged,
                });
            }
            let message = message.ok_or(ChatError::MissingMessage)?;
            Ok(Action::Say {
                username: claimed.to_owned(),
                message,
            })
        }
        None => {
            if room.mode == AccountsMode::Required {
                return Err(ChatError::LoginRequired);
            }
            let username = object.username.ok_or(ChatError::MissingUsername)?;
            check_username(&username)?;
            let key = account_key(&username);
            if room.mode != AccountsMode::Off && room.accounts.is_claimed(&key) {
                return Err(ChatError::NameRegistered);
            }
            if room.names.contains_key(&key)
                || room.remote_names.contains_key(&key)
                || room.claiming.contains_key(&key)
            {
                return Err(ChatError::UsernameTaken);
            }
            Ok(Action::Join {
                username: display_name(&username),
                message,
            })
        }
    }
}
