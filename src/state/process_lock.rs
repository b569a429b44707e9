//! One exporter per state database: an exclusive OS lock (`flock`), held for as long as
//! the database is open, on `<state_file>.lock`.
//!
//! SQLite's own locks only order transactions: two exporters on one file would both run,
//! each counting the other's outcomes again after a restart. A separate lock file, not
//! the database, because the database file is replaced while locked (moved aside, or
//! renamed into place by the JSON import) and a lock belongs to the file, not the path.
//! The lock file is never removed: a process still waiting on a removed lock file's
//! inode would lock a file nobody else sees. Where the directory is read-only and there
//! is no lock file yet, the database file itself is locked (opened read-only, `flock`
//! needs no write access): nothing renames it then, as a read-only database is never
//! written or moved. `flock` and SQLite's `fcntl` locks are independent on Linux, so
//! locking the database file does not disturb SQLite (on NFS the kernel emulates
//! `flock` with `fcntl` locks; SQLite's WAL mode does not work there either).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// The held lock; released when dropped (or when the process ends, however it ends).
#[derive(Debug)]
pub struct ProcessLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "state database {path} is in use by another process (lock held on {lock}); is another exporter running on it?"
    )]
    Held { path: PathBuf, lock: PathBuf },
    #[error("cannot lock state database {path} ({lock}): {source}")]
    Io {
        path: PathBuf,
        lock: PathBuf,
        source: std::io::Error,
    },
}

impl LockError {
    /// Neither a lock file nor the database could be opened because they are not there
    /// (a directory not mounted yet): nothing to protect.
    pub fn not_found(&self) -> bool {
        matches!(self, LockError::Io { source, .. } if source.kind() == ErrorKind::NotFound)
    }
}

/// The errors of a file or directory that can be read but not written.
pub fn read_only_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ReadOnlyFilesystem | ErrorKind::PermissionDenied
    )
}

/// `<path>.lock`.
pub fn lock_path(path: &Path) -> PathBuf {
    beside(path, ".lock")
}

impl ProcessLock {
    /// Takes the lock of the database at `path` without waiting.
    pub fn acquire(path: &Path) -> Result<ProcessLock, LockError> {
        let (file, lock) = open_lock_file(path)?;
        match file.try_lock() {
            Ok(()) => Ok(ProcessLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(LockError::Held {
                path: path.to_path_buf(),
                lock,
            }),
            Err(TryLockError::Error(source)) => Err(LockError::Io {
                path: path.to_path_buf(),
                lock,
                source,
            }),
        }
    }
}

/// `<path>.lock`, created when missing; where it cannot be created (a read-only
/// directory), an existing one opened for reading, else the database file itself.
fn open_lock_file(path: &Path) -> Result<(File, PathBuf), LockError> {
    let lock = lock_path(path);
    let io = |lock: &Path, source| LockError::Io {
        path: path.to_path_buf(),
        lock: lock.to_path_buf(),
        source,
    };
    match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock)
    {
        Ok(file) => Ok((file, lock)),
        Err(e) if read_only_error(&e) => match File::open(&lock) {
            Ok(file) => Ok((file, lock)),
            Err(_) => File::open(path)
                .map(|file| (file, path.to_path_buf()))
                .map_err(|source| io(path, source)),
        },
        Err(e) => Err(io(&lock, e)),
    }
}

/// `path` with `suffix` appended: the files beside the state database (`-wal`, `.lock`,
/// `.corrupt-…`). Here, at the bottom of the state modules, so that all of them can use it.
pub(super) fn beside(path: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_database_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let first = ProcessLock::acquire(&path).unwrap();
        let error = ProcessLock::acquire(&path).unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, LockError::Held { .. }), "{text}");
        assert!(text.contains("in use by another process"), "{text}");
        assert!(
            text.contains(&lock_path(&path).display().to_string()),
            "{text}"
        );
        drop(first);
        ProcessLock::acquire(&path).expect("free again");
        assert!(lock_path(&path).exists(), "the lock file is kept");
    }

    #[test]
    fn a_missing_directory_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let error = ProcessLock::acquire(&dir.path().join("no/state.db")).unwrap_err();
        assert!(error.not_found(), "{error}");
    }
}
