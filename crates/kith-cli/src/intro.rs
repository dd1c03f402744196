//! Introductions from a terminal or a script: `kith introduce A B [--note
//! TEXT]`, `kith introduction list [--json]`, `kith introduction accept|decline
//! ID`. Each goes through the running node's control socket when there is
//! one (an introduction travels in live sessions), else runs on the unlocked
//! profile and is sent by the next `kith run`.

use anyhow::anyhow;
use clap::Subcommand;
use kith_node::{IntroductionId, IntroductionView, MadeStage, Profile};
use serde_json::{Value, json};

use crate::control::Request;
use crate::term::{Field, escape};

/// `kith introduction …`.
#[derive(Subcommand, Debug)]
pub(crate) enum IntroductionCmd {
    /// List introductions offered to you (waiting for your answer, accepted,
    /// declined, did not happen) and those you made.
    List {
        /// As JSON, one object per line.
        #[arg(long)]
        json: bool,
    },
    /// Accept an introduction offered to you: once the other side accepts
    /// too, you become contacts. Also dismisses one that did not happen.
    Accept {
        /// Its id, as `introduction list` prints it.
        id: String,
    },
    /// Decline an introduction offered to you: the other side learns only
    /// that it did not happen.
    Decline {
        /// Its id.
        id: String,
    },
}

fn parse_id(id: &str) -> anyhow::Result<IntroductionId> {
    IntroductionId::parse_hex(id)
        .ok_or_else(|| anyhow!("an introduction id is 32 hexadecimal digits"))
}

fn stage_str(s: MadeStage) -> &'static str {
    match s {
        MadeStage::Asking => "asking",
        MadeStage::Linking => "introduced",
        MadeStage::Off => "did_not_happen",
    }
}

fn answer_str(a: Option<bool>) -> &'static str {
    match a {
        None => "waiting",
        Some(true) => "accepted",
        Some(false) => "declined",
    }
}

/// One introduction as `introduction list --json` prints it.
fn introduction_json(v: &IntroductionView) -> Value {
    match v {
        IntroductionView::Offered {
            id,
            by_alias,
            name,
            note,
            state,
            received_at,
            ..
        } => json!({
            "id": id.to_hex(),
            "kind": "offered",
            "introduced_by": by_alias,
            "name": name,
            "note": note,
            "state": state.as_str(),
            "received_at": received_at.as_millis(),
        }),
        IntroductionView::Made {
            id,
            sides,
            note,
            stage,
            created_at,
        } => json!({
            "id": id.to_hex(),
            "kind": "made",
            "sides": sides.iter().map(|(_, alias, answer)| json!({
                "alias": alias,
                "answer": answer_str(*answer),
            })).collect::<Vec<_>>(),
            "note": note,
            "state": stage_str(*stage),
            "created_at": created_at.as_millis(),
        }),
    }
}

/// The daemon side of `Request::Introduce`.
pub(crate) async fn introduce(p: &Profile, a: &str, b: &str, note: &str) -> anyhow::Result<Value> {
    let a = p.contact_by_alias(a).await?.id;
    let b = p.contact_by_alias(b).await?.id;
    let id = p.introduce(a, b, note).await?;
    Ok(json!({ "id": id.to_hex() }))
}

/// The daemon side of `Request::IntroductionList`.
pub(crate) async fn list(p: &Profile) -> anyhow::Result<Value> {
    Ok(Value::Array(
        p.introductions()
            .await?
            .iter()
            .map(introduction_json)
            .collect(),
    ))
}

/// The daemon side of `Request::IntroductionAnswer`.
pub(crate) async fn answer(p: &Profile, id: &str, accept: bool) -> anyhow::Result<Value> {
    p.answer_introduction(parse_id(id)?, accept).await?;
    Ok(Value::Null)
}

