//! Small server records: settings claimed once (`meta`) and admin API tokens.

use idseal_types::UnixTime;

use crate::{Store, StoreError, with_pool};

impl Store {
    /// Store `value` under `key` unless a value is there; return the stored value and whether
    /// this call stored it. Atomic across instances.
    pub async fn claim_meta(&self, key: &str, value: &str) -> Result<(String, bool), StoreError> {
        let inserted = with_pool!(self, |pool| sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING"
        )
        .bind(key)
        .bind(value)
        .execute(pool)
        .await?
        .rows_affected())
            == 1;
        let stored: (String,) = with_pool!(self, |pool| sqlx::query_as("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_one(pool)
            .await?);
        Ok((stored.0, inserted))
    }

    /// Issue the deployment's one-time bootstrap admin token, stored by its SHA-256 hash, unless
    /// one was issued before. The claim and the token are written in one transaction, so a crash
    /// can never leave a claimed but unusable token. Returns whether this call issued it.
    pub async fn issue_bootstrap_token(&self, token_hash: &str, now: UnixTime) -> Result<bool, StoreError> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let claimed = sqlx::query(
                "INSERT INTO meta (key, value) VALUES ('admin_bootstrap_token', 'issued') ON CONFLICT (key) DO NOTHING",
            )
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if claimed {
                sqlx::query("INSERT INTO admin_tokens (token_hash, label, created_at) VALUES ($1, 'bootstrap', $2)")
                    .bind(token_hash)
                    .bind(now.as_secs())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(claimed)
        })
    }

    /// Withdraw a bootstrap token that could not be shown or audited: the token and the claim
    /// go in one transaction, so that the next start issues a new one instead of none.
    pub async fn withdraw_bootstrap_token(&self, token_hash: &str) -> Result<(), StoreError> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM admin_tokens WHERE token_hash = $1 AND label = 'bootstrap'")
                .bind(token_hash)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM meta WHERE key = 'admin_bootstrap_token'").execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Record an admin token by its SHA-256 hash (hex).
    pub async fn insert_admin_token(&self, token_hash: &str, label: &str, now: UnixTime) -> Result<(), StoreError> {
        with_pool!(self, |pool| sqlx::query(
            "INSERT INTO admin_tokens (token_hash, label, created_at) VALUES ($1, $2, $3)"
        )
        .bind(token_hash)
        .bind(label)
        .bind(now.as_secs())
        .execute(pool)
        .await
        .map(|_| ())?);
        Ok(())
    }

    /// The label of the admin token with this hash, if one exists.
    pub async fn admin_token(&self, token_hash: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> =
            with_pool!(self, |pool| sqlx::query_as("SELECT label FROM admin_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(pool)
                .await?);
        Ok(row.map(|r| r.0))
    }
}
