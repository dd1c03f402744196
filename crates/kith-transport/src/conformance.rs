//! One conformance suite that every transport runs (TCP here, Tor in the
//! workspace's end-to-end tests). Compiled for this crate's tests and with
//! the `conformance` feature; it panics on failure, like any test.

#![allow(clippy::missing_panics_doc)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kith_core::{ErrorKind, IdentityKeypair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{BoxStream, DialTarget, Error, Listener, ServiceSpec, Transport, TransportKind};

/// What a transport is expected to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Whether a stream can be half-closed (TCP can; a Tor stream cannot:
    /// its `END` closes both directions).
    pub half_close: bool,
    /// How many streams to run at once.
    pub concurrent: usize,
    /// Bytes each concurrent stream echoes.
    pub payload: usize,
    /// A target nobody serves, and how soon dialing it must fail.
    pub dead: Option<(DialTarget, Duration)>,
    /// How long one dial (with retries) may take before the suite gives up.
    pub dial_patience: Duration,
}

impl Options {
    /// Expectations for TCP on loopback.
    pub fn tcp() -> Self {
        Options {
            half_close: true,
            concurrent: 32,
            payload: 64 * 1024,
            dead: Some((dead_tcp_target(), Duration::from_secs(2))),
            dial_patience: Duration::from_secs(5),
        }
    }

    /// Expectations for Tor: no half-close, fewer and smaller streams.
    pub fn tor() -> Self {
        Options {
            half_close: false,
            concurrent: 4,
            payload: 16 * 1024,
            dead: None,
            dial_patience: Duration::from_secs(180),
        }
    }
}

/// A loopback port that was just free: nothing listens there.
fn dead_tcp_target() -> DialTarget {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
    let addr = l.local_addr().expect("probe port address");
    drop(l);
    DialTarget {
        address: IdentityKeypair::from_seed(&[0xde; 32]).address(),
        tcp: Some(addr),
        discovery: None,
    }
}

