//! The web app's handle on its forwarding thread, whichever transport that thread drives
//! (`udp.rs` or `tcp.rs`): connection threads submit a message and wait for its outcome.
//!
//! Owns the channel between them and the bookkeeping of who waits on which message; never
//! decides when a message is delivered or failed (the core's `DatagramSender` does).

use std::sync::mpsc::{self, Sender};
use std::time::Duration;

use ferry_core::datagram::DatagramSender;
use ferry_core::web::{ForwardOutcome, Submission, Waiters};

/// The web app's handle on the forwarding thread; cloned into every connection thread.
#[derive(Clone)]
pub struct Forwarder {
    inputs: Sender<ForwarderInput>,
    /// Past the core's own deadline, a caller stops waiting (the thread has gone).
    give_up_after: Duration,
}

/// What the forwarding thread is told, by connection threads and by its reader threads.
pub enum ForwarderInput {
    /// Forward `message` and send its outcome to `reply`.
    Submit {
        submission: Submission,
        reply: Sender<ForwardOutcome>,
    },
    /// Bytes from the socket server: a datagram, or a read from stream `link`.
    Received { link: u64, bytes: Vec<u8> },
    /// Stream `link` reached its end or failed.
    Closed { link: u64 },
    /// A datagram was refused (ICMP "port unreachable"): nothing listens at the address.
    Refused,
    /// End once the messages in flight are settled.
    Stop,
}

impl Forwarder {
    /// The handle on a thread that reads `inputs`' other end, with a sender of `ack_timeout`.
    pub fn new(inputs: Sender<ForwarderInput>, ack_timeout: Duration) -> Forwarder {
        Forwarder {
            inputs,
            give_up_after: ack_timeout + Duration::from_secs(1),
        }
    }

    /// Forwards one message and waits for the outcome.
    pub fn forward(&self, submission: Submission) -> ForwardOutcome {
        let (reply, outcome) = mpsc::channel();
        if self
            .inputs
            .send(ForwarderInput::Submit { submission, reply })
            .is_err()
        {
            return ForwardOutcome::NotAcknowledged(None);
        }
        outcome
            .recv_timeout(self.give_up_after)
            .unwrap_or(ForwardOutcome::NotAcknowledged(None))
    }

    /// Asks the forwarding thread to end once its in-flight messages are settled.
    pub fn stop(&self) {
        let _ = self.inputs.send(ForwarderInput::Stop);
    }
}

/// The connection threads waiting on the sender's messages: the core's join of a request to
/// its message, each request named by the channel its thread waits on.
pub type Waiting = Waiters<Sender<ForwardOutcome>>;

/// Answers the callers of every message the sender says has ended.
pub fn settle(waiting: &mut Waiting, sender: &mut DatagramSender) {
    while let Some((reply, outcome)) = waiting.poll_settled(sender) {
        let _ = reply.send(outcome);
    }
}

/// Hands the submitted message to `sender`; `reply` hears the outcome now (refused) or once it ends.
pub fn submit(
    waiting: &mut Waiting,
    sender: &mut DatagramSender,
    now: std::time::Instant,
    submission: Submission,
    reply: Sender<ForwardOutcome>,
) {
    if let Err(outcome) = waiting.submit(sender, now, submission, reply.clone()) {
        let _ = reply.send(outcome);
    }
}
