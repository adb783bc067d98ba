//! Storage of the tamper-evident audit log (docs/audit-log.md, "Storage").
//!
//! * `tlog_entries`: every entry at consecutive indices from 0, with its leaf hash.
//! * `tlog_hashes`: the hash of every complete subtree, (level, index), level 0 = leaf hashes.
//!   With all of them stored, a root or a proof reads O(log n) rows.
//! * `tlog_checkpoints`: signed checkpoints, at most one per size.
//!
//! One sequencer at a time: an append runs in one transaction that first takes the log's write
//! lock (PostgreSQL: a transaction-scoped advisory lock; SQLite: `BEGIN IMMEDIATE`), reads the
//! size, writes the entries and the new subtree hashes, and commits. Several instances can
//! append at once; they queue on the lock and the log stays gap-free.

use std::collections::HashMap;

use idseal_tlog::hash::{empty_root, leaf_hash, node_hash};
use idseal_tlog::{Hash, HashReader, Subtree, TlogError, proof};
use idseal_types::UnixTime;

use crate::{BackendKind, Store, StoreError, with_pool};

/// The PostgreSQL advisory-lock key of the log's sequencer ("idsealtl").
const TLOG_LOCK: i64 = 0x6964_7365_616c_746c;
/// Rows per multi-row INSERT (at most 7 parameters each, well under both backends' limits).
const CHUNK: usize = 500;

/// An entry to append, with the columns copied out of it for queries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewEntry {
    /// The entry bytes (the leaf is `SHA-256(0x00 || data)`).
    pub data: Vec<u8>,
    /// The event kind, for the auditor query.
    pub kind: Option<String>,
    /// The event time, Unix seconds.
    pub at: Option<i64>,
    /// The subject's pseudonym (hex), for right-of-access exports.
    pub subject_pseudonym: Option<String>,
}

impl NewEntry {
    /// A raw entry without query columns.
    pub fn raw(data: Vec<u8>) -> Self {
        Self { data, ..Self::default() }
    }
}

/// A stored entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    /// Its index in the log.
    pub index: u64,
    /// The stored leaf hash.
    pub leaf_hash: Vec<u8>,
    /// The entry bytes.
    pub data: Vec<u8>,
    /// The event kind, if recorded.
    pub kind: Option<String>,
    /// The event time, if recorded.
    pub at: Option<i64>,
    /// The subject's pseudonym (hex), if any.
    pub subject_pseudonym: Option<String>,
}

/// A stored checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The tree size it commits to.
    pub size: u64,
    /// The root it commits to (as stored; 32 bytes unless corrupt).
    pub root: Vec<u8>,
    /// The signed note.
    pub note: String,
    /// When it was stored.
    pub at: UnixTime,
}

/// The audit row written in the same transaction as its entry.
pub(crate) struct AuditInsert<'a> {
    pub(crate) event: &'a idseal_types::AuditEvent,
    pub(crate) details: String,
}

/// Hashes of complete subtrees of height [`CACHE_MIN_LEVEL`] and up, kept in memory once read.
/// A complete subtree's hash never changes (the log is append-only, and the database refuses
/// updates), and these upper nodes are shared by every proof, so a proof reads only its few
/// lowest nodes from the database. At most [`CACHE_MAX`] hashes (~8 MiB); when full, nothing
/// more is kept. `idseal log verify` never uses this cache: it reads the database.
#[derive(Debug, Default)]
pub(crate) struct HashCache(std::sync::RwLock<HashMap<Subtree, Hash>>);

/// The lowest level cached: subtrees of 16 leaves and up (one in 16 of the stored hashes).
const CACHE_MIN_LEVEL: u8 = 4;
/// Most hashes cached.
const CACHE_MAX: usize = 150_000;

impl HashCache {
    fn get(&self, s: &Subtree) -> Option<Hash> {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(s).copied()
    }

    fn keep(&self, found: &HashMap<Subtree, Hash>) {
        let mut m = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (s, h) in found {
            if s.level >= CACHE_MIN_LEVEL && m.len() < CACHE_MAX {
                m.insert(*s, *h);
            }
        }
    }
}

/// Subtree hashes read from the database for one root or proof: a [`HashReader`] snapshot.
#[derive(Debug, Default)]
pub struct HashSnapshot(HashMap<Subtree, Hash>);

impl HashReader for HashSnapshot {
    type Error = StoreError;

    fn subtree_hash(&self, s: Subtree) -> Result<Hash, StoreError> {
        self.0.get(&s).copied().ok_or(StoreError::Tlog(TlogError::MissingHash { level: s.level, index: s.index }))
    }
}

