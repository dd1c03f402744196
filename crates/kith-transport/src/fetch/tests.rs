//! The fetcher against a scripted HTTP server on 127.0.0.1, through a
//! dialer that connects there whatever host it is asked for (and records
//! the host). Nothing here touches another address.

use std::net::Ipv4Addr;
use std::sync::Mutex;

use futures::FutureExt as _;
use futures::io::{AsyncReadExt as _, AsyncWriteExt as _};
use kith_core::ErrorKind;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt as _};

use super::*;

/// Connects to 127.0.0.1 at the asked port, whatever the host.
#[derive(Default)]
struct LoopbackDialer {
    dialed: Mutex<Vec<(String, u16)>>,
}

impl Dialer for LoopbackDialer {
    type Stream = Compat<TcpStream>;

    fn dial<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, Result<Self::Stream, Error>> {
        async move {
            self.dialed.lock().unwrap().push((host.to_owned(), port));
            let s = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .map_err(|source| Error::Connect { source })?;
            Ok(s.compat())
        }
        .boxed()
    }

    fn network_ready(&self) -> bool {
        true
    }
}

impl LoopbackDialer {
    fn hosts(&self) -> Vec<String> {
        self.dialed
            .lock()
            .unwrap()
            .iter()
            .map(|(h, _)| h.clone())
            .collect()
    }
}

/// What the server does with one connection, after reading the request.
enum Script {
    /// Send these bytes and close.
    Send(Vec<u8>),
    /// Send these bytes, then keep the connection open without a word.
    SendAndHang(Vec<u8>),
    /// Send these bytes one at a time, this far apart, then hang.
    Drip(Vec<u8>, Duration),
    /// Do the script inside TLS (the test CA's leaf for `localhost` and
    /// `feed.test`).
    Tls(Box<Script>),
}

fn send(s: &str) -> Script {
    Script::Send(s.as_bytes().to_vec())
}

/// A scripted server: one script per connection, in order. Stops when dropped.
struct Server {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    async fn start(scripts: Vec<Script>) -> Server {
        Server::start_with(|_| scripts).await
    }

    /// Scripts that need the server's port.
    async fn start_with(scripts: impl FnOnce(u16) -> Vec<Script>) -> Server {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let scripts = scripts(port);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            for script in scripts {
                let (stream, _) = listener.accept().await.unwrap();
                let seen = Arc::clone(&seen);
                // One connection at a time would do, but a hung one must
                // not block the next.
                tokio::spawn(serve(stream.compat(), script, seen));
            }
        });
        Server {
            port,
            requests,
            task,
        }
    }

    fn url(&self, host: &str, path: &str) -> FeedUrl {
        FeedUrl::parse(&format!("http://{host}:{}{path}", self.port)).unwrap()
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(stream: Compat<TcpStream>, script: Script, seen: Arc<Mutex<Vec<String>>>) {
    match script {
        Script::Tls(inner) => {
            let acceptor = futures_rustls::TlsAcceptor::from(server_tls());
            // A client that refuses the certificate ends the handshake.
            if let Ok(tls) = acceptor.accept(stream).await {
                serve_plain(tls, *inner, seen).await;
            }
        }
        plain => serve_plain(stream, plain, seen).await,
    }
}

fn serve_plain<S: FetchStream + 'static>(
    mut stream: S,
    script: Script,
    seen: Arc<Mutex<Vec<String>>>,
) -> BoxFuture<'static, ()> {
    async move {
        let mut head = Vec::new();
        let mut byte = [0_u8; 1];
        while !head.ends_with(b"\r\n\r\n") && head.len() < 65_536 {
            match stream.read(&mut byte).await {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        seen.lock()
            .unwrap()
            .push(String::from_utf8_lossy(&head).into_owned());
        let hang = || tokio::time::sleep(Duration::from_secs(3600));
        match script {
            Script::Send(bytes) => {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.close().await;
            }
            Script::SendAndHang(bytes) => {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.flush().await;
                hang().await;
            }
            Script::Drip(bytes, every) => {
                for b in bytes {
                    if stream.write_all(&[b]).await.is_err() || stream.flush().await.is_err() {
                        return;
                    }
                    tokio::time::sleep(every).await;
                }
                hang().await;
            }
            Script::Tls(_) => panic!("TLS inside TLS"),
        }
    }
    .boxed()
}

fn server_tls() -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let cert = CertificateDer::from(include_bytes!("testdata/leaf.der").to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        include_bytes!("testdata/leaf.key.der").to_vec(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    Arc::new(config)
}

/// The client configuration of `tls_config`, trusting the test CA only.
fn test_ca_tls() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            include_bytes!("testdata/ca.der").to_vec(),
        ))
        .unwrap();
    tls_config_with_roots(roots).unwrap()
}

