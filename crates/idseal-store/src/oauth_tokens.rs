//! OAuth storage, the token side: authorization codes, grants, access and refresh tokens, and
//! their purge. Every single-use or rotation step is one conditional statement or one
//! transaction (docs/design/oauth.md).

use idseal_types::UnixTime;

use crate::oauth::{
    AccessRow, AccessStatus, CodeOutcome, CodeRow, GrantRow, RefreshRow, begin_write, conflict, revoke_grants_sql,
};
use crate::{Store, StoreError, with_pool};

const CODE_COLS: &str = "code_hash, client_id, account_id, session_id, redirect_uri, scope, nonce, code_challenge, \
                         auth_time, acr, amr, identity_sealed, created_at, expires_at";

#[derive(sqlx::FromRow)]
struct CodeDb {
    code_hash: String,
    client_id: String,
    account_id: String,
    session_id: Option<String>,
    redirect_uri: String,
    scope: String,
    nonce: Option<String>,
    code_challenge: String,
    auth_time: i64,
    acr: Option<String>,
    amr: Option<String>,
    identity_sealed: Option<Vec<u8>>,
    created_at: i64,
    expires_at: i64,
}

#[derive(sqlx::FromRow)]
struct CodeUsedDb {
    #[sqlx(flatten)]
    code: CodeDb,
    used_at: Option<i64>,
}

impl From<CodeDb> for CodeRow {
    fn from(c: CodeDb) -> Self {
        Self {
            code_hash: c.code_hash,
            client_id: c.client_id,
            account_id: c.account_id,
            session_id: c.session_id,
            redirect_uri: c.redirect_uri,
            scope: c.scope,
            nonce: c.nonce,
            code_challenge: c.code_challenge,
            auth_time: UnixTime::from_secs(c.auth_time),
            acr: c.acr,
            amr: c.amr,
            identity_sealed: c.identity_sealed,
            created_at: UnixTime::from_secs(c.created_at),
            expires_at: UnixTime::from_secs(c.expires_at),
        }
    }
}

const GRANT_COLS: &str = "id, client_id, account_id, scope, code_hash, session_id, auth_time, acr, amr, identity_sealed, created_at, revoked_at";

#[derive(sqlx::FromRow)]
struct GrantDb {
    id: String,
    client_id: String,
    account_id: Option<String>,
    scope: String,
    code_hash: Option<String>,
    session_id: Option<String>,
    auth_time: Option<i64>,
    acr: Option<String>,
    amr: Option<String>,
    identity_sealed: Option<Vec<u8>>,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl From<GrantDb> for GrantRow {
    fn from(g: GrantDb) -> Self {
        Self {
            id: g.id,
            client_id: g.client_id,
            account_id: g.account_id,
            scope: g.scope,
            code_hash: g.code_hash,
            session_id: g.session_id,
            auth_time: g.auth_time.map(UnixTime::from_secs),
            acr: g.acr,
            amr: g.amr,
            identity_sealed: g.identity_sealed,
            created_at: UnixTime::from_secs(g.created_at),
            revoked_at: g.revoked_at.map(UnixTime::from_secs),
        }
    }
}

const REFRESH_COLS: &str =
    "token_hash, grant_id, client_id, account_id, scope, created_at, expires_at, rotated_at, revoked_at";

#[derive(sqlx::FromRow)]
struct RefreshDb {
    token_hash: String,
    grant_id: String,
    client_id: String,
    account_id: String,
    scope: String,
    created_at: i64,
    expires_at: i64,
    rotated_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<RefreshDb> for RefreshRow {
    fn from(r: RefreshDb) -> Self {
        Self {
            token_hash: r.token_hash,
            grant_id: r.grant_id,
            client_id: r.client_id,
            account_id: r.account_id,
            scope: r.scope,
            created_at: UnixTime::from_secs(r.created_at),
            expires_at: UnixTime::from_secs(r.expires_at),
            rotated_at: r.rotated_at.map(UnixTime::from_secs),
            revoked_at: r.revoked_at.map(UnixTime::from_secs),
        }
    }
}

const INSERT_GRANT: &str = "INSERT INTO grants (id, client_id, account_id, scope, code_hash, session_id, auth_time, \
                            acr, amr, identity_sealed, created_at, revoked_at) \
                            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
const INSERT_ACCESS: &str = "INSERT INTO access_tokens (jti, grant_id, client_id, expires_at) VALUES ($1, $2, $3, $4)";
const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, account_id, scope, \
                              created_at, expires_at, rotated_at, revoked_at) \
                              VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// Bind an [`AccessRow`] to [`INSERT_ACCESS`].
macro_rules! bind_access {
    ($a:expr) => {
        sqlx::query(INSERT_ACCESS).bind(&$a.jti).bind(&$a.grant_id).bind(&$a.client_id).bind($a.expires_at.as_secs())
    };
}

/// Insert a grant, its access token and its refresh token (if any) in the transaction `tx`
/// (a macro: the body is compiled once per backend).
macro_rules! insert_grant_rows {
    ($tx:ident, $g:expr, $access:expr, $refresh:expr) => {{
        let g = $g;
        sqlx::query(INSERT_GRANT)
            .bind(&g.id)
            .bind(&g.client_id)
            .bind(&g.account_id)
            .bind(&g.scope)
            .bind(&g.code_hash)
            .bind(&g.session_id)
            .bind(g.auth_time.map(UnixTime::as_secs))
            .bind(&g.acr)
            .bind(&g.amr)
            .bind(&g.identity_sealed)
            .bind(g.created_at.as_secs())
            .bind(g.revoked_at.map(UnixTime::as_secs))
            .execute(&mut *$tx)
            .await
            .map_err(|e| conflict(e, "grant id or code already used"))?;
        bind_access!($access).execute(&mut *$tx).await.map_err(|e| conflict(e, "jti already recorded"))?;
        if let Some(r) = $refresh {
            bind_refresh!(r).execute(&mut *$tx).await.map_err(|e| conflict(e, "refresh token already recorded"))?;
        }
    }};
}

/// Bind a [`RefreshRow`] to [`INSERT_REFRESH`].
macro_rules! bind_refresh {
    ($r:expr) => {
        sqlx::query(INSERT_REFRESH)
            .bind(&$r.token_hash)
            .bind(&$r.grant_id)
            .bind(&$r.client_id)
            .bind(&$r.account_id)
            .bind(&$r.scope)
            .bind($r.created_at.as_secs())
            .bind($r.expires_at.as_secs())
            .bind($r.rotated_at.map(UnixTime::as_secs))
            .bind($r.revoked_at.map(UnixTime::as_secs))
    };
}

/// A day, in seconds: how long used or expired codes stay for replay detection.
const CODE_RETENTION_SECS: i64 = 86_400;

impl Store {
    // --- codes ---

