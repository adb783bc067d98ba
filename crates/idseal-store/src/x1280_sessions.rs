//! X.1280 session storage: the live session and, once resolved, its audit record. Counting an
//! attempt and resolving a session are each one conditional UPDATE, so two instances can never
//! both accept and an attempt counter can never be reset.

use idseal_types::UnixTime;

use crate::oauth::conflict;
use crate::x1280::{Arg, Where, bind_args, count, page_bounds};
use crate::{BackendKind, Store, StoreError, with_pool};

/// The most pending sessions of one token that [`Store::pending_sessions_for_token`] lists.
pub const MAX_PENDING_LISTED: i64 = 20;

/// An X.1280 session: live while `pending`, then its audit record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthSessionRow {
    /// Session identifier.
    pub session_id: String,
    /// The token asked to authenticate.
    pub token_id: String,
    /// The requesting service.
    pub service_id: String,
    /// Its display name at the time.
    pub service_name: String,
    /// The service was identified by a verified Service VDS.
    pub service_verified: bool,
    /// Requested scopes, space-separated.
    pub requested_scopes: String,
    /// Granted scopes, space-separated, once approved.
    pub granted_scopes: Option<String>,
    /// The session's 16-hex-character nonce.
    pub random: String,
    /// `pending`, `approved`, `rejected` or `expired`.
    pub status: String,
    /// Why it was rejected.
    pub reject_reason: Option<String>,
    /// Verification attempts so far.
    pub attempts: i64,
    /// When it started.
    pub initiated_at: UnixTime,
    /// When it expires.
    pub expires_at: UnixTime,
    /// When it was approved, rejected or expired.
    pub resolved_at: Option<UnixTime>,
    /// The requesting client's IP address.
    pub client_ip: Option<String>,
    /// Opaque value tying an OIDC browser flow to the session.
    pub browser_binding: Option<String>,
    /// The service's origin as shown on the phone.
    pub service_url: String,
}

/// What [`Store::take_verify_attempt`] decided.
#[allow(clippy::large_enum_variant)] // returned once per request, matched at once: not worth a Box
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The attempt is counted and may proceed: `attempt` is its number (from 1).
    Allowed {
        /// This attempt's number.
        attempt: i64,
        /// The session, with the new count.
        session: AuthSessionRow,
    },
    /// Every allowed attempt is used.
    TooMany,
    /// The session was resolved already.
    NotPending {
        /// Its status (`approved` or `rejected`).
        status: String,
    },
    /// The session has expired (whether or not it was marked so yet).
    Expired,
    /// No such session.
    NotFound,
}

/// Filters and page of [`Store::list_auth_sessions`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// This token only.
    pub token_id: Option<String>,
    /// This status only.
    pub status: Option<String>,
    /// Page number, from 1 (0 is read as 1).
    pub page: u32,
    /// Rows per page, 1 to 100 (clamped).
    pub limit: u32,
}

const SESSION_COLS: &str = "session_id, token_id, service_id, service_name, service_verified, requested_scopes, \
                            granted_scopes, random, status, reject_reason, attempts, initiated_at, expires_at, \
                            resolved_at, client_ip, browser_binding, service_url";

#[derive(sqlx::FromRow)]
struct SessionDb {
    session_id: String,
    token_id: String,
    service_id: String,
    service_name: String,
    service_verified: i64,
    requested_scopes: String,
    granted_scopes: Option<String>,
    random: String,
    status: String,
    reject_reason: Option<String>,
    attempts: i64,
    initiated_at: i64,
    expires_at: i64,
    resolved_at: Option<i64>,
    client_ip: Option<String>,
    browser_binding: Option<String>,
    service_url: String,
}