type EntryRow = (i64, Vec<u8>, Vec<u8>, Option<String>, Option<i64>, Option<String>);

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Tlog(TlogError::IndexOutOfRange { index: v, size: i64::MAX as u64 }))
}

fn to_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative log index {v}")))
}

fn to_hash(v: &[u8]) -> Result<Hash, StoreError> {
    v.try_into().map_err(|_| StoreError::Corrupt("stored log hash is not 32 bytes".into()))
}

fn entry_row((idx, leaf, data, kind, at, subject): EntryRow) -> Result<StoredEntry, StoreError> {
    Ok(StoredEntry { index: to_u64(idx)?, leaf_hash: leaf, data, kind, at, subject_pseudonym: subject })
}

impl Store {
    /// Append raw entries in one transaction; returns `(index of the first, new size)`.
    pub async fn tlog_append(&self, entries: &[Vec<u8>]) -> Result<(u64, u64), StoreError> {
        let entries: Vec<NewEntry> = entries.iter().map(|d| NewEntry::raw(d.clone())).collect();
        self.tlog_append_entries(&entries).await
    }

    /// Append entries with their query columns in one transaction; returns
    /// `(index of the first, new size)`. Durable when it returns.
    pub async fn tlog_append_entries(&self, entries: &[NewEntry]) -> Result<(u64, u64), StoreError> {
        self.append_batch(&[], entries).await
    }

    /// The sequencer: lock, write the audit rows (none, or one per entry), append, commit.
    pub(crate) async fn append_batch(
        &self,
        audits: &[AuditInsert<'_>],
        entries: &[NewEntry],
    ) -> Result<(u64, u64), StoreError> {
        if !audits.is_empty() && audits.len() != entries.len() {
            return Err(StoreError::Corrupt("audit rows and log entries differ in number".into()));
        }
        let sqlite = self.kind() == BackendKind::Sqlite;
        with_pool!(self, |pool| {
            // SQLite: BEGIN IMMEDIATE takes the database's write lock at once, so two appenders
            // never both read the same size. PostgreSQL: an advisory lock held until commit.
            let mut tx = if sqlite { pool.begin_with("BEGIN IMMEDIATE").await? } else { pool.begin().await? };
            if !sqlite {
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(TLOG_LOCK).execute(&mut *tx).await?;
            }
            for chunk in audits.chunks(CHUNK) {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO audit_events (kind, at, actor, subject, ip, user_agent, details) ",
                );
                qb.push_values(chunk, |mut b, a| {
                    let e = a.event;
                    b.push_bind(e.kind.as_str())
                        .push_bind(e.at.as_secs())
                        .push_bind(e.actor.clone())
                        .push_bind(e.subject.clone())
                        .push_bind(e.ip.map(|ip| ip.to_string()))
                        .push_bind(e.user_agent.clone())
                        .push_bind(a.details.clone());
                });
                qb.build().execute(&mut *tx).await?;
            }
            let size: i64 =
                sqlx::query_scalar("SELECT COALESCE(MAX(idx) + 1, 0) FROM tlog_entries").fetch_one(&mut *tx).await?;
            let size = to_u64(size)?;
            // The right frontier: the complete subtrees that make up the current tree.
            let mut known: HashMap<Subtree, Hash> = HashMap::new();
            for s in proof::root_subtrees(size) {
                let h: Option<Vec<u8>> =
                    sqlx::query_scalar("SELECT hash FROM tlog_hashes WHERE level = $1 AND idx = $2")
                        .bind(i32::from(s.level))
                        .bind(to_i64(s.index)?)
                        .fetch_optional(&mut *tx)
                        .await?;
                let h = h.ok_or_else(|| StoreError::Corrupt(format!("missing log hash {}/{}", s.level, s.index)))?;
                known.insert(s, to_hash(&h)?);
            }
            let (rows, hashes) = compute_append(size, entries, &mut known)?;
            for chunk in rows.chunks(CHUNK) {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO tlog_entries (idx, leaf_hash, data, kind, at, subject_pseudonym) ",
                );
                qb.push_values(chunk, |mut b, (idx, leaf, e)| {
                    b.push_bind(*idx)
                        .push_bind(leaf.to_vec())
                        .push_bind(e.data.clone())
                        .push_bind(e.kind.clone())
                        .push_bind(e.at)
                        .push_bind(e.subject_pseudonym.clone());
                });
                qb.build().execute(&mut *tx).await?;
            }
            for chunk in hashes.chunks(CHUNK) {
                let mut qb = sqlx::QueryBuilder::new("INSERT INTO tlog_hashes (level, idx, hash) ");
                qb.push_values(chunk, |mut b, (level, idx, h)| {
                    b.push_bind(*level).push_bind(*idx).push_bind(h.to_vec());
                });
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok((size, size + entries.len() as u64))
        })
    }

