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

/// A bound value of a tampering statement.
enum Arg {
    Int(i64),
    Bytes(Vec<u8>),
}

fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Corrupt("index too large".into()))
}

/// Run `stmts` on the database at `url` with the append-only triggers of `tlog_entries` and
/// `tlog_hashes` lifted (dropped on SQLite, disabled and re-enabled on PostgreSQL), like an
/// attacker with database access. Returns the rows each statement affected.
async fn run_unlocked(url: &str, stmts: Vec<(&str, Vec<Arg>)>) -> Result<Vec<u64>, StoreError> {
    let mut affected = Vec::with_capacity(stmts.len());
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.map_err(StoreError::Connect)?;
        for t in ["tlog_entries_no_update", "tlog_entries_no_delete", "tlog_hashes_no_update", "tlog_hashes_no_delete"]
        {
            sqlx::query(&format!("DROP TRIGGER IF EXISTS {t}")).execute(&mut c).await?;
        }
        for (sql, args) in stmts {
            let mut q = sqlx::query(sql);
            for a in args {
                q = match a {
                    Arg::Int(i) => q.bind(i),
                    Arg::Bytes(b) => q.bind(b),
                };
            }
            affected.push(q.execute(&mut c).await?.rows_affected());
        }
        c.close().await?;
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.map_err(StoreError::Connect)?;
        let toggle = |on: bool| {
            let verb = if on { "ENABLE" } else { "DISABLE" };
            [
                format!("ALTER TABLE tlog_entries {verb} TRIGGER tlog_entries_no_update_delete"),
                format!("ALTER TABLE tlog_hashes {verb} TRIGGER tlog_hashes_no_update_delete"),
            ]
        };
        for s in toggle(false) {
            sqlx::query(&s).execute(&mut c).await?;
        }
        let mut result = Ok(());
        for (sql, args) in stmts {
            let mut q = sqlx::query(sql);
            for a in args {
                q = match a {
                    Arg::Int(i) => q.bind(i),
                    Arg::Bytes(b) => q.bind(b),
                };
            }
            match q.execute(&mut c).await {
                Ok(r) => affected.push(r.rows_affected()),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        for s in toggle(true) {
            sqlx::query(&s).execute(&mut c).await?;
        }
        c.close().await?;
        result?;
    }
    Ok(affected)
}

async fn open_store(url: &str) -> Result<crate::Store, StoreError> {
    crate::Store::connect(url, &crate::ConnectOptions::default()).await
}

/// Delete the row of entry `idx` (its hashes stay). For tests of `idseal log verify`.
pub async fn tamper_delete_tlog_entry(url: &str, idx: u64) -> Result<(), StoreError> {
    let n = run_unlocked(url, vec![("DELETE FROM tlog_entries WHERE idx = $1", vec![Arg::Int(to_i64(idx)?)])]).await?;
    if n.first() != Some(&1) {
        return Err(StoreError::Corrupt(format!("no entry {idx}")));
    }
    Ok(())
}

/// Swap the rows of entries `a` and `b` (data and leaf hash, so each row is self-consistent):
/// a reordering of the log. For tests of `idseal log verify`.
pub async fn tamper_swap_tlog_entries(url: &str, a: u64, b: u64) -> Result<(), StoreError> {
    let store = open_store(url).await?;
    let ea = store.tlog_entry(a).await?;
    let eb = store.tlog_entry(b).await?;
    store.close().await;
    let (Some(ea), Some(eb)) = (ea, eb) else {
        return Err(StoreError::Corrupt(format!("no entry {a} or {b}")));
    };
    let sql = "UPDATE tlog_entries SET data = $1, leaf_hash = $2 WHERE idx = $3";
    run_unlocked(
        url,
        vec![
            (sql, vec![Arg::Bytes(eb.data), Arg::Bytes(eb.leaf_hash), Arg::Int(to_i64(a)?)]),
            (sql, vec![Arg::Bytes(ea.data), Arg::Bytes(ea.leaf_hash), Arg::Int(to_i64(b)?)]),
        ],
    )
    .await?;
    Ok(())
}

/// Insert one extra entry (with its correct leaf hash, but no subtree hashes) at the index
/// just past the log's end; returns that index. For tests of `idseal log verify`.
pub async fn tamper_insert_tlog_entry(url: &str, data: &[u8]) -> Result<u64, StoreError> {
    let store = open_store(url).await?;
    let size = store.tlog_size().await?;
    store.close().await;
    let leaf = idseal_tlog::hash::leaf_hash(data).to_vec();
    run_unlocked(
        url,
        vec![(
            "INSERT INTO tlog_entries (idx, leaf_hash, data) VALUES ($1, $2, $3)",
            vec![Arg::Int(to_i64(size)?), Arg::Bytes(leaf), Arg::Bytes(data.to_vec())],
        )],
    )
    .await?;
    Ok(size)
}

/// Truncate the log to its first `keep` entries and regrow it with `new` entries, recomputing
/// every leaf and subtree hash so that the rewritten log is internally consistent: only the
/// signed checkpoints (left alone) can tell. For tests of `idseal log verify`.
pub async fn tamper_truncate_regrow_tlog(url: &str, keep: u64, new: &[Vec<u8>]) -> Result<(), StoreError> {
    use idseal_tlog::HashReader as _;
    let store = open_store(url).await?;
    let mut tree = idseal_tlog::MemoryTree::new();
    while tree.size() < keep {
        let page = store.tlog_entries(tree.size(), 1000).await?;
        if page.is_empty() {
            break;
        }
        for e in page.into_iter().take_while(|e| e.index < keep) {
            tree.append(&e.data);
        }
    }
    store.close().await;
    if tree.size() != keep {
        return Err(StoreError::Corrupt(format!("the log has fewer than {keep} entries")));
    }
    let k = to_i64(keep)?;
    // Hashes covering any entry from `keep` on: (idx + 1) * 2^level > keep.
    let mut stmts = vec![("DELETE FROM tlog_entries WHERE idx >= $1", vec![Arg::Int(k)])];
    for level in 0..63u8 {
        stmts.push((
            "DELETE FROM tlog_hashes WHERE level = $1 AND (idx + 1) * $2 > $3",
            vec![Arg::Int(i64::from(level)), Arg::Int(1i64 << level), Arg::Int(k)],
        ));
    }
    for d in new {
        let i = to_i64(tree.append(d))?;
        let leaf = idseal_tlog::hash::leaf_hash(d).to_vec();
        stmts.push((
            "INSERT INTO tlog_entries (idx, leaf_hash, data) VALUES ($1, $2, $3)",
            vec![Arg::Int(i), Arg::Bytes(leaf), Arg::Bytes(d.clone())],
        ));
    }
    let size = tree.size();
    for level in 0..63u8 {
        let count = size >> level;
        if count == 0 {
            break;
        }
        for index in 0..count {
            if (index + 1) << level <= keep {
                continue;
            }
            let h = tree.subtree_hash(idseal_tlog::Subtree { level, index }).map_err(StoreError::Tlog)?;
            stmts.push((
                "INSERT INTO tlog_hashes (level, idx, hash) VALUES ($1, $2, $3)",
                vec![Arg::Int(i64::from(level)), Arg::Int(to_i64(index)?), Arg::Bytes(h.to_vec())],
            ));
        }
    }
    run_unlocked(url, stmts).await?;
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
