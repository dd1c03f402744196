//! [`StoreHandle`]: the async face of a [`Store`].
//!
//! One named OS thread owns the [`Store`] (and so the SQLite connection) and
//! serves a bounded queue of commands, each with a one-shot reply. Argon2id
//! (in create and open) runs on that thread too, never on an async worker.

use std::path::PathBuf;

use tokio::sync::{mpsc, oneshot};
use zeroize::Zeroizing;

use crate::crypto::KdfParams;
use crate::error::{Error, Result};
use crate::model::NewProfile;
use crate::store::Store;

/// Commands waiting for the store thread before callers wait to send.
pub const COMMAND_QUEUE: usize = 64;

/// A job for the store thread. It sends its own reply on a oneshot, so the
/// reply is tied to its command without a separate id.
type Job = Box<dyn FnOnce(&mut Store) + Send>;

enum Command {
    Run(Job),
    Close(oneshot::Sender<Result<()>>),
}

/// A cheap, cloneable handle to a [`Store`] living on its own thread.
///
/// The thread ends when [`StoreHandle::close`] is called or when every handle
/// has been dropped; either way SQLite checkpoints and removes the WAL.
#[derive(Clone)]
pub struct StoreHandle {
    tx: mpsc::Sender<Command>,
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreHandle(..)")
    }
}

impl StoreHandle {
    /// Create a store (see [`Store::create`]) on a new store thread.
    ///
    /// Cancel safety: if this future is dropped, the thread still finishes
    /// creating the file, then closes the store and exits.
    pub async fn create(
        path: PathBuf,
        password: Zeroizing<Vec<u8>>,
        kdf: KdfParams,
        profile: NewProfile,
    ) -> Result<StoreHandle> {
        Self::start(move || Store::create(&path, &password, kdf, &profile)).await
    }

    /// Open and unlock a store (see [`Store::open`]) on a new store thread.
    ///
    /// Cancel safety: dropping the future leaves nothing open; the thread
    /// exits once it has finished unlocking.
    pub async fn open(path: PathBuf, password: Zeroizing<Vec<u8>>) -> Result<StoreHandle> {
        Self::start(move || Store::open(&path, &password)).await
    }

    async fn start(make: impl FnOnce() -> Result<Store> + Send + 'static) -> Result<StoreHandle> {
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let (ready_tx, ready_rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("kith-store".into())
            .spawn(move || match make() {
                Ok(store) => {
                    // Waiting for the first command also notices a caller
                    // that went away: its sender is dropped with the future.
                    let _ = ready_tx.send(Ok(()));
                    serve(store, rx);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|source| Error::Io {
                action: "starting the store thread",
                source,
            })?;
        ready_rx.await.map_err(|_| Error::Shutdown)??;
        Ok(StoreHandle { tx })
    }

    /// Run `f` on the store thread and return its result.
    ///
    /// [`Error::Shutdown`] if the store was closed. `f` should be short: it
    /// holds up every other command. A panic in `f` is caught and reported as
    /// [`Error::Bug`]; the store (whose open transaction rolls back) keeps
    /// serving.
    ///
    /// Cancel safety: once the command is queued, dropping this future does
    /// not stop `f`; it runs to completion and its result is discarded.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply_tx, reply_rx) = oneshot::channel();
        let job: Job = Box::new(move |store: &mut Store| {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(store)))
                .unwrap_or(Err(Error::Bug("a store command panicked")));
            // The caller may have gone away; then nobody wants the result.
            let _ = reply_tx.send(r);
        });
        self.tx
            .send(Command::Run(job))
            .await
            .map_err(|_| Error::Shutdown)?;
        reply_rx.await.map_err(|_| Error::Shutdown)?
    }

    /// Checkpoint and close the store, after the commands queued before this
    /// one. Other clones of the handle get [`Error::Shutdown`] afterwards.
    ///
    /// Cancel safety: once queued, the close happens even if this future is
    /// dropped.
    pub async fn close(self) -> Result<()> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.tx
            .send(Command::Close(reply_tx))
            .await
            .map_err(|_| Error::Shutdown)?;
        reply_rx.await.map_err(|_| Error::Shutdown)?
    }
}

/// The store thread's loop.
fn serve(mut store: Store, mut rx: mpsc::Receiver<Command>) {
    while let Some(cmd) = rx.blocking_recv() {
        match cmd {
            Command::Run(job) => job(&mut store),
            Command::Close(reply) => {
                // Stop taking commands first, so no one queues behind the close.
                rx.close();
                let _ = reply.send(store.close());
                return;
            }
        }
    }
    // Every handle is gone: close quietly (SQLite checkpoints on close too).
    let _ = store.close();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ContactOrigin, ContactState, NewContact};
    use kith_core::{ErrorKind, Timestamp};

    fn profile() -> NewProfile {
        NewProfile {
            display_name: "Alice".into(),
            identity_seed: Zeroizing::new([7; 32]),
            created_at: Timestamp(1),
        }
    }

    fn pw(s: &str) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(s.as_bytes().to_vec())
    }

    fn assert_send<T: Send>(_: &T) {}

    #[tokio::test]
    async fn handle_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let kdf = KdfParams::dangerously_fast_for_testing_only();

        let fut = StoreHandle::create(path.clone(), pw("pw"), kdf, profile());
        assert_send(&fut);
        let h = fut.await.unwrap();
        let h2 = h.clone();
        let call = h2.call(|s| {
            s.add_contact(&NewContact {
                address: [1; 32],
                alias: "bob".into(),
                state: ContactState::Accepted,
                origin: ContactOrigin::Link,
                verified: false,
                tcp_hint: None,
                their_name: None,
                added_at: Timestamp(2),
            })
        });
        assert_send(&call);
        let id = call.await.unwrap();
        assert_eq!(h.call(move |s| s.contact(id)).await.unwrap().alias, "bob");
        // A check-and-change in one turn of the store thread; a refusal
        // comes back as the inner error.
        let block = move |s: &mut Store| {
            s.update_contact_with(id, |c| match c.state {
                ContactState::Blocked => Err("already blocked"),
                _ => {
                    c.state = ContactState::Blocked;
                    Ok(())
                }
            })
        };
        assert_eq!(h.call(block).await.unwrap(), Ok(()));
        assert_eq!(h.call(block).await.unwrap(), Err("already blocked"));
        let summary = h.call(move |s| s.contact_summary(id)).await.unwrap();
        assert_eq!(summary.contact.state, ContactState::Blocked);
        assert_eq!((summary.unread, summary.last), (0, None));

        // Errors come back typed; a panic does not kill the thread.
        let e = h
            .call(|s| s.contact(crate::ContactId(99)))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = h
            .call(|_| -> Result<()> { panic!("boom") })
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Bug);
        assert_eq!(h.call(|s| s.contacts()).await.unwrap().len(), 1);

        let close = h.close();
        assert_send(&close);
        close.await.unwrap();
        let e = h2.call(|s| s.profile()).await.unwrap_err();
        assert!(matches!(e, Error::Shutdown));

        // Reopen.
        let e = StoreHandle::open(path.clone(), pw("nope"))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::WrongPassword));
        let h = StoreHandle::open(path.clone(), pw("pw")).await.unwrap();
        assert_eq!(h.call(|s| s.profile()).await.unwrap().display_name, "Alice");
        let e = StoreHandle::create(path, pw("pw"), kdf, profile())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        // Dropping the last handle closes the store.
        drop(h);
    }

    #[tokio::test]
    async fn open_missing_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let e = StoreHandle::open(dir.path().join("none.db"), pw("x"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }
}
