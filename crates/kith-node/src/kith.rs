//! The engine for one data directory: its profiles and the shared Tor client.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use kith_core::{IdentityKeypair, Timestamp};
use kith_store::{KdfParams, NewProfile, StoreHandle};
use kith_transport::{BridgeLine, TorRuntime, TorSettings};

use crate::error::{Error, Result};
use crate::model::Password;
use crate::profile::Profile;

/// File name of a profile's database inside its directory.
pub(crate) const DB_FILE: &str = "profile.db";
/// Longest profile name.
pub const MAX_PROFILE_NAME: usize = 32;

/// How expensive password hashing is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KdfChoice {
    /// Argon2id tuned to take about half a second: use this.
    #[default]
    Default,
    /// Almost free hashing, for tests only: a stolen database would fall to guessing.
    DangerouslyFastForTestingOnly,
}

impl KdfChoice {
    pub(crate) fn params(self) -> KdfParams {
        match self {
            KdfChoice::Default => KdfParams::default(),
            KdfChoice::DangerouslyFastForTestingOnly => {
                KdfParams::dangerously_fast_for_testing_only()
            }
        }
    }
}

/// Configuration of a [`Kith`] engine.
#[derive(Clone, Debug)]
pub struct KithConfig {
    /// Where profiles (and Tor's state) live.
    pub data_dir: PathBuf,
    /// Password hashing cost for new profiles and password changes.
    pub kdf: KdfChoice,
}

impl KithConfig {
    /// The platform's data directory for Kith (e.g. `~/.local/share/kith`).
    pub fn default_data_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("org", "Kith", "kith").map(|d| d.data_dir().to_path_buf())
    }

    /// A configuration for `data_dir` with the default cost.
    pub fn new(data_dir: PathBuf) -> Self {
        KithConfig {
            data_dir,
            kdf: KdfChoice::Default,
        }
    }
}

pub(crate) struct KithInner {
    pub(crate) config: KithConfig,
    profiles: Mutex<HashMap<String, Profile>>,
    /// One Tor client per distinct network that profiles name (see
    /// [`KithInner::tor`]).
    tor: tokio::sync::Mutex<HashMap<TorKey, TorRuntime>>,
}

/// The Kith engine for one data directory. Cheap to clone.
#[derive(Clone)]
pub struct Kith {
    inner: Arc<KithInner>,
}

impl std::fmt::Debug for Kith {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kith(..)")
    }
}

/// Check a profile name: it becomes a directory name.
pub fn validate_profile_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_PROFILE_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::BadInput(format!(
            "a profile name has 1 to {MAX_PROFILE_NAME} letters, digits, '-' or '_'"
        )))
    }
}