fn quick() -> FetchLimits {
    FetchLimits::default().with_timeouts(Duration::from_secs(10), Duration::from_secs(5))
}

async fn fetch(
    url: &FeedUrl,
    limits: &FetchLimits,
) -> (Result<FetchedBody, Error>, LoopbackDialer) {
    let dialer = LoopbackDialer::default();
    let r = fetch_with(&dialer, url, limits, tls_config().unwrap()).await;
    (r, dialer)
}

/// A 200 with this body and `Content-Length`.
fn ok(body: &str) -> Script {
    send(&format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ))
}

fn redirect(status: u16, location: &str) -> Script {
    send(&format!(
        "HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
    ))
}

const BODY: &str = "<rss version=\"2.0\"><channel><title>t</title></channel></rss>";

#[tokio::test]
async fn plain_200_with_content_length() {
    let server = Server::start(vec![ok(BODY)]).await;
    let url = server.url("feed.test", "/feed.xml?x=1");
    let (r, dialer) = fetch(&url, &quick()).await;
    let got = r.unwrap();
    assert_eq!(got.body, BODY.as_bytes());
    assert_eq!(got.url, url);
    assert!(!got.moved_permanently);
    assert_eq!(
        got.content_type.as_deref(),
        Some("application/rss+xml; charset=utf-8")
    );
    // The host went to the dialer as it is: nothing was resolved here.
    assert_eq!(dialer.hosts(), ["feed.test"]);
    let req = &server.requests()[0];
    assert!(req.starts_with("GET /feed.xml?x=1 HTTP/1.1\r\n"), "{req}");
    let port = server.port;
    assert!(
        req.contains(&format!("\r\nHost: feed.test:{port}\r\n")),
        "{req}"
    );
    assert!(req.contains("\r\nAccept-Encoding: identity\r\n"));
    assert!(req.contains("\r\nConnection: close\r\n"));
    assert!(req.contains(&format!("\r\nUser-Agent: {USER_AGENT}\r\n")));
    for never in ["Cookie", "Referer", "If-", "kith", "Kith"] {
        assert!(!req.contains(never), "{never} in {req}");
    }
}

#[tokio::test]
async fn chunked_and_until_close() {
    let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                   5;ext=1\r\n<rss \r\n1B\r\nversion=\"2.0\"><channel/></r\r\n3\r\nss>\r\n0\r\nX-Trailer: y\r\n\r\n";
    let close = "HTTP/1.0 200 OK\r\n\r\nuntil the end";
    let server = Server::start(vec![send(chunked), send(close)]).await;
    let (r, _) = fetch(&server.url("feed.test", "/"), &quick()).await;
    assert_eq!(r.unwrap().body, b"<rss version=\"2.0\"><channel/></rss>");
    let (r, _) = fetch(&server.url("feed.test", "/"), &quick()).await;
    assert_eq!(r.unwrap().body, b"until the end");
}

