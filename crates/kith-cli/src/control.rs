//! The daemon's control socket and the operations both paths share.
//!
//! Protocol: the client writes one JSON [`Request`] line; the daemon answers
//! one JSON [`Response`] line and closes. No password ever crosses it: the
//! daemon is already unlocked.
//!
//! Who can reach it: the socket is created under the process's 0o077 umask
//! (see `local::restrict_umask`) and then set to mode 0600, in the profile's
//! directory, which is checked to be ours and owner-only. Each end also
//! checks the other's uid (`SO_PEERCRED`): the daemon serves only its own
//! user, and a client talks only to a daemon of its own user.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use kith_node::{
    ContactLink, ContactOrigin, ContactState, ContactView, ConversationSettings, Direction,
    DisappearTimer, HistoryPolicy, MessageKind, MessageState, MessageView, NetworkKind,
    NetworkStatus, Profile, QuoteView,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::local;

/// Longest request line the daemon reads.
const MAX_REQUEST: u64 = 256 * 1024;

/// Requests served at once; more wait in the listen backlog.
const MAX_CLIENTS: usize = 16;

/// How long a client may take to send its request line.
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// The first and the longest pause after a failed `accept` (e.g. `EMFILE`:
/// out of descriptors), doubling in between, so a persistent error does not
/// spin a core.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(2));

/// An operation on a profile.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Request {
    Link,
    ContactAdd {
        link: String,
        alias: String,
    },
    ContactList,
    ContactAccept {
        alias: String,
    },
    ContactDecline {
        alias: String,
    },
    ContactRestore {
        alias: String,
    },
    ContactBlock {
        alias: String,
    },
    ContactUnblock {
        alias: String,
    },
    ContactRemove {
        alias: String,
    },
    ContactVerify {
        alias: String,
        mark: Option<bool>,
    },
    Send {
        alias: String,
        text: String,
        /// The id (hex) of the message it answers.
        #[serde(default)]
        reply_to: Option<String>,
    },
    /// Replace the text of one of our messages.
    Edit {
        alias: String,
        id: String,
        text: String,
    },
    /// React to a message (`emoji`), or take our reaction back (`None`).
    React {
        alias: String,
        id: String,
        emoji: Option<String>,
    },
    /// Delete a message here, or for both sides.
    Delete {
        alias: String,
        id: String,
        for_everyone: bool,
    },
    /// Delete a conversation's history here.
    HistoryClear {
        alias: String,
    },
    /// Our deletes for both the contact has not confirmed yet.
    HistoryUnconfirmed {
        alias: String,
    },
    /// Change a conversation's settings; answers them.
    ContactSet {
        alias: String,
        disappear: Option<String>,
        history: Option<String>,
    },
    Messages {
        alias: String,
    },
    /// Send a file: `path` is absolute (the daemon's working directory is
    /// not the client's).
    SendFile {
        alias: String,
        #[serde(with = "crate::files::path_bytes")]
        path: PathBuf,
    },
    /// The conversation's files.
    Files {
        alias: String,
    },
    /// Accept a file of the contact's waiting over the automatic limits.
    AcceptFile {
        alias: String,
        id: String,
    },
    /// Refuse a file of the contact's waiting or on its way.
    RefuseFile {
        alias: String,
        id: String,
    },
    /// Save a file to `dest` (absolute): a new file, or a directory to save
    /// it in under its own name.
    SaveFile {
        alias: String,
        id: String,
        #[serde(with = "crate::files::path_bytes")]
        dest: PathBuf,
    },
    Introduce {
        a: String,
        b: String,
        note: String,
    },
    IntroductionList,
    IntroductionAnswer {
        id: String,
        accept: bool,
    },
    Status,
    MeetStart,
    MeetFinish {
        code: String,
        alias: String,
        timeout_secs: Option<u64>,
    },
    MeetCancel,
    /// Change (or just read) whether our link's address takes requests.
    Requests {
        change: Option<crate::requests::RequestsChange>,
    },
    /// An inbox operation (`kith inbox …`).
    Inbox {
        action: crate::inbox::InboxOp,
    },
    /// A group operation (`kith group …`).
    Group {
        action: crate::groups::GroupOp,
    },
    /// A forum operation (`kith forum …`).
    Forum {
        action: crate::forums::ForumOp,
    },
    /// A blog operation (`kith blog …`).
    Blog {
        action: crate::blogs::BlogOp,
    },
    /// A feed operation (`kith feed …`).
    Feed {
        action: crate::feeds::FeedOp,
    },
    /// Drop a message into someone's inbox through this node.
    Drop {
        link: String,
        text: String,
        leave: crate::inbox::LeaveArg,
    },
}