impl From<SessionDb> for AuthSessionRow {
    fn from(s: SessionDb) -> Self {
        Self {
            session_id: s.session_id,
            token_id: s.token_id,
            service_id: s.service_id,
            service_name: s.service_name,
            service_verified: s.service_verified != 0,
            requested_scopes: s.requested_scopes,
            granted_scopes: s.granted_scopes,
            random: s.random,
            status: s.status,
            reject_reason: s.reject_reason,
            attempts: s.attempts,
            initiated_at: UnixTime::from_secs(s.initiated_at),
            expires_at: UnixTime::from_secs(s.expires_at),
            resolved_at: s.resolved_at.map(UnixTime::from_secs),
            client_ip: s.client_ip,
            browser_binding: s.browser_binding,
            service_url: s.service_url,
        }
    }
}

impl Store {
    // --- sessions ---

    /// Record a new session (normally `pending` with no attempts). A taken id is
    /// [`StoreError::Conflict`].
    pub async fn insert_auth_session(&self, r: &AuthSessionRow) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO x1280_sessions ({SESSION_COLS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        );
        with_pool!(self, |pool| sqlx::query(&sql)
            .bind(&r.session_id)
            .bind(&r.token_id)
            .bind(&r.service_id)
            .bind(&r.service_name)
            .bind(i64::from(r.service_verified))
            .bind(&r.requested_scopes)
            .bind(&r.granted_scopes)
            .bind(&r.random)
            .bind(&r.status)
            .bind(&r.reject_reason)
            .bind(r.attempts)
            .bind(r.initiated_at.as_secs())
            .bind(r.expires_at.as_secs())
            .bind(r.resolved_at.map(UnixTime::as_secs))
            .bind(&r.client_ip)
            .bind(&r.browser_binding)
            .bind(&r.service_url)
            .execute(pool)
            .await
            .map_err(|e| conflict(e, "session id already taken"))?
            .rows_affected());
        Ok(())
    }

    /// The session with this id, whatever its state.
    pub async fn auth_session(&self, session_id: &str) -> Result<Option<AuthSessionRow>, StoreError> {
        let sql = format!("SELECT {SESSION_COLS} FROM x1280_sessions WHERE session_id = $1");
        let row: Option<SessionDb> =
            with_pool!(self, |pool| sqlx::query_as(&sql).bind(session_id).fetch_optional(pool).await?);
        Ok(row.map(Into::into))
    }

