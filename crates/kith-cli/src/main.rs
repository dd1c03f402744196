//! The `kith` command: Kith's headless daemon and scripting interface.

#![allow(clippy::print_stdout, clippy::print_stderr)] // A CLI prints.

mod control;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use clap::{Parser, Subcommand, ValueEnum};
use kith_node::{ContactLink, Kith, KithConfig, Network, NetworkStatus, Password, Profile};
use serde_json::Value;

use control::Request;

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
    },
    /// Show a conversation.
    Messages {
        /// The contact's alias.
        alias: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Show the node's network state.
    Status {
        /// As JSON.
        #[arg(long)]
        json: bool,
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
enum ContactCmd {
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
    /// Remove a contact and its conversation.
    Remove {
        /// The contact's alias.
        alias: String,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum TransportArg {
    /// Tor onion services (default).
    Tor,
    /// Plain TCP (tests and LAN; not anonymous).
    Tcp,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KITH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(real_main(cli));
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}

struct Ctx {
    kith: Kith,
    profile: Option<String>,
    password_file: Option<PathBuf>,
}

impl Ctx {
    fn profile_name(&self) -> anyhow::Result<&str> {
        self.profile
            .as_deref()
            .ok_or_else(|| anyhow!("which profile? use --profile NAME"))
    }

    fn password(&self, prompt: &str) -> anyhow::Result<Password> {
        if let Some(f) = &self.password_file {
            let s = std::fs::read_to_string(f).context("reading the password file")?;
            return Ok(Password::new(
                s.lines().next().unwrap_or_default().to_owned(),
            ));
        }
        if let Ok(s) = std::env::var("KITH_PASSWORD") {
            return Ok(Password::new(s));
        }
        Ok(Password::new(rpassword::prompt_password(prompt)?))
    }

    async fn unlock(&self) -> anyhow::Result<Profile> {
        let name = self.profile_name()?;
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
        let dir = self.kith.profile_dir(self.profile_name()?);
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
    let ctx = Ctx {
        kith: Kith::new(KithConfig::new(data_dir)),
        profile: cli.profile,
        password_file: cli.password_file,
    };
    match cli.command {
        Command::Profile(ProfileCmd::List) => {
            for n in ctx.kith.list_profiles()? {
                println!("{n}");
            }
        }
        Command::Profile(ProfileCmd::Create { name, display_name }) => {
            kith_node::validate_profile_name(&name)?;
            let pw = if ctx.password_file.is_some() || std::env::var_os("KITH_PASSWORD").is_some() {
                ctx.password("")?
            } else {
                let a = rpassword::prompt_password(format!("New password for {name}: "))?;
                let b = rpassword::prompt_password("Again: ")?;
                if a != b {
                    bail!("the passwords differ");
                }
                eprintln!("Remember it: a lost password means a lost profile.");
                Password::new(a)
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
        } => run(&ctx, transport, listen, tor_config.as_deref()).await?,
        Command::Contact(ContactCmd::Add { link, alias }) => {
            ContactLink::parse(&link)?;
            ctx.request(Request::ContactAdd {
                link,
                alias: alias.clone(),
            })
            .await?;
            println!("added {alias}: they see a contact request when you both are online");
        }
        Command::Contact(ContactCmd::List { json }) => {
            let v = ctx.request(Request::ContactList).await?;
            for c in v.as_array().into_iter().flatten() {
                if json {
                    println!("{c}");
                } else {
                    println!(
                        "{:<20} {:<9} {} {}",
                        c["alias"].as_str().unwrap_or_default(),
                        c["state"].as_str().unwrap_or_default(),
                        if c["online"].as_bool() == Some(true) {
                            "online "
                        } else {
                            "offline"
                        },
                        c["address"].as_str().unwrap_or_default()
                    );
                }
            }
        }
        Command::Contact(ContactCmd::Accept { alias }) => {
            ctx.request(Request::ContactAccept { alias }).await?;
        }
        Command::Contact(ContactCmd::Decline { alias }) => {
            ctx.request(Request::ContactDecline { alias }).await?;
        }
        Command::Contact(ContactCmd::Remove { alias }) => {
            ctx.request(Request::ContactRemove { alias }).await?;
        }
        Command::Send { alias, text } => {
            let m = ctx.request(Request::Send { alias, text }).await?;
            println!("{}", m["state"].as_str().unwrap_or_default());
        }
        Command::Messages { alias, json } => {
            let v = ctx.request(Request::Messages { alias }).await?;
            for m in v.as_array().into_iter().flatten() {
                if json {
                    println!("{m}");
                } else {
                    let who = if m["direction"] == "in" { "<" } else { ">" };
                    println!(
                        "{who} {} [{}]",
                        m["body"].as_str().unwrap_or_default(),
                        m["state"].as_str().unwrap_or_default()
                    );
                }
            }
        }
        Command::Status { json } => {
            let dir = ctx.kith.profile_dir(ctx.profile_name()?);
            let v = control::ask_daemon(&dir, &Request::Status)
                .await?
                .unwrap_or_else(|| control::status_json(false, &NetworkStatus::Offline));
            if json {
                println!("{v}");
            } else {
                println!(
                    "{} ({}%{})",
                    v["network"].as_str().unwrap_or_default(),
                    v["bootstrap_percent"],
                    if v["published"] == true {
                        ", onion service published"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    Ok(())
}

async fn link(ctx: &Ctx, tcp: Option<SocketAddr>) -> anyhow::Result<ContactLink> {
    let v = ctx.request(Request::Link).await?;
    let mut l = ContactLink::parse(v.as_str().unwrap_or_default())?;
    if tcp.is_some() {
        l.tcp = tcp;
    }
    Ok(l)
}

async fn run(
    ctx: &Ctx,
    transport: TransportArg,
    listen: Option<SocketAddr>,
    tor_config: Option<&Path>,
) -> anyhow::Result<()> {
    let net = match transport {
        TransportArg::Tcp => Network::Tcp {
            listen: listen.ok_or_else(|| anyhow!("--transport tcp needs --listen IP:PORT"))?,
        },
        TransportArg::Tor => {
            if listen.is_some() {
                bail!("--listen is for --transport tcp");
            }
            let extra_toml = match tor_config {
                Some(f) => Some(std::fs::read_to_string(f).context("reading --tor-config")?),
                None => None,
            };
            Network::Tor { extra_toml }
        }
    };
    let p = ctx.unlock().await?;
    let dir = ctx.kith.profile_dir(p.name());
    let listener = control::bind(&dir).await?;
    let mut status = p.watch_network();
    let online = p.go_online(net);
    let server = tokio::spawn(control::serve(listener, p.clone()));
    let progress = tokio::spawn(async move {
        loop {
            let s = status.borrow_and_update().clone();
            match s {
                NetworkStatus::Starting { percent, phase } => {
                    eprintln!("network: {percent}% {phase}")
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
                NetworkStatus::Failed { error } => eprintln!("network: failed: {error}"),
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
