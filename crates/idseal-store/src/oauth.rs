//! OAuth 2.1 / OpenID Connect storage: the row types, clients and consents
//! (docs/design/oauth.md); codes, grants and tokens are in `oauth_tokens`.
//!
//! Plain rows, no protocol logic. Every state change that must be atomic is one statement or one
//! transaction here: code consumption, refresh rotation, revoke-consent (consent + grants),
//! delete-client (client + grants + consents). Secrets, codes and refresh tokens are stored only
//! as their SHA-256 (hex), which the caller computes.

use idseal_types::UnixTime;

use crate::{Store, StoreError, with_pool};

/// A registered client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRow {
    /// The client identifier (`idc_…`).
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// SHA-256 (hex) of the secret; `None` for a public client.
    pub secret_hash: Option<String>,
    /// Registered redirect URIs, compared by exact string match.
    pub redirect_uris: Vec<String>,
    /// Registered post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Allowed scopes, space-separated.
    pub scopes: String,
    /// Token endpoint authentication method (`client_secret_basic`, `client_secret_post`, `none`).
    pub auth_method: String,
    /// Allowed grant types.
    pub grant_types: Vec<String>,
    /// `id_token_signed_response_alg`.
    pub id_token_alg: String,
    /// `pairwise` or `public`.
    pub subject_type: String,
    /// Sector identifier for pairwise subjects (fixed at registration).
    pub sector: String,
    /// Registered through RFC 7591 dynamic registration.
    pub dynamic: bool,
    /// When it was registered.
    pub created_at: UnixTime,
}

/// A user's remembered consent to one client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentRow {
    /// The client.
    pub client_id: String,
    /// The union of the scopes granted, space-separated.
    pub scope: String,
    /// When it was last granted or widened.
    pub granted_at: UnixTime,
}

/// An authorization code, stored by its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRow {
    /// SHA-256 (hex) of the code.
    pub code_hash: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The account that authorized it.
    pub account_id: String,
    /// The browser session it was issued in.
    pub session_id: Option<String>,
    /// The redirect URI of the authorization request.
    pub redirect_uri: String,
    /// The granted scope, space-separated.
    pub scope: String,
    /// The request's `nonce`.
    pub nonce: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// Authentication context class, when known.
    pub acr: Option<String>,
    /// Authentication methods (RFC 8176 values), space-separated, when known.
    pub amr: Option<String>,
    /// Sealed identity claims of a passwordless login (opaque to the store).
    pub identity_sealed: Option<Vec<u8>>,
    /// When it was issued.
    pub created_at: UnixTime,
    /// When it expires.
    pub expires_at: UnixTime,
}

/// A grant: what one code exchange (or one client_credentials request) created. Its access and
/// refresh tokens live and die with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRow {
    /// Grant identifier.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// The account; `None` for client_credentials.
    pub account_id: Option<String>,
    /// The granted scope, space-separated.
    pub scope: String,
    /// SHA-256 (hex) of the code it was created from.
    pub code_hash: Option<String>,
    /// The browser session of the authorization.
    pub session_id: Option<String>,
    /// When the user authenticated.
    pub auth_time: Option<UnixTime>,
    /// Authentication context class, when known.
    pub acr: Option<String>,
    /// Authentication methods (RFC 8176 values), space-separated, when known. On a grant
    /// created by [`Store::redeem_code`] it is the code's.
    pub amr: Option<String>,
    /// Sealed identity claims of a passwordless login (opaque to the store). On a grant
    /// created by [`Store::redeem_code`] it is the code's.
    pub identity_sealed: Option<Vec<u8>>,
    /// When it was created.
    pub created_at: UnixTime,
    /// When it was revoked.
    pub revoked_at: Option<UnixTime>,
}

/// An issued access token, recorded by its `jti`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRow {
    /// The JWT's `jti`.
    pub jti: String,
    /// The grant it belongs to.
    pub grant_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// Its `exp`.
    pub expires_at: UnixTime,
}

/// A refresh token, stored by its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshRow {
    /// SHA-256 (hex) of the token.
    pub token_hash: String,
    /// The grant it belongs to.
    pub grant_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The account.
    pub account_id: String,
    /// Its scope, space-separated.
    pub scope: String,
    /// When it was issued.
    pub created_at: UnixTime,
    /// When it expires.
    pub expires_at: UnixTime,
    /// When it was used (and replaced by a new one).
    pub rotated_at: Option<UnixTime>,
    /// When it was revoked.
    pub revoked_at: Option<UnixTime>,
}

