//! The daemon's control socket and the operations both paths share.
//!
//! Protocol: the client writes one JSON [`Request`] line; the daemon answers
//! one JSON [`Response`] line and closes. The socket is created mode 0600 in
//! the profile's 0700 directory, so only its owner can reach it.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use kith_node::{
    ContactLink, ContactState, ContactView, Direction, MessageState, MessageView, NetworkStatus,
    Profile,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// Longest request line the daemon reads.
const MAX_REQUEST: u64 = 256 * 1024;

/// An operation on a profile.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Request {
    Link,
    ContactAdd { link: String, alias: String },
    ContactList,
    ContactAccept { alias: String },
    ContactDecline { alias: String },
    ContactRemove { alias: String },
    Send { alias: String, text: String },
    Messages { alias: String },
    Status,
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

pub(crate) fn message_json(m: &MessageView) -> Value {
    json!({
        "id": m.id.to_hex(),
        "direction": if m.direction == Direction::In { "in" } else { "out" },
        "body": m.body,
        "state": state_str(m.state),
        "time": m.time.as_millis(),
        "delivered_at": m.delivered_at.map(|t| t.as_millis()),
    })
}

fn contact_json(c: &ContactView) -> Value {
    json!({
        "alias": c.alias,
        "address": c.address.to_string(),
        "state": contact_state_str(c.state),
        "their_name": c.their_name,
        "online": c.online,
        "unread": c.unread,
    })
}

pub(crate) fn status_json(running: bool, s: &NetworkStatus) -> Value {
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
        "network": state,
        "bootstrap_percent": percent,
        "phase": phase,
        "published": published,
        "error": error,
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
        Request::ContactList => {
            Value::Array(p.contacts().await?.iter().map(contact_json).collect())
        }
        Request::ContactAccept { alias } => {
            p.accept_contact(contact_id(p, &alias).await?).await?;
            Value::Null
        }
        Request::ContactDecline { alias } => {
            p.decline_contact(contact_id(p, &alias).await?).await?;
            Value::Null
        }
        Request::ContactRemove { alias } => {
            p.remove_contact(contact_id(p, &alias).await?).await?;
            Value::Null
        }
        Request::Send { alias, text } => {
            let m = p.send(contact_id(p, &alias).await?, &text).await?;
            message_json(&m)
        }
        Request::Messages { alias } => {
            let id = contact_id(p, &alias).await?;
            let ms = p.messages(id).await?;
            p.mark_read(id).await?;
            Value::Array(ms.iter().map(message_json).collect())
        }
        Request::Status => status_json(running, &p.network_status()),
    })
}

/// Ask a running daemon. `Ok(None)` when no daemon listens.
pub(crate) async fn ask_daemon(profile_dir: &Path, req: &Request) -> anyhow::Result<Option<Value>> {
    let path = socket_path(profile_dir);
    let Ok(stream) = UnixStream::connect(&path).await else {
        return Ok(None);
    };
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
    let path = socket_path(profile_dir);
    if UnixStream::connect(&path).await.is_ok() {
        bail!("a kith daemon already runs this profile");
    }
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).context("binding the control socket")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(listener)
}

/// Serve requests until the task is dropped.
pub(crate) async fn serve(listener: UnixListener, profile: Profile) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let p = profile.clone();
        tokio::spawn(async move {
            let (rd, mut wr) = stream.into_split();
            let mut line = String::new();
            let mut rd = BufReader::new(tokio::io::AsyncReadExt::take(rd, MAX_REQUEST));
            if rd.read_line(&mut line).await.is_err() {
                return;
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
