//! The datagram protocol between the web app and the socket server (SPEC "Datagram protocol").
//!
//! Owns the wire format ([`codec`]), its framing as lines over a stream ([`lines`], for
//! `--transport tcp`), the web app's retransmit-until-acknowledged machine ([`sender`]), when
//! the web app reconnects its stream ([`reconnect`]) and the socket server's store-once,
//! ack-every-copy machine ([`receiver`]). Like the rest of `ferry-core` it never opens a socket,
//! reads a clock or writes a file: the shells move the bytes, pass `now` in and store the
//! records the receiver asks for.

pub mod codec;
pub mod drops;
pub mod lines;
pub mod receiver;
pub mod reconnect;
pub mod sender;
pub mod stats;
pub mod target;
pub mod transport;

#[cfg(test)]
mod simulation;

pub use codec::{
    decode, encode, encoded_len, max_message_datagram_len, Datagram, DatagramError, MessageId,
    MAX_DATAGRAM_SIZE, MAX_ID_LEN,
};
pub use drops::DropReporter;
pub use lines::{push_line, LineError, LineFramer, MAX_LINE_LEN};
pub use receiver::{DatagramReceiver, ReceiverConfig, ReceiverEvent, StoreToken, Transmit};
pub use reconnect::{Reconnect, ReconnectConfig};
pub use sender::{id_prefix, DatagramSender, Link, Retry, SendError, SenderConfig, SenderEvent};
pub use stats::{DropCounts, ReceiverStats, SenderStats};
pub use target::{forward_target, ForwardTarget};
pub use transport::{Transport, MAX_STREAM_PEERS, STREAM_WRITE_TIMEOUT};
