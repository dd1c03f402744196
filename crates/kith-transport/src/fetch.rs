//! Fetching a feed: a minimal, bounded HTTP/1.1 `GET` over Tor.
//!
//! [`crate::TorTransport::fetch_feed`] is the only way in: every connection
//! is an arti data stream, opened by host name, so a DNS name is resolved by
//! the Tor exit (never by this machine) and an onion address by arti's
//! onion-service client. There is no code path from here to a direct
//! connection; the unit tests drive the same HTTP code through a dialer of
//! their own that only knows 127.0.0.1.
//!
//! What a fetch does:
//! - one `GET` per hop, `Connection: close`, `Accept-Encoding: identity`
//!   (no compression: no decompression bombs), a fixed generic
//!   `User-Agent` with no version, no cookies, no referrer, no
//!   conditional headers;
//! - `https` through rustls, verified against the Mozilla roots compiled
//!   in (`webpki-roots`), with TLS session resumption off (a ticket would
//!   link fetches made on different circuits); plain `http` is fine to an
//!   onion service, which authenticates itself;
//! - up to [`FetchLimits::max_redirects`] redirects (301, 302, 303, 307,
//!   308), only to `http`/`https`, never from `https` to plain `http`
//!   (except to an onion service) and never from an onion service to the
//!   open web;
//! - bounds on everything the server controls: the response header
//!   ([`FetchLimits::max_header_bytes`]), the body
//!   ([`FetchLimits::max_body_bytes`], refused as soon as a
//!   `Content-Length` or chunk size announces more, or the bytes read
//!   exceed it), each wait for bytes ([`FetchLimits::idle_timeout`]) and
//!   the whole fetch, dials and redirects included
//!   ([`FetchLimits::deadline`]);
//! - a status other than 200 (after redirects) is [`Error::HttpStatus`].
//!
//! What it does not do: HTTP/2, compression, caching or conditional
//! requests, cookies, authentication, proxies, IDN host names (give them
//! in punycode), or parse the body (that is `kith_core::feed`).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use kith_core::limits::{MAX_FEED_BYTES, MAX_FEED_LINK};
use tokio::time::Instant;
use tracing::{instrument, trace};

use crate::Error;

/// Longest feed URL accepted, in bytes (as long as a link in a feed).
pub const MAX_FEED_URL: usize = MAX_FEED_LINK;

/// The `User-Agent` of every fetch: generic, the same for every Kith user
/// and version, so it tells a feed's server no more than "some feed
/// reader". (Sending none gets some servers to refuse the request.)
pub const USER_AGENT: &str = "Mozilla/5.0 (compatible; feed reader)";

/// Most header lines accepted in one response.
const MAX_HEADER_LINES: usize = 100;

/// Longest chunk-size line of a chunked body (size, extensions).
const MAX_CHUNK_LINE: usize = 1024;

/// Bytes asked of the stream per read.
const READ_SIZE: usize = 8 * 1024;

/// Bounds of one fetch. [`FetchLimits::default`] suits feeds over Tor.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchLimits {
    /// Largest response header (status line and header lines), in bytes.
    pub max_header_bytes: usize,
    /// Largest body, in bytes.
    pub max_body_bytes: usize,
    /// The whole fetch: every dial, TLS handshake, request and response,
    /// redirects included.
    pub deadline: Duration,
    /// Longest wait for the next bytes of a response.
    pub idle_timeout: Duration,
    /// Most redirects followed.
    pub max_redirects: u8,
}

impl Default for FetchLimits {
    /// 16 KiB of header, `MAX_FEED_BYTES` (2 MiB) of body, 60 s in all
    /// (an onion service's descriptor fetch and rendezvous take seconds on
    /// a slow network), 30 s idle, 3 redirects.
    fn default() -> Self {
        FetchLimits {
            max_header_bytes: 16 * 1024,
            max_body_bytes: MAX_FEED_BYTES,
            deadline: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30),
            max_redirects: 3,
        }
    }
}

impl FetchLimits {
    /// Set [`FetchLimits::deadline`] and [`FetchLimits::idle_timeout`].
    #[must_use]
    pub fn with_timeouts(mut self, deadline: Duration, idle_timeout: Duration) -> Self {
        self.deadline = deadline;
        self.idle_timeout = idle_timeout;
        self
    }

