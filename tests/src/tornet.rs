//! A private Tor network on 127.0.0.1, started and stopped by the test suite.
//!
//! Debian's C tor (`scripts/ensure-tor.sh` installs it): 3 directory
//! authorities that are also exits for `127.0.0.0/8` (and for
//! [`TorNet::exit_port`]: see there), 4 plain relays and one
//! client node with a SOCKS port, all on 127.0.0.1 and nowhere else. The
//! `DirAuthority` lines replace the public authorities, so nothing leaves the
//! machine. See `/work/shared/recipes/tor-test-network.md` for where each
//! setting comes from.
//!
//! Every tor process gets `__OwningControllerProcess <our pid>`, so it exits by
//! itself if the test process dies without running [`Drop`]; the directory of
//! such a dead run is removed by the next [`TorNet::start`].
//!
//! Suites share one network per test process ([`TorNet::shared`]): a network
//! takes half a minute and seven tor processes to start, and the machine CI
//! runs on has two cores. Only a suite that needs a network of its own (one
//! that is not up yet when its nodes start) starts one.

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// Directory authorities (also relays and exits).
const AUTHORITIES: usize = 3;
/// Plain relays.
const RELAYS: usize = 4;
/// Ports per network: OR + Dir for each relay, SOCKS for the client node,
/// and the exits' port ([`TorNet::exit_port`]).
const PORTS: u16 = 2 * (AUTHORITIES + RELAYS) as u16 + 2;
/// How long [`TorNet::start`] waits for the network.
const READY_TIMEOUT: Duration = Duration::from_secs(150);
/// Attempts with a fresh port block when a tor cannot bind.
const ATTEMPTS: usize = 3;
/// Prefix of our directories under [`std::env::temp_dir`].
const DIR_PREFIX: &str = "kith-tornet-";
/// File inside the directory holding the owning process id.
const OWNER_FILE: &str = "owner.pid";
/// Log lines of each node quoted in errors.
const LOG_TAIL: usize = 8;

/// Settings every node of the network shares.
const COMMON_TORRC: &str = "\
TestingTorNetwork 1
AssumeReachable 1
PathsNeededToBuildCircuits 0.25
TestingDirAuthVoteExit *
TestingDirAuthVoteGuard *
TestingDirAuthVoteHSDir *
TestingMinExitFlagThreshold 0
V3AuthNIntervalsValid 2
RunAsDaemon 0
ShutdownWaitLength 0
ContactInfo x@test.invalid
";

/// Authority settings: a 20 s voting cycle, exit to 127.0.0.0/8 (the exit
/// policy's last lines, with the exit port, are added per network).
const AUTHORITY_TORRC: &str = "\
AuthoritativeDirectory 1
V3AuthoritativeDirectory 1
TestingV3AuthInitialVotingInterval 20
TestingV3AuthInitialVoteDelay 4
TestingV3AuthInitialDistDelay 4
V3AuthVotingInterval 20
V3AuthVoteDelay 4
V3AuthDistDelay 4
ExitRelay 1
ExitPolicyRejectPrivate 0
ExitPolicy accept 127.0.0.0/8:*
";

/// Plain relay settings.
const RELAY_TORRC: &str = "\
ExitRelay 0
ExitPolicy reject *:*
TestingServerDownloadInitialDelay 0
TestingServerConsensusDownloadInitialDelay 0
";

/// A directory authority, as clients must be told about it.
#[derive(Debug, Clone)]
struct Authority {
    /// ORPort on 127.0.0.1.
    or_port: u16,
    /// DirPort on 127.0.0.1.
    dir_port: u16,
    /// RSA identity fingerprint, 40 hex digits.
    rsa: String,
    /// v3 authority identity (the `fingerprint` of its certificate).
    v3ident: String,
    /// ed25519 identity, unpadded base64 (known after the first start).
    ed25519: String,
}

/// One running tor process.
#[derive(Debug)]
struct Node {
    /// Nickname, for messages.
    name: String,
    /// Its log file.
    log: PathBuf,
    /// The process.
    child: Child,
}

