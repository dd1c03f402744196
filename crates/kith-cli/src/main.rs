//! The `kith` command: Kith's headless daemon and scripting interface.

#![allow(clippy::print_stdout, clippy::print_stderr)] // A CLI prints.

mod blogs;
mod control;
mod feeds;
mod files;
mod forums;
mod groups;
mod inbox;
mod intro;
mod listen;
mod local;
mod meet;
mod password;
mod requests;
mod term;
mod timefmt;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use clap::{Parser, Subcommand, ValueEnum};
use kith_node::{
    BridgeLine, ContactLink, Kith, KithConfig, Network, NetworkStatus, Password, Profile,
};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use control::Request;
use term::{Field, escape};

#[derive(Parser, Debug)]
#[command(
    name = "kith",
    version,
    about = "Kith: peer-to-peer encrypted chat over Tor"
)]
struct Cli {
    /// Where profiles live (default: the platform's data directory).
    #[arg(long, global = true, env = "KITH_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The profile to use.
    #[arg(long, global = true, env = "KITH_PROFILE")]
    profile: Option<String>,
    /// Read the password from this file (first line) instead of a prompt or KITH_PASSWORD.
    #[arg(long, global = true)]
    password_file: Option<PathBuf>,
    /// Read the password from this inherited descriptor, to its end. Used by
    /// kith itself to take KITH_PASSWORD out of its environment.
    #[arg(long, global = true, hide = true)]
    password_fd: Option<i32>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create or list profiles.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Print this profile's contact link.
    Link {
        /// Include a TCP hint (tests, LAN): IP:PORT.
        #[arg(long)]
        tcp: Option<SocketAddr>,
    },
    /// Show this profile's contact link as a QR code.
    Qr {
        /// Include a TCP hint: IP:PORT.
        #[arg(long)]
        tcp: Option<SocketAddr>,
    },
    /// Run the node: go online, deliver and receive, until interrupted.
    Run {
        /// How to reach contacts.
        #[arg(long, value_enum, default_value_t = TransportArg::Tor)]
        transport: TransportArg,
        /// Where to listen, for the TCP transport.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// arti TOML merged over Kith's Tor defaults (e.g. a private test network).
        #[arg(long)]
        tor_config: Option<PathBuf>,
        /// Reach Tor only through this bridge (where Tor is blocked): a bridge
        /// line, `[obfs4] IP:PORT FINGERPRINT [cert=… iat-mode=…]`, as
        /// bridges.torproject.org gives them. Repeat for more bridges. obfs4
        /// bridges need obfs4proxy (or lyrebird) installed.
        #[arg(long = "bridge", value_name = "LINE")]
        bridges: Vec<BridgeLine>,
        /// Allow --listen on an address the internet can reach (not loopback
        /// or private). Plain TCP is not anonymous: anyone can connect.
        #[arg(long)]
        public: bool,
    },
    /// Manage contacts.
    #[command(subcommand)]
    Contact(ContactCmd),
    /// Write to a contact (queued until delivered).
    Send {
        /// The contact's alias.
        alias: String,
        /// The message.
        text: String,
        /// Answer this message (its id, as `messages --json` shows it).
        #[arg(long, value_name = "ID")]
        reply_to: Option<String>,
    },
    /// Replace the text of one of your messages (the contact's copy too;
    /// the old text is not kept). Prints the message as JSON.
    Edit {
        /// The contact's alias.
        alias: String,
        /// The message's id (as `messages --json` shows it).
        id: String,
        /// The new text.
        text: String,
    },
    /// React to a message with an emoji (replacing your reaction to it), or
    /// take your reaction back with --remove.
    React {
        /// The contact's alias.
        alias: String,
        /// The message's id.
        id: String,
        /// The emoji.
        #[arg(required_unless_present = "remove", conflicts_with = "remove")]
        emoji: Option<String>,
        /// Take your reaction back.
        #[arg(long)]
        remove: bool,
    },
    /// Delete a message here, or with --for-everyone (your own messages)
    /// on both sides: their node removes it and confirms.
    Delete {
        /// The contact's alias.
        alias: String,
        /// The message's id.
        id: String,
        /// Also on the contact's side.
        #[arg(long)]
        for_everyone: bool,
    },
    /// A conversation's history.
    #[command(subcommand)]
    History(HistoryCmd),
    /// Show a conversation.
    Messages {
        /// The contact's alias.
        alias: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Send a file (at most 100 MiB) to a contact: sealed into the profile
    /// now, offered when you are both online, and sent when their node asks
    /// (a cut transfer goes on where it stopped). Prints its message id.
    SendFile {
        /// The contact's alias.
        alias: String,
        /// The file.
        path: PathBuf,
    },
    /// The conversation's files, theirs and ours, and how far each got.
    Files {
        /// The contact's alias.
        alias: String,
        /// As one JSON array: id, name, size, direction, state (offered,
        /// transferring, complete, refused, corrupt), done (bytes),
        /// progress (0 to 1), speed (bytes/s or null), eta_secs (or null),
        /// sha256 (hex), picture.
        #[arg(long)]
        json: bool,
    },
    /// Accept a contact's file that waits for you (over 32 MiB, or over
    /// what their node may send without asking): it comes when you are
    /// both online.
    AcceptFile {
        /// The contact's alias.
        alias: String,
        /// The file's id, as `files` shows it.
        id: String,
    },
    /// Refuse a contact's file that waits for you or is on its way: what
    /// came of it is dropped, and their node is told.
    RefuseFile {
        /// The contact's alias.
        alias: String,
        /// The file's id, as `files` shows it.
        id: String,
    },
    /// Save a file (theirs once it arrived and was checked, or yours) to
    /// DEST: a new file, or a directory to put it in under its own name.
    /// Never overwrites. Prints where it was saved.
    SaveFile {
        /// The contact's alias.
        alias: String,
        /// The file's id, as `files` shows it.
        id: String,
        /// Where to save it.
        dest: PathBuf,
    },
    /// Meet someone in person: print my code (QR and text), read theirs
    /// from standard input, and add them as a verified contact. Needs the
    /// running node (`kith run`).
    Meet {
        /// What to call them.
        #[arg(long)]
        alias: String,
        /// Give up after this many seconds (at most 600).
        #[arg(long, default_value_t = meet::MAX_TIMEOUT)]
        timeout: u64,
    },
    /// Introduce two of your contacts to each other: each is asked; when
    /// both accept they become contacts ("introduced by" you). Prints the
    /// introduction's id.
    Introduce {
        /// One contact's alias.
        a: String,
        /// The other's alias.
        b: String,
        /// A note for both (at most 512 bytes).
        #[arg(long)]
        note: Option<String>,
    },
    /// Private groups: create, invite, post, members (`kith group --help`).
    #[command(subcommand)]
    Group(groups::GroupCmd),
    /// Forums: any member invites; posts, threads, hiding authors (`kith
    /// forum --help`).
    #[command(subcommand)]
    Forum(forums::ForumCmd),
    /// Your blog and your contacts': post, feed, comment, reblog, on/off
    /// (`kith blog --help`).
    #[command(subcommand)]
    Blog(blogs::BlogCmd),
    /// Feeds (RSS, Atom), fetched only through Tor: subscribe, fetch,
    /// items (`kith feed --help`).
    #[command(subcommand)]
    Feed(feeds::FeedCmd),
    /// Introductions offered to you, or made by you.
    #[command(subcommand)]
    Introduction(intro::IntroductionCmd),
    /// Show the node's network state.
    Status {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Whether the address in your link takes contact requests: on, off,
    /// or for a while (`kith requests window 48h`).
    #[command(subcommand)]
    Requests(requests::RequestsCmd),
    /// Your inbox: a public address where anyone can drop you a message
    /// without an identity (`on`, `off`, `rotate`, `link`, `list`, …).
    #[command(subcommand)]
    Inbox(inbox::InboxCmd),
    /// Drop a message into an inbox (`kith://…?inbox`) as a one-time
    /// identity: through your profile's running node (`--profile`), or on
    /// its own with no profile at all. Anonymous only over Tor.
    Drop {
        /// The inbox link.
        link: String,
        /// The message (at most 4096 bytes).
        text: String,
        /// Leave one of your addresses for an answer (needs --profile and
        /// its running node).
        #[arg(long, value_enum)]
        leave: Option<inbox::LeaveArg>,
        /// Run on its own over this network, without any node (default:
        /// Tor).
        #[arg(long, value_enum)]
        transport: Option<TransportArg>,
        /// arti TOML merged over Kith's Tor defaults, when on its own.
        #[arg(long)]
        tor_config: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum ProfileCmd {
    /// Create a profile with a new identity.
    Create {
        /// Its name (letters, digits, '-', '_').
        name: String,
        /// The name contacts see (default: NAME).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List the profiles in the data directory.
    List,
}

#[derive(Subcommand, Debug)]
enum HistoryCmd {
    /// Delete the whole conversation here (the contact stays).
    Clear {
        /// The contact's alias.
        alias: String,
    },
    /// Your messages deleted for everyone that the contact has not yet
    /// confirmed removing, as JSON (`{"unconfirmed": [ids]}`).
    Unconfirmed {
        /// The contact's alias.
        alias: String,
    },
}

#[derive(Subcommand, Debug)]
enum ContactCmd {
    /// Change a conversation's settings: the disappearing timer (for both
    /// sides) and whether its history is kept. Prints them.
    Set {
        /// The contact's alias.
        alias: String,
        /// Messages disappear from both sides this long after they are
        /// written: 5m, 1h, 1d, 7d, 30d, or off.
        #[arg(long, value_name = "TIMER")]
        disappear: Option<String>,
        /// keep, or session: deleted whenever the node stops.
        #[arg(long, value_name = "POLICY")]
        history: Option<String>,
    },
    /// Add a contact from their link.
    Add {
        /// Their kith:// link.
        link: String,
        /// What to call them.
        #[arg(long)]
        alias: String,
    },
    /// List contacts and requests.
    List {
        /// As JSON, one object per line.
        #[arg(long)]
        json: bool,
    },
    /// Accept a contact request.
    Accept {
        /// The request's alias.
        alias: String,
    },
    /// Decline a contact request.
    Decline {
        /// The request's alias.
        alias: String,
    },
    /// Put a declined request back among the pending ones.
    Restore {
        /// The request's alias.
        alias: String,
    },
    /// Block a contact or a request: its session closes, its connections are
    /// refused, and it never comes back as a request.
    Block {
        /// The contact's alias.
        alias: String,
    },
    /// Unblock: a request is pending again; a contact you added waits for
    /// them, as after adding their link.
    Unblock {
        /// The contact's alias.
        alias: String,
    },
    /// Remove a contact and its conversation.
    Remove {
        /// The contact's alias.
        alias: String,
    },
    /// Print the safety number shared with a contact: the same on both
    /// devices. Compare it (in person, or on a call you trust), then mark
    /// the contact verified with --mark.
    Verify {
        /// The contact's alias.
        alias: String,
        /// Mark the contact verified (the numbers matched).
        #[arg(long, visible_alias = "confirm", conflicts_with = "unmark")]
        mark: bool,
        /// Mark the contact not verified.
        #[arg(long)]
        unmark: bool,
        /// As JSON: alias, safety_number, verified.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum TransportArg {
    /// Tor onion services (default).
    Tor,
    /// Plain TCP (tests and LAN; not anonymous).
    Tcp,
}

fn main() -> ExitCode {
    // Before anything else, while this is the only thread: nothing this
    // process creates is ever open to other users, and KITH_PASSWORD leaves
    // the environment (by re-executing; returns only when it is not set).
    local::restrict_umask();
    if let Err(e) = password::reexec_without_env() {
        return fail(&e);
    }
    kith_node::quiet_arti_shutdown_panic();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KITH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_log_filter(&cli))),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&e.into()),
    };
    let result = rt.block_on(real_main(cli));
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Print an error, escaped (it may quote what a peer sent), and fail.
fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", escape(&error_text(e), Field::Line));
    ExitCode::FAILURE
}

/// An error and its causes on one line, each cause once: the engine's
/// errors already say what their source said, so a cause whose words are
/// in the text so far adds nothing.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}

/// What is logged when `KITH_LOG` does not say: warnings for the daemon;
/// for a one-shot command, Kith's own warnings but only Tor's errors (a
/// `kith drop` that starts its own Tor client should print its answer, not
/// pages of circuit-building notes).
fn default_log_filter(cli: &Cli) -> &'static str {
    if matches!(cli.command, Command::Run { .. }) {
        "warn"
    } else {
        "error,kith_cli=warn,kith_node=warn,kith_transport=warn,kith_store=warn,kith_session=warn,kith_core=warn"
    }
}

struct Ctx {
    kith: Kith,
    profile: Option<String>,
    password_file: Option<PathBuf>,
    /// The password handed over through `--password-fd` (from KITH_PASSWORD).
    handed_password: Option<Zeroizing<String>>,
}

impl Ctx {
    fn profile_name(&self) -> anyhow::Result<&str> {
        self.profile
            .as_deref()
            .ok_or_else(|| anyhow!("which profile? use --profile NAME"))
    }

