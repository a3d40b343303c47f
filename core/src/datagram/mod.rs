//! The datagram protocol between the web app and the socket server (SPEC "Datagram protocol").
//!
//! Owns the wire format ([`codec`]), the web app's retransmit-until-acknowledged machine
//! ([`sender`]) and the socket server's store-once, ack-every-copy machine ([`receiver`]). Like
//! the rest of `ferry-core` it never opens a socket, reads a clock or writes a file: the shells
//! move the bytes, pass `now` in and store the records the receiver asks for.

pub mod codec;
pub mod drops;
pub mod error;
pub mod receiver;
pub mod sender;
pub mod stats;

#[cfg(test)]
mod simulation;

pub use codec::{
    decode, encode, encoded_len, max_message_datagram_len, Datagram, DatagramError, MessageId,
    MAX_DATAGRAM_SIZE, MAX_ID_LEN,
};
pub use drops::DropReporter;
pub use receiver::{DatagramReceiver, ReceiverConfig, ReceiverEvent, StoreToken, Transmit};
pub use sender::{DatagramSender, SendError, SenderConfig, SenderEvent};
pub use stats::{DropCounts, ReceiverStats, SenderStats};
