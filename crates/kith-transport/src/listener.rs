//! The receiving end of [`crate::Transport::listen`].

use std::net::SocketAddr;

use tokio::sync::{mpsc, oneshot};

use crate::BoxStream;

/// How many accepted streams may wait for [`Listener::accept`] before the
/// listener stops accepting more (back-pressure, not loss).
pub(crate) const ACCEPT_QUEUE: usize = 16;

/// Incoming streams for one listen call. Dropping it stops the listener.
pub struct Listener {
    /// Accepted streams, from the transport's accept task.
    incoming: mpsc::Receiver<BoxStream>,
    /// The bound TCP address, for the TCP transport.
    local_tcp_addr: Option<SocketAddr>,
    /// The node's name for this listener.
    nickname: String,
    /// Dropped with the listener: the accept task sees it and stops.
    _stop: oneshot::Sender<()>,
}

impl Listener {
    pub(crate) fn new(
        incoming: mpsc::Receiver<BoxStream>,
        local_tcp_addr: Option<SocketAddr>,
        nickname: String,
        stop: oneshot::Sender<()>,
    ) -> Self {
        Listener {
            incoming,
            local_tcp_addr,
            nickname,
            _stop: stop,
        }
    }

    /// The next incoming stream; `None` once the listener has stopped
    /// (transport shut down, or the service failed for good).
    ///
    /// Cancel safe: a stream is never lost by dropping this future.
    pub async fn accept(&mut self) -> Option<BoxStream> {
        self.incoming.recv().await
    }

    /// The TCP address actually bound (with the real port if 0 was asked
    /// for); `None` for Tor.
    pub fn local_tcp_addr(&self) -> Option<SocketAddr> {
        self.local_tcp_addr
    }

    /// The nickname this listener was started with.
    pub fn nickname(&self) -> &str {
        &self.nickname
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("nickname", &self.nickname)
            .field("local_tcp_addr", &self.local_tcp_addr)
            .finish_non_exhaustive()
    }
}