/// What [`Store::consume_code`] found.
#[allow(clippy::large_enum_variant)] // returned once per request, matched at once: not worth a Box
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeOutcome {
    /// First use: the code's row (now marked used).
    Fresh(CodeRow),
    /// Already used: the grant its first use created (None if that exchange never completed).
    Replayed {
        /// The client the code was issued to.
        client_id: String,
        /// The account that authorized it.
        account_id: String,
        /// The grant created from it, if any.
        grant_id: Option<String>,
    },
    /// Unknown or expired.
    Invalid,
}

/// An access token's standing, for userinfo and introspection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessStatus {
    /// Its grant (check `revoked_at`).
    pub grant: GrantRow,
    /// The access token itself was revoked.
    pub access_revoked: bool,
    /// Its `exp`.
    pub expires_at: UnixTime,
}

/// Begin a write transaction: `BEGIN IMMEDIATE` on SQLite (takes the write lock at once, so a
/// deferred transaction cannot fail to upgrade under concurrency), a plain one on PostgreSQL.
macro_rules! begin_write {
    ($store:expr, $pool:ident) => {
        if $store.kind() == $crate::BackendKind::Sqlite {
            $pool.begin_with("BEGIN IMMEDIATE").await?
        } else {
            $pool.begin().await?
        }
    };
}
pub(crate) use begin_write;

/// Map a unique-constraint violation to [`StoreError::Conflict`].
pub(crate) fn conflict(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what.to_owned()),
        _ => StoreError::Database(e),
    }
}

/// The two statements that revoke the grants matching `filter` (a condition on `grants` whose
/// parameters start at `$2`; `$1` is the time) and their refresh tokens. Run refresh first.
pub(crate) fn revoke_grants_sql(filter: &str) -> (String, String) {
    (
        format!(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE revoked_at IS NULL \
             AND grant_id IN (SELECT id FROM grants WHERE {filter})"
        ),
        format!("UPDATE grants SET revoked_at = $1 WHERE revoked_at IS NULL AND {filter}"),
    )
}