/// A running private Tor network; dropping it stops every tor it started and
/// removes its directory.
#[derive(Debug)]
pub struct TorNet {
    /// Nodes, in start order (more may be added by [`TorNet::start_node`]).
    nodes: Mutex<Vec<Node>>,
    /// The authorities.
    authorities: Vec<Authority>,
    /// SOCKS port of the client node.
    socks_port: u16,
    /// See [`TorNet::exit_port`].
    exit_port: u16,
    /// When the start began.
    started: Instant,
    /// How long until the first consensus was served.
    elapsed_first_consensus: Duration,
    /// How long [`TorNet::start`] (or [`TorNet::wait_ready`]) took; zero until then.
    elapsed_ready: Duration,
    /// Lines naming the authorities, for extra nodes.
    dir_authority_lines: String,
    /// [`TorNet::arti_toml`] in a file (written once, before anyone reads it).
    arti_config: PathBuf,
    /// Last field: dropped after the processes are stopped.
    dir: tempfile::TempDir,
}

/// A progress line on stderr (test output; cargo shows it on failure or with `--nocapture`).
#[allow(clippy::print_stderr)]
fn progress(msg: &str) {
    eprintln!("tornet: {msg}");
}

impl TorNet {
    /// The network every suite of this test process shares, started by the
    /// first suite that asks (the others wait for it) and ready
    /// ([`TorNet::start`]). It is never dropped: its tor processes exit with
    /// the test process (`__OwningControllerProcess`), and the next start
    /// removes its directory. Suites on it must pick node names of their own
    /// for [`TorNet::start_node`]. If the start fails, the next caller tries
    /// again.
    pub fn shared() -> io::Result<&'static TorNet> {
        static SHARED: OnceLock<TorNet> = OnceLock::new();
        static STARTING: Mutex<()> = Mutex::new(());
        if let Some(net) = SHARED.get() {
            return Ok(net);
        }
        let _one_at_a_time = STARTING.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(net) = SHARED.get() {
            return Ok(net);
        }
        let net = Self::start()?;
        Ok(SHARED.get_or_init(|| net))
    }

    /// Start the network; blocks until every authority serves a consensus
    /// that lists all 7 relays with the `HSDir` flag and the client node has
    /// bootstrapped (the client starts only then). Retries with other ports if a tor cannot bind.
    pub fn start() -> io::Result<TorNet> {
        let mut net = Self::start_early()?;
        net.wait_ready()?;
        Ok(net)
    }

    /// Start the network and return as soon as an authority serves its
    /// *first* consensus: relays are listed (perhaps not all, without the
    /// flags clients need), so a Tor client can fetch a directory but not yet
    /// build the circuits it wants. [`TorNet::arti_toml`] is usable from
    /// here on; the client node ([`TorNet::socks_addr`]) is not started until
    /// [`TorNet::wait_ready`]. Retries with other ports if a tor cannot bind.
    pub fn start_early() -> io::Result<TorNet> {
        let started = Instant::now();
        check_tor_installed()?;
        remove_stale_dirs();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::try_start_early(started) {
                Err(StartError::PortsTaken(e)) if attempt < ATTEMPTS => {
                    progress(&format!(
                        "attempt {attempt}: {e}; retrying with other ports"
                    ));
                }
                Err(StartError::PortsTaken(e) | StartError::Io(e)) => return Err(e),
                Ok(net) => {
                    fs::write(&net.arti_config, net.arti_toml())?;
                    return Ok(net);
                }
            }
        }
    }

    /// Block until the network is fully up, as [`TorNet::start`] leaves it:
    /// every authority serves a consensus listing all 7 relays as `HSDir`,
    /// and the client node has bootstrapped. Does nothing the second time.
    pub fn wait_ready(&mut self) -> io::Result<()> {
        if !self.elapsed_ready.is_zero() {
            return Ok(());
        }
        self.finish_start().map_err(|e| match e {
            StartError::PortsTaken(e) | StartError::Io(e) => e,
        })
    }

    /// One attempt on one fresh port block and directory, up to the first consensus.
    fn try_start_early(started: Instant) -> Result<TorNet, StartError> {
        let dir = tempfile::Builder::new().prefix(DIR_PREFIX).tempdir()?;
        fs::write(dir.path().join(OWNER_FILE), std::process::id().to_string())?;
        let base = free_port_block(PORTS)?;
        let port = |i: usize| base + u16::try_from(i).unwrap_or(u16::MAX);
        // Ports: authorities and relays get (OR, Dir) pairs, the client the last one.
        let socks_port = port(2 * (AUTHORITIES + RELAYS));
        let exit_port = port(2 * (AUTHORITIES + RELAYS) + 1);

        let mut authorities = Vec::with_capacity(AUTHORITIES);
        let mut gencerts = Vec::with_capacity(AUTHORITIES);
        for i in 0..AUTHORITIES {
            let keys = dir.path().join(format!("auth{i}")).join("keys");
            private_dir(&keys)?;
            let (or_port, dir_port) = (port(2 * i), port(2 * i + 1));
            let mut child = Command::new("tor-gencert")
                .current_dir(&keys)
                .args(["--create-identity-key", "-m", "12", "-a"])
                .arg(format!("127.0.0.1:{dir_port}"))
                .args(["--passphrase-fd", "0", "-i", "authority_identity_key"])
                .args(["-s", "authority_signing_key", "-c", "authority_certificate"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()?;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(b"\n")?;
            }
            gencerts.push((child, keys));
            authorities.push(Authority {
                or_port,
                dir_port,
                rsa: String::new(),
                v3ident: String::new(),
                ed25519: String::new(),
            });
        }
        for ((child, keys), auth) in gencerts.into_iter().zip(&mut authorities) {
            let out = child.wait_with_output()?;
            if !out.status.success() {
                return Err(io::Error::other(format!(
                    "tor-gencert failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ))
                .into());
            }
            let cert = fs::read_to_string(keys.join("authority_certificate"))?;
            auth.v3ident = cert
                .lines()
                .find_map(|l| l.strip_prefix("fingerprint "))
                .map(|f| f.trim().to_owned())
                .ok_or_else(|| io::Error::other("no fingerprint in authority_certificate"))?;
        }
        for (i, auth) in authorities.iter_mut().enumerate() {
            auth.rsa = rsa_fingerprint(&dir.path().join(format!("auth{i}")))?;
        }

        let dir_authority_lines: String =
            authorities
                .iter()
                .enumerate()
                .fold(String::new(), |mut s, (i, a)| {
                    let _ = writeln!(
                        s,
                        "DirAuthority auth{i} orport={} no-v2 v3ident={} 127.0.0.1:{} {}",
                        a.or_port, a.v3ident, a.dir_port, a.rsa
                    );
                    s
                });

        let mut net = TorNet {
            nodes: Mutex::new(Vec::new()),
            authorities,
            socks_port,
            exit_port,
            started,
            elapsed_first_consensus: Duration::ZERO,
            elapsed_ready: Duration::ZERO,
            dir_authority_lines,
            arti_config: dir.path().join("kith-arti.toml"),
            dir,
        };
        for i in 0..AUTHORITIES + RELAYS {
            let (name, role) = if i < AUTHORITIES {
                (
                    format!("auth{i}"),
                    format!(
                        "{AUTHORITY_TORRC}ExitPolicy accept *:{exit_port}\nExitPolicy reject *:*\n"
                    ),
                )
            } else {
                (format!("relay{}", i - AUTHORITIES), RELAY_TORRC.to_owned())
            };
            let ports = format!(
                "Address 127.0.0.1\nSocksPort 0\nOrPort 127.0.0.1:{}\nDirPort 127.0.0.1:{}\n",
                port(2 * i),
                port(2 * i + 1)
            );
            net.start_node(&name, &format!("{role}{ports}"))?;
        }
        progress(&format!(
            "{} relays started on 127.0.0.1:{base}..{} in {}",
            AUTHORITIES + RELAYS,
            base + PORTS - 1,
            net.dir().display()
        ));
        net.wait_for(started, "a first consensus", || {
            net.first_consensus_status()
        })?;
        net.elapsed_first_consensus = started.elapsed();
        progress(&format!(
            "first consensus served after {:.1} s",
            net.elapsed_first_consensus.as_secs_f64()
        ));
        for (i, auth) in net.authorities.iter_mut().enumerate() {
            let f =
                fs::read_to_string(net.dir.path().join(format!("auth{i}/fingerprint-ed25519")))?;
            auth.ed25519 = f
                .split_whitespace()
                .nth(1)
                .ok_or_else(|| io::Error::other("malformed fingerprint-ed25519"))?
                .to_owned();
        }
        Ok(net)
    }

    /// From the first consensus to a network ready for onion services.
    fn finish_start(&mut self) -> Result<(), StartError> {
        let (net, started, socks_port) = (&*self, self.started, self.socks_port);
        net.wait_for(started, "a consensus listing every relay as HSDir", || {
            net.consensus_status()
        })?;
        progress(&format!(
            "consensus lists all {} relays as HSDirs after {:.1} s",
            AUTHORITIES + RELAYS,
            started.elapsed().as_secs_f64()
        ));
        // The client starts only now: started earlier, it backs off while
        // there is no consensus and bootstraps up to 20 s late.
        let client_log = net
            .start_node(
                "client",
                // ExtendedErrors: onion-service failures get their own
                // SOCKS reply codes (0xF0..0xF7), which tests tell apart.
                &format!("SocksPort 127.0.0.1:{socks_port} ExtendedErrors\n"),
            )?
            .join("tor.log");
        net.wait_for(started, "the client node to bootstrap", || {
            if fs::read_to_string(&client_log).is_ok_and(|l| l.contains("Bootstrapped 100%")) {
                TcpStream::connect_timeout(&net.socks_addr(), Duration::from_secs(1))
                    .map(drop)
                    .map_err(|e| format!("SOCKS port: {e}"))
            } else {
                Err("not bootstrapped".to_owned())
            }
        })?;
        self.elapsed_ready = started.elapsed();
        progress(&format!(
            "ready after {:.1} s",
            self.elapsed_ready.as_secs_f64()
        ));
        Ok(())
    }

    /// Poll `check` until it succeeds; fail if a node exits or the start
    /// timeout passes, quoting the last reason and the logs.
    fn wait_for(
        &self,
        started: Instant,
        what: &str,
        mut check: impl FnMut() -> Result<(), String>,
    ) -> Result<(), StartError> {
        loop {
            if let Some((name, log)) = self.exited_node() {
                let e = io::Error::other(format!(
                    "tor node {name} exited while waiting for {what}\n{}",
                    self.log_tails()
                ));
                let log = fs::read_to_string(log).unwrap_or_default();
                return Err(
                    if log.contains("Could not bind") || log.contains("Address already in use") {
                        StartError::PortsTaken(e)
                    } else {
                        StartError::Io(e)
                    },
                );
            }
            let last = match check() {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if started.elapsed() > READY_TIMEOUT {
                return Err(StartError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "private Tor network not ready after {} s: still waiting for {what} ({last})\n{}",
                        READY_TIMEOUT.as_secs(),
                        self.log_tails()
                    ),
                )));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// `Ok` once some authority serves a consensus listing at least one relay.
    fn first_consensus_status(&self) -> Result<(), String> {
        let mut last = String::from("no authority");
        for a in &self.authorities {
            match http_get(a.dir_port, "/tor/status-vote/current/consensus-microdesc") {
                Ok(body) if body.lines().any(|l| l.starts_with("r ")) => return Ok(()),
                Ok(_) => last = format!("authority on DirPort {} lists no relay", a.dir_port),
                Err(e) => last = format!("authority on DirPort {}: {e}", a.dir_port),
            }
        }
        Err(last)
    }

    /// `Ok` once every authority serves a consensus listing all relays with
    /// `HSDir`; otherwise what is missing.
    fn consensus_status(&self) -> Result<(), String> {
        for a in &self.authorities {
            let body = http_get(a.dir_port, "/tor/status-vote/current/consensus-microdesc")
                .map_err(|e| format!("authority on DirPort {}: {e}", a.dir_port))?;
            let relays = body.lines().filter(|l| l.starts_with("r ")).count();
            let hsdirs = body
                .lines()
                .filter(|l| l.starts_with("s ") && l.split(' ').any(|f| f == "HSDir"))
                .count();
            if relays < AUTHORITIES + RELAYS || hsdirs < AUTHORITIES + RELAYS {
                return Err(format!(
                    "authority on DirPort {} lists {relays} relays, {hsdirs} HSDirs",
                    a.dir_port
                ));
            }
        }
        Ok(())
    }

    /// Start one more tor node of this network: not a relay, no SOCKS port
    /// unless `extra_torrc` says so, stopped with the network. `extra_torrc`
    /// is appended to its torrc (e.g. `HiddenServiceDir`/`HiddenServicePort`
    /// lines; relative paths are relative to the returned data directory).
    /// Returns its data directory; its log is `tor.log` in there. `name` is a
    /// tor nickname (1 to 19 letters and digits), unique in the network.
    pub fn start_node(&self, name: &str, extra_torrc: &str) -> io::Result<PathBuf> {
        // tor's rule for nicknames; it would exit at once on another.
        if name.is_empty() || name.len() > 19 || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name:?}: a tor nickname is 1 to 19 letters and digits"),
            ));
        }
        let data = self.dir.path().join(name);
        private_dir(&data)?;
        let log = data.join("tor.log");
        let mut torrc = format!(
            "{COMMON_TORRC}Nickname {name}\nDataDirectory {}\nLog notice file {}\n__OwningControllerProcess {}\n{}",
            data.display(),
            log.display(),
            std::process::id(),
            self.dir_authority_lines
        );
        if !extra_torrc.contains("SocksPort") {
            torrc.push_str("SocksPort 0\n");
        }
        torrc.push_str(extra_torrc);
        let torrc_path = data.join("torrc");
        fs::write(&torrc_path, torrc)?;
        let defaults = data.join("torrc-defaults");
        fs::write(&defaults, "")?;
        let out = File::create(data.join("stdout.log"))?;
        let child = Command::new("tor")
            .current_dir(&data)
            .arg("-f")
            .arg(&torrc_path)
            .arg("--defaults-torrc")
            .arg(&defaults)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("starting tor: {e}")))?;
        self.nodes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Node {
                name: name.to_owned(),
                log,
                child,
            });
        Ok(data)
    }

    /// arti 0.47 TOML for this network: `[tor_network]` with the authorities
    /// (also the fallback caches), `[path_rules]`, `[address_filter]` and
    /// `[override_net_params]` for a one-address, fast-voting network.
    /// Storage directories are left for the caller to set.
    pub fn arti_toml(&self) -> String {
        let mut t = String::from("[tor_network]\nfallback_caches = [\n");
        for a in &self.authorities {
            let _ = writeln!(
                t,
                "  {{ rsa_identity = \"{}\", ed_identity = \"{}\", orports = [\"127.0.0.1:{}\"] }},",
                a.rsa, a.ed25519, a.or_port
            );
        }
        let list = |f: &dyn Fn(&Authority) -> String| {
            self.authorities
                .iter()
                .map(f)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let dirs = list(&|a| format!("[\"127.0.0.1:{}\"]", a.dir_port));
        let _ = write!(
            t,
            "]\n\n[tor_network.authorities]\nv3idents = [{}]\nuploads = [{dirs}]\ndownloads = [{dirs}]\nvotes = [{dirs}]\n",
            list(&|a| format!("\"{}\"", a.v3ident))
        );
        t.push_str(
            "\n[path_rules]\n\
             # All relays share 127.0.0.1: turn the same-subnet rule off.\n\
             ipv4_subnet_family_prefix = 33\n\
             ipv6_subnet_family_prefix = 129\n\
             \n[address_filter]\nallow_local_addrs = true\n\
             \n[override_net_params]\n\
             # C tor's TestingTorNetwork uses 24 x V3AuthVotingInterval (20 s) = 8 min.\n\
             hsdir_interval = 8\n\
             # Circuits here take milliseconds, so arti's learned circuit timeout\n\
             # (floor 10 ms by default) falls so low that a loaded machine times\n\
             # out every circuit and descriptor fetch of a restarted client for\n\
             # minutes. On the public network builds take hundreds of ms.\n\
             cbtmintimeout = 1500\n",
        );
        t
    }

    /// A file holding [`TorNet::arti_toml`], for `kith run --tor-config`.
    pub fn arti_config(&self) -> &Path {
        &self.arti_config
    }

    /// The one port the network's exits accept for every address, on
    /// 127.0.0.1 free when the network started: a test serves on
    /// `127.0.0.1:exit_port()` what a client should reach through an exit
    /// (one test at a time: the feeds suite).
    ///
    /// Why a port for every address: clients choose exits by the port
    /// summary in their microdescriptors, and tor summarises only rules
    /// for all addresses, so an exit policy of `127.0.0.0/8` alone reads
    /// "rejects every port" and no client picks an exit. The full policy
    /// (`accept 127.0.0.0/8:*`, `accept *:exit_port`, `reject *:*`) is what
    /// the exits apply; only this network's clients (the tests') use them,
    /// and they ask for 127.0.0.1 only.
    pub fn exit_port(&self) -> u16 {
        self.exit_port
    }

    /// SOCKS5 address of the network's C tor client node.
    pub fn socks_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.socks_port))
    }

    /// The network's temporary directory (one subdirectory per node).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// How long [`TorNet::start`] (or [`TorNet::wait_ready`]) took, from the
    /// start; zero while the network is not ready.
    pub fn elapsed_ready(&self) -> Duration {
        self.elapsed_ready
    }

    /// How long until an authority served the first consensus.
    pub fn elapsed_first_consensus(&self) -> Duration {
        self.elapsed_first_consensus
    }

    /// A node that has exited, if any: its name and log.
    fn exited_node(&self) -> Option<(String, PathBuf)> {
        let mut nodes = self.nodes.lock().unwrap_or_else(PoisonError::into_inner);
        nodes.iter_mut().find_map(|n| match n.child.try_wait() {
            Ok(None) => None,
            _ => Some((n.name.clone(), n.log.clone())),
        })
    }

    /// The last lines of every node's log (and its stdout, where tor reports
    /// errors before the log is open).
    pub fn log_tails(&self) -> String {
        let nodes = self.nodes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut s = String::new();
        for n in nodes.iter() {
            let _ = writeln!(s, "--- {} ({})", n.name, n.log.display());
            for file in [n.log.clone(), n.log.with_file_name("stdout.log")] {
                let text = fs::read_to_string(&file).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                for l in &lines[lines.len().saturating_sub(LOG_TAIL)..] {
                    let _ = writeln!(s, "    {l}");
                }
            }
        }
        s
    }
}

