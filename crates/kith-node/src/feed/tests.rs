//! Feeds in the node: subscriptions, fetches (through a test fetch
//! function, never the network), new items, errors per feed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kith_transport::{FeedUrl, FetchedBody};

use super::*;
use crate::tests::{kith, tcp};
use crate::{GroupLine, Password};
use kith_core::limits::MAX_SETTING;

/// What the test "server" answers, by URL.
type Answers = Arc<Mutex<HashMap<String, std::result::Result<FetchedBody, kith_transport::Error>>>>;

fn rss(items: &[(&str, &str)]) -> Vec<u8> {
    let mut s = String::from(
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>News</title><link>http://news.example/</link>"#,
    );
    for (id, title) in items {
        s.push_str(&format!(
            "<item><guid>{id}</guid><title>{title}</title><link>http://news.example/{id}</link><description>About {title}.</description></item>"
        ));
    }
    s.push_str("</channel></rss>");
    s.into_bytes()
}

fn body(url: &str, bytes: Vec<u8>) -> FetchedBody {
    FetchedBody {
        url: FeedUrl::parse(url).unwrap(),
        moved_permanently: false,
        content_type: None,
        body: bytes,
    }
}

fn clone_answer(
    a: &std::result::Result<FetchedBody, kith_transport::Error>,
) -> std::result::Result<FetchedBody, kith_transport::Error> {
    use kith_transport::Error as T;
    match a {
        Ok(b) => Ok(b.clone()),
        Err(T::ResponseTooLarge { part, max }) => Err(T::ResponseTooLarge { part, max: *max }),
        Err(T::Timeout {
            action,
            timeout,
            tor_ready,
        }) => Err(T::Timeout {
            action,
            timeout: *timeout,
            tor_ready: *tor_ready,
        }),
        Err(T::RedirectRefused { reason }) => Err(T::RedirectRefused { reason }),
        Err(T::HttpStatus { status }) => Err(T::HttpStatus { status: *status }),
        Err(_) => Err(T::Shutdown),
    }
}

