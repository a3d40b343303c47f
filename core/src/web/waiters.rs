//! [`Waiters`]: which request waits on which message forwarded to the socket server, from the
//! moment the app asks to forward it until the sender settles it, so both shells join a request
//! to its outcome the same way.
//!
//! A shell names each waiting request with a key of its own (a connection, a reply channel).
//! [`Waiters::submit`] hands the message to the `DatagramSender` under a fresh tag; after every
//! input to the sender, [`Waiters::poll_settled`] turns its events into (key, outcome) pairs,
//! which [`super::MessageApp::forwarded`] turns into the answer. A request whose connection went
//! away is [`Waiters::cancel`]led: its message still settles in the sender, nobody hears of it.

use std::collections::HashMap;
use std::time::Instant;

use super::{ForwardOutcome, Submission};
use crate::datagram::{DatagramSender, SenderEvent};

/// The requests waiting on forwarded messages, by the sender's tag.
#[derive(Debug)]
pub struct Waiters<K> {
    waiting: HashMap<u64, K>,
    next_tag: u64,
}

/// Names one waiting request, to cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket(u64);

impl<K> Default for Waiters<K> {
    fn default() -> Self {
        Waiters {
            waiting: HashMap::new(),
            next_tag: 0,
        }
    }
}

impl<K> Waiters<K> {
    /// Forwards the submitted message for the request `key` (again under the id of its earlier
    /// try, when the submission names one the sender knows). `Ok` while it waits; `Err` with the
    /// outcome when the sender refuses it at once (too large, too many in flight), to answer now.
    pub fn submit(
        &mut self,
        sender: &mut DatagramSender,
        now: Instant,
        submission: Submission,
        key: K,
    ) -> Result<Ticket, ForwardOutcome> {
        self.next_tag += 1;
        let tag = self.next_tag;
        match &submission.retry {
            Some(id) => sender.send_again(now, submission.message, id, tag)?,
            None => sender.send(now, submission.message, tag)?,
        };
        self.waiting.insert(tag, key);
        Ok(Ticket(tag))
    }

    /// The next request whose message settled, with how: call after every input to `sender`
    /// until it returns `None`. Events of cancelled requests are dropped here.
    pub fn poll_settled(&mut self, sender: &mut DatagramSender) -> Option<(K, ForwardOutcome)> {
        while let Some(event) = sender.poll_event() {
            let (tag, outcome) = match event {
                SenderEvent::Delivered { tag } => (tag, ForwardOutcome::Stored),
                SenderEvent::Failed { tag } => {
                    (tag, ForwardOutcome::NotAcknowledged(sender.retry_of(tag)))
                }
            };
            if let Some(key) = self.waiting.remove(&tag) {
                return Some((key, outcome));
            }
        }
        None
    }

    /// Forgets the request of `ticket` (its connection is gone).
    pub fn cancel(&mut self, ticket: Ticket) {
        self.waiting.remove(&ticket.0);
    }

    /// Whether no request waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datagram::SenderConfig;
    use crate::testing::epoch;

    use crate::message::Message;

    fn message(text: &str) -> Submission {
        Submission {
            message: Message::new("ann".into(), text.into()).expect("a valid message"),
            retry: None,
        }
    }

    fn ack_everything(sender: &mut DatagramSender, now: Instant) {
        let mut out = Vec::new();
        while let Some(len) = sender.poll_transmit(&mut out) {
            let datagram = crate::datagram::decode(&out[..len]).expect("the sender's datagram");
            let crate::datagram::Datagram::Message { id: Some(id), .. } = datagram else {
                panic!("a message with an id: {datagram:?}");
            };
            let mut ack = Vec::new();
            crate::datagram::encode(&crate::datagram::Datagram::Ack(id), &mut ack);
            sender.handle_datagram(now, &ack);
            out.clear();
        }
    }

    #[test]
    fn each_request_hears_its_own_outcome() {
        let now = epoch();
        let mut sender = DatagramSender::new(SenderConfig::default(), now);
        let mut waiters = Waiters::default();
        waiters
            .submit(&mut sender, now, message("one"), "first")
            .unwrap();
        waiters
            .submit(&mut sender, now, message("two"), "second")
            .unwrap();
        ack_everything(&mut sender, now);
        let mut settled = Vec::new();
        while let Some(pair) = waiters.poll_settled(&mut sender) {
            settled.push(pair);
        }
        settled.sort_by_key(|(key, _)| *key);
        assert_eq!(
            settled,
            [
                ("first", ForwardOutcome::Stored),
                ("second", ForwardOutcome::Stored)
            ]
        );
        assert!(waiters.is_empty());
    }

    #[test]
    fn a_message_never_acknowledged_fails_at_the_deadline() {
        let now = epoch();
        let config = SenderConfig::default();
        let deadline = now + config.ack_timeout;
        let mut sender = DatagramSender::new(config, now);
        let mut waiters = Waiters::default();
        waiters
            .submit(&mut sender, now, message("lost"), 7)
            .unwrap();
        while let Some(due) = sender.poll_timeout().filter(|due| *due <= deadline) {
            sender.handle_timeout(due);
            let mut out = Vec::new();
            while sender.poll_transmit(&mut out).is_some() {
                out.clear();
            }
        }
        let Some((7, ForwardOutcome::NotAcknowledged(Some(retry)))) =
            waiters.poll_settled(&mut sender)
        else {
            panic!("the request hears of the failure, with the try to send again");
        };
        assert_eq!(retry.message.message, "lost");
    }

    #[test]
    fn a_cancelled_request_hears_nothing() {
        let now = epoch();
        let mut sender = DatagramSender::new(SenderConfig::default(), now);
        let mut waiters = Waiters::default();
        let ticket = waiters
            .submit(&mut sender, now, message("gone"), 1)
            .unwrap();
        waiters.cancel(ticket);
        ack_everything(&mut sender, now);
        assert_eq!(waiters.poll_settled(&mut sender), None);
        assert!(waiters.is_empty());
    }

    #[test]
    fn a_message_too_large_is_answered_at_once() {
        let now = epoch();
        let mut sender = DatagramSender::new(SenderConfig::default(), now);
        let mut waiters = Waiters::default();
        let huge = message(&"x".repeat(crate::datagram::MAX_DATAGRAM_SIZE));

        assert_eq!(
            waiters.submit(&mut sender, now, huge, 1),
            Err(ForwardOutcome::TooLarge)
        );
        assert!(waiters.is_empty());
    }
}