impl Drop for TorNet {
    fn drop(&mut self) {
        let nodes = self.nodes.get_mut().unwrap_or_else(PoisonError::into_inner);
        for n in nodes.iter() {
            // std has no SIGTERM: ask kill(1). A failure leaves SIGKILL below.
            let _ = Command::new("kill")
                .args(["-TERM", &n.child.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for n in nodes.iter_mut() {
            while matches!(n.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = n.child.kill();
            let _ = n.child.wait();
        }
        // `dir` (a TempDir) is removed when the fields drop, after this.
    }
}

/// Why an attempt failed: retry on other ports, or give up.
#[derive(Debug)]
enum StartError {
    /// A tor could not bind its port.
    PortsTaken(io::Error),
    /// Anything else.
    Io(io::Error),
}

impl From<io::Error> for StartError {
    fn from(e: io::Error) -> Self {
        StartError::Io(e)
    }
}

/// A clear error if tor is not installed.
fn check_tor_installed() -> io::Result<()> {
    for bin in ["tor", "tor-gencert"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()));
        if !found {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("`{bin}` not found in PATH: install Debian's tor (scripts/ensure-tor.sh)"),
            ));
        }
    }
    Ok(())
}

/// Remove `kith-tornet-*` directories whose owning process is gone.
fn remove_stale_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(DIR_PREFIX) {
            continue;
        }
        let path = e.path();
        // No owner file yet: another run may be creating it; leave it.
        let Ok(pid) = fs::read_to_string(path.join(OWNER_FILE)) else {
            continue;
        };
        if !Path::new("/proc").join(pid.trim()).exists() {
            progress(&format!("removing stale {}", path.display()));
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// Create `dir` (and parents) with mode 0700, as tor requires of its data directory.
fn private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// A base port such that `base..base + n` are all free on 127.0.0.1 now.
fn free_port_block(n: u16) -> io::Result<u16> {
    for _ in 0..100 {
        let mut h = RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let base = 20_000 + u16::try_from(h.finish() % 40_000).unwrap_or(0);
        if (base..base + n).all(|p| TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok()) {
            return Ok(base);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("no block of {n} free ports on 127.0.0.1"),
    ))
}

/// RSA identity fingerprint of a data directory (creates its keys; no network).
fn rsa_fingerprint(data: &Path) -> io::Result<String> {
    let out = Command::new("tor")
        .args([
            "--ignore-missing-torrc",
            "-f",
            "/dev/null",
            "--quiet",
            "--list-fingerprint",
        ])
        .args(["--orport", "1", "--dirserver"])
        .arg("x 127.0.0.1:1 ffffffffffffffffffffffffffffffffffffffff")
        .arg("--datadirectory")
        .arg(data)
        .stdin(Stdio::null())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "Unnamed 8F0A 5AD1 ...": drop the nickname, join the groups.
    let fp: String = text.split_whitespace().skip(1).collect();
    if !out.status.success() || fp.len() != 40 {
        return Err(io::Error::other(format!(
            "tor --list-fingerprint failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(fp)
}

/// Plain HTTP/1.0 GET from 127.0.0.1:`port`; the body on status 200.
fn http_get(port: u16, path: &str) -> io::Result<String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let resp = String::from_utf8_lossy(&resp);
    let (head, body) = resp
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::other("truncated HTTP response"))?;
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 200 ") {
        return Err(io::Error::other(format!("HTTP: {status}")));
    }
    Ok(body.to_owned())
}

/// SOCKS5 CONNECT to `host:port` through a C tor client's SOCKS port; the host name goes
/// to tor unresolved (ATYP 3), so nothing is looked up locally.
pub fn socks5_connect(socks: SocketAddr, host: &str, port: u16) -> io::Result<TcpStream> {
    let mut s = TcpStream::connect(socks)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.write_all(&[5, 1, 0])?;
    let mut r = [0_u8; 2];
    s.read_exact(&mut r)?;
    if r != [5, 0] {
        return Err(io::Error::other("socks: no auth method"));
    }
    let mut req = vec![
        5,
        1,
        0,
        3,
        u8::try_from(host.len())
            .map_err(|_| io::Error::other("socks: host name over 255 bytes"))?,
    ];
    req.extend_from_slice(host.as_bytes());
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req)?;
    let mut head = [0_u8; 4];
    s.read_exact(&mut head)?;
    if head[1] != 0 {
        return Err(io::Error::other(format!("socks reply {:#04x}", head[1])));
    }
    let skip = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        _ => {
            let mut l = [0_u8; 1];
            s.read_exact(&mut l)?;
            usize::from(l[0]) + 2
        }
    };
    let mut rest = vec![0_u8; skip];
    s.read_exact(&mut rest)?;
    Ok(s)
}