/// The daemon's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Response {
    Ok(Value),
    Err { kind: String, message: String },
}

pub(crate) fn socket_path(profile_dir: &Path) -> PathBuf {
    profile_dir.join("control.sock")
}

fn state_str(s: MessageState) -> &'static str {
    match s {
        MessageState::Queued => "queued",
        MessageState::Sent => "sent",
        MessageState::Delivered => "delivered",
        MessageState::Received => "received",
    }
}

pub(crate) fn contact_state_str(s: ContactState) -> &'static str {
    match s {
        ContactState::Outgoing => "waiting",
        ContactState::IncomingRequest => "request",
        ContactState::Accepted => "accepted",
        ContactState::Declined => "declined",
        ContactState::Blocked => "blocked",
    }
}

fn direction_str(d: Direction) -> &'static str {
    if d == Direction::In { "in" } else { "out" }
}

/// `text`, `timer` (with `timer`: the new one), `file`, `deleted`.
fn kind_json(k: MessageKind) -> (&'static str, Option<&'static str>) {
    match k {
        MessageKind::Text => ("text", None),
        MessageKind::Timer(t) => ("timer", Some(t.label())),
        MessageKind::File => ("file", None),
        MessageKind::Deleted(_) => ("deleted", None),
    }
}

pub(crate) fn message_json(m: &MessageView) -> Value {
    let (kind, timer) = kind_json(m.kind);
    json!({
        "id": m.id.to_hex(),
        "direction": direction_str(m.direction),
        "body": m.body,
        "state": state_str(m.state),
        "time": m.time.as_millis(),
        "delivered_at": m.delivered_at.map(|t| t.as_millis()),
        "kind": kind,
        "timer": timer,
        "reply_to": m.reply_to.as_ref().map(|r| {
            let (quote, direction, body) = match &r.quote {
                QuoteView::Message { direction, body } => {
                    ("message", Some(direction_str(*direction)), Some(body.as_str()))
                }
                QuoteView::Deleted => ("deleted", None, None),
                QuoteView::Unavailable => ("unavailable", None, None),
            };
            json!({ "id": r.id.to_hex(), "quote": quote, "direction": direction, "body": body })
        }),
        "reactions": m.reactions.iter().map(|r| json!({
            "by": if r.by == Direction::In { "them" } else { "me" },
            "emoji": r.emoji,
        })).collect::<Vec<_>>(),
        "edited": m.edited.map(|e| json!({
            "at": e.at.as_millis(),
            "delivered": e.delivered,
        })),
        "disappear": m.disappear.label(),
        "expires_at": m.expires_at.map(|t| t.as_millis()),
        "file": m.file.as_deref().map(crate::files::file_json),
    })
}

fn conversation_json(c: &ConversationSettings) -> Value {
    json!({
        "disappear": c.disappear.label(),
        "history": match c.history {
            HistoryPolicy::Keep => "keep",
            HistoryPolicy::Session => "session",
        },
    })
}

fn message_id(id: &str) -> anyhow::Result<kith_node::MessageId> {
    kith_node::MessageId::parse_hex(id).ok_or_else(|| {
        anyhow!("{id:?} is not a message id (32 hex digits, as messages --json shows)")
    })
}

/// `--disappear` and `--history` of `contact set` and `group set`.
pub(crate) fn parse_settings(
    disappear: Option<&str>,
    history: Option<&str>,
) -> anyhow::Result<(Option<DisappearTimer>, Option<HistoryPolicy>)> {
    let disappear = disappear
        .map(|d| {
            DisappearTimer::parse(d)
                .map_err(|_| anyhow!("--disappear takes 5m, 1h, 1d, 7d, 30d or off"))
        })
        .transpose()?;
    let history = match history {
        None => None,
        Some("keep") => Some(HistoryPolicy::Keep),
        Some("session") => Some(HistoryPolicy::Session),
        Some(_) => bail!("--history takes keep or session"),
    };
    Ok((disappear, history))
}