#[tokio::test]
async fn redirect_chain_is_followed() {
    let fixed = Server::start_with(|port| {
        vec![
            redirect(301, "next"),
            redirect(308, "/abs/path"),
            redirect(302, &format!("http://other.test:{port}/b?q=1#frag")),
            ok(BODY),
        ]
    })
    .await;
    let start = fixed.url("feed.test", "/dir/feed");
    let (r, dialer) = fetch(&start, &quick()).await;
    let got = r.unwrap();
    assert_eq!(got.body, BODY.as_bytes());
    assert_eq!(
        got.url.to_string(),
        format!("http://other.test:{}/b?q=1", fixed.port)
    );
    assert!(!got.moved_permanently, "a 302 was among them");
    assert_eq!(
        dialer.hosts(),
        ["feed.test", "feed.test", "feed.test", "other.test"]
    );
    let paths: Vec<String> = fixed
        .requests()
        .iter()
        .map(|r| r.split(' ').nth(1).unwrap().to_owned())
        .collect();
    assert_eq!(paths, ["/dir/feed", "/dir/next", "/abs/path", "/b?q=1"]);

    // Only permanent redirects: the subscription may move.
    let server = Server::start(vec![redirect(301, "/new"), ok(BODY)]).await;
    let (r, _) = fetch(&server.url("feed.test", "/old"), &quick()).await;
    let got = r.unwrap();
    assert!(got.moved_permanently);
    assert_eq!(got.url.path(), "/new");
}

#[tokio::test]
async fn redirects_to_other_schemes_are_refused() {
    for location in [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "ftp://feed.test/feed.xml",
        "data:text/xml,<rss/>",
        "gopher://x/",
        "localhost:8080/x",
    ] {
        let server = Server::start(vec![redirect(302, location), ok(BODY)]).await;
        let (r, dialer) = fetch(&server.url("feed.test", "/"), &quick()).await;
        let e = r.unwrap_err();
        assert!(
            matches!(e, Error::RedirectRefused { .. }),
            "{location}: {e}"
        );
        assert_eq!(e.kind(), ErrorKind::PeerProtocolViolation);
        assert_eq!(dialer.hosts().len(), 1, "nothing dialed after the refusal");
    }
    let server = Server::start(vec![send("HTTP/1.1 302 Found\r\n\r\n")]).await;
    let (r, _) = fetch(&server.url("feed.test", "/"), &quick()).await;
    assert!(matches!(r, Err(Error::HttpMalformed { .. })));
}

#[tokio::test]
async fn too_many_redirects() {
    let server = Server::start((0..5).map(|i| redirect(302, &format!("/r{i}"))).collect()).await;
    let (r, dialer) = fetch(&server.url("feed.test", "/"), &quick()).await;
    let e = r.unwrap_err();
    assert!(matches!(e, Error::TooManyRedirects { max: 3 }), "{e}");
    assert_eq!(dialer.hosts().len(), 4);
    // Zero allowed: the first redirect is one too many.
    let server = Server::start(vec![redirect(302, "/x")]).await;
    let limits = quick().with_max_redirects(0);
    let (r, _) = fetch(&server.url("feed.test", "/"), &limits).await;
    assert!(matches!(r, Err(Error::TooManyRedirects { max: 0 })));
}