    /// The profile's directory, after checking that it is ours and private.
    fn profile_dir(&self) -> anyhow::Result<PathBuf> {
        let dir = self.kith.profile_dir(self.profile_name()?);
        if let local::DirCheck::Fixed(mode) = local::check_profile_dir(&dir)? {
            eprintln!(
                "warning: {} was open to other users (mode {mode:o}); it is now 0700",
                dir.display()
            );
        }
        Ok(dir)
    }

    /// Whether a password is at hand without a prompt.
    fn has_password(&self) -> bool {
        self.password_file.is_some() || self.handed_password.is_some()
    }

    fn password(&self, prompt: &str) -> anyhow::Result<Password> {
        if let Some(f) = &self.password_file {
            let contents =
                Zeroizing::new(std::fs::read_to_string(f).context("reading the password file")?);
            let mut line = password::first_line(&contents);
            return Ok(Password::new(std::mem::take(&mut *line)));
        }
        if let Some(p) = &self.handed_password {
            return Ok(Password::new(String::clone(p)));
        }
        Ok(Password::new(rpassword::prompt_password(prompt)?))
    }

    async fn unlock(&self) -> anyhow::Result<Profile> {
        let name = self.profile_name()?;
        self.profile_dir()?;
        if !self.kith.list_profiles()?.iter().any(|n| n == name) {
            bail!(
                "no profile named {name:?} in {}",
                self.kith.data_dir().display()
            );
        }
        let pw = self.password(&format!("Password for {name}: "))?;
        self.kith.unlock(name, pw).await.map_err(|e| anyhow!("{e}"))
    }

