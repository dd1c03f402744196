//! The engine for one data directory: its profiles and the shared Tor client.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use kith_core::{IdentityKeypair, Timestamp};
use kith_store::{KdfParams, NewProfile, StoreHandle};
use kith_transport::{TorRuntime, TorSettings};

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
    /// [`KithInner::tor`]); keyed by the arti TOML, `None` for public Tor.
    tor: tokio::sync::Mutex<HashMap<Option<String>, TorRuntime>>,
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

impl KithInner {
    /// The Tor client for the network a profile names, started on first use.
    ///
    /// Profiles that name the same network (the public Tor network, or the
    /// same arti TOML) share one client, each with its own stream isolation.
    /// A profile that names another network gets a client of its own, with
    /// its own state and cache directories: a profile goes online on exactly
    /// the network its settings name, never on one another profile chose
    /// (docs/architecture.md, "One Tor client per network").
    pub(crate) async fn tor(&self, extra_toml: Option<String>) -> Result<TorRuntime> {
        let mut clients = self.tor.lock().await;
        if let Some(t) = clients.get(&extra_toml) {
            return Ok(t.clone());
        }
        let base = self
            .config
            .data_dir
            .join(tor_dir_name(extra_toml.as_deref()));
        create_private_dir(&base)?;
        let settings = TorSettings {
            state_dir: base.join("state"),
            cache_dir: base.join("cache"),
            extra_toml: extra_toml.clone(),
        };
        let rt = TorRuntime::start(settings).await?;
        clients.insert(extra_toml, rt.clone());
        Ok(rt)
    }
}

/// The directory (under the data directory) of the Tor client for a
/// network: `tor` for the public Tor network, `tor-custom-<digest>` for an
/// arti TOML, so two networks never share guards, state or a cache.
fn tor_dir_name(extra_toml: Option<&str>) -> String {
    use sha2::Digest as _;
    match extra_toml {
        None => "tor".to_owned(),
        Some(toml) => {
            let digest = sha2::Sha256::digest(toml.as_bytes());
            let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("tor-custom-{hex}")
        }
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
        assert_eq!(tor_dir_name(None), "tor");
        let a = tor_dir_name(Some("[tor_network]\nfallback_caches = []\n"));
        let b = tor_dir_name(Some("[tor_network]\n"));
        assert!(a.starts_with("tor-custom-") && b.starts_with("tor-custom-"));
        assert_ne!(a, b);
        assert_eq!(
            a,
            tor_dir_name(Some("[tor_network]\nfallback_caches = []\n"))
        );
    }
}
