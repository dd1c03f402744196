//! Private groups (issue 10 § 1): `kith group create|invite|list|
//! invitations|accept|decline|send|react|messages|members|leave|remove|
//! reveal|read|delete-message|set|clear|delete`. GROUP is a group's name or
//! its id (hex), resolved by the daemon (`Profile::find_group`). Names,
//! descriptions and posts are peers' text: every human line escapes them.

use anyhow::{anyhow, bail};
use clap::Subcommand;
use kith_node::{
    Author, GroupId, GroupKind, GroupLine, GroupMessageId, GroupMessageView, GroupState, GroupView,
    HistoryPolicy, InvitationView, MemberState, MemberView, Profile,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::control::Request;
use crate::term::{Field, escape};

/// `kith group …`.
#[derive(Subcommand, Debug)]
pub(crate) enum GroupCmd {
    /// Make a private group (you are its creator); prints it as JSON.
    Create {
        /// Its name.
        name: String,
        /// Its description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Invite a contact to a group you created.
    Invite {
        /// The group's name or id.
        group: String,
        /// The contact's alias.
        alias: String,
    },
    /// Your groups.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Invitations waiting for your answer.
    Invitations {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Join a group you are invited to.
    Accept {
        /// The invitation's group name or id.
        group: String,
    },
    /// Decline an invitation.
    Decline {
        /// The invitation's group name or id.
        group: String,
    },
    /// Post to a group; prints the message as JSON.
    Send {
        /// The group's name or id.
        group: String,
        /// The text.
        text: String,
        /// Answer this message (its id).
        #[arg(long, value_name = "ID")]
        reply_to: Option<String>,
    },
    /// React to a group message, or take your reaction back.
    React {
        /// The group's name or id.
        group: String,
        /// The message's id.
        id: String,
        /// The emoji.
        #[arg(required_unless_present = "remove", conflicts_with = "remove")]
        emoji: Option<String>,
        /// Take your reaction back.
        #[arg(long)]
        remove: bool,
    },
    /// A group's messages.
    Messages {
        /// The group's name or id.
        group: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// A group's members, as far as you are told.
    Members {
        /// The group's name or id.
        group: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Leave a group (its creator leaving dissolves it).
    Leave {
        /// The group's name or id.
        group: String,
    },
    /// Remove a member from a group you created.
    Remove {
        /// The group's name or id.
        group: String,
        /// The member: a contact's alias, or its address.
        member: String,
    },
    /// Tell a member who is your contact that you may sync directly.
    Reveal {
        /// The group's name or id.
        group: String,
        /// The contact's alias.
        alias: String,
    },
    /// Mark a group's posts read.
    Read {
        /// The group's name or id.
        group: String,
    },
    /// Delete a group message here.
    DeleteMessage {
        /// The group's name or id.
        group: String,
        /// The message's id.
        id: String,
    },
    /// A group's settings here: disappearing timer, history.
    Set {
        /// The group's name or id.
        group: String,
        /// 5m, 1h, 1d, 7d, 30d, or off.
        #[arg(long, value_name = "TIMER")]
        disappear: Option<String>,
        /// keep, or session.
        #[arg(long, value_name = "POLICY")]
        history: Option<String>,
    },
    /// Delete a group's posts here.
    Clear {
        /// The group's name or id.
        group: String,
    },
    /// Delete a group here, with its history.
    Delete {
        /// The group's name or id.
        group: String,
    },
}

/// A group operation, as sent to the daemon.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "group_op", rename_all = "snake_case")]
pub(crate) enum GroupOp {
    Create {
        name: String,
        description: String,
    },
    Invite {
        group: String,
        alias: String,
    },
    List,
    Invitations,
    Answer {
        group: String,
        accept: bool,
    },
    Send {
        group: String,
        text: String,
        reply_to: Option<String>,
    },
    React {
        group: String,
        id: String,
        emoji: Option<String>,
    },
    Messages {
        group: String,
    },
    Members {
        group: String,
    },
    Leave {
        group: String,
    },
    Remove {
        group: String,
        member: String,
    },
    Reveal {
        group: String,
        alias: String,
    },
    Read {
        group: String,
    },
    DeleteMessage {
        group: String,
        id: String,
    },
    Set {
        group: String,
        disappear: Option<String>,
        history: Option<String>,
    },
    Clear {
        group: String,
    },
    Delete {
        group: String,
    },
}

fn group_state_str(s: GroupState) -> &'static str {
    match s {
        GroupState::Joining => "joining",
        GroupState::Member => "member",
        GroupState::Left => "left",
        GroupState::Removed => "removed",
        GroupState::Dissolved => "dissolved",
    }
}

fn member_state_str(s: MemberState) -> &'static str {
    match s {
        MemberState::Member => "member",
        MemberState::Left => "left",
        MemberState::Removed => "removed",
    }
}

pub(crate) fn author_json(a: &Author) -> Value {
    match a {
        Author::You => json!({ "you": true }),
        Author::Contact(alias) => json!({ "contact": alias }),
        Author::Member(short) => json!({ "member": short }),
    }
}

pub(crate) fn group_json(g: &GroupView) -> Value {
    json!({
        "id": g.id.to_hex(),
        "name": g.name,
        "description": g.description,
        "kind": match g.kind {
            GroupKind::Forum => "forum",
            GroupKind::Group => "group",
            GroupKind::Blog => "blog",
        },
        "ours": g.ours,
        "state": group_state_str(g.state),
        "members": g.members,
        "unread": g.unread,
        "missing": g.missing,
    })
}

pub(crate) fn invitation_json(i: &InvitationView) -> Value {
    json!({
        "from": i.from_alias,
        "group": i.group.to_hex(),
        "name": i.name,
        "description": i.description,
        "received_at": i.received_at.as_millis(),
    })
}

fn short(key: &[u8; 32]) -> String {
    hex::encode(&key[..8])
}

pub(crate) fn message_json(m: &GroupMessageView) -> Value {
    let (kind, body, member) = match &m.body {
        GroupLine::Post(t) => ("post", Some(t.as_str()), None),
        GroupLine::Created => ("created", None, None),
        GroupLine::Added(k) => ("added", None, Some(short(k))),
        GroupLine::Removed(k) => ("removed", None, Some(short(k))),
        GroupLine::Left => ("left", None, None),
    };
    json!({
        "id": m.id.to_hex(),
        "author": author_json(&m.author),
        "kind": kind,
        "body": body.unwrap_or(kind),
        "member": member,
        "reply_to": m.parent.map(|p| p.to_hex()),
        "time": m.time.as_millis(),
        "state": if m.accepted { "accepted" } else { "waiting" },
        "read": m.read,
        "reactions": m.reactions.iter().map(|(a, e)| json!({
            "by": author_json(a), "emoji": e,
        })).collect::<Vec<_>>(),
        "expires_at": m.expires_at.map(|t| t.as_millis()),
    })
}

pub(crate) fn member_json(m: &MemberView) -> Value {
    json!({
        "address": m.address.to_string(),
        "who": author_json(&m.who),
        "creator": m.creator,
        "state": member_state_str(m.state),
        "direct": m.direct,
        "we_revealed": m.we_revealed,
        "they_revealed": m.they_revealed,
    })
}

fn id32(what: &str, s: &str) -> anyhow::Result<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out)
        .map_err(|_| anyhow!("{s:?} is not a {what} id (64 hex digits, as --json shows)"))?;
    Ok(out)
}

pub(crate) fn message_id(s: &str) -> anyhow::Result<GroupMessageId> {
    id32("group message", s).map(GroupMessageId)
}

/// The identity key of the member `who` names: a contact's alias, or a
/// member's address (as `members` shows it).
pub(crate) async fn member_key(
    p: &Profile,
    members: Vec<MemberView>,
    who: &str,
    what: &str,
) -> anyhow::Result<[u8; 32]> {
    let address = match p.contact_by_alias(who).await {
        Ok(c) => c.address.to_string(),
        Err(_) => who.to_owned(),
    };
    members
        .into_iter()
        .find(|m| m.address.to_string() == address)
        .map(|m| m.key)
        .ok_or_else(|| anyhow!("{who:?} is not a member of that {what}"))
}

async fn find(p: &Profile, group: &str) -> anyhow::Result<GroupId> {
    Ok(p.find_group(group).await?.id)
}

/// The invitation a name or id means: an error when two share the name.
async fn invitation(p: &Profile, group: &str) -> anyhow::Result<InvitationView> {
    invitation_among(p.group_invitations().await?, group, "group")
}

/// [`invitation`] among these invitations to a `what` (group or forum).
pub(crate) fn invitation_among(
    all: Vec<InvitationView>,
    group: &str,
    what: &str,
) -> anyhow::Result<InvitationView> {
    if let Some(i) = all.iter().find(|i| i.group.to_hex() == group) {
        return Ok(i.clone());
    }
    let mut named: Vec<_> = all.into_iter().filter(|i| i.name == group).collect();
    match named.len() {
        0 => bail!("no invitation to a {what} {group:?}"),
        1 => Ok(named.remove(0)),
        n => bail!(
            "{n} invitations are to {what}s named {group:?}: use the {what}'s id ({what} invitations --json)"
        ),
    }
}

/// Carry out one group operation on an unlocked profile.
pub(crate) async fn execute(p: &Profile, op: GroupOp) -> anyhow::Result<Value> {
    Ok(match op {
        GroupOp::Create { name, description } => {
            group_json(&p.create_group(&name, &description).await?)
        }
        GroupOp::Invite { group, alias } => {
            let g = find(p, &group).await?;
            let c = p.contact_by_alias(&alias).await?.id;
            p.invite_to_group(g, c).await?;
            Value::Null
        }
        GroupOp::List => Value::Array(p.groups().await?.iter().map(group_json).collect()),
        GroupOp::Invitations => Value::Array(
            p.group_invitations()
                .await?
                .iter()
                .map(invitation_json)
                .collect(),
        ),
        GroupOp::Answer { group, accept } => {
            let i = invitation(p, &group).await?;
            p.answer_group_invitation(i.from, i.group, accept).await?;
            Value::Null
        }
        GroupOp::Send {
            group,
            text,
            reply_to,
        } => {
            let g = find(p, &group).await?;
            let parent = reply_to.as_deref().map(message_id).transpose()?;
            message_json(&p.post_to_group(g, &text, parent).await?)
        }
        GroupOp::React { group, id, emoji } => {
            let g = find(p, &group).await?;
            p.react_in_group(g, message_id(&id)?, emoji.as_deref())
                .await?;
            Value::Null
        }
        GroupOp::Messages { group } => {
            let g = find(p, &group).await?;
            Value::Array(
                p.group_messages(g)
                    .await?
                    .iter()
                    .map(message_json)
                    .collect(),
            )
        }
        GroupOp::Members { group } => {
            let g = find(p, &group).await?;
            Value::Array(p.group_members(g).await?.iter().map(member_json).collect())
        }
        GroupOp::Leave { group } => {
            p.leave_group(find(p, &group).await?).await?;
            Value::Null
        }
        GroupOp::Remove { group, member } => {
            let g = find(p, &group).await?;
            let key = member_key(p, p.group_members(g).await?, &member, "group").await?;
            p.remove_from_group(g, key).await?;
            Value::Null
        }
        GroupOp::Reveal { group, alias } => {
            let g = find(p, &group).await?;
            let c = p.contact_by_alias(&alias).await?.id;
            p.reveal_in_group(g, c).await?;
            Value::Null
        }
        GroupOp::Read { group } => {
            p.mark_group_read(find(p, &group).await?).await?;
            Value::Null
        }
        GroupOp::DeleteMessage { group, id } => {
            let g = find(p, &group).await?;
            if !p.delete_group_message(g, message_id(&id)?).await? {
                bail!("no such message in this group");
            }
            Value::Null
        }
        GroupOp::Set {
            group,
            disappear,
            history,
        } => {
            let g = find(p, &group).await?;
            let (disappear, history) =
                crate::control::parse_settings(disappear.as_deref(), history.as_deref())?;
            if let Some(h) = history {
                p.set_group_history(g, h).await?;
            }
            if let Some(d) = disappear {
                p.set_group_disappear(g, d).await?;
            }
            json!({
                "disappear": disappear.map(|d| d.label()),
                "history": history.map(|h| if h == HistoryPolicy::Keep { "keep" } else { "session" }),
            })
        }
        GroupOp::Clear { group } => {
            let n = p.clear_group_history(find(p, &group).await?).await?;
            json!({ "deleted": n })
        }
        GroupOp::Delete { group } => {
            p.delete_group(find(p, &group).await?).await?;
            Value::Null
        }
    })
}

pub(crate) fn text(v: &Value) -> String {
    escape(v.as_str().unwrap_or_default(), Field::Line).into_owned()
}

pub(crate) fn who_text(a: &Value) -> String {
    if a["you"] == true {
        "you".into()
    } else if let Some(c) = a["contact"].as_str() {
        escape(c, Field::Line).into_owned()
    } else {
        format!("member {}", text(&a["member"]))
    }
}

/// One group, for people.
pub(crate) fn group_line(g: &Value) -> String {
    let mut line = format!(
        "{}  {} members  {}",
        text(&g["name"]),
        g["members"],
        text(&g["state"])
    );
    if g["ours"] == true {
        line.push_str(" (yours)");
    }
    let unread = g["unread"].as_u64().unwrap_or_default();
    if unread > 0 {
        line.push_str(&format!("  {unread} unread"));
    }
    let missing = g["missing"].as_u64().unwrap_or_default();
    if missing > 0 {
        line.push_str(&format!("  {missing} messages not yet received"));
    }
    if let Some(d) = g["description"].as_str().filter(|d| !d.is_empty()) {
        line.push_str(&format!("  — {}", escape(d, Field::Line)));
    }
    line.push_str(&format!("  id {}", text(&g["id"])));
    line
}

/// One invitation, for people.
pub(crate) fn invitation_line(i: &Value) -> String {
    invitation_line_for(i, "group")
}

/// One invitation, for people, answered with `kith COMMAND accept|decline`.
pub(crate) fn invitation_line_for(i: &Value, command: &str) -> String {
    let mut line = format!("{} invites you to {}", text(&i["from"]), text(&i["name"]));
    if let Some(d) = i["description"].as_str().filter(|d| !d.is_empty()) {
        line.push_str(&format!(" — {}", escape(d, Field::Line)));
    }
    line.push_str(&format!(
        ": kith {command} accept|decline {}",
        text(&i["group"])
    ));
    line
}

/// One group message, for people.
pub(crate) fn message_line(m: &Value, tz: &jiff::tz::TimeZone) -> String {
    let when = crate::timefmt::format_millis(m["time"].as_u64().unwrap_or_default(), tz);
    let who = who_text(&m["author"]);
    let body = match m["kind"].as_str() {
        Some("post") => crate::term::body(m["body"].as_str().unwrap_or_default(), "    "),
        Some("created") => "(made the group)".into(),
        Some("added") => format!("(added member {})", text(&m["member"])),
        Some("removed") => format!("(removed member {})", text(&m["member"])),
        Some("left") => "(left)".into(),
        _ => format!("({})", text(&m["kind"])),
    };
    let mut line = format!("{when}  {who}: {body}");
    if m["state"] == "waiting" {
        line.push_str("  [waiting for earlier messages]");
    }
    if let Some(r) = m["reply_to"].as_str() {
        line.push_str(&format!("  (reply to {})", escape(r, Field::Line)));
    }
    for r in m["reactions"].as_array().into_iter().flatten() {
        line.push_str(&format!(
            "  {} by {}",
            text(&r["emoji"]),
            who_text(&r["by"])
        ));
    }
    line.push_str(&format!("  id {}", text(&m["id"])));
    line
}

/// One member, for people.
pub(crate) fn member_line(m: &Value) -> String {
    let mut line = format!(
        "{}  {}  {}",
        who_text(&m["who"]),
        text(&m["state"]),
        text(&m["address"])
    );
    if m["creator"] == true {
        line.push_str("  creator");
    }
    if m["direct"] == true {
        line.push_str("  direct");
    }
    line
}

pub(crate) fn print_all(v: &Value, json: bool, line: impl Fn(&Value) -> String) {
    for x in v.as_array().into_iter().flatten() {
        if json {
            println!("{x}");
        } else {
            println!("{}", line(x));
        }
    }
}

/// `kith group …`.
pub(crate) async fn run(ctx: &crate::Ctx, cmd: GroupCmd) -> anyhow::Result<()> {
    let req = |op| Request::Group { action: op };
    match cmd {
        GroupCmd::Create { name, description } => {
            let description = description.unwrap_or_default();
            let v = ctx
                .request(req(GroupOp::Create { name, description }))
                .await?;
            println!("{v}");
        }
        GroupCmd::Invite { group, alias } => {
            ctx.request(req(GroupOp::Invite { group, alias })).await?;
        }
        GroupCmd::List { json } => {
            let v = ctx.request(req(GroupOp::List)).await?;
            print_all(&v, json, group_line);
        }
        GroupCmd::Invitations { json } => {
            let v = ctx.request(req(GroupOp::Invitations)).await?;
            print_all(&v, json, invitation_line);
        }
        GroupCmd::Accept { group } => {
            ctx.request(req(GroupOp::Answer {
                group,
                accept: true,
            }))
            .await?;
        }
        GroupCmd::Decline { group } => {
            ctx.request(req(GroupOp::Answer {
                group,
                accept: false,
            }))
            .await?;
        }
        GroupCmd::Send {
            group,
            text,
            reply_to,
        } => {
            let v = ctx
                .request(req(GroupOp::Send {
                    group,
                    text,
                    reply_to,
                }))
                .await?;
            println!("{v}");
        }
        GroupCmd::React {
            group,
            id,
            emoji,
            remove,
        } => {
            let emoji = if remove { None } else { emoji };
            ctx.request(req(GroupOp::React { group, id, emoji }))
                .await?;
        }
        GroupCmd::Messages { group, json } => {
            let v = ctx.request(req(GroupOp::Messages { group })).await?;
            let tz = crate::timefmt::local_zone();
            print_all(&v, json, |m| message_line(m, &tz));
        }
        GroupCmd::Members { group, json } => {
            let v = ctx.request(req(GroupOp::Members { group })).await?;
            print_all(&v, json, member_line);
        }
        GroupCmd::Leave { group } => {
            ctx.request(req(GroupOp::Leave { group })).await?;
        }
        GroupCmd::Remove { group, member } => {
            ctx.request(req(GroupOp::Remove { group, member })).await?;
        }
        GroupCmd::Reveal { group, alias } => {
            ctx.request(req(GroupOp::Reveal { group, alias })).await?;
        }
        GroupCmd::Read { group } => {
            ctx.request(req(GroupOp::Read { group })).await?;
        }
        GroupCmd::DeleteMessage { group, id } => {
            ctx.request(req(GroupOp::DeleteMessage { group, id }))
                .await?;
        }
        GroupCmd::Set {
            group,
            disappear,
            history,
        } => {
            let v = ctx
                .request(req(GroupOp::Set {
                    group,
                    disappear,
                    history,
                }))
                .await?;
            println!("{v}");
        }
        GroupCmd::Clear { group } => {
            let v = ctx.request(req(GroupOp::Clear { group })).await?;
            println!("deleted {} messages", v["deleted"]);
        }
        GroupCmd::Delete { group } => {
            ctx.request(req(GroupOp::Delete { group })).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::term::must_escape;

    fn inert(line: &str) {
        assert!(
            !line.chars().any(|c| must_escape(c, Field::Line)),
            "{line:?}"
        );
    }

    #[test]
    fn hostile_groups_print_inert() {
        let g = json!({"id": "ab", "name": "cl\u{1b}[2Jimb", "description": "x\ny\u{7}",
            "ours": false, "state": "member", "members": 3, "unread": 2, "missing": 1});
        let l = group_line(&g);
        inert(&l);
        assert!(l.starts_with("cl\\u{1b}[2Jimb  3 members  member"), "{l}");
        assert!(l.contains("1 messages not yet received"), "{l}");
        let i = json!({"from": "bo\u{9b}b", "group": "cd", "name": "n\r", "description": ""});
        let l = invitation_line(&i);
        inert(&l);
        assert_eq!(
            l,
            "bo\\u{9b}b invites you to n\\u{d}: kith group accept|decline cd"
        );
        let m = json!({"id": "ef", "author": {"contact": "eve\u{1b}]0;x\u{7}"}, "kind": "post",
            "body": "hi\u{1b}[31m\n> fake", "time": 0, "state": "waiting",
            "reply_to": "01", "reactions": [{"by": {"member": "0a0b"}, "emoji": "👍\u{7}"}]});
        let l = message_line(&m, &jiff::tz::TimeZone::UTC);
        assert!(!l.contains('\u{1b}') && !l.contains('\u{7}'), "{l:?}");
        assert!(
            l.contains("eve\\u{1b}]0;x\\u{7}: hi\\u{1b}[31m\n    > fake"),
            "{l}"
        );
        assert!(l.contains("👍\\u{7} by member 0a0b"), "{l}");
        assert!(l.contains("[waiting for earlier messages]"), "{l}");
        let mem = json!({"who": {"contact": "c\u{1b}"}, "state": "member", "address": "a",
            "creator": true, "direct": true});
        let l = member_line(&mem);
        inert(&l);
        assert_eq!(l, "c\\u{1b}  member  a  creator  direct");
    }

    #[test]
    fn ids_are_checked() {
        assert!(message_id("xyz").is_err());
        assert!(message_id(&"0f".repeat(32)).is_ok());
    }
}