    /// Run a request on the daemon if one runs, else on the unlocked profile.
    async fn request(&self, req: Request) -> anyhow::Result<Value> {
        let dir = self.profile_dir()?;
        if let Some(v) = control::ask_daemon(&dir, &req).await? {
            return Ok(v);
        }
        let p = self.unlock().await?;
        let r = control::execute(&p, req, false).await;
        self.kith.shutdown().await;
        r
    }
}

async fn real_main(cli: Cli) -> anyhow::Result<()> {
    let data_dir = match cli.data_dir {
        Some(d) => d,
        None => KithConfig::default_data_dir()
            .ok_or_else(|| anyhow!("no data directory: use --data-dir"))?,
    };
    let handed_password = match cli.password_fd {
        Some(fd) => Some(password::read_fd(fd)?),
        None => None,
    };
    let ctx = Ctx {
        kith: Kith::new(KithConfig::new(data_dir)),
        profile: cli.profile,
        password_file: cli.password_file,
        handed_password,
    };
    match cli.command {
        Command::Profile(ProfileCmd::List) => {
            for n in ctx.kith.list_profiles()? {
                println!("{}", escape(&n, Field::Line));
            }
        }
        Command::Profile(ProfileCmd::Create { name, display_name }) => {
            kith_node::validate_profile_name(&name)?;
            let pw = if ctx.has_password() {
                ctx.password("")?
            } else {
                let mut a = Zeroizing::new(rpassword::prompt_password(format!(
                    "New password for {name}: "
                ))?);
                let b = Zeroizing::new(rpassword::prompt_password("Again: ")?);
                if a != b {
                    bail!("the passwords differ");
                }
                eprintln!("Remember it: a lost password means a lost profile.");
                Password::new(std::mem::take(&mut *a))
            };
            let display = display_name.unwrap_or_else(|| name.clone());
            let p = ctx.kith.create_profile(&name, &display, pw).await?;
            println!("{}", p.link());
            ctx.kith.shutdown().await;
        }
        Command::Link { tcp } => println!("{}", link(&ctx, tcp).await?),
        Command::Qr { tcp } => {
            let l = link(&ctx, tcp).await?;
            let code = qrcode::QrCode::new(l.to_string().as_bytes())?;
            let text = code
                .render::<qrcode::render::unicode::Dense1x2>()
                .quiet_zone(true)
                .build();
            println!("{text}\n{l}");
        }
        Command::Run {
            transport,
            listen,
            tor_config,
            bridges,
            public,
        } => {
            let net = run_network(transport, listen, tor_config.as_deref(), bridges, public)?;
            run(&ctx, net).await?
        }
        Command::Contact(ContactCmd::Add { link, alias }) => {
            ContactLink::parse(&link)?;
            ctx.request(Request::ContactAdd {
                link,
                alias: alias.clone(),
            })
            .await?;
            println!(
                "added {}: they see a contact request when you both are online",
                escape(&alias, Field::Line)
            );
        }
        Command::Contact(ContactCmd::List { json }) => {
            let v = ctx.request(Request::ContactList).await?;
            let dropped = v["dropped_requests"].as_u64().unwrap_or_default();
            for c in v["contacts"].as_array().into_iter().flatten() {
                if json {
                    println!("{c}");
                } else {
                    println!("{}", contact_line(c));
                }
            }
            if json {
                if dropped > 0 {
                    println!("{}", serde_json::json!({ "dropped_requests": dropped }));
                }
            } else if let Some(line) = dropped_line(dropped) {
                println!("{line}");
            }
            if !json {
                for l in intro::waiting_lines(&v) {
                    println!("{l}");
                }
            }
        }
        Command::Contact(ContactCmd::Accept { alias }) => {
            ctx.request(Request::ContactAccept { alias }).await?;
        }
        Command::Contact(ContactCmd::Decline { alias }) => {
            ctx.request(Request::ContactDecline { alias }).await?;
        }
        Command::Contact(ContactCmd::Restore { alias }) => {
            ctx.request(Request::ContactRestore { alias }).await?;
        }
        Command::Contact(ContactCmd::Block { alias }) => {
            ctx.request(Request::ContactBlock { alias }).await?;
        }
        Command::Contact(ContactCmd::Unblock { alias }) => {
            ctx.request(Request::ContactUnblock { alias }).await?;
        }
        Command::Contact(ContactCmd::Remove { alias }) => {
            ctx.request(Request::ContactRemove { alias }).await?;
        }
        Command::Contact(ContactCmd::Verify {
            alias,
            mark,
            unmark,
            json,
        }) => {
            let mark = match (mark, unmark) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            };
            let v = ctx.request(Request::ContactVerify { alias, mark }).await?;
            if json {
                println!("{v}");
            } else {
                println!("{}", verify_text(&v, mark));
            }
        }
        Command::Send {
            alias,
            text,
            reply_to,
        } => {
            let m = ctx
                .request(Request::Send {
                    alias,
                    text,
                    reply_to,
                })
                .await?;
            println!("{}", m["state"].as_str().unwrap_or_default());
        }
        Command::Edit { alias, id, text } => {
            let m = ctx.request(Request::Edit { alias, id, text }).await?;
            println!("{m}");
        }
        Command::React {
            alias,
            id,
            emoji,
            remove,
        } => {
            let emoji = if remove { None } else { emoji };
            ctx.request(Request::React { alias, id, emoji }).await?;
        }
        Command::Delete {
            alias,
            id,
            for_everyone,
        } => {
            ctx.request(Request::Delete {
                alias,
                id,
                for_everyone,
            })
            .await?;
        }
        Command::History(HistoryCmd::Unconfirmed { alias }) => {
            println!(
                "{}",
                ctx.request(Request::HistoryUnconfirmed { alias }).await?
            );
        }
        Command::History(HistoryCmd::Clear { alias }) => {
            let v = ctx.request(Request::HistoryClear { alias }).await?;
            println!("deleted {} messages", v["deleted"]);
        }
        Command::Contact(ContactCmd::Set {
            alias,
            disappear,
            history,
        }) => {
            let v = ctx
                .request(Request::ContactSet {
                    alias,
                    disappear,
                    history,
                })
                .await?;
            println!("{v}");
        }
        Command::Messages { alias, json } => {
            let v = ctx.request(Request::Messages { alias }).await?;
            let tz = timefmt::local_zone();
            for m in v.as_array().into_iter().flatten() {
                if json {
                    println!("{m}");
                } else {
                    println!("{}", message_line(m, &tz));
                }
            }
        }
        Command::SendFile { alias, path } => {
            let path = files::absolute(&path)?;
            let m = ctx.request(Request::SendFile { alias, path }).await?;
            println!("{}", m["id"].as_str().unwrap_or_default());
        }
        Command::Files { alias, json } => {
            let v = ctx.request(Request::Files { alias }).await?;
            if json {
                println!("{v}");
            } else {
                for f in v.as_array().into_iter().flatten() {
                    println!("{}", files::file_line(f));
                }
            }
        }
        Command::RefuseFile { alias, id } => {
            ctx.request(Request::RefuseFile { alias, id }).await?;
        }
        Command::AcceptFile { alias, id } => {
            ctx.request(Request::AcceptFile { alias, id }).await?;
        }
        Command::SaveFile { alias, id, dest } => {
            let dest = files::absolute(&dest)?;
            let v = ctx.request(Request::SaveFile { alias, id, dest }).await?;
            println!(
                "{}",
                escape(v["saved"].as_str().unwrap_or_default(), Field::Line)
            );
        }
        Command::Meet { alias, timeout } => meet::run(&ctx, &alias, timeout).await?,
        Command::Introduce { a, b, note } => intro::introduce_cmd(&ctx, a, b, note).await?,
        Command::Introduction(cmd) => intro::run(&ctx, cmd).await?,
        Command::Group(cmd) => groups::run(&ctx, cmd).await?,
        Command::Forum(cmd) => forums::run(&ctx, cmd).await?,
        Command::Blog(cmd) => blogs::run(&ctx, cmd).await?,
        Command::Feed(cmd) => feeds::run(&ctx, cmd).await?,
        Command::Requests(cmd) => requests::run(&ctx, cmd).await?,
        Command::Inbox(cmd) => inbox::run(&ctx, cmd).await?,
        Command::Drop {
            link,
            text,
            leave,
            transport,
            tor_config,
        } => inbox::drop_cmd(&ctx, link, text, leave, transport, tor_config).await?,
        Command::Status { json } => {
            let dir = ctx.profile_dir()?;
            let v = match control::ask_daemon(&dir, &Request::Status).await? {
                Some(v) => v,
                // No daemon: offline, on the network its settings name.
                None => {
                    let p = ctx.unlock().await?;
                    let r = control::execute(&p, Request::Status, false).await;
                    ctx.kith.shutdown().await;
                    r?
                }
            };
            if json {
                println!("{v}");
            } else {
                println!("{}", status_line(&v));
            }
        }
    }
    Ok(())
}

