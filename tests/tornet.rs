//! Story: the private Tor network the suites run on carries an onion service,
//! with nothing but C tor: a C tor onion service in front of an echo server,
//! reached through the network's C tor client over SOCKS5.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use kith_tests::tornet::{TorNet, socks5_connect};

/// How long the onion service may take to become reachable.
const REACHABLE: Duration = Duration::from_secs(120);

/// Echo each line back, on a named thread, for every connection.
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind echo server");
    let addr = listener.local_addr().expect("echo server address");
    std::thread::Builder::new()
        .name("echo".into())
        .spawn(move || {
            for conn in listener.incoming().flatten() {
                let Ok(mut w) = conn.try_clone() else {
                    continue;
                };
                let mut line = String::new();
                if BufReader::new(conn).read_line(&mut line).is_ok() {
                    let _ = w.write_all(line.as_bytes());
                }
            }
        })
        .expect("spawn echo thread");
    addr
}

/// One line through the onion service and back.
fn round_trip(socks: SocketAddr, onion: &str) -> std::io::Result<String> {
    let mut s = socks5_connect(socks, onion, 80)?;
    s.write_all(b"hello over onion\n")?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    Ok(line)
}

#[test]
fn c_tor_onion_service_round_trip() {
    let net = TorNet::shared().expect("private Tor network");
    println!(
        "timing: network ready after {:.1} s (shared: it may have been up already)",
        net.elapsed_ready().as_secs_f64()
    );

    let echo = echo_server();
    let t0 = Instant::now();
    let hs = net.dir().join("echoservice").join("hs");
    let torrc = format!(
        "HiddenServiceDir {}\nHiddenServicePort 80 {echo}\n",
        hs.display()
    );
    net.start_node("echoservice", &torrc)
        .expect("start onion service node");
    let hostname = hs.join("hostname");
    let onion = loop {
        if let Ok(h) = std::fs::read_to_string(&hostname) {
            break h.trim().to_owned();
        }
        assert!(
            t0.elapsed() < REACHABLE,
            "no onion hostname\n{}",
            net.log_tails()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(onion.ends_with(".onion") && onion.len() == 62, "{onion}");

    let mut tries = 0;
    let echoed = loop {
        tries += 1;
        match round_trip(net.socks_addr(), &onion) {
            Ok(line) => break line,
            Err(e) => {
                assert!(
                    t0.elapsed() < REACHABLE,
                    "onion service unreachable after {tries} tries: {e}\n{}",
                    net.log_tails()
                );
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    };
    assert_eq!(echoed, "hello over onion\n");
    println!(
        "timing: onion service reachable {:.1} s after its tor started ({tries} tries); total {:.1} s",
        t0.elapsed().as_secs_f64(),
        net.elapsed_ready().as_secs_f64() + t0.elapsed().as_secs_f64()
    );
}
