//! The room's rules for one object a client sent: who may claim which name, what must come with
//! it, and what a valid object asks the hub to do. Pure: the hub carries the answer out.

use std::collections::HashMap;

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

/// Checks `object` from a client holding `claimed` (`None`: not joined yet) against the rules,
/// with `names` the usernames connected clients hold.
pub(super) fn check_object(
    names: &HashMap<String, ClientId>,
    claimed: Option<&str>,
    object: ClientObject<'_>,
) -> Result<Action, ChatError> {
    let username = object.username.ok_or(ChatError::MissingUsername)?;
    let message = match object.message {
        Some(message) if message.trim().is_empty() => return Err(ChatError::BlankMessage),
        Some(message) => Some(message.into_owned()),
        None => None,
    };
    match claimed {
        Some(claimed) => {
            if username != claimed {
                return Err(ChatError::UsernameChanged);
            }
            let message = message.ok_or(ChatError::MissingMessage)?;
            Ok(Action::Say {
                username: username.into_owned(),
                message,
            })
        }
        None => {
            check_username(&username)?;
            if names.contains_key(username.as_ref()) {
                return Err(ChatError::UsernameTaken);
            }
            Ok(Action::Join {
                username: username.into_owned(),
                message,
            })
        }
    }
}