/// One contact, for people: alias, state, online, full address, and the name
/// they gave themselves, marked as theirs.
fn contact_line(c: &Value) -> String {
    let text = |k: &str| escape(c[k].as_str().unwrap_or_default(), Field::Line).into_owned();
    let mut line = format!(
        "{:<20} {:<9} {} {}",
        text("alias"),
        text("state"),
        if c["online"] == true {
            "online "
        } else {
            "offline"
        },
        text("address"),
    );
    line.push_str(&format!("  ({})", provenance_text(c)));
    if let Some(name) = c["their_name"].as_str().filter(|n| !n.is_empty()) {
        line.push_str(&format!(
            "  name: {} (their choice, unverified)",
            escape(name, Field::Line)
        ));
    }
    line
}

/// How a contact was added and whether it is verified, for people:
/// "by link, not verified", "introduced by carol, verified".
fn provenance_text(c: &Value) -> String {
    let origin = match c["origin"].as_str().unwrap_or_default() {
        "met_in_person" => "met in person".to_owned(),
        "link" => "by link".to_owned(),
        "request" => "asked to connect".to_owned(),
        "introduced" => {
            let by = &c["introduced_by"];
            match by["alias"].as_str() {
                Some(a) => format!("introduced by {}", escape(a, Field::Line)),
                None => format!(
                    "introduced by {} (no longer a contact)",
                    escape(by["address"].as_str().unwrap_or("?"), Field::Line)
                ),
            }
        }
        other => escape(other, Field::Line).into_owned(),
    };
    let verified = if c["verified"] == true {
        "verified"
    } else {
        "not verified"
    };
    format!("{origin}, {verified}")
}

/// `kith contact verify`, for people: the number in three rows of four
/// groups, what to do with it, and where the contact stands.
fn verify_text(v: &Value, mark: Option<bool>) -> String {
    let alias = escape(v["alias"].as_str().unwrap_or_default(), Field::Line);
    let number = v["safety_number"].as_str().unwrap_or_default();
    let groups: Vec<&str> = number.split(' ').collect();
    let mut out = format!("Safety number with {alias}:\n");
    for row in groups.chunks(4) {
        out.push_str(&format!("    {}\n", escape(&row.join(" "), Field::Line)));
    }
    let verified = v["verified"] == true;
    match mark {
        Some(true) => out.push_str(&format!("{alias} is now marked verified.")),
        Some(false) => out.push_str(&format!("{alias} is now marked not verified.")),
        None if verified => out.push_str(&format!("{alias} is verified.")),
        None => out.push_str(&format!(
            "{alias} is not verified. Compare this number with the one {alias}'s device \
             shows, in person or on a call you trust; if every digit matches, run: \
             kith contact verify {alias} --mark"
        )),
    }
    out
}

/// "N requests dropped", when there were any.
fn dropped_line(n: u64) -> Option<String> {
    match n {
        0 => None,
        1 => Some("1 request dropped (over the limits for contact requests)".into()),
        n => Some(format!(
            "{n} requests dropped (over the limits for contact requests)"
        )),
    }
}

/// One message, for people: direction, local time, body, state. A body's
/// later lines are indented under its first.
fn message_line(m: &Value, tz: &jiff::tz::TimeZone) -> String {
    let who = if m["direction"] == "in" { "<" } else { ">" };
    let when = timefmt::format_millis(m["time"].as_u64().unwrap_or_default(), tz);
    let text = |v: &Value| escape(v.as_str().unwrap_or_default(), Field::Line).into_owned();
    let body = if m["kind"] == "timer" {
        format!("(disappearing messages: {})", text(&m["timer"]))
    } else if m["kind"] == "file" && m["file"].is_object() {
        files::message_body(&m["file"])
    } else {
        term::body(m["body"].as_str().unwrap_or_default(), "    ")
    };
    let mut line = format!("{who} {when}  {body} [{}]", text(&m["state"]));
    if let Some(e) = m["edited"].as_object() {
        let at = timefmt::format_millis(e["at"].as_u64().unwrap_or_default(), tz);
        line.push_str(&format!("  (edited {at}"));
        if e["delivered"] == false {
            line.push_str(", not yet delivered");
        }
        line.push(')');
    }
    if let Some(r) = m["reply_to"].as_object() {
        let quote = match r.get("quote").and_then(Value::as_str) {
            Some("deleted") => "deleted message".to_owned(),
            Some("message") => {
                let quoted = r.get("body").and_then(Value::as_str).unwrap_or_default();
                escape(quoted, Field::Line).into_owned()
            }
            _ => "message not available".to_owned(),
        };
        line.push_str(&format!("  (reply to: {quote})"));
    }
    for r in m["reactions"].as_array().into_iter().flatten() {
        line.push_str(&format!("  {} by {}", text(&r["emoji"]), text(&r["by"])));
    }
    if let Some(id) = m["id"].as_str() {
        line.push_str(&format!("  id {}", escape(id, Field::Line)));
    }
    line
}

/// `kith status`, for people.
fn status_line(v: &Value) -> String {
    let text = |k: &str| escape(v[k].as_str().unwrap_or_default(), Field::Line).into_owned();
    let network = match v["network"].as_str().unwrap_or_default() {
        "tor" => "the public Tor network".to_owned(),
        "tor-custom" => {
            "Tor with a custom configuration (not necessarily the public Tor network)".to_owned()
        }
        "tcp" => "plain TCP (not anonymous)".to_owned(),
        other => escape(other, Field::Line).into_owned(),
    };
    let network = match v["bridges"].as_u64() {
        Some(1) => format!("{network}, through 1 bridge"),
        Some(n) if n > 1 => format!("{network}, through {n} bridges"),
        _ => network,
    };
    let mut line = format!(
        "{} ({}%{}) on {network}",
        text("state"),
        v["bootstrap_percent"],
        if v["published"] == true {
            ", onion service published"
        } else {
            ""
        }
    );
    if let Some(e) = v["error"].as_str() {
        line.push_str(&format!(": {}", escape(e, Field::Line)));
    }
    if let Some(d) = dropped_line(v["dropped_requests"].as_u64().unwrap_or_default()) {
        line.push_str(&format!("\n{d}"));
    }
    if !v["requests"].is_null() {
        let r = json!({ "requests": v["requests"], "until": v["requests_until"] });
        line.push_str(&format!("\n{}", requests::line(&r)));
    }
    let unseen = v["inbox"]["unseen"].as_u64().unwrap_or_default();
    match (v["inbox"]["on"].as_bool(), v["inbox"]["count"].as_u64()) {
        (Some(true), Some(n)) if unseen > 0 => {
            line.push_str(&format!("\ninbox on: {n} kept, {unseen} not seen yet"));
        }
        (Some(true), Some(n)) => line.push_str(&format!("\ninbox on: {n} kept")),
        (Some(false), Some(0)) => line.push_str("\ninbox off"),
        (Some(false), Some(n)) => line.push_str(&format!("\ninbox off: {n} kept")),
        _ => {}
    }
    line
}

