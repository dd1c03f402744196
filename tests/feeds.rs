//! Story (issue 11 § 3): Alice subscribes to feeds with the `kith` command
//! and her node fetches them over the private Tor network only: an RSS 2.0
//! and an Atom feed served by a small HTTP server on 127.0.0.1, reached
//! (a) through an onion service (a C tor of the network with
//! `HiddenServicePort 80 → the server`) and (b) through an exit of the
//! network (the authorities exit to 127.0.0.0/8 and serve a port clients
//! can pick them for: `TorNet::exit_port`; the URL is an IP literal,
//! nothing is resolved). Hostile feeds on the same onion service (too
//! large, never-ending, a server that stalls, malformed XML, an entity
//! bomb, redirects to ftp:// and file://) each end as their own error in
//! `kith feed list`, and the good feeds still work. Before the node runs on
//! Tor, nothing is fetched.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use kith_tests::cli::{Kith, json_lines, wait_until};
use kith_tests::tornet::TorNet;
use serde_json::Value;

const LONG: Duration = Duration::from_secs(240);

fn rss(items: &[(&str, &str)]) -> String {
    let mut s = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Garden news</title><link>http://garden.example/</link>"#,
    );
    for (id, title) in items {
        s.push_str(&format!(
            "<item><guid>{id}</guid><title>{title}</title><link>http://garden.example/{id}</link>\
             <description>&lt;p&gt;About {title}.&lt;/p&gt;</description>\
             <pubDate>Sun, 06 Dec 2026 10:00:00 GMT</pubDate></item>"
        ));
    }
    s.push_str("</channel></rss>");
    s
}

const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Seed library</title><id>urn:seeds</id>
<updated>2026-12-01T10:00:00Z</updated>
<entry><id>urn:seeds:2</id><title>Beans are back</title><link href="https://seeds.example/2"/><updated>2026-12-02T10:00:00Z</updated><summary>Runner beans.</summary></entry>
<entry><id>urn:seeds:1</id><title>Opening hours</title><link href="https://seeds.example/1"/><updated>2026-12-01T10:00:00Z</updated><summary>Saturdays.</summary></entry>
</feed>"#;

const MALFORMED: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Broken</title><item><title>x</item></channel>"#;

const ENTITY_BOMB: &str = r#"<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaaaaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">]><rss version="2.0"><channel><title>&g;</title></channel></rss>"#;

/// A tiny HTTP/1.1 server on 127.0.0.1 serving good and hostile feeds;
/// stopped when dropped.
struct FeedServer {
    port: u16,
    stop: Arc<AtomicBool>,
    /// The RSS feed's items (changed by the test).
    rss_items: Arc<Mutex<Vec<(String, String)>>>,
    /// Each request's first line and User-Agent.
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl FeedServer {
    /// Serve on 127.0.0.1:`port`.
    fn start(port: u16) -> FeedServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("addr").port();
        let server = FeedServer {
            port,
            stop: Arc::default(),
            rss_items: Arc::new(Mutex::new(vec![
                ("g2".into(), "Tomatoes".into()),
                ("g1".into(), "Compost".into()),
            ])),
            seen: Arc::default(),
        };
        let (stop, items, seen) = (
            Arc::clone(&server.stop),
            Arc::clone(&server.rss_items),
            Arc::clone(&server.seen),
        );
        std::thread::Builder::new()
            .name("feed-server".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    let Ok(conn) = conn else { continue };
                    let (stop, items, seen) =
                        (Arc::clone(&stop), Arc::clone(&items), Arc::clone(&seen));
                    let _ = std::thread::Builder::new()
                        .name("feed-conn".into())
                        .spawn(move || serve(conn, &stop, &items, &seen));
                }
            })
            .expect("server thread");
        server
    }

    fn requests(&self, path: &str) -> Vec<(String, String)> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(l, _)| l.split(' ').nth(1) == Some(path))
            .cloned()
            .collect()
    }
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(
    mut conn: TcpStream,
    stop: &AtomicBool,
    items: &Mutex<Vec<(String, String)>>,
    seen: &Mutex<Vec<(String, String)>>,
) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut req = Vec::new();
    let mut buf = [0; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 16 * 1024 {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let req = String::from_utf8_lossy(&req).into_owned();
    let first = req.lines().next().unwrap_or_default().to_owned();
    let agent = req
        .lines()
        .find_map(|l| l.strip_prefix("User-Agent: "))
        .unwrap_or_default()
        .to_owned();
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((first.clone(), agent));
    let path = first.split(' ').nth(1).unwrap_or_default();
    let ok = |body: &str| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let redirect = |code: &str, to: &str| {
        format!(
            "HTTP/1.1 {code}\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    };
    let answer = match path {
        "/rss.xml" => {
            let items = items.lock().unwrap_or_else(PoisonError::into_inner).clone();
            let items: Vec<(&str, &str)> = items
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            ok(&rss(&items))
        }
        "/atom.xml" => ok(ATOM),
        "/malformed.xml" => ok(MALFORMED),
        "/bomb.xml" => ok(ENTITY_BOMB),
        "/ftp.xml" => redirect("302 Found", "ftp://127.0.0.1/feed.xml"),
        "/file.xml" => redirect("301 Moved Permanently", "file:///etc/passwd"),
        // Announces more than a feed may be.
        "/big.xml" => {
            "HTTP/1.1 200 OK\r\nContent-Length: 3145728\r\nConnection: close\r\n\r\n<rss>".into()
        }
        // No length: bytes until the reader gives up.
        "/endless.xml" => {
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n<rss version=\"2.0\"><channel><title>");
            let chunk = vec![b'a'; 64 * 1024];
            for _ in 0..64 {
                if stop.load(Ordering::Acquire) || conn.write_all(&chunk).is_err() {
                    return;
                }
            }
            return;
        }
        // A header, then nothing.
        "/stall.xml" => {
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<rss");
            let until = Instant::now() + Duration::from_secs(120);
            while Instant::now() < until && !stop.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(100));
            }
            return;
        }
        _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
    };
    let _ = conn.write_all(answer.as_bytes());
}

