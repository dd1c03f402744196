//! Tor: one embedded arti client per process, onion services per profile.

mod bridge;
mod config;

pub use bridge::{BridgeLine, MAX_BRIDGE_LINE};

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::str::FromStr as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use arti_client::{BootstrapBehavior, KeystoreSelector, StreamPrefs, TorClient};
use futures::future::BoxFuture;
use futures::{FutureExt as _, Stream, StreamExt as _};
use kith_core::IdentityKeypair;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tor_cell::relaycell::msg::{Connected, End, EndReason};
use tor_config::BoolOrAuto;
use tor_hscrypto::pk::{HsClientDescEncKey, HsClientDescEncSecretKey};
use tor_hscrypto::pk::{HsId, HsIdKey, HsIdKeypair};
use tor_hsservice::config::restricted_discovery::HsClientNickname;
use tor_hsservice::config::{OnionServiceConfigBuilder, TokenBucketConfig};
use tor_hsservice::status::{OnionServiceStatus, Problem};
use tor_hsservice::{
    HsIdKeypairSpecifier, HsNickname, RendRequest, RunningOnionService, StreamRequest,
};
use tor_llcrypto::pk::curve25519;
use tor_llcrypto::pk::ed25519;
use tor_proto::stream::IncomingStreamRequest;
use tor_rtcompat::PreferredRuntime;
use tracing::{debug, info, instrument, trace, warn};

use crate::listener::{ACCEPT_QUEUE, Listener};
use crate::status::{ServiceState, TransportStatus};
use crate::{
    BoxStream, DialTarget, Error, MAX_DISCOVERY_CLIENTS, ONION_PORT, ServiceSpec, Transport,
    TransportKind,
};
use kith_core::reach::{DiscoveryKey, DiscoverySecret};

/// How long a Tor dial may take by default (descriptor fetch, introduction
/// and rendezvous on a slow network).
pub const TOR_DIAL_TIMEOUT: Duration = Duration::from_secs(120);

/// How long [`TorRuntime::shutdown`] waits for its tasks before aborting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long a listen waits for an exiting process on the same data
/// directory to release the service's state lock.
const RELAUNCH_PATIENCE: Duration = Duration::from_secs(10);

/// Streams one rendezvous circuit may hold open at once. A Kith session is
/// one stream; two cover a redial racing an old stream's close. A client
/// that opens more has its circuit torn down (arti's
/// `max_concurrent_streams_per_circuit`, C tor's
/// `HiddenServiceMaxStreamsCloseCircuit`); arti's default is 65 535.
pub const MAX_STREAMS_PER_CIRCUIT: u32 = 4;

/// Introduction requests per second our introduction points forward to us,
/// and the burst they allow (sent to them as the `DOS_PARAMS` extension of
/// `ESTABLISH_INTRO`; C tor's defaults are 25/s and 200). A person's
/// contacts reconnect a few times a minute at most.
pub const INTRO_RATE: (u32, u32) = (5, 50);

/// Pause between failed bootstrap attempts: doubles up to the maximum.
const BOOTSTRAP_RETRY: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(120));

/// Worker threads of arti's own tokio runtime (see [`ArtiRuntime`]).
const ARTI_WORKERS: usize = 2;

/// Name of every thread of arti's runtime; [`quiet_arti_shutdown_panic`]
/// recognises them by it.
const ARTI_THREAD: &str = "kith-tor";

/// How long a [`TorRuntime`] dropped without [`TorRuntime::shutdown`] lets
/// arti's objects (dropped by tasks being aborted elsewhere) finish before
/// its runtime stops.
const DROP_GRACE: Duration = Duration::from_secs(2);

type Client = TorClient<PreferredRuntime>;

/// Where arti keeps its files, and the caller's arti configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorSettings {
    /// arti's state: guards, and per-nickname onion-service state (replay
    /// logs, introduction-point records). Never a key. Must be private to
    /// the user (arti checks permissions).
    pub state_dir: PathBuf,
    /// arti's cache of directory documents.
    pub cache_dir: PathBuf,
    /// arti TOML (`[tor_network]`, `[path_rules]`, `[address_filter]`,
    /// `[override_net_params]`, …) merged over Kith's defaults as arti merges
    /// its own files. Unknown keys and bad values are refused; `[storage]`
    /// is Kith's and refused too.
    pub extra_toml: Option<String>,
    /// Bridges: when not empty, arti reaches the network only through them
    /// (added to any `[bridges]` the TOML lists), starting the pluggable
    /// transport each one names (obfs4: `obfs4proxy` or `lyrebird`).
    pub bridges: Vec<BridgeLine>,
}

/// The process's Tor client, shared by every profile.
///
/// Cheap to clone (all clones are one runtime). Call [`TorRuntime::shutdown`]
/// before the tokio runtime ends: arti panics when its client is dropped
/// while tokio is shutting down.
#[derive(Clone)]
pub struct TorRuntime {
    shared: Arc<Shared>,
}