async fn link(ctx: &Ctx, tcp: Option<SocketAddr>) -> anyhow::Result<ContactLink> {
    let v = ctx.request(Request::Link).await?;
    let mut l = ContactLink::parse(v.as_str().unwrap_or_default())?;
    if tcp.is_some() {
        l.tcp = tcp;
    }
    Ok(l)
}

/// What `kith run` goes online with, from its flags; refuses a TCP listen
/// address the internet can reach unless `public`.
fn run_network(
    transport: TransportArg,
    listen: Option<SocketAddr>,
    tor_config: Option<&Path>,
    bridges: Vec<BridgeLine>,
    public: bool,
) -> anyhow::Result<Network> {
    Ok(match transport {
        TransportArg::Tcp => {
            if tor_config.is_some() {
                bail!("--tor-config is for --transport tor");
            }
            if !bridges.is_empty() {
                bail!("--bridge is for --transport tor");
            }
            let listen = listen.ok_or_else(|| anyhow!("--transport tcp needs --listen IP:PORT"))?;
            listen::check_listen(listen, public)?;
            Network::Tcp { listen }
        }
        TransportArg::Tor => {
            if listen.is_some() {
                bail!("--listen is for --transport tcp");
            }
            if public {
                bail!("--public is for --transport tcp --listen");
            }
            let extra_toml = match tor_config {
                Some(f) => Some(std::fs::read_to_string(f).context("reading --tor-config")?),
                None => None,
            };
            Network::Tor {
                extra_toml,
                bridges,
            }
        }
    })
}

