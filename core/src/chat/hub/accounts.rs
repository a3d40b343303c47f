//! The hub's side of accounts (issue 14): which register, login and password requests go to
//! the shell as [`AccountWork`], and what each [`AccountOutcome`] means for the client.
//!
//! # Theory of operation
//!
//! A request passes the rules here first (accounts on, one request at a time, before joining
//! for register and login, a connection that carries passwords safely, the name and password
//! rules, the limits per address and per name), then goes out as work and the client waits:
//! until the outcome comes back, its further account objects are refused. The hub remembers
//! each client's request apart from the client, so an account registered for a client that left
//! meanwhile is still entered in the table. A successful register or login answers `welcome`,
//! then joins the room under the account's name, as a guest's first object does. A failed
//! login answers the same whether the name exists or not, and takes as long: the shell checks
//! the password of an unknown name against a hash of its own.

use std::net::IpAddr;
use std::time::Instant;

use super::super::accounts::guard::Admission;
use super::super::accounts::{
    account_key, check_account_name, check_password, display_name, Account, AccountOutcome,
    AccountWork, AccountsMode, Secret,
};
use super::super::wire::{self, AccountRequest};
use super::super::{ChatError, ClientId};
use super::claims::Join;
use super::ChatHub;

/// A request whose work is with the shell.
#[derive(Debug, Clone)]
pub(super) enum Pending {
    Register { key: String, name: String },
    Login { key: String, address: IpAddr },
    Password { key: String, address: IpAddr },
}

impl ChatHub {
    /// Checks an account request from `client` and hands its work to the shell, or refuses it.
    pub(super) fn handle_account_request(
        &mut self,
        now: Instant,
        client: ClientId,
        request: AccountRequest<'_>,
    ) {
        match self.start_account_work(now, client, request) {
            Ok(work) => {
                self.account_work.push_back(work);
            }
            Err(error) => self.refuse(now, client, error),
        }
    }

    /// The outcome of `client`'s account work: updates the table and answers the client, if it
    /// is still connected.
    pub fn handle_account(&mut self, now: Instant, client: ClientId, outcome: AccountOutcome) {
        let Some(pending) = self.pending_accounts.remove(&client) else {
            return;
        };
        if let Some(state) = self.clients.get_mut(&client) {
            state.awaiting_account = false;
        }
        let answer = match (pending, outcome) {
            (Pending::Register { key, name }, AccountOutcome::Registered { hash }) => {
                let account = Account { name, hash };
                self.accounts.end_registration(&key, Some(account.clone()));
                Ok((key, account.name))
            }
            (Pending::Register { key, .. }, AccountOutcome::Taken) => {
                self.accounts.end_registration(&key, None);
                Err(ChatError::NameAlreadyRegistered)
            }
            (Pending::Register { key, .. }, _) => {
                self.accounts.end_registration(&key, None);
                Err(ChatError::AccountsUnavailable)
            }
            (Pending::Login { key, address }, AccountOutcome::Verified(ok)) => {
                let account = self.accounts.get(&key).map(|a| a.name.clone());
                let ok = ok && account.is_some();
                self.logins.record(now, address, &key, ok);
                match account {
                    Some(name) if ok => Ok((key, name)),
                    _ => Err(ChatError::LoginFailed),
                }
            }
            (Pending::Password { key, address }, AccountOutcome::PasswordChanged { hash }) => {
                self.logins.record(now, address, &key, true);
                self.accounts.set_hash(&key, hash);
                let name = self.clients.get(&client).and_then(|c| c.username.clone());
                if let Some(name) = name {
                    self.line.clear();
                    wire::encode_welcome(&name, &mut self.line);
                    self.send_private(now, client);
                }
                return;
            }
            (Pending::Password { key, address }, AccountOutcome::Verified(false)) => {
                self.logins.record(now, address, &key, false);
                Err(ChatError::LoginFailed)
            }
            (
                Pending::Login { address, .. } | Pending::Password { address, .. },
                AccountOutcome::Failed
                | AccountOutcome::Registered { .. }
                | AccountOutcome::Taken
                | AccountOutcome::PasswordChanged { .. }
                | AccountOutcome::Verified(true),
            ) => {
                self.logins.abandon(address);
                Err(ChatError::AccountsUnavailable)
            }
        };
        match answer {
            Ok((key, name)) => self.log_in(now, client, key, name),
            Err(error) => self.refuse(now, client, error),
        }
    }

