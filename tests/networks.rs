//! Story (issue 13): each profile goes online on exactly the network its
//! settings name. Two profiles on the private Tor network and two on TCP,
//! all in one process: each pair reaches its own contact, each profile says
//! which network it is on, and no Tor client for another network starts.

use std::time::{Duration, Instant};

use kith_node::{
    ContactState, KdfChoice, Kith, KithConfig, MessageState, Network, NetworkKind, Password,
    Profile,
};
use kith_tests::tornet::TorNet;

const LONG: Duration = Duration::from_secs(240);

async fn wait<F, Fut>(what: &str, limit: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out after {limit:?}: {what}");
}

/// `a` adds `b`, `b` accepts, `a` writes: delivered.
async fn befriend_and_write(a: &Profile, b: &Profile, body: &str) {
    let c = a.add_contact(&b.link(), "peer").await.expect("add");
    let start = Instant::now();
    let req = loop {
        let found = b
            .contacts()
            .await
            .expect("contacts")
            .into_iter()
            .find(|x| x.address == a.address() && x.state == ContactState::IncomingRequest);
        if let Some(x) = found {
            break x.id;
        }
        assert!(start.elapsed() < LONG, "timed out: the request arrives");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    b.accept_contact(req).await.expect("accept");
    let m = a.send(c.id, body).await.expect("send");
    wait("the message is delivered", LONG, || async {
        a.messages(c.id)
            .await
            .expect("messages")
            .iter()
            .any(|x| x.id == m.id && x.state == MessageState::Delivered)
    })
    .await;
}

#[test]
fn profiles_on_different_networks_in_one_process() {
    // As the binaries do: arti's proof-of-work thread stops with its runtime.
    kith_node::quiet_arti_shutdown_panic();
    let net = TorNet::shared().expect("private Tor network");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tmp");
    rt.block_on(async {
        let k = Kith::new(KithConfig {
            data_dir: dir.path().to_path_buf(),
            kdf: KdfChoice::DangerouslyFastForTestingOnly,
        });
        let pw = || Password::new("pw".into());
        let tcp = || Network::Tcp {
            listen: "127.0.0.1:0".parse().expect("addr"),
        };
        let tor = || Network::Tor {
            extra_toml: Some(net.arti_toml()),
            bridges: vec![],
        };
        let mut profiles = vec![];
        for n in ["c1", "c2", "t1", "t2"] {
            profiles.push(k.create_profile(n, n, pw()).await.expect("create"));
        }
        let [c1, c2, t1, t2] = <[Profile; 4]>::try_from(profiles).expect("four");
        // TCP first: a profile that goes online first no longer decides the
        // network of the others.
        c1.go_online(tcp()).await.expect("c1 online");
        c2.go_online(tcp()).await.expect("c2 online");
        let t0 = Instant::now();
        t1.go_online(tor()).await.expect("t1 online");
        t2.go_online(tor()).await.expect("t2 online");
        for (p, kind) in [
            (&c1, NetworkKind::Tcp),
            (&c2, NetworkKind::Tcp),
            (&t1, NetworkKind::TorCustom),
            (&t2, NetworkKind::TorCustom),
        ] {
            assert_eq!(p.network_kind(), Some(kind), "{}", p.name());
        }
        assert!(t1.link().tcp.is_none() && c1.link().tcp.is_some());

        befriend_and_write(&c1, &c2, "over tcp").await;
        befriend_and_write(&t1, &t2, "over tor").await;
        println!(
            "timing: two profiles on the private Tor network delivered {:.1} s after going online",
            t0.elapsed().as_secs_f64()
        );

        // Only the private network's Tor client ran: no public-Tor state.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("data dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n == "tor"), "{names:?}");
        assert_eq!(
            names
                .iter()
                .filter(|n| n.starts_with("tor-custom-"))
                .count(),
            1,
            "{names:?}"
        );
        k.shutdown().await;
    });
}