async fn run(ctx: &Ctx, net: Network) -> anyhow::Result<()> {
    let p = ctx.unlock().await?;
    let dir = ctx.profile_dir()?;
    let listener = control::bind(&dir).await?;
    let mut status = p.watch_network();
    let online = p.go_online(net);
    let server = tokio::spawn(control::serve(listener, p.clone()));
    let progress = tokio::spawn(async move {
        loop {
            let s = status.borrow_and_update().clone();
            match s {
                NetworkStatus::Starting { percent, phase } => {
                    eprintln!("network: {percent}% {}", escape(&phase, Field::Line))
                }
                NetworkStatus::Online { published } => {
                    eprintln!(
                        "network: online{}",
                        if published {
                            " (onion service published)"
                        } else {
                            ""
                        }
                    )
                }
                NetworkStatus::Failed { error } => {
                    eprintln!("network: failed: {}", escape(&error, Field::Line))
                }
                NetworkStatus::Offline => eprintln!("network: offline"),
            }
            if status.changed().await.is_err() {
                return;
            }
        }
    });
    let result = async {
        online.await?;
        println!("{}", p.link());
        wait_for_signal().await;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    server.abort();
    progress.abort();
    let _ = std::fs::remove_file(control::socket_path(&dir));
    ctx.kith.shutdown().await;
    result
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers, run until killed.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_cause_is_said_once() {
        // The engine's error says its source's words already.
        let e = anyhow::Error::from(kith_node::Error::from(kith_node::DropRefused::Busy));
        let busy = kith_node::DropRefused::Busy.to_string();
        assert_eq!(error_text(&e), busy);
        // A context adds its words, then the cause's.
        let e = Err::<(), _>(std::io::Error::other("disk on fire"))
            .context("reading the file")
            .expect_err("an error");
        assert_eq!(error_text(&e), "reading the file: disk on fire");
    }

    #[test]
    fn one_shot_commands_log_only_tor_errors() {
        let cli = Cli::try_parse_from(["kith", "drop", "kith://x?inbox", "hi"]).expect("cli");
        assert!(default_log_filter(&cli).starts_with("error,"));
        let cli = Cli::try_parse_from(["kith", "run"]).expect("cli");
        assert_eq!(default_log_filter(&cli), "warn");
    }

    fn network_of(args: &[&str]) -> anyhow::Result<Network> {
        let cli = Cli::try_parse_from(args)?;
        let Command::Run {
            transport,
            listen,
            tor_config,
            bridges,
            public,
        } = cli.command
        else {
            bail!("not a run command");
        };
        run_network(transport, listen, tor_config.as_deref(), bridges, public)
    }

    #[test]
    fn tcp_listen_needs_public_for_public_addresses() {
        fn tcp(addr: &str) -> Vec<&str> {
            ["kith", "run", "--transport", "tcp", "--listen", addr].to_vec()
        }
        let ok = network_of(&tcp("127.0.0.1:9101")).expect("loopback");
        assert_eq!(
            ok,
            Network::Tcp {
                listen: "127.0.0.1:9101".parse().expect("addr")
            }
        );
        network_of(&tcp("192.168.1.2:9101")).expect("private");
        network_of(&tcp("[fd00::2]:9101")).expect("ULA");
        for refused in [
            "0.0.0.0:9101",
            "8.8.8.8:9101",
            "[::]:9101",
            "[2001:db8::1]:9",
        ] {
            let err = network_of(&tcp(refused)).expect_err(refused).to_string();
            assert!(err.contains("--public"), "{refused}: {err}");
        }
        let mut public = tcp("0.0.0.0:9101");
        public.push("--public");
        network_of(&public).expect("--public allows it");
        let err = network_of(&["kith", "run", "--public"]).expect_err("tor");
        assert!(err.to_string().contains("--public is for"), "{err}");
        assert!(network_of(&["kith", "run", "--transport", "tcp"]).is_err());
        assert!(network_of(&["kith", "run", "--listen", "127.0.0.1:1"]).is_err());
        assert_eq!(
            network_of(&["kith", "run"]).expect("tor"),
            Network::default()
        );
    }

    #[test]
    fn bridges_are_checked_when_the_command_line_is_read() {
        const A: &str = "127.0.0.1:5000 0123456789ABCDEF0123456789ABCDEF01234567";
        const B: &str = "obfs4 127.0.0.1:5001 89ABCDEF0123456789ABCDEF0123456789ABCDEF \
                         cert=YXJlIGZyZXF1ZW50bHkgZnVsbCBvZiBsaXR0bGUgbWVzc2FnZXMgeW91IGNhbiBmaW5kLg iat-mode=0";
        let net = network_of(&[
            "kith",
            "run",
            "--bridge",
            A,
            "--bridge",
            &format!("Bridge {B}"),
        ])
        .expect("two bridges");
        let got: Vec<Option<&str>> = net.bridges().iter().map(BridgeLine::transport).collect();
        assert_eq!(got, [None, Some("obfs4")]);
        assert_eq!(net.kind(), kith_node::NetworkKind::Tor);
        for bad in ["garbage", "127.0.0.1:5000", ""] {
            let err = network_of(&["kith", "run", "--bridge", bad])
                .expect_err(bad)
                .to_string();
            assert!(
                err.contains("--bridge <LINE>") && err.contains("invalid bridge line"),
                "{bad:?}: {err}"
            );
        }
        let tcp = [
            "kith",
            "run",
            "--transport",
            "tcp",
            "--listen",
            "127.0.0.1:1",
        ];
        let err = network_of(&[&tcp[..], &["--bridge", A]].concat()).expect_err("tcp");
        assert!(
            err.to_string().contains("--bridge is for --transport tor"),
            "{err}"
        );
    }

    #[test]
    fn the_password_fd_flag_is_hidden_but_parsed() {
        let cli = Cli::try_parse_from(["kith", "--password-fd", "3", "status"]).expect("parse");
        assert_eq!(cli.password_fd, Some(3));
        // Global: accepted after the subcommand too (the re-exec puts it first).
        let cli = Cli::try_parse_from(["kith", "status", "--password-fd", "4"]).expect("parse");
        assert_eq!(cli.password_fd, Some(4));
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        assert!(!help.contains("password-fd"), "{help}");
        assert!(help.contains("password-file"), "{help}");
    }

    #[test]
    fn block_unblock_restore_parse() {
        for (sub, alias) in [("block", "eve"), ("unblock", "eve"), ("restore", "carol")] {
            let cli = Cli::try_parse_from(["kith", "contact", sub, alias]).expect(sub);
            let Command::Contact(c) = cli.command else {
                panic!("{sub}: not a contact command");
            };
            let got = match c {
                ContactCmd::Block { alias } if sub == "block" => alias,
                ContactCmd::Unblock { alias } if sub == "unblock" => alias,
                ContactCmd::Restore { alias } if sub == "restore" => alias,
                other => panic!("{sub}: parsed as {other:?}"),
            };
            assert_eq!(got, alias);
        }
    }

    #[test]
    fn hostile_contacts_print_inert() {
        let c = json!({
            "alias": "eve\u{1b}[2J",
            "state": "request",
            "online": false,
            "address": "a".repeat(56),
            "their_name": "Bob\u{202e}\u{9b}31m\r\nalice accepted",
        });
        let line = contact_line(&c);
        assert!(
            !line.chars().any(|ch| term::must_escape(ch, Field::Line)),
            "{line:?}"
        );
        assert!(line.contains(&"a".repeat(56)), "full address: {line}");
        assert!(line.contains("eve\\u{1b}[2J"), "{line}");
        assert!(
            line.contains(
                "name: Bob\\u{202e}\\u{9b}31m\\u{d}\\u{a}alice accepted (their choice, unverified)"
            ),
            "{line}"
        );
        let plain = contact_line(&json!({"alias": "bob", "state": "accepted", "online": true,
            "address": "b".repeat(56), "their_name": null}));
        assert!(!plain.contains("name:"), "{plain}");
        assert!(plain.contains("online "), "{plain}");
    }

    #[test]
    fn provenance_for_people() {
        let line = |v: Value| contact_line(&v);
        let base = |origin: &str, verified: bool| {
            json!({"alias": "bob", "state": "accepted", "online": false,
                "address": "b".repeat(56), "origin": origin, "verified": verified,
                "introduced_by": null})
        };
        assert!(line(base("link", false)).contains("  (by link, not verified)"));
        assert!(line(base("met_in_person", true)).contains("  (met in person, verified)"));
        assert!(line(base("request", true)).contains("  (asked to connect, verified)"));
        let mut intro = base("introduced", false);
        intro["introduced_by"] = json!({"alias": "car\u{1b}[2Jol", "address": "c".repeat(56)});
        let l = line(intro.clone());
        assert!(
            l.contains("(introduced by car\\u{1b}[2Jol, not verified)"),
            "escaped: {l}"
        );
        intro["introduced_by"]["alias"] = Value::Null;
        let l = line(intro);
        assert!(
            l.contains(&format!(
                "(introduced by {} (no longer a contact), not verified)",
                "c".repeat(56)
            )),
            "{l}"
        );
    }

    #[test]
    fn verify_prints_rows_and_what_to_do() {
        let number = "00001 00002 00003 00004 00005 00006 00007 00008 00009 00010 00011 00012";
        let v = json!({"alias": "bob", "safety_number": number, "verified": false});
        let t = verify_text(&v, None);
        assert_eq!(
            t.lines().take(4).collect::<Vec<_>>(),
            [
                "Safety number with bob:",
                "    00001 00002 00003 00004",
                "    00005 00006 00007 00008",
                "    00009 00010 00011 00012",
            ]
        );
        assert!(t.contains("kith contact verify bob --mark"), "{t}");
        assert!(verify_text(&v, Some(true)).ends_with("bob is now marked verified."));
        assert!(verify_text(&v, Some(false)).ends_with("bob is now marked not verified."));
        let v = json!({"alias": "bob", "safety_number": number, "verified": true});
        assert!(verify_text(&v, None).ends_with("bob is verified."));
        let cli = Cli::try_parse_from(["kith", "contact", "verify", "bob", "--confirm"])
            .expect("--confirm");
        assert!(matches!(
            cli.command,
            Command::Contact(ContactCmd::Verify {
                mark: true,
                unmark: false,
                ..
            })
        ));
        assert!(
            Cli::try_parse_from(["kith", "contact", "verify", "bob", "--mark", "--unmark"])
                .is_err()
        );
    }

    #[test]
    fn file_commands_parse() {
        let cli = Cli::try_parse_from(["kith", "send-file", "bob", "a b.txt"]).expect("send-file");
        assert!(
            matches!(cli.command, Command::SendFile { ref alias, ref path }
                if alias == "bob" && path == Path::new("a b.txt"))
        );
        let cli = Cli::try_parse_from(["kith", "files", "bob", "--json"]).expect("files");
        assert!(matches!(cli.command, Command::Files { json: true, .. }));
        let cli = Cli::try_parse_from(["kith", "accept-file", "bob", "ab"]).expect("accept");
        assert!(matches!(cli.command, Command::AcceptFile { ref id, .. } if id == "ab"));
        let cli = Cli::try_parse_from(["kith", "refuse-file", "bob", "ab"]).expect("refuse");
        assert!(matches!(cli.command, Command::RefuseFile { ref id, .. } if id == "ab"));
        let cli = Cli::try_parse_from(["kith", "save-file", "bob", "ab", "."]).expect("save");
        assert!(
            matches!(cli.command, Command::SaveFile { ref dest, .. } if dest == Path::new("."))
        );
        assert!(Cli::try_parse_from(["kith", "save-file", "bob", "ab"]).is_err());
        // A file message's line says what it is, its name escaped.
        let tz = jiff::tz::TimeZone::UTC;
        let m = json!({"id": "0a", "direction": "in", "body": "", "state": "received",
            "time": 0, "kind": "file", "file": {"id": "0a", "name": "x\u{1b}]0;t\u{7}.png",
            "size": 10, "direction": "in", "state": "complete", "progress": 1.0}});
        let line = message_line(&m, &tz);
        assert!(
            line.contains("(file: x\\u{1b}]0;t\\u{7}.png, 10 B, complete) [received]"),
            "{line}"
        );
    }

    #[test]
    fn conversation_commands_parse() {
        let cli =
            Cli::try_parse_from(["kith", "send", "bob", "hi", "--reply-to", "ab"]).expect("send");
        assert!(matches!(cli.command, Command::Send { reply_to: Some(ref r), .. } if r == "ab"));
        let cli = Cli::try_parse_from(["kith", "react", "bob", "ab", "👍"]).expect("react");
        assert!(matches!(
            cli.command,
            Command::React {
                emoji: Some(_),
                remove: false,
                ..
            }
        ));
        let cli = Cli::try_parse_from(["kith", "react", "bob", "ab", "--remove"]).expect("remove");
        assert!(matches!(
            cli.command,
            Command::React {
                emoji: None,
                remove: true,
                ..
            }
        ));
        assert!(Cli::try_parse_from(["kith", "react", "bob", "ab"]).is_err());
        assert!(Cli::try_parse_from(["kith", "react", "bob", "ab", "👍", "--remove"]).is_err());
        let cli =
            Cli::try_parse_from(["kith", "delete", "bob", "ab", "--for-everyone"]).expect("delete");
        assert!(matches!(
            cli.command,
            Command::Delete {
                for_everyone: true,
                ..
            }
        ));
        let cli = Cli::try_parse_from(["kith", "history", "clear", "bob"]).expect("clear");
        assert!(matches!(
            cli.command,
            Command::History(HistoryCmd::Clear { .. })
        ));
        let cli = Cli::try_parse_from([
            "kith",
            "contact",
            "set",
            "bob",
            "--disappear",
            "5m",
            "--history",
            "session",
        ])
        .expect("set");
        assert!(matches!(
            cli.command,
            Command::Contact(ContactCmd::Set {
                disappear: Some(_),
                history: Some(_),
                ..
            })
        ));
    }

    #[test]
    fn replies_reactions_and_timer_lines_print_inert() {
        let tz = jiff::tz::TimeZone::UTC;
        let m = json!({
            "id": "00ff", "direction": "in", "body": "yes", "state": "received", "time": 0,
            "kind": "text",
            "reply_to": {"id": "01", "quote": "message", "direction": "out", "body": "q\u{1b}[2J?"},
            "reactions": [{"by": "me", "emoji": "👍\u{7}"}],
        });
        let line = message_line(&m, &tz);
        assert!(line.contains("(reply to: q\\u{1b}[2J?)"), "{line}");
        assert!(line.contains("👍\\u{7} by me"), "{line}");
        assert!(line.ends_with("id 00ff"), "{line}");
        let gone = json!({"direction": "in", "body": "", "state": "received", "time": 0,
            "kind": "text", "reply_to": {"id": "01", "quote": "deleted"}});
        assert!(message_line(&gone, &tz).contains("(reply to: deleted message)"));
        let timer = json!({"direction": "out", "body": "", "state": "sent", "time": 0,
            "kind": "timer", "timer": "5m"});
        assert!(message_line(&timer, &tz).contains("(disappearing messages: 5m)"));
        let edited = json!({"direction": "out", "body": "hello", "state": "delivered",
            "time": 0, "kind": "text", "edited": {"at": 60_000, "delivered": false}});
        let line = message_line(&edited, &tz);
        assert!(line.contains("hello [delivered]  (edited "), "{line}");
        assert!(line.contains(", not yet delivered)"), "{line}");
        let edited = json!({"direction": "in", "body": "hi", "state": "received",
            "time": 0, "kind": "text", "edited": {"at": 60_000, "delivered": true}});
        let line = message_line(&edited, &tz);
        assert!(
            line.contains("(edited ") && !line.contains("not yet"),
            "{line}"
        );
        assert!(!message_line(&timer, &tz).contains("edited"));
    }

    #[test]
    fn group_commands_parse() {
        let parse = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["kith", "group"], args].concat()).expect("parse");
            let Command::Group(g) = cli.command else {
                panic!("{args:?}: not a group command");
            };
            g
        };
        use groups::GroupCmd as G;
        assert!(matches!(parse(&["create", "climb", "--description", "d"]),
            G::Create { ref name, description: Some(_) } if name == "climb"));
        assert!(
            matches!(parse(&["invite", "climb", "bob"]), G::Invite { ref alias, .. } if alias == "bob")
        );
        assert!(matches!(parse(&["list", "--json"]), G::List { json: true }));
        assert!(matches!(
            parse(&["invitations"]),
            G::Invitations { json: false }
        ));
        assert!(matches!(parse(&["accept", "climb"]), G::Accept { .. }));
        assert!(matches!(parse(&["decline", "climb"]), G::Decline { .. }));
        assert!(
            matches!(parse(&["send", "climb", "hi", "--reply-to", "ab"]),
            G::Send { reply_to: Some(ref r), .. } if r == "ab")
        );
        assert!(matches!(
            parse(&["react", "climb", "ab", "👍"]),
            G::React {
                emoji: Some(_),
                remove: false,
                ..
            }
        ));
        assert!(matches!(
            parse(&["react", "climb", "ab", "--remove"]),
            G::React {
                emoji: None,
                remove: true,
                ..
            }
        ));
        assert!(Cli::try_parse_from(["kith", "group", "react", "climb", "ab"]).is_err());
        assert!(matches!(
            parse(&["messages", "climb", "--json"]),
            G::Messages { json: true, .. }
        ));
        assert!(matches!(
            parse(&["members", "climb"]),
            G::Members { json: false, .. }
        ));
        assert!(matches!(parse(&["leave", "climb"]), G::Leave { .. }));
        assert!(
            matches!(parse(&["remove", "climb", "carol"]), G::Remove { ref member, .. } if member == "carol")
        );
        assert!(matches!(
            parse(&["reveal", "climb", "carol"]),
            G::Reveal { .. }
        ));
        assert!(matches!(parse(&["read", "climb"]), G::Read { .. }));
        assert!(
            matches!(parse(&["delete-message", "climb", "ab"]), G::DeleteMessage { ref id, .. } if id == "ab")
        );
        assert!(matches!(
            parse(&["set", "climb", "--disappear", "1h", "--history", "session"]),
            G::Set {
                disappear: Some(_),
                history: Some(_),
                ..
            }
        ));
        assert!(matches!(parse(&["clear", "climb"]), G::Clear { .. }));
        assert!(matches!(parse(&["delete", "climb"]), G::Delete { .. }));
        assert!(Cli::try_parse_from(["kith", "group", "send", "climb"]).is_err());
    }

    #[test]
    fn blog_commands_parse() {
        let parse = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["kith", "blog"], args].concat()).expect("parse");
            let Command::Blog(b) = cli.command else {
                panic!("{args:?}: not a blog command");
            };
            b
        };
        use blogs::BlogCmd as B;
        assert!(matches!(parse(&["post", "hello"]), B::Post { ref text } if text == "hello"));
        assert!(matches!(parse(&["feed", "--json"]), B::Feed { json: true }));
        assert!(matches!(parse(&["feed"]), B::Feed { json: false }));
        assert!(
            matches!(parse(&["comment", "ab", "nice"]), B::Comment { ref post_id, ref text } if post_id == "ab" && text == "nice")
        );
        assert!(matches!(
            parse(&["reblog", "ab"]),
            B::Reblog { text: None, .. }
        ));
        assert!(
            matches!(parse(&["reblog", "ab", "look"]), B::Reblog { text: Some(ref t), .. } if t == "look")
        );
        assert!(matches!(parse(&["on"]), B::On));
        assert!(matches!(parse(&["off"]), B::Off));
        assert!(matches!(
            parse(&["status", "--json"]),
            B::Status { json: true }
        ));
        assert!(Cli::try_parse_from(["kith", "blog", "post"]).is_err());
        assert!(Cli::try_parse_from(["kith", "blog", "comment", "ab"]).is_err());
    }

    #[test]
    fn feed_commands_parse() {
        let parse = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["kith", "feed"], args].concat()).expect("parse");
            let Command::Feed(f) = cli.command else {
                panic!("{args:?}: not a feed command");
            };
            f
        };
        use feeds::FeedCmd as F;
        assert!(matches!(
            parse(&["subscribe", "http://a.example/f", "--name", "a"]),
            F::Subscribe { ref url, name: Some(ref n) } if url == "http://a.example/f" && n == "a"
        ));
        assert!(matches!(
            parse(&["subscribe", "http://a.example/f"]),
            F::Subscribe { name: None, .. }
        ));
        assert!(matches!(parse(&["list", "--json"]), F::List { json: true }));
        assert!(matches!(parse(&["fetch"]), F::Fetch { ref feed, json: false } if feed == "all"));
        assert!(matches!(parse(&["fetch", "news"]), F::Fetch { ref feed, .. } if feed == "news"));
        assert!(matches!(
            parse(&["items", "news", "--json", "--unread"]),
            F::Items {
                json: true,
                unread: true,
                ..
            }
        ));
        assert!(matches!(parse(&["read", "news", "3"]), F::Read { ref item, .. } if item == "3"));
        assert!(matches!(
            parse(&["unread", "news", "3"]),
            F::Unread { item: 3, .. }
        ));
        assert!(matches!(
            parse(&["rename", "news", "daily"]),
            F::Rename { .. }
        ));
        assert!(matches!(
            parse(&["unsubscribe", "news"]),
            F::Unsubscribe { .. }
        ));
        assert!(Cli::try_parse_from(["kith", "feed", "subscribe"]).is_err());
        assert!(Cli::try_parse_from(["kith", "feed", "unread", "news", "x"]).is_err());
        assert!(matches!(
            parse(&["repost", "news", "2"]),
            F::Repost {
                item: 2,
                text: None,
                ..
            }
        ));
        assert!(matches!(
            parse(&["repost", "news", "2", "worth a read"]),
            F::Repost { item: 2, text: Some(ref t), .. } if t == "worth a read"
        ));
        assert!(Cli::try_parse_from(["kith", "feed", "repost", "news"]).is_err());
    }

    #[test]
    fn forum_commands_parse() {
        let parse = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["kith", "forum"], args].concat()).expect("parse");
            let Command::Forum(f) = cli.command else {
                panic!("{args:?}: not a forum command");
            };
            f
        };
        use forums::ForumCmd as F;
        assert!(
            matches!(parse(&["create", "commons", "--description", "d"]),
            F::Create { ref name, description: Some(_) } if name == "commons")
        );
        assert!(
            matches!(parse(&["invite", "commons", "bob"]), F::Invite { ref alias, .. } if alias == "bob")
        );
        assert!(matches!(parse(&["list", "--json"]), F::List { json: true }));
        assert!(matches!(
            parse(&["invitations"]),
            F::Invitations { json: false }
        ));
        assert!(matches!(parse(&["accept", "commons"]), F::Accept { .. }));
        assert!(matches!(parse(&["decline", "commons"]), F::Decline { .. }));
        assert!(
            matches!(parse(&["post", "commons", "hi", "--reply-to", "ab"]),
            F::Post { reply_to: Some(ref r), .. } if r == "ab")
        );
        assert!(matches!(
            parse(&["messages", "commons", "--json", "--show-hidden"]),
            F::Messages {
                json: true,
                show_hidden: true,
                ..
            }
        ));
        assert!(matches!(
            parse(&["members", "commons"]),
            F::Members { json: false, .. }
        ));
        assert!(matches!(parse(&["leave", "commons"]), F::Leave { .. }));
        assert!(matches!(
            parse(&["hide", "commons", "dave"]),
            F::Hide {
                for_everyone: false,
                ..
            }
        ));
        assert!(
            matches!(parse(&["unhide", "commons", "dave", "--for-everyone"]),
            F::Unhide { for_everyone: true, ref who, .. } if who == "dave")
        );
        assert!(matches!(
            parse(&["hidden", "commons", "--json"]),
            F::Hidden { json: true, .. }
        ));
        assert!(Cli::try_parse_from(["kith", "forum", "post", "commons"]).is_err());
        assert!(Cli::try_parse_from(["kith", "forum", "remove", "commons", "dave"]).is_err());
    }

    #[test]
    fn edit_parses() {
        let cli = Cli::try_parse_from(["kith", "edit", "bob", "ab", "new text"]).expect("edit");
        assert!(matches!(
            cli.command,
            Command::Edit { ref alias, ref id, ref text }
                if alias == "bob" && id == "ab" && text == "new text"
        ));
        assert!(Cli::try_parse_from(["kith", "edit", "bob", "ab"]).is_err());
    }

    #[test]
    fn hostile_messages_print_inert() {
        let tz = jiff::tz::TimeZone::posix("PST8PDT,M3.2.0,M11.1.0").expect("tz");
        let m = json!({
            "direction": "in",
            "body": "hi\u{1b}]0;owned\u{7}\n> fake [delivered]\rX",
            "state": "received",
            "time": 0,
        });
        let line = message_line(&m, &tz);
        assert_eq!(
            line,
            "< 1969-12-31 16:00  hi\\u{1b}]0;owned\\u{7}\n    > fake [delivered]\\u{d}X [received]"
        );
        let far = json!({"direction": "out", "body": "x", "state": "queued", "time": u64::MAX});
        assert!(message_line(&far, &tz).starts_with("> far future ("));
        // A time that is not a number shows as the epoch rather than failing.
        let odd = json!({"direction": "out", "body": "x", "state": "sent", "time": "soon"});
        assert!(message_line(&odd, &tz).contains("1969-12-31 16:00"));
    }

    #[test]
    fn status_names_the_network_and_dropped_requests() {
        let v = control::status_json(
            true,
            &NetworkStatus::Online { published: true },
            kith_node::NetworkKind::Tcp,
            3,
        );
        assert_eq!(v["network"], "tcp");
        assert_eq!(v["state"], "online");
        assert_eq!(v["dropped_requests"], 3);
        let line = status_line(&v);
        assert!(line.contains("plain TCP (not anonymous)"), "{line}");
        assert!(
            line.ends_with("3 requests dropped (over the limits for contact requests)"),
            "{line}"
        );
        let v = control::status_json(
            false,
            &NetworkStatus::Failed {
                error: "bad\u{1b}[1A".into(),
            },
            kith_node::NetworkKind::TorCustom,
            0,
        );
        assert_eq!(v["network"], "tor-custom");
        let line = status_line(&v);
        assert!(
            line.contains("bad\\u{1b}[1A") && !line.contains("dropped"),
            "{line}"
        );
        assert_eq!(
            dropped_line(1).as_deref(),
            Some("1 request dropped (over the limits for contact requests)")
        );
    }

    #[test]
    fn status_says_bridges_and_inbox() {
        let mut v = control::status_json(
            true,
            &NetworkStatus::Online { published: true },
            kith_node::NetworkKind::TorCustom,
            0,
        );
        v["bridges"] = json!(2);
        v["inbox"] = json!({ "on": true, "count": 4, "unseen": 0 });
        let line = status_line(&v);
        assert!(line.contains(", through 2 bridges"), "{line}");
        assert!(line.ends_with("\ninbox on: 4 kept"), "{line}");
        v["inbox"]["unseen"] = json!(1);
        assert!(status_line(&v).ends_with("\ninbox on: 4 kept, 1 not seen yet"));
        v["bridges"] = json!(0);
        v["inbox"] = json!({ "on": false, "count": 0 });
        let line = status_line(&v);
        assert!(!line.contains("bridge"), "{line}");
        assert!(line.ends_with("\ninbox off"), "{line}");
    }
}
