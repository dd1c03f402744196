//! What an idle node costs, and its memory with many contacts (issue 12 §§
//! 1d, 1e), next to a bare onion service in the same run.
//!
//! `cargo bench -p kith-tests --bench node_cost` starts a private Tor network
//! on 127.0.0.1 (Debian's `tor`), then runs each node to measure as a
//! process of its own (this binary again, `--child`), all at once:
//! - **bare**: an arti client running one onion service, nothing else (the
//!   baseline: what any always-on onion service pays on this network);
//! - **0 contacts**: a Kith node, online over Tor, no contacts;
//! - **50 contacts**: a Kith node with 50 accepted contacts, of which
//!   `KITH_BENCH_ONLINE` (default 10) are real profiles online all along
//!   (in this process, befriended over Tor first) and the rest are offline
//!   (accepted contacts written into the store, whose nodes never run);
//! - **1,000 contacts**: a Kith node with 1,000 accepted contacts, all
//!   offline (written into the store).
//!
//! Nothing is sent. After the node is online and `KITH_BENCH_SETTLE_SECS`
//! (default 120) have passed, a window of `KITH_BENCH_IDLE_SECS` (default
//! 600) is measured: the bytes on the process's TCP sockets (all of them
//! connections to the Tor relays; summed from `ss -tinp`'s per-socket
//! `bytes_sent`/`bytes_received`, sampled every 2 s) and its CPU seconds
//! (`/proc/PID/stat`), scaled to an hour and a month of 30 days. Resident
//! memory (`VmRSS`) is read after unlock, once online, and at the window's
//! end; `VmHWM` at the end.

// A benchmark binary prints its figures.
#![allow(clippy::print_stdout, missing_docs)]

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use kith_core::IdentityKeypair;
use kith_node::{
    ContactOrigin, ContactState, KdfChoice, Kith, KithConfig, Network, NetworkStatus, Password,
    Profile,
};
use kith_store::{NewContact, Store};
use kith_tests::tornet::TorNet;
use kith_transport::{ServiceSpec, TorRuntime, TorSettings, Transport};

const LONG: Duration = Duration::from_secs(300);
const SAMPLE: Duration = Duration::from_secs(2);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn pw() -> Password {
    Password::new("pw".into())
}

fn engine(dir: &Path) -> Kith {
    Kith::new(KithConfig {
        data_dir: dir.to_path_buf(),
        kdf: KdfChoice::DangerouslyFastForTestingOnly,
    })
}

fn tor(arti_toml: String) -> Network {
    Network::Tor {
        extra_toml: Some(arti_toml),
        bridges: vec![],
    }
}

/// Print a line for the parent and flush it.
fn say(line: &str) {
    println!("{line}");
    std::io::stdout().flush().expect("stdout");
}

/// `--child kith DATA_DIR ARTI_TOML` or `--child bare DIR ARTI_TOML`: go
/// online, say so, and idle until killed.
fn child(kind: &str, dir: &Path, arti_toml: &Path) {
    kith_node::quiet_arti_shutdown_panic();
    let toml = std::fs::read_to_string(arti_toml).expect("arti toml");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        if kind == "bare" {
            say("unlocked");
            tokio::time::sleep(Duration::from_secs(2)).await;
            let tor = TorRuntime::start(TorSettings {
                state_dir: dir.join("state"),
                cache_dir: dir.join("cache"),
                extra_toml: Some(toml),
                bridges: vec![],
            })
            .await
            .expect("arti");
            let identity = IdentityKeypair::generate(&mut rand::rngs::OsRng);
            let mut listener = tor
                .transport()
                .listen(ServiceSpec {
                    identity,
                    nickname: "bare".into(),
                    discovery: None,
                })
                .await
                .expect("listen");
            say("online");
            // Nobody connects; keep the service up until killed.
            while listener.accept().await.is_some() {}
            return;
        }
        let k = engine(dir);
        let me = k.unlock("me", pw()).await.expect("unlock");
        say("unlocked");
        tokio::time::sleep(Duration::from_secs(2)).await;
        me.go_online(tor(toml)).await.expect("online");
        let mut status = me.watch_network();
        let start = Instant::now();
        while !matches!(*status.borrow_and_update(), NetworkStatus::Online { .. }) {
            assert!(start.elapsed() < LONG, "never online");
            let _ = tokio::time::timeout(Duration::from_secs(1), status.changed()).await;
        }
        say("online");
        std::future::pending::<()>().await;
    });
}

/// A profile "me" in `dir` with `offline` more accepted contacts whose nodes
/// never run (random identities, written into the store).
fn add_offline_contacts(k: &Kith, offline: usize) {
    let path = k.profile_dir("me").join("profile.db");
    let mut store = Store::open(&path, b"pw").expect("open the store");
    for i in 0..offline {
        let id = IdentityKeypair::generate(&mut rand::rngs::OsRng);
        store
            .add_contact(&NewContact {
                address: id.public().to_bytes(),
                alias: format!("offline{i}"),
                state: ContactState::Accepted,
                origin: ContactOrigin::Link,
                verified: false,
                tcp_hint: None,
                their_name: Some(format!("Offline {i}")),
                added_at: kith_core::Timestamp::now(),
            })
            .expect("add a contact");
    }
}

