//! Files (issue 9 § 4, `docs/protocol.md` § 13): `kith send-file ALIAS
//! PATH`, `kith files ALIAS [--json]`, `kith accept-file ALIAS ID`, `kith
//! refuse-file ALIAS ID`, `kith save-file ALIAS ID DEST`.
//!
//! Paths are made absolute here, in the client, before they go to the
//! daemon: its working directory is not the user's. They cross the control
//! socket as bytes, so a name that is not UTF-8 works too.

use std::path::{Path, PathBuf};

use anyhow::Context;
use kith_node::{Direction, FileState, FileView, MessageId, Profile};
use serde_json::{Value, json};

use crate::term::{Field, escape};

/// A path made absolute against our working directory (not resolved: a
/// symlink stays one, and the path need not exist yet).
pub(crate) fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("making {} absolute", path.display()))
}

/// A path as bytes in the control socket's JSON, whatever its encoding.
pub(crate) mod path_bytes {
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(p.as_os_str().as_bytes())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        let bytes = Vec::<u8>::deserialize(d)?;
        Ok(PathBuf::from(OsString::from_vec(bytes)))
    }
}

pub(crate) fn state_str(s: FileState) -> &'static str {
    match s {
        FileState::Offered => "offered",
        FileState::Transferring => "transferring",
        FileState::Complete => "complete",
        FileState::Refused => "refused",
        FileState::Corrupt => "corrupt",
        FileState::Unavailable => "unavailable",
    }
}

/// How far it is, 0 to 1 (an empty file is all there once complete).
fn progress(f: &FileView) -> f64 {
    if f.size == 0 {
        return if f.state == FileState::Complete {
            1.0
        } else {
            0.0
        };
    }
    // Precision loss is fine for a fraction.
    #[allow(clippy::cast_precision_loss)]
    let p = f.done.min(f.size) as f64 / f.size as f64;
    p
}

/// A file as `files --json` and `messages --json` show it.
pub(crate) fn file_json(f: &FileView) -> Value {
    json!({
        "id": f.id.to_hex(),
        "name": f.name,
        "size": f.size,
        "direction": if f.direction == Direction::In { "in" } else { "out" },
        "state": state_str(f.state),
        "done": f.done,
        "progress": progress(f),
        "speed": f.speed,
        "eta_secs": f.time_left().map(|d| d.as_secs()),
        "sha256": hex::encode(f.sha256),
        "picture": f.is_picture(),
    })
}

/// The daemon side of `send-file`: the new message.
pub(crate) async fn send(
    p: &Profile,
    contact: kith_node::ContactId,
    path: &Path,
) -> anyhow::Result<Value> {
    let m = p.send_file(contact, path).await?;
    Ok(crate::control::message_json(&m))
}

/// The conversation's files, with the progress of those running now.
pub(crate) async fn list(p: &Profile, contact: kith_node::ContactId) -> anyhow::Result<Value> {
    Ok(Value::Array(
        p.files(contact).await?.iter().map(file_json).collect(),
    ))
}

/// The daemon side of `save-file`: where it was saved.
pub(crate) async fn save(
    p: &Profile,
    contact: kith_node::ContactId,
    id: MessageId,
    dest: &Path,
) -> anyhow::Result<Value> {
    let saved = p.save_file(contact, id, dest).await?;
    Ok(json!({ "saved": saved.to_string_lossy() }))
}

