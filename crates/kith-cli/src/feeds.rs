//! Feeds (issue 11 § 3): `kith feed subscribe|list|fetch|items|read|
//! unread|rename|unsubscribe`. FEED is a feed's name or its id (a number),
//! resolved by the daemon (`Profile::find_feed`). Feeds are fetched only
//! over Tor, by the running node (`kith run` on the Tor network): on a
//! schedule, or now with `kith feed fetch`. Titles, links and summaries
//! are the feed server's text: printed escaped (`term`), exact in JSON.

use clap::Subcommand;
use kith_node::{FeedItemView, FeedView, FetchOutcome, Profile};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::control::Request;
use crate::groups::{print_all, text};

/// `kith feed …`.
#[derive(Subcommand, Debug)]
pub(crate) enum FeedCmd {
    /// Subscribe to a feed (RSS or Atom) at an http:// or https:// URL,
    /// an onion address or the open web, always fetched through Tor;
    /// prints it as JSON.
    Subscribe {
        /// The feed's URL.
        url: String,
        /// A name for it (else one made from the URL's host).
        #[arg(long)]
        name: Option<String>,
    },
    /// Your feeds: unread and kept items, and each one's last error.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Fetch a feed now (or all of them), through Tor.
    Fetch {
        /// The feed's name or id, or `all`.
        #[arg(default_value = "all")]
        feed: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// A feed's items, newest first.
    Items {
        /// The feed's name or id.
        feed: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Only the unread ones.
        #[arg(long)]
        unread: bool,
    },
    /// Mark an item read (its number, as `items` shows it), or `all`.
    Read {
        /// The feed's name or id.
        feed: String,
        /// The item's number, or `all`.
        item: String,
    },
    /// Mark an item unread again.
    Unread {
        /// The feed's name or id.
        feed: String,
        /// The item's number.
        item: u32,
    },
    /// Rename a feed.
    Rename {
        /// The feed's name or id.
        feed: String,
        /// Its new name.
        name: String,
    },
    /// Repost an item to your blog (its title, link and summary, after
    /// your text if given); prints the post as JSON.
    Repost {
        /// The feed's name or id.
        feed: String,
        /// The item's number.
        item: u32,
        /// Your text, before the item's.
        text: Option<String>,
    },
    /// Unsubscribe: the feed and its items are removed.
    Unsubscribe {
        /// The feed's name or id.
        feed: String,
    },
}

/// A feed operation, as sent to the daemon.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "feed_op", rename_all = "snake_case")]
pub(crate) enum FeedOp {
    Subscribe {
        url: String,
        name: Option<String>,
    },
    List,
    Fetch {
        feed: Option<String>,
    },
    Items {
        feed: String,
        unread: bool,
    },
    Read {
        feed: String,
        item: Option<u32>,
    },
    Unread {
        feed: String,
        item: u32,
    },
    Rename {
        feed: String,
        name: String,
    },
    Repost {
        feed: String,
        item: u32,
        text: Option<String>,
    },
    Unsubscribe {
        feed: String,
    },
}

/// A feed as JSON.
pub(crate) fn feed_json(f: &FeedView) -> Value {
    json!({
        "id": f.id.0,
        "name": f.name,
        "url": f.url,
        "title": f.title,
        "added": f.added.as_millis(),
        "last_fetch": f.last_fetch.map(|t| t.as_millis()),
        "last_ok": f.last_ok.map(|t| t.as_millis()),
        "next_fetch": f.next_fetch.as_millis(),
        "items": f.items,
        "unread": f.unread,
        "error": f.error.as_ref().map(|e| json!({
            "kind": e.kind.as_str(),
            "message": e.message,
            "at": e.at.as_millis(),
        })),
    })
}

/// An item as JSON.
pub(crate) fn item_json(i: &FeedItemView) -> Value {
    json!({
        "feed": i.feed.0,
        "number": i.number,
        "title": i.title,
        "link": i.link,
        "summary": i.summary,
        "published": i.published.map(|t| t.as_millis()),
        "seen_at": i.seen_at.as_millis(),
        "read": i.read,
    })
}

fn outcome_json(o: &FetchOutcome) -> Value {
    let mut v = feed_json(&o.feed);
    v["new_items"] = json!(o.new_items);
    v
}

/// One feed, for people.
pub(crate) fn feed_line(f: &Value, tz: &jiff::tz::TimeZone) -> String {
    let mut line = format!(
        "{}  {} unread of {}",
        text(&f["name"]),
        f["unread"],
        f["items"]
    );
    let title = text(&f["title"]);
    if !title.is_empty() {
        line.push_str(&format!("  {title}"));
    }
    match f["last_fetch"].as_u64() {
        Some(t) => line.push_str(&format!(
            "  fetched {}",
            crate::timefmt::format_millis(t, tz)
        )),
        None => line.push_str("  not fetched yet"),
    }
    if f["error"].is_object() {
        line.push_str(&format!(
            "  error ({}): {}",
            text(&f["error"]["kind"]),
            text(&f["error"]["message"])
        ));
    }
    line.push_str(&format!("  id {}", f["id"]));
    line
}

/// What a fetch came to, for people.
fn outcome_line(o: &Value) -> String {
    if o["error"].is_object() {
        format!(
            "{}: error ({}): {}",
            text(&o["name"]),
            text(&o["error"]["kind"]),
            text(&o["error"]["message"])
        )
    } else {
        format!(
            "{}: {} new, {} unread",
            text(&o["name"]),
            o["new_items"],
            o["unread"]
        )
    }
}

/// One item, for people: number, unread mark, date, title, then the link
/// and the summary indented below.
pub(crate) fn item_line(i: &Value, tz: &jiff::tz::TimeZone) -> String {
    let when = i["published"]
        .as_u64()
        .or(i["seen_at"].as_u64())
        .map(|t| crate::timefmt::format_millis(t, tz))
        .unwrap_or_default();
    let mark = if i["read"] == true { " " } else { "*" };
    let title = text(&i["title"]);
    let title = if title.is_empty() {
        "(no title)".into()
    } else {
        title
    };
    let number = i["number"].as_u64().unwrap_or_default();
    let mut line = format!("{mark} {number:>4}  {when}  {title}");
    if let Some(l) = i["link"].as_str() {
        line.push_str(&format!("\n        {}", text(&json!(l))));
    }
    let summary = i["summary"].as_str().unwrap_or_default();
    if !summary.is_empty() {
        line.push_str(&format!(
            "\n        {}",
            crate::term::body(summary, "        ")
        ));
    }
    line
}

async fn find(p: &Profile, feed: &str) -> anyhow::Result<kith_node::FeedId> {
    Ok(p.find_feed(feed).await?.id)
}

/// Carry out one feed operation on an unlocked profile.
pub(crate) async fn execute(p: &Profile, op: FeedOp) -> anyhow::Result<Value> {
    Ok(match op {
        FeedOp::Subscribe { url, name } => {
            feed_json(&p.subscribe_feed(&url, name.as_deref()).await?)
        }
        FeedOp::List => Value::Array(p.feeds().await?.iter().map(feed_json).collect()),
        FeedOp::Fetch { feed: None } => Value::Array(
            p.fetch_all_feeds()
                .await?
                .iter()
                .map(outcome_json)
                .collect(),
        ),
        FeedOp::Fetch { feed: Some(f) } => {
            let id = find(p, &f).await?;
            Value::Array(vec![outcome_json(&p.fetch_feed(id).await?)])
        }
        FeedOp::Items { feed, unread } => {
            let id = find(p, &feed).await?;
            Value::Array(
                p.feed_items(id)
                    .await?
                    .iter()
                    .filter(|i| !unread || !i.read)
                    .map(item_json)
                    .collect(),
            )
        }
        FeedOp::Read { feed, item } => {
            let id = find(p, &feed).await?;
            match item {
                Some(n) => p.mark_feed_item(id, n, true).await?,
                None => p.mark_feed_read(id).await?,
            }
            Value::Null
        }
        FeedOp::Unread { feed, item } => {
            p.mark_feed_item(find(p, &feed).await?, item, false).await?;
            Value::Null
        }
        FeedOp::Rename { feed, name } => {
            p.rename_feed(find(p, &feed).await?, &name).await?;
            Value::Null
        }
        FeedOp::Repost { feed, item, text } => {
            let id = find(p, &feed).await?;
            crate::groups::message_json(&p.repost_feed_item(id, item, text.as_deref()).await?)
        }
        FeedOp::Unsubscribe { feed } => {
            p.unsubscribe_feed(find(p, &feed).await?).await?;
            Value::Null
        }
    })
}

/// `all` or an item's number.
fn item_arg(item: &str) -> anyhow::Result<Option<u32>> {
    if item == "all" {
        return Ok(None);
    }
    item.parse().map(Some).map_err(|_| {
        anyhow::anyhow!("an item is its number (as `kith feed items` shows it) or `all`")
    })
}

/// `kith feed …`.
pub(crate) async fn run(ctx: &crate::Ctx, cmd: FeedCmd) -> anyhow::Result<()> {
    let req = |op| Request::Feed { action: op };
    let tz = crate::timefmt::local_zone();
    match cmd {
        FeedCmd::Subscribe { url, name } => {
            let v = ctx.request(req(FeedOp::Subscribe { url, name })).await?;
            println!("{v}");
        }
        FeedCmd::List { json } => {
            let v = ctx.request(req(FeedOp::List)).await?;
            print_all(&v, json, |f| feed_line(f, &tz));
        }
        FeedCmd::Fetch { feed, json } => {
            let feed = (feed != "all").then_some(feed);
            let v = ctx.request(req(FeedOp::Fetch { feed })).await?;
            print_all(&v, json, outcome_line);
        }
        FeedCmd::Items { feed, json, unread } => {
            let v = ctx.request(req(FeedOp::Items { feed, unread })).await?;
            print_all(&v, json, |i| item_line(i, &tz));
        }
        FeedCmd::Read { feed, item } => {
            let item = item_arg(&item)?;
            ctx.request(req(FeedOp::Read { feed, item })).await?;
        }
        FeedCmd::Unread { feed, item } => {
            ctx.request(req(FeedOp::Unread { feed, item })).await?;
        }
        FeedCmd::Rename { feed, name } => {
            ctx.request(req(FeedOp::Rename { feed, name })).await?;
        }
        FeedCmd::Repost { feed, item, text } => {
            let v = ctx
                .request(req(FeedOp::Repost { feed, item, text }))
                .await?;
            println!("{v}");
        }
        FeedCmd::Unsubscribe { feed } => {
            ctx.request(req(FeedOp::Unsubscribe { feed })).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::term::{Field, must_escape};

    fn inert(s: &str) {
        for line in s.split('\n') {
            assert!(
                !line.chars().any(|c| must_escape(c, Field::Line)),
                "{line:?}"
            );
        }
    }

    #[test]
    fn feeds_and_items_print_inert_and_complete() {
        let tz = jiff::tz::TimeZone::UTC;
        let f = json!({"id": 3, "name": "news", "url": "http://n.example/", "title": "N\u{1b}[2J",
            "added": 0, "last_fetch": 1_000, "last_ok": null, "next_fetch": 5, "items": 4,
            "unread": 2, "error": {"kind": "bad_feed", "message": "not a feed\u{9b}", "at": 1_000}});
        let l = feed_line(&f, &tz);
        inert(&l);
        assert_eq!(
            l,
            "news  2 unread of 4  N\\u{1b}[2J  fetched 1970-01-01 00:00  \
             error (bad_feed): not a feed\\u{9b}  id 3"
        );
        let fresh = json!({"id": 1, "name": "n", "title": "", "last_fetch": null, "items": 0,
            "unread": 0, "error": null});
        assert_eq!(
            feed_line(&fresh, &tz),
            "n  0 unread of 0  not fetched yet  id 1"
        );

        let o = json!({"name": "n", "new_items": 2, "unread": 3, "error": null});
        assert_eq!(outcome_line(&o), "n: 2 new, 3 unread");
        let o = json!({"name": "n", "error": {"kind": "too_large", "message": "big"}});
        assert_eq!(outcome_line(&o), "n: error (too_large): big");

        let i = json!({"feed": 3, "number": 12, "title": "T\u{202e}x", "link": "http://l.example/\u{7}",
            "summary": "line one\nline two\u{1b}", "published": 60_000, "seen_at": 0, "read": false});
        let l = item_line(&i, &tz);
        inert(&l);
        assert_eq!(
            l,
            "*   12  1970-01-01 00:01  T\\u{202e}x\n        http://l.example/\\u{7}\n        \
             line one\n        line two\\u{1b}"
        );
        let read = json!({"number": 1, "title": "", "link": null, "summary": "", "published": null,
            "seen_at": 0, "read": true});
        assert_eq!(
            item_line(&read, &tz),
            "     1  1970-01-01 00:00  (no title)"
        );
        assert_eq!(item_arg("all").unwrap(), None);
        assert_eq!(item_arg("7").unwrap(), Some(7));
        assert!(item_arg("seven").is_err());
    }
}