#[tokio::test]
async fn oversized_bodies_are_refused_as_soon_as_known() {
    let limits = quick().with_max_body(1000);
    let too_large = |r: Result<FetchedBody, Error>| {
        let e = r.unwrap_err();
        assert!(
            matches!(
                e,
                Error::ResponseTooLarge {
                    part: "body",
                    max: 1000
                }
            ),
            "{e}"
        );
        assert_eq!(e.kind(), ErrorKind::PeerProtocolViolation);
    };
    // Announced: refused before any byte of the body arrives (the server
    // would hang after the header; waiting would time out instead).
    let server = Server::start(vec![
        Script::SendAndHang(b"HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n".to_vec()),
        Script::SendAndHang(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3E9\r\n".to_vec(),
        ),
        Script::SendAndHang(
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n".to_vec(),
        ),
    ])
    .await;
    let url = server.url("feed.test", "/");
    let hang_limits = limits
        .clone()
        .with_timeouts(Duration::from_secs(30), Duration::from_secs(30));
    let started = Instant::now();
    too_large(fetch(&url, &hang_limits).await.0);
    too_large(fetch(&url, &hang_limits).await.0);
    // 20 digits: over u64, refused as malformed.
    assert!(matches!(
        fetch(&url, &hang_limits).await.0,
        Err(Error::HttpMalformed { .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(5));

    // Streamed past the limit: without a length, and in small chunks.
    let chunks: String = (0..11)
        .map(|_| format!("64\r\n{}\r\n", "x".repeat(100)))
        .collect();
    let server = Server::start(vec![
        Script::Send([b"HTTP/1.1 200 OK\r\n\r\n".as_slice(), &[b'x'; 5000]].concat()),
        send(&format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}0\r\n\r\n"
        )),
        // Exactly at the limit is fine.
        ok(&"x".repeat(1000)),
    ])
    .await;
    let url = server.url("feed.test", "/");
    too_large(fetch(&url, &limits).await.0);
    too_large(fetch(&url, &limits).await.0);
    assert_eq!(fetch(&url, &limits).await.0.unwrap().body.len(), 1000);
}

#[tokio::test]
async fn slow_servers_time_out() {
    // Says nothing: the idle timeout.
    let server = Server::start(vec![Script::SendAndHang(vec![])]).await;
    let limits =
        FetchLimits::default().with_timeouts(Duration::from_secs(10), Duration::from_millis(200));
    let started = Instant::now();
    let e = fetch(&server.url("feed.test", "/"), &limits)
        .await
        .0
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Timeout {
                action: "waiting for the feed's server",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.kind(), ErrorKind::PeerUnreachable);
    assert!(started.elapsed() < Duration::from_secs(3));

    // A byte every 50 ms, never idle long: the whole-fetch deadline.
    let server = Server::start(vec![Script::Drip(
        b"HTTP/1.1 200 OK\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
        Duration::from_millis(50),
    )])
    .await;
    let limits = FetchLimits::default()
        .with_timeouts(Duration::from_millis(400), Duration::from_millis(300));
    let started = Instant::now();
    let e = fetch(&server.url("feed.test", "/"), &limits)
        .await
        .0
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Timeout {
                action: "fetching a feed",
                ..
            }
        ),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));

    // A body that stops half way.
    let server = Server::start(vec![Script::SendAndHang(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf".to_vec(),
    )])
    .await;
    let limits =
        FetchLimits::default().with_timeouts(Duration::from_secs(10), Duration::from_millis(200));
    let e = fetch(&server.url("feed.test", "/"), &limits)
        .await
        .0
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
}

#[tokio::test]
async fn malformed_responses() {
    let cases: &[(&str, &str)] = &[
        ("", "without answering"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 5", "within the header"),
        ("HTTP/2 200\r\n\r\n", "status line"),
        ("ICY 200 OK\r\n\r\n", "status line"),
        ("HTTP/1.1 20 OK\r\n\r\n", "status code"),
        ("HTTP/1.1 2000 OK\r\n\r\n", "status code"),
        ("HTTP/1.1 999 What\r\n\r\n", "status code"),
        ("<html>hello</html>\r\n\r\n", "status line"),
        ("HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "colon"),
        ("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "header name"),
        ("HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", "folded"),
        ("HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n", "control"),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            "conflicting",
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "Content-Length",
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            "both",
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "transfer coding",
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 1\r\n\r\nx",
            "compressed",
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "chunk size",
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            "longer than its size",
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            "closed within the body",
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            "closed within the body",
        ),
    ];
    let mut scripts: Vec<Script> = cases.iter().map(|(r, _)| send(r)).collect();
    scripts.push(Script::Send(
        b"HTTP/1.1 200 OK\r\n\xff\xfe: x\r\n\r\n".to_vec(),
    ));
    let server = Server::start(scripts).await;
    let not_text = [("(\\xff\\xfe)", "not text")];
    for (response, reason) in cases.iter().chain(&not_text) {
        let e = fetch(&server.url("feed.test", "/"), &quick())
            .await
            .0
            .unwrap_err();
        match &e {
            Error::HttpMalformed { reason: r } => {
                assert!(r.contains(reason), "{response:?}: {e}");
            }
            other => panic!("{response:?}: {other}"),
        }
        assert_eq!(e.kind(), ErrorKind::PeerProtocolViolation);
        assert!(!e.to_string().contains("feed.test"));
    }

    // A header over its limit.
    let big = format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000));
    let server = Server::start(vec![
        send(&big),
        Script::SendAndHang(big.clone().into_bytes()),
    ])
    .await;
    for _ in 0..2 {
        let e = fetch(&server.url("feed.test", "/"), &quick())
            .await
            .0
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::ResponseTooLarge {
                    part: "header",
                    max: 16_384
                }
            ),
            "{e}"
        );
    }
}

