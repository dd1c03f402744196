//! Whether the address in our link takes contact requests: `kith requests
//! on|off|window DURATION|status [--json]`. Through the running node when
//! there is one (its listeners follow at once), else on the profile, for the
//! next `kith run`.

use std::time::Duration;

use anyhow::{anyhow, bail};
use clap::Subcommand;
use kith_node::{Profile, Requests, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::control::Request;

/// `kith requests …`.
#[derive(Subcommand, Debug)]
pub(crate) enum RequestsCmd {
    /// Take contact requests at the address in your link (the default).
    On,
    /// Take none: over Tor the address in your link is not published at
    /// all (contacts still reach you at your contacts-only address).
    Off,
    /// Take requests for a while, then stop: e.g. `48h`, `30m`, `7d`
    /// (at most 30 days).
    Window {
        /// How long: a number and a unit (s, m, h, d).
        duration: String,
    },
    /// Say whether requests are taken now.
    Status {
        /// As JSON: {"requests": "on" | "off" | "window", "until": ms}.
        #[arg(long)]
        json: bool,
    },
}

/// What to set, as sent to the daemon.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RequestsChange {
    /// Open.
    On,
    /// Closed.
    Off,
    /// Open for this many seconds from when the node receives it.
    WindowSecs(u64),
}

/// `48h` → 48 hours. A number and one unit; nothing else.
pub(crate) fn parse_window(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| anyhow!("a duration needs a unit: s, m, h or d (e.g. 48h)"))?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| anyhow!("a duration starts with a number (e.g. 48h)"))?;
    let secs = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => bail!("unknown unit {unit:?}: use s, m, h or d (e.g. 48h)"),
    }
    .ok_or_else(|| anyhow!("that duration is too long"))?;
    if secs == 0 {
        bail!("a request window must be longer than zero");
    }
    let d = Duration::from_secs(secs);
    if d > Requests::MAX_WINDOW {
        bail!("a request window is at most 30 days");
    }
    Ok(d)
}

/// The daemon side: apply `change` (if any), then say where requests stand.
pub(crate) async fn execute(p: &Profile, change: Option<RequestsChange>) -> anyhow::Result<Value> {
    if let Some(change) = change {
        let r = match change {
            RequestsChange::On => Requests::Open,
            RequestsChange::Off => Requests::Closed,
            RequestsChange::WindowSecs(secs) => {
                let ms = secs
                    .checked_mul(1000)
                    .and_then(|ms| Timestamp::now().as_millis().checked_add(ms))
                    .ok_or_else(|| anyhow!("that duration is too long"))?;
                Requests::OpenUntil(Timestamp(ms))
            }
        };
        p.set_requests(r).await?;
    }
    Ok(requests_json(p.requests().await?))
}

/// Where requests stand, as JSON.
pub(crate) fn requests_json(r: Requests) -> Value {
    let now = Timestamp::now();
    match r {
        Requests::Open => json!({ "requests": "on" }),
        Requests::Closed => json!({ "requests": "off" }),
        Requests::OpenUntil(t) if r.is_open(now) => {
            json!({ "requests": "window", "until": t.as_millis() })
        }
        Requests::OpenUntil(_) => json!({ "requests": "off" }),
    }
}

/// Where requests stand, for people.
pub(crate) fn line(v: &Value) -> String {
    match v["requests"].as_str() {
        Some("on") => "contact requests: on (anyone with your link can ask)".into(),
        Some("window") => {
            let until = v["until"].as_u64().map_or_else(
                || "a while".to_owned(),
                |ms| crate::timefmt::format_millis(ms, &crate::timefmt::local_zone()),
            );
            format!("contact requests: on until {until}, then off")
        }
        _ => "contact requests: off (the address in your link is not published over Tor)".into(),
    }
}

/// `kith requests …`.
pub(crate) async fn run(ctx: &crate::Ctx, cmd: RequestsCmd) -> anyhow::Result<()> {
    let (change, json) = match cmd {
        RequestsCmd::On => (Some(RequestsChange::On), false),
        RequestsCmd::Off => (Some(RequestsChange::Off), false),
        RequestsCmd::Window { duration } => (
            Some(RequestsChange::WindowSecs(
                parse_window(&duration)?.as_secs(),
            )),
            false,
        ),
        RequestsCmd::Status { json } => (None, json),
    };
    let v = ctx.request(Request::Requests { change }).await?;
    if json {
        println!("{v}");
    } else {
        println!("{}", line(&v));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn windows() {
        assert_eq!(parse_window("48h").unwrap(), Duration::from_secs(48 * 3600));
        assert_eq!(parse_window("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_window("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert_eq!(parse_window(" 90s ").unwrap(), Duration::from_secs(90));
        for bad in [
            "",
            "48",
            "h",
            "0h",
            "31d",
            "4x",
            "-1h",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(parse_window(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn json_says_where_requests_stand() {
        assert_eq!(requests_json(Requests::Open)["requests"], "on");
        assert_eq!(requests_json(Requests::Closed)["requests"], "off");
        let later = Timestamp(Timestamp::now().as_millis() + 60_000);
        let v = requests_json(Requests::OpenUntil(later));
        assert_eq!(v["requests"], "window");
        assert_eq!(v["until"], later.as_millis());
        // A window that has closed is off.
        let v = requests_json(Requests::OpenUntil(Timestamp(1)));
        assert_eq!(v["requests"], "off");
    }
}
