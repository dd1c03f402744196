//! `kith meet --alias A`: meeting in person from a terminal or a script.
//!
//! Through the running node's control socket (a meeting needs the node
//! online): `meet_start` returns our code, which we print as a QR code and as
//! text; we read the other device's code from standard input (one line) and
//! `meet_finish` runs the exchange, answering when the contact is added and
//! verified, or with the failure. Closing standard input without a code
//! cancels the meeting.

use std::io::{BufRead, Read};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use kith_node::{MeetCode, Profile};
use serde_json::{Value, json};

use crate::control::{self, Request};
use crate::term::{Field, escape};

/// Longest line read from standard input (a code is at most 160 bytes).
const MAX_LINE: u64 = 1024;
/// Longest meeting, in seconds (the node's own deadline).
pub(crate) const MAX_TIMEOUT: u64 = 600;

/// The daemon side of `Request::MeetStart`.
pub(crate) async fn start(p: &Profile) -> anyhow::Result<Value> {
    let code = p.meet_start().await?;
    Ok(json!({ "code": code.to_string(), "qr": code.qr_payload() }))
}

/// The daemon side of `Request::MeetFinish`.
pub(crate) async fn finish(
    p: &Profile,
    code: &str,
    alias: &str,
    timeout_secs: Option<u64>,
) -> anyhow::Result<Value> {
    let limit = timeout_secs.map(|s| Duration::from_secs(s.clamp(1, MAX_TIMEOUT)));
    let c = p.meet_finish(code, alias, limit).await?;
    Ok(json!({
        "alias": c.alias,
        "address": c.address.to_string(),
        "verified": c.verified,
    }))
}

/// A QR code for a terminal, as `kith qr` draws one.
fn render_qr(payload: &str) -> anyhow::Result<String> {
    let code = qrcode::QrCode::new(payload.as_bytes())?;
    Ok(code
        .render::<qrcode::render::unicode::Dense1x2>()
        .quiet_zone(true)
        .build())
}

/// Read one line from standard input; `None` at its end.
async fn read_code_line() -> anyhow::Result<Option<String>> {
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let n = std::io::stdin()
            .lock()
            .take(MAX_LINE)
            .read_line(&mut line)
            .context("reading their code from standard input")?;
        Ok::<_, anyhow::Error>((n > 0).then_some(line))
    })
    .await
    .map_err(|e| anyhow!("reading standard input: {e}"))?
}

/// `kith meet --alias ALIAS [--timeout SECONDS]`.
pub(crate) async fn run(ctx: &crate::Ctx, alias: &str, timeout: u64) -> anyhow::Result<()> {
    if !(1..=MAX_TIMEOUT).contains(&timeout) {
        bail!("--timeout is 1 to {MAX_TIMEOUT} seconds");
    }
    let dir = ctx.profile_dir()?;
    let Some(v) = control::ask_daemon(&dir, &Request::MeetStart).await? else {
        bail!("meeting in person needs the running node: start `kith --profile NAME run` first");
    };
    let code = MeetCode::parse(v["code"].as_str().unwrap_or_default())
        .map_err(|e| anyhow!("the node gave a bad code: {e}"))?;
    println!("{}", render_qr(&code.qr_payload())?);
    println!("{code}");
    eprintln!("Show this code to the other device; scan or paste theirs, then press Enter:");
    let Some(theirs) = read_code_line().await? else {
        let _ = control::ask_daemon(&dir, &Request::MeetCancel).await;
        bail!("no code was given: the meeting is cancelled");
    };
    control::ask_daemon(
        &dir,
        &Request::MeetFinish {
            code: theirs.trim().to_owned(),
            alias: alias.to_owned(),
            timeout_secs: Some(timeout),
        },
    )
    .await?
    .ok_or_else(|| anyhow!("the node stopped during the meeting"))?;
    println!(
        "met {} in person: contact added, accepted and verified",
        escape(alias, Field::Line)
    );
    Ok(())
}
