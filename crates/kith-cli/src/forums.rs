//! Forums (issue 11 § 1): `kith forum create|invite|list|invitations|
//! accept|decline|post|messages|members|leave|hide|unhide|hidden`. FORUM is
//! a forum's name or its id (hex), resolved by the daemon
//! (`Profile::find_forum`). Same shape as `kith group` (`groups.rs`), whose
//! JSON views and escaped human lines these reuse: names, descriptions and
//! posts are peers' text. A post whose author is hidden (by you, or by the
//! forum's creator) is printed as "(hidden by …)" and its text left out of
//! the JSON unless `--show-hidden`.

use clap::Subcommand;
use kith_node::{ForumMessageView, HiddenBy, Profile};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::control::Request;
use crate::groups::{
    group_json, group_line, invitation_among, invitation_json, invitation_line_for, member_json,
    member_key, member_line, message_id, message_json, message_line, print_all, text,
};

/// `kith forum …`.
#[derive(Subcommand, Debug)]
pub(crate) enum ForumCmd {
    /// Make a forum (you are its creator); prints it as JSON.
    Create {
        /// Its name.
        name: String,
        /// Its description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Invite a contact to a forum you are a member of (any member may).
    Invite {
        /// The forum's name or id.
        forum: String,
        /// The contact's alias.
        alias: String,
    },
    /// Your forums.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Invitations to forums waiting for your answer.
    Invitations {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Join a forum you are invited to.
    Accept {
        /// The invitation's forum name or id.
        forum: String,
    },
    /// Decline an invitation to a forum.
    Decline {
        /// The invitation's forum name or id.
        forum: String,
    },
    /// Post to a forum; prints the message as JSON.
    Post {
        /// The forum's name or id.
        forum: String,
        /// The text.
        text: String,
        /// Answer this message (its id): a thread.
        #[arg(long, value_name = "ID")]
        reply_to: Option<String>,
    },
    /// The forum's messages.
    Messages {
        /// The forum's name or id.
        forum: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Show the text of hidden posts too (marked hidden).
        #[arg(long)]
        show_hidden: bool,
    },
    /// The forum's members, as far as you are told.
    Members {
        /// The forum's name or id.
        forum: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Leave a forum (it lives on among the others, also if you made it).
    Leave {
        /// The forum's name or id.
        forum: String,
    },
    /// Hide an author's posts: for you only, or (the creator) for everyone,
    /// by publishing the forum's hidden list.
    Hide {
        /// The forum's name or id.
        forum: String,
        /// A contact's alias or a member's address.
        who: String,
        /// As the forum's creator: add them to its published hidden list.
        #[arg(long)]
        for_everyone: bool,
    },
    /// Show an author's posts again (`--for-everyone`: take them off the
    /// published hidden list).
    Unhide {
        /// The forum's name or id.
        forum: String,
        /// A contact's alias or a member's address.
        who: String,
        /// As the forum's creator: take them off its published hidden list.
        #[arg(long)]
        for_everyone: bool,
    },
    /// Who is hidden in a forum: by you, and by its creator's list.
    Hidden {
        /// The forum's name or id.
        forum: String,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A forum operation, as sent to the daemon.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "forum_op", rename_all = "snake_case")]
pub(crate) enum ForumOp {
    Create {
        name: String,
        description: String,
    },
    Invite {
        forum: String,
        alias: String,
    },
    List,
    Invitations,
    Answer {
        forum: String,
        accept: bool,
    },
    Post {
        forum: String,
        text: String,
        reply_to: Option<String>,
    },
    Messages {
        forum: String,
        show_hidden: bool,
    },
    Members {
        forum: String,
    },
    Leave {
        forum: String,
    },
    Hide {
        forum: String,
        who: String,
        hide: bool,
        for_everyone: bool,
    },
    Hidden {
        forum: String,
    },
}

fn hidden_str(h: HiddenBy) -> &'static str {
    match h {
        HiddenBy::You => "you",
        HiddenBy::Creator => "creator",
    }
}

/// A forum message as JSON: a group message's fields, `hidden` (`"you"`,
/// `"creator"` or null), and its text left out when hidden unless asked.
pub(crate) fn forum_message_json(m: &ForumMessageView, show_hidden: bool) -> Value {
    let mut v = message_json(&m.message);
    v["hidden"] = json!(m.hidden.map(hidden_str));
    if m.hidden.is_some() && !show_hidden && v["kind"] == "post" {
        v["body"] = Value::Null;
    }
    v
}

/// One forum message, for people: a hidden post without its text says who
/// hid it.
pub(crate) fn forum_message_line(m: &Value, tz: &jiff::tz::TimeZone) -> String {
    let mut m = m.clone();
    let hidden = match m["hidden"].as_str() {
        Some("you") => Some("hidden by you"),
        Some(_) => Some("hidden by the forum's creator"),
        None => None,
    };
    if m["kind"] == "created" {
        m["kind"] = json!("made the forum");
    }
    let mut suffix = None;
    if let Some(h) = hidden {
        if m["body"].is_null() {
            m["kind"] = json!(h);
        } else {
            suffix = Some(h);
        }
    }
    let mut line = message_line(&m, tz);
    if let Some(h) = suffix {
        line.push_str(&format!("  [{h}]"));
    }
    line
}

/// Hidden authors by address (as `members` shows them), or by key (hex)
/// for one that is not a member we know of.
fn keys_json(keys: &[[u8; 32]], members: &[kith_node::MemberView]) -> Value {
    Value::Array(
        keys.iter()
            .map(|k| match members.iter().find(|m| m.key == *k) {
                Some(m) => json!(m.address.to_string()),
                None => json!(hex::encode(k)),
            })
            .collect(),
    )
}

async fn find(p: &Profile, forum: &str) -> anyhow::Result<kith_node::GroupId> {
    Ok(p.find_forum(forum).await?.id)
}

/// Carry out one forum operation on an unlocked profile.
pub(crate) async fn execute(p: &Profile, op: ForumOp) -> anyhow::Result<Value> {
    Ok(match op {
        ForumOp::Create { name, description } => {
            group_json(&p.create_forum(&name, &description).await?)
        }
        ForumOp::Invite { forum, alias } => {
            let f = find(p, &forum).await?;
            let c = p.contact_by_alias(&alias).await?.id;
            p.invite_to_forum(f, c).await?;
            Value::Null
        }
        ForumOp::List => Value::Array(p.forums().await?.iter().map(group_json).collect()),
        ForumOp::Invitations => Value::Array(
            p.forum_invitations()
                .await?
                .iter()
                .map(invitation_json)
                .collect(),
        ),
        ForumOp::Answer { forum, accept } => {
            let i = invitation_among(p.forum_invitations().await?, &forum, "forum")?;
            p.answer_forum_invitation(i.from, i.group, accept).await?;
            Value::Null
        }
        ForumOp::Post {
            forum,
            text,
            reply_to,
        } => {
            let f = find(p, &forum).await?;
            let parent = reply_to.as_deref().map(message_id).transpose()?;
            message_json(&p.post_to_forum(f, &text, parent).await?)
        }
        ForumOp::Messages { forum, show_hidden } => {
            let f = find(p, &forum).await?;
            Value::Array(
                p.forum_messages(f)
                    .await?
                    .iter()
                    .map(|m| forum_message_json(m, show_hidden))
                    .collect(),
            )
        }
        ForumOp::Members { forum } => {
            let f = find(p, &forum).await?;
            Value::Array(p.forum_members(f).await?.iter().map(member_json).collect())
        }
        ForumOp::Leave { forum } => {
            p.leave_forum(find(p, &forum).await?).await?;
            Value::Null
        }
        ForumOp::Hide {
            forum,
            who,
            hide,
            for_everyone,
        } => {
            let f = find(p, &forum).await?;
            let key = member_key(p, p.forum_members(f).await?, &who, "forum").await?;
            if for_everyone {
                let mut list = p.forum_hidden(f).await?.creator;
                list.retain(|k| *k != key);
                if hide {
                    list.push(key);
                }
                p.publish_hidden(f, &list).await?;
            } else {
                p.hide_in_forum(f, key, hide).await?;
            }
            Value::Null
        }
        ForumOp::Hidden { forum } => {
            let f = find(p, &forum).await?;
            let h = p.forum_hidden(f).await?;
            let members = p.forum_members(f).await?;
            json!({
                "yours": keys_json(&h.yours, &members),
                "creator": keys_json(&h.creator, &members),
            })
        }
    })
}

/// The hidden lists, for people.
pub(crate) fn hidden_lines(v: &Value) -> Vec<String> {
    let mut out = vec![];
    for (field, who) in [("yours", "by you"), ("creator", "by the forum's creator")] {
        for a in v[field].as_array().into_iter().flatten() {
            out.push(format!("{}  hidden {who}", text(a)));
        }
    }
    if out.is_empty() {
        out.push("nobody is hidden".into());
    }
    out
}

/// `kith forum …`.
pub(crate) async fn run(ctx: &crate::Ctx, cmd: ForumCmd) -> anyhow::Result<()> {
    let req = |op| Request::Forum { action: op };
    match cmd {
        ForumCmd::Create { name, description } => {
            let description = description.unwrap_or_default();
            let v = ctx
                .request(req(ForumOp::Create { name, description }))
                .await?;
            println!("{v}");
        }
        ForumCmd::Invite { forum, alias } => {
            ctx.request(req(ForumOp::Invite { forum, alias })).await?;
        }
        ForumCmd::List { json } => {
            let v = ctx.request(req(ForumOp::List)).await?;
            print_all(&v, json, group_line);
        }
        ForumCmd::Invitations { json } => {
            let v = ctx.request(req(ForumOp::Invitations)).await?;
            print_all(&v, json, |i| invitation_line_for(i, "forum"));
        }
        ForumCmd::Accept { forum } => {
            ctx.request(req(ForumOp::Answer {
                forum,
                accept: true,
            }))
            .await?;
        }
        ForumCmd::Decline { forum } => {
            ctx.request(req(ForumOp::Answer {
                forum,
                accept: false,
            }))
            .await?;
        }
        ForumCmd::Post {
            forum,
            text,
            reply_to,
        } => {
            let v = ctx
                .request(req(ForumOp::Post {
                    forum,
                    text,
                    reply_to,
                }))
                .await?;
            println!("{v}");
        }
        ForumCmd::Messages {
            forum,
            json,
            show_hidden,
        } => {
            let v = ctx
                .request(req(ForumOp::Messages { forum, show_hidden }))
                .await?;
            let tz = crate::timefmt::local_zone();
            print_all(&v, json, |m| forum_message_line(m, &tz));
        }
        ForumCmd::Members { forum, json } => {
            let v = ctx.request(req(ForumOp::Members { forum })).await?;
            print_all(&v, json, member_line);
        }
        ForumCmd::Leave { forum } => {
            ctx.request(req(ForumOp::Leave { forum })).await?;
        }
        ForumCmd::Hide {
            forum,
            who,
            for_everyone,
        } => {
            ctx.request(req(ForumOp::Hide {
                forum,
                who,
                hide: true,
                for_everyone,
            }))
            .await?;
        }
        ForumCmd::Unhide {
            forum,
            who,
            for_everyone,
        } => {
            ctx.request(req(ForumOp::Hide {
                forum,
                who,
                hide: false,
                for_everyone,
            }))
            .await?;
        }
        ForumCmd::Hidden { forum, json } => {
            let v = ctx.request(req(ForumOp::Hidden { forum })).await?;
            if json {
                println!("{v}");
            } else {
                for l in hidden_lines(&v) {
                    println!("{l}");
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::term::{Field, must_escape};

    fn inert(line: &str) {
        assert!(
            !line.chars().any(|c| must_escape(c, Field::Line)),
            "{line:?}"
        );
    }

    #[test]
    fn hidden_posts_print_as_hidden_and_peer_text_inert() {
        let tz = jiff::tz::TimeZone::UTC;
        let hidden = json!({"id": "ef", "author": {"member": "0a0b\u{1b}"}, "kind": "post",
            "body": null, "hidden": "creator", "time": 0, "state": "accepted",
            "reply_to": null, "reactions": []});
        let l = forum_message_line(&hidden, &tz);
        inert(&l);
        assert!(
            l.contains("member 0a0b\\u{1b}: (hidden by the forum's creator)"),
            "{l}"
        );
        let mine = json!({"id": "ef", "author": {"contact": "eve"}, "kind": "post",
            "body": "spam\u{1b}[2J", "hidden": "you", "time": 0, "state": "accepted",
            "reply_to": "01", "reactions": []});
        let l = forum_message_line(&mine, &tz);
        assert!(!l.contains('\u{1b}'), "{l:?}");
        assert!(l.contains("eve: spam\\u{1b}[2J"), "{l}");
        assert!(
            l.contains("[hidden by you]") && l.contains("(reply to 01)"),
            "{l}"
        );
        let shown = json!({"id": "ef", "author": {"you": true}, "kind": "created",
            "body": "created", "hidden": null, "time": 0, "state": "accepted",
            "reply_to": null, "reactions": []});
        assert!(forum_message_line(&shown, &tz).contains("you: (made the forum)"));
        let i = json!({"from": "bo\u{9b}b", "group": "cd", "name": "n", "description": ""});
        let l = invitation_line_for(&i, "forum");
        inert(&l);
        assert_eq!(
            l,
            "bo\\u{9b}b invites you to n: kith forum accept|decline cd"
        );
        let h = json!({"yours": ["a\u{7}"], "creator": ["b"]});
        let lines = hidden_lines(&h);
        for l in &lines {
            inert(l);
        }
        assert_eq!(
            lines,
            ["a\\u{7}  hidden by you", "b  hidden by the forum's creator"]
        );
        assert_eq!(
            hidden_lines(&json!({"yours": [], "creator": []})),
            ["nobody is hidden"]
        );
    }
}