/// The tokio runtime arti runs on: its own, not the caller's.
///
/// arti's onion-service proof of work (`hs-pow-full`) runs two blocking
/// threads per launched service that never return: one loops on a timer
/// for as long as the process lives, and both first wait for a directory,
/// forever when the node never reaches Tor. A tokio runtime waits for its
/// blocking threads when dropped, so on the caller's runtime an app or
/// daemon started offline could never exit. On a runtime of our own,
/// [`TorRuntime::shutdown`] stops arti with
/// [`tokio::runtime::Runtime::shutdown_background`], which does not wait:
/// such threads are left parked until the process exits (one per service
/// launch, no CPU).
struct ArtiRuntime(Option<tokio::runtime::Runtime>);

impl ArtiRuntime {
    fn new() -> Result<Self, Error> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(ARTI_WORKERS)
            .thread_name(ARTI_THREAD)
            .enable_all()
            .build()
            .map(|rt| ArtiRuntime(Some(rt)))
            .map_err(|e| Error::Bug(format!("cannot start a runtime for Tor: {e}")))
    }

    /// arti's view of this runtime.
    fn arti(&self) -> Result<PreferredRuntime, Error> {
        let rt = self.0.as_ref().ok_or(Error::Shutdown)?;
        let _entered = rt.enter();
        PreferredRuntime::current()
            .map_err(|e| Error::Bug(format!("arti cannot use its runtime: {e}")))
    }

    /// Stop every arti task now, without waiting for blocking threads.
    fn stop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for ArtiRuntime {
    fn drop(&mut self) {
        let Some(rt) = self.0.take() else { return };
        // Dropped without `TorRuntime::shutdown`: arti objects held by tasks
        // of the caller's runtime may still be on their way out. Give them
        // a moment on a thread of our own (this may run in async context,
        // where blocking is not allowed).
        let spawned = std::thread::Builder::new()
            .name(format!("{ARTI_THREAD}-stop"))
            .spawn(move || {
                std::thread::sleep(DROP_GRACE);
                rt.shutdown_background();
            });
        if let Err(e) = spawned {
            debug!("no thread to stop Tor's runtime, leaving it to process exit: {e}");
        }
    }
}

/// Keep one known, harmless panic of arti's out of a binary's stderr.
///
/// When arti's runtime stops, the proof-of-work thread that sleeps in a
/// loop (see [`ArtiRuntime`]) panics with tokio's "being shutdown" message
/// on a thread nobody joins; nothing is lost, but a panic message at every
/// quit would alarm users. Only that message, on arti's runtime threads,
/// is kept out: every other panic is reported by the previous hook.
/// Binaries call this once at start.
pub fn quiet_arti_shutdown_panic() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("");
        let on_arti_thread = std::thread::current()
            .name()
            .is_some_and(|n| n == ARTI_THREAD);
        if on_arti_thread && msg.contains("context was found, but it is being shutdown") {
            debug!("arti's proof-of-work thread stopped with its runtime");
            return;
        }
        previous(info);
    }));
}

/// State behind every clone of a [`TorRuntime`] and its transports.
struct Shared {
    /// The base client; `None` after shutdown.
    client: Mutex<Option<Arc<Client>>>,
    /// One isolated client per live transport, by transport id; cleared at shutdown.
    profiles: Mutex<HashMap<u64, Arc<Client>>>,
    /// Next transport id.
    next_id: AtomicU64,
    /// Runtime-wide status (bootstrap only; no services).
    bootstrap: Arc<watch::Sender<TransportStatus>>,
    /// Set once, at shutdown (or when the last handle goes).
    shutdown: watch::Sender<bool>,
    /// Every task this runtime spawned.
    tasks: Mutex<JoinSet<()>>,
    /// Services: live nicknames, and which key each nickname has carried in
    /// this process (arti's keystore keys derived keys by nickname).
    services: Arc<Mutex<ServiceNames>>,
    /// One lock per restricted service address we dial with a discovery key.
    discovery_locks: Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
    /// arti's runtime. Last: dropped after the client and the tasks.
    arti: Mutex<ArtiRuntime>,
}

#[derive(Default)]
struct ServiceNames {
    live: HashSet<String>,
    keys: HashMap<String, HsId>,
    /// How many times each nickname has been launched in this process.
    launches: HashMap<String, u32>,
}

/// Lock, ignoring poisoning: every critical section here leaves the data valid.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn spawn(&self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        if *self.shutdown.borrow() {
            return;
        }
        let mut tasks = lock(&self.tasks);
        // Reap finished tasks so the set does not grow with every listener.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(fut);
    }

    fn base_client(&self) -> Result<Arc<Client>, Error> {
        lock(&self.client).clone().ok_or(Error::Shutdown)
    }

    /// Put `secret` in the keystore as our discovery key for `address`'s
    /// service, holding that address's lock (see `dial_inner`).
    async fn discovery_key(
        &self,
        client: &Client,
        address: &kith_core::OnionAddress,
        secret: &DiscoverySecret,
    ) -> Result<tokio::sync::OwnedMutexGuard<()>, Error> {
        let hsid = HsId::from_str(&address.hostname())
            .map_err(|e| Error::Bug(format!("arti rejects a Kith address: {e}")))?;
        let gate = Arc::clone(
            lock(&self.discovery_locks)
                .entry(address.to_bytes())
                .or_default(),
        );
        let held = gate.lock_owned().await;
        let key =
            HsClientDescEncSecretKey::from(curve25519::StaticSecret::from(*secret.to_bytes()));
        let replaced = client
            .remove_service_discovery_key(KeystoreSelector::Primary, hsid)
            .and_then(|_| {
                client.insert_service_discovery_key(KeystoreSelector::Primary, hsid, key)
            });
        replaced.map_err(|e| Error::tor("storing a discovery key", e))?;
        Ok(held)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Tell tasks to stop; the JoinSet aborts the rest as it drops.
        let _ = self.shutdown.send(true);
    }
}

