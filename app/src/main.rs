//! Kith desktop app.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use kith_app::{AppConfig, KithApp};
use kith_node::{KithConfig, Network};

/// Kith: a peer-to-peer encrypted messenger over Tor.
#[derive(Parser, Debug)]
#[command(name = "kith-app", version)]
struct Args {
    /// Where profiles live (default: the platform's data folder).
    #[arg(long, env = "KITH_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Use plain TCP on this address instead of Tor (tests and LAN; not anonymous).
    #[arg(long, value_name = "IP:PORT")]
    tcp: Option<SocketAddr>,
    /// Do not go online when a profile is unlocked.
    #[arg(long)]
    offline: bool,
    /// Only in-window notifications.
    #[arg(long)]
    no_desktop_notifications: bool,
    /// Test only: throwaway profiles over 127.0.0.1 with a chat, for screenshots.
    #[arg(long, hide = true)]
    screenshot_demo: bool,
}

fn main() -> anyhow::Result<()> {
    // Before any thread exists: the time zone can only be read now.
    kith_app::timefmt::init_local_offset();
    kith_node::quiet_arti_shutdown_panic();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();

    if args.screenshot_demo {
        return run_demo();
    }
    let data_dir = match args.data_dir {
        Some(d) => d,
        None => KithConfig::default_data_dir()
            .context("no data folder on this system: use --data-dir")?,
    };
    let mut config = AppConfig::new(data_dir);
    config.network_override = args.tcp.map(|listen| Network::Tcp { listen });
    config.go_online_on_unlock = !args.offline;
    config.desktop_notifications = !args.no_desktop_notifications;
    eframe::run_native(
        "Kith",
        kith_app::native_options(None),
        Box::new(move |cc| Ok(Box::new(KithApp::new(cc, config)?))),
    )
    .map_err(|e| anyhow::anyhow!("the window failed: {e}"))
}

fn run_demo() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kith-app-rt")
        .enable_all()
        .build()?;
    let demo = kith_app::demo::build(&rt)?;
    let mut config = AppConfig::new(demo.dir.path().to_path_buf());
    config.network_override = Some(Network::Tcp {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
    });
    config.desktop_notifications = false;
    let kith = demo.kith.clone();
    let persist = demo.dir.path().join("eframe");
    let r = eframe::run_native(
        "Kith demo",
        kith_app::native_options(Some(persist)),
        Box::new(move |cc| {
            let mut app = KithApp::with_engine(cc, config, rt, kith);
            app.set_active("alice");
            app.select_first_contact_when_loaded();
            Ok(Box::new(app))
        }),
    );
    drop(demo);
    r.map_err(|e| anyhow::anyhow!("the window failed: {e}"))
}
