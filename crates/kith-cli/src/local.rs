//! The local surfaces: file modes, the profile directory, who may talk to us.
//!
//! Everything Kith writes (the sealed database, Tor's state, the control
//! socket) is for its owner only. Three checks keep it that way:
//! - [`restrict_umask`] at the very start of `main`, so no file or socket is
//!   ever created readable or connectable by others, not even for an instant;
//! - [`check_profile_dir`] before a profile is used: owned by us (else
//!   refused), and no group or other access (else fixed);
//! - [`is_our_uid`] on both ends of the control socket (`SO_PEERCRED`).

use std::path::Path;

use anyhow::{Context, bail};

/// Set the file-creation mask to 0o077, for the whole process.
///
/// Called first thing in `main`, while the process has one thread, and never
/// changed back: every file and socket Kith creates afterwards is born
/// without group or other permissions. This is what makes the control
/// socket race-free: `bind` creates it mode 0700 & ~umask, so there is no
/// moment between `bind` and the `chmod 0600` that follows when another user
/// could connect. The mask is inherited across the password re-exec.
pub(crate) fn restrict_umask() {
    use rustix::fs::Mode;
    rustix::process::umask(Mode::RWXG | Mode::RWXO);
}

/// Our effective uid.
pub(crate) fn our_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Whether a peer's uid (from `SO_PEERCRED`) is ours.
pub(crate) fn is_our_uid(uid: u32) -> bool {
    uid == our_uid()
}

/// What [`check_profile_dir`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DirCheck {
    /// Nothing to check: no such directory (yet).
    Missing,
    /// Owned by us, owner-only.
    Fine,
    /// Owned by us but open to group or others: now 0700. The old mode.
    Fixed(u32),
}

/// Check a profile directory before using it: refuse one owned by another
/// user (they could read the database, swap the control socket, or watch
/// what we do), and make one that group or others can enter owner-only.
pub(crate) fn check_profile_dir(dir: &Path) -> anyhow::Result<DirCheck> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(DirCheck::Missing),
        Err(e) => return Err(e).with_context(|| format!("checking {}", dir.display())),
    };
    if !meta.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let me = our_uid();
    if meta.uid() != me {
        bail!(
            "refusing to use {}: it belongs to uid {}, not to you (uid {me})",
            dir.display(),
            meta.uid()
        );
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 == 0 {
        return Ok(DirCheck::Fine);
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} private (chmod 0700)", dir.display()))?;
    Ok(DirCheck::Fixed(mode))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("stat").permissions().mode() & 0o7777
    }

    #[test]
    fn too_open_directories_are_made_private() {
        let t = tempfile::tempdir().expect("tempdir");
        let d = t.path().join("p");
        assert_eq!(
            check_profile_dir(&d).expect("missing is fine"),
            DirCheck::Missing
        );
        std::fs::create_dir(&d).expect("mkdir");
        for open in [0o755, 0o750, 0o705, 0o777, 0o701] {
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(open)).expect("chmod");
            assert_eq!(check_profile_dir(&d).expect("fixed"), DirCheck::Fixed(open));
            assert_eq!(mode(&d), 0o700);
        }
        assert_eq!(check_profile_dir(&d).expect("fine"), DirCheck::Fine);
        let f = t.path().join("file");
        std::fs::write(&f, b"x").expect("write");
        assert!(
            check_profile_dir(&f).is_err(),
            "a file is not a profile directory"
        );
    }

    #[test]
    fn a_directory_of_another_user_is_refused() {
        // Only root can give a directory away; others check the rest.
        if our_uid() != 0 {
            return;
        }
        let t = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::chown(t.path(), Some(65534), None).expect("chown");
        let err = check_profile_dir(t.path())
            .expect_err("refused")
            .to_string();
        assert!(err.contains("belongs to uid 65534"), "{err}");
    }

    #[test]
    fn our_uid_is_ours() {
        use std::os::unix::fs::MetadataExt;
        let t = tempfile::tempdir().expect("tempdir");
        let owner = std::fs::metadata(t.path()).expect("stat").uid();
        assert!(is_our_uid(owner));
        assert!(!is_our_uid(owner.wrapping_add(1)));
    }
}