    /// Count one verification attempt: one conditional UPDATE increments the counter only if the
    /// session is pending, unexpired and below `max_attempts`, so concurrent attempts on any
    /// number of instances are allowed at most `max_attempts` times in all. When nothing was
    /// counted, the row is read to say why (an expired or resolved session is not counted).
    pub async fn take_verify_attempt(
        &self,
        session_id: &str,
        now: UnixTime,
        max_attempts: i64,
    ) -> Result<AttemptOutcome, StoreError> {
        let sql = format!(
            "UPDATE x1280_sessions SET attempts = attempts + 1 \
             WHERE session_id = $1 AND status = 'pending' AND expires_at > $2 AND attempts < $3 \
             RETURNING {SESSION_COLS}"
        );
        let row: Option<SessionDb> = with_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(session_id)
            .bind(now.as_secs())
            .bind(max_attempts)
            .fetch_optional(pool)
            .await?);
        if let Some(r) = row {
            return Ok(AttemptOutcome::Allowed { attempt: r.attempts, session: r.into() });
        }
        let Some(s) = self.auth_session(session_id).await? else { return Ok(AttemptOutcome::NotFound) };
        Ok(if s.status == "expired" || (s.status == "pending" && s.expires_at <= now) {
            AttemptOutcome::Expired
        } else if s.status != "pending" {
            AttemptOutcome::NotPending { status: s.status }
        } else {
            // Pending and unexpired: the counter is at the limit (or a concurrent change ended
            // the session after the UPDATE; either way this attempt is not counted).
            AttemptOutcome::TooMany
        })
    }

    /// Resolve a pending, unexpired session as `approved` (with the granted scopes and, for a
    /// browser-bound login, its sealed result) or `rejected` (with a reason): one conditional
    /// UPDATE, so of concurrent resolutions exactly one gets `true`. Another status is
    /// [`StoreError::Invalid`].
    #[allow(clippy::too_many_arguments)]
    pub async fn resolve_auth_session(
        &self,
        session_id: &str,
        status: &str,
        granted: Option<&str>,
        reason: Option<&str>,
        result_sealed: Option<&[u8]>,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        if !matches!(status, "approved" | "rejected") {
            return Err(StoreError::Invalid(format!("a session resolves as approved or rejected, not {status:?}")));
        }
        let n = with_pool!(self, |pool| sqlx::query(
            "UPDATE x1280_sessions SET status = $2, granted_scopes = $3, reject_reason = $4, resolved_at = $5, \
             result_sealed = $6 WHERE session_id = $1 AND status = 'pending' AND expires_at > $5"
        )
        .bind(session_id)
        .bind(status)
        .bind(granted)
        .bind(reason)
        .bind(now.as_secs())
        .bind(result_sealed)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Mark up to `limit` pending sessions past their expiry as `expired` (resolved now) and
    /// return them, oldest expiry first. Each one is returned by exactly one call, even when
    /// instances sweep concurrently (the outer condition is checked again on the locked row; on
    /// PostgreSQL concurrent sweeps also skip each other's rows instead of waiting for them).
    pub async fn expire_auth_sessions(&self, now: UnixTime, limit: u32) -> Result<Vec<AuthSessionRow>, StoreError> {
        let skip_locked = if self.kind() == BackendKind::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        // The pick is a materialised CTE, evaluated once: as an `IN (subquery)` PostgreSQL may
        // rescan it per row and, skipping the rows this statement already changed, pick more.
        let sql = format!(
            "WITH picked AS MATERIALIZED \
             (SELECT session_id FROM x1280_sessions WHERE status = 'pending' AND expires_at <= $1 \
              ORDER BY expires_at, session_id LIMIT $2{skip_locked}) \
             UPDATE x1280_sessions SET status = 'expired', resolved_at = $1 \
             WHERE status = 'pending' AND expires_at <= $1 AND session_id IN (SELECT session_id FROM picked) \
             RETURNING {SESSION_COLS}"
        );
        let mut rows: Vec<AuthSessionRow> = with_pool!(self, |pool| sqlx::query_as::<_, SessionDb>(&sql)
            .bind(now.as_secs())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?)
        .into_iter()
        .map(Into::into)
        .collect();
        rows.sort_by(|a, b| (a.expires_at, &a.session_id).cmp(&(b.expires_at, &b.session_id)));
        Ok(rows)
    }

    async fn sessions(
        &self,
        cond: &str,
        args: &[Arg],
        limit: i64,
        offset: i64,
    ) -> Result<Vec<AuthSessionRow>, StoreError> {
        let (a, b) = (args.len() + 1, args.len() + 2);
        let sql = format!(
            "SELECT {SESSION_COLS} FROM x1280_sessions{cond} ORDER BY initiated_at DESC, session_id \
             LIMIT ${a} OFFSET ${b}"
        );
        let rows: Vec<SessionDb> = with_pool!(self, |pool| bind_args!(sqlx::query_as(&sql), args)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The token's pending, unexpired sessions, newest first (at most [`MAX_PENDING_LISTED`]).
    pub async fn pending_sessions_for_token(
        &self,
        token_id: &str,
        now: UnixTime,
    ) -> Result<Vec<AuthSessionRow>, StoreError> {
        let args = [Arg::Text(token_id.to_owned()), Arg::Int(now.as_secs())];
        self.sessions(" WHERE token_id = $1 AND status = 'pending' AND expires_at > $2", &args, MAX_PENDING_LISTED, 0)
            .await
    }

    /// A page of sessions matching `f`, newest first, and how many match in all.
    pub async fn list_auth_sessions(&self, f: &SessionFilter) -> Result<(Vec<AuthSessionRow>, u64), StoreError> {
        let mut w = Where::default();
        if let Some(t) = &f.token_id {
            w.push(|n| format!("token_id = ${n}"), Arg::Text(t.clone()));
        }
        if let Some(s) = &f.status {
            w.push(|n| format!("status = ${n}"), Arg::Text(s.clone()));
        }
        let (limit, offset) = page_bounds(f.page, f.limit);
        let rows = self.sessions(&w.sql(), &w.args, limit, offset).await?;
        let total = format!("SELECT COUNT(*) FROM x1280_sessions{}", w.sql());
        let n: (i64,) = with_pool!(self, |pool| bind_args!(sqlx::query_as(&total), &w.args).fetch_one(pool).await?);
        Ok((rows, count(n.0)?))
    }

    /// Up to `limit` pending, unexpired sessions of any token, newest first.
    pub async fn live_auth_sessions(&self, now: UnixTime, limit: u32) -> Result<Vec<AuthSessionRow>, StoreError> {
        let args = [Arg::Int(now.as_secs())];
        self.sessions(" WHERE status = 'pending' AND expires_at > $1", &args, i64::from(limit), 0).await
    }

    /// The token's latest `limit` sessions, whatever their state, newest first.
    pub async fn recent_sessions(&self, token_id: &str, limit: u32) -> Result<Vec<AuthSessionRow>, StoreError> {
        let args = [Arg::Text(token_id.to_owned())];
        self.sessions(" WHERE token_id = $1", &args, i64::from(limit), 0).await
    }

    /// The sealed result of an approved browser-bound login, taken once by the browser whose
    /// binding matches, within `max_age` seconds of the approval: read, then one conditional
    /// UPDATE clears it; of concurrent takers only the one whose UPDATE cleared it gets it.
    pub async fn take_browser_result(
        &self,
        session_id: &str,
        binding: &str,
        now: UnixTime,
        max_age: i64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let since = now.as_secs().saturating_sub(max_age);
        let cond = "session_id = $1 AND status = 'approved' AND browser_binding = $2 \
                    AND result_sealed IS NOT NULL AND resolved_at >= $3";
        let read = format!("SELECT result_sealed FROM x1280_sessions WHERE {cond}");
        let found: Option<(Vec<u8>,)> = with_pool!(self, |pool| sqlx::query_as(&read)
            .bind(session_id)
            .bind(binding)
            .bind(since)
            .fetch_optional(pool)
            .await?);
        let Some((sealed,)) = found else { return Ok(None) };
        let take = format!("UPDATE x1280_sessions SET result_sealed = NULL, browser_binding = NULL WHERE {cond}");
        let n = with_pool!(self, |pool| sqlx::query(&take)
            .bind(session_id)
            .bind(binding)
            .bind(since)
            .execute(pool)
            .await?
            .rows_affected());
        Ok((n == 1).then_some(sealed))
    }

    /// Clear the sealed results of logins approved before `before` that no browser collected.
    pub async fn clear_stale_results(&self, before: UnixTime) -> Result<u64, StoreError> {
        Ok(with_pool!(self, |pool| sqlx::query(
            "UPDATE x1280_sessions SET result_sealed = NULL WHERE result_sealed IS NOT NULL AND resolved_at < $1"
        )
        .bind(before.as_secs())
        .execute(pool)
        .await?
        .rows_affected()))
    }

    /// Delete session records resolved before `before` (and pending ones that expired before
    /// it). Returns how many.
    pub async fn purge_auth_sessions(&self, before: UnixTime) -> Result<u64, StoreError> {
        Ok(with_pool!(self, |pool| sqlx::query(
            "DELETE FROM x1280_sessions WHERE COALESCE(resolved_at, expires_at) < $1"
        )
        .bind(before.as_secs())
        .execute(pool)
        .await?
        .rows_affected()))
    }
}
