//! Errors of `kith-store`.

use kith_core::ErrorKind;

/// An error from the encrypted store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The password did not unlock the store (its key-wrap check failed).
    ///
    /// Nothing was written to disk.
    #[error("wrong password")]
    WrongPassword,
    /// The database was damaged or tampered with: a sealed value failed to
    /// authenticate or decode, a lookup hash pointed at the wrong row, or a
    /// required table or meta entry is missing.
    #[error("the store is corrupt: {what}")]
    Corrupt {
        /// What was found broken.
        what: &'static str,
    },
    /// The database was written by a schema version this build does not know
    /// (a newer one; older ones are migrated when opened).
    #[error("unsupported store schema version {found} (this build reads up to {supported})")]
    UnsupportedVersion {
        /// The version found in the file.
        found: i64,
        /// The newest version this build reads, and the one it writes.
        supported: i64,
    },
    /// The store file, contact or message does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was missing.
        what: &'static str,
    },
    /// The store file exists already, or a contact with that address or alias.
    #[error("{what} already exists")]
    AlreadyExists {
        /// What clashed.
        what: &'static str,
    },
    /// A value given by the caller is not acceptable (too long, bad KDF parameters).
    #[error("invalid {what}")]
    BadInput {
        /// What was rejected.
        what: &'static str,
    },
    /// SQLite failed.
    #[error("database error while {action}: {source}")]
    Db {
        /// What was being done.
        action: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A file operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The store's thread is gone (closed, or it never started).
    #[error("the store is shut down")]
    Shutdown,
    /// An internal invariant was violated: a bug in Kith.
    #[error("internal error in kith-store: {0}")]
    Bug(&'static str),
}

impl Error {
    /// A corruption error about `what`, for callers that find a stored value
    /// (e.g. a setting) malformed.
    pub fn corrupt(what: &'static str) -> Error {
        Error::Corrupt { what }
    }

    /// Where the failure comes from and what the caller can do.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::WrongPassword => ErrorKind::WrongPassword,
            // A version newer than ours was written by a newer Kith (older
            // ones are migrated at open); ErrorKind has no "made by a newer
            // version" yet, and to this build the file is unreadable.
            Error::Corrupt { .. } | Error::UnsupportedVersion { .. } => ErrorKind::StoreCorrupt,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::BadInput { .. } => ErrorKind::BadLocalInput,
            Error::Db { source, .. } => db_kind(source),
            Error::Io { .. } => ErrorKind::LocalIo,
            Error::Shutdown => ErrorKind::Shutdown,
            Error::Bug(_) => ErrorKind::Bug,
        }
    }
}

/// Classify an SQLite error: damage to the file vs. trouble with the disk.
fn db_kind(e: &rusqlite::Error) -> ErrorKind {
    use rusqlite::ErrorCode as C;
    match e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            // SQLITE_ERROR ("no such table", "no such column"): our SQL is
            // tested and the schema checked at open, so a table went missing.
            C::NotADatabase | C::DatabaseCorrupt | C::Unknown | C::ConstraintViolation => {
                ErrorKind::StoreCorrupt
            }
            _ => ErrorKind::LocalIo,
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::QueryReturnedNoRows
        | rusqlite::Error::QueryReturnedMoreThanOneRow => ErrorKind::StoreCorrupt,
        _ => ErrorKind::Bug,
    }
}

/// `map_err` helper: an SQLite failure while doing `action`.
pub(crate) fn db(action: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    move |source| Error::Db { action, source }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(Error::WrongPassword.kind(), ErrorKind::WrongPassword);
        assert_eq!(Error::corrupt("x").kind(), ErrorKind::StoreCorrupt);
        assert_eq!(
            Error::UnsupportedVersion {
                found: 9,
                supported: 2
            }
            .kind(),
            ErrorKind::StoreCorrupt
        );
        assert_eq!(Error::Shutdown.kind(), ErrorKind::Shutdown);
        let e = Error::Db {
            action: "x",
            source: rusqlite::Error::QueryReturnedNoRows,
        };
        assert_eq!(e.kind(), ErrorKind::StoreCorrupt);
    }
}