/// One introduction, for people.
fn line(v: &Value) -> String {
    let text = |v: &Value| escape(v.as_str().unwrap_or_default(), Field::Line).into_owned();
    let id = text(&v["id"]);
    let note = match v["note"].as_str() {
        Some(n) if !n.is_empty() => format!(" — “{}”", escape(n, Field::Line)),
        _ => String::new(),
    };
    if v["kind"] == "offered" {
        let by = text(&v["introduced_by"]);
        let name = text(&v["name"]);
        let what = match v["state"].as_str().unwrap_or_default() {
            "waiting" => format!(
                "{by} wants to introduce you to {name} (their name, unverified){note}: \
                 kith introduction accept|decline {id}"
            ),
            "accepted" => format!("introduced by {by} to {name}: you accepted; waiting for them"),
            "declined" => format!("introduced by {by} to {name}: you declined"),
            _ => format!("{by}'s introduction to {name} did not happen"),
        };
        format!("{id}  {what}")
    } else {
        let sides: Vec<String> = v["sides"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| format!("{} ({})", text(&s["alias"]), text(&s["answer"])))
            .collect();
        let state = match v["state"].as_str().unwrap_or_default() {
            "asking" => "asking",
            "introduced" => "introduced",
            _ => "did not happen",
        };
        format!("{id}  you introduce {}{note}: {state}", sides.join(" and "))
    }
}

/// `kith introduce A B [--note TEXT]`.
pub(crate) async fn introduce_cmd(
    ctx: &crate::Ctx,
    a: String,
    b: String,
    note: Option<String>,
) -> anyhow::Result<()> {
    let v = ctx
        .request(Request::Introduce {
            a: a.clone(),
            b: b.clone(),
            note: note.unwrap_or_default(),
        })
        .await?;
    println!(
        "{}",
        escape(v["id"].as_str().unwrap_or_default(), Field::Line)
    );
    eprintln!(
        "asked {} and {}: when both accept, they become contacts",
        escape(&a, Field::Line),
        escape(&b, Field::Line)
    );
    Ok(())
}

/// `kith introduction …`.
pub(crate) async fn run(ctx: &crate::Ctx, cmd: IntroductionCmd) -> anyhow::Result<()> {
    match cmd {
        IntroductionCmd::List { json } => {
            let v = ctx.request(Request::IntroductionList).await?;
            for i in v.as_array().into_iter().flatten() {
                if json {
                    println!("{i}");
                } else {
                    println!("{}", line(i));
                }
            }
        }
        IntroductionCmd::Accept { id } => {
            parse_id(&id)?;
            ctx.request(Request::IntroductionAnswer { id, accept: true })
                .await?;
        }
        IntroductionCmd::Decline { id } => {
            parse_id(&id)?;
            ctx.request(Request::IntroductionAnswer { id, accept: false })
                .await?;
        }
    }
    Ok(())
}

/// Introductions offered to us and waiting for an answer, for `contact
/// list` (after the contacts and requests), from its answer.
pub(crate) fn waiting_lines(contact_list: &Value) -> Vec<String> {
    contact_list["introductions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["kind"] == "offered" && i["state"] == "waiting")
        .map(line)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_print_inert() {
        let v = json!({
            "id": "ab", "kind": "offered", "introduced_by": "carol",
            "name": "bo\u{1b}[2J", "note": "climb\nnext", "state": "waiting",
        });
        let l = line(&v);
        assert!(
            l.contains("carol wants to introduce you to bo\\u{1b}[2J"),
            "{l}"
        );
        assert!(!l.contains('\n') && !l.contains('\u{1b}'), "{l}");
        assert!(l.ends_with("kith introduction accept|decline ab"), "{l}");
    }

    #[test]
    fn made_lines_name_both_sides() {
        let v = json!({
            "id": "cd", "kind": "made", "note": "",
            "sides": [{"alias": "ana", "answer": "accepted"}, {"alias": "bo", "answer": "waiting"}],
            "state": "asking",
        });
        assert_eq!(
            line(&v),
            "cd  you introduce ana (accepted) and bo (waiting): asking"
        );
        assert!(parse_id("xyz").is_err());
        assert!(parse_id(&"0f".repeat(16)).is_ok());
    }
}
