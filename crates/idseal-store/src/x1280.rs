//! Passwordless login (ITU-T X.1280) storage: enrollments, registered services and sessions.
//!
//! Plain rows, no protocol logic. An enrollment holds no identity data: the device key, the
//! seal's fingerprint and trust level only. Each enrollment has a device account (kind
//! `device`, id = tokenId, email = `device:<tokenId>`) so that sessions, grants and consents
//! work as for password accounts. Every step that must be single-use or bounded is one
//! conditional statement: an attempt is counted by one `UPDATE … WHERE attempts < max`, a
//! session is resolved by one `UPDATE … WHERE status = 'pending'`, so two instances can never
//! both accept. The one-time password is never stored.

use idseal_types::UnixTime;

use crate::oauth::{begin_write, conflict, revoke_grants_sql};
use crate::{Store, StoreError, with_pool};

/// An enrolled device token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrollmentRow {
    /// The token id (the identity's internal id).
    pub token_id: String,
    /// The device's identifier.
    pub device_id: String,
    /// The device's P-256 public key (PEM).
    pub public_key_pem: String,
    /// The key's thumbprint; one key binds to one token.
    pub key_thumbprint: String,
    /// Fingerprint of the VDS enrolled; one VDS enrolls one token.
    pub vds_fingerprint: String,
    /// The VDS trust level, 1 to 3.
    pub trust_level: i64,
    /// When the VDS expires.
    pub vds_expires_at: UnixTime,
    /// How to reach the device: `fcm` or `channel`.
    pub push_kind: String,
    /// The push token (FCM registration token), if any.
    pub push_token: Option<String>,
    /// Revoked.
    pub is_revoked: bool,
    /// When it was revoked.
    pub revoked_at: Option<UnixTime>,
    /// Why: `lost_device`, `compromised`, `expired_document`, `user_request` or `admin`.
    pub revoked_reason: Option<String>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// When it was enrolled.
    pub created_at: UnixTime,
    /// When it last changed.
    pub updated_at: UnixTime,
}

/// What [`Store::insert_enrollment`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnrollOutcome {
    /// Recorded, with its device account.
    Inserted,
    /// The token id is enrolled already (possibly revoked); nothing changed.
    TokenExists {
        /// That enrollment is revoked.
        revoked: bool,
    },
    /// The key is bound to another token; nothing changed.
    KeyInUse,
    /// The VDS is enrolled under another token; nothing changed.
    VdsInUse,
}

/// Filters and page of [`Store::list_enrollments`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnrollmentFilter {
    /// Token ids containing this text (case-insensitive; `%`, `_` and `\` match themselves).
    pub token_id_contains: Option<String>,
    /// This device only.
    pub device_id: Option<String>,
    /// This trust level only.
    pub trust_level: Option<i64>,
    /// Revoked (true) or active (false) only.
    pub is_revoked: Option<bool>,
    /// Enrolled at or after this time.
    pub created_from: Option<UnixTime>,
    /// Enrolled at or before this time.
    pub created_to: Option<UnixTime>,
    /// Page number, from 1 (0 is read as 1).
    pub page: u32,
    /// Rows per page, 1 to 100 (clamped).
    pub limit: u32,
}

/// A service (relying party) registered for X.1280 login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRow {
    /// Service identifier.
    pub service_id: String,
    /// Display name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// Scopes it may request, space-separated.
    pub allowed_scopes: String,
    /// Scopes requested when it names none, space-separated.
    pub default_scopes: String,
    /// The user must consent on the device.
    pub consent_required: bool,
    /// Fingerprint of the Service VDS registered for it (unique when set).
    pub vds_fingerprint: Option<String>,
    /// When it was registered.
    pub created_at: UnixTime,
    /// When it last changed.
    pub updated_at: UnixTime,
}

const ENROLLMENT_COLS: &str = "token_id, device_id, public_key_pem, key_thumbprint, vds_fingerprint, trust_level, \
                               vds_expires_at, push_kind, push_token, is_revoked, revoked_at, revoked_reason, \
                               revoked_by, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct EnrollmentDb {
    token_id: String,
    device_id: String,
    public_key_pem: String,
    key_thumbprint: String,
    vds_fingerprint: String,
    trust_level: i64,
    vds_expires_at: i64,
    push_kind: String,
    push_token: Option<String>,
    is_revoked: i64,
    revoked_at: Option<i64>,
    revoked_reason: Option<String>,
    revoked_by: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<EnrollmentDb> for EnrollmentRow {
    fn from(e: EnrollmentDb) -> Self {
        Self {
            token_id: e.token_id,
            device_id: e.device_id,
            public_key_pem: e.public_key_pem,
            key_thumbprint: e.key_thumbprint,
            vds_fingerprint: e.vds_fingerprint,
            trust_level: e.trust_level,
            vds_expires_at: UnixTime::from_secs(e.vds_expires_at),
            push_kind: e.push_kind,
            push_token: e.push_token,
            is_revoked: e.is_revoked != 0,
            revoked_at: e.revoked_at.map(UnixTime::from_secs),
            revoked_reason: e.revoked_reason,
            revoked_by: e.revoked_by,
            created_at: UnixTime::from_secs(e.created_at),
            updated_at: UnixTime::from_secs(e.updated_at),
        }
    }
}