async fn profile_with_server(dir: &std::path::Path) -> (crate::Kith, Profile, Answers) {
    let k = kith(dir);
    let p = k
        .create_profile("alice", "Alice", Password::new("pw".into()))
        .await
        .unwrap();
    let answers: Answers = Arc::default();
    let a = Arc::clone(&answers);
    let f: TestFetch = Arc::new(move |url: &FeedUrl| {
        let a = a.lock().unwrap();
        match a.get(&url.to_string()) {
            Some(r) => clone_answer(r),
            None => Err(kith_transport::Error::HttpStatus { status: 404 }),
        }
    });
    *p.inner.feeds.test_fetch.lock().unwrap() = Some(f);
    (k, p, answers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_fetch_new_items_read_rename_unsubscribe() {
    let dir = tempfile::tempdir().unwrap();
    let (_k, p, answers) = profile_with_server(dir.path()).await;
    let url = "http://news.example/feed.xml";
    answers.lock().unwrap().insert(
        url.into(),
        Ok(body(url, rss(&[("b", "Second"), ("a", "First")]))),
    );
    let mut events = p.subscribe();
    let f = p.subscribe_feed(url, Some("news")).await.unwrap();
    assert_eq!(
        (f.name.as_str(), f.items, f.error.clone()),
        ("news", 0, None)
    );
    assert!(f.last_fetch.is_none());
    assert!(
        f.next_fetch.0 <= f.added.0 + u64::try_from(FIRST_FETCH.as_millis()).unwrap(),
        "first scheduled fetch within FIRST_FETCH"
    );
    // The same URL twice, or the same name, is refused.
    assert!(matches!(
        p.subscribe_feed(" HTTP://news.example/feed.xml ", None)
            .await,
        Err(Error::AlreadyExists(_))
    ));
    assert!(matches!(
        p.subscribe_feed("http://other.example/", Some("news"))
            .await,
        Err(Error::AlreadyExists(_))
    ));
    assert!(matches!(
        p.subscribe_feed("ftp://news.example/", None).await,
        Err(Error::Transport(_))
    ));
    assert!(matches!(
        p.subscribe_feed("http://x.example/", Some("123")).await,
        Err(Error::BadInput(_))
    ));

    let out = p.fetch_feed(f.id).await.unwrap();
    assert_eq!(out.new_items, 2);
    assert_eq!(out.feed.title, "News");
    assert_eq!((out.feed.items, out.feed.unread), (2, 2));
    assert!(out.feed.error.is_none() && out.feed.last_ok.is_some());
    let items = p.feed_items(f.id).await.unwrap();
    // Newest first; numbered in the order first seen, oldest first (the
    // feed lists the newest first).
    let seen: Vec<_> = items.iter().map(|i| (i.number, i.title.as_str())).collect();
    assert_eq!(seen, [(2, "Second"), (1, "First")]);
    assert_eq!(items[1].link.as_deref(), Some("http://news.example/a"));
    assert_eq!(items[1].summary, "About First.");
    assert!(items.iter().all(|i| !i.read));

    // Fetched again: nothing new. Then one new item on top.
    assert_eq!(p.fetch_feed(f.id).await.unwrap().new_items, 0);
    answers.lock().unwrap().insert(
        url.into(),
        Ok(body(
            url,
            rss(&[("c", "Third"), ("b", "Second"), ("a", "First")]),
        )),
    );
    let out = p.fetch_feed(f.id).await.unwrap();
    assert_eq!((out.new_items, out.feed.items, out.feed.unread), (1, 3, 3));
    assert_eq!(p.feed_items(f.id).await.unwrap()[0].title, "Third");

    // Read and unread.
    p.mark_feed_item(f.id, 3, true).await.unwrap();
    assert_eq!(p.find_feed("news").await.unwrap().unread, 2);
    assert!(p.feed_items(f.id).await.unwrap()[0].read);
    p.mark_feed_item(f.id, 3, false).await.unwrap();
    assert_eq!(p.find_feed("news").await.unwrap().unread, 3);
    assert!(matches!(
        p.mark_feed_item(f.id, 99, true).await,
        Err(Error::NotFound(_))
    ));
    p.mark_feed_read(f.id).await.unwrap();
    assert_eq!(p.find_feed(&f.id.to_string()).await.unwrap().unread, 0);

    // Events for front ends.
    let mut got = vec![];
    while let Ok(e) = events.try_recv() {
        got.push(e);
    }
    assert!(
        got.iter()
            .any(|e| matches!(e, Event::FeedItems { feed, new: 2 } if *feed == f.id))
    );
    assert!(got.iter().any(|e| matches!(e, Event::FeedsChanged)));

    // Rename; then unsubscribe removes it and its items.
    p.rename_feed(f.id, "daily").await.unwrap();
    assert_eq!(p.find_feed("daily").await.unwrap().id, f.id);
    assert!(p.find_feed("news").await.is_err());
    p.unsubscribe_feed(f.id).await.unwrap();
    assert!(p.feeds().await.unwrap().is_empty());
    assert!(matches!(p.feed_items(f.id).await, Err(Error::NotFound(_))));
    assert!(matches!(p.fetch_feed(f.id).await, Err(Error::NotFound(_))));
    let key = items_key(f.id);
    assert_eq!(
        p.inner.store.call(move |s| s.setting(&key)).await.unwrap(),
        None
    );
    // Ids are not reused.
    let g = p.subscribe_feed(url, None).await.unwrap();
    assert_ne!(g.id, f.id);
    assert_eq!(g.name, "news.example");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_feeds_are_their_own_errors() {
    use kith_transport::Error as T;
    let dir = tempfile::tempdir().unwrap();
    let (_k, p, answers) = profile_with_server(dir.path()).await;
    let good = "http://good.example/rss";
    let bomb = b"<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><rss version=\"2.0\"><channel><title>&b;</title></channel></rss>".to_vec();
    let cases: Vec<(&str, std::result::Result<FetchedBody, T>, FeedErrorKind)> = vec![
        (
            "http://big.example/",
            Err(T::ResponseTooLarge {
                part: "body",
                max: 2 << 20,
            }),
            FeedErrorKind::TooLarge,
        ),
        (
            "http://slow.example/",
            Err(T::Timeout {
                action: "fetching a feed",
                timeout: Duration::from_secs(60),
                tor_ready: true,
            }),
            FeedErrorKind::Timeout,
        ),
        (
            "http://moved.example/",
            Err(T::RedirectRefused {
                reason: "only http and https",
            }),
            FeedErrorKind::BadRedirect,
        ),
        (
            "http://gone.example/",
            Err(T::HttpStatus { status: 410 }),
            FeedErrorKind::HttpStatus,
        ),
        (
            "http://broken.example/",
            Ok(body(
                "http://broken.example/",
                b"<rss><channel><title>x</chan".to_vec(),
            )),
            FeedErrorKind::BadFeed,
        ),
        (
            "http://bomb.example/",
            Ok(body("http://bomb.example/", bomb)),
            FeedErrorKind::BadFeed,
        ),
        (
            "http://huge.example/",
            Ok(body("http://huge.example/", vec![b' '; (2 << 20) + 1])),
            FeedErrorKind::TooLarge,
        ),
    ];
    answers
        .lock()
        .unwrap()
        .insert(good.into(), Ok(body(good, rss(&[("1", "Fine")]))));
    let g = p.subscribe_feed(good, Some("good")).await.unwrap();
    for (url, answer, _) in &cases {
        answers
            .lock()
            .unwrap()
            .insert((*url).into(), clone_answer(answer));
        p.subscribe_feed(url, None).await.unwrap();
    }
    let outcomes = p.fetch_all_feeds().await.unwrap();
    assert_eq!(outcomes.len(), cases.len() + 1);
    for (url, _, kind) in &cases {
        let f = p
            .feeds()
            .await
            .unwrap()
            .into_iter()
            .find(|f| f.url == *url)
            .unwrap();
        let e = f.error.unwrap_or_else(|| panic!("{url} has no error"));
        assert_eq!(e.kind, *kind, "{url}: {}", e.message);
        assert!(!e.message.is_empty() && e.message.len() <= MAX_ERROR_MESSAGE);
        assert_eq!((f.items, f.unread), (0, 0));
        assert!(f.last_fetch.is_some() && f.last_ok.is_none());
        assert!(f.next_fetch > f.last_fetch.unwrap(), "retried later");
    }
    let g = p.find_feed(&g.id.to_string()).await.unwrap();
    assert!(g.error.is_none(), "{:?}", g.error);
    assert_eq!((g.items, g.unread), (1, 1));

    // A failure after a success keeps the items and shows the error; the
    // next success clears it.
    answers
        .lock()
        .unwrap()
        .insert(good.into(), Err(T::HttpStatus { status: 503 }));
    let out = p.fetch_feed(g.id).await.unwrap();
    assert_eq!(out.feed.error.unwrap().kind, FeedErrorKind::HttpStatus);
    assert_eq!(out.feed.items, 1);
    assert_eq!(p.feed_items(g.id).await.unwrap().len(), 1);
    answers
        .lock()
        .unwrap()
        .insert(good.into(), Ok(body(good, rss(&[("1", "Fine")]))));
    let out = p.fetch_feed(g.id).await.unwrap();
    assert!(out.feed.error.is_none());
    assert_eq!(out.new_items, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_redirect_moves_the_subscription() {
    let dir = tempfile::tempdir().unwrap();
    let (_k, p, answers) = profile_with_server(dir.path()).await;
    let old = "http://old.example/feed";
    let new = "https://new.example/feed";
    let mut b = body(new, rss(&[("1", "One")]));
    b.moved_permanently = true;
    answers.lock().unwrap().insert(old.into(), Ok(b));
    let f = p.subscribe_feed(old, None).await.unwrap();
    let out = p.fetch_feed(f.id).await.unwrap();
    assert_eq!(out.feed.url, new);
    assert_eq!(out.feed.name, "old.example");
    // A temporary one does not.
    let mut b = body("https://elsewhere.example/", rss(&[("2", "Two")]));
    b.moved_permanently = false;
    answers.lock().unwrap().insert(new.into(), Ok(b));
    let out = p.fetch_feed(f.id).await.unwrap();
    assert_eq!(out.feed.url, new);
    assert_eq!(out.new_items, 1);
}

/// Without the test hook, a fetch needs the profile online over Tor: not
/// offline, not over TCP (and the TCP network runs no schedule).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_are_fetched_only_over_tor() {
    let dir = tempfile::tempdir().unwrap();
    let k = kith(dir.path());
    let p = k
        .create_profile("alice", "Alice", Password::new("pw".into()))
        .await
        .unwrap();
    let f = p
        .subscribe_feed("http://127.0.0.1:9/feed.xml", None)
        .await
        .unwrap();
    let e = p.fetch_feed(f.id).await.unwrap_err();
    assert!(e.to_string().contains("only over Tor"), "{e}");
    p.go_online(tcp()).await.unwrap();
    let e = p.fetch_feed(f.id).await.unwrap_err();
    assert!(e.to_string().contains("only over Tor"), "{e}");
    assert!(matches!(p.fetch_all_feeds().await, Err(Error::BadInput(_))));
    assert!(p.find_feed("127.0.0.1").await.unwrap().last_fetch.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let (_k, p, _answers) = profile_with_server(dir.path()).await;
    for i in 0..MAX_FEEDS {
        p.subscribe_feed(&format!("http://f{i}.example/"), None)
            .await
            .unwrap();
    }
    assert!(matches!(
        p.subscribe_feed("http://one-more.example/", None).await,
        Err(Error::BadInput(_))
    ));
    // The largest list fits a setting.
    let long = format!(
        "http://x.example/{}",
        "p".repeat(kith_transport::MAX_FEED_URL - 20)
    );
    let mut list = p.inner.store.call(|s| FeedList::read(s)).await.unwrap();
    for f in &mut list.feeds {
        f.url.clone_from(&long);
        f.name = "n".repeat(MAX_FEED_NAME);
        f.title = "t".repeat(kith_core::limits::MAX_FEED_TITLE);
        f.error = Some(feed_error(
            FeedErrorKind::Other,
            "e".repeat(1000),
            Timestamp(u64::MAX),
        ));
    }
    let bytes = postcard::to_allocvec(&list).unwrap();
    assert!(bytes.len() <= MAX_SETTING, "{}", bytes.len());
}

fn item(id: &str, published: Option<u64>) -> FeedItem {
    FeedItem {
        id: id.into(),
        title: format!("t{id}"),
        link: None,
        summary: "s".repeat(MAX_FEED_SUMMARY),
        published: published.map(Timestamp),
    }
}

fn feed_of(items: Vec<FeedItem>) -> Feed {
    Feed {
        title: String::new(),
        link: None,
        items,
    }
}

#[test]
fn merge_keeps_bounds_and_remembers_what_the_feed_still_lists() {
    let now = Timestamp(1_800_000_000_000);
    let mut items = Items::default();
    // 200 items, each with a full summary: all new, at most MAX_KEPT_ITEMS
    // kept within MAX_ITEMS_BYTES, the newest.
    let first: Vec<FeedItem> = (0..200).map(|i| item(&format!("{i}"), None)).collect();
    assert_eq!(items.merge(&feed_of(first.clone()), now), 200);
    assert!(items.kept.len() <= MAX_KEPT_ITEMS);
    assert!(items.encode().unwrap().len() <= MAX_ITEMS_BYTES);
    // The feed's first item is the newest: kept, and numbered last.
    let last = items.kept.last().unwrap();
    assert_eq!((last.number, last.title.as_str()), (200, "t0"));
    assert_eq!(items.merge(&feed_of(first.clone()), now), 0);
    // Many fetches of rotating items: the ids the feed lists now are never
    // forgotten, the memory stays bounded.
    for round in 0..20 {
        let mut f: Vec<FeedItem> = (0..100)
            .map(|i| item(&format!("r{round}-{i}"), None))
            .collect();
        f.extend(first[..100].iter().cloned());
        assert_eq!(items.merge(&feed_of(f), now), 100, "round {round}");
        assert!(items.seen.len() <= MAX_SEEN);
    }
    assert_eq!(items.merge(&feed_of(first[..100].to_vec()), now), 0);
    // A time in the future is clamped; items are numbered by time.
    let mut items = Items::default();
    let f = feed_of(vec![item("late", Some(u64::MAX)), item("early", Some(5))]);
    items.merge(&f, now);
    assert_eq!(items.kept[0].title, "tearly");
    assert_eq!(items.kept[1].published, Some(now));
}

#[test]
fn schedule_is_jittered_and_waits_for_subscriptions() {
    let now = Timestamp(1_800_000_000_000);
    let every = u64::try_from(FETCH_EVERY.as_millis()).unwrap();
    let jitter = u64::try_from(FETCH_JITTER.as_millis()).unwrap();
    let times: HashSet<u64> = (0..20).map(|_| next_after_fetch(now, None).0).collect();
    assert!(times.len() > 1, "jittered");
    assert!(
        times
            .iter()
            .all(|t| *t >= now.0 + every && *t <= now.0 + every + jitter)
    );
    let tor_down = feed_error(FeedErrorKind::Unreachable, "x".into(), now);
    assert!(next_after_fetch(now, Some(&tor_down)).0 < now.0 + every);
    let mut list = FeedList::default();
    assert_eq!(due(&list, now), (vec![], None));
    let sub = |id, at| Sub {
        id: FeedId(id),
        url: String::new(),
        name: String::new(),
        title: String::new(),
        added: now,
        last_fetch: None,
        last_ok: None,
        error: None,
        next_fetch: Timestamp(at),
        items: 0,
        unread: 0,
    };
    list.feeds = vec![sub(1, now.0 - 1), sub(2, now.0 + 10), sub(3, now.0 + 5)];
    assert_eq!(
        due(&list, now),
        (vec![FeedId(1)], Some(Timestamp(now.0 + 5)))
    );
    // Overdue at start: spread over FIRST_FETCH, the others unchanged.
    list.feeds.extend((4..24).map(|i| sub(i, 0)));
    spread_overdue(&mut list, now);
    let first = u64::try_from(FIRST_FETCH.as_millis()).unwrap();
    let spread: HashSet<u64> = list.feeds.iter().map(|f| f.next_fetch.0).collect();
    assert!(spread.len() > 3, "random");
    assert!(
        list.feeds
            .iter()
            .all(|f| f.next_fetch.0 >= now.0 && f.next_fetch.0 <= now.0 + first)
    );
    assert_eq!(list.feeds[1].next_fetch, Timestamp(now.0 + 10));
    assert_eq!(list.feeds[2].next_fetch, Timestamp(now.0 + 5));
}

#[test]
fn names() {
    let taken = |names: &[&str]| -> Vec<Sub> {
        names
            .iter()
            .map(|n| Sub {
                id: FeedId(0),
                url: String::new(),
                name: (*n).into(),
                title: String::new(),
                added: Timestamp(0),
                last_fetch: None,
                last_ok: None,
                error: None,
                next_fetch: Timestamp(0),
                items: 0,
                unread: 0,
            })
            .collect()
    };
    let u = FeedUrl::parse("https://blog.example/rss").unwrap();
    assert_eq!(default_name(&u, &[]), "blog.example");
    assert_eq!(
        default_name(&u, &taken(&["blog.example", "blog.example-2"])),
        "blog.example-3"
    );
    let onion = kith_core::IdentityKeypair::from_seed(&[7; 32])
        .address()
        .hostname();
    let u = FeedUrl::parse(&format!("http://{onion}/feed")).unwrap();
    let n = default_name(&u, &[]);
    assert_eq!(n, format!("onion-{}", &onion[..8]));
    assert!(validate_name(" a name ").unwrap() == "a name");
    for bad in ["", "  ", "42", "a\u{7}b", &"x".repeat(MAX_FEED_NAME + 1)] {
        assert!(validate_name(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn repost_text_fits_and_cuts_at_a_word() {
    let it = FeedItemView {
        feed: FeedId(1),
        number: 1,
        title: "A title".into(),
        link: Some("https://site.example/a".into()),
        summary: "one two three four five six seven".into(),
        published: None,
        seen_at: Timestamp(0),
        read: false,
    };
    assert_eq!(
        repost_text(&it, None, 1000),
        "A title\nhttps://site.example/a\n\none two three four five six seven"
    );
    assert_eq!(
        repost_text(&it, Some(" worth reading "), 1000),
        "worth reading\n\nA title\nhttps://site.example/a\n\none two three four five six seven"
    );
    let t = repost_text(&it, None, 45);
    assert!(t.len() <= 45, "{t}");
    assert_eq!(t, "A title\nhttps://site.example/a\n\none two…");
    let t = repost_text(&it, Some(&"c".repeat(100)), 50);
    assert_eq!(t.len(), 50);
    let bare = FeedItemView {
        title: String::new(),
        link: None,
        summary: String::new(),
        ..it
    };
    assert_eq!(repost_text(&bare, None, 100), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_reposted_to_our_blog() {
    let dir = tempfile::tempdir().unwrap();
    let (_k, p, answers) = profile_with_server(dir.path()).await;
    let url = "http://news.example/feed.xml";
    answers
        .lock()
        .unwrap()
        .insert(url.into(), Ok(body(url, rss(&[("a", "First")]))));
    let f = p.subscribe_feed(url, Some("news")).await.unwrap();
    assert_eq!(p.fetch_feed(f.id).await.unwrap().new_items, 1);

    let post = p
        .repost_feed_item(f.id, 1, Some("worth a read"))
        .await
        .unwrap();
    let GroupLine::Post(text) = &post.body else {
        panic!("a repost is a post");
    };
    assert_eq!(
        text,
        "worth a read\n\nFirst\nhttp://news.example/a\n\nAbout First."
    );
    let feed = p.blog_feed().await.unwrap();
    assert_eq!(feed.len(), 1);
    assert_eq!(feed[0].post.id, post.id);
    assert_eq!(feed[0].blog, p.blog_id());

    // An unknown item or feed; our blog off.
    assert!(matches!(
        p.repost_feed_item(f.id, 9, None).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        p.repost_feed_item(FeedId(f.id.0 + 1), 1, None).await,
        Err(Error::NotFound(_))
    ));
    p.set_blog_enabled(false).await.unwrap();
    assert!(matches!(
        p.repost_feed_item(f.id, 1, None).await,
        Err(Error::BadInput(_))
    ));
    assert_eq!(p.blog_feed().await.unwrap().len(), 1);
}