    /// The number of entries in the log.
    pub async fn tlog_size(&self) -> Result<u64, StoreError> {
        let size: i64 =
            with_pool!(self, |pool| sqlx::query_scalar("SELECT COALESCE(MAX(idx) + 1, 0) FROM tlog_entries")
                .fetch_one(pool)
                .await?);
        to_u64(size)
    }

    /// The stored hashes of `subtrees`, as a [`HashReader`]: one query for all of them (a proof
    /// needs up to 2 log2(n) hashes; one round trip each made proofs ~10x slower).
    pub async fn tlog_snapshot(&self, subtrees: &[Subtree]) -> Result<HashSnapshot, StoreError> {
        let mut out = HashMap::new();
        let mut missing = Vec::new();
        for s in subtrees {
            match self.hash_cache.get(s) {
                Some(h) => {
                    out.insert(*s, h);
                }
                None => missing.push(*s),
            }
        }
        if missing.is_empty() {
            return Ok(HashSnapshot(out));
        }
        let keys = missing
            .iter()
            .map(|s| Ok((i32::from(s.level), to_i64(s.index)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let rows: Vec<(i32, i64, Vec<u8>)> = with_pool!(self, |pool| {
            let mut qb = sqlx::QueryBuilder::new("SELECT level, idx, hash FROM tlog_hashes WHERE ");
            for (n, (level, idx)) in keys.iter().enumerate() {
                if n > 0 {
                    qb.push(" OR ");
                }
                qb.push("(level = ").push_bind(*level).push(" AND idx = ").push_bind(*idx).push(")");
            }
            qb.build_query_as().fetch_all(pool).await?
        });
        let mut found = HashMap::with_capacity(rows.len());
        for (level, idx, h) in rows {
            let level = u8::try_from(level).map_err(|_| StoreError::Corrupt(format!("tlog hash level {level}")))?;
            found.insert(Subtree { level, index: to_u64(idx)? }, to_hash(&h)?);
        }
        self.hash_cache.keep(&found);
        out.extend(found);
        Ok(HashSnapshot(out))
    }

    async fn check_size(&self, size: u64) -> Result<(), StoreError> {
        let current = self.tlog_size().await?;
        if size > current {
            return Err(StoreError::Tlog(TlogError::IndexOutOfRange { index: size, size: current }));
        }
        Ok(())
    }

    /// The root of the tree of the first `size` entries, from stored hashes (O(log n) reads).
    pub async fn tlog_root(&self, size: u64) -> Result<Hash, StoreError> {
        if size == 0 {
            return Ok(empty_root());
        }
        self.check_size(size).await?;
        let snap = self.tlog_snapshot(&proof::root_subtrees(size)).await?;
        proof::root(&snap, size)
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries.
    pub async fn tlog_inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        let subtrees = proof::inclusion_subtrees(index, size)?;
        let snap = self.tlog_snapshot(&subtrees).await?;
        self.beyond_size_as_out_of_range(proof::inclusion_proof(&snap, index, size), size).await
    }

    /// The consistency proof from the tree of `size1` entries to the tree of `size2`.
    pub async fn tlog_consistency_proof(&self, size1: u64, size2: u64) -> Result<Vec<Hash>, StoreError> {
        let subtrees = proof::consistency_subtrees(size1, size2)?;
        let snap = self.tlog_snapshot(&subtrees).await?;
        self.beyond_size_as_out_of_range(proof::consistency_proof(&snap, size1, size2), size2).await
    }

    /// Proofs read only stored hashes of complete subtrees, which exist exactly for trees no
    /// larger than the log: so the size is checked (one more query) only when a hash is missing,
    /// to report a size beyond the log as such rather than as a missing hash.
    async fn beyond_size_as_out_of_range<T>(&self, r: Result<T, StoreError>, size: u64) -> Result<T, StoreError> {
        match r {
            Err(StoreError::Tlog(TlogError::MissingHash { .. })) => {
                self.check_size(size).await?;
                r
            }
            other => other,
        }
    }

    /// The entry at `index`, if the log has one.
    pub async fn tlog_entry(&self, index: u64) -> Result<Option<StoredEntry>, StoreError> {
        Ok(self.tlog_entries(index, 1).await?.into_iter().next())
    }

    /// Up to `limit` entries from index `start` on, in index order.
    pub async fn tlog_entries(&self, start: u64, limit: u32) -> Result<Vec<StoredEntry>, StoreError> {
        let rows: Vec<EntryRow> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT idx, leaf_hash, data, kind, at, subject_pseudonym FROM tlog_entries \
             WHERE idx >= $1 ORDER BY idx LIMIT $2"
        )
        .bind(to_i64(start)?)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?);
        rows.into_iter().map(entry_row).collect()
    }

    /// Up to `limit` stored subtree hashes of `level` from index `start` on, in index order, as
    /// `(index, hash)` (for the offline check of the whole log).
    pub async fn tlog_level_hashes(
        &self,
        level: u8,
        start: u64,
        limit: u32,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let rows: Vec<(i64, Vec<u8>)> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT idx, hash FROM tlog_hashes WHERE level = $1 AND idx >= $2 ORDER BY idx LIMIT $3"
        )
        .bind(i32::from(level))
        .bind(to_i64(start)?)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?);
        rows.into_iter().map(|(i, h)| Ok((to_u64(i)?, h))).collect()
    }

    /// The highest level that has any stored hash, if any.
    pub async fn tlog_max_level(&self) -> Result<Option<u8>, StoreError> {
        let v: Option<i32> =
            with_pool!(self, |pool| sqlx::query_scalar("SELECT MAX(level) FROM tlog_hashes").fetch_one(pool).await?);
        v.map(|l| u8::try_from(l).map_err(|_| StoreError::Corrupt(format!("log hash level {l}")))).transpose()
    }

    /// Store a signed checkpoint of `size` with `root`. Returns `false` when the same
    /// checkpoint is already stored (another instance signed it first). Refuses a different
    /// root for a size already checkpointed (a fork) and a root that is not the log's.
    pub async fn tlog_add_checkpoint(
        &self,
        size: u64,
        root: &Hash,
        note: &str,
        at: UnixTime,
    ) -> Result<bool, StoreError> {
        let same = |existing: &StoredCheckpoint| {
            if existing.root.as_slice() == root { Ok(false) } else { Err(StoreError::Fork { size }) }
        };
        if let Some(existing) = self.tlog_checkpoint(size).await? {
            return same(&existing);
        }
        if self.tlog_root(size).await? != *root {
            return Err(StoreError::Fork { size });
        }
        let inserted = with_pool!(self, |pool| {
            sqlx::query(
            "INSERT INTO tlog_checkpoints (size, root, note, at) VALUES ($1, $2, $3, $4) ON CONFLICT (size) DO NOTHING"
        )
        .bind(to_i64(size)?)
        .bind(root.to_vec())
        .bind(note)
        .bind(at.as_secs())
        .execute(pool)
        .await?
        .rows_affected()
        });
        if inserted == 1 {
            return Ok(true);
        }
        match self.tlog_checkpoint(size).await? {
            Some(existing) => same(&existing),
            None => Err(StoreError::Corrupt("checkpoint vanished".into())),
        }
    }

    /// The checkpoint of `size`, if one is stored.
    pub async fn tlog_checkpoint(&self, size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row: Option<(i64, Vec<u8>, String, i64)> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT size, root, note, at FROM tlog_checkpoints WHERE size = $1"
        )
        .bind(to_i64(size)?)
        .fetch_optional(pool)
        .await?);
        row.map(checkpoint_row).transpose()
    }

    /// The checkpoint of the largest size, if any.
    pub async fn tlog_latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row: Option<(i64, Vec<u8>, String, i64)> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT size, root, note, at FROM tlog_checkpoints ORDER BY size DESC LIMIT 1"
        )
        .fetch_optional(pool)
        .await?);
        row.map(checkpoint_row).transpose()
    }

    /// Up to `limit` checkpoints of sizes above `after` (`None`: from the first), by size.
    pub async fn tlog_checkpoints(&self, after: Option<u64>, limit: u32) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let after = after.map(to_i64).transpose()?.unwrap_or(-1);
        let rows: Vec<(i64, Vec<u8>, String, i64)> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT size, root, note, at FROM tlog_checkpoints WHERE size > $1 ORDER BY size LIMIT $2"
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?);
        rows.into_iter().map(checkpoint_row).collect()
    }
}