impl std::fmt::Debug for TorRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorRuntime").finish_non_exhaustive()
    }
}

impl TorRuntime {
    /// Create the Tor client and start bootstrapping it in the background.
    ///
    /// Returns as soon as the client exists; watch [`TorRuntime::status`]
    /// (or any transport's status) for progress. Must be called within a
    /// tokio runtime.
    #[instrument(skip_all, level = "trace")]
    pub async fn start(settings: TorSettings) -> Result<TorRuntime, Error> {
        let config = config::client_config(&settings)?;
        install_crypto_provider();
        let arti = ArtiRuntime::new()?;
        let client = TorClient::with_runtime(arti.arti()?)
            .config(config)
            .bootstrap_behavior(BootstrapBehavior::OnDemand)
            .create_unbootstrapped_async()
            .await
            .map_err(|e| Error::tor("creating the Tor client", e))?;
        let (bootstrap, _) = watch::channel(TransportStatus {
            phase: "starting".into(),
            ..Default::default()
        });
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            client: Mutex::new(Some(Arc::clone(&client))),
            profiles: Mutex::default(),
            next_id: AtomicU64::new(0),
            bootstrap: Arc::new(bootstrap),
            shutdown,
            tasks: Mutex::new(JoinSet::new()),
            services: Arc::default(),
            discovery_locks: Mutex::default(),
            arti: Mutex::new(arti),
        });

        // Progress → status.
        publish_bootstrap(&shared.bootstrap, &client.bootstrap_status());
        let mut events = client.bootstrap_events();
        let status = Arc::clone(&shared.bootstrap);
        let mut stop = shared.shutdown.subscribe();
        shared.spawn(async move {
            loop {
                tokio::select! {
                    () = stopping(&mut stop) => break,
                    ev = events.next() => match ev {
                        Some(ev) => publish_bootstrap(&status, &ev),
                        None => break,
                    },
                }
            }
        });

        // Bootstrap, retrying with back-off. Holds the client only while trying.
        let weak = Arc::downgrade(&client);
        drop(client);
        let status = Arc::clone(&shared.bootstrap);
        let mut stop = shared.shutdown.subscribe();
        shared.spawn(async move {
            let mut pause = BOOTSTRAP_RETRY.0;
            loop {
                let Some(client) = weak.upgrade() else { return };
                let result = tokio::select! {
                    () = stopping(&mut stop) => return,
                    r = client.bootstrap() => r,
                };
                drop(client);
                match result {
                    Ok(()) => {
                        info!("Tor client bootstrapped");
                        return;
                    }
                    Err(e) => {
                        warn!(
                            "Tor bootstrap failed, retrying in {}s: {e}",
                            pause.as_secs()
                        );
                        status.send_modify(|s| s.last_error = Some(e.to_string()));
                    }
                }
                tokio::select! {
                    () = stopping(&mut stop) => return,
                    () = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(BOOTSTRAP_RETRY.1);
            }
        });
        Ok(TorRuntime { shared })
    }

    /// A transport for one profile: its own stream isolation (circuits are
    /// never shared with another profile's), its own services and status.
    ///
    /// After [`TorRuntime::shutdown`], the transport fails every call with
    /// [`Error::Shutdown`].
    pub fn transport(&self) -> TorTransport {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(base) = self.shared.base_client() {
            lock(&self.shared.profiles).insert(id, base.isolated_client());
        }
        let (status, _) = watch::channel(self.shared.bootstrap.borrow().clone());
        let status = Arc::new(status);
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        let mut boot = self.shared.bootstrap.subscribe();
        let mut shutdown = self.shared.shutdown.subscribe();
        let mine = Arc::clone(&status);
        self.shared.spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stop_rx => break,
                    () = stopping(&mut shutdown) => break,
                    changed = boot.changed() => {
                        if changed.is_err() { break }
                        let b = boot.borrow_and_update().clone();
                        mine.send_modify(|s| {
                            s.bootstrap_percent = b.bootstrap_percent;
                            s.phase = b.phase;
                            s.ready = b.ready;
                            s.last_error = b.last_error;
                        });
                    }
                }
            }
        });
        TorTransport {
            shared: Arc::clone(&self.shared),
            id,
            status,
            dial_timeout: TOR_DIAL_TIMEOUT,
            _forwarder: stop_tx,
        }
    }

    /// Runtime-wide status: bootstrap progress (no services).
    pub fn status(&self) -> watch::Receiver<TransportStatus> {
        self.shared.bootstrap.subscribe()
    }

    /// Stop every service and task and drop the Tor client, in that order,
    /// while tokio still runs. Affects every clone and every transport.
    ///
    /// Cancel safe in effect: once called, the runtime is shut down even if
    /// the future is dropped before it completes (remaining tasks are then
    /// aborted when the last handle goes).
    #[instrument(skip_all, level = "trace")]
    pub async fn shutdown(self) {
        let _ = self.shared.shutdown.send(true);
        let mut tasks = std::mem::take(&mut *lock(&self.shared.tasks));
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            warn!("Tor tasks did not stop in time; aborting them");
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        lock(&self.shared.profiles).clear();
        let client = lock(&self.shared.client).take();
        drop(client);
        // Let arti's own tasks notice that the client is gone, then stop
        // them all (its proof-of-work threads are left parked: see
        // `ArtiRuntime`).
        tokio::task::yield_now().await;
        lock(&self.shared.arti).stop();
        self.shared.bootstrap.send_modify(|s| {
            s.ready = false;
            s.phase = "shut down".into();
        });
        debug!("Tor runtime shut down");
    }
}

