//! The datagram protocol between the web app and the socket server (SPEC "Datagram protocol").
//!
//! Owns the wire format ([`codec`]). Like the rest of `ferry-core` it never opens a socket,
//! reads a clock or writes a file.

pub mod codec;

pub use codec::{
    decode, encode, encoded_len, max_message_datagram_len, Datagram, DatagramError, MessageId,
    MAX_DATAGRAM_SIZE, MAX_ID_LEN,
};
