//! SQLite and PostgreSQL storage for idseal: the only crate that knows SQL.
//!
//! [`Store`] implements the narrow store traits the protocol cores define
//! ([`idseal_keys::KeyStore`], [`idseal_ratelimit::RateLimitStore`],
//! [`idseal_types::AuditSink`]) for both backends. Statements are written once where the two
//! dialects agree (`$n` parameters, `ON CONFLICT … DO UPDATE … RETURNING`) and apart where they
//! do not; migrations live in one folder per backend.
//!
//! It holds no protocol logic: which key is active, whether an attempt is allowed, what an
//! audit event means are decided by the cores.

mod accounts;
mod admin;
mod audit;
mod bus;
mod keys;
mod oauth;
mod oauth_tokens;
mod ratelimit;
mod scal3;
pub mod testing;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_oauth;
#[cfg(test)]
mod tests_scal3;
#[cfg(test)]
mod tests_tlog;
#[cfg(test)]
mod tests_x1280;
mod tlog;
mod trust;
mod x1280;
mod x1280_sessions;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use accounts::{AccountRow, SessionRow};
pub use audit::AuditRow;
pub use bus::{BusMessage, EventBus, MAX_NOTIFICATION_BYTES};
pub use oauth::{AccessRow, AccessStatus, ClientRow, CodeOutcome, CodeRow, ConsentRow, GrantRow, RefreshRow};
pub use scal3::{Scal3ChallengeRow, Scal3CredentialRow, Scal3PinOutcome};
pub use tlog::{AuditQuery, HashSnapshot, NewEntry, StoredCheckpoint, StoredEntry};
pub use x1280::{EnrollOutcome, EnrollmentFilter, EnrollmentRow, ServiceRow};
pub use x1280_sessions::{AttemptOutcome, AuthSessionRow, MAX_PENDING_LISTED, SessionFilter};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL is not `sqlite:…` or `postgres://…`, or cannot be parsed.
    #[error("unsupported or malformed database URL (expected sqlite:PATH or postgres://…)")]
    BadUrl,
    /// The database could not be reached or opened.
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// The migration lock file could not be taken.
    #[error("cannot lock {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A query failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored row does not make sense (altered by hand or corrupt).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A log operation was refused by the log core (out of range, bad sizes, bad entry).
    #[error("audit log: {0}")]
    Tlog(#[from] idseal_tlog::TlogError),
    /// A checkpoint for this size with a different root (a fork), or a root that is not the
    /// log's, was refused.
    #[error("audit log: refused a checkpoint of size {size} whose root differs from the log's")]
    Fork {
        /// The checkpoint size.
        size: u64,
    },
    /// Audit events cannot be recorded before the pseudonymisation key is set
    /// ([`Store::with_audit_pseudonym_key`]).
    #[error("audit log: no pseudonymisation key configured")]
    NoPseudonymKey,
    /// The group-commit transaction that held this audit event failed (the message is its
    /// error); the event was not recorded.
    #[error("audit log: the batch holding this event failed: {0}")]
    BatchFailed(String),
    /// A unique value is already taken (a client id, an email address); the message says which.
    #[error("already taken: {0}")]
    Conflict(String),
    /// An argument the store cannot act on (an unknown status, for instance); the message says
    /// which.
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// An event-bus message too large to travel as one PostgreSQL notification (refused on
    /// both backends, never truncated).
    #[error("event-bus message of {size} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// The encoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
}

#[derive(Clone, Debug)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Run `$body` with `$pool` bound to whichever pool backs the store; the body is compiled once
/// per backend, so the same statement text serves both where the dialects agree.
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite($pool) => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Which database a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// Embedded SQLite (WAL).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Connection settings.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// How long to wait for a connection (and, for SQLite, a write lock).
    pub acquire_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self { max_connections: 10, acquire_timeout: Duration::from_secs(10) }
    }
}

/// The idseal database.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
    sqlite_path: Option<PathBuf>,
    pseudonym: Option<Arc<idseal_tlog::entry::PseudonymKey>>,
    group: Arc<audit::GroupCommit>,
    hash_cache: Arc<tlog::HashCache>,
    bus: Arc<EventBus>,
}