const SERVICE_COLS: &str = "service_id, name, url, allowed_scopes, default_scopes, consent_required, \
                            vds_fingerprint, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct ServiceDb {
    service_id: String,
    name: String,
    url: String,
    allowed_scopes: String,
    default_scopes: String,
    consent_required: i64,
    vds_fingerprint: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<ServiceDb> for ServiceRow {
    fn from(s: ServiceDb) -> Self {
        Self {
            service_id: s.service_id,
            name: s.name,
            url: s.url,
            allowed_scopes: s.allowed_scopes,
            default_scopes: s.default_scopes,
            consent_required: s.consent_required != 0,
            vds_fingerprint: s.vds_fingerprint,
            created_at: UnixTime::from_secs(s.created_at),
            updated_at: UnixTime::from_secs(s.updated_at),
        }
    }
}

/// A bound value of a statement built from a filter.
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

/// A `WHERE` clause with numbered parameters, built from optional filters.
#[derive(Default)]
pub(crate) struct Where {
    conds: Vec<String>,
    pub(crate) args: Vec<Arg>,
}

impl Where {
    pub(crate) fn push(&mut self, cond: impl FnOnce(usize) -> String, arg: Arg) {
        self.args.push(arg);
        self.conds.push(cond(self.args.len()));
    }

    pub(crate) fn sql(&self) -> String {
        if self.conds.is_empty() { String::new() } else { format!(" WHERE {}", self.conds.join(" AND ")) }
    }

    /// The number the next parameter gets.
    fn next(&self) -> usize {
        self.args.len() + 1
    }
}

/// Bind `args` to a query in order (a macro: the query's type differs per backend).
macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Text(s) => q.bind(s.as_str()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }};
}
pub(crate) use bind_args;

/// Escape `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `(LIMIT, OFFSET)` of a 1-based page of 1 to 100 rows.
pub(crate) fn page_bounds(page: u32, limit: u32) -> (i64, i64) {
    let limit = i64::from(limit.clamp(1, 100));
    (limit, i64::from(page.max(1) - 1) * limit)
}

pub(crate) fn count(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt("negative count".into()))
}

/// The marker email of a device account: no `@`, so no password path can match it.
fn device_email(token_id: &str) -> String {
    format!("device:{token_id}")
}

impl Store {
    // --- enrollments ---

