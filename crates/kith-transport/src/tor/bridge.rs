//! Bridges: Tor relays that are not in the network's directory, for people
//! whose network blocks Tor's relays; optionally reached through a
//! pluggable transport (obfs4) that makes the connection not look like Tor.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use arti_client::config::pt::TransportConfigBuilder;
use arti_client::config::{BridgeConfigBuilder, CfgPath, PtTransportName, TorClientConfigBuilder};
use tor_config::BoolOrAuto;

use crate::Error;

/// Longest bridge line accepted (an obfs4 line is about 200 bytes).
pub const MAX_BRIDGE_LINE: usize = 1024;

/// Pluggable transports Kith starts by itself, and the programs (searched
/// in `PATH`, then in the system's binary directories) that provide them.
/// Any other transport needs its own `[[bridges.transports]]` in the
/// caller's arti TOML.
const PT_PROGRAMS: &[(&str, &[&str])] = &[("obfs4", &["obfs4proxy", "lyrebird"])];

/// Where programs are looked for after `PATH` (a desktop session may start
/// the app with a short `PATH`).
const SYSTEM_BIN_DIRS: &[&str] = &["/usr/bin", "/usr/local/bin", "/usr/sbin"];

/// One bridge, as a bridge line: `[transport] IP:ORPort fingerprint [k=v …]`
/// (the word `Bridge` in front, as in a torrc, is accepted and dropped).
///
/// Parsing checks the line with arti's own parser, so a line Kith accepts
/// is one arti accepts; the stored form is arti's canonical one. `Debug`
/// names the transport only: a bridge's address is what a censor wants.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BridgeLine {
    /// arti's canonical form of the line.
    line: String,
    /// The pluggable transport it needs (`None`: a plain bridge).
    transport: Option<String>,
}

impl BridgeLine {
    /// The pluggable transport this bridge needs (`"obfs4"`), if any.
    pub fn transport(&self) -> Option<&str> {
        self.transport.as_deref()
    }

    /// The line, in arti's canonical form.
    pub fn as_str(&self) -> &str {
        &self.line
    }

    /// arti's builder for this bridge.
    fn builder(&self) -> Result<BridgeConfigBuilder, Error> {
        self.line.parse().map_err(|e| Error::BadBridge {
            reason: describe(&e),
        })
    }
}

impl FromStr for BridgeLine {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::BadBridge { reason };
        let s = s.trim();
        if s.is_empty() {
            return Err(bad("the bridge line is empty".into()));
        }
        if s.len() > MAX_BRIDGE_LINE {
            return Err(bad(format!(
                "a bridge line has at most {MAX_BRIDGE_LINE} bytes"
            )));
        }
        if s.chars().any(char::is_control) {
            return Err(bad("one bridge per line: no line breaks or controls".into()));
        }
        let builder: BridgeConfigBuilder = s.parse().map_err(|e| bad(describe(&e)))?;
        let built = builder.build().map_err(|e| bad(describe(&e)))?;
        let transport = builder
            .get_transport()
            .filter(|t| !t.is_empty() && *t != "-" && !t.eq_ignore_ascii_case("bridge"))
            .map(str::to_owned);
        Ok(BridgeLine {
            line: built.to_string(),
            transport,
        })
    }
}

impl fmt::Display for BridgeLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line)
    }
}

impl fmt::Debug for BridgeLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.transport {
            Some(t) => write!(f, "BridgeLine({t}, ..)"),
            None => f.write_str("BridgeLine(..)"),
        }
    }
}

impl serde::Serialize for BridgeLine {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.line)
    }
}

