//! Passwords on their way in: held in `Zeroizing` buffers, and never left in
//! the process environment.
//!
//! `KITH_PASSWORD` is convenient for scripts, but a process's initial
//! environment stays readable in `/proc/PID/environ` (by the same user, and
//! by root) for as long as the process lives: `unsetenv` only edits libc's
//! copy, and `std::env::remove_var` is `unsafe` in edition 2024 (we forbid
//! unsafe code). So when `KITH_PASSWORD` is set, [`reexec_without_env`]
//! writes it into a pipe and `exec`s the same binary with the variable
//! removed and `--password-fd N` naming the pipe's read end; the new image
//! (same pid) reads it with [`read_fd`]. The environment block that
//! `/proc/PID/environ` shows is the new one, without the password, from the
//! moment the re-exec happens (a few milliseconds after start).
//!
//! What stays: whoever started `kith` had the password in its own
//! environment (a shell, a service manager), and the pipe's read end stays
//! open, empty and with no writer left, for the life of the process (closing
//! a descriptor by number needs unsafe code). For no environment at all, use
//! `--password-file` or the prompt.

use std::io::{Read as _, Write as _};
use std::os::fd::AsRawFd as _;
use std::os::unix::ffi::OsStringExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use zeroize::Zeroizing;

/// The environment variable a password may come in.
pub(crate) const ENV: &str = "KITH_PASSWORD";

/// Longest password accepted through the environment or a descriptor. Fits
/// in any pipe's buffer (at least one page on Linux), so writing it before
/// the `exec` cannot block.
const MAX_PASSWORD: usize = 4096;

/// If `KITH_PASSWORD` is set, re-execute this program without it, the
/// password handed over through an inherited pipe (`--password-fd N`).
/// Returns `Ok(())` when the variable is not set; on success it does not
/// return at all. Call it before any thread starts.
pub(crate) fn reexec_without_env() -> anyhow::Result<()> {
    let Some(value) = std::env::var_os(ENV) else {
        return Ok(());
    };
    let password = Zeroizing::new(value.into_vec());
    if password.len() > MAX_PASSWORD {
        bail!("{ENV} is longer than {MAX_PASSWORD} bytes");
    }
    // Both ends close on exec; only the read end is then made inheritable.
    let (read_end, write_end) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .context("creating a pipe for the password")?;
    {
        let mut w = std::fs::File::from(write_end);
        w.write_all(&password)
            .context("writing the password to its pipe")?;
        // Dropped here: the reader sees end-of-file after the password.
    }
    rustix::io::fcntl_setfd(&read_end, rustix::io::FdFlags::empty())
        .context("letting the password pipe through exec")?;
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| "kith".into());
    // /proc/self/exe is this very binary even if its path changed since.
    let proc_exe = PathBuf::from("/proc/self/exe");
    let exe = if proc_exe.exists() {
        proc_exe
    } else {
        std::env::current_exe().context("finding this program to re-execute it")?
    };
    let err = std::process::Command::new(exe)
        .arg0(argv0)
        .arg("--password-fd")
        .arg(read_end.as_raw_fd().to_string())
        .args(args)
        .env_remove(ENV)
        .exec();
    Err(anyhow!(err).context(format!(
        "re-executing kith without {ENV} in its environment (use --password-file instead)"
    )))
}

/// Read the password handed over on descriptor `fd` (to its end).
pub(crate) fn read_fd(fd: i32) -> anyhow::Result<Zeroizing<String>> {
    if fd < 0 {
        bail!("--password-fd {fd}: not a file descriptor");
    }
    // Opening /dev/fd/N is the safe way to reach an inherited descriptor by
    // number (turning the number itself into a `File` is unsafe code).
    let mut f = std::fs::File::open(format!("/dev/fd/{fd}"))
        .with_context(|| format!("--password-fd {fd}: opening the descriptor"))?;
    read_password(&mut f).with_context(|| format!("--password-fd {fd}"))
}

/// Read a whole password from `r`, refusing more than [`MAX_PASSWORD`] bytes.
fn read_password(r: &mut impl std::io::Read) -> anyhow::Result<Zeroizing<String>> {
    // Room for one byte more than allowed, so nothing is ever reallocated
    // (a reallocation would leave a copy behind in freed memory).
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_PASSWORD + 1));
    r.take(MAX_PASSWORD as u64 + 1)
        .read_to_end(&mut buf)
        .context("reading the password")?;
    if buf.len() > MAX_PASSWORD {
        bail!("the password is longer than {MAX_PASSWORD} bytes");
    }
    match String::from_utf8(std::mem::take(&mut *buf)) {
        Ok(s) => Ok(Zeroizing::new(s)),
        Err(e) => {
            drop(Zeroizing::new(e.into_bytes()));
            bail!("the password is not UTF-8")
        }
    }
}

/// The first line of a password file's contents (without its line ending).
pub(crate) fn first_line(contents: &str) -> Zeroizing<String> {
    Zeroizing::new(contents.lines().next().unwrap_or_default().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_read_whole_and_bounded() {
        let pw = "correct horse battery staple ✊\n with a newline";
        assert_eq!(
            read_password(&mut pw.as_bytes()).expect("read").as_str(),
            pw
        );
        assert_eq!(read_password(&mut &b""[..]).expect("empty").as_str(), "");
        let max = "x".repeat(MAX_PASSWORD);
        assert_eq!(
            read_password(&mut max.as_bytes()).expect("max").len(),
            MAX_PASSWORD
        );
        let long = "x".repeat(MAX_PASSWORD + 1);
        assert!(read_password(&mut long.as_bytes()).is_err());
        assert!(read_password(&mut &b"\xff\xfe"[..]).is_err());
    }

    #[test]
    fn a_pipe_hands_the_password_over() {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
        let mut w = std::fs::File::from(w);
        w.write_all(b"s3cret").expect("write");
        drop(w);
        let got = read_fd(r.as_raw_fd()).expect("read the pipe by number");
        assert_eq!(got.as_str(), "s3cret");
        assert!(read_fd(-1).is_err());
    }

    #[test]
    fn password_files_give_their_first_line() {
        assert_eq!(first_line("pw\nsecond").as_str(), "pw");
        assert_eq!(first_line("pw\r\n").as_str(), "pw");
        assert_eq!(first_line("").as_str(), "");
    }
}