/// One measured process.
struct Measured {
    name: &'static str,
    child: Child,
    lines: BufReader<ChildStdout>,
    rss_unlocked: u64,
    rss_online: u64,
    online_after: Duration,
}

fn spawn(name: &'static str, kind: &str, dir: &Path, arti_toml: &Path) -> Measured {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .args(["--child", kind])
        .arg(dir)
        .arg(arti_toml)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let lines = BufReader::new(child.stdout.take().expect("stdout"));
    Measured {
        name,
        child,
        lines,
        rss_unlocked: 0,
        rss_online: 0,
        online_after: Duration::ZERO,
    }
}

fn expect_line(m: &mut Measured, want: &str) {
    let mut l = String::new();
    m.lines.read_line(&mut l).expect("child's line");
    assert!(l.trim() == want, "{}: wanted {want:?}, got {l:?}", m.name);
}

/// A `/proc/PID/status` field in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("a status field")
}

/// CPU seconds (user + system) of a process.
fn cpu_s(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the command's closing parenthesis; utime and stime are 14 and 15.
    let rest = &s[s.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().expect("utime") + f[12].parse::<f64>().expect("stime");
    // sysconf(_SC_CLK_TCK) is 100 on Linux.
    ticks / 100.0
}

/// Bytes sent and received so far on each TCP socket of each process,
/// keyed by (pid, local, peer): the largest counts seen (a closed socket
/// keeps its last).
#[derive(Default)]
struct Sockets(HashMap<(u32, String, String), (u64, u64)>);

impl Sockets {
    fn sample(&mut self, pids: &[u32]) {
        let out = Command::new("ss")
            .args(["-tinpH"])
            .output()
            .expect("ss (iproute2) is needed");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut key: Option<(u32, String, String)> = None;
        for line in text.lines() {
            if !line.starts_with(char::is_whitespace) {
                key = None;
                let f: Vec<&str> = line.split_whitespace().collect();
                let pid = line
                    .split("pid=")
                    .nth(1)
                    .and_then(|r| r.split(',').next()?.parse::<u32>().ok());
                if let Some(pid) = pid
                    && pids.contains(&pid)
                    && f.len() >= 5
                {
                    key = Some((pid, f[3].to_owned(), f[4].to_owned()));
                }
            } else if let Some(k) = key.take() {
                let field = |name: &str| {
                    line.split_whitespace()
                        .find_map(|w| w.strip_prefix(name)?.parse::<u64>().ok())
                        .unwrap_or(0)
                };
                let (s, r) = (field("bytes_sent:"), field("bytes_received:"));
                let e = self.0.entry(k).or_default();
                e.0 = e.0.max(s);
                e.1 = e.1.max(r);
            }
        }
    }
    /// Bytes sent and received by `pid`, and how many sockets it has had.
    fn total(&self, pid: u32) -> (u64, u64, usize) {
        self.0
            .iter()
            .filter(|(k, _)| k.0 == pid)
            .fold((0, 0, 0), |a, (_, v)| (a.0 + v.0, a.1 + v.1, a.2 + 1))
    }
}

async fn befriend_online_peers(
    net_toml: &str,
    me: &Profile,
    peers_engine: &Kith,
    count: usize,
) -> Vec<Profile> {
    let mut peers = Vec::new();
    for i in 0..count {
        let p = peers_engine
            .create_profile(&format!("peer{i}"), &format!("Peer {i}"), pw())
            .await
            .expect("peer");
        p.go_online(tor(net_toml.to_owned()))
            .await
            .expect("peer online");
        peers.push(p);
    }
    let mut pairs = Vec::new();
    for (i, p) in peers.iter().enumerate() {
        let theirs = me
            .add_contact(&p.link(), &format!("peer{i}"))
            .await
            .expect("add")
            .id;
        let ours = p.add_contact(&me.link(), "me").await.expect("add").id;
        pairs.push((theirs, p.clone(), ours));
    }
    let start = Instant::now();
    for (theirs, p, ours) in &pairs {
        loop {
            let a = me
                .contact(*theirs)
                .await
                .is_ok_and(|c| c.state == ContactState::Accepted);
            let b = p
                .contact(*ours)
                .await
                .is_ok_and(|c| c.state == ContactState::Accepted);
            if a && b {
                break;
            }
            assert!(
                start.elapsed() < LONG * 2,
                "the peers never became contacts"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    println!(
        "bench: {count} online peers became contacts in {:.0} s",
        start.elapsed().as_secs_f64()
    );
    peers
}

/// A count as a float, for a printout (counts here are far below 2^52).
#[allow(clippy::cast_precision_loss)]
fn fl(x: u64) -> f64 {
    x as f64
}

fn mib(b: f64) -> f64 {
    b / (1024.0 * 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        child(&args[2], Path::new(&args[3]), Path::new(&args[4]));
        return;
    }
    kith_node::quiet_arti_shutdown_panic();
    let online = usize::try_from(env_u64("KITH_BENCH_ONLINE", 10)).expect("count");
    let settle = Duration::from_secs(env_u64("KITH_BENCH_SETTLE_SECS", 120));
    let window = Duration::from_secs(env_u64("KITH_BENCH_IDLE_SECS", 600));
    let net = TorNet::start().expect("private Tor network");
    let toml = net.arti_toml();
    let arti_config = net.arti_config().to_path_buf();
    let dir = tempfile::tempdir().expect("tmp");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    // The profiles, made here, then locked for their own processes.
    let d = |n: &str| -> PathBuf { dir.path().join(n) };
    let peers_engine = engine(&d("peers"));
    let peers = rt.block_on(async {
        for (name, contacts) in [("c0", 0), ("c1000", 1000)] {
            let k = engine(&d(name));
            k.create_profile("me", "Me", pw()).await.expect("me");
            k.shutdown().await;
            add_offline_contacts(&k, contacts);
        }
        let k = engine(&d("c50"));
        let me = k.create_profile("me", "Me", pw()).await.expect("me");
        me.go_online(tor(toml.clone())).await.expect("online");
        let peers = befriend_online_peers(&toml, &me, &peers_engine, online).await;
        drop(me);
        k.shutdown().await;
        add_offline_contacts(&k, 50 - online);
        peers
    });

    let mut ms = vec![
        spawn(
            "bare onion service (arti, no Kith)",
            "bare",
            &d("bare"),
            &arti_config,
        ),
        spawn("Kith, 0 contacts", "kith", &d("c0"), &arti_config),
        spawn(
            "Kith, 50 contacts (online ones below)",
            "kith",
            &d("c50"),
            &arti_config,
        ),
        spawn(
            "Kith, 1,000 contacts (all offline)",
            "kith",
            &d("c1000"),
            &arti_config,
        ),
    ];
    let started = Instant::now();
    for m in &mut ms {
        expect_line(m, "unlocked");
        m.rss_unlocked = status_kib(m.child.id(), "VmRSS");
    }
    for m in &mut ms {
        expect_line(m, "online");
        m.online_after = started.elapsed();
        m.rss_online = status_kib(m.child.id(), "VmRSS");
    }
    let pids: Vec<u32> = ms.iter().map(|m| m.child.id()).collect();
    let mut socks = Sockets::default();
    let until = Instant::now() + settle;
    while Instant::now() < until {
        socks.sample(&pids);
        std::thread::sleep(SAMPLE);
    }
    socks.sample(&pids);
    let at_start: Vec<((u64, u64, usize), f64)> =
        pids.iter().map(|&p| (socks.total(p), cpu_s(p))).collect();
    let t0 = Instant::now();
    while t0.elapsed() < window {
        socks.sample(&pids);
        std::thread::sleep(SAMPLE);
    }
    socks.sample(&pids);
    let measured = t0.elapsed().as_secs_f64();

    println!();
    println!(
        "bench: {} online contacts of 50 (the rest offline); settle {} s, window {measured:.0} s; all four at once on 2 cores",
        online,
        settle.as_secs()
    );
    println!();
    println!(
        "| node | online after | startup bytes (to window) | window sent | window received | sockets | bytes / hour | MiB / month | CPU s / hour | RSS unlocked | RSS online | RSS end | HWM |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let per_hour = 3600.0 / measured;
    for (m, ((s0, r0, _), c0)) in ms.iter_mut().zip(at_start) {
        let pid = m.child.id();
        let (s1, r1, n) = socks.total(pid);
        let c1 = cpu_s(pid);
        let bytes = fl((s1 - s0) + (r1 - r0));
        println!(
            "| {} | {:.0} s | {:.2} MiB | {:.2} MiB | {:.2} MiB | {n} | {:.2} MiB | {:.0} | {:.1} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
            m.name,
            m.online_after.as_secs_f64(),
            mib(fl(s0 + r0)),
            mib(fl(s1 - s0)),
            mib(fl(r1 - r0)),
            mib(bytes * per_hour),
            mib(bytes * per_hour * 24.0 * 30.0),
            (c1 - c0) * per_hour,
            fl(m.rss_unlocked) / 1024.0,
            fl(m.rss_online) / 1024.0,
            fl(status_kib(pid, "VmRSS")) / 1024.0,
            fl(status_kib(pid, "VmHWM")) / 1024.0,
        );
        let _ = m.child.kill();
        let _ = m.child.wait();
    }
    drop(peers);
    rt.block_on(peers_engine.shutdown());
}