fn origin_str(o: ContactOrigin) -> &'static str {
    match o {
        ContactOrigin::Link => "link",
        ContactOrigin::MetInPerson => "met_in_person",
        ContactOrigin::Introduced { .. } => "introduced",
        ContactOrigin::Request => "request",
    }
}

fn contact_json(c: &ContactView) -> Value {
    json!({
        "alias": c.alias,
        "address": c.address.to_string(),
        "state": contact_state_str(c.state),
        "origin": origin_str(c.origin),
        "verified": c.verified,
        "introduced_by": c.introducer.as_ref().map(|i| json!({
            "alias": i.alias,
            "address": i.address.to_string(),
        })),
        "their_name": c.their_name,
        "online": c.online,
        "unread": c.unread,
    })
}

/// The network a profile is on, or when offline the one its settings name.
async fn network_kind(p: &Profile) -> anyhow::Result<NetworkKind> {
    if let Some(k) = p.network_kind() {
        return Ok(k);
    }
    Ok(p.settings()
        .await?
        .network
        .map_or(NetworkKind::Tor, |n| n.kind()))
}

/// `kith status --json`: `state` is how far the network is, `network` which
/// network it is (`tor`, `tor-custom`, `tcp`).
pub(crate) fn status_json(
    running: bool,
    s: &NetworkStatus,
    kind: NetworkKind,
    dropped_requests: u64,
) -> Value {
    let (state, percent, phase, published, error) = match s {
        NetworkStatus::Offline => ("offline", 0, String::new(), false, None),
        NetworkStatus::Starting { percent, phase } => {
            ("starting", *percent, phase.clone(), false, None)
        }
        NetworkStatus::Online { published } => ("online", 100, "ready".into(), *published, None),
        NetworkStatus::Failed { error } => ("failed", 0, String::new(), false, Some(error.clone())),
    };
    json!({
        "running": running,
        "state": state,
        "network": kind.as_str(),
        "bootstrap_percent": percent,
        "phase": phase,
        "published": published,
        "error": error,
        "dropped_requests": dropped_requests,
    })
}

async fn contact_id(p: &Profile, alias: &str) -> anyhow::Result<kith_node::ContactId> {
    Ok(p.contact_by_alias(alias).await?.id)
}

