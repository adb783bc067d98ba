//! Databases for tests: a fresh PostgreSQL database per test, so tests run in parallel.

use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _};

use crate::StoreError;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Create an empty database next to the one `admin_url` names and return its URL and name.
pub async fn create_postgres_database(admin_url: &str) -> Result<(String, String), StoreError> {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    let name = format!("idseal_t_{}_{:x}", COUNTER.fetch_add(1, Ordering::Relaxed), h.finish());
    let opts = PgConnectOptions::from_str(admin_url).map_err(|_| StoreError::BadUrl)?;
    let mut conn = opts.connect().await.map_err(StoreError::Connect)?;
    sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).await?;
    conn.close().await?;
    let url = match admin_url.rsplit_once('/') {
        Some((base, rest)) => {
            let query = rest.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
            format!("{base}/{name}{query}")
        }
        None => return Err(StoreError::BadUrl),
    };
    Ok((url, name))
}

/// Drop a database made by [`create_postgres_database`].
pub async fn drop_postgres_database(admin_url: &str, name: &str) -> Result<(), StoreError> {
    if !name.starts_with("idseal_t_") || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(StoreError::BadUrl);
    }
    let opts = PgConnectOptions::from_str(admin_url).map_err(|_| StoreError::BadUrl)?;
    let mut conn = opts.connect().await.map_err(StoreError::Connect)?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

/// A write lock on the rate-limit counters held by a connection of its own, so that a test can
/// make the server's writes wait (timeouts, fail-closed paths).
#[derive(Debug)]
pub enum WriteLock {
    /// SQLite: a `BEGIN IMMEDIATE` transaction holds the database's write lock.
    Sqlite(sqlx::SqliteConnection),
    /// PostgreSQL: a transaction holds `LOCK TABLE rate_counters IN EXCLUSIVE MODE`.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl WriteLock {
    /// Take the lock on the database at `url`.
    pub async fn take(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(url).await.map_err(StoreError::Connect)?;
            sqlx::query("BEGIN IMMEDIATE").execute(&mut c).await?;
            Ok(Self::Sqlite(c))
        } else {
            let pool = sqlx::PgPool::connect(url).await.map_err(StoreError::Connect)?;
            let mut tx = pool.begin().await?;
            sqlx::query("LOCK TABLE rate_counters IN EXCLUSIVE MODE").execute(&mut *tx).await?;
            Ok(Self::Postgres(tx))
        }
    }

    /// Release it.
    pub async fn release(self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(mut c) => {
                sqlx::query("ROLLBACK").execute(&mut c).await?;
                c.close().await?;
            }
            Self::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

/// Tamper with the audit log like an attacker with database access: lift the append-only
/// trigger of `tlog_entries` and change the bytes of entry `idx` (its stored leaf hash stays).
/// For tests of `idseal log verify`.
pub async fn tamper_tlog_entry(url: &str, idx: u64) -> Result<(), StoreError> {
    let idx = i64::try_from(idx).map_err(|_| StoreError::Corrupt("index too large".into()))?;
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.map_err(StoreError::Connect)?;
        sqlx::query("DROP TRIGGER tlog_entries_no_update").execute(&mut c).await?;
        let n = sqlx::query("UPDATE tlog_entries SET data = data || X'00' WHERE idx = $1")
            .bind(idx)
            .execute(&mut c)
            .await?
            .rows_affected();
        c.close().await?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!("no entry {idx}")));
        }
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.map_err(StoreError::Connect)?;
        sqlx::query("ALTER TABLE tlog_entries DISABLE TRIGGER tlog_entries_no_update_delete").execute(&mut c).await?;
        let n = sqlx::query("UPDATE tlog_entries SET data = data || '\\x00'::bytea WHERE idx = $1")
            .bind(idx)
            .execute(&mut c)
            .await?
            .rows_affected();
        sqlx::query("ALTER TABLE tlog_entries ENABLE TRIGGER tlog_entries_no_update_delete").execute(&mut c).await?;
        c.close().await?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!("no entry {idx}")));
        }
    }
    Ok(())
}

/// Rows per multi-row INSERT of [`raw_insert_batch`] (2 parameters each).
const RAW_CHUNK: usize = 500;

/// The database's raw insert rate, for benchmarks: insert `rows` into the scratch table
/// `bench_raw_inserts` (created if missing) with plain multi-row INSERTs in one transaction,
/// ids from `first_id` on. SQLite takes the write lock at once (`BEGIN IMMEDIATE`), as the
/// log's sequencer does; nothing else (no reads, no lock on PostgreSQL).
pub async fn raw_insert_batch(store: &crate::Store, first_id: i64, rows: &[Vec<u8>]) -> Result<(), StoreError> {
    let sqlite = store.kind() == crate::BackendKind::Sqlite;
    let ddl = if sqlite {
        "CREATE TABLE IF NOT EXISTS bench_raw_inserts (id INTEGER PRIMARY KEY, data BLOB NOT NULL)"
    } else {
        "CREATE TABLE IF NOT EXISTS bench_raw_inserts (id BIGINT PRIMARY KEY, data BYTEA NOT NULL)"
    };
    crate::with_pool!(store, |pool| {
        if first_id == 0 {
            sqlx::query(ddl).execute(pool).await?;
        }
        let mut tx = if sqlite { pool.begin_with("BEGIN IMMEDIATE").await? } else { pool.begin().await? };
        let mut id = first_id;
        for chunk in rows.chunks(RAW_CHUNK) {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO bench_raw_inserts (id, data) ");
            qb.push_values(chunk, |mut b, data| {
                b.push_bind(id).push_bind(data.as_slice());
                id += 1;
            });
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    })
}