    fn start_account_work(
        &mut self,
        now: Instant,
        client: ClientId,
        request: AccountRequest<'_>,
    ) -> Result<AccountWork, ChatError> {
        if self.config.accounts == AccountsMode::Off {
            return Err(ChatError::AccountsOff);
        }
        let state = self.clients.get(&client).ok_or(ChatError::NotLoggedIn)?;
        if state.awaiting_account {
            return Err(ChatError::RequestPending);
        }
        let joined = state.username.is_some();
        let account = state.account.clone();
        let peer = state.peer;
        if !peer.carries_passwords_safely() && !self.config.allow_insecure_login {
            return Err(ChatError::InsecureLogin);
        }
        let (pending, work) = match request {
            AccountRequest::Register { username, password } => {
                if joined {
                    return Err(ChatError::AlreadyJoined);
                }
                check_account_name(username)?;
                check_password(password)?;
                let key = account_key(username);
                if self.accounts.is_claimed(&key) {
                    return Err(ChatError::NameAlreadyRegistered);
                }
                if self.is_held(&key) {
                    return Err(ChatError::UsernameTaken);
                }
                if !self.registrations.allow(now, peer.address) {
                    return Err(ChatError::TooManyRegistrations);
                }
                self.accounts.begin_registration(&key);
                let name = display_name(username);
                let work = AccountWork::Register {
                    client,
                    key: key.clone(),
                    name: name.clone(),
                    password: Secret::new(password),
                };
                (Pending::Register { key, name }, work)
            }
            AccountRequest::Login { username, password } => {
                if joined {
                    return Err(ChatError::AlreadyJoined);
                }
                let key = account_key(username);
                let due = self.admit_login(now, peer.address, &key)?;
                let hash = self.accounts.get(&key).map(|a| a.hash.clone());
                let work = AccountWork::Verify {
                    client,
                    hash,
                    password: Secret::new(password),
                    due,
                };
                let pending = Pending::Login {
                    key,
                    address: peer.address,
                };
                (pending, work)
            }
            AccountRequest::Password { old, new } => {
                let key = account.ok_or(ChatError::NotLoggedIn)?;
                check_password(new)?;
                let hash = self
                    .accounts
                    .get(&key)
                    .map(|a| a.hash.clone())
                    .ok_or(ChatError::NotLoggedIn)?;
                let due = self.admit_login(now, peer.address, &key)?;
                let work = AccountWork::ChangePassword {
                    client,
                    key: key.clone(),
                    hash,
                    old: Secret::new(old),
                    new: Secret::new(new),
                    due,
                };
                let pending = Pending::Password {
                    key,
                    address: peer.address,
                };
                (pending, work)
            }
        };
        if let Some(state) = self.clients.get_mut(&client) {
            state.awaiting_account = true;
        }
        self.pending_accounts.insert(client, pending);
        Ok(work)
    }

    fn admit_login(
        &mut self,
        now: Instant,
        address: IpAddr,
        key: &str,
    ) -> Result<Instant, ChatError> {
        match self.logins.admit(now, address, key) {
            Admission::At(due) => Ok(due),
            Admission::Refused => Err(ChatError::TooManyAttempts),
            Admission::Busy => Err(ChatError::AccountsUnavailable),
        }
    }

    /// `client` proved it holds the account `key`, shown as `name`: it is welcomed and joins
    /// the room under that name, unless another connection holds it.
    fn log_in(&mut self, now: Instant, client: ClientId, key: String, name: String) {
        if !self.clients.contains_key(&client) {
            return;
        }
        if self.is_held(&key) {
            return self.refuse(now, client, ChatError::UsernameTaken);
        }
        self.join_when_claimed(now, client, key, Join::Account { name });
    }
}