/// rustls needs a process-level crypto provider before arti makes its first
/// TLS connection. Keeps one the application installed earlier.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err only if another thread installed one meanwhile: also fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// arti's bootstrap report → status (percent, phase without the percent).
fn publish_bootstrap(
    status: &watch::Sender<TransportStatus>,
    b: &arti_client::status::BootstrapStatus,
) {
    let frac = b.as_frac();
    let percent = if frac.is_finite() {
        // Within 0..=100 after the clamp, so the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let p = (frac * 100.0).round().clamp(0.0, 100.0) as u8;
        p
    } else {
        0
    };
    let ready = b.ready_for_traffic();
    let blocked = b.blocked().map(|x| x.to_string());
    let text = b.to_string();
    let phase = if ready {
        "ready".to_owned()
    } else {
        // "NN%: connecting…; fetching…" → "connecting…; fetching…"
        text.split_once(": ")
            .map_or(text.clone(), |(_, p)| p.to_owned())
    };
    status.send_if_modified(|s| {
        let new_error = if ready {
            None
        } else {
            blocked.clone().or(s.last_error.clone())
        };
        let changed = s.bootstrap_percent != percent
            || s.ready != ready
            || s.phase != phase
            || s.last_error != new_error;
        s.bootstrap_percent = percent;
        s.ready = ready;
        s.phase = phase.clone();
        s.last_error = new_error;
        changed
    });
}

/// One profile's view of the [`TorRuntime`].
pub struct TorTransport {
    shared: Arc<Shared>,
    /// Key of this transport's isolated client in `shared.profiles`.
    id: u64,
    /// This transport's status: bootstrap plus its own services.
    status: Arc<watch::Sender<TransportStatus>>,
    /// Limit for one dial.
    dial_timeout: Duration,
    /// Dropped with the transport: stops its status forwarder.
    _forwarder: oneshot::Sender<()>,
}

impl std::fmt::Debug for TorTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorTransport")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Drop for TorTransport {
    fn drop(&mut self) {
        lock(&self.shared.profiles).remove(&self.id);
    }
}

/// The onion-service identity key for a Kith identity: the same ed25519
/// key, so the service's address is the identity's address.
pub(crate) fn hsid_keypair(identity: &IdentityKeypair) -> HsIdKeypair {
    let seed = identity.seed();
    let kp = ed25519::Keypair::from_bytes(&seed);
    HsIdKeypair::from(ed25519::ExpandedKeypair::from(&kp))
}

/// arti's `HsId` for a Kith address (parsed from its hostname, so arti checks
/// Kith's encoding).
fn hsid_of(identity: &IdentityKeypair) -> Result<HsId, Error> {
    HsId::from_str(&identity.address().hostname())
        .map_err(|e| Error::Bug(format!("arti rejects a Kith address: {e}")))
}

impl TorTransport {
    /// Use another dial timeout.
    #[must_use]
    pub fn with_dial_timeout(mut self, timeout: Duration) -> Self {
        self.dial_timeout = timeout;
        self
    }

    fn client(&self) -> Result<Arc<Client>, Error> {
        lock(&self.shared.profiles)
            .get(&self.id)
            .cloned()
            .ok_or(Error::Shutdown)
    }

    #[instrument(skip_all, level = "trace")]
    async fn dial_inner(&self, target: &DialTarget) -> Result<BoxStream, Error> {
        let client = self.client()?;
        let host = target.address.hostname();
        let mut prefs = StreamPrefs::new();
        prefs.connect_to_onion_services(BoolOrAuto::Explicit(true));
        trace!(peer = %target.address.redacted(), "dialing onion service");
        // A restricted service: arti's keystore (one per runtime, shared by
        // the profiles on this network) holds one discovery key per service
        // address, read when the connection starts. Two profiles of this
        // process that are both contacts of the same peer hold different
        // keys for it, so a dial with a key holds that address's lock until
        // it is done.
        let _key_held = match &target.discovery {
            None => None,
            Some(secret) => Some(
                self.shared
                    .discovery_key(&client, &target.address, secret)
                    .await?,
            ),
        };
        match tokio::time::timeout(
            self.dial_timeout,
            client.connect_with_prefs((host.as_str(), ONION_PORT), &prefs),
        )
        .await
        {
            Ok(Ok(stream)) => {
                trace!(peer = %target.address.redacted(), "onion stream open");
                Ok(Box::new(stream))
            }
            Ok(Err(e)) => Err(Error::tor("connecting to the peer", e)),
            Err(_) => Err(Error::Timeout {
                action: "connecting to the peer's onion service",
                timeout: self.dial_timeout,
                tor_ready: client.bootstrap_status().ready_for_traffic(),
            }),
        }
    }