#[tokio::test]
async fn statuses_other_than_200() {
    let server = Server::start(vec![
        send("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
        send("HTTP/1.1 410 Gone\r\n\r\n"),
        send("HTTP/1.1 503 Busy\r\n\r\n"),
        send("HTTP/1.1 304 Not Modified\r\n\r\n"),
        send("HTTP/1.1 100 Continue\r\n\r\n"),
    ])
    .await;
    let url = server.url("feed.test", "/");
    for (status, kind) in [
        (404, ErrorKind::NotFound),
        (410, ErrorKind::NotFound),
        (503, ErrorKind::PeerUnreachable),
        (304, ErrorKind::PeerUnreachable),
        (100, ErrorKind::PeerUnreachable),
    ] {
        let e = fetch(&url, &quick()).await.0.unwrap_err();
        assert!(
            matches!(e, Error::HttpStatus { status: s } if s == status),
            "{e}"
        );
        assert_eq!(e.kind(), kind);
    }
}

#[tokio::test]
async fn https_is_verified() {
    // Trusted (the test CA): fetched, with a redirect inside https.
    let server = Server::start(vec![
        Script::Tls(Box::new(redirect(301, "/tls-feed"))),
        Script::Tls(Box::new(ok(BODY))),
        // Not trusted by Mozilla's roots.
        Script::Tls(Box::new(ok(BODY))),
        // The name is not in the certificate.
        Script::Tls(Box::new(ok(BODY))),
        // https → plain http is refused.
        Script::Tls(Box::new(redirect(302, "http://feed.test/"))),
    ])
    .await;
    let port = server.port;
    let url = FeedUrl::parse(&format!("https://feed.test:{port}/")).unwrap();
    let dialer = LoopbackDialer::default();
    let got = fetch_with(&dialer, &url, &quick(), test_ca_tls())
        .await
        .unwrap();
    assert_eq!(got.body, BODY.as_bytes());
    assert_eq!(
        got.url.to_string(),
        format!("https://feed.test:{port}/tls-feed")
    );

    let e = fetch(&url, &quick()).await.0.unwrap_err();
    assert!(matches!(e, Error::Tls { .. }), "{e}");
    assert_eq!(e.kind(), ErrorKind::PeerAuthenticationFailed);

    let other = FeedUrl::parse(&format!("https://other.test:{port}/")).unwrap();
    let e = fetch_with(&dialer, &other, &quick(), test_ca_tls())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PeerAuthenticationFailed, "{e}");

    let e = fetch_with(&dialer, &url, &quick(), test_ca_tls())
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::RedirectRefused { reason } if reason.contains("plain http")),
        "{e}"
    );
}

#[test]
fn default_tls_config() {
    let c = tls_config().unwrap();
    assert_eq!(c.alpn_protocols, [b"http/1.1".to_vec()]);
    assert!(c.enable_sni);
}

#[tokio::test]
async fn nothing_listening_is_a_dial_error() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = FeedUrl::parse(&format!("http://feed.test:{port}/")).unwrap();
    let e = fetch(&url, &quick()).await.0.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PeerUnreachable, "{e}");
}

fn onion() -> String {
    kith_core::IdentityKeypair::from_seed(&[7; 32])
        .address()
        .hostname()
}

