//! The audit sink: append-only rows (the database refuses UPDATE and DELETE by trigger), each
//! also appended to the tamper-evident log as its `idseal_tlog::entry` encoding.

use idseal_types::{AuditEvent, AuditSink, UnixTime};

use crate::tlog::{AuditInsert, NewEntry};
use crate::{Store, StoreError, hex, with_pool};

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

    /// Write the audit row and append its log entry in one transaction: the entry is durable
    /// when this returns.
    async fn record(&self, e: &AuditEvent) -> Result<(), StoreError> {
        let details = serde_json::to_string(&e.details).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let key = self.pseudonym.as_deref().ok_or(StoreError::NoPseudonymKey)?;
        let entry = NewEntry {
            data: idseal_tlog::entry::encode(e, key)?,
            kind: Some(e.kind.as_str().to_owned()),
            at: Some(e.at.as_secs()),
            subject_pseudonym: e.subject.as_deref().map(|s| hex(&key.subject_pseudonym(s))),
        };
        self.append_batch(Some(AuditInsert { event: e, details }), &[entry]).await.map(|_| ())
    }
}

impl Store {
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