    /// Fetch a feed through this profile's Tor client: see the module
    /// `fetch` (README, "Feeds") for what it does and refuses.
    ///
    /// Every stream is an arti data stream opened by host name: a DNS name
    /// is resolved by the exit relay, never here; an onion address is
    /// reached through arti's onion-service client. All streams of one
    /// fetch (its redirects) share a circuit isolation group of their own,
    /// so fetches of different feeds never share a circuit (the exit of
    /// one cannot link it to another), nor do they share one with this
    /// profile's peers.
    ///
    /// Cancel safe: dropping the future abandons the fetch.
    #[instrument(skip_all, level = "trace")]
    pub async fn fetch_feed(
        &self,
        url: &crate::FeedUrl,
        limits: &crate::FetchLimits,
    ) -> Result<crate::FetchedBody, Error> {
        let client = self.client()?;
        let mut prefs = StreamPrefs::new();
        prefs.new_isolation_group();
        let dialer = TorDialer { client, prefs };
        crate::fetch::fetch_with(&dialer, url, limits, crate::fetch::tls_config()?).await
    }

    #[instrument(skip_all, level = "trace")]
    async fn listen_inner(&self, spec: ServiceSpec) -> Result<Listener, Error> {
        let client = self.client()?;
        let base = self.shared.base_client()?;
        let nick = HsNickname::new(spec.nickname.clone())
            .map_err(|source| Error::BadNickname { source })?;
        let expected = HsIdKey::from(&hsid_keypair(&spec.identity)).id();
        if hsid_of(&spec.identity)? != expected {
            return Err(Error::Bug("onion key differs from the Kith address".into()));
        }
        let guard = ServiceGuard::reserve(
            &self.shared.services,
            &spec.nickname,
            expected,
            nick,
            Arc::downgrade(&base),
        )?;
        // Bounds on what strangers can make the service do (see
        // docs/threat-model.md, "Load"): few streams per circuit, a rate
        // limit at the introduction points, and proof of work that clients
        // must solve while the service is under load.
        let mut builder = OnionServiceConfigBuilder::default();
        builder
            .nickname(guard.hs_nickname.clone())
            .max_concurrent_streams_per_circuit(MAX_STREAMS_PER_CIRCUIT)
            .rate_limit_at_intro(Some(TokenBucketConfig::new(INTRO_RATE.0, INTRO_RATE.1)))
            .enable_pow(true);
        if let Some(clients) = &spec.discovery {
            restrict_discovery(&mut builder, clients)?;
        }
        let config = builder
            .build()
            .map_err(|e| Error::Bug(format!("onion service config: {e}")))?;
        // Relaunches in this process get a fresh arti nickname (see
        // `ServiceGuard::reserve`); what can still hold the state lock is
        // another process on this data directory that is shutting down
        // (e.g. the app restarted at once): wait a little for it.
        let started = tokio::time::Instant::now();
        let (service, requests) = loop {
            // A key left under this nickname (by an earlier attempt or a
            // listener that could not clean up) is ours and stale: the
            // nickname is reserved.
            guard.remove_key(&base);
            match client
                .launch_onion_service_with_hsid(config.clone(), hsid_keypair(&spec.identity))
            {
                Ok(Some(launched)) => break launched,
                Ok(None) => return Err(Error::Bug("onion service disabled".into())),
                Err(e)
                    if arti_client::HasKind::kind(&e)
                        == arti_client::ErrorKind::LocalResourceAlreadyInUse
                        && started.elapsed() < RELAUNCH_PATIENCE =>
                {
                    trace!("onion service state still locked; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(Error::tor("launching the onion service", e)),
            }
        };
        if service.onion_address() != Some(expected) {
            return Err(Error::Bug("the service runs under another address".into()));
        }
        debug!(address = %spec.identity.address().redacted(), "onion service launched");
        let (tx, rx) = mpsc::channel(ACCEPT_QUEUE);
        let (stop_tx, stop_rx) = oneshot::channel();
        publish_service(&self.status, &spec.nickname, &service.status());
        self.shared.spawn(serve(
            service,
            requests,
            tx,
            stop_rx,
            self.shared.shutdown.subscribe(),
            Arc::clone(&self.status),
            guard,
        ));
        Ok(Listener::new(rx, None, spec.nickname, stop_tx))
    }
}

/// Opens the streams of one feed fetch: arti data streams, by host name.
struct TorDialer {
    client: Arc<Client>,
    /// With the fetch's own isolation group.
    prefs: StreamPrefs,
}

impl crate::fetch::Dialer for TorDialer {
    type Stream = arti_client::DataStream;

    fn dial<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, Result<arti_client::DataStream, Error>> {
        async move {
            let mut prefs = self.prefs.clone();
            if host.ends_with(".onion") {
                prefs.connect_to_onion_services(BoolOrAuto::Explicit(true));
            }
            self.client
                .connect_with_prefs((host, port), &prefs)
                .await
                .map_err(|e| Error::tor("connecting to the feed's server", e))
        }
        .boxed()
    }

    fn network_ready(&self) -> bool {
        self.client.bootstrap_status().ready_for_traffic()
    }
}

/// Restricted discovery: our descriptor is encrypted for `clients` alone
/// (Tor's "client authorization"). arti reads the list once, at launch; a
/// changed list means a relaunch.
fn restrict_discovery(
    builder: &mut OnionServiceConfigBuilder,
    clients: &[DiscoveryKey],
) -> Result<(), Error> {
    if clients.is_empty() {
        return Err(Error::BadDiscovery {
            reason: "a restricted service needs at least one client",
        });
    }
    if clients.len() > MAX_DISCOVERY_CLIENTS {
        return Err(Error::BadDiscovery {
            reason: "too many clients for one restricted service",
        });
    }
    let rd = builder.restricted_discovery();
    rd.enabled(true);
    let keys = rd.static_keys().access();
    for (i, key) in clients.iter().enumerate() {
        // Nicknames are local labels; arti wants them unique.
        let nick = HsClientNickname::from_str(&format!("c{i}"))
            .map_err(|e| Error::Bug(format!("client nickname: {e}")))?;
        keys.push((
            nick,
            HsClientDescEncKey::from(curve25519::PublicKey::from(key.0)),
        ));
    }
    Ok(())
}

/// Holds a nickname while its service runs; on drop, removes the service's
/// key from arti's (in-memory) keystore and frees the nickname.
struct ServiceGuard {
    names: Arc<Mutex<ServiceNames>>,
    nickname: String,
    hs_nickname: HsNickname,
    base: Weak<Client>,
}

impl ServiceGuard {
    fn reserve(
        names: &Arc<Mutex<ServiceNames>>,
        nickname: &str,
        key: HsId,
        hs_nickname: HsNickname,
        base: Weak<Client>,
    ) -> Result<Self, Error> {
        let mut n = lock(names);
        if n.live.contains(nickname) {
            return Err(Error::AlreadyListening);
        }
        // arti keeps keys derived from the identity under the nickname:
        // one nickname carries one identity for the life of the process.
        if n.keys.get(nickname).is_some_and(|k| *k != key) {
            return Err(Error::NicknameReused);
        }
        // arti keeps a stopped service's state directory locked for as long
        // as its background tasks live (seen: indefinitely without a
        // network), so a relaunch in the same process runs under a fresh
        // arti nickname. The first launch in a process reuses the state a
        // previous run left (introduction points, replay logs).
        let launches = n.launches.entry(nickname.to_owned()).or_default();
        let hs_nickname = match *launches {
            0 => hs_nickname,
            again => HsNickname::new(format!("{nickname}-r{again}"))
                .map_err(|source| Error::BadNickname { source })?,
        };
        *launches += 1;
        n.live.insert(nickname.to_owned());
        n.keys.insert(nickname.to_owned(), key);
        Ok(ServiceGuard {
            names: Arc::clone(names),
            nickname: nickname.to_owned(),
            hs_nickname,
            base,
        })
    }

    fn remove_key(&self, client: &Client) {
        let spec = HsIdKeypairSpecifier::new(self.hs_nickname.clone());
        match client.keymgr() {
            Ok(k) => {
                if let Err(e) = k.remove::<HsIdKeypair>(&spec, KeystoreSelector::Primary) {
                    debug!("could not remove an onion service key: {e}");
                }
            }
            Err(e) => debug!("no keystore: {e}"),
        }
    }
}

impl Drop for ServiceGuard {
    fn drop(&mut self) {
        if let Some(client) = self.base.upgrade() {
            self.remove_key(&client);
        }
        lock(&self.names).live.remove(&self.nickname);
    }
}

/// arti's service status → our entry (no addresses; problems by category).
fn publish_service(
    status: &watch::Sender<TransportStatus>,
    nickname: &str,
    st: &OnionServiceStatus,
) {
    let state = st.state();
    let entry = ServiceState {
        nickname: nickname.to_owned(),
        published: state.is_fully_reachable(),
        state: format!("{state:?}"),
        problem: st.current_problem().map(|p| {
            match p {
                Problem::Runtime(_) => "the service failed",
                Problem::DescriptorUpload(_) => "publishing the descriptor failed",
                Problem::Ipt(_) => "establishing introduction points failed",
                Problem::Pow(_) => "proof of work failed",
                _ => "other problem",
            }
            .to_owned()
        }),
    };
    status.send_if_modified(|s| {
        if s.services.contains(&entry) {
            return false;
        }
        s.upsert_service(entry);
        true
    });
}

/// Resolves once shutdown is signalled (or the signal's sender is gone).
async fn stopping(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Is this a request Kith answers: `BEGIN` to [`ONION_PORT`]?
fn wanted(req: &IncomingStreamRequest) -> bool {
    matches!(req, IncomingStreamRequest::Begin(b) if b.port() == ONION_PORT)
}

/// Run one onion service until its listener is dropped or the runtime shuts down.
#[allow(clippy::too_many_arguments)]
async fn serve(
    service: Arc<RunningOnionService>,
    rend_requests: impl Stream<Item = RendRequest> + Send + 'static,
    tx: mpsc::Sender<BoxStream>,
    mut stop: oneshot::Receiver<()>,
    mut shutdown: watch::Receiver<bool>,
    status: Arc<watch::Sender<TransportStatus>>,
    guard: ServiceGuard,
) {
    let mut requests = Box::pin(tor_hsservice::handle_rend_requests(rend_requests));
    let mut events = service.status_events();
    let mut events_open = true;
    loop {
        let stream = tokio::select! {
            _ = &mut stop => break,
            () = stopping(&mut shutdown) => break,
            ev = events.next(), if events_open => {
                match ev {
                    Some(st) => publish_service(&status, &guard.nickname, &st),
                    None => events_open = false,
                }
                continue;
            }
            req = requests.next() => match req {
                None => {
                    debug!("onion service stopped taking requests");
                    break;
                }
                Some(req) => req,
            },
        };
        let Some(stream) = answer(stream).await else {
            continue;
        };
        // Back-pressure: while the queue is full, no further requests are taken.
        tokio::select! {
            _ = &mut stop => break,
            () = stopping(&mut shutdown) => break,
            sent = tx.send(stream) => if sent.is_err() { break },
        }
    }
    status.send_modify(|s| s.remove_service(&guard.nickname));
    drop(requests);
    drop(service);
    drop(guard);
    debug!("onion service stopped");
}

/// Accept a stream request for our port; refuse others as arti would.
async fn answer(req: StreamRequest) -> Option<BoxStream> {
    if !wanted(req.request()) {
        trace!("refusing a stream request for another port");
        if let Err(e) = req.reject(End::new_with_reason(EndReason::DONE)).await {
            debug!("refusing a stream failed: {e}");
        }
        return None;
    }
    match req.accept(Connected::new_empty()).await {
        Ok(s) => Some(Box::new(s)),
        Err(e) => {
            debug!("accepting a stream failed: {e}");
            None
        }
    }
}

impl Transport for TorTransport {
    fn kind(&self) -> TransportKind {
        TransportKind::Tor
    }

    fn dial<'a>(&'a self, target: &'a DialTarget) -> BoxFuture<'a, Result<BoxStream, Error>> {
        self.dial_inner(target).boxed()
    }

    fn listen(&self, spec: ServiceSpec) -> BoxFuture<'_, Result<Listener, Error>> {
        self.listen_inner(spec).boxed()
    }

    fn status(&self) -> watch::Receiver<TransportStatus> {
        self.status.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kith_core::ErrorKind;
    use safelog::DisplayRedacted as _;

    /// A network nobody serves: arti can start, never bootstrap.
    const NOWHERE: &str = r#"
[tor_network]
fallback_caches = [
  { rsa_identity = "0123456789ABCDEF0123456789ABCDEF01234567", ed_identity = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", orports = ["127.0.0.1:9"] },
]
[tor_network.authorities]
v3idents = [ "89ABCDEF0123456789ABCDEF0123456789ABCDEF" ]
uploads = [ ["127.0.0.1:9"] ]
downloads = [ ["127.0.0.1:9"] ]
votes = [ ["127.0.0.1:9"] ]
[address_filter]
allow_local_addrs = true
"#;

    fn settings(dir: &std::path::Path) -> TorSettings {
        TorSettings {
            state_dir: dir.join("state"),
            cache_dir: dir.join("cache"),
            extra_toml: Some(NOWHERE.into()),
            bridges: vec![],
        }
    }

    fn spec(seed: u8, nickname: &str) -> ServiceSpec {
        ServiceSpec {
            identity: IdentityKeypair::from_seed(&[seed; 32]),
            nickname: nickname.into(),
            discovery: None,
        }
    }

    /// arti's encoding of the onion key made from a Kith seed is Kith's
    /// address, both ways: an interop vector between two implementations.
    #[test]
    fn onion_key_from_seed_is_the_kith_address() {
        let mut seeds: Vec<[u8; 32]> = vec![[0; 32], [0xff; 32], [7; 32]];
        seeds.extend((0_u8..32).map(|i| std::array::from_fn(|j| (j as u8).wrapping_mul(i) ^ 0x5a)));
        for seed in seeds {
            let id = IdentityKeypair::from_seed(&seed);
            let hsid = HsIdKey::from(&hsid_keypair(&id)).id();
            assert_eq!(
                hsid.display_unredacted().to_string(),
                id.address().hostname()
            );
            assert_eq!(hsid_of(&id).unwrap(), hsid);
            // arti's default Display redacts.
            assert!(
                !hsid
                    .display_redacted()
                    .to_string()
                    .contains(&id.address().to_base32())
            );
        }
    }

    #[test]
    fn only_begin_to_our_port_is_wanted() {
        use tor_cell::relaycell::msg::Begin;
        let begin = |port| IncomingStreamRequest::Begin(Begin::new("", port, 0_u32).unwrap());
        assert!(wanted(&begin(ONION_PORT)));
        assert!(!wanted(&begin(80)));
        assert!(!wanted(&begin(ONION_PORT + 1)));
    }

    fn assert_send<T: Send>(_: &T) {}

    /// Every public future is `Send` (it runs in `tokio::spawn`). Checked
    /// at compile time: this function is never called.
    fn public_futures_are_send(rt: &TorRuntime, target: &DialTarget, l: &mut Listener) {
        let dir = std::path::Path::new("/");
        assert_send(&TorRuntime::start(settings(dir)));
        assert_send(&rt.status());
        assert_send(&rt.clone().shutdown());
        let tor = rt.transport();
        let tcp = crate::TcpTransport::new(None);
        let dynamic: &dyn Transport = &tor;
        assert_send(&tor.dial(target));
        assert_send(&tor.listen(spec(1, "x")));
        assert_send(&tcp.dial(target));
        assert_send(&tcp.listen(spec(1, "x")));
        assert_send(&dynamic.dial(target));
        assert_send(&dynamic.listen(spec(1, "x")));
        assert_send(&l.accept());
        let url = crate::FeedUrl::parse("https://feed.example/").unwrap();
        let limits = crate::FetchLimits::default();
        assert_send(&tor.fetch_feed(&url, &limits));
    }

    #[test]
    fn handles_are_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<TorRuntime>();
        check::<TorTransport>();
        check::<crate::TcpTransport>();
        check::<Error>();
        fn check_send<T: Send + 'static>() {}
        check_send::<Listener>();
        check_send::<BoxStream>();
        let _ = public_futures_are_send;
    }

    /// Everything that works without a network: start, status, services,
    /// nickname rules, a typed dial failure, shutdown.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runtime_without_network() {
        let dir = tempfile::tempdir().unwrap();
        let rt = TorRuntime::start(settings(dir.path())).await.unwrap();
        let s = rt.status().borrow().clone();
        assert!(!s.ready);
        assert!(s.bootstrap_percent < 100);

        let a = rt.transport();
        let b = rt.transport();
        assert_eq!(a.kind(), TransportKind::Tor);

        // listen checks that arti's service runs under the Kith address.
        let la = a.listen(spec(1, "alpha")).await.unwrap();
        assert!(la.local_tcp_addr().is_none());
        let st = a.status().borrow().clone();
        assert_eq!(st.services.len(), 1);
        assert_eq!(st.services[0].nickname, "alpha");
        assert!(!st.services[0].published);
        assert!(
            b.status().borrow().services.is_empty(),
            "per-profile status"
        );

        // Several services per profile; nicknames unique per runtime.
        let lb = a.listen(spec(2, "beta")).await.unwrap();
        assert!(matches!(
            b.listen(spec(3, "alpha")).await,
            Err(Error::AlreadyListening)
        ));
        assert!(matches!(
            a.listen(spec(1, "bad nickname!")).await,
            Err(Error::BadNickname { .. })
        ));

        // Stopping frees the nickname and removes the key; same key again is fine.
        drop(la);
        let mut status = a.status();
        tokio::time::timeout(
            Duration::from_secs(10),
            status.wait_for(|s| s.services.iter().all(|x| x.nickname != "alpha")),
        )
        .await
        .unwrap()
        .unwrap();
        let la = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match a.listen(spec(1, "alpha")).await {
                    Err(Error::AlreadyListening) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    other => return other,
                }
            }
        })
        .await
        .unwrap()
        .unwrap();
        drop(la);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(matches!(
            a.listen(spec(9, "alpha")).await,
            Err(Error::NicknameReused)
        ));