/// Dial, retrying until `patience` runs out (an onion service may need a
/// while before its descriptor is reachable).
pub async fn dial_patiently(
    t: &dyn Transport,
    target: &DialTarget,
    patience: Duration,
) -> BoxStream {
    let start = Instant::now();
    loop {
        match t.dial(target).await {
            Ok(s) => return s,
            Err(e) if start.elapsed() < patience => {
                tracing::debug!("dial failed, retrying: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("dial failed for {:?}: {e}", start.elapsed()),
        }
    }
}

async fn accept(l: &mut Listener) -> BoxStream {
    tokio::time::timeout(Duration::from_secs(60), l.accept())
        .await
        .expect("accept timed out")
        .expect("listener ended")
}

/// Run the suite: `server` listens, `client` dials it.
pub async fn run(server: &dyn Transport, client: &dyn Transport, opts: Options) {
    let identity = IdentityKeypair::from_seed(&[0x4b; 32]);
    let address = identity.address();
    let mut listener = server
        .listen(ServiceSpec {
            identity,
            nickname: "conformance".into(),
            discovery: None,
        })
        .await
        .expect("listen");
    let status = server.status();
    assert!(
        status
            .borrow()
            .services
            .iter()
            .any(|s| s.nickname == "conformance"),
        "listener missing from status"
    );
    let local: Option<SocketAddr> = listener.local_tcp_addr();
    if server.kind() == TransportKind::Tcp {
        let local = local.expect("a TCP listener knows its address");
        assert_ne!(local.port(), 0, "real port reported");
    }
    let target = DialTarget {
        address,
        tcp: local,
        discovery: None,
    };

    // Bytes both ways.
    let mut out = dial_patiently(client, &target, opts.dial_patience).await;
    let mut inc = accept(&mut listener).await;
    out.write_all(b"ping").await.expect("write ping");
    out.flush().await.expect("flush");
    let mut buf = [0_u8; 4];
    inc.read_exact(&mut buf).await.expect("read ping");
    assert_eq!(&buf, b"ping");
    inc.write_all(b"pong").await.expect("write pong");
    inc.flush().await.expect("flush");
    out.read_exact(&mut buf).await.expect("read pong");
    assert_eq!(&buf, b"pong");

    // Half-close: the dialer finishes sending, then still hears the answer.
    if opts.half_close {
        out.write_all(b"last words").await.expect("write");
        out.shutdown().await.expect("half-close");
        let mut got = Vec::new();
        inc.read_to_end(&mut got).await.expect("read to EOF");
        assert_eq!(got, b"last words");
        inc.write_all(b"heard you")
            .await
            .expect("write after peer's EOF");
        inc.shutdown().await.expect("close");
        let mut got = Vec::new();
        out.read_to_end(&mut got).await.expect("read answer to EOF");
        assert_eq!(got, b"heard you");
    } else {
        // Closing one end ends the other.
        drop(out);
        let mut got = Vec::new();
        let r = tokio::time::timeout(Duration::from_secs(60), inc.read_to_end(&mut got)).await;
        assert!(r.is_ok(), "closing the dialer's end did not end the stream");
    }
    drop(inc);

    // Many streams at once, each echoed.
    let echo = tokio::spawn(async move {
        let mut tasks = Vec::new();
        for _ in 0..opts.concurrent {
            let mut s = accept(&mut listener).await;
            tasks.push(tokio::spawn(async move {
                let mut n = [0_u8; 8];
                s.read_exact(&mut n).await.expect("length");
                let mut body = vec![0_u8; usize::try_from(u64::from_be_bytes(n)).expect("len")];
                s.read_exact(&mut body).await.expect("body");
                s.write_all(&body).await.expect("echo");
                s.flush().await.expect("flush");
                // Wait for the dialer to close, so the echo is never cut short.
                let mut rest = Vec::new();
                let _ = s.read_to_end(&mut rest).await;
            }));
        }
        for t in tasks {
            t.await.expect("echo task");
        }
        listener
    });
    let mut dials = Vec::new();
    for i in 0..opts.concurrent {
        let target = target.clone();
        let payload = opts.payload;
        let patience = opts.dial_patience;
        dials.push(async move {
            let mut s = dial_patiently(client, &target, patience).await;
            let body: Vec<u8> = (0..payload)
                .map(|j| u8::try_from((i * 31 + j) % 251).expect("< 251"))
                .collect();
            s.write_all(&(payload as u64).to_be_bytes())
                .await
                .expect("len");
            s.write_all(&body).await.expect("body");
            s.flush().await.expect("flush");
            let mut back = vec![0_u8; payload];
            s.read_exact(&mut back).await.expect("echo back");
            assert!(back == body, "stream {i}: echo differs");
        });
    }
    futures::future::join_all(dials).await;
    let listener = echo.await.expect("echo server");

    // Nobody there: a typed, prompt failure.
    if let Some((dead, within)) = &opts.dead {
        let start = Instant::now();
        let e = client
            .dial(dead)
            .await
            .err()
            .expect("dial to nobody failed");
        assert_eq!(e.kind(), ErrorKind::PeerUnreachable, "{e}");
        assert!(start.elapsed() <= *within, "took {:?}", start.elapsed());
    }

    // TCP needs a hint.
    if client.kind() == TransportKind::Tcp {
        let no_hint = DialTarget {
            address,
            tcp: None,
            discovery: None,
        };
        let e = client
            .dial(&no_hint)
            .await
            .err()
            .expect("dial without hint");
        assert!(matches!(e, Error::NoRoute { .. }), "{e}");
        assert_eq!(e.kind(), ErrorKind::PeerUnreachable);
    }

    // Dropping the listener removes it from the status.
    drop(listener);
    let mut status = server.status();
    tokio::time::timeout(
        Duration::from_secs(30),
        status.wait_for(|s| !s.services.iter().any(|x| x.nickname == "conformance")),
    )
    .await
    .expect("listener still in status after drop")
    .expect("status channel open");
}