/// Carry out one request on an unlocked profile.
pub(crate) async fn execute(p: &Profile, req: Request, running: bool) -> anyhow::Result<Value> {
    Ok(match req {
        Request::Link => json!(p.link().to_string()),
        Request::ContactAdd { link, alias } => {
            let link = ContactLink::parse(&link)?;
            contact_json(&p.add_contact(&link, &alias).await?)
        }
        Request::ContactList => json!({
            "contacts": p.contacts().await?.iter().map(contact_json).collect::<Vec<_>>(),
            "dropped_requests": p.dropped_requests(),
            "introductions": crate::intro::list(p).await?,
        }),
        Request::ContactAccept { alias } => {
            p.accept_contact(contact_id(p, &alias).await?).await?;
            Value::Null
        }
        Request::ContactDecline { alias } => {
            p.decline_contact(contact_id(p, &alias).await?).await?;
            Value::Null
        }
        Request::ContactRestore { alias } => {
            p.restore_request(contact_id(p, &alias).await?).await?;
            Value::Null
        }
        Request::ContactBlock { alias } => {
            p.block_contact(contact_id(p, &alias).await?).await?;
            Value::Null
        }
        Request::ContactUnblock { alias } => {
            p.unblock_contact(contact_id(p, &alias).await?).await?;
            Value::Null
        }
        Request::ContactRemove { alias } => {
            p.remove_contact(contact_id(p, &alias).await?).await?;
            Value::Null
        }
        // The safety number; with `mark`, the contact marked (not) verified first.
        Request::ContactVerify { alias, mark } => {
            let id = contact_id(p, &alias).await?;
            if let Some(verified) = mark {
                p.mark_verified(id, verified).await?;
            }
            let number = p.safety_number(id).await?;
            let c = p.contact(id).await?;
            json!({
                "alias": c.alias,
                "safety_number": number.to_string(),
                "verified": c.verified,
            })
        }
        Request::Send {
            alias,
            text,
            reply_to,
        } => {
            let reply_to = reply_to.as_deref().map(message_id).transpose()?;
            let m = p
                .send_reply(contact_id(p, &alias).await?, &text, reply_to)
                .await?;
            message_json(&m)
        }
        Request::Edit { alias, id, text } => {
            let id = message_id(&id)?;
            let m = p
                .edit_message(contact_id(p, &alias).await?, id, &text)
                .await?;
            message_json(&m)
        }
        Request::React { alias, id, emoji } => {
            let id = message_id(&id)?;
            p.react(contact_id(p, &alias).await?, id, emoji.as_deref())
                .await?;
            Value::Null
        }
        Request::Delete {
            alias,
            id,
            for_everyone,
        } => {
            let (c, id) = (contact_id(p, &alias).await?, message_id(&id)?);
            let done = if for_everyone {
                p.delete_for_everyone(c, id).await?
            } else {
                p.delete_message(c, id).await?
            };
            if !done {
                bail!("no such message in this conversation");
            }
            Value::Null
        }
        Request::HistoryUnconfirmed { alias } => {
            let ids = p.unconfirmed_deletes(contact_id(p, &alias).await?).await?;
            json!({ "unconfirmed": ids.iter().map(|i| i.to_hex()).collect::<Vec<_>>() })
        }
        Request::HistoryClear { alias } => {
            let n = p.clear_history(contact_id(p, &alias).await?).await?;
            json!({ "deleted": n })
        }
        Request::ContactSet {
            alias,
            disappear,
            history,
        } => {
            let c = contact_id(p, &alias).await?;
            // Both parsed before either is applied.
            let (disappear, history) = parse_settings(disappear.as_deref(), history.as_deref())?;
            if let Some(h) = history {
                p.set_history(c, h).await?;
            }
            if let Some(d) = disappear
                && p.conversation(c).await?.disappear != d
            {
                p.set_disappear(c, d).await?;
            }
            conversation_json(&p.conversation(c).await?)
        }
        Request::Messages { alias } => {
            let id = contact_id(p, &alias).await?;
            let mut ms = p.messages(id).await?;
            p.mark_read(id).await?;
            // A file message's transfer as it runs now (speed, bytes sent).
            if ms.iter().any(|m| m.file.is_some()) {
                let live = p.files(id).await?;
                for f in ms.iter_mut().filter_map(|m| m.file.as_mut()) {
                    if let Some(l) = live.iter().find(|l| l.id == f.id) {
                        **f = l.clone();
                    }
                }
            }
            Value::Array(ms.iter().map(message_json).collect())
        }
        Request::SendFile { alias, path } => {
            crate::files::send(p, contact_id(p, &alias).await?, &path).await?
        }
        Request::Files { alias } => crate::files::list(p, contact_id(p, &alias).await?).await?,
        Request::AcceptFile { alias, id } => {
            let id = message_id(&id)?;
            p.accept_file(contact_id(p, &alias).await?, id).await?;
            Value::Null
        }
        Request::RefuseFile { alias, id } => {
            let id = message_id(&id)?;
            p.refuse_file(contact_id(p, &alias).await?, id).await?;
            Value::Null
        }
        Request::SaveFile { alias, id, dest } => {
            let id = message_id(&id)?;
            crate::files::save(p, contact_id(p, &alias).await?, id, &dest).await?
        }
        Request::MeetStart => crate::meet::start(p).await?,
        Request::MeetFinish {
            code,
            alias,
            timeout_secs,
        } => crate::meet::finish(p, &code, &alias, timeout_secs).await?,
        Request::MeetCancel => {
            p.meet_cancel();
            Value::Null
        }
        Request::Introduce { a, b, note } => crate::intro::introduce(p, &a, &b, &note).await?,
        Request::IntroductionList => crate::intro::list(p).await?,
        Request::IntroductionAnswer { id, accept } => crate::intro::answer(p, &id, accept).await?,
        Request::Requests { change } => crate::requests::execute(p, change).await?,
        Request::Inbox { action } => crate::inbox::execute(p, action).await?,
        Request::Group { action } => crate::groups::execute(p, action).await?,
        Request::Forum { action } => crate::forums::execute(p, action).await?,
        Request::Blog { action } => crate::blogs::execute(p, action).await?,
        Request::Feed { action } => crate::feeds::execute(p, action).await?,
        Request::Drop { link, text, leave } => {
            crate::inbox::drop_via(p, &link, &text, leave).await?
        }
        Request::Status => {
            let mut v = status_json(
                running,
                &p.network_status(),
                network_kind(p).await?,
                p.dropped_requests(),
            );
            let r = crate::requests::requests_json(p.requests().await?);
            v["requests"] = r["requests"].clone();
            v["requests_until"] = r["until"].clone();
            // For the user (and tests) only; never logged.
            v["contacts_address"] = p.contacts_address().hostname().into();
            let inbox = p.inbox_status().await?;
            v["inbox"] = json!({ "on": inbox.on, "count": inbox.count, "unseen": inbox.unseen });
            // How many bridges the running network goes through (null
            // while offline); the lines themselves stay in the settings.
            v["bridges"] = json!(p.bridges_in_use());
            v
        }
    })
}