#[test]
fn feed_urls() {
    let ok = |s: &str| FeedUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    let u = ok("  HTTPS://Example.ORG./a/b?c=d#frag ");
    assert_eq!(u.scheme(), Scheme::Https);
    assert_eq!(u.host(), "example.org");
    assert_eq!(u.port(), 443);
    assert_eq!(u.path(), "/a/b?c=d");
    assert_eq!(u.to_string(), "https://example.org/a/b?c=d");
    assert_eq!(ok(&u.to_string()), u);
    assert_eq!(format!("{u:?}"), "FeedUrl(https://…)");

    let u = ok("http://example.org");
    assert_eq!((u.port(), u.path()), (80, "/"));
    let u = ok("http://example.org?x");
    assert_eq!(u.path(), "/?x");
    let u = ok("http://example.org:8080/caf\u{e9}");
    assert_eq!((u.port(), u.path()), (8080, "/caf%C3%A9"));
    assert_eq!(u.to_string(), "http://example.org:8080/caf%C3%A9");
    let u = ok("http://[::1]:8080/");
    assert_eq!((u.host(), u.port()), ("::1", 8080));
    assert_eq!(u.to_string(), "http://[::1]:8080/");
    let u = ok("http://10.0.0.1/"); // Tor's policy decides, not ours.
    assert_eq!(u.host(), "10.0.0.1");

    let o = onion();
    let u = ok(&format!("http://{}/feed", o.to_uppercase()));
    assert!(u.is_onion());
    assert_eq!(u.host(), o);
    assert!(ok(&format!("http://blog.{o}/")).is_onion());

    for bad in [
        "",
        "example.org/feed",
        "ftp://example.org/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://",
        "http:///x",
        "http://user:pw@example.org/",
        "http://@example.org/",
        "http://exa mple.org/",
        "http://example.org/a b",
        "http://example.org/\u{7}",
        "http://example.org:0/",
        "http://example.org:65536/",
        "http://example.org:8o/",
        "http://ex_ample..org/",
        "http://bücher.example/",
        "http://[::1/",
        "http://[::1]x/",
        "http://[not-v6]/",
        "http://abc.onion/",
        "http://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.onion/",
    ] {
        let e = FeedUrl::parse(bad).unwrap_err();
        assert!(matches!(e, Error::BadFeedUrl { .. }), "{bad}: {e}");
        assert_eq!(e.kind(), ErrorKind::BadLocalInput);
    }
    let long = format!("https://example.org/{}", "a".repeat(MAX_FEED_URL));
    assert!(FeedUrl::parse(&long).is_err());
}

#[test]
fn redirect_targets() {
    let base = FeedUrl::parse("https://a.example/dir/feed.xml?x=1").unwrap();
    let to = |loc: &str| base.redirect(loc).map(|u| u.to_string());
    assert_eq!(to("other.xml").unwrap(), "https://a.example/dir/other.xml");
    assert_eq!(to("/root").unwrap(), "https://a.example/root");
    assert_eq!(to("//b.example/x").unwrap(), "https://b.example/x");
    assert_eq!(to("HTTPS://c.example/").unwrap(), "https://c.example/");
    assert!(matches!(to(""), Err(Error::RedirectRefused { .. })));
    assert!(matches!(
        to("http://a.example/"),
        Err(Error::RedirectRefused { .. })
    ));
    assert!(matches!(
        to("https://u@a.example/"),
        Err(Error::RedirectRefused { .. })
    ));
    // To an onion service over plain http: fine (it authenticates itself).
    let o = onion();
    assert!(to(&format!("http://{o}/")).is_ok());
    // From an onion service, only to onion services.
    let from_onion = FeedUrl::parse(&format!("http://{o}/feed")).unwrap();
    assert!(matches!(
        from_onion.redirect("https://a.example/"),
        Err(Error::RedirectRefused { reason }) if reason.contains("onion")
    ));
    assert!(from_onion.redirect("/moved").is_ok());
}

#[test]
fn heads() {
    let h =
        parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Length: 12\r\n\r\n").unwrap();
    assert_eq!((h.status, h.framing), (200, Framing::Length(12)));
    let h = parse_head(b"HTTP/1.0 200\nTransfer-Encoding: Chunked\n\n").unwrap();
    assert_eq!(h.framing, Framing::Chunked);
    let h = parse_head(b"HTTP/1.1 301 \r\nLOCATION:  /x \r\nContent-Type: \x7f\r\n\r\n");
    assert!(h.is_err(), "DEL is a control character");
    let h = parse_head(b"HTTP/1.1 301 \r\nLOCATION:  /x \r\n\r\n").unwrap();
    assert_eq!(h.location.as_deref(), Some("/x"));
    let many: String = (0..=MAX_HEADER_LINES)
        .map(|i| format!("X-{i}: y\r\n"))
        .collect();
    assert!(parse_head(format!("HTTP/1.1 200 OK\r\n{many}\r\n").as_bytes()).is_err());
    assert_eq!(header_end(b"a\r\n\r\nb", 0), Some(5));
    assert_eq!(header_end(b"a\n\nb", 0), Some(3));
    assert_eq!(header_end(b"a\r\nb\r\n", 0), None);
    assert_eq!(parse_chunk_size(b"1f ; name=value").unwrap(), 31);
    assert!(parse_chunk_size(b"").is_err());
    assert!(parse_chunk_size(b"-1").is_err());
    assert!(parse_chunk_size(b"ffffffffffffffff").is_err());
}