    /// Set [`FetchLimits::max_body_bytes`].
    #[must_use]
    pub fn with_max_body(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Set [`FetchLimits::max_header_bytes`].
    #[must_use]
    pub fn with_max_header(mut self, max: usize) -> Self {
        self.max_header_bytes = max;
        self
    }

    /// Set [`FetchLimits::max_redirects`].
    #[must_use]
    pub fn with_max_redirects(mut self, max: u8) -> Self {
        self.max_redirects = max;
        self
    }
}

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP: fine to an onion service; to the open web, readable
    /// (and changeable) by the Tor exit.
    Http,
    /// HTTP over TLS, verified against the Mozilla roots.
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// A URL Kith fetches a feed from: `http` or `https`, a host name (a DNS
/// name, an onion address, or an IP literal, all handed to Tor as they
/// are), a port and a path; no user name or password, no fragment.
///
/// `Display` gives the whole URL (to store it); `Debug` shows the scheme
/// only, because the URL says what the user reads: log it, if at all, at
/// debug level or below.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FeedUrl {
    scheme: Scheme,
    /// Lower case; an IPv6 literal without its brackets.
    host: String,
    port: u16,
    /// Starts with `/`; the query included; only visible ASCII.
    path: String,
}

impl std::fmt::Debug for FeedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FeedUrl({}://…)", self.scheme.as_str())
    }
}

impl std::fmt::Display for FeedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme.as_str(),
            self.authority(),
            self.path
        )
    }
}

impl std::str::FromStr for FeedUrl {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        FeedUrl::parse(s)
    }
}

fn bad_url(reason: &'static str) -> Error {
    Error::BadFeedUrl { reason }
}

impl FeedUrl {
    /// Parse a URL the user gave. Surrounding white space is ignored;
    /// non-ASCII characters in the path or query are percent-encoded.
    pub fn parse(s: &str) -> Result<FeedUrl, Error> {
        let s = s.trim();
        if s.len() > MAX_FEED_URL {
            return Err(bad_url("too long"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad_url("contains spaces or control characters"));
        }
        let (scheme, rest) = if let Some(r) = strip_prefix_ignore_case(s, "https://") {
            (Scheme::Https, r)
        } else if let Some(r) = strip_prefix_ignore_case(s, "http://") {
            (Scheme::Http, r)
        } else {
            return Err(bad_url("only http:// and https:// URLs can be fetched"));
        };
        let rest = rest.split('#').next().unwrap_or("");
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.contains('@') {
            return Err(bad_url(
                "user names and passwords in URLs are not supported",
            ));
        }
        let (host, port, bracketed) = split_host_port(authority)?;
        let port = port.unwrap_or(scheme.default_port());
        let host = check_host(host, bracketed)?;
        let mut clean_path = String::with_capacity(path.len() + 1);
        if !path.starts_with('/') {
            clean_path.push('/');
        }
        for c in path.chars() {
            if c.is_ascii() {
                clean_path.push(c);
            } else {
                let mut b = [0; 4];
                for byte in c.encode_utf8(&mut b).bytes() {
                    clean_path.push_str(&format!("%{byte:02X}"));
                }
            }
        }
        let url = FeedUrl {
            scheme,
            host,
            port,
            path: clean_path,
        };
        if url.to_string().len() > MAX_FEED_URL {
            return Err(bad_url("too long"));
        }
        Ok(url)
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host as Tor is given it: lower case, an IPv6 literal without
    /// brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path and query (starts with `/`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether the host is an onion service.
    pub fn is_onion(&self) -> bool {
        self.host.ends_with(".onion")
    }

    /// `host[:port]` as in a URL and a `Host` header.
    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.scheme.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// Where a redirect's `Location` leads from this URL, if Kith follows it.
    fn redirect(&self, location: &str) -> Result<FeedUrl, Error> {
        let refused = |reason| Error::RedirectRefused { reason };
        let loc = location.trim();
        if loc.is_empty() {
            return Err(refused("an empty Location"));
        }
        let absolute = if let Some(scheme_len) = scheme_length(loc) {
            let scheme = &loc[..scheme_len];
            if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
                return Err(refused("to a scheme other than http or https"));
            }
            loc.to_owned()
        } else if loc.starts_with("//") {
            format!("{}:{loc}", self.scheme.as_str())
        } else if loc.starts_with('/') {
            format!("{}://{}{loc}", self.scheme.as_str(), self.authority())
        } else {
            // Relative to this URL's directory.
            let path = self.path.split('?').next().unwrap_or("/");
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!("{}://{}{dir}{loc}", self.scheme.as_str(), self.authority())
        };
        let next = FeedUrl::parse(&absolute).map_err(|e| match e {
            Error::BadFeedUrl { reason } => Error::RedirectRefused { reason },
            other => other,
        })?;
        if self.scheme == Scheme::Https && next.scheme == Scheme::Http && !next.is_onion() {
            return Err(refused("from https to plain http"));
        }
        if self.is_onion() && !next.is_onion() {
            return Err(refused("from an onion service to the open web"));
        }
        Ok(next)
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// The length of a URL's scheme (`javascript` of `javascript:…`), if it has one.
fn scheme_length(s: &str) -> Option<usize> {
    let colon = s.find(':')?;
    let scheme = &s[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(colon)
}

/// `host[:port]` or `[v6][:port]` → host, port, whether it was in brackets.
fn split_host_port(authority: &str) -> Result<(&str, Option<u16>, bool), Error> {
    let bracketed = authority.starts_with('[');
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let end = v6.find(']').ok_or(bad_url("an unclosed [ in the host"))?;
        let after = &v6[end + 1..];
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or(bad_url("text after the IPv6 address"))?,
            ),
        };
        (&v6[..end], port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(p) => {
            if !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 5 {
                return Err(bad_url("a port that is not a number"));
            }
            match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(bad_url("a port out of range")),
                Ok(n) => Some(n),
            }
        }
    };
    Ok((host, port, bracketed))
}

/// A host Tor can be asked for: a DNS name, an onion address (v3,
/// checked), or an IP literal (IPv6 in brackets). Lower-cased, without a
/// trailing dot.
fn check_host(host: &str, bracketed: bool) -> Result<String, Error> {
    if bracketed || host.contains(':') {
        return host
            .parse::<std::net::Ipv6Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| bad_url("an invalid IPv6 address"));
    }
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if host.is_empty() {
        return Err(bad_url("no host"));
    }
    if host.len() > 253 {
        return Err(bad_url("a host name longer than 253 characters"));
    }
    let labels_ok = host.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if !labels_ok {
        return Err(bad_url(
            "an invalid host name (international names must be in punycode)",
        ));
    }
    if let Some(rest) = host.strip_suffix(".onion") {
        let service = rest.rsplit('.').next().unwrap_or(rest);
        kith_core::OnionAddress::parse(service)
            .map_err(|_| bad_url("an invalid onion address (Tor v3 addresses only)"))?;
    }
    Ok(host)
}

