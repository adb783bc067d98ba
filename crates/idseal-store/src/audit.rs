//! The audit sink: append-only rows (the database refuses UPDATE and DELETE by trigger), each
//! also appended to the tamper-evident log as its `idseal_tlog::entry` encoding.

use std::sync::atomic::{AtomicU64, Ordering};

use idseal_types::{AuditEvent, AuditSink, UnixTime};
use tokio::sync::oneshot;

use crate::tlog::{AuditInsert, NewEntry};
use crate::{Store, StoreError, hex, with_pool};

/// Most events one group commit writes.
const MAX_BATCH: usize = 512;

/// An event waiting for a group commit, with the channel its caller waits on.
#[derive(Debug)]
struct Pending {
    event: AuditEvent,
    details: String,
    entry: NewEntry,
    done: oneshot::Sender<Result<(), String>>,
}

/// Group commit of audit events, shared by the clones of one [`Store`]: concurrent
/// [`AuditSink::record`] calls queue their events, and whichever caller holds `leader` writes
/// everything queued so far (up to [`MAX_BATCH`]) in one transaction and reports to each.
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    queue: std::sync::Mutex<Vec<Pending>>,
    leader: tokio::sync::Mutex<()>,
    batches: AtomicU64,
}

/// An audit entry as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRow {
    /// Position in the log.
    pub id: i64,
    /// Event kind name.
    pub kind: String,
    /// When.
    pub at: UnixTime,
    /// Who.
    pub actor: String,
    /// About what.
    pub subject: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Details (JSON).
    pub details: serde_json::Value,
}

pub(crate) type Row = (i64, String, i64, String, Option<String>, Option<String>, Option<String>, String);

/// An `audit_events` row as read (`SELECT id, kind, at, actor, subject, ip, user_agent, details`).
pub(crate) fn to_audit_row(r: Row) -> Result<AuditRow, StoreError> {
    let (id, kind, at, actor, subject, ip, user_agent, details) = r;
    Ok(AuditRow {
        id,
        kind,
        at: UnixTime::from_secs(at),
        actor,
        subject,
        ip,
        user_agent,
        details: serde_json::from_str(&details).map_err(|e| StoreError::Corrupt(e.to_string()))?,
    })
}

impl AuditSink for Store {
    type Error = StoreError;

    /// Write the audit row and append its log entry in one transaction, shared with the events
    /// other callers record at the same time (group commit): the entry is durable when this
    /// returns, and if that transaction fails every event in it fails.
    async fn record(&self, e: &AuditEvent) -> Result<(), StoreError> {
        let details = serde_json::to_string(&e.details).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let key = self.pseudonym.as_deref().ok_or(StoreError::NoPseudonymKey)?;
        let entry = NewEntry {
            data: idseal_tlog::entry::encode(e, key)?,
            kind: Some(e.kind.as_str().to_owned()),
            at: Some(e.at.as_secs()),
            subject_pseudonym: e.subject.as_deref().map(|s| hex(&key.subject_pseudonym(s))),
        };
        let (done, mut rx) = oneshot::channel();
        self.group.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(Pending {
            event: e.clone(),
            details,
            entry,
            done,
        });
        loop {
            let _leader = tokio::select! {
                biased;
                r = &mut rx => return finished(r.ok()),
                g = self.group.leader.lock() => g,
            };
            // A batch may have taken (and reported) this event while we waited for the lock.
            match rx.try_recv() {
                Ok(r) => return finished(Some(r)),
                Err(oneshot::error::TryRecvError::Closed) => return finished(None),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            self.commit_queued().await;
            if let Ok(r) = rx.try_recv() {
                return finished(Some(r));
            }
            // More than a batch was queued ahead of this event: lead the next one too.
        }
    }
}

/// A caller's result from the batch that held its event.
fn finished(r: Option<Result<(), String>>) -> Result<(), StoreError> {
    match r {
        Some(Ok(())) => Ok(()),
        Some(Err(msg)) => Err(StoreError::BatchFailed(msg)),
        None => Err(StoreError::BatchFailed("the audit batch was abandoned before it reported".into())),
    }
}

impl Store {
    /// As the leader: write up to [`MAX_BATCH`] queued events in one transaction and report the
    /// outcome to each of their callers.
    async fn commit_queued(&self) {
        let batch: Vec<Pending> = {
            let mut q = self.group.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let n = q.len().min(MAX_BATCH);
            q.drain(..n).collect()
        };
        if batch.is_empty() {
            return;
        }
        let audits: Vec<AuditInsert<'_>> =
            batch.iter().map(|p| AuditInsert { event: &p.event, details: p.details.clone() }).collect();
        let entries: Vec<NewEntry> = batch.iter().map(|p| p.entry.clone()).collect();
        let r = self.append_batch(&audits, &entries).await.map(|_| ()).map_err(|e| e.to_string());
        drop(audits);
        if r.is_ok() {
            self.group.batches.fetch_add(1, Ordering::Relaxed);
        } else if let Err(msg) = &r {
            tracing::error!(events = batch.len(), error = %msg, "audit batch failed");
        }
        for p in batch {
            // A caller that went away no longer waits for its result.
            let _ = p.done.send(r.clone());
        }
    }

    /// The number of audit batches (transactions of [`AuditSink::record`] events) this store
    /// and its clones have committed. For tests.
    #[doc(hidden)]
    pub fn tlog_batches_committed(&self) -> u64 {
        self.group.batches.load(Ordering::Relaxed)
    }

    /// The newest `limit` audit entries, optionally of one kind, newest first.
    pub async fn audit_events(&self, kind: Option<&str>, limit: i64) -> Result<Vec<AuditRow>, StoreError> {
        let rows: Vec<Row> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT id, kind, at, actor, subject, ip, user_agent, details FROM audit_events \
             WHERE ($1 IS NULL OR kind = $1) ORDER BY id DESC LIMIT $2"
        )
        .bind(kind)
        .bind(limit)
        .fetch_all(pool)
        .await?);
        rows.into_iter().map(to_audit_row).collect()
    }
}