#[test]
fn errors_name_no_url() {
    let e = Error::HttpStatus { status: 404 };
    assert_eq!(e.to_string(), "the feed's server answered HTTP 404");
    let e = Error::RedirectRefused {
        reason: "to a scheme other than http or https",
    };
    assert!(!e.to_string().contains("://"));
}

/// A response served from memory, `step` bytes per read at most; what is
/// written is thrown away.
struct Scripted {
    input: Vec<u8>,
    at: usize,
    step: usize,
}

impl AsyncRead for Scripted {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let n = buf.len().min(self.step).min(self.input.len() - self.at);
        let at = self.at;
        buf[..n].copy_from_slice(&self.input[at..at + n]);
        self.at += n;
        std::task::Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for Scripted {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Responses read a few bytes at a time (header ends, chunk lines and
/// bodies split across reads) give what the same response gives in one
/// read; and thousands of seeded mutations of them give a typed result
/// within the limits, never a panic.
#[tokio::test]
async fn responses_in_pieces_and_mutated() {
    let samples: [&[u8]; 5] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/xml\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n",
        b"HTTP/1.0 200 OK\n\nuntil close",
        b"HTTP/1.1 301 Moved\r\nLocation: /next\r\n\r\n",
        b"HTTP/1.1 404 Not Found\r\n\r\n",
    ];
    let url = FeedUrl::parse("http://feed.test/").unwrap();
    let limits = FetchLimits::default()
        .with_max_body(64)
        .with_max_header(256);
    let run = |input: Vec<u8>, step: usize| {
        let limits = limits.clone();
        let url = url.clone();
        async move {
            let s = Scripted { input, at: 0, step };
            exchange(s, &url, &limits, true).await
        }
    };
    let describe = |r: &Result<Response, Error>| match r {
        Ok(Response::Body { body, content_type }) => format!("body {body:?} {content_type:?}"),
        Ok(Response::Redirect {
            location,
            permanent,
        }) => format!("redirect {location} {permanent}"),
        Err(e) => format!("error {e}"),
    };
    for sample in samples {
        let whole = describe(&run(sample.to_vec(), usize::MAX).await);
        assert!(
            !whole.starts_with("error") || whole.contains("404"),
            "{whole}"
        );
        for step in 1..8 {
            assert_eq!(describe(&run(sample.to_vec(), step).await), whole);
        }
    }
    // xorshift64*: the same cases at every run.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    for _ in 0..3000 {
        let mut data = samples[(next() % 5) as usize].to_vec();
        for _ in 0..(next() % 6) {
            let at = (next() as usize) % (data.len() + 1);
            let byte =
                [b'\r', b'\n', b':', b' ', b'0', b'f', 0xff, next() as u8][(next() % 8) as usize];
            match next() % 3 {
                0 if at < data.len() => data[at] = byte,
                1 => data.insert(at, byte),
                _ => data.truncate(at),
            }
        }
        let step = 1 + (next() % 9) as usize;
        match run(data.clone(), step).await {
            Ok(Response::Body { body, content_type }) => {
                assert!(body.len() <= 64, "{data:?}");
                if let Some(t) = content_type {
                    assert!(t.len() <= 128 && t.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
                }
            }
            Ok(Response::Redirect { location, .. }) => {
                assert!(!location.bytes().any(|b| b.is_ascii_control()), "{data:?}");
            }
            Err(e) => {
                assert!(
                    matches!(
                        e,
                        Error::HttpMalformed { .. }
                            | Error::HttpStatus { .. }
                            | Error::ResponseTooLarge { .. }
                    ),
                    "{data:?}: {e}"
                );
            }
        }
    }
}