    /// Record an authorization code.
    pub async fn insert_code(&self, c: &CodeRow) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO auth_codes ({CODE_COLS}, used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULL)"
        );
        with_pool!(self, |pool| sqlx::query(&sql)
            .bind(&c.code_hash)
            .bind(&c.client_id)
            .bind(&c.account_id)
            .bind(&c.session_id)
            .bind(&c.redirect_uri)
            .bind(&c.scope)
            .bind(&c.nonce)
            .bind(&c.code_challenge)
            .bind(c.auth_time.as_secs())
            .bind(&c.acr)
            .bind(&c.amr)
            .bind(&c.identity_sealed)
            .bind(c.created_at.as_secs())
            .bind(c.expires_at.as_secs())
            .execute(pool)
            .await
            .map_err(|e| conflict(e, "code already recorded"))?
            .rows_affected());
        Ok(())
    }

    /// Use a code: one conditional UPDATE marks it used, so of concurrent uses exactly one gets
    /// [`CodeOutcome::Fresh`]. A code that was used before is [`CodeOutcome::Replayed`] (even once
    /// expired, as long as its row is kept: a replay is reported as one), with the grant its first
    /// use created; an unknown code, or an unused expired one, is [`CodeOutcome::Invalid`].
    pub async fn consume_code(
        &self,
        code_hash: &str,
        client_id: &str,
        now: UnixTime,
    ) -> Result<CodeOutcome, StoreError> {
        let sql = format!(
            "UPDATE auth_codes SET used_at = $2 WHERE code_hash = $1 AND client_id = $3 AND used_at IS NULL \
             AND expires_at > $2 RETURNING {CODE_COLS}"
        );
        let fresh: Option<CodeDb> = with_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(code_hash)
            .bind(now.as_secs())
            .bind(client_id)
            .fetch_optional(pool)
            .await?);
        if let Some(c) = fresh {
            return Ok(CodeOutcome::Fresh(c.into()));
        }
        // Another client's code is not touched (a stolen code cannot be burnt by a third
        // party); only its own client's second use counts as a replay.
        let row: Option<(String, String, Option<i64>)> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT client_id, account_id, used_at FROM auth_codes WHERE code_hash = $1 AND client_id = $2"
        )
        .bind(code_hash)
        .bind(client_id)
        .fetch_optional(pool)
        .await?);
        let Some((client_id, account_id, Some(_))) = row else {
            return Ok(CodeOutcome::Invalid);
        };
        let grant: Option<(String,)> =
            with_pool!(self, |pool| sqlx::query_as("SELECT id FROM grants WHERE code_hash = $1")
                .bind(code_hash)
                .fetch_optional(pool)
                .await?);
        Ok(CodeOutcome::Replayed { client_id, account_id, grant_id: grant.map(|g| g.0) })
    }

    // --- grants and tokens ---

    /// The code with this hash issued to `client_id`, and whether it was used already; `None`
    /// for an unknown code or another client's. Reading is free: the code is used up only by
    /// [`redeem_code`](Self::redeem_code), in the transaction that records its grant.
    pub async fn code(&self, code_hash: &str, client_id: &str) -> Result<Option<(CodeRow, bool)>, StoreError> {
        let sql = format!("SELECT {CODE_COLS}, used_at FROM auth_codes WHERE code_hash = $1 AND client_id = $2");
        let row: Option<CodeUsedDb> =
            with_pool!(self, |pool| sqlx::query_as(&sql).bind(code_hash).bind(client_id).fetch_optional(pool).await?);
        Ok(row.map(|r| (r.code.into(), r.used_at.is_some())))
    }

    /// Use up a code and record the grant it yields, in one transaction: the code is marked used
    /// only if it is still unused, unexpired and its client's; otherwise nothing is written and
    /// the answer is `false` (a concurrent or repeated use, which the caller treats as a replay).
    /// The grant takes the code's `amr` and `identity_sealed` (whatever `g` carries in them).
    /// One durable write per code exchange.
    pub async fn redeem_code(
        &self,
        code_hash: &str,
        now: UnixTime,
        g: &GrantRow,
        access: &AccessRow,
        refresh: Option<&RefreshRow>,
    ) -> Result<bool, StoreError> {
        with_pool!(self, |pool| {
            let mut tx = begin_write!(self, pool);
            let used: Option<(Option<String>, Option<Vec<u8>>)> = sqlx::query_as(
                "UPDATE auth_codes SET used_at = $2 WHERE code_hash = $1 AND client_id = $3 AND used_at IS NULL \
                 AND expires_at > $2 RETURNING amr, identity_sealed",
            )
            .bind(code_hash)
            .bind(now.as_secs())
            .bind(&g.client_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((amr, identity_sealed)) = used else {
                tx.rollback().await?;
                return Ok(false);
            };
            let g = GrantRow { amr, identity_sealed, ..g.clone() };
            insert_grant_rows!(tx, &g, access, refresh);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Record a grant with its first access token and, if any, its refresh token, in one
    /// transaction. A grant for a code that already has one is [`StoreError::Conflict`].
    pub async fn issue_grant(
        &self,
        g: &GrantRow,
        access: &AccessRow,
        refresh: Option<&RefreshRow>,
    ) -> Result<(), StoreError> {
        with_pool!(self, |pool| {
            let mut tx = begin_write!(self, pool);
            insert_grant_rows!(tx, g, access, refresh);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Record an access token of an existing grant (client_credentials).
    pub async fn insert_access(&self, a: &AccessRow) -> Result<(), StoreError> {
        with_pool!(self, |pool| bind_access!(a)
            .execute(pool)
            .await
            .map_err(|e| conflict(e, "jti already recorded"))?
            .rows_affected());
        Ok(())
    }

    /// The grant with this id.
    pub async fn grant(&self, id: &str) -> Result<Option<GrantRow>, StoreError> {
        let sql = format!("SELECT {GRANT_COLS} FROM grants WHERE id = $1");
        let row: Option<GrantDb> = with_pool!(self, |pool| sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        Ok(row.map(Into::into))
    }

    /// The refresh token with this hash and its grant, whatever their state (the caller checks
    /// expiry, rotation and revocation, and treats a rotated or revoked token as reuse).
    pub async fn refresh_token(&self, token_hash: &str) -> Result<Option<(RefreshRow, GrantRow)>, StoreError> {
        let sql = format!("SELECT {REFRESH_COLS} FROM refresh_tokens WHERE token_hash = $1");
        let row: Option<RefreshDb> =
            with_pool!(self, |pool| sqlx::query_as(&sql).bind(token_hash).fetch_optional(pool).await?);
        let Some(r) = row else { return Ok(None) };
        let grant = self
            .grant(&r.grant_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("refresh token of missing grant {}", r.grant_id)))?;
        Ok(Some((r.into(), grant)))
    }

    /// Rotate a refresh token, in one transaction: mark the old one rotated if it is still live
    /// (not rotated, not revoked, not expired, grant not revoked), then record `new_refresh` and
    /// `access`. Of concurrent rotations of one token exactly one returns true; the others insert
    /// nothing.
    pub async fn rotate_refresh(
        &self,
        old_hash: &str,
        now: UnixTime,
        new_refresh: &RefreshRow,
        access: &AccessRow,
    ) -> Result<bool, StoreError> {
        with_pool!(self, |pool| {
            let mut tx = begin_write!(self, pool);
            let n = sqlx::query(
                "UPDATE refresh_tokens SET rotated_at = $2 WHERE token_hash = $1 AND rotated_at IS NULL \
                 AND revoked_at IS NULL AND expires_at > $2 AND EXISTS \
                 (SELECT 1 FROM grants WHERE grants.id = refresh_tokens.grant_id AND grants.revoked_at IS NULL)",
            )
            .bind(old_hash)
            .bind(now.as_secs())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            bind_refresh!(new_refresh)
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict(e, "refresh token already recorded"))?;
            bind_access!(access).execute(&mut *tx).await.map_err(|e| conflict(e, "jti already recorded"))?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// The standing of the access token `jti`: its grant, whether it was revoked itself, and its
    /// expiry. `None` if it was never recorded (or was purged after expiry).
    pub async fn access_status(&self, jti: &str) -> Result<Option<AccessStatus>, StoreError> {
        let row: Option<(String, i64, Option<i64>)> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT grant_id, expires_at, revoked_at FROM access_tokens WHERE jti = $1"
        )
        .bind(jti)
        .fetch_optional(pool)
        .await?);
        let Some((grant_id, expires_at, revoked_at)) = row else { return Ok(None) };
        let grant = self
            .grant(&grant_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("access token of missing grant {grant_id}")))?;
        Ok(Some(AccessStatus {
            grant,
            access_revoked: revoked_at.is_some(),
            expires_at: UnixTime::from_secs(expires_at),
        }))
    }

    /// Revoke one access token, only if it was issued to `client_id`. Returns whether it changed.
    pub async fn revoke_access(&self, jti: &str, client_id: &str, now: UnixTime) -> Result<bool, StoreError> {
        let n = with_pool!(self, |pool| sqlx::query(
            "UPDATE access_tokens SET revoked_at = $3 WHERE jti = $1 AND client_id = $2 AND revoked_at IS NULL"
        )
        .bind(jti)
        .bind(client_id)
        .bind(now.as_secs())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Revoke a grant and its refresh tokens (its access tokens are refused through the grant),
    /// in one transaction. Returns whether it was live.
    pub async fn revoke_grant(&self, grant_id: &str, now: UnixTime) -> Result<bool, StoreError> {
        let (refresh, grants) = revoke_grants_sql("id = $2");
        with_pool!(self, |pool| {
            let mut tx = begin_write!(self, pool);
            sqlx::query(&refresh).bind(now.as_secs()).bind(grant_id).execute(&mut *tx).await?;
            let n = sqlx::query(&grants).bind(now.as_secs()).bind(grant_id).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            Ok(n == 1)
        })
    }

    /// Revoke every grant of `client_id` for `account_id` and their refresh tokens (refresh
    /// token reuse detection), in one transaction. Returns how many grants were live.
    pub async fn revoke_grants_for(&self, client_id: &str, account_id: &str, now: UnixTime) -> Result<u64, StoreError> {
        let (refresh, grants) = revoke_grants_sql("client_id = $2 AND account_id = $3");
        with_pool!(self, |pool| {
            let mut tx = begin_write!(self, pool);
            sqlx::query(&refresh).bind(now.as_secs()).bind(client_id).bind(account_id).execute(&mut *tx).await?;
            let n = sqlx::query(&grants)
                .bind(now.as_secs())
                .bind(client_id)
                .bind(account_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(n)
        })
    }

    /// Delete what has expired: codes a day past expiry, access and refresh tokens past expiry,
    /// sessions past expiry (revoked or not), used or expired email tokens, and grants left with
    /// no token and no code (created over a day ago). Returns the number of rows deleted.
    pub async fn purge_oauth(&self, now: UnixTime) -> Result<u64, StoreError> {
        let t = now.as_secs();
        let day_ago = t.saturating_sub(CODE_RETENTION_SECS);
        let stmts: [(&str, i64); 6] = [
            ("DELETE FROM auth_codes WHERE expires_at <= $1", day_ago),
            ("DELETE FROM access_tokens WHERE expires_at <= $1", t),
            ("DELETE FROM refresh_tokens WHERE expires_at <= $1", t),
            ("DELETE FROM user_sessions WHERE expires_at <= $1", t),
            ("DELETE FROM email_tokens WHERE used_at IS NOT NULL OR expires_at <= $1", t),
            (
                "DELETE FROM grants WHERE created_at <= $1 \
                 AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.grant_id = grants.id) \
                 AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = grants.id) \
                 AND NOT EXISTS (SELECT 1 FROM auth_codes c WHERE c.code_hash = grants.code_hash)",
                day_ago,
            ),
        ];
        let mut total = 0;
        for (sql, at) in stmts {
            total += with_pool!(self, |pool| sqlx::query(sql).bind(at).execute(pool).await?.rows_affected());
        }
        Ok(total)
    }
}