/// A fetched feed body, not yet parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct FetchedBody {
    /// Where the body came from, after redirects. Differs from the URL
    /// asked for when the server redirected.
    pub url: FeedUrl,
    /// Whether every redirect followed was permanent (301, 308): the
    /// subscription may then move to [`FetchedBody::url`]. `false`
    /// without redirects.
    pub moved_permanently: bool,
    /// The `Content-Type` the server gave, if any (visible ASCII, at most
    /// 128 bytes; otherwise dropped). Informative only.
    pub content_type: Option<String>,
    /// The body: at most [`FetchLimits::max_body_bytes`].
    pub body: Vec<u8>,
}

impl std::fmt::Debug for FetchedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchedBody")
            .field("url", &self.url)
            .field("moved_permanently", &self.moved_permanently)
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// A byte stream the fetcher can use.
pub(crate) trait FetchStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> FetchStream for T {}

/// Opens the streams of a fetch. The Tor transport's is the only one
/// outside tests.
pub(crate) trait Dialer: Sync {
    /// The stream it opens.
    type Stream: FetchStream + 'static;

    /// Open a stream to `host:port` (host as in [`FeedUrl::host`]).
    fn dial<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, Result<Self::Stream, Error>>;

    /// Whether the network is up, for classifying a timeout (peer or Tor).
    fn network_ready(&self) -> bool;
}

/// The TLS configuration of every `https` fetch: Mozilla's roots, ring,
/// TLS 1.2 and 1.3, no session resumption, ALPN `http/1.1`.
pub(crate) fn tls_config() -> Result<Arc<rustls::ClientConfig>, Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    tls_config_with_roots(roots)
}

