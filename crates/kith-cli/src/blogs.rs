//! Blogs (issue 11 § 2): `kith blog post|feed|comment|reblog|on|off|
//! status`. Every profile has a blog; its contacts read it, comment on it
//! and reblog its posts (`Profile::post_to_blog` and the rest). POST_ID is
//! a post's or comment's id (hex) as `kith blog feed --json` prints it.
//! Posts, comments and reblogged originals are peers' text: every human
//! line escapes them (the JSON views are `groups.rs`').

use clap::Subcommand;
use kith_node::{BlogPostView, Profile, RebloggedView};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::control::Request;
use crate::groups::{author_json, message_id, message_json, message_line, text, who_text};

/// `kith blog …`.
#[derive(Subcommand, Debug)]
pub(crate) enum BlogCmd {
    /// Post to your blog (made on first use); prints the post as JSON.
    Post {
        /// The text.
        text: String,
    },
    /// Your blog's posts and your contacts', newest first, each with its
    /// comments; reblogs with the post they carry.
    Feed {
        /// One JSON object per post, per line.
        #[arg(long)]
        json: bool,
    },
    /// Comment on a post (or answer a comment) of your blog or a
    /// contact's; prints the comment as JSON.
    Comment {
        /// The post's or comment's id.
        post_id: String,
        /// The text.
        text: String,
    },
    /// Reblog a contact's post into your blog, with your own text if
    /// given; prints the reblog as JSON.
    Reblog {
        /// The post's id (a reblog's: its original is reblogged).
        post_id: String,
        /// Your text.
        text: Option<String>,
    },
    /// Turn your blog on: synced with your contacts again.
    On,
    /// Turn your blog off: synced with nobody, nothing posted to it (your
    /// contacts' blogs are still read).
    Off,
    /// Whether your blog is on.
    Status {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A blog operation, as sent to the daemon.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "blog_op", rename_all = "snake_case")]
pub(crate) enum BlogOp {
    Post { text: String },
    Feed,
    Comment { post: String, text: String },
    Reblog { post: String, text: String },
    Enable { on: bool },
    Status,
}

fn original_json(o: &RebloggedView) -> Value {
    json!({
        "id": o.id.to_hex(),
        "blog": o.blog.to_hex(),
        "author": author_json(&o.author),
        "author_key": hex::encode(o.author_key),
        "body": o.text,
        "time": o.time.as_millis(),
    })
}

/// A feed entry as JSON: the post as a group message (`kind` `"reblog"`
/// for a reblog, whose `body` is the reblogger's text), its blog and
/// owner, the original it reblogs, its comments.
pub(crate) fn post_json(e: &BlogPostView) -> Value {
    let mut v = message_json(&e.post);
    if e.reblog_of.is_some() {
        v["kind"] = json!("reblog");
    }
    v["blog"] = json!(e.blog.to_hex());
    v["owner"] = author_json(&e.owner);
    v["owner_key"] = json!(hex::encode(e.owner_key));
    v["reblog_of"] = e.reblog_of.as_ref().map_or(Value::Null, original_json);
    v["comments"] = Value::Array(e.comments.iter().map(message_json).collect());
    v
}

/// A feed entry, for people: the post, what it reblogs, its comments
/// indented.
pub(crate) fn post_lines(v: &Value, tz: &jiff::tz::TimeZone) -> Vec<String> {
    let mut post = v.clone();
    post["kind"] = json!("post");
    let mut out = vec![];
    if v["kind"] == "reblog" {
        let o = &v["reblog_of"];
        let mut line = message_line(&post, tz);
        line.push_str(&format!(
            "\n    reblogs {}: {}  id {}",
            who_text(&o["author"]),
            crate::term::body(o["body"].as_str().unwrap_or_default(), "      "),
            text(&o["id"])
        ));
        out.push(line);
    } else {
        out.push(message_line(&post, tz));
    }
    for c in v["comments"].as_array().into_iter().flatten() {
        out.push(format!("    {}", message_line(c, tz)));
    }
    out
}

