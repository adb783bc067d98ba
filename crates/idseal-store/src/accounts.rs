//! Accounts, email tokens (verification and password reset) and browser sessions
//! (docs/design/oauth.md).
//!
//! Emails arrive normalised (trimmed, lower-cased) from the caller; passwords arrive hashed
//! (argon2id PHC strings); email tokens arrive as their SHA-256 (hex). A password reset is one
//! transaction: the token, the password, every session and every grant of the account.

use idseal_types::UnixTime;

use crate::oauth::{begin_write, conflict, revoke_grants_sql};
use crate::{Store, StoreError, with_pool};

/// A user account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRow {
    /// Account id (a UUID; the public subject).
    pub id: String,
    /// Email address, already normalised by the caller; unique.
    pub email: String,
    /// argon2id PHC string; `None` if no password was ever set.
    pub password_hash: Option<String>,
    /// The email address was verified.
    pub email_verified: bool,
    /// Display name.
    pub name: Option<String>,
    /// `"password"`, or `"device"` for a passwordless (X.1280) identity: its id is the
    /// enrollment's tokenId, its email the unroutable marker `device:<tokenId>`, and it has no
    /// password.
    pub kind: String,
    /// When it was created.
    pub created_at: UnixTime,
    /// When it last changed (OIDC `updated_at`).
    pub updated_at: UnixTime,
}

/// A browser session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    /// Session id (the cookie's `sid`).
    pub id: String,
    /// The signed-in account.
    pub account_id: String,
    /// Client IP at sign-in.
    pub ip: Option<String>,
    /// User agent at sign-in.
    pub user_agent: Option<String>,
    /// When it was created.
    pub created_at: UnixTime,
    /// When it was last seen (written at most once a minute).
    pub last_seen: UnixTime,
    /// When it expires.
    pub expires_at: UnixTime,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// When it was revoked.
    pub revoked_at: Option<UnixTime>,
}

/// `last_seen` is written at most this often.
const TOUCH_INTERVAL_SECS: i64 = 60;

const ACCOUNT_COLS: &str = "id, email, password_hash, email_verified_at, name, kind, created_at, updated_at";

type AccountDb = (String, String, Option<String>, Option<i64>, Option<String>, String, i64, i64);

fn account_row((id, email, password_hash, verified_at, name, kind, created_at, updated_at): AccountDb) -> AccountRow {
    AccountRow {
        id,
        email,
        password_hash,
        email_verified: verified_at.is_some(),
        name,
        kind,
        created_at: UnixTime::from_secs(created_at),
        updated_at: UnixTime::from_secs(updated_at),
    }
}

const SESSION_COLS: &str = "id, account_id, ip, user_agent, created_at, last_seen, expires_at, auth_time, revoked_at";

type SessionDb = (String, String, Option<String>, Option<String>, i64, i64, i64, i64, Option<i64>);

fn session_row((id, account_id, ip, user_agent, created, seen, expires, auth, revoked): SessionDb) -> SessionRow {
    SessionRow {
        id,
        account_id,
        ip,
        user_agent,
        created_at: UnixTime::from_secs(created),
        last_seen: UnixTime::from_secs(seen),
        expires_at: UnixTime::from_secs(expires),
        auth_time: UnixTime::from_secs(auth),
        revoked_at: revoked.map(UnixTime::from_secs),
    }
}

/// Consume a live email token of `$purpose` (`$1` hash, `$2` purpose, `$3` now).
const CONSUME_TOKEN: &str = "UPDATE email_tokens SET used_at = $3 \
                             WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
                             RETURNING account_id";

impl Store {
    // --- accounts ---

    /// Create an account. A taken email is [`StoreError::Conflict`] (and so is a taken id).
    pub async fn insert_account(&self, a: &AccountRow) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO accounts ({ACCOUNT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
        with_pool!(self, |pool| sqlx::query(&sql)
            .bind(&a.id)
            .bind(&a.email)
            .bind(&a.password_hash)
            .bind(a.email_verified.then_some(a.created_at.as_secs()))
            .bind(&a.name)
            .bind(&a.kind)
            .bind(a.created_at.as_secs())
            .bind(a.updated_at.as_secs())
            .execute(pool)
            .await
            .map_err(|e| conflict(e, "email already registered"))?
            .rows_affected());
        Ok(())
    }

    /// The account with this id.
    pub async fn account(&self, id: &str) -> Result<Option<AccountRow>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1");
        let row: Option<AccountDb> =
            with_pool!(self, |pool| sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        Ok(row.map(account_row))
    }

    /// The account with this (normalised) email.
    pub async fn account_by_email(&self, email: &str) -> Result<Option<AccountRow>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE email = $1");
        let row: Option<AccountDb> =
            with_pool!(self, |pool| sqlx::query_as(&sql).bind(email).fetch_optional(pool).await?);
        Ok(row.map(account_row))
    }

