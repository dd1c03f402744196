//! File throughput over the private Tor network, next to a bare onion-service
//! stream's in the same run (issue 9 § 5): the ratio is the figure to improve.
//!
//! `cargo bench -p kith-tests --bench file_throughput` starts a private Tor
//! network on 127.0.0.1 (Debian's `tor`; `scripts/test.sh` installs it), then
//! 1. a bare stream: one arti client runs an onion service and dials it,
//!    writes `SIZE` bytes and waits for one byte back once all are read;
//! 2. a Kith file: two profiles (one Kith, one arti client) become contacts
//!    over the same network and one sends a `SIZE`-byte file: the time from
//!    `send_file_bytes` returning to the receiver holding it, checked.
//!
//! Both go through 3-hop circuits on each side of a rendezvous point, on the
//! same relays. Set `KITH_BENCH_MIB` to change the size (default 20).

// A benchmark binary prints its figures.
#![allow(clippy::print_stdout, missing_docs)]

use std::time::{Duration, Instant};

use kith_core::IdentityKeypair;
use kith_node::{ContactState, FileState, KdfChoice, Kith, KithConfig, Network, Password, Profile};
use kith_tests::tornet::TorNet;
use kith_transport::{DialTarget, ServiceSpec, TorRuntime, TorSettings, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LONG: Duration = Duration::from_secs(300);

fn mib_s(bytes: usize, d: Duration) -> f64 {
    // Figures for a printout.
    #[allow(clippy::cast_precision_loss)]
    let b = bytes as f64;
    b / d.as_secs_f64() / (1024.0 * 1024.0)
}

async fn bare_stream(net: &TorNet, dir: &std::path::Path, size: usize) -> Duration {
    let tor = TorRuntime::start(TorSettings {
        state_dir: dir.join("state"),
        cache_dir: dir.join("cache"),
        extra_toml: Some(net.arti_toml()),
        bridges: vec![],
    })
    .await
    .expect("arti");
    let transport = tor.transport();
    let identity = IdentityKeypair::generate(&mut rand::rngs::OsRng);
    let address = identity.address();
    let mut listener = transport
        .listen(ServiceSpec {
            identity,
            nickname: "bench".into(),
            discovery: None,
        })
        .await
        .expect("listen");
    let server = tokio::spawn(async move {
        let mut s = listener.accept().await.expect("a stream");
        let mut buf = vec![0_u8; 64 * 1024];
        let mut got = 0;
        while got < size {
            let n = s.read(&mut buf).await.expect("read");
            assert!(n > 0, "stream ended after {got} bytes");
            got += n;
        }
        s.write_all(b"k").await.expect("answer");
        s.flush().await.expect("flush");
        // Keep the listener until the answer is read.
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(listener);
    });
    let target = DialTarget {
        address,
        tcp: None,
        discovery: None,
    };
    let start = Instant::now();
    let mut s = loop {
        match transport.dial(&target).await {
            Ok(s) => break s,
            Err(e) => {
                assert!(start.elapsed() < LONG, "no stream to the service: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let data = vec![0x5a_u8; size];
    let t = Instant::now();
    for part in data.chunks(64 * 1024) {
        s.write_all(part).await.expect("write");
    }
    s.flush().await.expect("flush");
    let mut k = [0_u8; 1];
    s.read_exact(&mut k).await.expect("answer");
    let took = t.elapsed();
    server.await.expect("server");
    tor.shutdown().await;
    took
}

async fn kith_file(net: &TorNet, dir: &std::path::Path, size: usize) -> Duration {
    let k = Kith::new(KithConfig {
        data_dir: dir.to_path_buf(),
        kdf: KdfChoice::DangerouslyFastForTestingOnly,
    });
    let tor = || Network::Tor {
        extra_toml: Some(net.arti_toml()),
        bridges: vec![],
    };
    let pw = || Password::new("pw".into());
    let a = k.create_profile("a", "A", pw()).await.expect("a");
    let b = k.create_profile("b", "B", pw()).await.expect("b");
    a.go_online(tor()).await.expect("a online");
    b.go_online(tor()).await.expect("b online");
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
    // A message first, so that both sessions are up when the file goes.
    let m = a.send(bob, "hello").await.expect("send");
    while !b
        .messages(alice)
        .await
        .expect("m")
        .iter()
        .any(|x| x.id == m.id)
    {
        assert!(start.elapsed() < LONG, "the first message never arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let sealed = Instant::now();
    let id = a
        .send_file_bytes(bob, "bench.bin", data.clone())
        .await
        .expect("send file")
        .id;
    println!(
        "bench: sealing {} MiB into the sender's store took {:.1} s",
        size >> 20,
        sealed.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    loop {
        if let Ok(f) = b.file(alice, id).await
            && f.state == FileState::Complete
        {
            break;
        }
        assert!(t.elapsed() < LONG * 2, "the file never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = t.elapsed();
    let out = dir.join("received.bin");
    b.save_file(alice, id, &out).await.expect("save");
    assert!(
        std::fs::read(&out).expect("read") == data,
        "not the same bytes"
    );
    k.shutdown().await;
    took
}

fn main() {
    kith_node::quiet_arti_shutdown_panic();
    let mib: usize = std::env::var("KITH_BENCH_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let size = mib << 20;
    let net = TorNet::start().expect("private Tor network");
    let dir = tempfile::tempdir().expect("tmp");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let bare = rt.block_on(bare_stream(&net, &dir.path().join("bare"), size));
    let file = rt.block_on(kith_file(&net, &dir.path().join("kith"), size));
    println!(
        "bench: bare onion-service stream: {mib} MiB in {:.1} s = {:.2} MiB/s",
        bare.as_secs_f64(),
        mib_s(size, bare)
    );
    println!(
        "bench: Kith file (chunks, Noise records, sealed store on both sides): {mib} MiB in {:.1} s = {:.2} MiB/s",
        file.as_secs_f64(),
        mib_s(size, file)
    );
    println!(
        "bench: Kith file / bare stream throughput = {:.2}",
        bare.as_secs_f64() / file.as_secs_f64()
    );
}