/// Ask a running daemon. `Ok(None)` when no daemon listens.
pub(crate) async fn ask_daemon(profile_dir: &Path, req: &Request) -> anyhow::Result<Option<Value>> {
    let path = socket_path(profile_dir);
    let Ok(stream) = UnixStream::connect(&path).await else {
        return Ok(None);
    };
    let uid = stream
        .peer_cred()
        .context("asking who serves the control socket")?
        .uid();
    if !local::is_our_uid(uid) {
        bail!(
            "refusing to use {}: it is served by uid {uid}, not by you",
            path.display()
        );
    }
    let (rd, mut wr) = stream.into_split();
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    wr.write_all(&line).await?;
    wr.shutdown().await?;
    let mut answer = String::new();
    BufReader::new(rd).read_line(&mut answer).await?;
    match serde_json::from_str::<Response>(&answer).context("the daemon's answer is malformed")? {
        Response::Ok(v) => Ok(Some(v)),
        Response::Err { message, .. } => Err(anyhow!(message)),
    }
}

/// Bind the control socket (removing a stale one left by a killed daemon).
pub(crate) async fn bind(profile_dir: &Path) -> anyhow::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let path = socket_path(profile_dir);
    if UnixStream::connect(&path).await.is_ok() {
        bail!("a kith daemon already runs this profile");
    }
    let _ = std::fs::remove_file(&path);
    // Created mode 0700 under the process's 0o077 umask, so no other user can
    // connect between this bind and the chmod below.
    let listener = UnixListener::bind(&path).context("binding the control socket")?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Serve requests until the task is dropped.
pub(crate) async fn serve(listener: UnixListener, profile: Profile) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CLIENTS));
    let mut backoff = ACCEPT_BACKOFF.0;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                backoff = ACCEPT_BACKOFF.0;
                stream
            }
            Err(e) => {
                tracing::warn!(error = %e, "control socket: accept failed; pausing");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF.1);
                continue;
            }
        };
        match stream.peer_cred() {
            Ok(c) if local::is_our_uid(c.uid()) => {}
            Ok(c) => {
                tracing::warn!(
                    uid = c.uid(),
                    "control socket: refused a client of another user"
                );
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "control socket: refused a client of unknown uid");
                continue;
            }
        }
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let p = profile.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let (rd, mut wr) = stream.into_split();
            let mut line = String::new();
            let mut rd = BufReader::new(tokio::io::AsyncReadExt::take(rd, MAX_REQUEST));
            match tokio::time::timeout(REQUEST_DEADLINE, rd.read_line(&mut line)).await {
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(_) => return,
            }
            let resp = match serde_json::from_str::<Request>(&line) {
                Err(e) => Response::Err {
                    kind: "bad_request".into(),
                    message: format!("bad request: {e}"),
                },
                Ok(req) => match execute(&p, req, true).await {
                    Ok(v) => Response::Ok(v),
                    Err(e) => Response::Err {
                        kind: "error".into(),
                        message: format!("{e:#}"),
                    },
                },
            };
            if let Ok(mut out) = serde_json::to_vec(&resp) {
                out.push(b'\n');
                let _ = wr.write_all(&out).await;
            }
        });
    }
}