/// Carry out one blog operation on an unlocked profile.
pub(crate) async fn execute(p: &Profile, op: BlogOp) -> anyhow::Result<Value> {
    Ok(match op {
        BlogOp::Post { text } => message_json(&p.post_to_blog(&text).await?),
        BlogOp::Feed => Value::Array(p.blog_feed().await?.iter().map(post_json).collect()),
        BlogOp::Comment { post, text } => {
            message_json(&p.comment_on_blog(message_id(&post)?, &text).await?)
        }
        BlogOp::Reblog { post, text } => message_json(&p.reblog(message_id(&post)?, &text).await?),
        BlogOp::Enable { on } => {
            p.set_blog_enabled(on).await?;
            Value::Null
        }
        BlogOp::Status => json!({
            "on": p.blog_enabled()?,
            "blog": p.blog_id().to_hex(),
        }),
    })
}

/// `kith blog …`.
pub(crate) async fn run(ctx: &crate::Ctx, cmd: BlogCmd) -> anyhow::Result<()> {
    let req = |op| Request::Blog { action: op };
    match cmd {
        BlogCmd::Post { text } => {
            let v = ctx.request(req(BlogOp::Post { text })).await?;
            println!("{v}");
        }
        BlogCmd::Feed { json } => {
            let v = ctx.request(req(BlogOp::Feed)).await?;
            let tz = crate::timefmt::local_zone();
            for e in v.as_array().into_iter().flatten() {
                if json {
                    println!("{e}");
                } else {
                    for l in post_lines(e, &tz) {
                        println!("{l}");
                    }
                }
            }
        }
        BlogCmd::Comment { post_id, text } => {
            let v = ctx
                .request(req(BlogOp::Comment {
                    post: post_id,
                    text,
                }))
                .await?;
            println!("{v}");
        }
        BlogCmd::Reblog { post_id, text } => {
            let v = ctx
                .request(req(BlogOp::Reblog {
                    post: post_id,
                    text: text.unwrap_or_default(),
                }))
                .await?;
            println!("{v}");
        }
        BlogCmd::On => {
            ctx.request(req(BlogOp::Enable { on: true })).await?;
        }
        BlogCmd::Off => {
            ctx.request(req(BlogOp::Enable { on: false })).await?;
        }
        BlogCmd::Status { json } => {
            let v = ctx.request(req(BlogOp::Status)).await?;
            if json {
                println!("{v}");
            } else if v["on"] == true {
                println!("your blog is on");
            } else {
                println!("your blog is off");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::term::{Field, must_escape};

    #[test]
    fn feed_lines_escape_peers_text_and_show_the_original() {
        let tz = jiff::tz::TimeZone::UTC;
        let comment = json!({"id": "c1", "author": {"contact": "carol\u{1b}"}, "kind": "post",
            "body": "nice\u{202e}", "time": 0, "state": "accepted", "reply_to": "p1",
            "reactions": []});
        let entry = json!({"id": "p1", "author": {"contact": "bob"}, "kind": "reblog",
            "body": "look\u{1b}[2J", "time": 0, "state": "accepted", "reply_to": null,
            "reactions": [], "owner": {"contact": "bob"},
            "reblog_of": {"id": "o1", "author": {"member": "ab\u{7}"}, "body": "hello\nworld"},
            "comments": [comment]});
        let lines = post_lines(&entry, &tz);
        assert_eq!(lines.len(), 2);
        for l in &lines {
            assert!(
                !l.chars().any(|c| must_escape(c, Field::Line) && c != '\n'),
                "{l:?}"
            );
        }
        assert!(lines[0].contains("bob: look\\u{1b}[2J"), "{}", lines[0]);
        assert!(
            lines[0].contains("reblogs member ab\\u{7}: hello\n      world  id o1"),
            "{}",
            lines[0]
        );
        assert!(lines[1].starts_with("    "), "{}", lines[1]);
        assert!(
            lines[1].contains("carol\\u{1b}: nice\\u{202e}"),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains("(reply to p1)"), "{}", lines[1]);
    }
}
