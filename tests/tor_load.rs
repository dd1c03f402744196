//! Story: Tor is not usable yet when two people start Kith (a train, a
//! captive portal, no Wi-Fi yet), and later a stranger piles streams onto
//! one rendezvous circuit to Alice's onion service. Once the network works
//! their messages arrive by themselves, and the stranger's streams do not
//! stop a contact's message (issue 7, sections 1 and 5).
//!
//! One private Tor network (see `tornet`) for all the scenarios, to keep the
//! suite's time down.

use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kith_core::{ContactLink, IdentityKeypair};
use kith_tests::cli::{Daemon, Kith, is_online};
use kith_tests::tornet::{TorNet, socks5_connect};

/// How long a node's control socket may take to answer after it starts.
const SPAWN: Duration = Duration::from_secs(60);
/// Delivery bound once the network is fully up, for nodes started before it
/// was usable (issue 7 measured 5.5 min of nothing before the fix; a healthy
/// start delivers in seconds). Covers the request reaching Bob, his
/// acceptance and Alice's message.
const RECOVERY_BOUND: Duration = Duration::from_secs(5 * 60);
/// Delivery bound for a contact's message while a stranger floods one
/// circuit with streams (Bob's link dropped and came back in the middle).
const STREAM_FLOOD_BOUND: Duration = Duration::from_secs(180);
/// Streams the stranger keeps opening over one circuit at once.
const STREAMS: usize = 50;
/// The stream flood runs at least this long, however soon messages arrive.
const STREAM_FLOOD_MIN: Duration = Duration::from_secs(30);
/// The stream flood stops by itself after this long.
const STREAM_FLOOD_LIMIT: Duration = Duration::from_secs(6 * 60);
/// Generous bound on Alice's memory during the flood (arti included).
const RSS_BOUND_KIB: u64 = 400 * 1024;
/// What the nodes log: enough to see why a delivery is late.
const NODE_LOG: &str = "kith_node=debug,kith_transport=debug,warn";

fn start_tor_node(k: &Kith, profile: &str, config: &std::path::Path) -> Daemon {
    let cfg = config.to_string_lossy().into_owned();
    k.spawn(
        profile,
        &["run", "--transport", "tor", "--tor-config", &cfg],
        &[("KITH_LOG", NODE_LOG)],
        SPAWN,
    )
}

/// The two people, each with their own data directory (and Tor state).
struct People {
    ka: Kith,
    kb: Kith,
}

impl People {
    /// Both nodes' status and log tails, for a failure message.
    fn report(&self, net: &TorNet) -> String {
        format!(
            "alice: {}\nbob: {}\n--- alice's log\n{}\n--- bob's log\n{}\n--- tor\n{}",
            self.ka.status("alice"),
            self.kb.status("bob"),
            self.ka.log_tail("alice", 40),
            self.kb.log_tail("bob", 40),
            net.log_tails()
        )
    }

