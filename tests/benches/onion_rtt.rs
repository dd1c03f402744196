//! Message latency over onion services, next to a bare onion-service echo in
//! the same run (issue 12 § 1a): the ratio is the figure to improve.
//!
//! `cargo bench -p kith-tests --bench onion_rtt` starts a private Tor network
//! on 127.0.0.1 (Debian's `tor`; `scripts/test.sh` installs it), then
//! 1. **bare, warm**: one arti client runs an onion service that echoes what
//!    it reads; a second arti client dials it once and makes `N` round trips
//!    of `PAYLOAD` bytes over that one stream (write, read them back);
//! 2. **Kith, warm**: two profiles (each its own arti client, in two engines)
//!    become contacts; after a first message (sessions up), `N` messages of
//!    `PAYLOAD` bytes of text, one at a time: from `Profile::send` to the
//!    sender's `MessageState::Delivered` event (the receiver stored it and
//!    acknowledged it), and to the receiver's `MessageReceived` (one way);
//! 3. **bare, cold**: `COLD` times, a fresh arti client (its state and cache
//!    kept from the previous start, as a restarted node's are) starts, dials
//!    the echo service and gets its first echo;
//! 4. **Kith, cold**: `COLD` times, the sender's engine is shut down and
//!    started again: unlock (the fast test KDF), go online, send; until the
//!    message is delivered.
//!
//! Bare and Kith samples alternate (warm: one of each in turn; cold: a bare
//! start, then a Kith start), so that both see the same load on a shared
//! machine. Samples are spaced by 100 ms. Environment: `KITH_BENCH_N` (default 100),
//! `KITH_BENCH_COLD` (default 5), `KITH_BENCH_CSV` (a file to write every
//! sample to: `kind,run,ms`), `RUST_LOG` (traces, e.g. `kith_node=trace`).

