//! Story: where Tor's relays are blocked, a person reaches Tor only through
//! a bridge: a relay of the network that is not in its directory, reached
//! directly (a plain bridge) or through the obfs4 pluggable transport
//! (Debian's `obfs4proxy`). Each bridged node bootstraps, publishes its onion
//! service and chats with a node on the ordinary network, both ways, while
//! it never opens a connection to any relay or authority of the network
//! (issue 8, section 6).
//!
//! One private Tor network (see `tornet`) with two extra C tor bridge
//! relays, one plain and one obfs4, for both scenarios at once.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use kith_tests::cli::{Daemon, Kith, free_port, is_online};
use kith_tests::tornet::TorNet;

/// Debian's obfs4 program (`scripts/ensure-tor.sh` installs it).
const OBFS4PROXY: &str = "/usr/bin/obfs4proxy";
/// How long a bridge relay may take to bootstrap, from the first consensus.
const BRIDGE_READY: Duration = Duration::from_secs(90);
/// How long a node's control socket may take to answer after it starts.
const SPAWN: Duration = Duration::from_secs(60);
/// Bound for each step over Tor (bootstrap, a request, a delivery).
const STEP: Duration = Duration::from_secs(150);
/// What the nodes log: enough to see why a step is late.
const NODE_LOG: &str = "kith_node=debug,kith_transport=debug,warn";

/// A C tor bridge relay of the private network.
struct Bridge {
    /// Its data directory.
    data: PathBuf,
    /// The port clients connect to: its ORPort (plain) or its obfs4 port.
    port: u16,
    /// Its ORPort.
    or_port: u16,
    /// Whether it speaks obfs4 on `port`.
    obfs4: bool,
}

impl Bridge {
    /// Start a bridge relay named `name` (obfs4 if `obfs4`); returns at once.
    fn start(net: &TorNet, name: &str, obfs4: bool) -> Bridge {
        let or_port = free_port();
        let mut torrc = format!(
            "BridgeRelay 1\nPublishServerDescriptor 0\nAddress 127.0.0.1\n\
             OrPort 127.0.0.1:{or_port}\nExitRelay 0\nExitPolicy reject *:*\n\
             TestingServerDownloadInitialDelay 0\nTestingServerConsensusDownloadInitialDelay 0\n"
        );
        let port = if obfs4 {
            assert!(
                Path::new(OBFS4PROXY).is_file(),
                "{OBFS4PROXY} is missing: run scripts/ensure-tor.sh"
            );
            let p = free_port();
            torrc.push_str(&format!(
                "ServerTransportPlugin obfs4 exec {OBFS4PROXY}\n\
                 ServerTransportListenAddr obfs4 127.0.0.1:{p}\nExtORPort auto\n"
            ));
            p
        } else {
            or_port
        };
        let data = net.start_node(name, &torrc).expect("start bridge relay");
        Bridge {
            data,
            port,
            or_port,
            obfs4,
        }
    }

    /// Wait until the bridge has bootstrapped; returns its bridge line.
    fn line(&self, net: &TorNet) -> String {
        let log = self.data.join("tor.log");
        let start = Instant::now();
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let ready = text.contains("Bootstrapped 100%")
                && (!self.obfs4 || self.data.join("pt_state/obfs4_bridgeline.txt").exists());
            if ready {
                break;
            }
            assert!(
                start.elapsed() < BRIDGE_READY,
                "bridge relay not ready after {} s\n{}",
                BRIDGE_READY.as_secs(),
                net.log_tails()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        // "<nickname> <40 hex digits>"
        let fp = std::fs::read_to_string(self.data.join("fingerprint")).expect("fingerprint");
        let fp = fp.split_whitespace().nth(1).expect("fingerprint field");
        if !self.obfs4 {
            return format!("127.0.0.1:{} {fp}", self.port);
        }
        // "Bridge obfs4 <IP ADDRESS>:<PORT> <FINGERPRINT> cert=… iat-mode=0"
        let template = std::fs::read_to_string(self.data.join("pt_state/obfs4_bridgeline.txt"))
            .expect("obfs4 bridge line");
        let params: Vec<&str> = template
            .lines()
            .filter(|l| l.starts_with("Bridge obfs4"))
            .flat_map(|l| l.split_whitespace())
            .filter(|w| w.contains('='))
            .collect();
        assert!(
            params.iter().any(|p| p.starts_with("cert=")),
            "no cert in {template}"
        );
        format!("obfs4 127.0.0.1:{} {fp} {}", self.port, params.join(" "))
    }
}

/// Every ORPort and DirPort of the network's own nodes (authorities, relays,
/// the client), read from their torrc files, leaving out `except`.
fn network_ports(net: &TorNet, except: &[&Path]) -> BTreeSet<u16> {
    let mut ports = BTreeSet::new();
    for e in std::fs::read_dir(net.dir()).expect("network dir").flatten() {
        if except.contains(&e.path().as_path()) {
            continue;
        }
        let torrc = std::fs::read_to_string(e.path().join("torrc")).unwrap_or_default();
        for l in torrc.lines() {
            let mut w = l.split_whitespace();
            if matches!(w.next(), Some("OrPort" | "DirPort"))
                && let Some(p) = w.next().and_then(|a| a.rsplit(':').next()?.parse().ok())
            {
                ports.insert(p);
            }
        }
    }
    ports
}

/// Socket inodes a process holds open.
fn socket_inodes(pid: u32) -> HashSet<u64> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            l.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

/// Remote ports of the TCP connections (not listeners) of a process.
fn remote_ports(pid: u32) -> BTreeSet<u16> {
    let inodes = socket_inodes(pid);
    let mut ports = BTreeSet::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for l in text.lines().skip(1) {
            let f: Vec<&str> = l.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            let (Some(rem), Some(st), Some(inode)) = (f.get(2), f.get(3), f.get(9)) else {
                continue;
            };
            // 0A: LISTEN.
            if *st == "0A" || !inode.parse().is_ok_and(|i: u64| inodes.contains(&i)) {
                continue;
            }
            if let Some(p) = rem
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok())
            {
                ports.insert(p);
            }
        }
    }
    ports
}