fn json_list(v: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn parse_list(s: &str, what: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(s).map_err(|_| StoreError::Corrupt(format!("{what}: not a JSON list of strings")))
}

const CLIENT_COLS: &str = "client_id, name, secret_hash, redirect_uris, post_logout_redirect_uris, scopes, \
                           auth_method, grant_types, id_token_alg, subject_type, sector, is_dynamic, created_at";

#[derive(sqlx::FromRow)]
struct ClientDb {
    client_id: String,
    name: String,
    secret_hash: Option<String>,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    scopes: String,
    auth_method: String,
    grant_types: String,
    id_token_alg: String,
    subject_type: String,
    sector: String,
    is_dynamic: i64,
    created_at: i64,
}

impl ClientDb {
    fn into_row(self) -> Result<ClientRow, StoreError> {
        let what = format!("client {}", self.client_id);
        Ok(ClientRow {
            redirect_uris: parse_list(&self.redirect_uris, &what)?,
            post_logout_redirect_uris: parse_list(&self.post_logout_redirect_uris, &what)?,
            grant_types: parse_list(&self.grant_types, &what)?,
            client_id: self.client_id,
            name: self.name,
            secret_hash: self.secret_hash,
            scopes: self.scopes,
            auth_method: self.auth_method,
            id_token_alg: self.id_token_alg,
            subject_type: self.subject_type,
            sector: self.sector,
            dynamic: self.is_dynamic != 0,
            created_at: UnixTime::from_secs(self.created_at),
        })
    }
}

impl Store {
    // --- clients ---

    /// Register a client. A taken `client_id` is [`StoreError::Conflict`].
    pub async fn insert_client(&self, c: &ClientRow) -> Result<(), StoreError> {
        let redirect = json_list(&c.redirect_uris)?;
        let post_logout = json_list(&c.post_logout_redirect_uris)?;
        let grant_types = json_list(&c.grant_types)?;
        let sql = format!(
            "INSERT INTO oauth_clients ({CLIENT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        with_pool!(self, |pool| sqlx::query(&sql)
            .bind(&c.client_id)
            .bind(&c.name)
            .bind(&c.secret_hash)
            .bind(&redirect)
            .bind(&post_logout)
            .bind(&c.scopes)
            .bind(&c.auth_method)
            .bind(&grant_types)
            .bind(&c.id_token_alg)
            .bind(&c.subject_type)
            .bind(&c.sector)
            .bind(i64::from(c.dynamic))
            .bind(c.created_at.as_secs())
            .execute(pool)
            .await
            .map_err(|e| conflict(e, "client_id already registered"))?
            .rows_affected());
        Ok(())
    }

    /// The client with this id.
    pub async fn client(&self, client_id: &str) -> Result<Option<ClientRow>, StoreError> {
        let sql = format!("SELECT {CLIENT_COLS} FROM oauth_clients WHERE client_id = $1");
        let row: Option<ClientDb> =
            with_pool!(self, |pool| sqlx::query_as(&sql).bind(client_id).fetch_optional(pool).await?);
        row.map(ClientDb::into_row).transpose()
    }

    /// Every client, oldest first.
    pub async fn list_clients(&self) -> Result<Vec<ClientRow>, StoreError> {
        let sql = format!("SELECT {CLIENT_COLS} FROM oauth_clients ORDER BY created_at, client_id");
        let rows: Vec<ClientDb> = with_pool!(self, |pool| sqlx::query_as(&sql).fetch_all(pool).await?);
        rows.into_iter().map(ClientDb::into_row).collect()
    }

    /// Delete a client, revoke all its grants (and their refresh tokens) and delete its consents,
    /// in one transaction. The revoked grants stay, for replay checks and audit. Returns whether
    /// the client existed.
    pub async fn delete_client(&self, client_id: &str, now: UnixTime) -> Result<bool, StoreError> {
        let (refresh, grants) = revoke_grants_sql("client_id = $2");
        with_pool!(self, |pool| {
            let mut tx = begin_write!(self, pool);
            let n = sqlx::query("DELETE FROM oauth_clients WHERE client_id = $1")
                .bind(client_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(&refresh).bind(now.as_secs()).bind(client_id).execute(&mut *tx).await?;
            sqlx::query(&grants).bind(now.as_secs()).bind(client_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM consents WHERE client_id = $1").bind(client_id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(n == 1)
        })
    }

    // --- consent ---

    /// The scope `account_id` has consented to for `client_id`.
    pub async fn consent(&self, account_id: &str, client_id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT scope FROM consents WHERE account_id = $1 AND client_id = $2"
        )
        .bind(account_id)
        .bind(client_id)
        .fetch_optional(pool)
        .await?);
        Ok(row.map(|r| r.0))
    }

    /// Record consent, replacing the stored scope (the caller passes the union).
    pub async fn grant_consent(
        &self,
        account_id: &str,
        client_id: &str,
        scope: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        with_pool!(self, |pool| sqlx::query(
            "INSERT INTO consents (account_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at"
        )
        .bind(account_id)
        .bind(client_id)
        .bind(scope)
        .bind(now.as_secs())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(())
    }

    /// The account's consents, by client id.
    pub async fn list_consents(&self, account_id: &str) -> Result<Vec<ConsentRow>, StoreError> {
        let rows: Vec<(String, String, i64)> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT client_id, scope, granted_at FROM consents WHERE account_id = $1 ORDER BY client_id"
        )
        .bind(account_id)
        .fetch_all(pool)
        .await?);
        Ok(rows
            .into_iter()
            .map(|(client_id, scope, at)| ConsentRow { client_id, scope, granted_at: UnixTime::from_secs(at) })
            .collect())
    }

    /// Delete the consent and revoke that client's grants for the account, in one transaction.
    /// Returns whether a consent was there.
    pub async fn revoke_consent(&self, account_id: &str, client_id: &str, now: UnixTime) -> Result<bool, StoreError> {
        let (refresh, grants) = revoke_grants_sql("client_id = $2 AND account_id = $3");
        with_pool!(self, |pool| {
            let mut tx = begin_write!(self, pool);
            let n = sqlx::query("DELETE FROM consents WHERE account_id = $1 AND client_id = $2")
                .bind(account_id)
                .bind(client_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            for sql in [&refresh, &grants] {
                sqlx::query(sql).bind(now.as_secs()).bind(client_id).bind(account_id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(n == 1)
        })
    }
}