impl Kith {
    /// An engine over `config.data_dir`. Nothing is touched until used.
    pub fn new(config: KithConfig) -> Kith {
        Kith {
            inner: Arc::new(KithInner {
                config,
                profiles: Mutex::new(HashMap::new()),
                tor: tokio::sync::Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.inner.config.data_dir
    }

    fn profiles_dir(&self) -> PathBuf {
        self.data_dir().join("profiles")
    }

    /// The directory of one profile.
    pub fn profile_dir(&self, name: &str) -> PathBuf {
        self.profiles_dir().join(name)
    }

    /// Names of the profiles on disk, sorted.
    pub fn list_profiles(&self) -> Result<Vec<String>> {
        let dir = self.profiles_dir();
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(source) => {
                return Err(Error::Io {
                    action: "listing profiles",
                    source,
                });
            }
        };
        let mut names = vec![];
        for entry in rd.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if validate_profile_name(&name).is_ok() && entry.path().join(DB_FILE).exists() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn lock_profiles(&self) -> std::sync::MutexGuard<'_, HashMap<String, Profile>> {
        // A poisoned map only means a panic elsewhere; the map itself stays valid.
        self.inner
            .profiles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Create a profile with a fresh identity, and unlock it.
    pub async fn create_profile(
        &self,
        name: &str,
        display_name: &str,
        password: Password,
    ) -> Result<Profile> {
        validate_profile_name(name)?;
        crate::profile::validate_display_name(display_name)?;
        if password.is_empty() {
            return Err(Error::BadInput("the password is empty".into()));
        }
        let dir = self.profile_dir(name);
        if dir.join(DB_FILE).exists() {
            return Err(Error::AlreadyExists(format!("profile {name}")));
        }
        create_private_dir(&dir)?;
        let identity = IdentityKeypair::generate(&mut rand::rngs::OsRng);
        let new = NewProfile {
            display_name: display_name.to_owned(),
            identity_seed: identity.seed(),
            created_at: Timestamp::now(),
        };
        let store = StoreHandle::create(
            dir.join(DB_FILE),
            password.bytes(),
            self.inner.config.kdf.params(),
            new,
        )
        .await?;
        let profile = Profile::open(Arc::downgrade(&self.inner), name, store).await?;
        self.lock_profiles()
            .insert(name.to_owned(), profile.clone());
        Ok(profile)
    }

    /// Unlock a profile with its password (or return it if already unlocked).
    pub async fn unlock(&self, name: &str, password: Password) -> Result<Profile> {
        validate_profile_name(name)?;
        if let Some(p) = self.lock_profiles().get(name) {
            return Ok(p.clone());
        }
        let path = self.profile_dir(name).join(DB_FILE);
        if !path.exists() {
            return Err(Error::NotFound(format!("profile {name}")));
        }
        let store = StoreHandle::open(path, password.bytes()).await?;
        let profile = Profile::open(Arc::downgrade(&self.inner), name, store).await?;
        let mut map = self.lock_profiles();
        // Another task may have unlocked it meanwhile: keep the first.
        let p = map
            .entry(name.to_owned())
            .or_insert_with(|| profile.clone())
            .clone();
        Ok(p)
    }

    /// The profiles unlocked now, sorted by name.
    pub fn unlocked(&self) -> Vec<Profile> {
        let mut v: Vec<Profile> = self.lock_profiles().values().cloned().collect();
        v.sort_by(|a, b| a.name().cmp(b.name()));
        v
    }

    /// Lock a profile: take it offline, close its store, forget its keys.
    pub async fn lock(&self, name: &str) {
        let p = self.lock_profiles().remove(name);
        if let Some(p) = p {
            p.shutdown().await;
        }
    }

    /// Delete a profile for good, after checking its password.
    pub async fn delete_profile(&self, name: &str, password: Password) -> Result<()> {
        validate_profile_name(name)?;
        let path = self.profile_dir(name).join(DB_FILE);
        if !path.exists() {
            return Err(Error::NotFound(format!("profile {name}")));
        }
        // Prove the password before destroying anything.
        self.lock(name).await;
        let store = StoreHandle::open(path, password.bytes()).await?;
        store.close().await?;
        let dir = self.profile_dir(name);
        tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir))
            .await
            .map_err(|_| Error::Bug("delete task failed"))?
            .map_err(|source| Error::Io {
                action: "deleting the profile",
                source,
            })
    }

    /// Drop `text` into the inbox at `link` without any profile: over
    /// `net` (TCP: dial-only; Tor: the client for that network), as a
    /// one-time identity made for this one message (`docs/protocol.md`
    /// § 11). Anonymous only over Tor.
    pub async fn drop_message(
        &self,
        net: &crate::model::Network,
        link: &kith_core::InboxLink,
        text: &str,
    ) -> Result<()> {
        crate::inbox::drop_anonymously(&self.inner, net, link, text).await
    }

    /// Lock every profile and stop Tor, in that order.
    pub async fn shutdown(&self) {
        let all: Vec<Profile> = self.lock_profiles().drain().map(|(_, p)| p).collect();
        for p in all {
            p.shutdown().await;
        }
        let clients: Vec<TorRuntime> = self
            .inner
            .tor
            .lock()
            .await
            .drain()
            .map(|(_, t)| t)
            .collect();
        for tor in clients {
            tor.shutdown().await;
        }
    }
}

/// What makes two Tor networks the same one: the arti TOML (`None` for
/// public Tor) and the set of bridges. A profile with bridges never shares a
/// client (or its guards, which are the bridges) with one without.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct TorKey {
    extra_toml: Option<String>,
    /// Sorted, without duplicates: the order of bridges does not matter.
    bridges: Vec<BridgeLine>,
}

impl TorKey {
    fn new(extra_toml: Option<String>, bridges: &[BridgeLine]) -> Self {
        let mut bridges = bridges.to_vec();
        bridges.sort();
        bridges.dedup();
        TorKey {
            extra_toml,
            bridges,
        }
    }

