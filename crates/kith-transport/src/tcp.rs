//! Plain TCP: loopback for tests, LAN later.
//!
//! Dials IP literals only (a [`SocketAddr`] cannot hold a name, so nothing is
//! ever resolved) and listens on one configured address.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, instrument, trace};

use crate::listener::{ACCEPT_QUEUE, Listener};
use crate::status::{ServiceState, TransportStatus};
use crate::{BoxStream, DialTarget, Error, ServiceSpec, Transport, TransportKind};

/// How long a TCP dial may take by default.
pub const TCP_DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts, and the pause between them, to bind a port that is still in
/// use (by a listener of ours that is closing).
const REBIND_TRIES: u32 = 20;
const REBIND_PAUSE: Duration = Duration::from_millis(50);

/// The TCP transport.
#[derive(Debug)]
pub struct TcpTransport {
    /// Where [`Transport::listen`] binds.
    listen: Option<SocketAddr>,
    /// Limit for one dial.
    dial_timeout: Duration,
    /// Shared with every accept task (they add and remove their service entry).
    status: Arc<watch::Sender<TransportStatus>>,
}

impl TcpTransport {
    /// A TCP transport that listens on `listen` (port 0 picks a free port;
    /// `None` makes a dial-only transport).
    pub fn new(listen: Option<SocketAddr>) -> Self {
        let (status, _) = watch::channel(TransportStatus {
            bootstrap_percent: 100,
            phase: "ready".into(),
            ready: true,
            ..Default::default()
        });
        TcpTransport {
            listen,
            dial_timeout: TCP_DIAL_TIMEOUT,
            status: Arc::new(status),
        }
    }

    /// Use another dial timeout.
    #[must_use]
    pub fn with_dial_timeout(mut self, timeout: Duration) -> Self {
        self.dial_timeout = timeout;
        self
    }

    #[instrument(skip_all, level = "trace")]
    async fn dial_inner(&self, target: &DialTarget) -> Result<BoxStream, Error> {
        let addr = target.tcp.ok_or(Error::NoRoute {
            reason: "the peer has no TCP address",
        })?;
        check_hint(addr)?;
        let stream = tokio::time::timeout(self.dial_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| Error::Timeout {
                action: "connecting over TCP",
                timeout: self.dial_timeout,
                tor_ready: true,
            })?
            .map_err(|source| Error::Connect { source })?;
        // Small records should leave at once; latency matters more than packets.
        let _ = stream.set_nodelay(true);
        trace!(peer = %target.address.redacted(), "tcp stream open");
        Ok(Box::new(stream))
    }

    #[instrument(skip_all, level = "trace")]
    async fn listen_inner(&self, spec: ServiceSpec) -> Result<Listener, Error> {
        let addr = self.listen.ok_or(Error::NoListenAddress)?;
        // A listener of ours that just stopped on this port (going offline
        // and online again) closes its socket in its own task: give it a
        // moment before calling the port taken.
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(addr).await {
                Ok(l) => break l,
                Err(source)
                    if source.kind() == std::io::ErrorKind::AddrInUse
                        && addr.port() != 0
                        && tries < REBIND_TRIES =>
                {
                    tries += 1;
                    tokio::time::sleep(REBIND_PAUSE).await;
                }
                Err(source) => return Err(Error::Bind { addr, source }),
            }
        };
        let local = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let nickname = spec.nickname;
        drop(spec.identity);
        let (tx, rx) = mpsc::channel(ACCEPT_QUEUE);
        let (stop_tx, stop_rx) = oneshot::channel();
        self.status.send_modify(|s| {
            s.upsert_service(ServiceState {
                nickname: nickname.clone(),
                published: true,
                state: "Listening".into(),
                problem: None,
            });
        });
        debug!(%local, "tcp listener started");
        tokio::spawn(accept_loop(
            listener,
            tx,
            stop_rx,
            Arc::clone(&self.status),
            nickname.clone(),
        ));
        Ok(Listener::new(rx, Some(local), nickname, stop_tx))
    }
}