        // No network: a dial times out as Tor's problem, not the peer's.
        let b = b.with_dial_timeout(Duration::from_secs(2));
        let target = DialTarget {
            address: IdentityKeypair::from_seed(&[2; 32]).address(),
            tcp: None,
            discovery: None,
        };
        let e = b.dial(&target).await.err().unwrap();
        assert_eq!(e.kind(), ErrorKind::TorUnreachable, "{e}");
        assert!(!e.to_string().contains(&target.address.to_base32()));

        // So does a feed fetch; the path never reaches arti or the error.
        let url = crate::FeedUrl::parse("https://feed.example/secret-interest.xml").unwrap();
        let limits = crate::FetchLimits::default()
            .with_timeouts(Duration::from_secs(2), Duration::from_secs(2));
        let e = b.fetch_feed(&url, &limits).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TorUnreachable, "{e}");
        assert!(!format!("{e} {e:?}").contains("secret-interest"));

        rt.clone().shutdown().await;
        assert!(matches!(b.dial(&target).await, Err(Error::Shutdown)));
        assert!(matches!(
            b.fetch_feed(&url, &limits).await,
            Err(Error::Shutdown)
        ));
        assert!(matches!(
            a.listen(spec(4, "gamma")).await,
            Err(Error::Shutdown)
        ));
        assert!(!rt.status().borrow().ready);
        drop(lb);
        // Nothing of ours under state_dir holds a key.
        let mut stack = vec![dir.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let name = p.to_string_lossy().to_lowercase();
                    assert!(!name.contains("key") || name.contains("cache"), "{name}");
                }
            }
        }
    }
}
