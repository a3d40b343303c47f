//! [`AccountTable`]: the registered accounts as the hub knows them, by their compared form
//! ([`super::account_key`]), and the names being registered right now.
//!
//! Loaded from the store when the server starts and kept up to date as registrations and
//! password changes are stored; the store stays the truth (its unique index decides between
//! two servers sharing a database), this table spares a round trip per guest name.

use std::collections::{HashMap, HashSet};

/// One registered account: its name as shown, and its password's hash (a PHC string).
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub hash: String,
}

/// Every registered account, and the keys whose registration is under way.
#[derive(Debug, Default)]
pub struct AccountTable {
    accounts: HashMap<String, Account>,
    registering: HashSet<String>,
}

impl AccountTable {
    /// The accounts of a store, by key.
    pub fn new(accounts: impl IntoIterator<Item = (String, Account)>) -> AccountTable {
        AccountTable {
            accounts: accounts.into_iter().collect(),
            registering: HashSet::new(),
        }
    }

    /// The account under `key`.
    pub fn get(&self, key: &str) -> Option<&Account> {
        self.accounts.get(key)
    }

    /// Whether `key` is registered or being registered: a guest may not take it.
    pub fn is_claimed(&self, key: &str) -> bool {
        self.accounts.contains_key(key) || self.registering.contains(key)
    }

    /// Starts registering `key`: false when it is claimed already.
    pub fn begin_registration(&mut self, key: &str) -> bool {
        if self.is_claimed(key) {
            return false;
        }
        self.registering.insert(key.to_owned());
        true
    }

    /// The registration of `key` ended: stored as `account`, or (`None`) not.
    pub fn end_registration(&mut self, key: &str, account: Option<Account>) {
        self.registering.remove(key);
        if let Some(account) = account {
            self.accounts.insert(key.to_owned(), account);
        }
    }

    /// The account under `key` now has the password hash `hash`.
    pub fn set_hash(&mut self, key: &str, hash: String) {
        if let Some(account) = self.accounts.get_mut(key) {
            account.hash = hash;
        }
    }

    /// How many accounts are registered.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether nobody registered.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A hash is not a password, but it is what an attacker would crack offline.
        f.debug_struct("Account")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_being_registered_is_claimed_until_it_ends() {
        let mut table = AccountTable::default();
        assert!(table.begin_registration("ann"));
        assert!(!table.begin_registration("ann"));
        assert!(table.is_claimed("ann"));
        table.end_registration("ann", None);
        assert!(!table.is_claimed("ann"));
        assert!(table.begin_registration("ann"));
        let account = Account {
            name: "Ann".into(),
            hash: "h".into(),
        };
        table.end_registration("ann", Some(account));
        assert_eq!(table.get("ann").map(|a| a.name.as_str()), Some("Ann"));
        table.set_hash("ann", "h2".into());
        assert_eq!(table.get("ann").map(|a| a.hash.as_str()), Some("h2"));
        assert_eq!(table.len(), 1);
    }
}