fn feeds(k: &Kith) -> Vec<Value> {
    json_lines(&k.ok("alice", &["feed", "list", "--json"]))
}

fn feed(k: &Kith, name: &str) -> Value {
    feeds(k)
        .into_iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no feed {name}"))
}

fn titles(k: &Kith, name: &str, unread: bool) -> Vec<String> {
    let mut args = vec!["feed", "items", name, "--json"];
    if unread {
        args.push("--unread");
    }
    json_lines(&k.ok("alice", &args))
        .iter()
        .map(|i| i["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Fetch `name` now until it succeeds (an onion service is reachable once
/// its descriptor is published).
fn fetched(k: &Kith, name: &str) -> Value {
    let start = Instant::now();
    loop {
        let v = json_lines(&k.ok("alice", &["feed", "fetch", name, "--json"]));
        let last = v.first().cloned().unwrap_or_default();
        if last["error"].is_null() {
            return last;
        }
        assert!(
            start.elapsed() < LONG,
            "timed out waiting for {name} to be fetched: {last}\n{}",
            k.log_tail("alice", 20)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn feeds_over_an_onion_service_and_an_exit() {
    let t0 = Instant::now();
    let net = TorNet::shared().expect("private Tor network");
    // On the port the network's exits accept (see `TorNet::exit_port`).
    let server = FeedServer::start(net.exit_port());
    let port = server.port;
    let data = net
        .start_node(
            "feedonion",
            &format!("HiddenServiceDir hs\nHiddenServicePort 80 127.0.0.1:{port}\n"),
        )
        .expect("the feed's onion service");
    let onion = wait_until(LONG, "the onion service's hostname", || {
        std::fs::read_to_string(data.join("hs").join("hostname")).ok()
    })
    .trim()
    .to_owned();
    let k = Kith::new();
    k.create("alice");

    // Not running on Tor: subscribing works, fetching does not.
    let on_onion = |path: &str| format!("http://{onion}{path}");
    k.ok(
        "alice",
        &[
            "feed",
            "subscribe",
            &on_onion("/rss.xml"),
            "--name",
            "garden",
        ],
    );
    let out = k.run("alice", &["feed", "fetch", "garden"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("only over Tor"), "{err}");
    assert!(
        server
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty(),
        "nothing fetched"
    );

    let _alice = k.start_tor("alice", net.arti_config(), LONG);
    println!(
        "timing: feeds: node online after {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let subscribe = |url: &str, name: &str| {
        k.ok("alice", &["feed", "subscribe", url, "--name", name]);
    };
    subscribe(&on_onion("/atom.xml"), "seeds");
    let exit_url = format!("http://127.0.0.1:{port}/rss.xml");
    subscribe(&exit_url, "via-exit");
    let hostile = [
        ("big", "/big.xml", "too_large"),
        ("endless", "/endless.xml", "too_large"),
        ("stall", "/stall.xml", "timeout"),
        ("malformed", "/malformed.xml", "bad_feed"),
        ("bomb", "/bomb.xml", "bad_feed"),
        ("to-ftp", "/ftp.xml", "bad_redirect"),
        ("to-file", "/file.xml", "bad_redirect"),
    ];
    for (name, path, _) in hostile {
        subscribe(&on_onion(path), name);
    }

    // (a) Through the onion service: RSS and Atom, items shown.
    let g = fetched(&k, "garden");
    println!(
        "timing: feeds: onion feed fetched after {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(g["title"], "Garden news");
    assert_eq!(titles(&k, "garden", false), ["Tomatoes", "Compost"]);
    let items = json_lines(&k.ok("alice", &["feed", "items", "garden", "--json"]));
    assert_eq!(items[0]["link"], "http://garden.example/g2");
    assert_eq!(items[0]["summary"], "About Tomatoes.");
    assert_eq!(items[0]["read"], false);
    let s = fetched(&k, "seeds");
    assert_eq!(s["title"], "Seed library");
    assert_eq!(
        titles(&k, "seeds", false),
        ["Beans are back", "Opening hours"]
    );
    let human = k.ok("alice", &["feed", "items", "seeds"]);
    assert!(
        human.contains("Beans are back") && human.contains("https://seeds.example/2"),
        "{human}"
    );

    // (b) Through an exit of the network, to an IP literal.
    let e = fetched(&k, "via-exit");
    assert_eq!(e["title"], "Garden news");
    assert_eq!(titles(&k, "via-exit", false), ["Tomatoes", "Compost"]);
    println!(
        "timing: feeds: exit feed fetched after {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    // Every request carried the generic User-Agent and nothing of ours.
    let reqs = server.requests("/rss.xml");
    assert!(reqs.len() >= 2, "{reqs:?}");
    assert!(
        reqs.iter()
            .all(|(_, ua)| ua == "Mozilla/5.0 (compatible; feed reader)"),
        "{reqs:?}"
    );

    // Hostile feeds: each its own error; the good ones unaffected.
    let t = Instant::now();
    let all = json_lines(&k.ok("alice", &["feed", "fetch", "all", "--json"]));
    println!(
        "timing: feeds: fetch all took {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(all.len(), 3 + hostile.len());
    for (name, _, kind) in hostile {
        let f = feed(&k, name);
        assert_eq!(f["error"]["kind"], kind, "{name}: {f}");
        assert_eq!(f["items"], 0, "{name}");
    }
    for name in ["garden", "seeds", "via-exit"] {
        let f = feed(&k, name);
        assert!(f["error"].is_null(), "{name}: {f}");
        assert_eq!(f["items"], 2, "{name}");
    }
    let list = k.ok("alice", &["feed", "list"]);
    assert!(list.contains("error (bad_redirect)"), "{list}");
    assert!(list.contains("error (too_large)"), "{list}");
    let status = k.status("alice");
    assert_eq!(
        status["state"], "online",
        "the node is unaffected: {status}"
    );

    // A new item appears; read/unread.
    server
        .rss_items
        .lock()
        .unwrap()
        .insert(0, ("g3".into(), "Frost tonight".into()));
    fetched(&k, "garden");
    assert_eq!(
        titles(&k, "garden", false),
        ["Frost tonight", "Tomatoes", "Compost"]
    );
    k.ok("alice", &["feed", "read", "garden", "1"]);
    assert_eq!(titles(&k, "garden", true), ["Frost tonight", "Tomatoes"]);
    k.ok("alice", &["feed", "read", "garden", "all"]);
    assert!(titles(&k, "garden", true).is_empty());
    assert_eq!(feed(&k, "garden")["unread"], 0);

    // An item reposted to Alice's blog, for her contacts to read.
    let post: Value = serde_json::from_str(
        k.ok(
            "alice",
            &["feed", "repost", "garden", "3", "cover the beds"],
        )
        .trim(),
    )
    .expect("the post as JSON");
    let blog = json_lines(&k.ok("alice", &["blog", "feed", "--json"]));
    let body = blog
        .iter()
        .find(|p| p["id"] == post["id"])
        .and_then(|p| p["body"].as_str())
        .expect("the repost in alice's blog");
    assert!(
        body.starts_with("cover the beds\n\nFrost tonight\nhttp://garden.example/g3"),
        "{body:?}"
    );

    k.ok("alice", &["feed", "unsubscribe", "bomb"]);
    assert!(feeds(&k).iter().all(|f| f["name"] != "bomb"));
    println!(
        "timing: feeds: done after {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}
