//! What the PostgreSQL store fails with, and what kind of [`Failure`] each error is:
//! nothing about PostgreSQL is ever [`Failure::Corrupt`] in the sense of "move it aside"
//! (a shared database is never thrown away); start-up refuses to start on anything but a
//! transient failure or a held replica name, which it waits for.

use std::time::Duration;

use tokio_postgres::error::SqlState;

use super::SCHEMA_VERSION;
use crate::state::store::{Failure, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("state database {target}: {source}")]
    Postgres {
        target: String,
        source: tokio_postgres::Error,
    },
    #[error("state database {target}: no answer within {}", humantime::format_duration(*waited))]
    Timeout { target: String, waited: Duration },
    #[error("state database {target} is not valid: {reason}")]
    Invalid { target: String, reason: String },
    #[error(
        "state database {target} has schema version {found}, written by a newer build; this build reads version {SCHEMA_VERSION}: run the newer build (the database is left as it is)"
    )]
    FutureVersion { target: String, found: i32 },
    #[error(
        "state database {target}: replica name {replica} is in use by another exporter; give each replica its own --replica.name"
    )]
    Locked { target: String, replica: String },
    #[error("state database {target} was opened read-only")]
    ReadOnly { target: String },
    /// The TLS settings (`sslrootcert`) or the store's own runtime could not be set up.
    #[error("state database {target}: {reason}")]
    Setup { target: String, reason: String },
}

impl PgError {
    pub fn failure(&self) -> Failure {
        match self {
            PgError::Postgres { source, .. } => failure_of(source.code()),
            PgError::Timeout { .. } | PgError::Setup { .. } => Failure::Transient,
            PgError::Invalid { .. } => Failure::Corrupt,
            PgError::FutureVersion { .. } => Failure::FutureVersion,
            PgError::Locked { .. } => Failure::Locked,
            PgError::ReadOnly { .. } => Failure::ReadOnly,
        }
    }
}

impl From<PgError> for StoreError {
    fn from(error: PgError) -> StoreError {
        StoreError::new(error.failure(), error)
    }
}

/// What a server error (by its SQLSTATE) says; an error without one (connection
/// refused, reset, a TLS failure) is transient.
fn failure_of(code: Option<&SqlState>) -> Failure {
    match code {
        // A hot standby, or a database set read-only.
        Some(c) if *c == SqlState::READ_ONLY_SQL_TRANSACTION => Failure::ReadOnly,
        Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE => Failure::Locked,
        Some(c) if *c == SqlState::DATA_CORRUPTED || *c == SqlState::INDEX_CORRUPTED => {
            Failure::Corrupt
        }
        // Anything else (the connection classes 08, 57P0x shutdowns, 53 resources, 40001
        // serialization, 28 authentication, a missing database) says nothing about the
        // stored state.
        _ => Failure::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_are_classified_by_their_sqlstate() {
        for (code, failure) in [
            (None, Failure::Transient),
            (Some(SqlState::CONNECTION_FAILURE), Failure::Transient),
            (Some(SqlState::ADMIN_SHUTDOWN), Failure::Transient),
            (Some(SqlState::CANNOT_CONNECT_NOW), Failure::Transient),
            (Some(SqlState::TOO_MANY_CONNECTIONS), Failure::Transient),
            (Some(SqlState::DISK_FULL), Failure::Transient),
            (Some(SqlState::INVALID_PASSWORD), Failure::Transient),
            (
                Some(SqlState::T_R_SERIALIZATION_FAILURE),
                Failure::Transient,
            ),
            (Some(SqlState::READ_ONLY_SQL_TRANSACTION), Failure::ReadOnly),
            (Some(SqlState::LOCK_NOT_AVAILABLE), Failure::Locked),
            (Some(SqlState::DATA_CORRUPTED), Failure::Corrupt),
        ] {
            assert_eq!(failure_of(code.as_ref()), failure, "{code:?}");
        }
    }
}