// A benchmark binary prints its figures.
#![allow(clippy::print_stdout, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kith_core::IdentityKeypair;
use kith_core::OnionAddress;
use kith_node::{
    ContactId, ContactState, Event, KdfChoice, Kith, KithConfig, MessageState, Network, Password,
    Profile,
};
use kith_tests::tornet::TorNet;
use kith_transport::{DialTarget, ServiceSpec, TorRuntime, TorSettings, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast;

const LONG: Duration = Duration::from_secs(300);
/// Bytes per round trip (bare) and characters per message (Kith).
const PAYLOAD: usize = 64;
/// Pause between samples.
const GAP: Duration = Duration::from_millis(100);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile of sorted samples.
fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Figures for a printout: ranks are small.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A series of samples of one kind.
struct Series {
    kind: &'static str,
    ms: Vec<f64>,
}

impl Series {
    fn new(kind: &'static str) -> Series {
        Series {
            kind,
            ms: Vec::new(),
        }
    }
    fn sorted(&self) -> Vec<f64> {
        let mut v = self.ms.clone();
        v.sort_by(f64::total_cmp);
        v
    }
    fn median(&self) -> f64 {
        pct(&self.sorted(), 50.0)
    }
    fn p95(&self) -> f64 {
        pct(&self.sorted(), 95.0)
    }
}

async fn arti(net: &TorNet, dir: &Path) -> TorRuntime {
    TorRuntime::start(TorSettings {
        state_dir: dir.join("state"),
        cache_dir: dir.join("cache"),
        extra_toml: Some(net.arti_toml()),
        bridges: vec![],
    })
    .await
    .expect("arti")
}

/// Dial `address` until it answers (a fresh service's descriptor may not be
/// published yet).
async fn dial(
    transport: &kith_transport::TorTransport,
    address: OnionAddress,
) -> kith_transport::BoxStream {
    let target = DialTarget {
        address,
        tcp: None,
        discovery: None,
    };
    let start = Instant::now();
    loop {
        match transport.dial(&target).await {
            Ok(s) => return s,
            Err(e) => {
                assert!(start.elapsed() < LONG, "no stream to the service: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

async fn round_trip(s: &mut kith_transport::BoxStream, payload: &[u8]) {
    s.write_all(payload).await.expect("write");
    s.flush().await.expect("flush");
    let mut back = vec![0_u8; payload.len()];
    s.read_exact(&mut back).await.expect("echo");
    assert!(back == payload, "not the same bytes back");
}

/// The bare echo service: an onion service that writes back what it reads.
/// Returns its address; it runs until `server` shuts down.
async fn echo_service(server: &TorRuntime) -> OnionAddress {
    let identity = IdentityKeypair::generate(&mut rand::rngs::OsRng);
    let address = identity.address();
    let mut listener = server
        .transport()
        .listen(ServiceSpec {
            identity,
            nickname: "echo".into(),
            discovery: None,
        })
        .await
        .expect("listen");
    tokio::spawn(async move {
        while let Some(mut s) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0_u8; 4096];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => {
                            if s.write_all(&buf[..k]).await.is_err() || s.flush().await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    address
}

/// One cold bare run: a client starts (state and cache in `dir`), dials
/// `address`, gets its first echo.
async fn bare_cold(net: &TorNet, dir: &Path, address: OnionAddress, payload: &[u8]) -> Duration {
    let t = Instant::now();
    let c = arti(net, dir).await;
    let mut s = dial(&c.transport(), address).await;
    round_trip(&mut s, payload).await;
    let took = t.elapsed();
    drop(s);
    c.shutdown().await;
    took
}

fn tor(net: &TorNet) -> Network {
    Network::Tor {
        extra_toml: Some(net.arti_toml()),
        bridges: vec![],
    }
}

fn pw() -> Password {
    Password::new("pw".into())
}

fn engine(dir: PathBuf) -> Kith {
    Kith::new(KithConfig {
        data_dir: dir,
        kdf: KdfChoice::DangerouslyFastForTestingOnly,
    })
}

/// Send `text` and wait for its `Delivered` event on `events` (subscribed
/// before); returns the time to that event and, when `received` is given,
/// the time to the receiver's `MessageReceived`.
async fn send_until_delivered(
    from: &Profile,
    to: ContactId,
    text: &str,
    events: &mut broadcast::Receiver<Event>,
    received: Option<&mut broadcast::Receiver<Event>>,
) -> (Duration, Option<Duration>) {
    let t = Instant::now();
    let m = from.send(to, text).await.expect("send");
    let mut one_way = None;
    if let Some(rx) = received {
        loop {
            match tokio::time::timeout(LONG, rx.recv()).await {
                Ok(Ok(Event::MessageReceived { message, .. })) if message.id == m.id => {
                    one_way = Some(t.elapsed());
                    break;
                }
                Ok(Ok(_) | Err(broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Err(e)) => panic!("receiver's events: {e}"),
                Err(_) => panic!("the message never arrived"),
            }
        }
    }
    loop {
        match tokio::time::timeout(LONG, events.recv()).await {
            Ok(Ok(Event::MessageState { id, state, .. }))
                if id == m.id && state == MessageState::Delivered =>
            {
                return (t.elapsed(), one_way);
            }
            Ok(Ok(_) | Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("sender's events: {e}"),
            Err(_) => panic!("the message was never delivered"),
        }
    }
}

/// Everything, bare and Kith samples alternating so that both see the same
/// load (the machine is shared): warm bare, warm Kith, then cold bare, cold
/// Kith.
async fn run(net: &TorNet, dir: &Path, n: usize, cold: usize) -> Vec<Series> {
    let payload = vec![0x5a_u8; PAYLOAD];
    let server = arti(net, &dir.join("server")).await;
    let address = echo_service(&server).await;
    let client = arti(net, &dir.join("client")).await;
    let mut stream = dial(&client.transport(), address).await;
    // The first round trip may still be settling the circuit: not counted.
    round_trip(&mut stream, &payload).await;

    let ka = engine(dir.join("a"));
    let kb = engine(dir.join("b"));
    let a = ka.create_profile("a", "A", pw()).await.expect("a");
    let b = kb.create_profile("b", "B", pw()).await.expect("b");
    a.go_online(tor(net)).await.expect("a online");
    b.go_online(tor(net)).await.expect("b online");
    let bob = a.add_contact(&b.link(), "b").await.expect("add").id;
    let alice = b.add_contact(&a.link(), "a").await.expect("add").id;
    let accepted = |p: Profile, c| async move {
        p.contact(c)
            .await
            .is_ok_and(|c| c.state == ContactState::Accepted)
    };
    let start = Instant::now();
    while !(accepted(a.clone(), bob).await && accepted(b.clone(), alice).await) {
        assert!(start.elapsed() < LONG, "the two never became contacts");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "bench: the two profiles became contacts in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let text = |i: usize| {
        let s = format!("message {i} ");
        format!("{s}{}", "x".repeat(PAYLOAD - s.len()))
    };
    let mut a_events = a.subscribe();
    let mut b_events = b.subscribe();
    // The first message brings both sessions up: not counted.
    send_until_delivered(&a, bob, &text(0), &mut a_events, None).await;

    let mut bare_warm = Series::new("bare_warm");
    let mut warm = Series::new("kith_warm");
    let mut one_way = Series::new("kith_warm_one_way");
    for i in 1..=n {
        tokio::time::sleep(GAP).await;
        let t = Instant::now();
        round_trip(&mut stream, &payload).await;
        bare_warm.ms.push(ms(t.elapsed()));
        tokio::time::sleep(GAP).await;
        let (d, o) =
            send_until_delivered(&a, bob, &text(i), &mut a_events, Some(&mut b_events)).await;
        warm.ms.push(ms(d));
        one_way.ms.push(ms(o.expect("one way")));
    }
    drop(stream);
    client.shutdown().await;
    drop(a_events);
    drop(a);
    ka.shutdown().await;

    // Cold: a bare client starts and gets its first echo; the sender's node
    // starts (unlock, online) and sends until delivered. b and the echo
    // service stay up. Bare run 0 is a first start ever (it fills the
    // cache, which the Kith node already has): not counted.
    let mut bare_cold_s = Series::new("bare_cold");
    let mut cold_s = Series::new("kith_cold");
    let cold_dir = dir.join("cold-client");
    for run in 0..=cold {
        let took = bare_cold(net, &cold_dir, address, &payload).await;
        println!("bench: bare cold run {run}: {:.0} ms", ms(took));
        if run == 0 {
            continue;
        }
        bare_cold_s.ms.push(ms(took));
        let t = Instant::now();
        let ka = engine(dir.join("a"));
        let a = ka.unlock("a", pw()).await.expect("unlock");
        let mut events = a.subscribe();
        a.go_online(tor(net)).await.expect("a online");
        let s = Instant::now();
        let (d, _) = send_until_delivered(&a, bob, &text(n + run), &mut events, None).await;
        let took = t.elapsed();
        println!(
            "bench: Kith cold run {run}: {:.0} ms (unlock and go_online {:.0} ms, send → delivered {:.0} ms)",
            ms(took),
            ms(s.duration_since(t)),
            ms(d)
        );
        cold_s.ms.push(ms(took));
        drop(events);
        drop(a);
        ka.shutdown().await;
    }
    drop(b);
    kb.shutdown().await;
    server.shutdown().await;
    vec![bare_warm, warm, one_way, bare_cold_s, cold_s]
}

fn main() {
    kith_node::quiet_arti_shutdown_panic();
    // `RUST_LOG=kith_node=trace` shows where a cold start's time goes.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_timer(tracing_subscriber::fmt::time::uptime())
            .init();
    }
    let n = env_usize("KITH_BENCH_N", 100);
    let cold = env_usize("KITH_BENCH_COLD", 5);
    let net = TorNet::start().expect("private Tor network");
    println!(
        "bench: private Tor network ready in {:.0} s",
        net.elapsed_ready().as_secs_f64()
    );
    let dir = tempfile::tempdir().expect("tmp");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let series = rt.block_on(run(&net, dir.path(), n, cold));
    let [bare_warm, kith_warm, kith_one_way, bare_cold, kith_cold] = &series[..] else {
        unreachable!("five series")
    };

    println!();
    println!("| case | samples | median | p95 | median / bare | p95 / bare |");
    println!("|---|---:|---:|---:|---:|---:|");
    let row = |label: &str, s: &Series, base: &Series| {
        println!(
            "| {label} | {} | {:.0} ms | {:.0} ms | {:.2}× | {:.2}× |",
            s.ms.len(),
            s.median(),
            s.p95(),
            s.median() / base.median(),
            s.p95() / base.p95()
        );
    };
    row("bare echo, warm stream (round trip)", bare_warm, bare_warm);
    row("Kith send → delivered, warm session", kith_warm, bare_warm);
    row(
        "Kith send → received, warm (one way)",
        kith_one_way,
        bare_warm,
    );
    row("bare: client start → first echo", bare_cold, bare_cold);
    row("Kith: node start → first delivered", kith_cold, bare_cold);
    if let Ok(path) = std::env::var("KITH_BENCH_CSV") {
        let mut out = String::from("kind,run,ms\n");
        for s in &series {
            for (i, v) in s.ms.iter().enumerate() {
                out.push_str(&format!("{},{},{v:.2}\n", s.kind, i + 1));
            }
        }
        std::fs::write(&path, out).expect("write the CSV");
        println!("bench: wrote {path}");
    }
}
