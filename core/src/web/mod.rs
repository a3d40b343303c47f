//! The message web app (SPEC "Message web app"): what each request to port 3000 gets, and the
//! message a form submits, decided once for both shells.
//!
//! - [`site`]: the static folder held in memory, and which pages it must have.
//! - [`router`]: which (method, target) names a page, the form, or nothing.
//! - [`app`]: [`MessageApp`], a whole request in, an answer (or a message to forward) out.
//! - [`waiters`]: [`Waiters`], which request waits on which forwarded message, until the
//!   socket server acknowledges it or the sender gives up.
//!
//! The message it forwards ([`crate::message`]) and the form decoder ([`crate::form`]) sit at
//! the crate's root: the socket server takes both too (a datagram may be a bare urlencoded
//! form, as the original app sent them).
//!
//! It never forwards anything itself: the shell hands the message to the `DatagramSender` (see
//! [`crate::datagram`]) through [`Waiters`], and gives the outcome back to the app.

pub mod app;
mod pages;
pub mod router;
pub mod site;
pub mod waiters;

use std::net::SocketAddr;

pub use app::{AppAction, ForwardOutcome, MessageApp, Submission};
pub use site::{Site, SiteError, StaticFile};
pub use waiters::{Ticket, Waiters};

/// The line the web app prints once it listens.
pub fn listening_line(address: SocketAddr) -> String {
    format!("web app listening on http://{address}")
}