    /// Record an enrollment and, in the same transaction, its device account (kind `device`,
    /// id = tokenId, email `device:<tokenId>`, no password; kept if it exists from an earlier
    /// enrollment). A taken token id, key or VDS is told apart by the unique violation, not by a
    /// read before the insert. A token id that is a password account's id is
    /// [`StoreError::Conflict`].
    pub async fn insert_enrollment(&self, e: &EnrollmentRow) -> Result<EnrollOutcome, StoreError> {
        let sql = format!(
            "INSERT INTO enrollments ({ENROLLMENT_COLS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        );
        let inserted: Result<(), StoreError> = with_pool!(self, |pool| {
            let mut tx = begin_write!(self, pool);
            let r = sqlx::query(&sql)
                .bind(&e.token_id)
                .bind(&e.device_id)
                .bind(&e.public_key_pem)
                .bind(&e.key_thumbprint)
                .bind(&e.vds_fingerprint)
                .bind(e.trust_level)
                .bind(e.vds_expires_at.as_secs())
                .bind(&e.push_kind)
                .bind(&e.push_token)
                .bind(i64::from(e.is_revoked))
                .bind(e.revoked_at.map(UnixTime::as_secs))
                .bind(&e.revoked_reason)
                .bind(&e.revoked_by)
                .bind(e.created_at.as_secs())
                .bind(e.updated_at.as_secs())
                .execute(&mut *tx)
                .await;
            match r.map_err(|err| conflict(err, "enrollment")) {
                Err(err) => {
                    tx.rollback().await?;
                    Err(err)
                }
                Ok(_) => {
                    sqlx::query(
                        "INSERT INTO accounts (id, email, password_hash, email_verified_at, name, kind, created_at, \
                         updated_at) VALUES ($1, $2, NULL, NULL, NULL, 'device', $3, $3) ON CONFLICT DO NOTHING",
                    )
                    .bind(&e.token_id)
                    .bind(device_email(&e.token_id))
                    .bind(e.created_at.as_secs())
                    .execute(&mut *tx)
                    .await?;
                    let acct: Option<(String, String)> =
                        sqlx::query_as("SELECT kind, email FROM accounts WHERE id = $1")
                            .bind(&e.token_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if acct != Some(("device".to_owned(), device_email(&e.token_id))) {
                        tx.rollback().await?;
                        return Err(StoreError::Conflict("token id collides with another account".into()));
                    }
                    tx.commit().await?;
                    Ok(())
                }
            }
        });
        match inserted {
            Ok(()) => Ok(EnrollOutcome::Inserted),
            Err(StoreError::Conflict(what)) if what == "enrollment" => {
                if let Some(existing) = self.enrollment(&e.token_id).await? {
                    Ok(EnrollOutcome::TokenExists { revoked: existing.is_revoked })
                } else if self.enrollment_by_thumbprint(&e.key_thumbprint).await?.is_some() {
                    Ok(EnrollOutcome::KeyInUse)
                } else if self.enrollment_where("vds_fingerprint", &e.vds_fingerprint).await?.is_some() {
                    Ok(EnrollOutcome::VdsInUse)
                } else {
                    // The conflicting row vanished between the insert and the reads.
                    Err(StoreError::Conflict("enrollment (concurrently changed)".into()))
                }
            }
            Err(err) => Err(err),
        }
    }

    async fn enrollment_where(&self, col: &str, value: &str) -> Result<Option<EnrollmentRow>, StoreError> {
        let sql = format!("SELECT {ENROLLMENT_COLS} FROM enrollments WHERE {col} = $1");
        let row: Option<EnrollmentDb> =
            with_pool!(self, |pool| sqlx::query_as(&sql).bind(value).fetch_optional(pool).await?);
        Ok(row.map(Into::into))
    }

    /// The enrollment of this token, revoked or not.
    pub async fn enrollment(&self, token_id: &str) -> Result<Option<EnrollmentRow>, StoreError> {
        self.enrollment_where("token_id", token_id).await
    }

    /// The enrollment bound to the key with this thumbprint, revoked or not.
    pub async fn enrollment_by_thumbprint(&self, thumbprint: &str) -> Result<Option<EnrollmentRow>, StoreError> {
        self.enrollment_where("key_thumbprint", thumbprint).await
    }

    /// Revoke an enrollment and, in the same transaction, everything its identity holds: browser
    /// sessions, grants (with their refresh tokens), codes not yet exchanged, pending X.1280
    /// sessions (marked `expired`) and approved ones no browser has collected yet. `reason` is one of `lost_device`, `compromised`,
    /// `expired_document`, `user_request`, `admin` (another is a database error). False if there
    /// is no such enrollment or it was revoked already.
    pub async fn revoke_enrollment(
        &self,
        token_id: &str,
        reason: &str,
        by: &str,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let (refresh, grants) = revoke_grants_sql("account_id = $2");
        let t = now.as_secs();
        with_pool!(self, |pool| {
            let mut tx = begin_write!(self, pool);
            let n = sqlx::query(
                "UPDATE enrollments SET is_revoked = 1, revoked_at = $2, revoked_reason = $3, revoked_by = $4, \
                 updated_at = $2 WHERE token_id = $1 AND is_revoked = 0",
            )
            .bind(token_id)
            .bind(t)
            .bind(reason)
            .bind(by)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            for sql in [
                "UPDATE user_sessions SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
                refresh.as_str(),
                grants.as_str(),
                "UPDATE auth_codes SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL",
                "UPDATE x1280_sessions SET status = 'expired', resolved_at = $1, reject_reason = 'enrollment_revoked' \
                 WHERE token_id = $2 AND status = 'pending'",
                // An approved login no browser collected yet is not collected any more.
                "UPDATE x1280_sessions SET result_sealed = NULL, browser_binding = NULL \
                 WHERE token_id = $2 AND status = 'approved' AND COALESCE(resolved_at, $1) <= $1",
            ] {
                sqlx::query(sql).bind(t).bind(token_id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Set how to reach the device (`kind` is `fcm` or `channel`). False if there is no such
    /// enrollment or it is revoked.
    pub async fn set_push_target(
        &self,
        token_id: &str,
        kind: &str,
        token: Option<&str>,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let n = with_pool!(self, |pool| sqlx::query(
            "UPDATE enrollments SET push_kind = $2, push_token = $3, updated_at = $4 \
             WHERE token_id = $1 AND is_revoked = 0"
        )
        .bind(token_id)
        .bind(kind)
        .bind(token)
        .bind(now.as_secs())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// A page of enrollments matching `f`, newest first (then by token id), and how many match
    /// in all.
    pub async fn list_enrollments(&self, f: &EnrollmentFilter) -> Result<(Vec<EnrollmentRow>, u64), StoreError> {
        let mut w = Where::default();
        if let Some(s) = &f.token_id_contains {
            w.push(
                |n| format!("LOWER(token_id) LIKE LOWER(${n}) ESCAPE '\\'"),
                Arg::Text(format!("%{}%", like_escape(s))),
            );
        }
        if let Some(d) = &f.device_id {
            w.push(|n| format!("device_id = ${n}"), Arg::Text(d.clone()));
        }
        if let Some(l) = f.trust_level {
            w.push(|n| format!("trust_level = ${n}"), Arg::Int(l));
        }
        if let Some(r) = f.is_revoked {
            w.push(|n| format!("is_revoked = ${n}"), Arg::Int(i64::from(r)));
        }
        if let Some(from) = f.created_from {
            w.push(|n| format!("created_at >= ${n}"), Arg::Int(from.as_secs()));
        }
        if let Some(to) = f.created_to {
            w.push(|n| format!("created_at <= ${n}"), Arg::Int(to.as_secs()));
        }
        let (limit, offset) = page_bounds(f.page, f.limit);
        let (a, b) = (w.next(), w.next() + 1);
        let list = format!(
            "SELECT {ENROLLMENT_COLS} FROM enrollments{} ORDER BY created_at DESC, token_id LIMIT ${a} OFFSET ${b}",
            w.sql()
        );
        let total = format!("SELECT COUNT(*) FROM enrollments{}", w.sql());
        let (rows, n): (Vec<EnrollmentDb>, (i64,)) = with_pool!(self, |pool| {
            let rows = bind_args!(sqlx::query_as(&list), &w.args).bind(limit).bind(offset).fetch_all(pool).await?;
            let n = bind_args!(sqlx::query_as(&total), &w.args).fetch_one(pool).await?;
            (rows, n)
        });
        Ok((rows.into_iter().map(Into::into).collect(), count(n.0)?))
    }

    // --- services ---

    /// Register a service, or replace every field of a registered one but `created_at`. A
    /// Service VDS fingerprint registered for another service is [`StoreError::Conflict`].
    pub async fn upsert_service(&self, s: &ServiceRow) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO x1280_services ({SERVICE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (service_id) DO UPDATE SET name = excluded.name, url = excluded.url, \
             allowed_scopes = excluded.allowed_scopes, default_scopes = excluded.default_scopes, \
             consent_required = excluded.consent_required, vds_fingerprint = excluded.vds_fingerprint, \
             updated_at = excluded.updated_at"
        );
        with_pool!(self, |pool| sqlx::query(&sql)
            .bind(&s.service_id)
            .bind(&s.name)
            .bind(&s.url)
            .bind(&s.allowed_scopes)
            .bind(&s.default_scopes)
            .bind(i64::from(s.consent_required))
            .bind(&s.vds_fingerprint)
            .bind(s.created_at.as_secs())
            .bind(s.updated_at.as_secs())
            .execute(pool)
            .await
            .map_err(|e| conflict(e, "Service VDS already registered for another service"))?
            .rows_affected());
        Ok(())
    }

    async fn service_where(&self, col: &str, value: &str) -> Result<Option<ServiceRow>, StoreError> {
        let sql = format!("SELECT {SERVICE_COLS} FROM x1280_services WHERE {col} = $1");
        let row: Option<ServiceDb> =
            with_pool!(self, |pool| sqlx::query_as(&sql).bind(value).fetch_optional(pool).await?);
        Ok(row.map(Into::into))
    }

    /// The service with this id.
    pub async fn service(&self, service_id: &str) -> Result<Option<ServiceRow>, StoreError> {
        self.service_where("service_id", service_id).await
    }

    /// The service whose Service VDS has this fingerprint.
    pub async fn service_by_fingerprint(&self, fingerprint: &str) -> Result<Option<ServiceRow>, StoreError> {
        self.service_where("vds_fingerprint", fingerprint).await
    }

    /// Every service, by id.
    pub async fn list_services(&self) -> Result<Vec<ServiceRow>, StoreError> {
        let sql = format!("SELECT {SERVICE_COLS} FROM x1280_services ORDER BY service_id");
        let rows: Vec<ServiceDb> = with_pool!(self, |pool| sqlx::query_as(&sql).fetch_all(pool).await?);
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Delete a service. Returns whether it existed.
    pub async fn delete_service(&self, service_id: &str) -> Result<bool, StoreError> {
        let n = with_pool!(self, |pool| sqlx::query("DELETE FROM x1280_services WHERE service_id = $1")
            .bind(service_id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n == 1)
    }
}
