//! [`SeenMessages`]: the messages a client has shown lately, so the history a server replays
//! after a reconnect does not print them a second time (issue 17).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};

/// Hashes of the last [`MAX_SEEN`] messages shown, oldest first.
#[derive(Debug, Clone, Default)]
pub(super) struct SeenMessages {
    order: VecDeque<u64>,
    hashes: HashSet<u64>,
}

impl SeenMessages {
    /// Remembers a message; true when it was already among those remembered.
    pub(super) fn check_and_remember(
        &mut self,
        username: &str,
        message: &str,
        time: Option<&str>,
    ) -> bool {
        // DefaultHasher::new has fixed keys: the same message hashes the same way every time.
        let mut hasher = DefaultHasher::new();
        (username, message, time).hash(&mut hasher);
        let hash = hasher.finish();
        if self.hashes.contains(&hash) {
            return true;
        }
        if self.order.len() == MAX_SEEN {
            if let Some(oldest) = self.order.pop_front() {
                self.hashes.remove(&oldest);
            }
        }
        self.order.push_back(hash);
        self.hashes.insert(hash);
        false
    }
}

/// More than any server's history (at most 1000 messages), so a whole replay is recognised.
const MAX_SEEN: usize = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_last_thousand_messages() {
        let mut seen = SeenMessages::default();
        let time = Some("2026-12-05T17:20:00.000001Z");
        assert!(!seen.check_and_remember("ann", "hi", time));
        assert!(seen.check_and_remember("ann", "hi", time));
        assert!(!seen.check_and_remember("ann", "hi", None));
        assert!(!seen.check_and_remember("bob", "hi", time));
        for n in 0..MAX_SEEN {
            seen.check_and_remember("cid", &n.to_string(), time);
        }
        assert_eq!(seen.order.len(), MAX_SEEN);
        assert_eq!(seen.hashes.len(), MAX_SEEN);
        assert!(!seen.check_and_remember("ann", "hi", time));
        assert!(seen.check_and_remember("cid", "999", time));
    }
}
