//! The inbox from a terminal or a script: `kith inbox on|off|rotate|link|
//! list [--json]|reply|block|delete|request`, and `kith drop LINK TEXT`.
//!
//! Inbox commands go through the running node when there is one (its
//! listener follows at once), else run on the unlocked profile. `kith drop`
//! goes through the running node of `--profile` when there is one (so it
//! can leave a reply address); otherwise it runs on its own, with no
//! profile at all, over `--transport` (Tor by default, `--tor-config` for
//! its arti TOML).

use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use clap::{Subcommand, ValueEnum};
use kith_node::{InboxDrop, InboxLink, LeaveReply, MessageId, Network, Profile, ReplyAddress};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::control::Request;
use crate::term::{Field, escape};

/// `kith inbox …`.
#[derive(Subcommand, Debug)]
pub(crate) enum InboxCmd {
    /// Switch the inbox on: anyone with its link can drop you a message.
    /// Its address has its own key: it does not reveal your link's.
    On,
    /// Switch it off: nothing listens at its address.
    Off,
    /// A fresh address: the old link stops working at once. Kept
    /// messages stay.
    Rotate,
    /// Print the inbox's link (`kith://…?inbox`), while it is on.
    Link,
    /// List the messages dropped into the inbox, oldest first, and mark
    /// them seen.
    List {
        /// As JSON: {"on", "link", "messages": [{"id", "received_at",
        /// "body", "reply": null | {"kind", "link"}, "seen"}]} ("seen":
        /// whether an earlier listing, or the app, showed it).
        #[arg(long)]
        json: bool,
    },
    /// Answer a message whose sender left their inbox (a drop there,
    /// from a one-time identity). Needs the running node.
    Reply {
        /// The message's id, as `inbox list` prints it.
        id: String,
        /// The answer.
        text: String,
        /// Leave one of your addresses for their answer.
        #[arg(long, value_enum, default_value_t = LeaveArg::Nothing)]
        leave: LeaveArg,
    },
    /// Block the reply address a message left: later drops leaving it are
    /// discarded. An anonymous message (no reply address) cannot be blocked.
    Block {
        /// The message's id.
        id: String,
    },
    /// Delete a message.
    Delete {
        /// The message's id.
        id: String,
    },
    /// Send a contact request to a sender who left their contact link
    /// (this shows them who you are).
    Request {
        /// The message's id.
        id: String,
        /// What to call them.
        #[arg(long)]
        alias: String,
    },
}

/// Which of our addresses a drop leaves for an answer.
#[derive(Clone, Copy, Debug, Default, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LeaveArg {
    /// None: the message is anonymous and cannot be answered.
    #[default]
    Nothing,
    /// Your inbox's link (your inbox must be on).
    Inbox,
    /// Your contact link: they may send you a contact request. This tells
    /// them who you are.
    Contact,
}

impl From<LeaveArg> for LeaveReply {
    fn from(l: LeaveArg) -> Self {
        match l {
            LeaveArg::Nothing => LeaveReply::Nothing,
            LeaveArg::Inbox => LeaveReply::Inbox,
            LeaveArg::Contact => LeaveReply::Contact,
        }
    }
}

/// An inbox operation, as sent to the daemon.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "inbox", rename_all = "snake_case")]
pub(crate) enum InboxOp {
    On,
    Off,
    Rotate,
    Link,
    List,
    Reply {
        id: String,
        text: String,
        leave: LeaveArg,
    },
    Block {
        id: String,
    },
    Delete {
        id: String,
    },
    Request {
        id: String,
        alias: String,
    },
}

fn parse_id(id: &str) -> anyhow::Result<MessageId> {
    let bytes = hex::decode(id.trim())
        .ok()
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .ok_or_else(|| anyhow!("a message id is 32 hexadecimal digits"))?;
    Ok(MessageId(bytes))
}

fn drop_json(d: &InboxDrop) -> Value {
    let reply = match &d.reply {
        None => Value::Null,
        Some(ReplyAddress::Inbox(l)) => json!({ "kind": "inbox", "link": l.to_string() }),
        Some(ReplyAddress::Contact(l)) => json!({ "kind": "contact", "link": l.to_string() }),
    };
    json!({
        "id": d.id.to_hex(),
        "received_at": d.received_at.as_millis(),
        "body": d.body,
        "reply": reply,
        "seen": d.seen,
    })
}

/// The daemon side of `Request::Inbox`.
pub(crate) async fn execute(p: &Profile, op: InboxOp) -> anyhow::Result<Value> {
    Ok(match op {
        InboxOp::On => {
            p.set_inbox(true).await?;
            Value::Null
        }
        InboxOp::Off => {
            p.set_inbox(false).await?;
            Value::Null
        }
        InboxOp::Rotate => {
            p.rotate_inbox().await?;
            Value::Null
        }
        InboxOp::Link => {
            let st = p.inbox_status().await?;
            let link = st
                .link
                .ok_or_else(|| anyhow!("the inbox is off: `kith inbox on` first"))?;
            json!(link.to_string())
        }
        InboxOp::List => {
            let st = p.inbox_status().await?;
            let drops = p.inbox().await?;
            p.inbox_mark_seen().await?;
            json!({
                "on": st.on,
                "link": st.link.map(|l| l.to_string()),
                "messages": drops.iter().map(drop_json).collect::<Vec<_>>(),
            })
        }
        InboxOp::Reply { id, text, leave } => {
            p.inbox_reply(parse_id(&id)?, &text, leave.into()).await?;
            Value::Null
        }
        InboxOp::Block { id } => {
            p.inbox_block(parse_id(&id)?).await?;
            Value::Null
        }
        InboxOp::Delete { id } => {
            p.inbox_delete(parse_id(&id)?).await?;
            Value::Null
        }
        InboxOp::Request { id, alias } => {
            let c = p.inbox_to_request(parse_id(&id)?, &alias).await?;
            json!({ "alias": c.alias })
        }
    })
}

