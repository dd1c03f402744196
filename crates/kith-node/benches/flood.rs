//! What a flood of half-open connections costs a node, and how long a
//! contact's message then takes. Prints figures; run it in release:
//!
//! ```sh
//! cargo bench -p kith-node --bench flood
//! ```
//!
//! Two profiles in this process talk over TCP on 127.0.0.1. An attacker
//! task keeps `HELD` connections open to alice, each carrying a handshake
//! frame one byte short, and reopens every one alice closes. Meanwhile bob
//! goes offline and online again (his link dropped and came back) and
//! writes to alice; we time delivery. Memory is this whole process's
//! (attacker included), so it bounds what alice's side costs.

#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kith_node::{
    ContactState, Event, KdfChoice, Kith, KithConfig, MessageState, Network, Password, Profile,
};
use tokio::io::AsyncWriteExt;

const HELD: usize = 2000;

fn vm(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

async fn delivered(p: &Profile, c: kith_node::ContactId, id: kith_node::MessageId) -> bool {
    p.messages(c)
        .await
        .unwrap()
        .iter()
        .any(|m| m.id == id && m.state == MessageState::Delivered)
}

async fn wait(what: &str, f: impl AsyncFn() -> bool) -> Duration {
    let t = Instant::now();
    while !f().await {
        assert!(t.elapsed() < Duration::from_secs(120), "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    t.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let k = Kith::new(KithConfig {
        data_dir: dir.path().to_path_buf(),
        kdf: KdfChoice::DangerouslyFastForTestingOnly,
    });
    let pw = || Password::new("pw".into());
    let a = k.create_profile("alice", "Alice", pw()).await.unwrap();
    let b = k.create_profile("bob", "Bob", pw()).await.unwrap();
    let tcp = |port: u16| Network::Tcp {
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
    };
    a.go_online(tcp(0)).await.unwrap();
    b.go_online(tcp(0)).await.unwrap();
    let b_port = b.link().tcp.unwrap().port();
    let mut ev = a.subscribe();
    let bob = b.add_contact(&a.link(), "alice").await.unwrap();
    let req = loop {
        if let Ok(Event::ContactRequest(id)) = ev.recv().await {
            break id;
        }
    };
    a.accept_contact(req).await.unwrap();
    let m = b.send(bob.id, "warm-up").await.unwrap();
    wait("warm-up", async || delivered(&b, bob.id, m.id).await).await;
    assert_eq!(a.contact(req).await.unwrap().state, ContactState::Accepted);
    println!(
        "before the flood: VmRSS {} KiB, {} fds",
        vm("VmRSS:"),
        fds()
    );

    // The flood.
    let target = a.link().tcp.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicU64::new(0));
    let mut attackers = vec![];
    for _ in 0..HELD {
        let (stop, opened) = (Arc::clone(&stop), Arc::clone(&opened));
        attackers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut s) = tokio::net::TcpStream::connect(target).await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                opened.fetch_add(1, Ordering::Relaxed);
                // A frame announcing 50 bytes, then 49 of them.
                let mut frame = vec![0_u8, 50];
                frame.extend_from_slice(&[7_u8; 49]);
                let _ = s.write_all(&frame).await;
                // Held until alice closes it.
                let mut buf = [0_u8; 64];
                let _ = tokio::io::AsyncReadExt::read(&mut s, &mut buf).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Bob's link drops and comes back during the flood; then he writes.
    b.go_offline().await;
    b.go_online(tcp(b_port)).await.unwrap();
    let m = b.send(bob.id, "during the flood").await.unwrap();
    let took = wait("delivery during the flood", async || {
        delivered(&b, bob.id, m.id).await
    })
    .await;
    println!(
        "during a flood of {HELD} held connections ({} opened so far): delivered in {:.2} s",
        opened.load(Ordering::Relaxed),
        took.as_secs_f64()
    );
    println!(
        "during the flood: VmRSS {} KiB (peak VmHWM {} KiB), {} fds",
        vm("VmRSS:"),
        vm("VmHWM:"),
        fds()
    );
    stop.store(true, Ordering::Relaxed);
    for t in attackers {
        t.abort();
    }
    k.shutdown().await;
}
