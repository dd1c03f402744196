//! arti's configuration for Kith: Kith's defaults, the caller's arti TOML
//! merged over them exactly as arti merges its own configuration files, the
//! caller's bridges, and the storage settings Kith alone decides.

use arti_client::TorClientConfig;
use arti_client::config::{CfgPath, TorClientConfigBuilder};
use tor_config::load::{ConfigResolveOptions, TopLevel};
use tor_config::sources::MustRead;
use tor_config::{ConfigBuildError, ConfigurationSource, ConfigurationSources};
use tracing::warn;

use super::TorSettings;
use crate::Error;

/// Kith's defaults, in arti's own TOML.
///
/// The keystore is ephemeral: arti keeps onion-service keys in memory only,
/// and never writes them under `state_dir`.
const KITH_DEFAULTS: &str = r#"
[storage.keystore]
enabled = true

[storage.keystore.primary]
kind = "ephemeral"
"#;

/// Top-level tables of arti's configuration that Kith owns: a caller's TOML
/// may not set them (it could move state, or make arti write keys to disk).
const RESERVED: &[&str] = &["storage"];

/// Build the client configuration: Kith defaults < `extra_toml` < bridges
/// (added to any the TOML lists) < storage.
pub(crate) fn client_config(settings: &TorSettings) -> Result<TorClientConfig, Error> {
    let mut sources = ConfigurationSources::new_empty();
    sources.push_source(
        ConfigurationSource::from_verbatim(KITH_DEFAULTS.to_owned()),
        MustRead::MustRead,
    );
    if let Some(extra) = &settings.extra_toml {
        check_reserved(extra)?;
        sources.push_source(
            ConfigurationSource::from_verbatim(extra.clone()),
            MustRead::MustRead,
        );
    }
    let tree = sources.load().map_err(|e| Error::TorConfig {
        reason: e.to_string(),
    })?;
    let resolved =
        tor_config::resolve_return_results::<Unbuilt>(&tree, &ConfigResolveOptions::default())
            .map_err(|e| Error::TorConfig {
                reason: describe(&e),
            })?;
    if !resolved.unrecognized.is_empty() {
        let keys: Vec<String> = resolved
            .unrecognized
            .iter()
            .map(ToString::to_string)
            .collect();
        return Err(Error::TorConfig {
            reason: format!("unknown key(s): {}", keys.join(", ")),
        });
    }
    for key in &resolved.deprecated {
        warn!("deprecated arti configuration key: {key}");
    }
    let mut builder = resolved.value.0;
    builder
        .storage()
        .state_dir(CfgPath::new_literal(settings.state_dir.clone()))
        .cache_dir(CfgPath::new_literal(settings.cache_dir.clone()));
    super::bridge::apply(&mut builder, &settings.bridges, super::bridge::find_program)?;
    builder.build().map_err(|e| Error::TorConfig {
        reason: e.to_string(),
    })
}

/// Refuse TOML that is not TOML, or that sets what Kith owns.
fn check_reserved(extra: &str) -> Result<(), Error> {
    let table: toml::Table = extra
        .parse()
        .map_err(|e: toml::de::Error| Error::TorConfig {
            reason: format!("not valid TOML: {}", e.message()),
        })?;
    for key in RESERVED {
        if table.contains_key(*key) {
            return Err(Error::TorConfig {
                reason: format!("[{key}] is set by Kith and may not be configured"),
            });
        }
    }
    Ok(())
}

/// arti's error with its causes: the outer message alone says little.
fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The client's configuration builder, resolved through arti's loader
/// (which reports unknown keys) but not yet built, so that Kith can set the
/// storage paths as literal paths rather than as TOML strings.
struct Unbuilt(TorClientConfigBuilder);

/// The deserializable half of [`Unbuilt`].
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
struct UnbuiltBuilder(TorClientConfigBuilder);

impl TopLevel for Unbuilt {
    type Builder = UnbuiltBuilder;
}

impl tor_config::load::Builder for UnbuiltBuilder {
    type Built = Unbuilt;
    fn build(&self) -> Result<Unbuilt, ConfigBuildError> {
        Ok(Unbuilt(self.0.clone()))
    }
}