/// The auditor query over `audit_events` (every filter optional; rows by id ascending).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this event kind (its stored name, for example `KEY_ROTATE`).
    pub kind: Option<String>,
    /// Only this subject, as recorded.
    pub subject: Option<String>,
    /// Only events at or after this time, Unix seconds.
    pub since: Option<i64>,
    /// Only events at or before this time, Unix seconds.
    pub until: Option<i64>,
    /// Only rows with an id above this one (pagination).
    pub after_id: Option<i64>,
    /// At most this many rows.
    pub limit: u32,
}

type AuditDbRow = (i64, String, i64, String, Option<String>, Option<String>, Option<String>, String);

impl Store {
    /// Up to `limit` entries about the subject with pseudonym `pseudonym` (hex, as stored),
    /// with indices in `[start, below)`, in index order.
    pub async fn tlog_entries_by_subject(
        &self,
        pseudonym: &str,
        start: u64,
        below: u64,
        limit: u32,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let rows: Vec<EntryRow> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT idx, leaf_hash, data, kind, at, subject_pseudonym FROM tlog_entries \
             WHERE subject_pseudonym = $1 AND idx >= $2 AND idx < $3 ORDER BY idx LIMIT $4"
        )
        .bind(pseudonym)
        .bind(to_i64(start)?)
        .bind(to_i64(below)?)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?);
        rows.into_iter().map(entry_row).collect()
    }

    /// The `count` hashes of tree level `level` from index `start` on, as a tile needs them.
    /// Fails unless every one is stored and 32 bytes long.
    pub async fn tlog_tile_hashes(&self, level: u8, start: u64, count: u16) -> Result<Vec<Hash>, StoreError> {
        let rows = self.tlog_level_hashes(level, start, u32::from(count)).await?;
        if rows.len() != usize::from(count) {
            return Err(StoreError::Corrupt(format!("missing log hashes at level {level} from {start}")));
        }
        let mut out = Vec::with_capacity(rows.len());
        for (expected, (idx, h)) in (start..).zip(rows) {
            if idx != expected {
                return Err(StoreError::Corrupt(format!("missing log hash {level}/{expected}")));
            }
            out.push(to_hash(&h)?);
        }
        Ok(out)
    }

    /// The auditor query: audit rows matching every given filter, by id ascending.
    pub async fn audit_query(&self, q: &AuditQuery) -> Result<Vec<crate::AuditRow>, StoreError> {
        let rows: Vec<AuditDbRow> = with_pool!(self, |pool| {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT id, kind, at, actor, subject, ip, user_agent, details FROM audit_events WHERE 1 = 1",
            );
            if let Some(k) = &q.kind {
                qb.push(" AND kind = ").push_bind(k.clone());
            }
            if let Some(s) = &q.subject {
                qb.push(" AND subject = ").push_bind(s.clone());
            }
            if let Some(t) = q.since {
                qb.push(" AND at >= ").push_bind(t);
            }
            if let Some(t) = q.until {
                qb.push(" AND at <= ").push_bind(t);
            }
            if let Some(id) = q.after_id {
                qb.push(" AND id > ").push_bind(id);
            }
            qb.push(" ORDER BY id LIMIT ").push_bind(i64::from(q.limit));
            qb.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(crate::audit::to_audit_row).collect()
    }
}