impl<'de> serde::Deserialize<'de> for BridgeLine {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Make `builder` reach Tor only through `bridges` (nothing to do when
/// there are none): bridges on, each line added to those the caller's
/// TOML may already list, and for each pluggable transport they need that
/// the TOML does not provide, the program `find` names.
pub(crate) fn apply(
    builder: &mut TorClientConfigBuilder,
    bridges: &[BridgeLine],
    find: impl Fn(&str) -> Option<PathBuf>,
) -> Result<(), Error> {
    if bridges.is_empty() {
        return Ok(());
    }
    let cfg = builder.bridges();
    cfg.enabled(BoolOrAuto::Explicit(true));
    for b in bridges {
        cfg.bridges().push(b.builder()?);
    }
    let mut needed: Vec<&str> = bridges.iter().filter_map(BridgeLine::transport).collect();
    needed.sort_unstable();
    needed.dedup();
    for name in needed {
        let protocol: PtTransportName = name.parse().map_err(|e| Error::BadBridge {
            reason: format!("transport {name:?}: {e}"),
        })?;
        let provided = cfg
            .transports()
            .iter()
            .any(|t| t.get_protocols().contains(&protocol));
        if provided {
            continue;
        }
        let programs = PT_PROGRAMS
            .iter()
            .find(|(p, _)| *p == name)
            .map(|(_, programs)| *programs)
            .ok_or_else(|| Error::MissingTransport {
                transport: name.to_owned(),
                hint: "Kith starts obfs4 only: name the program for this one in the \
                       arti TOML ([[bridges.transports]])"
                    .into(),
            })?;
        let path =
            programs
                .iter()
                .find_map(|p| find(p))
                .ok_or_else(|| Error::MissingTransport {
                    transport: name.to_owned(),
                    hint: format!(
                        "install {} (Debian: apt install obfs4proxy)",
                        programs.join(" or ")
                    ),
                })?;
        let mut t = TransportConfigBuilder::default();
        t.protocols(vec![protocol])
            .path(CfgPath::new_literal(path))
            .run_on_startup(false);
        cfg.transports().push(t);
    }
    Ok(())
}

/// An executable named `name` in `PATH` or the system's binary directories.
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(SYSTEM_BIN_DIRS.iter().map(PathBuf::from))
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// arti's error with its causes.
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const PLAIN: &str = "127.0.0.1:5000 0123456789ABCDEF0123456789ABCDEF01234567";
    const OBFS4: &str = "Bridge obfs4 192.0.2.55:38114 316E643333645F6D79216558614D3931657A5F5F \
        cert=YXJlIGZyZXF1ZW50bHkgZnVsbCBvZiBsaXR0bGUgbWVzc2FnZXMgeW91IGNhbiBmaW5kLg iat-mode=0";

    #[test]
    fn lines_parse_to_arti_canonical_form_and_back() {
        let plain: BridgeLine = PLAIN.parse().unwrap();
        assert_eq!(plain.transport(), None);
        let again: BridgeLine = plain.as_str().parse().unwrap();
        assert_eq!(again, plain);
        let with_word: BridgeLine = format!("  Bridge {PLAIN}\n").parse().unwrap();
        assert_eq!(with_word, plain);

        let obfs4: BridgeLine = OBFS4.parse().unwrap();
        assert_eq!(obfs4.transport(), Some("obfs4"));
        assert!(
            obfs4.as_str().starts_with("obfs4 192.0.2.55:38114 "),
            "{obfs4}"
        );
        assert!(obfs4.as_str().contains("iat-mode=0"), "{obfs4}");
        assert_eq!(obfs4.as_str().parse::<BridgeLine>().unwrap(), obfs4);
        // Debug does not show the address.
        assert_eq!(format!("{obfs4:?}"), "BridgeLine(obfs4, ..)");
        assert!(!format!("{plain:?}").contains("127.0.0.1"));

        let json = serde_json_like(&obfs4);
        assert_eq!(json, obfs4.as_str());
    }

    /// Serialize through serde's string path (postcard is kith-node's).
    fn serde_json_like(b: &BridgeLine) -> String {
        let v = toml::Value::try_from(std::collections::BTreeMap::from([("b", b)])).unwrap();
        let back: std::collections::BTreeMap<String, BridgeLine> = v.clone().try_into().unwrap();
        assert_eq!(&back["b"], b);
        v["b"].as_str().unwrap().to_owned()
    }

    #[test]
    fn bad_lines_are_typed_errors() {
        for bad in [
            "",
            "   ",
            "Bridge",
            "garbage",
            "127.0.0.1:5000",
            "127.0.0.1 0123456789ABCDEF0123456789ABCDEF01234567",
            "300.0.0.1:5000 0123456789ABCDEF0123456789ABCDEF01234567",
            "127.0.0.1:5000 0123456789ABCDEF",
            "127.0.0.1:5000 0123456789ABCDEF0123456789ABCDEF01234567 key=value",
            "obfs4 127.0.0.1:5000 0123456789ABCDEF0123456789ABCDEF01234567 novalue",
            "obfs4! 127.0.0.1:5000 0123456789ABCDEF0123456789ABCDEF01234567",
            "127.0.0.1:5000 0123456789ABCDEF0123456789ABCDEF01234567\n127.0.0.1:5001 0123456789ABCDEF0123456789ABCDEF01234567",
        ] {
            let e = bad.parse::<BridgeLine>().unwrap_err();
            assert!(matches!(e, Error::BadBridge { .. }), "{bad:?}: {e}");
            assert_eq!(e.kind(), kith_core::ErrorKind::BadLocalInput);
            assert!(e.to_string().starts_with("invalid bridge line"), "{e}");
        }
        let long = format!("{PLAIN} {}", "x".repeat(MAX_BRIDGE_LINE));
        assert!(long.parse::<BridgeLine>().is_err());
    }

    fn built(bridges: &[BridgeLine], toml: &str, have: &[&str]) -> Result<String, Error> {
        let mut b: TorClientConfigBuilder = toml::from_str(toml).unwrap();
        let have: Vec<String> = have.iter().map(|s| (*s).to_owned()).collect();
        apply(&mut b, bridges, |p| {
            have.contains(&p.to_owned())
                .then(|| PathBuf::from("/opt/pt").join(p))
        })?;
        b.build()
            .map(|c| bridges_part(&format!("{c:?}")))
            .map_err(|e| Error::TorConfig {
                reason: e.to_string(),
            })
    }

    /// The `bridges: BridgesConfig { … }` part of a configuration's `Debug`.
    pub(crate) fn bridges_part(dbg: &str) -> String {
        let start = dbg
            .find("bridges: BridgesConfig")
            .expect("a bridges section");
        let end = dbg[start..]
            .find(", channel:")
            .map_or(dbg.len(), |e| start + e);
        dbg[start..end].to_owned()
    }

    #[test]
    fn bridges_are_enabled_with_the_transport_they_need() {
        let plain: BridgeLine = PLAIN.parse().unwrap();
        let obfs4: BridgeLine = OBFS4.parse().unwrap();

        let none = built(&[], "", &[]).unwrap();
        assert_eq!(
            none,
            "bridges: BridgesConfig { enabled: Auto, bridges: [], transports: [] }"
        );

        let dbg = built(std::slice::from_ref(&plain), "", &[]).unwrap();
        assert!(dbg.contains("enabled: Explicit(true)"), "{dbg}");
        assert!(dbg.contains("127.0.0.1:5000"), "{dbg}");
        assert!(
            !dbg.contains("/opt/pt"),
            "no transport for a plain bridge: {dbg}"
        );

        let dbg = built(&[plain.clone(), obfs4.clone()], "", &["lyrebird"]).unwrap();
        assert!(dbg.contains("/opt/pt/lyrebird"), "{dbg}");
        let dbg = built(
            std::slice::from_ref(&obfs4),
            "",
            &["obfs4proxy", "lyrebird"],
        )
        .unwrap();
        assert!(dbg.contains("/opt/pt/obfs4proxy"), "first choice: {dbg}");

        // No program: a clear error before anything starts.
        let e = built(std::slice::from_ref(&obfs4), "", &[]).unwrap_err();
        assert!(matches!(e, Error::MissingTransport { .. }), "{e}");
        assert_eq!(e.kind(), kith_core::ErrorKind::BadLocalInput);
        assert!(e.to_string().contains("obfs4proxy"), "{e}");

        // The caller's TOML names its own program: that one is used.
        let own = "[[bridges.transports]]\nprotocols = [\"obfs4\"]\npath = \"/home/u/obfs4\"\n";
        let dbg = built(std::slice::from_ref(&obfs4), own, &[]).unwrap();
        assert!(
            dbg.contains("/home/u/obfs4") && !dbg.contains("/opt/pt"),
            "{dbg}"
        );

        // Bridges the TOML lists stay, ours are added.
        let listed = format!("[bridges]\nbridges = [\"{PLAIN}\"]\n");
        let other: BridgeLine = "127.0.0.1:6000 89ABCDEF0123456789ABCDEF0123456789ABCDEF"
            .parse()
            .unwrap();
        let dbg = built(&[other], &listed, &[]).unwrap();
        assert!(dbg.contains("5000") && dbg.contains("6000"), "{dbg}");

        // A transport Kith does not know is refused with what to do.
        let snow: BridgeLine = "snowflake 192.0.2.3:80 2B280B23E1107BB62ABFC40DDCC8824814F80A72 url=https://x.invalid/"
            .parse()
            .unwrap();
        let e = built(&[snow], "", &["snowflake-client"]).unwrap_err();
        assert!(e.to_string().contains("[[bridges.transports]]"), "{e}");
    }

    #[test]
    fn programs_are_found_by_name_only_when_executable() {
        assert!(find_program("sh").is_some_and(|p| p.is_absolute()));
        assert!(find_program("no-such-program-kith").is_none());
    }
}