impl Store {
    /// Open the database at `url` (`sqlite:PATH` or `postgres://…`). A SQLite file is created
    /// if missing, in WAL mode with full synchronous commits. Does not migrate.
    pub async fn connect(url: &str, opts: &ConnectOptions) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            let o = SqliteConnectOptions::from_str(url)
                .map_err(|_| StoreError::BadUrl)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(opts.acquire_timeout);
            let path = o.get_filename().to_path_buf();
            let pool = SqlitePoolOptions::new()
                .max_connections(opts.max_connections.max(1))
                .acquire_timeout(opts.acquire_timeout)
                .connect_with(o)
                .await
                .map_err(StoreError::Connect)?;
            Ok(Self {
                backend: Backend::Sqlite(pool),
                sqlite_path: Some(path),
                pseudonym: None,
                group: Arc::default(),
                hash_cache: Arc::default(),
                bus: Arc::new(EventBus::local()),
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let o = PgConnectOptions::from_str(url).map_err(|_| StoreError::BadUrl)?;
            let pool = PgPoolOptions::new()
                .max_connections(opts.max_connections.max(1))
                .acquire_timeout(opts.acquire_timeout)
                .connect_with(o)
                .await
                .map_err(StoreError::Connect)?;
            Ok(Self {
                bus: Arc::new(EventBus::postgres(pool.clone())),
                backend: Backend::Postgres(pool),
                sqlite_path: None,
                pseudonym: None,
                group: Arc::default(),
                hash_cache: Arc::default(),
            })
        } else {
            Err(StoreError::BadUrl)
        }
    }

    /// Set the key under which audit entries pseudonymise subjects and IP addresses
    /// (docs/audit-log.md); at least 32 secret bytes. Audit events cannot be recorded without it.
    pub fn with_audit_pseudonym_key(mut self, secret: &[u8]) -> Result<Self, StoreError> {
        self.pseudonym = Some(Arc::new(idseal_tlog::entry::PseudonymKey::new(secret)?));
        Ok(self)
    }

    /// The pseudonym (hex) that entries about `subject` carry, for finding a person's entries.
    pub fn audit_subject_pseudonym(&self, subject: &str) -> Result<String, StoreError> {
        let key = self.pseudonym.as_deref().ok_or(StoreError::NoPseudonymKey)?;
        Ok(hex(&key.subject_pseudonym(subject)))
    }

    /// Which backend this is.
    pub fn kind(&self) -> BackendKind {
        match self.backend {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Apply pending migrations. Safe to run from several processes at once: PostgreSQL
    /// migrations hold an advisory lock, SQLite ones an exclusive lock on a file beside the
    /// database.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => {
                sqlx::migrate!("./migrations/postgres").run(pool).await.map_err(StoreError::Migrate)
            }
            Backend::Sqlite(pool) => {
                let _guard = match &self.sqlite_path {
                    Some(p) if p.as_os_str() != ":memory:" => Some(lock_file(p).await?),
                    _ => None,
                };
                sqlx::migrate!("./migrations/sqlite").run(pool).await.map_err(StoreError::Migrate)
            }
        }
    }

    /// The cross-instance event bus (for WebSocket fan-out): shared by every clone of this
    /// store.
    pub fn bus(&self) -> &EventBus {
        &self.bus
    }

    /// Check that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, |pool| sqlx::query("SELECT 1").execute(pool).await.map(|_| ()).map_err(StoreError::from))
    }

    /// Close every pooled connection (on shutdown).
    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await)
    }
}

/// Take an exclusive advisory lock on `<db>.lock`, held until the returned file is dropped.
/// Waits without blocking the async runtime.
async fn lock_file(db: &std::path::Path) -> Result<std::fs::File, StoreError> {
    let mut path = db.as_os_str().to_owned();
    path.push(".lock");
    let path = PathBuf::from(path);
    let err = |source| StoreError::Lock { path: path.clone(), source };
    let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(err)?;
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(f),
            Err(std::fs::TryLockError::WouldBlock) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(std::fs::TryLockError::Error(e)) => return Err(err(e)),
        }
    }
}

pub(crate) fn boxed(e: impl std::error::Error + Send + Sync + 'static) -> Box<dyn std::error::Error + Send + Sync> {
    Box::new(e)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
