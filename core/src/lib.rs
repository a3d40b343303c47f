//! `ferry-core`: every protocol decision of ferry, as sans-io state machines and pure codecs.
//!
//! This crate never touches the operating system. It opens no sockets, reads no files, starts no
//! threads, reads no environment and never asks a clock for the time: bytes and time values go in,
//! events, bytes to send and the next deadline come out. Monotonic time is a
//! [`std::time::Instant`] passed as `now`; wall-clock time (the `Date` header, storage keys) is a
//! [`time::OffsetDateTime`] passed only to the calls that write it out. The same inputs always
//! give the same outputs, so any behaviour can be replayed in a unit test without sockets or sleeps.
//! One exception, in [`tls`]: rustls draws the randomness of handshakes and keys from the
//! operating system (through ring), since cryptographic randomness must not be replayable; what
//! a TLS session delivers to the machines above it is still the same for the same inputs.
//!
//! The shells (`ferry` on mio, `ferry-std` on std threads) only move bytes between the OS and
//! these machines, so both run the same tested logic.

pub mod chat;
#[doc(hidden)]
pub mod check;
pub mod datagram;
pub mod files;
pub mod form;
pub mod http;
pub mod limits;
pub mod message;
pub mod tls;
pub mod web;
pub mod ws;

#[cfg(test)]
mod testing;

pub use message::{Message, MessageError};