fn tls_config_with_roots(roots: rustls::RootCertStore) -> Result<Arc<rustls::ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Bug(format!("TLS configuration: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Fetch `url` through `dialer`, following redirects, within `limits`.
///
/// Cancel safe: dropping the future drops the stream.
#[instrument(skip_all, level = "trace")]
pub(crate) async fn fetch_with<D: Dialer>(
    dialer: &D,
    url: &FeedUrl,
    limits: &FetchLimits,
    tls: Arc<rustls::ClientConfig>,
) -> Result<FetchedBody, Error> {
    let deadline = Instant::now() + limits.deadline;
    let run = async {
        let mut url = url.clone();
        let mut redirects = 0_u8;
        let mut permanent = true;
        loop {
            // Not the host: which feeds a user reads stays out of logs.
            trace!(redirects, "fetching a feed");
            let stream = dialer.dial(&url.host, url.port).await?;
            let response = match url.scheme {
                Scheme::Http => exchange(stream, &url, limits, dialer.network_ready()).await?,
                Scheme::Https => {
                    let name = rustls::pki_types::ServerName::try_from(url.host.clone())
                        .map_err(|_| bad_url("a host TLS cannot name"))?;
                    let tls_stream =
                        futures_rustls::TlsConnector::from(Arc::clone(&tls)).connect(name, stream);
                    let tls_stream = tokio::time::timeout(limits.idle_timeout, tls_stream)
                        .await
                        .map_err(|_| Error::Timeout {
                            action: "in the TLS handshake with the feed's server",
                            timeout: limits.idle_timeout,
                            tor_ready: dialer.network_ready(),
                        })?
                        .map_err(|source| Error::Tls { source })?;
                    exchange(tls_stream, &url, limits, dialer.network_ready()).await?
                }
            };
            match response {
                Response::Body { content_type, body } => {
                    return Ok(FetchedBody {
                        url,
                        moved_permanently: redirects > 0 && permanent,
                        content_type,
                        body,
                    });
                }
                Response::Redirect {
                    location,
                    permanent: p,
                } => {
                    if redirects >= limits.max_redirects {
                        return Err(Error::TooManyRedirects {
                            max: limits.max_redirects,
                        });
                    }
                    redirects += 1;
                    permanent &= p;
                    url = url.redirect(&location)?;
                }
            }
        }
    };
    match tokio::time::timeout_at(deadline, run).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout {
            action: "fetching a feed",
            timeout: limits.deadline,
            tor_ready: dialer.network_ready(),
        }),
    }
}

/// What one request came to.
enum Response {
    Body {
        content_type: Option<String>,
        body: Vec<u8>,
    },
    Redirect {
        location: String,
        permanent: bool,
    },
}

/// One request and its response on a fresh stream.
async fn exchange<S: FetchStream>(
    stream: S,
    url: &FeedUrl,
    limits: &FetchLimits,
    tor_ready: bool,
) -> Result<Response, Error> {
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
        idle: limits.idle_timeout,
        tor_ready,
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {USER_AGENT}\r\n\
         Accept: application/rss+xml, application/atom+xml, \
         application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8\r\n\
         Accept-Encoding: identity\r\nConnection: close\r\n\r\n",
        url.path,
        url.authority()
    );
    conn.write_all(request.as_bytes()).await?;
    let head = conn.read_head(limits.max_header_bytes).await?;
    let head = parse_head(&head)?;
    match head.status {
        200 => {}
        301 | 302 | 303 | 307 | 308 => {
            let location = head.location.ok_or(Error::HttpMalformed {
                reason: "a redirect without a Location",
            })?;
            return Ok(Response::Redirect {
                location,
                permanent: matches!(head.status, 301 | 308),
            });
        }
        status => return Err(Error::HttpStatus { status }),
    }
    if head.content_encoding {
        return Err(Error::HttpMalformed {
            reason: "a compressed body that was not asked for",
        });
    }
    let max = limits.max_body_bytes;
    let too_large = || Error::ResponseTooLarge { part: "body", max };
    let body = match head.framing {
        Framing::Chunked => conn.read_chunked(max, limits.max_header_bytes).await?,
        Framing::Length(n) => {
            let n = usize::try_from(n).map_err(|_| too_large())?;
            if n > max {
                return Err(too_large());
            }
            conn.read_exact_body(n).await?
        }
        Framing::UntilClose => conn.read_to_close(max).await?,
    };
    Ok(Response::Body {
        content_type: head.content_type,
        body,
    })
}

/// How the body's end is known.
#[derive(Debug, PartialEq, Eq)]
enum Framing {
    Chunked,
    Length(u64),
    UntilClose,
}