/// `1536` → `1.5 KiB`.
pub(crate) fn size_text(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    // Precision loss is fine for a size shown to one decimal.
    #[allow(clippy::cast_precision_loss)]
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// What a file's transfer is at, for people: `complete`, `transferring
/// 45% at 3.2 MiB/s, 6 s left`, `offered (kith accept-file ALIAS ID)`.
fn transfer_text(f: &Value) -> String {
    let text = |v: &Value| escape(v.as_str().unwrap_or_default(), Field::Line).into_owned();
    let state = text(&f["state"]);
    match f["state"].as_str() {
        Some("transferring") => {
            let pct = (f["progress"].as_f64().unwrap_or_default() * 100.0).floor();
            let mut s = format!("{state} {pct:.0}%");
            if let Some(speed) = f["speed"].as_u64() {
                s.push_str(&format!(" at {}/s", size_text(speed)));
            }
            if let Some(eta) = f["eta_secs"].as_u64() {
                s.push_str(&format!(", {eta} s left"));
            }
            s
        }
        Some("offered") if f["direction"] == "in" => {
            format!("{state}, waiting for you to accept (or refuse) it")
        }
        Some("unavailable") => format!("{state}: the sender deleted it"),
        _ => state,
    }
}

/// One file, for people: direction, name (escaped: the contact chose it),
/// size, where the transfer is, id.
pub(crate) fn file_line(f: &Value) -> String {
    let who = if f["direction"] == "in" { "<" } else { ">" };
    format!(
        "{who} {}  {}  {}  id {}",
        escape(f["name"].as_str().unwrap_or_default(), Field::Line),
        size_text(f["size"].as_u64().unwrap_or_default()),
        transfer_text(f),
        escape(f["id"].as_str().unwrap_or_default(), Field::Line),
    )
}

/// A file message's body in `messages`, for people.
pub(crate) fn message_body(f: &Value) -> String {
    format!(
        "(file: {}, {}, {})",
        escape(f["name"].as_str().unwrap_or_default(), Field::Line),
        size_text(f["size"].as_u64().unwrap_or_default()),
        transfer_text(f),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_for_people() {
        assert_eq!(size_text(0), "0 B");
        assert_eq!(size_text(1023), "1023 B");
        assert_eq!(size_text(1536), "1.5 KiB");
        assert_eq!(size_text(20 * 1024 * 1024), "20.0 MiB");
        assert_eq!(size_text(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(size_text(u64::MAX), "16777216.0 TiB");
    }

    #[test]
    fn hostile_file_names_print_inert() {
        let f = json!({
            "id": "00ff", "name": "a\u{1b}[2J\u{202e}gpj.exe\n> fake", "size": 2048,
            "direction": "in", "state": "transferring", "progress": 0.5,
            "speed": 1024, "eta_secs": 1,
        });
        let line = file_line(&f);
        assert!(
            !line
                .chars()
                .any(|c| crate::term::must_escape(c, Field::Line)),
            "{line:?}"
        );
        assert_eq!(
            line,
            "< a\\u{1b}[2J\\u{202e}gpj.exe\\u{a}> fake  2.0 KiB  transferring 50% at 1.0 KiB/s, \
             1 s left  id 00ff"
        );
        let body = message_body(&f);
        assert!(body.starts_with("(file: a\\u{1b}[2J"), "{body}");
        let waiting = json!({"name": "x", "size": 40_000_000, "direction": "in",
            "state": "offered", "id": "01"});
        assert!(file_line(&waiting).contains("offered, waiting for you to accept (or refuse) it"));
        let done = json!({"name": "x", "size": 5, "direction": "out", "state": "complete"});
        assert_eq!(message_body(&done), "(file: x, 5 B, complete)");
    }

    #[test]
    fn paths_cross_the_socket_as_bytes() {
        use std::os::unix::ffi::OsStrExt;
        #[derive(serde::Serialize, serde::Deserialize)]
        struct P {
            #[serde(with = "path_bytes")]
            p: PathBuf,
        }
        let odd = PathBuf::from(std::ffi::OsStr::from_bytes(b"/tmp/caf\xe9 \"x\".txt"));
        let line = serde_json::to_string(&P { p: odd.clone() }).expect("encode");
        let back: P = serde_json::from_str(&line).expect("decode");
        assert_eq!(back.p, odd);
    }

    #[test]
    fn relative_paths_are_made_absolute() {
        let a = absolute(Path::new("some/file.txt")).expect("absolute");
        assert!(a.is_absolute());
        assert!(a.ends_with("some/file.txt"));
        assert_eq!(
            absolute(Path::new("/x/y")).expect("absolute"),
            Path::new("/x/y")
        );
    }
}
