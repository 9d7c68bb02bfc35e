//! The tunnel's TLS session: the shared framed stream on the client side.

pub use crate::tls::framed::{Broken, Reading};

/// How much one turn of the loop reads from the session before it serves the tun again.
pub const READ_BUDGET_BYTES: usize = 256 * 1024;

pub type Link = crate::tls::framed::Framed<rustls::ClientConnection>;