/// What Kith reads of a response header.
#[derive(Debug)]
struct Head {
    status: u16,
    framing: Framing,
    location: Option<String>,
    content_type: Option<String>,
    /// A `Content-Encoding` other than `identity`.
    content_encoding: bool,
}

fn malformed(reason: &'static str) -> Error {
    Error::HttpMalformed { reason }
}

/// Parse a response header (status line, header lines, the empty line).
fn parse_head(raw: &[u8]) -> Result<Head, Error> {
    let text = std::str::from_utf8(raw).map_err(|_| malformed("a header that is not text"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let status_line = lines.next().unwrap_or("");
    let status = parse_status_line(status_line)?;
    let mut framing = Framing::UntilClose;
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut location = None;
    let mut content_type = None;
    let mut content_encoding = false;
    let mut count = 0;
    for line in lines {
        if line.is_empty() {
            break;
        }
        count += 1;
        if count > MAX_HEADER_LINES {
            return Err(malformed("too many header lines"));
        }
        if line.starts_with([' ', '\t']) {
            return Err(malformed("a folded header line"));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(malformed("a header line without a colon"))?;
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(malformed("an invalid header name"));
        }
        let value = value.trim_matches([' ', '\t']);
        if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(malformed("control characters in a header value"));
        }
        if name.eq_ignore_ascii_case("content-length") {
            if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed("an invalid Content-Length"));
            }
            let n: u64 = value
                .parse()
                .map_err(|_| malformed("an invalid Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(malformed("conflicting Content-Length headers"));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if !value.eq_ignore_ascii_case("chunked") || chunked {
                return Err(malformed("a transfer coding other than chunked"));
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("location") {
            location = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("content-type") {
            if value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
                content_type = Some(value.to_owned());
            }
        } else if name.eq_ignore_ascii_case("content-encoding") {
            content_encoding |= !value.eq_ignore_ascii_case("identity");
        }
    }
    if chunked {
        if length.is_some() {
            return Err(malformed("both Content-Length and chunked"));
        }
        framing = Framing::Chunked;
    } else if let Some(n) = length {
        framing = Framing::Length(n);
    }
    Ok(Head {
        status,
        framing,
        location,
        content_type,
        content_encoding,
    })
}

/// `HTTP/1.x NNN[ reason]` → NNN.
fn parse_status_line(line: &str) -> Result<u16, Error> {
    let rest = line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| line.strip_prefix("HTTP/1.0 "))
        .ok_or(malformed("not an HTTP/1.x status line"))?;
    let code = rest.get(..3).ok_or(malformed("no status code"))?;
    if !code.bytes().all(|b| b.is_ascii_digit())
        || !matches!(rest.as_bytes().get(3), None | Some(b' '))
    {
        return Err(malformed("an invalid status code"));
    }
    let status: u16 = code
        .parse()
        .map_err(|_| malformed("an invalid status code"))?;
    if !(100..=599).contains(&status) {
        return Err(malformed("an invalid status code"));
    }
    Ok(status)
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A stream with a read buffer, every read bounded by the idle timeout.
struct Conn<S> {
    stream: S,
    /// Bytes read and not yet used.
    buf: Vec<u8>,
    idle: Duration,
    tor_ready: bool,
}

impl<S: FetchStream> Conn<S> {
    fn idle_timeout(&self) -> Error {
        Error::Timeout {
            action: "waiting for the feed's server",
            timeout: self.idle,
            tor_ready: self.tor_ready,
        }
    }

    async fn write_all(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(self.idle, write).await {
            Err(_) => Err(self.idle_timeout()),
            Ok(r) => r.map_err(|source| Error::FeedIo {
                action: "sending the request",
                source,
            }),
        }
    }

    /// Read more into `buf`; the number of bytes read (0 at the end).
    async fn fill(&mut self) -> Result<usize, Error> {
        let mut chunk = [0_u8; READ_SIZE];
        let n = match tokio::time::timeout(self.idle, self.stream.read(&mut chunk)).await {
            Err(_) => return Err(self.idle_timeout()),
            Ok(r) => r.map_err(|source| Error::FeedIo {
                action: "reading the response",
                source,
            })?,
        };
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Up to and including the empty line ending the header; at most `max` bytes.
    async fn read_head(&mut self, max: usize) -> Result<Vec<u8>, Error> {
        let mut searched = 0;
        loop {
            if let Some(end) = header_end(&self.buf, searched) {
                if end > max {
                    break;
                }
                let rest = self.buf.split_off(end);
                return Ok(std::mem::replace(&mut self.buf, rest));
            }
            // Where a terminator could still start next time.
            searched = self.buf.len().saturating_sub(3);
            if self.buf.len() > max {
                break;
            }
            if self.fill().await? == 0 {
                return Err(malformed(if self.buf.is_empty() {
                    "the server closed the connection without answering"
                } else {
                    "the connection closed within the header"
                }));
            }
        }
        Err(Error::ResponseTooLarge {
            part: "header",
            max,
        })
    }

    /// One line (without its line break) of at most `max` bytes.
    async fn read_line(&mut self, max: usize) -> Result<Vec<u8>, Error> {
        let mut searched = 0;
        loop {
            if let Some(i) = self.buf[searched..].iter().position(|&b| b == b'\n') {
                let end = searched + i;
                if end > max {
                    return Err(malformed("an over-long line in a chunked body"));
                }
                let rest = self.buf.split_off(end + 1);
                let mut line = std::mem::replace(&mut self.buf, rest);
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            searched = self.buf.len();
            if searched > max {
                return Err(malformed("an over-long line in a chunked body"));
            }
            if self.fill().await? == 0 {
                return Err(malformed("the connection closed within the body"));
            }
        }
    }

    /// Exactly `n` more bytes, appended to `out`.
    async fn read_exact_into(&mut self, out: &mut Vec<u8>, n: usize) -> Result<(), Error> {
        while self.buf.len() < n {
            if self.fill().await? == 0 {
                return Err(malformed("the connection closed within the body"));
            }
        }
        let rest = self.buf.split_off(n);
        out.extend_from_slice(&self.buf);
        self.buf = rest;
        Ok(())
    }

    async fn read_exact_body(&mut self, n: usize) -> Result<Vec<u8>, Error> {
        let mut body = Vec::with_capacity(n);
        self.read_exact_into(&mut body, n).await?;
        Ok(body)
    }

    /// Everything to the end of the stream, at most `max` bytes.
    async fn read_to_close(&mut self, max: usize) -> Result<Vec<u8>, Error> {
        loop {
            if self.buf.len() > max {
                return Err(Error::ResponseTooLarge { part: "body", max });
            }
            if self.fill().await? == 0 {
                return Ok(std::mem::take(&mut self.buf));
            }
        }
    }

    /// A chunked body of at most `max` bytes; trailers (at most
    /// `max_trailer` bytes) are read and ignored.
    async fn read_chunked(&mut self, max: usize, max_trailer: usize) -> Result<Vec<u8>, Error> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line(MAX_CHUNK_LINE).await?;
            let size = parse_chunk_size(&line)?;
            if size == 0 {
                break;
            }
            let size = usize::try_from(size)
                .ok()
                .filter(|s| body.len().saturating_add(*s) <= max)
                .ok_or(Error::ResponseTooLarge { part: "body", max })?;
            self.read_exact_into(&mut body, size).await?;
            if !self.read_line(2).await?.is_empty() {
                return Err(malformed("a chunk longer than its size"));
            }
        }
        let mut trailer = 0_usize;
        loop {
            let line = self.read_line(max_trailer).await?;
            if line.is_empty() {
                return Ok(body);
            }
            trailer += line.len();
            if trailer > max_trailer {
                return Err(Error::ResponseTooLarge {
                    part: "header",
                    max: max_trailer,
                });
            }
        }
    }
}

/// The end (index after it) of the first empty line at or after `from`.
fn header_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(p) = buf[i..].iter().position(|&b| b == b'\n') {
        let nl = i + p;
        let next = &buf[nl + 1..];
        if next.starts_with(b"\n") {
            return Some(nl + 2);
        }
        if next.starts_with(b"\r\n") {
            return Some(nl + 3);
        }
        i = nl + 1;
    }
    None
}

/// A chunk-size line: hex digits, then optional `;extensions`.
fn parse_chunk_size(line: &[u8]) -> Result<u64, Error> {
    let hex = line.split(|&b| b == b';').next().unwrap_or(&[]);
    let hex = hex.trim_ascii();
    if hex.is_empty() || hex.len() > 15 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return Err(malformed("an invalid chunk size"));
    }
    let text = std::str::from_utf8(hex).map_err(|_| malformed("an invalid chunk size"))?;
    u64::from_str_radix(text, 16).map_err(|_| malformed("an invalid chunk size"))
}

#[cfg(test)]
mod tests;