    /// The directory (under the data directory) of this network's Tor
    /// client: `tor` for the public Tor network, `tor-custom-<digest>` for
    /// an arti TOML, `tor-bridges-<digest>` with bridges, so two networks
    /// never share guards, state or a cache.
    fn dir_name(&self) -> String {
        use sha2::Digest as _;
        let hex = |d: &[u8]| -> String { d.iter().take(8).map(|b| format!("{b:02x}")).collect() };
        match (&self.extra_toml, self.bridges.is_empty()) {
            (None, true) => "tor".to_owned(),
            (Some(toml), true) => format!("tor-custom-{}", hex(&sha2::Sha256::digest(toml))),
            (toml, false) => {
                // Length-prefixed fields: no two keys hash the same input.
                let mut h = sha2::Sha256::new();
                let mut field = |b: &[u8]| {
                    h.update((b.len() as u64).to_be_bytes());
                    h.update(b);
                };
                field(if toml.is_some() { b"toml" } else { b"" });
                field(toml.as_deref().unwrap_or_default().as_bytes());
                for b in &self.bridges {
                    field(b.as_str().as_bytes());
                }
                format!("tor-bridges-{}", hex(&h.finalize()))
            }
        }
    }
}

impl KithInner {
    /// The Tor client for the network a profile names, started on first use.
    ///
    /// Profiles that name the same network (the public Tor network, or the
    /// same arti TOML, with the same bridges) share one client, each with its
    /// own stream isolation. A profile that names another network gets a
    /// client of its own, with its own state and cache directories: a
    /// profile goes online on exactly the network its settings name, never
    /// on one another profile chose (docs/architecture.md, "One Tor client
    /// per network").
    pub(crate) async fn tor(
        &self,
        extra_toml: Option<String>,
        bridges: &[BridgeLine],
    ) -> Result<TorRuntime> {
        let key = TorKey::new(extra_toml, bridges);
        let mut clients = self.tor.lock().await;
        if let Some(t) = clients.get(&key) {
            return Ok(t.clone());
        }
        let base = self.config.data_dir.join(key.dir_name());
        create_private_dir(&base)?;
        let settings = TorSettings {
            state_dir: base.join("state"),
            cache_dir: base.join("cache"),
            extra_toml: key.extra_toml.clone(),
            bridges: key.bridges.clone(),
        };
        let rt = TorRuntime::start(settings).await?;
        clients.insert(key, rt.clone());
        Ok(rt)
    }
}

/// Create a directory (and parents) readable by the owner only.
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|source| Error::Io {
        action: "creating a directory",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_network_has_its_own_tor_directory() {
        let dir = |toml: Option<&str>, bridges: &[BridgeLine]| {
            TorKey::new(toml.map(str::to_owned), bridges).dir_name()
        };
        assert_eq!(dir(None, &[]), "tor");
        let a = dir(Some("[tor_network]\nfallback_caches = []\n"), &[]);
        let b = dir(Some("[tor_network]\n"), &[]);
        assert!(a.starts_with("tor-custom-") && b.starts_with("tor-custom-"));
        assert_ne!(a, b);
        assert_eq!(a, dir(Some("[tor_network]\nfallback_caches = []\n"), &[]));
        // The digest of a TOML alone is what it was before bridges: the
        // directories of existing profiles keep their guards.
        assert_eq!(dir(Some("x"), &[]), "tor-custom-2d711642b726b044");
    }

    #[test]
    fn bridges_make_another_network() {
        let line = |s: &str| -> BridgeLine { s.parse().unwrap() };
        let b1 = line("127.0.0.1:5000 0123456789ABCDEF0123456789ABCDEF01234567");
        let b2 = line("127.0.0.1:5001 89ABCDEF0123456789ABCDEF0123456789ABCDEF");
        let toml = Some("[path_rules]\n".to_owned());
        let keys = [
            TorKey::new(None, &[]),
            TorKey::new(None, std::slice::from_ref(&b1)),
            TorKey::new(None, std::slice::from_ref(&b2)),
            TorKey::new(None, &[b1.clone(), b2.clone()]),
            TorKey::new(toml.clone(), &[]),
            TorKey::new(toml.clone(), std::slice::from_ref(&b1)),
        ];
        let dirs: std::collections::HashSet<String> = keys.iter().map(TorKey::dir_name).collect();
        assert_eq!(dirs.len(), keys.len(), "{dirs:?}");
        assert!(keys[1].dir_name().starts_with("tor-bridges-"));
        assert!(keys[5].dir_name().starts_with("tor-bridges-"));
        // Order and repetition do not make another network.
        let same = TorKey::new(None, &[b2.clone(), b1.clone(), b2]);
        assert_eq!(same, keys[3]);
        assert_eq!(same.dir_name(), keys[3].dir_name());
    }
}