/// Refuse addresses that cannot be a peer.
fn check_hint(addr: SocketAddr) -> Result<(), Error> {
    let ip = addr.ip();
    if addr.port() == 0 {
        return Err(Error::NoRoute { reason: "port 0" });
    }
    if ip.is_unspecified() || ip.is_multicast() {
        return Err(Error::NoRoute {
            reason: "unspecified or multicast address",
        });
    }
    if let std::net::IpAddr::V4(v4) = ip
        && v4.is_broadcast()
    {
        return Err(Error::NoRoute {
            reason: "broadcast address",
        });
    }
    Ok(())
}

/// Accept until the listener is dropped (its stop sender closes) or the
/// queue's receiver is gone; then remove the status entry.
async fn accept_loop(
    listener: TcpListener,
    tx: mpsc::Sender<BoxStream>,
    mut stop: oneshot::Receiver<()>,
    status: Arc<watch::Sender<TransportStatus>>,
    nickname: String,
) {
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    // Back-pressure: while the queue is full we stop accepting.
                    tokio::select! {
                        _ = &mut stop => break,
                        sent = tx.send(Box::new(stream)) => if sent.is_err() { break },
                    }
                }
                Err(e) => {
                    // Usually EMFILE or a connection reset before accept: pause, go on.
                    debug!("tcp accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    status.send_modify(|s| s.remove_service(&nickname));
    debug!("tcp listener stopped");
}

impl Transport for TcpTransport {
    fn kind(&self) -> TransportKind {
        TransportKind::Tcp
    }

    fn dial<'a>(&'a self, target: &'a DialTarget) -> BoxFuture<'a, Result<BoxStream, Error>> {
        self.dial_inner(target).boxed()
    }

    fn listen(&self, spec: ServiceSpec) -> BoxFuture<'_, Result<Listener, Error>> {
        self.listen_inner(spec).boxed()
    }

    fn status(&self) -> watch::Receiver<TransportStatus> {
        self.status.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;

    fn loopback() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 0))
    }

    #[tokio::test]
    async fn tcp_conformance() {
        let a = TcpTransport::new(Some(loopback()));
        let b = TcpTransport::new(Some(loopback()));
        conformance::run(&a, &b, conformance::Options::tcp()).await;
    }

    #[tokio::test]
    async fn tcp_conformance_as_trait_objects() {
        let a: Arc<dyn Transport> = Arc::new(TcpTransport::new(Some(loopback())));
        let b: Arc<dyn Transport> = Arc::new(TcpTransport::new(None));
        conformance::run(a.as_ref(), b.as_ref(), conformance::Options::tcp()).await;
    }

    #[tokio::test]
    async fn bad_hints_refused() {
        let t = TcpTransport::new(None);
        let address = kith_core::IdentityKeypair::from_seed(&[1; 32]).address();
        for hint in [
            "0.0.0.0:80",
            "127.0.0.1:0",
            "224.0.0.1:80",
            "255.255.255.255:80",
            "[::]:80",
        ] {
            let target = DialTarget {
                address,
                tcp: Some(hint.parse().unwrap()),
                discovery: None,
            };
            let e = t.dial(&target).await.err().unwrap();
            assert!(matches!(e, Error::NoRoute { .. }), "{hint}: {e}");
        }
    }

    #[tokio::test]
    async fn listen_without_address_is_typed() {
        let t = TcpTransport::new(None);
        let spec = ServiceSpec {
            identity: kith_core::IdentityKeypair::from_seed(&[1; 32]),
            nickname: "x".into(),
            discovery: None,
        };
        let e = t.listen(spec).await.err().unwrap();
        assert_eq!(e.kind(), kith_core::ErrorKind::BadLocalInput);
    }

    #[tokio::test]
    async fn bind_conflict_is_typed() {
        let a = TcpTransport::new(Some(loopback()));
        let spec = |n: &str| ServiceSpec {
            identity: kith_core::IdentityKeypair::from_seed(&[1; 32]),
            nickname: n.into(),
            discovery: None,
        };
        let l = a.listen(spec("one")).await.unwrap();
        let b = TcpTransport::new(l.local_tcp_addr());
        let e = b.listen(spec("two")).await.err().unwrap();
        assert!(matches!(e, Error::Bind { .. }), "{e}");
    }
}