fn checkpoint_row((size, root, note, at): (i64, Vec<u8>, String, i64)) -> Result<StoredCheckpoint, StoreError> {
    Ok(StoredCheckpoint { size: to_u64(size)?, root, note, at: UnixTime::from_secs(at) })
}

type EntryInsert<'a> = (i64, Hash, &'a NewEntry);
type HashInsert = (i32, i64, Hash);

/// The rows to insert for `entries` appended to a tree of `size`, given its right frontier in
/// `known`: entry rows and every newly complete subtree hash.
fn compute_append<'a>(
    size: u64,
    entries: &'a [NewEntry],
    known: &mut HashMap<Subtree, Hash>,
) -> Result<(Vec<EntryInsert<'a>>, Vec<HashInsert>), StoreError> {
    let mut rows = Vec::with_capacity(entries.len());
    let mut hashes = Vec::with_capacity(entries.len() * 2);
    for (n, e) in (size..).zip(entries) {
        let leaf = leaf_hash(&e.data);
        rows.push((to_i64(n)?, leaf, e));
        let (mut level, mut index, mut h) = (0u8, n, leaf);
        loop {
            hashes.push((i32::from(level), to_i64(index)?, h));
            known.insert(Subtree { level, index }, h);
            if index % 2 == 0 {
                break;
            }
            let left = known
                .get(&Subtree { level, index: index - 1 })
                .ok_or_else(|| StoreError::Corrupt(format!("missing log hash {level}/{}", index - 1)))?;
            h = node_hash(left, &h);
            known.remove(&Subtree { level, index: index - 1 });
            level += 1;
            index /= 2;
        }
    }
    Ok((rows, hashes))
}
