//! Drive real `kith` processes: create profiles, run daemons, kill them.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The password every test profile uses.
pub const PASSWORD: &str = "correct horse battery staple";

/// Path of the `kith` binary built alongside the test binary.
pub fn kith_bin() -> PathBuf {
    if let Some(p) = option_env!("CARGO_BIN_EXE_kith") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/tests-HASH → target/<profile>/kith
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let bin = dir.join("kith");
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build -p kith-cli` (the README test command does)",
        bin.display()
    );
    bin
}

/// A free TCP port on 127.0.0.1 (free when asked; tests retry on collision).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0")
}

/// One data directory shared by the profiles of a test.
pub struct Kith {
    /// The data directory.
    pub dir: tempfile::TempDir,
}

impl Default for Kith {
    fn default() -> Self {
        Self::new()
    }
}

impl Kith {
    /// A fresh, empty data directory.
    pub fn new() -> Self {
        Kith {
            dir: tempfile::Builder::new()
                .prefix("kith-e2e-")
                .tempdir()
                .expect("temp dir"),
        }
    }

    /// A `kith` command for `profile` in this data directory, password in the environment.
    pub fn cmd(&self, profile: &str) -> Command {
        let mut c = Command::new(kith_bin());
        c.arg("--data-dir")
            .arg(self.dir.path())
            .arg("--profile")
            .arg(profile)
            .env("KITH_PASSWORD", PASSWORD)
            .env_remove("KITH_DATA_DIR")
            .env_remove("KITH_PROFILE")
            .stdin(Stdio::null());
        c
    }

    /// Run a command to completion, and require success; returns stdout.
    pub fn ok(&self, profile: &str, args: &[&str]) -> String {
        let out = self.run(profile, args);
        assert!(
            out.status.success(),
            "kith {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Run a command to completion.
    pub fn run(&self, profile: &str, args: &[&str]) -> Output {
        self.cmd(profile).args(args).output().expect("running kith")
    }

    /// `kith profile create NAME`.
    pub fn create(&self, profile: &str) {
        self.ok(profile, &["profile", "create", profile]);
    }

    /// Start `kith run` over TCP on 127.0.0.1 and wait until it answers.
    pub fn start(&self, profile: &str, port: u16) -> Daemon {
        let listen = SocketAddr::from(([127, 0, 0, 1], port));
        self.start_with(
            profile,
            &["run", "--transport", "tcp", "--listen", &listen.to_string()],
            Duration::from_secs(30),
        )
    }

    /// Start `kith run` over the Tor network that arti's TOML `config`
    /// describes (the private Tor network's), and wait until online.
    pub fn start_tor(&self, profile: &str, config: &Path, limit: Duration) -> Daemon {
        let cfg = config.to_string_lossy().into_owned();
        self.start_with(
            profile,
            &["run", "--transport", "tor", "--tor-config", &cfg],
            limit,
        )
    }

    /// Start `kith` with `args` (a `run` command) and wait until its status is online.
    pub fn start_with(&self, profile: &str, args: &[&str], limit: Duration) -> Daemon {
        let d = self.spawn(profile, args, &[], limit);
        wait_until(
            limit,
            &format!(
                "{profile} online (log: {})",
                self.log_path(profile).display()
            ),
            || {
                let v = self.status(profile);
                (v["running"] == true && is_online(&v)).then_some(())
            },
        );
        d
    }

    /// Start `kith` with `args` (a `run` command) and extra environment
    /// variables `env` (e.g. `KITH_LOG`), and wait only until its control
    /// socket answers, whatever the state of its network.
    pub fn spawn(
        &self,
        profile: &str,
        args: &[&str],
        env: &[(&str, &str)],
        limit: Duration,
    ) -> Daemon {
        let log = self.log_path(profile);
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = self
            .cmd(profile)
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("starting kith run");
        let d = Daemon {
            child: Some(child),
            profile: profile.to_owned(),
        };
        wait_until(
            limit,
            &format!("{profile} running (log: {})", log.display()),
            || (self.status(profile)["running"] == true).then_some(()),
        );
        d
    }

    /// Where the daemon of `profile` writes its stderr.
    pub fn log_path(&self, profile: &str) -> PathBuf {
        self.dir.path().join(format!("{profile}-run.log"))
    }

    /// The last `n` lines of the daemon log of `profile`.
    pub fn log_tail(&self, profile: &str, n: usize) -> String {
        let text = std::fs::read_to_string(self.log_path(profile)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// `kith status --json`.
    pub fn status(&self, profile: &str) -> serde_json::Value {
        let out = self.run(profile, &["status", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    }

    /// Contacts as JSON objects.
    pub fn contacts(&self, profile: &str) -> Vec<serde_json::Value> {
        json_lines(&self.ok(profile, &["contact", "list", "--json"]))
    }

    /// A conversation as JSON objects.
    pub fn messages(&self, profile: &str, alias: &str) -> Vec<serde_json::Value> {
        json_lines(&self.ok(profile, &["messages", alias, "--json"]))
    }

    /// Whether `profile`'s conversation with `alias` holds a message in
    /// direction `dir` ("in"/"out") with `body`, in `state` if given.
    pub fn has_message(
        &self,
        profile: &str,
        alias: &str,
        dir: &str,
        body: &str,
        state: Option<&str>,
    ) -> bool {
        self.messages(profile, alias).iter().any(|m| {
            m["direction"] == dir && m["body"] == body && state.is_none_or(|s| m["state"] == s)
        })
    }

    /// Every file under the data directory, recursively.
    pub fn files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut v = vec![];
        walk(self.dir.path(), &mut v);
        v
    }
}

/// `a` (in `ka`) adds `b`'s link (from `kb`) and `b` accepts, once the
/// request arrived; each calls the other by the other's profile name.
pub fn befriend(ka: &Kith, a: &str, kb: &Kith, b: &str, limit: Duration) {
    let link = kb.ok(b, &["link"]).trim().to_owned();
    ka.ok(a, &["contact", "add", &link, "--alias", b]);
    wait_until(limit, &format!("{b} sees {a}'s request"), || {
        kb.contacts(b)
            .into_iter()
            .find(|c| c["alias"] == a && c["state"] == "request")
    });
    kb.ok(b, &["contact", "accept", a]);
}

/// [`befriend`], then wait until `a` sees `b` accepted and online (a
/// session is up).
pub fn befriend_online(ka: &Kith, a: &str, kb: &Kith, b: &str, limit: Duration) {
    befriend(ka, a, kb, b, limit);
    wait_until(limit, &format!("{a} sees {b} accepted and online"), || {
        ka.contacts(a)
            .into_iter()
            .find(|c| c["alias"] == b && c["state"] == "accepted" && c["online"] == true)
    });
}

/// Whether a `status --json` value says the network is online.
pub fn is_online(status: &serde_json::Value) -> bool {
    status["state"] == "online"
}

/// Parse one JSON value per line.
pub fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Poll `f` every 100 ms until it returns `Some`, or panic after `limit`.
pub fn wait_until<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A running `kith run`; killed (SIGKILL) when dropped.
pub struct Daemon {
    child: Option<Child>,
    /// Its profile.
    pub profile: String,
}

impl Daemon {
    /// Its process id, while it has not been stopped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether its process is still running (has not exited).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Stop it with SIGTERM (clean shutdown) and wait.
    pub fn stop(mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kill it with SIGKILL, as a crash or power cut would.
    pub fn kill9(mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Read one `u16 BE length ‖ body` frame of the Kith protocol (for tests
/// that speak it by hand).
pub fn read_frame(s: &mut impl std::io::Read) -> std::io::Result<Vec<u8>> {
    let mut len = [0_u8; 2];
    s.read_exact(&mut len)?;
    let mut body = vec![0_u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut body)?;
    Ok(body)
}