/// The daemon side of `Request::Drop`.
pub(crate) async fn drop_via(
    p: &Profile,
    link: &str,
    text: &str,
    leave: LeaveArg,
) -> anyhow::Result<Value> {
    let link = InboxLink::parse(link)?;
    p.drop_message(&link, text, leave.into()).await?;
    Ok(Value::Null)
}

/// One message, for people.
fn line(m: &Value, tz: &jiff::tz::TimeZone) -> String {
    let id = m["id"].as_str().unwrap_or_default();
    let when = m["received_at"]
        .as_u64()
        .map_or_else(String::new, |ms| crate::timefmt::format_millis(ms, tz));
    let reply = match m["reply"]["kind"].as_str() {
        Some("inbox") => "can be answered (kith inbox reply)",
        Some("contact") => "left a contact link (kith inbox request)",
        _ => "anonymous",
    };
    format!(
        "{id}  {when}  [{reply}]\n{}",
        crate::term::body(m["body"].as_str().unwrap_or_default(), "  ")
    )
}

/// `kith inbox …`.
pub(crate) async fn run(ctx: &crate::Ctx, cmd: InboxCmd) -> anyhow::Result<()> {
    let (op, json) = match cmd {
        InboxCmd::On => (InboxOp::On, false),
        InboxCmd::Off => (InboxOp::Off, false),
        InboxCmd::Rotate => (InboxOp::Rotate, false),
        InboxCmd::Link => (InboxOp::Link, false),
        InboxCmd::List { json } => (InboxOp::List, json),
        InboxCmd::Reply { id, text, leave } => (InboxOp::Reply { id, text, leave }, false),
        InboxCmd::Block { id } => (InboxOp::Block { id }, false),
        InboxCmd::Delete { id } => (InboxOp::Delete { id }, false),
        InboxCmd::Request { id, alias } => (InboxOp::Request { id, alias }, false),
    };
    let what = match &op {
        InboxOp::On => Some("inbox: on (kith inbox link prints its link)"),
        InboxOp::Off => Some("inbox: off"),
        InboxOp::Rotate => Some("inbox: a new address; the old link no longer works"),
        _ => None,
    };
    let is_list = matches!(op, InboxOp::List);
    let is_link = matches!(op, InboxOp::Link);
    let v = ctx.request(Request::Inbox { action: op }).await?;
    if let Some(w) = what {
        eprintln!("{w}");
    } else if is_link {
        println!("{}", escape(v.as_str().unwrap_or_default(), Field::Line));
    } else if is_list && json {
        println!("{v}");
    } else if is_list {
        let tz = crate::timefmt::local_zone();
        let ms = v["messages"].as_array().cloned().unwrap_or_default();
        if v["on"] != true {
            eprintln!("inbox: off");
        }
        if ms.is_empty() {
            eprintln!("no messages in the inbox");
        }
        for m in &ms {
            println!("{}", line(m, &tz));
        }
    } else if let Some(alias) = v["alias"].as_str() {
        println!("{}", escape(alias, Field::Line));
    }
    Ok(())
}

/// `kith drop LINK TEXT`.
pub(crate) async fn drop_cmd(
    ctx: &crate::Ctx,
    link: String,
    text: String,
    leave: Option<LeaveArg>,
    transport: Option<crate::TransportArg>,
    tor_config: Option<PathBuf>,
) -> anyhow::Result<()> {
    // A contact link is refused here, before anything else, with its message.
    let parsed = InboxLink::parse(&link)?;
    if ctx.profile.is_some() && transport.is_none() && tor_config.is_none() {
        let dir = ctx.profile_dir()?;
        let req = Request::Drop {
            link: link.clone(),
            text: text.clone(),
            leave: leave.unwrap_or_default(),
        };
        if crate::control::ask_daemon(&dir, &req).await?.is_some() {
            eprintln!("dropped: the inbox stored it");
            return Ok(());
        }
    }
    if leave.is_some_and(|l| !matches!(l, LeaveArg::Nothing)) {
        bail!("--leave needs your profile's running node (`kith --profile P run`)");
    }
    // On its own: no profile is opened, a one-time identity is made.
    let net = match transport.unwrap_or(crate::TransportArg::Tor) {
        crate::TransportArg::Tcp => {
            if tor_config.is_some() {
                bail!("--tor-config is for --transport tor");
            }
            Network::Tcp {
                listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            }
        }
        crate::TransportArg::Tor => Network::Tor {
            extra_toml: match tor_config {
                Some(f) => Some(std::fs::read_to_string(f).context("reading --tor-config")?),
                None => None,
            },
            bridges: vec![],
        },
    };
    let r = ctx.kith.drop_message(&net, &parsed, &text).await;
    ctx.kith.shutdown().await;
    r?;
    eprintln!("dropped: the inbox stored it");
    Ok(())
}