    /// Replace the password hash. Returns whether the account exists.
    pub async fn set_password(&self, account_id: &str, hash: &str, now: UnixTime) -> Result<bool, StoreError> {
        let n = with_pool!(self, |pool| sqlx::query(
            "UPDATE accounts SET password_hash = $2, updated_at = $3 WHERE id = $1"
        )
        .bind(account_id)
        .bind(hash)
        .bind(now.as_secs())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Mark the email verified (the first verification time is kept). Returns whether the
    /// account exists.
    pub async fn set_email_verified(&self, account_id: &str, now: UnixTime) -> Result<bool, StoreError> {
        let n = with_pool!(self, |pool| sqlx::query(
            "UPDATE accounts SET email_verified_at = COALESCE(email_verified_at, $2), updated_at = $2 WHERE id = $1"
        )
        .bind(account_id)
        .bind(now.as_secs())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    // --- email tokens ---

    /// Record an email token (`purpose` is `"verify"` or `"reset"`) by its hash.
    pub async fn insert_email_token(
        &self,
        token_hash: &str,
        account_id: &str,
        purpose: &str,
        created_at: UnixTime,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        with_pool!(self, |pool| sqlx::query(
            "INSERT INTO email_tokens (token_hash, account_id, purpose, created_at, expires_at, used_at) \
             VALUES ($1, $2, $3, $4, $5, NULL)"
        )
        .bind(token_hash)
        .bind(account_id)
        .bind(purpose)
        .bind(created_at.as_secs())
        .bind(expires_at.as_secs())
        .execute(pool)
        .await
        .map_err(|e| conflict(e, "email token already recorded"))?
        .rows_affected());
        Ok(())
    }

    /// Use an email token of `purpose` once: one conditional UPDATE, so of concurrent uses
    /// exactly one gets the account id. `None` if unknown, used, expired or of another purpose.
    pub async fn consume_email_token(
        &self,
        token_hash: &str,
        purpose: &str,
        now: UnixTime,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = with_pool!(self, |pool| sqlx::query_as(CONSUME_TOKEN)
            .bind(token_hash)
            .bind(purpose)
            .bind(now.as_secs())
            .fetch_optional(pool)
            .await?);
        Ok(row.map(|r| r.0))
    }

    /// Reset a password in one transaction: consume the `"reset"` token, set the new hash,
    /// revoke every session and every grant (with its refresh tokens) of the account. Returns the
    /// account id; with an invalid token nothing changes and it returns `None`.
    pub async fn reset_password(
        &self,
        token_hash: &str,
        new_hash: &str,
        now: UnixTime,
    ) -> Result<Option<String>, StoreError> {
        let (refresh, grants) = revoke_grants_sql("account_id = $2");
        with_pool!(self, |pool| {
            let mut tx = begin_write!(self, pool);
            let row: Option<(String,)> = sqlx::query_as(CONSUME_TOKEN)
                .bind(token_hash)
                .bind("reset")
                .bind(now.as_secs())
                .fetch_optional(&mut *tx)
                .await?;
            let Some((account_id,)) = row else {
                tx.rollback().await?;
                return Ok(None);
            };
            sqlx::query("UPDATE accounts SET password_hash = $2, updated_at = $3 WHERE id = $1")
                .bind(&account_id)
                .bind(new_hash)
                .bind(now.as_secs())
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE user_sessions SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL")
                .bind(now.as_secs())
                .bind(&account_id)
                .execute(&mut *tx)
                .await?;
            for sql in [&refresh, &grants] {
                sqlx::query(sql).bind(now.as_secs()).bind(&account_id).execute(&mut *tx).await?;
            }
            // The link reached the mailbox: the address is verified. Every other outstanding
            // link of the account dies, and so do codes not yet exchanged.
            sqlx::query("UPDATE accounts SET email_verified_at = COALESCE(email_verified_at, $2) WHERE id = $1")
                .bind(&account_id)
                .bind(now.as_secs())
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE email_tokens SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL")
                .bind(&account_id)
                .bind(now.as_secs())
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE auth_codes SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL")
                .bind(&account_id)
                .bind(now.as_secs())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Some(account_id))
        })
    }

    /// The account an unused, unexpired email token of `purpose` belongs to, without using it
    /// (to refuse a bad link before doing expensive work).
    pub async fn email_token_account(
        &self,
        token_hash: &str,
        purpose: &str,
        now: UnixTime,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT account_id FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL \
             AND expires_at > $3"
        )
        .bind(token_hash)
        .bind(purpose)
        .bind(now.as_secs())
        .fetch_optional(pool)
        .await?);
        Ok(row.map(|r| r.0))
    }

    /// A signed-in user changed their password: set it and revoke every session and every grant
    /// of the account, in one transaction (a stolen password's sessions and tokens all die).
    /// Returns the number of sessions revoked.
    pub async fn change_password(&self, account_id: &str, new_hash: &str, now: UnixTime) -> Result<u64, StoreError> {
        let (refresh, grants) = revoke_grants_sql("account_id = $2");
        with_pool!(self, |pool| {
            let mut tx = begin_write!(self, pool);
            sqlx::query("UPDATE accounts SET password_hash = $2, updated_at = $3 WHERE id = $1")
                .bind(account_id)
                .bind(new_hash)
                .bind(now.as_secs())
                .execute(&mut *tx)
                .await?;
            let sessions =
                sqlx::query("UPDATE user_sessions SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL")
                    .bind(now.as_secs())
                    .bind(account_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            for sql in [&refresh, &grants] {
                sqlx::query(sql).bind(now.as_secs()).bind(account_id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(sessions)
        })
    }

    /// Verify an email in one transaction: consume the `"verify"` token and mark the account's
    /// email verified. Returns the account id, or `None` (nothing changed) if the token is invalid.
    pub async fn verify_email(&self, token_hash: &str, now: UnixTime) -> Result<Option<String>, StoreError> {
        with_pool!(self, |pool| {
            let mut tx = begin_write!(self, pool);
            let row: Option<(String,)> = sqlx::query_as(CONSUME_TOKEN)
                .bind(token_hash)
                .bind("verify")
                .bind(now.as_secs())
                .fetch_optional(&mut *tx)
                .await?;
            let Some((account_id,)) = row else {
                tx.rollback().await?;
                return Ok(None);
            };
            sqlx::query(
                "UPDATE accounts SET email_verified_at = COALESCE(email_verified_at, $2), updated_at = $2 \
                 WHERE id = $1",
            )
            .bind(&account_id)
            .bind(now.as_secs())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Some(account_id))
        })
    }

    // --- sessions ---

    /// Record a browser session.
    pub async fn insert_session(&self, s: &SessionRow) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO user_sessions ({SESSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        with_pool!(self, |pool| sqlx::query(&sql)
            .bind(&s.id)
            .bind(&s.account_id)
            .bind(&s.ip)
            .bind(&s.user_agent)
            .bind(s.created_at.as_secs())
            .bind(s.last_seen.as_secs())
            .bind(s.expires_at.as_secs())
            .bind(s.auth_time.as_secs())
            .bind(s.revoked_at.map(UnixTime::as_secs))
            .execute(pool)
            .await
            .map_err(|e| conflict(e, "session id already taken"))?
            .rows_affected());
        Ok(())
    }

    /// The session with this id, whatever its state (the caller checks expiry and revocation).
    pub async fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        let sql = format!("SELECT {SESSION_COLS} FROM user_sessions WHERE id = $1");
        let row: Option<SessionDb> =
            with_pool!(self, |pool| sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        Ok(row.map(session_row))
    }

    /// Update `last_seen` to `now`, only if it is at least a minute old (one statement).
    pub async fn touch_session(&self, id: &str, now: UnixTime) -> Result<(), StoreError> {
        with_pool!(self, |pool| sqlx::query(
            "UPDATE user_sessions SET last_seen = $2 WHERE id = $1 AND last_seen <= $3"
        )
        .bind(id)
        .bind(now.as_secs())
        .bind(now.as_secs().saturating_sub(TOUCH_INTERVAL_SECS))
        .execute(pool)
        .await?
        .rows_affected());
        Ok(())
    }

    /// The account's live sessions (not revoked, not expired), newest first.
    pub async fn list_sessions(&self, account_id: &str, now: UnixTime) -> Result<Vec<SessionRow>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLS} FROM user_sessions \
             WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, id DESC"
        );
        let rows: Vec<SessionDb> =
            with_pool!(self, |pool| sqlx::query_as(&sql).bind(account_id).bind(now.as_secs()).fetch_all(pool).await?);
        Ok(rows.into_iter().map(session_row).collect())
    }

    /// Revoke one of the account's own sessions. False if it is not the account's, does not
    /// exist or was already revoked.
    pub async fn revoke_session(&self, account_id: &str, id: &str, now: UnixTime) -> Result<bool, StoreError> {
        let n = with_pool!(self, |pool| sqlx::query(
            "UPDATE user_sessions SET revoked_at = $3 WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL"
        )
        .bind(id)
        .bind(account_id)
        .bind(now.as_secs())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Revoke every live session of the account; returns how many.
    pub async fn revoke_all_sessions(&self, account_id: &str, now: UnixTime) -> Result<u64, StoreError> {
        Ok(with_pool!(self, |pool| sqlx::query(
            "UPDATE user_sessions SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL"
        )
        .bind(account_id)
        .bind(now.as_secs())
        .execute(pool)
        .await?
        .rows_affected()))
    }
}