impl tor_config::load::ConfigBuilder for UnbuiltBuilder {
    fn apply_defaults(&mut self) -> Result<(), ConfigBuildError> {
        tor_config::load::ConfigBuilder::apply_defaults(&mut self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn settings(extra: Option<&str>) -> TorSettings {
        TorSettings {
            state_dir: PathBuf::from("/nonexistent/kith/state"),
            cache_dir: PathBuf::from("/nonexistent/kith/cache"),
            extra_toml: extra.map(str::to_owned),
            bridges: vec![],
        }
    }

    /// The shape of the private test network's TOML (`kith_tests::tornet`).
    const TESTNET: &str = r#"
[tor_network]
fallback_caches = [
  { rsa_identity = "0123456789ABCDEF0123456789ABCDEF01234567", ed_identity = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", orports = ["127.0.0.1:5000"] },
]
[tor_network.authorities]
v3idents = [ "89ABCDEF0123456789ABCDEF0123456789ABCDEF" ]
uploads = [ ["127.0.0.1:5001"] ]
downloads = [ ["127.0.0.1:5001"] ]
votes = [ ["127.0.0.1:5001"] ]
[path_rules]
ipv4_subnet_family_prefix = 33
ipv6_subnet_family_prefix = 129
[address_filter]
allow_local_addrs = true
[override_net_params]
hsdir_interval = 8
"#;

    #[test]
    fn defaults_are_ephemeral_and_use_our_dirs() {
        let cfg = client_config(&settings(None)).unwrap();
        let dbg = format!("{cfg:?}");
        assert!(dbg.contains("Ephemeral"), "{dbg}");
        assert!(dbg.contains("/nonexistent/kith/state"));
        assert!(dbg.contains("/nonexistent/kith/cache"));
    }

    #[test]
    fn test_network_toml_is_merged() {
        let cfg = client_config(&settings(Some(TESTNET))).unwrap();
        let dbg = format!("{cfg:?}");
        assert!(dbg.contains("Ephemeral"), "Kith defaults survive the merge");
        assert!(dbg.contains("127.0.0.1:5000"), "fallbacks taken");
        assert!(dbg.contains("hsdir_interval"), "net params taken");
    }

    #[test]
    fn unknown_key_rejected() {
        for bad in [
            "[path_rules]\nno_such_rule = 1\n",
            "[no_such_table]\nx = 1\n",
            "top_level_typo = true\n",
        ] {
            let e = client_config(&settings(Some(bad))).unwrap_err();
            assert!(matches!(e, Error::TorConfig { .. }), "{bad}: {e}");
            assert_eq!(e.kind(), kith_core::ErrorKind::BadLocalInput);
            assert!(e.to_string().contains("unknown key"), "{e}");
        }
    }

    #[test]
    fn bad_values_rejected() {
        for bad in [
            "[path_rules]\nipv4_subnet_family_prefix = \"wide\"\n",
            "[address_filter]\nallow_local_addrs = 3\n",
            "[path_rules]\nipv4_subnet_family_prefix = 99999\n",
            "[tor_network]\nfallback_caches = [ { rsa_identity = \"nothex\" } ]\n",
            "this is not toml",
        ] {
            let e = client_config(&settings(Some(bad))).unwrap_err();
            assert!(matches!(e, Error::TorConfig { .. }), "{bad}: {e}");
        }
    }

    /// The arti TOML route to bridges works as arti documents it, and
    /// Kith's bridges come on top of a test network's TOML.
    #[test]
    fn bridges_from_toml_or_settings() {
        const LINE: &str = "127.0.0.1:5000 0123456789ABCDEF0123456789ABCDEF01234567";
        let toml = format!("{TESTNET}\n[bridges]\nenabled = true\nbridges = [\"{LINE}\"]\n");
        let part = |s: &TorSettings| {
            super::super::bridge::tests::bridges_part(&format!("{:?}", client_config(s).unwrap()))
        };
        let dbg = part(&settings(Some(&toml)));
        assert!(dbg.contains("127.0.0.1:5000"), "{dbg}");
        // enabled without bridges: arti's own error.
        let e = client_config(&settings(Some("[bridges]\nenabled = true\n"))).unwrap_err();
        assert!(matches!(e, Error::TorConfig { .. }), "{e}");

        let mut s = settings(Some(TESTNET));
        s.bridges = vec![LINE.parse().unwrap()];
        let dbg = part(&s);
        assert!(dbg.contains("127.0.0.1:5000"), "{dbg}");
        assert!(dbg.contains("enabled: Explicit(true)"), "{dbg}");
        let all = format!("{:?}", client_config(&s).unwrap());
        assert!(all.contains("hsdir_interval"), "the TOML still applies");
    }

    #[test]
    fn storage_is_ours() {
        for bad in [
            "[storage.keystore.primary]\nkind = \"native\"\n",
            "[storage]\nstate_dir = \"/tmp/elsewhere\"\n",
        ] {
            let e = client_config(&settings(Some(bad))).unwrap_err();
            assert!(e.to_string().contains("[storage]"), "{e}");
        }
    }
}
