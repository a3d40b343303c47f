//! Chat accounts (issue 14): who may hold a registered name, and the work the hub hands a shell
//! to prove it.
//!
//! Owns the rules of account names and passwords ([`account_key`], [`check_account_name`],
//! [`check_password`]), the table of registered accounts the hub consults ([`AccountTable`]),
//! the defences against guessing ([`guard`]), and the values exchanged with the shell: a
//! [`AccountWork`] to carry out (hash a password and store an account, verify one) and its
//! [`AccountOutcome`]. Hashing, verifying and storing are the shell's (they take tens of
//! milliseconds and touch files or a database); which answer a client gets, and when, is decided
//! here and in the hub. A password is held in a [`Secret`], which never prints.

pub mod guard;
pub mod table;

use std::fmt;
use std::time::Instant;

use unicode_normalization::UnicodeNormalization;

use super::{ChatError, ClientId};
pub use table::{Account, AccountTable};

/// Whether the room has accounts, and whether it insists on them (`--accounts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccountsMode {
    /// No accounts: register, login and password objects are refused; any free name may join.
    Off,
    /// Guests may join under any name nobody registered; a registered name needs its login.
    #[default]
    Optional,
    /// Nothing but register and login is accepted before a client has logged in.
    Required,
}

/// A password, kept out of every `Debug` and log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// Something only the shell can do for an account, on behalf of `client`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountWork {
    /// Hash `password` and store a new account `name` under `key`, unless the store already
    /// holds `key` (another server sharing the database may have taken it).
    Register {
        client: ClientId,
        key: String,
        name: String,
        password: Secret,
    },
    /// Verify `password` against `hash`, not before `due`. `hash` is `None` for a name nobody
    /// registered: the shell verifies against a hash of its own all the same, so the answer
    /// takes as long as for a real account, then reports a failure.
    Verify {
        client: ClientId,
        hash: Option<String>,
        password: Secret,
        due: Instant,
    },
    /// Verify `old` against `hash`, not before `due`; if it matches, hash `new` and store it as
    /// the account's (`key`) new hash.
    ChangePassword {
        client: ClientId,
        key: String,
        hash: String,
        old: Secret,
        new: Secret,
        due: Instant,
    },
}

/// How a piece of [`AccountWork`] ended, reported back with `ChatHub::handle_account`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountOutcome {
    /// The account was stored with this hash.
    Registered { hash: String },
    /// The store already held the name.
    Taken,
    /// The password matched (`true`) or did not.
    Verified(bool),
    /// The old password matched and the new hash is stored.
    PasswordChanged { hash: String },
    /// The work could not be done (the store failed, the server is too busy); nothing changed.
    Failed,
}

impl Secret {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Secret {
        Secret(password.into())
    }

    /// The password itself, for hashing or verifying it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

impl AccountWork {
    /// The client the work is for.
    pub fn client(&self) -> ClientId {
        match self {
            AccountWork::Register { client, .. }
            | AccountWork::Verify { client, .. }
            | AccountWork::ChangePassword { client, .. } => *client,
        }
    }

    /// When the work may start: a login slowed after failures waits.
    pub fn due(&self, now: Instant) -> Instant {
        match self {
            AccountWork::Register { .. } => now,
            AccountWork::Verify { due, .. } | AccountWork::ChangePassword { due, .. } => *due,
        }
    }
}

/// The form a name is compared in: NFC, then lower case (and NFC again, since lowering can
/// leave combining marks unordered), so `Ann`, `ANN` and `ann` are one account and so are the
/// two ways of writing `é`.
pub fn account_key(name: &str) -> String {
    let composed: String = name.nfc().collect();
    composed.to_lowercase().nfc().collect()
}

/// The name as it is kept and shown: NFC-normalised, so that what is stored and shown is one
/// sequence of code points whatever the client's keyboard sent.
pub fn display_name(name: &str) -> String {
    name.nfc().collect()
}

/// Checks a name to register or log in with: the room's rules for any name (not blank, no
/// control character, no whitespace at either end), and at most [`MAX_ACCOUNT_NAME_CHARS`]
/// characters once normalised.
pub fn check_account_name(name: &str) -> Result<(), ChatError> {
    super::check_username(name)?;
    if display_name(name).chars().count() > MAX_ACCOUNT_NAME_CHARS {
        return Err(ChatError::AccountNameTooLong);
    }
    Ok(())
}

/// Checks a new password's length: [`MIN_PASSWORD_BYTES`] to [`MAX_PASSWORD_BYTES`] bytes.
pub fn check_password(password: &str) -> Result<(), ChatError> {
    if (MIN_PASSWORD_BYTES..=MAX_PASSWORD_BYTES).contains(&password.len()) {
        Ok(())
    } else {
        Err(ChatError::PasswordLength)
    }
}

/// Account names are short enough to fit a terminal's line before the message (the issue sets
/// 32); guests keep the room's older limit, so old clients keep working.
pub const MAX_ACCOUNT_NAME_CHARS: usize = 32;
/// OWASP's minimum for a password without further rules (ASVS 2.1.1).
pub const MIN_PASSWORD_BYTES: usize = 8;
/// Long passphrases are welcome, but a password is hashed in full: 1 KiB bounds that work.
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_compare_case_insensitively_after_nfc() {
        assert_eq!(account_key("Ann"), account_key("aNN"));
        // "é" as one code point and as "e" with a combining acute accent.
        assert_eq!(account_key("Ren\u{e9}"), account_key("rene\u{301}"));
        assert_eq!(display_name("rene\u{301}"), "ren\u{e9}");
        assert_ne!(account_key("ann"), account_key("anne"));
    }

    #[test]
    fn account_names_follow_the_rules() {
        let cases: &[(&str, Result<(), ChatError>)] = &[
            ("ann", Ok(())),
            ("a", Ok(())),
            ("", Err(ChatError::BlankUsername)),
            ("a\u{7}b", Err(ChatError::UsernameControlCharacter)),
            (" ann", Err(ChatError::UsernameEdgeWhitespace)),
        ];
        for (name, expected) in cases {
            assert_eq!(check_account_name(name), *expected, "{name:?}");
        }
        assert_eq!(check_account_name(&"é".repeat(32)), Ok(()));
        // 32 characters once composed, though 64 code points as sent.
        assert_eq!(check_account_name(&"e\u{301}".repeat(32)), Ok(()));
        assert_eq!(
            check_account_name(&"é".repeat(33)),
            Err(ChatError::AccountNameTooLong)
        );
    }

    #[test]
    fn passwords_are_8_to_1024_bytes() {
        assert_eq!(check_password("1234567"), Err(ChatError::PasswordLength));
        assert_eq!(check_password("12345678"), Ok(()));
        assert_eq!(check_password(&"x".repeat(1024)), Ok(()));
        assert_eq!(
            check_password(&"x".repeat(1025)),
            Err(ChatError::PasswordLength)
        );
    }

    #[test]
    fn a_secret_never_prints() {
        let work = AccountWork::Verify {
            client: ClientId(1),
            hash: None,
            password: Secret::new("hunter22"),
            due: crate::testing::epoch(),
        };
        assert!(!format!("{work:?}").contains("hunter22"));
    }

    proptest! {
        #[test]
        fn the_key_is_stable(name in "\\PC{0,40}") {
            let key = account_key(&name);
            prop_assert_eq!(account_key(&key), key);
        }

        #[test]
        fn the_key_is_case_blind(name in "[a-zA-Z0-9\u{e9}\u{c9} _-]{0,40}") {
            prop_assert_eq!(account_key(&name.to_uppercase()), account_key(&name.to_lowercase()));
        }
    }
}