/// Children of a process (e.g. the pluggable transport arti starts).
fn children(pid: u32) -> Vec<u32> {
    let mut v = vec![];
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        // "pid (comm) state ppid ...": comm may hold spaces; split after ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if ppid == Some(pid) {
            v.push(child);
        }
    }
    v
}

/// Where a node and its children connected to, sampled until stopped.
#[derive(Default)]
struct Seen {
    /// Remote ports of the node process itself.
    node: BTreeSet<u16>,
    /// Remote ports of its child processes.
    children: BTreeSet<u16>,
    /// Names of its child processes.
    child_names: BTreeSet<String>,
}

/// Samples a process's connections every 50 ms in a thread.
struct Watch {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watch {
    fn start(pid: u32) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (s, v) = (Arc::clone(&stop), Arc::clone(&seen));
        let thread = std::thread::Builder::new()
            .name(format!("watch-{pid}"))
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    let node = remote_ports(pid);
                    let kids = children(pid);
                    let mut seen = v.lock().unwrap_or_else(PoisonError::into_inner);
                    seen.node.extend(node);
                    for k in kids {
                        seen.children.extend(remote_ports(k));
                        if let Ok(c) = std::fs::read_to_string(format!("/proc/{k}/comm")) {
                            seen.child_names.insert(c.trim().to_owned());
                        }
                    }
                    drop(seen);
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
            .expect("watch thread");
        Watch {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// `kith run` on the private network, through `bridge` if given.
fn start_node(k: &Kith, profile: &str, config: &Path, bridge: Option<&str>) -> Daemon {
    let cfg = config.to_string_lossy().into_owned();
    let mut args = vec!["run", "--transport", "tor", "--tor-config", &cfg];
    if let Some(b) = bridge {
        args.extend(["--bridge", b]);
    }
    k.spawn(profile, &args, &[("KITH_LOG", NODE_LOG)], SPAWN)
}

/// Poll `f` until it holds within [`STEP`], or fail with the nodes' logs.
fn within(what: &str, report: &dyn Fn() -> String, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if f() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < STEP,
            "timed out after {} s waiting for {what}\n{}",
            STEP.as_secs(),
            report()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn nodes_reach_tor_only_through_bridges() {
    let t0 = Instant::now();
    let net = TorNet::shared().expect("private Tor network");
    let plain = Bridge::start(net, "bridgeplain", false);
    let obfs4 = Bridge::start(net, "bridgeobfs4", true);
    let plain_line = plain.line(net);
    let obfs4_line = obfs4.line(net);
    println!(
        "timing: network and both bridges ready after {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let forbidden = network_ports(net, &[&plain.data, &obfs4.data]);
    assert!(forbidden.len() >= 14, "{forbidden:?}");
    let config = net.arti_config();

    // Alice is on the ordinary network; Bob only has the plain bridge,
    // Carol only the obfs4 one.
    let (ka, kb, kc) = (Kith::new(), Kith::new(), Kith::new());
    ka.create("alice");
    kb.create("bob");
    kc.create("carol");
    let t_nodes = Instant::now();
    let alice = start_node(&ka, "alice", config, None);
    let bob = start_node(&kb, "bob", config, Some(&plain_line));
    let watch_bob = Watch::start(bob.pid().expect("bob's pid"));
    let carol = start_node(&kc, "carol", config, Some(&obfs4_line));
    let watch_carol = Watch::start(carol.pid().expect("carol's pid"));
    let report = || {
        format!(
            "alice: {}\nbob: {}\ncarol: {}\n--- bob's log\n{}\n--- carol's log\n{}\n--- tor\n{}",
            ka.status("alice"),
            kb.status("bob"),
            kc.status("carol"),
            kb.log_tail("bob", 30),
            kc.log_tail("carol", 30),
            net.log_tails()
        )
    };
    within("three nodes online", &report, || {
        [ka.status("alice"), kb.status("bob"), kc.status("carol")]
            .iter()
            .all(is_online)
    });
    println!(
        "timing: the three nodes online after {:.1} s",
        t_nodes.elapsed().as_secs_f64()
    );
    // Each says how it reaches Tor.
    assert_eq!(ka.status("alice")["bridges"], 0);
    for (k, p) in [(&kb, "bob"), (&kc, "carol")] {
        assert_eq!(k.status(p)["bridges"], 1);
        let human = k.ok(p, &["status"]);
        assert!(human.contains("through 1 bridge"), "{human}");
    }

    // Alice asks both; each accepts; messages both ways.
    let t_chat = Instant::now();
    for (k, p) in [(&kb, "bob"), (&kc, "carol")] {
        let link = k.ok(p, &["link"]).trim().to_owned();
        ka.ok("alice", &["contact", "add", &link, "--alias", p]);
    }
    for (k, p) in [(&kb, "bob"), (&kc, "carol")] {
        within(&format!("{p} sees alice's request"), &report, || {
            k.contacts(p).iter().any(|c| c["state"] == "request")
        });
        k.ok(p, &["contact", "accept", "alice"]);
    }
    for p in ["bob", "carol"] {
        ka.ok("alice", &["send", p, &format!("hello {p}")]);
    }
    for (k, p) in [(&kb, "bob"), (&kc, "carol")] {
        let text = format!("hello {p}");
        within(
            &format!("alice's message to {p} delivered"),
            &report,
            || ka.has_message("alice", p, "out", &text, Some("delivered")),
        );
        assert!(k.has_message(p, "alice", "in", &text, None));
        k.ok(p, &["send", "alice", &format!("{p} here")]);
    }
    for (k, p) in [(&kb, "bob"), (&kc, "carol")] {
        let text = format!("{p} here");
        within(&format!("{p}'s reply delivered"), &report, || {
            k.has_message(p, "alice", "out", &text, Some("delivered"))
        });
        assert!(ka.has_message("alice", p, "in", &text, None));
    }
    println!(
        "timing: requests, messages and replies through both bridges in {:.1} s",
        t_chat.elapsed().as_secs_f64()
    );

    // Bob's only connections were to the plain bridge.
    let bob_seen = watch_bob.finish();
    assert!(
        bob_seen.node.contains(&plain.port),
        "bob never connected to his bridge on {}: {:?}",
        plain.port,
        bob_seen.node
    );
    let direct: Vec<u16> = bob_seen.node.intersection(&forbidden).copied().collect();
    assert!(
        direct.is_empty(),
        "bob connected to the network's relays {direct:?} besides his bridge"
    );
    // Carol's went through obfs4proxy, to the obfs4 port only.
    let carol_seen = watch_carol.finish();
    assert!(
        carol_seen
            .child_names
            .iter()
            .any(|n| n.starts_with("obfs4proxy")),
        "no obfs4proxy under carol: {:?}",
        carol_seen.child_names
    );
    assert!(
        carol_seen.children.contains(&obfs4.port),
        "obfs4proxy never connected to the bridge's obfs4 port {}: {:?}",
        obfs4.port,
        carol_seen.children
    );
    for (who, ports) in [
        ("carol", &carol_seen.node),
        ("carol's obfs4proxy", &carol_seen.children),
    ] {
        let direct: Vec<u16> = ports.intersection(&forbidden).copied().collect();
        assert!(direct.is_empty(), "{who} connected to relays {direct:?}");
        assert!(
            !ports.contains(&obfs4.or_port),
            "{who} reached the obfs4 bridge's ORPort without obfs4"
        );
    }
    println!(
        "bob connected to {:?}; carol to {:?}, her obfs4proxy to {:?}",
        bob_seen.node, carol_seen.node, carol_seen.children
    );

    bob.stop();
    carol.stop();
    alice.stop();
    println!(
        "timing: whole bridges suite {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}

/// A bad bridge line is refused when the command line is read, in words,
/// before anything is unlocked or started; so is a bridge for TCP.
#[test]
fn bad_bridge_lines_are_refused_up_front() {
    let k = Kith::new();
    k.create("dana");
    for (line, says) in [
        ("garbage", "invalid bridge line"),
        ("127.0.0.1:5000", "invalid bridge line"),
        (
            "127.0.0.1:5000 0123456789ABCDEF0123456789ABCDEF01234567 cert=x",
            "invalid bridge line",
        ),
        (
            "obfs4 127.0.0.1:5000 0123456789abcdef",
            "invalid bridge line",
        ),
    ] {
        let out = k.run("dana", &["run", "--bridge", line]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{line:?}: {err}");
        assert!(
            err.contains("--bridge <LINE>") && err.contains(says),
            "{line:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = k.run(
        "dana",
        &[
            "run",
            "--transport",
            "tcp",
            "--listen",
            "127.0.0.1:0",
            "--bridge",
            "127.0.0.1:5000 0123456789ABCDEF0123456789ABCDEF01234567",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("--bridge is for --transport tor"), "{err}");
    // Nothing went online.
    assert!(
        !k.files()
            .iter()
            .any(|f| f.to_string_lossy().contains("/tor")),
        "{:?}",
        k.files()
    );
}