    /// Poll `f` until it holds, within `limit`; on timeout, fail with both
    /// nodes' logs. Returns how long it took.
    fn within(
        &self,
        net: &TorNet,
        limit: Duration,
        what: &str,
        mut f: impl FnMut() -> bool,
    ) -> Duration {
        let start = Instant::now();
        loop {
            if f() {
                return start.elapsed();
            }
            if start.elapsed() > limit {
                panic!(
                    "timed out after {} s waiting for {what}\n{}",
                    limit.as_secs(),
                    self.report(net)
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// A resident-set figure of a process, from `/proc/PID/status`, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The first handshake message to `link`'s identity, cut one byte short.
fn half_hello(link: &ContactLink) -> Vec<u8> {
    let me = IdentityKeypair::generate(&mut rand::rngs::OsRng);
    let (_, mut hello) =
        kith_session::Initiator::new(me.signing_key(), link.address.key().verifying_key())
            .expect("initiator");
    hello.pop();
    hello
}

/// A Kith handshake with `link`'s identity over `s`, as a stranger: true
/// once the responder has proved it holds the identity.
fn handshake_with(s: &mut std::net::TcpStream, link: &ContactLink) -> bool {
    let me = IdentityKeypair::generate(&mut rand::rngs::OsRng);
    let Ok((hs, msg1)) =
        kith_session::Initiator::new(me.signing_key(), link.address.key().verifying_key())
    else {
        return false;
    };
    let mut len = [0_u8; 2];
    if s.write_all(&msg1).is_err() || s.read_exact(&mut len).is_err() {
        return false;
    }
    let mut reply = vec![0_u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut reply).is_ok() && hs.read_reply(&reply).is_ok()
}

/// What the stranger's streams came to.
#[derive(Debug, Default)]
struct StreamStats {
    /// SOCKS connects that succeeded (a stream to Alice's service opened).
    opened: AtomicU64,
    /// SOCKS connects that failed (circuit torn down, refused, timed out).
    failed: AtomicU64,
    /// The first failure, for the report.
    first_error: std::sync::Mutex<Option<String>>,
}

/// `STREAMS` threads, each keeping one stream to `host` open through the C
/// tor client's SOCKS port, with a partial handshake sent on it, and
/// reopening it when it ends. Every stream uses the same SOCKS port without
/// credentials: one isolation, so C tor puts them on one rendezvous circuit
/// (until Alice's side tears it down).
struct StreamFlood {
    stop: Arc<AtomicBool>,
    stats: Arc<StreamStats>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl StreamFlood {
    fn start(net: &TorNet, host: String, payload: Vec<u8>) -> StreamFlood {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(StreamStats::default());
        let started = Instant::now();
        let threads = (0..STREAMS)
            .map(|i| {
                let (stop, stats) = (Arc::clone(&stop), Arc::clone(&stats));
                let (socks, host, payload) = (net.socks_addr(), host.clone(), payload.clone());
                std::thread::Builder::new()
                    .name(format!("stream-flood-{i}"))
                    .spawn(move || stream_worker(socks, &host, &payload, &stop, &stats, started))
                    .expect("stream flood thread")
            })
            .collect();
        StreamFlood {
            stop,
            stats,
            threads,
        }
    }

    fn first_error(&self) -> Option<String> {
        self.stats
            .first_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn counts(&self) -> (u64, u64) {
        (
            self.stats.opened.load(Ordering::Relaxed),
            self.stats.failed.load(Ordering::Relaxed),
        )
    }

    /// Stop; the threads end within a SOCKS read timeout.
    fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        (
            self.stats.opened.load(Ordering::Relaxed),
            self.stats.failed.load(Ordering::Relaxed),
        )
    }
}

/// One of the stranger's streams, reopened whenever it ends, until `stop`
/// or [`STREAM_FLOOD_LIMIT`].
fn stream_worker(
    socks: std::net::SocketAddr,
    host: &str,
    payload: &[u8],
    stop: &AtomicBool,
    stats: &StreamStats,
    started: Instant,
) {
    let go = || !stop.load(Ordering::Relaxed) && started.elapsed() < STREAM_FLOOD_LIMIT;
    while go() {
        let mut s = match socks5_connect(socks, host, kith_transport::ONION_PORT) {
            Ok(s) => s,
            Err(e) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                stats
                    .first_error
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .get_or_insert_with(|| e.to_string());
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        stats.opened.fetch_add(1, Ordering::Relaxed);
        let _ = s.write_all(payload);
        // Hold it until Alice closes it (her handshake deadline, or the
        // circuit torn down) or the flood stops.
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0_u8; 64];
        while go() {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
    }
}

/// Issue 7 §5 and §1 over Tor: nodes started at the network's first
/// consensus recover by themselves once it is fully up; then a contact's
/// message still arrives while a stranger piles streams onto one circuit.
#[test]
fn tor_nodes_recover_and_hold_a_stream_flood() {
    let t0 = Instant::now();
    let mut net = TorNet::start_early().expect("private Tor network");
    println!(
        "timing: private Tor network served its first consensus after {:.1} s",
        net.elapsed_first_consensus().as_secs_f64()
    );
    let config = net.dir().join("kith-arti.toml");
    std::fs::write(&config, net.arti_toml()).expect("write arti config");

    // a. Recovery: both start now, while the network is not usable yet.
    let people = People {
        ka: Kith::new(),
        kb: Kith::new(),
    };
    let (ka, kb) = (&people.ka, &people.kb);
    ka.create("alice");
    kb.create("bob");
    let mut alice = start_tor_node(ka, "alice", &config);
    let bob = start_tor_node(kb, "bob", &config);
    let bob_link = kb.ok("bob", &["link"]).trim().to_owned();
    let alice_link = ka.ok("alice", &["link"]).trim().to_owned();
    ka.ok("alice", &["contact", "add", &bob_link, "--alias", "bob"]);
    ka.ok("alice", &["send", "bob", "sent before tor worked"]);
    println!(
        "load: status at the first consensus: alice {}, bob {}",
        ka.status("alice"),
        kb.status("bob")
    );

    net.wait_ready().expect("private Tor network fully up");
    let t_ready = Instant::now();
    println!(
        "timing: private Tor network fully up after {:.1} s",
        net.elapsed_ready().as_secs_f64()
    );
    people.within(&net, RECOVERY_BOUND, "bob sees alice's request", || {
        kb.contacts("bob")
            .iter()
            .any(|c| c["alias"] == "alice" && c["state"] == "request")
    });
    println!(
        "timing: request reached bob {:.1} s after the network was fully up",
        t_ready.elapsed().as_secs_f64()
    );
    kb.ok("bob", &["contact", "accept", "alice"]);
    let left = RECOVERY_BOUND.saturating_sub(t_ready.elapsed());
    people.within(&net, left, "alice's early message delivered", || {
        ka.has_message(
            "alice",
            "bob",
            "out",
            "sent before tor worked",
            Some("delivered"),
        )
    });
    println!(
        "timing: message written before Tor worked delivered {:.1} s after the network was fully up",
        t_ready.elapsed().as_secs_f64()
    );
    assert!(kb.has_message("bob", "alice", "in", "sent before tor worked", None));
    for (k, p) in [(ka, "alice"), (kb, "bob")] {
        let st = k.status(p);
        assert!(is_online(&st), "{p} says it is online: {st}");
    }

    // b. Many streams over one circuit to Alice's service, each a partial
    // handshake, reopened as they end. Alice's side keeps at most a few per
    // circuit and tears the circuit down past that, so many connects fail:
    // counted, not asserted.
    let alice_pid = alice.pid().expect("alice's pid");
    let link = ContactLink::parse(&alice_link).expect("alice's link");
    // First one stream, as any Tor client would: C tor has fetched the
    // descriptor and reaches the service (a full Kith handshake on it), so
    // the flood below lands on Alice's service, not on a missing descriptor.
    let t_reach = Instant::now();
    people.within(
        &net,
        RECOVERY_BOUND,
        "C tor reaching alice's service",
        || {
            socks5_connect(
                net.socks_addr(),
                &link.address.hostname(),
                kith_transport::ONION_PORT,
            )
            .is_ok_and(|mut s| handshake_with(&mut s, &link))
        },
    );
    println!(
        "timing: C tor client reached alice's service after {:.1} s",
        t_reach.elapsed().as_secs_f64()
    );
    let t_flood = Instant::now();
    let flood = StreamFlood::start(&net, link.address.hostname(), half_hello(&link));
    let mut rss_peak = rss_kib(alice_pid).unwrap_or_default();
    // Let every stream be tried (and most fail, over the per-circuit cap)
    // twice before Bob's link drops.
    people.within(
        &net,
        Duration::from_secs(180),
        "two rounds of the stream flood",
        || {
            rss_peak = rss_peak.max(rss_kib(alice_pid).unwrap_or_default());
            let (opened, failed) = flood.counts();
            opened + failed >= 2 * STREAMS as u64
        },
    );
    let (opened, failed) = flood.counts();
    println!(
        "load: stream flood after {:.1} s: {opened} streams opened, {failed} failed (first: {:?})",
        t_flood.elapsed().as_secs_f64(),
        flood.first_error()
    );
    bob.stop();
    let bob = start_tor_node(kb, "bob", &config);
    kb.ok("bob", &["send", "alice", "through the stream flood"]);
    let took = people.within(
        &net,
        STREAM_FLOOD_BOUND,
        "bob's message during the stream flood",
        || {
            rss_peak = rss_peak.max(rss_kib(alice_pid).unwrap_or_default());
            kb.has_message(
                "bob",
                "alice",
                "out",
                "through the stream flood",
                Some("delivered"),
            )
        },
    );
    println!(
        "timing: contact's message delivered {:.1} s after sending, bob restarted, during a flood of {STREAMS} streams over one circuit",
        took.as_secs_f64()
    );
    assert!(ka.has_message("alice", "bob", "in", "through the stream flood", None));
    // The flood goes on for a while, whatever the delivery took; Alice
    // answers in the middle of it.
    while t_flood.elapsed() < STREAM_FLOOD_MIN {
        rss_peak = rss_peak.max(rss_kib(alice_pid).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(500));
    }
    ka.ok("alice", &["send", "bob", "answer during the stream flood"]);
    let took = people.within(
        &net,
        STREAM_FLOOD_BOUND,
        "alice's answer during the stream flood",
        || {
            rss_peak = rss_peak.max(rss_kib(alice_pid).unwrap_or_default());
            ka.has_message(
                "alice",
                "bob",
                "out",
                "answer during the stream flood",
                Some("delivered"),
            )
        },
    );
    println!(
        "timing: flooded node's own message delivered {:.1} s after sending, during the stream flood",
        took.as_secs_f64()
    );
    rss_peak = rss_peak.max(rss_kib(alice_pid).unwrap_or_default());
    let (opened, failed) = flood.stop();
    println!(
        "load: stream flood ran {:.1} s: {opened} streams opened, {failed} SOCKS connects failed; alice's VmRSS at most {rss_peak} KiB",
        t_flood.elapsed().as_secs_f64()
    );
    assert!(opened + failed > 0, "the flood reached the SOCKS port");
    assert!(alice.is_running(), "alice's node is still running");
    assert_eq!(ka.status("alice")["running"], true);
    assert!(
        rss_peak < RSS_BOUND_KIB,
        "alice's memory stays bounded: VmRSS {rss_peak} KiB (bound {RSS_BOUND_KIB} KiB)"
    );
    let relaunches = |k: &Kith, p: &str| {
        std::fs::read_to_string(k.log_path(p))
            .unwrap_or_default()
            .matches("relaunching the onion service")
            .count()
    };
    println!(
        "load: onion service relaunches: alice {}, bob {}",
        relaunches(ka, "alice"),
        relaunches(kb, "bob")
    );
    bob.stop();
    alice.stop();
    drop(net);
    println!(
        "timing: whole Tor load suite {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}
