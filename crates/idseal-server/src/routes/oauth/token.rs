//! The token endpoint (RFC 6749 §3.2, OAuth 2.1 §3.2): authorization_code, refresh_token and
//! client_credentials grants, with client authentication, single-use codes, refresh rotation
//! and reuse detection.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use idseal_keys::Algorithm;
use idseal_oauth::OAuthError;
use idseal_oauth::claims::{AccessTokenInput, IdTokenInput};
use idseal_oauth::client::{AuthMethod, Client, GrantType};
use idseal_oauth::scope::ScopeSet;
use idseal_oauth::token::{new_id, opaque, sha256_hex};
use idseal_ratelimit::KeyKind;
use idseal_store::{AccessRow, AccountRow, CodeOutcome, GrantRow, RefreshRow};
use idseal_types::{AuditEvent, AuditEventKind};
use serde::Serialize;
use std::time::Duration;

use crate::error::ApiError;
use crate::oidc::{self, random};
use crate::state::AppState;
use crate::web::{Meta, field, form_pairs, is_form};

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// JWT access token (RFC 9068).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The ID token, when `openid` was granted for a user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The new refresh token, when `offline_access` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scope.
    pub scope: String,
}

/// `POST /oauth/token`.
#[utoipa::path(
    post, path = "/oauth/token", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "RFC 6749 §4.1.3, §6, §4.4 parameters"),
    responses(
        (status = 200, description = "Tokens", body = TokenResponse),
        (status = 400, description = "invalid_request, invalid_grant, unauthorized_client, unsupported_grant_type, invalid_scope", body = crate::error::ErrorBody),
        (status = 401, description = "invalid_client", body = crate::error::ErrorBody),
        (status = 429, description = "Rate limited", body = crate::error::ErrorBody),
    )
)]
pub async fn token(
    State(st): State<AppState>,
    meta: Meta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let pairs = read_form(&headers, &body)?;
    let client = authenticate_client(&st, &headers, &pairs).await?;
    // A public client "authenticates" with its id alone: anyone could spend its budget and lock
    // its users out, so its requests are counted per client and IP.
    let bucket = if client.is_confidential() {
        client.client_id.clone()
    } else {
        format!("{}|{}", client.client_id, meta.ip_key())
    };
    oidc::limit(&st, "token", KeyKind::Client, &bucket).await?;
    let out = match field(&pairs, "grant_type") {
        Some("authorization_code") => authorization_code(&st, &meta, &client, &pairs).await?,
        Some("refresh_token") => refresh(&st, &meta, &client, &pairs).await?,
        Some("client_credentials") => client_credentials(&st, &meta, &client, &pairs).await?,
        Some(other) => {
            return Err(
                OAuthError::UnsupportedGrantType(format!("grant type `{}` is not supported", clip(other))).into()
            );
        }
        None => return Err(OAuthError::InvalidRequest("grant_type is required".into()).into()),
    };
    let mut r = Json(out).into_response();
    r.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(r)
}

fn clip(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(40).collect()
}

/// The form body of a token, revocation or introspection request.
pub fn read_form(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    if !is_form(headers) {
        return Err(OAuthError::InvalidRequest("expected application/x-www-form-urlencoded".into()).into());
    }
    form_pairs(body).map_err(|e| OAuthError::InvalidRequest(e).into())
}

/// Authenticate the calling client by exactly one method (RFC 6749 §2.3): HTTP Basic,
/// `client_secret` in the body, or `client_id` alone for public clients.
pub async fn authenticate_client(
    st: &AppState,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Result<Client, ApiError> {
    let failed = || ApiError::from(OAuthError::InvalidClient("client authentication failed".into()));
    let basic = headers.get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or(""));
    let (method, id, secret) = match basic {
        Some(h) => {
            if field(pairs, "client_secret").is_some() {
                return Err(OAuthError::InvalidRequest("use one client authentication method".into()).into());
            }
            let (id, secret) = idseal_oauth::client::parse_basic(h)?;
            if field(pairs, "client_id").is_some_and(|b| b != id) {
                return Err(failed());
            }
            (AuthMethod::ClientSecretBasic, id, Some(secret))
        }
        None => match (field(pairs, "client_id"), field(pairs, "client_secret")) {
            (Some(id), Some(s)) => {
                (AuthMethod::ClientSecretPost, id.to_owned(), Some(zeroize::Zeroizing::new(s.to_owned())))
            }
            (Some(id), None) => (AuthMethod::None, id.to_owned(), None),
            (None, _) => return Err(OAuthError::InvalidClient("client authentication is required".into()).into()),
        },
    };
    let client = oidc::load_client(st, &id).await?.ok_or_else(failed)?;
    client.authenticate(method, secret.as_ref().map(|s| s.as_str()))?;
    Ok(client)
}

async fn authorization_code(
    st: &AppState,
    meta: &Meta,
    client: &Client,
    pairs: &[(String, String)],
) -> Result<TokenResponse, ApiError> {
    let required = |k: &str| field(pairs, k).ok_or_else(|| OAuthError::InvalidRequest(format!("{k} is required")));
    let code = required("code")?;
    let redirect_uri = required("redirect_uri")?;
    let verifier = required("code_verifier")?;
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::UnauthorizedClient("this client may not use authorization_code".into()).into());
    }
    let now = st.clock.now();
    let hash = sha256_hex(code);
    let invalid = || ApiError::from(OAuthError::InvalidGrant("the code is invalid or expired".into()));
    // Read first, use up later: the code is spent in the same transaction that records its
    // grant (one durable write), and a second use, concurrent or later, is a replay.
    let row = match st.store.code(&hash, &client.client_id).await.map_err(ApiError::internal)? {
        None => return Err(invalid()),
        Some((_, true)) => return Err(code_replay(st, meta, client, &hash).await),
        Some((row, false)) if row.expires_at <= now => return Err(invalid()),
        Some((row, false)) => row,
    };
    if row.redirect_uri != redirect_uri {
        return Err(OAuthError::InvalidGrant("redirect_uri does not match the authorization request".into()).into());
    }
    idseal_oauth::pkce::verify(verifier, &row.code_challenge)?;
    let account = account(st, &row.account_id).await?;
    let scope = ScopeSet::parse(&row.scope).map_err(|_| ApiError::internal("stored code scope is invalid"))?;
    let grant = GrantRow {
        id: new_id(&random()?),
        client_id: client.client_id.clone(),
        account_id: Some(account.id.clone()),
        scope: row.scope.clone(),
        code_hash: Some(row.code_hash.clone()),
        session_id: row.session_id.clone(),
        auth_time: Some(row.auth_time),
        acr: row.acr.clone(),
        amr: row.amr.clone(),
        identity_sealed: row.identity_sealed.clone(),
        created_at: now,
        revoked_at: None,
    };
    let with_refresh = scope.contains("offline_access") && client.allows_grant(GrantType::RefreshToken);
    let minted =
        mint(st, client, &grant, Some(&account), row.nonce.as_deref(), &scope, with_refresh.then_some(&scope))?;
    if !st
        .store
        .redeem_code(&hash, now, &grant, &minted.access, minted.refresh.as_ref())
        .await
        .map_err(ApiError::internal)?
    {
        return Err(code_replay(st, meta, client, &hash).await);
    }
    let ev = AuditEvent::new(AuditEventKind::TokenIssue, now, format!("client:{}", client.client_id))
        .subject(account.id.clone())
        .details(serde_json::json!({"grant": "authorization_code", "grant_id": grant.id, "scope": grant.scope, "jti": minted.access.jti}));
    oidc::audit(st, meta, ev).await?;
    Ok(minted.body)
}

/// A code used a second time by its client: revoke what its first use produced (RFC 6749
/// §4.1.2) and refuse.
async fn code_replay(st: &AppState, meta: &Meta, client: &Client, hash: &str) -> ApiError {
    let now = st.clock.now();
    let outcome = match st.store.consume_code(hash, &client.client_id, now).await {
        Ok(o) => o,
        Err(e) => return ApiError::internal(e),
    };
    if let CodeOutcome::Replayed { client_id, account_id, grant_id } = outcome {
        if let Some(g) = &grant_id
            && let Err(e) = st.store.revoke_grant(g, now).await
        {
            return ApiError::internal(e);
        }
        let ev = AuditEvent::new(AuditEventKind::CodeReplay, now, format!("client:{client_id}"))
            .subject(account_id)
            .details(serde_json::json!({"client_id": client_id, "grant_id": grant_id}));
        if let Err(e) = oidc::audit(st, meta, ev).await {
            return e;
        }
    }
    OAuthError::InvalidGrant("the code was already used; the tokens it produced are revoked".into()).into()
}

async fn refresh(
    st: &AppState,
    meta: &Meta,
    client: &Client,
    pairs: &[(String, String)],
) -> Result<TokenResponse, ApiError> {
    if !client.allows_grant(GrantType::RefreshToken) {
        return Err(OAuthError::UnauthorizedClient("this client may not use refresh_token".into()).into());
    }
    let presented =
        field(pairs, "refresh_token").ok_or_else(|| OAuthError::InvalidRequest("refresh_token is required".into()))?;
    let now = st.clock.now();
    let hash = sha256_hex(presented);
    let invalid =
        || ApiError::from(OAuthError::InvalidGrant("the refresh token is invalid, expired or revoked".into()));
    let Some((row, grant)) = st.store.refresh_token(&hash).await.map_err(ApiError::internal)? else {
        return Err(invalid());
    };
    if row.client_id != client.client_id {
        return Err(invalid());
    }
    if row.rotated_at.is_some() || row.revoked_at.is_some() || grant.revoked_at.is_some() {
        return Err(reuse(st, meta, client, &row.account_id, &hash).await);
    }
    if row.expires_at <= now {
        return Err(invalid());
    }
    let granted = ScopeSet::parse(&row.scope).map_err(|_| ApiError::internal("stored refresh scope is invalid"))?;
    let scope = match field(pairs, "scope") {
        Some(s) => {
            let asked = ScopeSet::parse(s)?;
            if !asked.is_subset(&granted) {
                return Err(OAuthError::InvalidScope("a refresh cannot widen the granted scope".into()).into());
            }
            asked
        }
        None => granted.clone(),
    };
    let account = account(st, &row.account_id).await?;
    // The new refresh token keeps the original scope (RFC 6749 §6); the access token may be
    // narrower.
    let minted = mint(st, client, &grant, Some(&account), None, &scope, Some(&granted))?;
    let Some(new_refresh) = &minted.refresh else { return Err(ApiError::internal("refresh token not minted")) };
    if !st.store.rotate_refresh(&hash, now, new_refresh, &minted.access).await.map_err(ApiError::internal)? {
        // Another request rotated it first (or it was revoked meanwhile): a second use.
        return Err(reuse(st, meta, client, &row.account_id, &hash).await);
    }
    let ev = AuditEvent::new(AuditEventKind::TokenRefresh, now, format!("client:{}", client.client_id))
        .subject(account.id.clone())
        .details(serde_json::json!({"grant_id": grant.id, "scope": scope.to_string(), "old_token_sha256": hash, "jti": minted.access.jti}));
    oidc::audit(st, meta, ev).await?;
    Ok(minted.body)
}

/// A rotated or revoked refresh token was used: revoke every grant of this client and user
/// (OAuth 2.1 §4.3.1) and refuse.
async fn reuse(st: &AppState, meta: &Meta, client: &Client, account_id: &str, hash: &str) -> ApiError {
    let now = st.clock.now();
    let revoked = match st.store.revoke_grants_for(&client.client_id, account_id, now).await {
        Ok(n) => n,
        Err(e) => return ApiError::internal(e),
    };
    let ev = AuditEvent::new(AuditEventKind::RefreshReuse, now, format!("client:{}", client.client_id))
        .subject(account_id.to_owned())
        .details(serde_json::json!({"token_sha256": hash, "grants_revoked": revoked}));
    if let Err(e) = oidc::audit(st, meta, ev).await {
        return e;
    }
    OAuthError::InvalidGrant("the refresh token was already used; every token of this grant is revoked".into()).into()
}

async fn client_credentials(
    st: &AppState,
    meta: &Meta,
    client: &Client,
    pairs: &[(String, String)],
) -> Result<TokenResponse, ApiError> {
    if !client.is_confidential() || !client.allows_grant(GrantType::ClientCredentials) {
        return Err(OAuthError::UnauthorizedClient("this client may not use client_credentials".into()).into());
    }
    let user_scopes = ScopeSet::from_static(idseal_oauth::scope::KNOWN);
    let scope = match field(pairs, "scope") {
        Some(s) => ScopeSet::parse(s)?,
        None => ScopeSet::default(),
    };
    if !scope.is_subset(&client.scopes) || !scope.intersection(&user_scopes).is_empty() {
        return Err(OAuthError::InvalidScope("scope not allowed for client_credentials".into()).into());
    }
    let now = st.clock.now();
    let grant = GrantRow {
        id: new_id(&random()?),
        client_id: client.client_id.clone(),
        account_id: None,
        scope: scope.to_string(),
        code_hash: None,
        session_id: None,
        auth_time: None,
        acr: None,
        amr: None,
        identity_sealed: None,
        created_at: now,
        revoked_at: None,
    };
    let minted = mint(st, client, &grant, None, None, &scope, None)?;
    st.store.issue_grant(&grant, &minted.access, None).await.map_err(ApiError::internal)?;
    let ev = AuditEvent::new(AuditEventKind::TokenIssue, now, format!("client:{}", client.client_id))
        .details(serde_json::json!({"grant": "client_credentials", "grant_id": grant.id, "scope": grant.scope, "jti": minted.access.jti}));
    oidc::audit(st, meta, ev).await?;
    Ok(minted.body)
}

async fn account(st: &AppState, id: &str) -> Result<AccountRow, ApiError> {
    st.store
        .account(id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| OAuthError::InvalidGrant("the account no longer exists".into()).into())
}

/// Tokens made for one grant, with the rows that record them.
pub struct Minted {
    /// The response body.
    pub body: TokenResponse,
    /// The access token's row.
    pub access: AccessRow,
    /// The refresh token's row, when one was made.
    pub refresh: Option<RefreshRow>,
}

/// Sign the access token (and the ID token, with `pq_sig`, when `openid` is in `scope` and there
/// is a user), and make a refresh token carrying `refresh_scope` when asked.
pub fn mint(
    st: &AppState,
    client: &Client,
    grant: &GrantRow,
    account: Option<&AccountRow>,
    nonce: Option<&str>,
    scope: &ScopeSet,
    refresh_scope: Option<&ScopeSet>,
) -> Result<Minted, ApiError> {
    let cfg = &st.settings.config.oauth;
    let ring = st.key_ring();
    let now = st.clock.now();
    let ttl = i64::try_from(cfg.access_token_secs).unwrap_or(3600);
    let issuer = st.settings.issuer.as_str();
    let sub = match account {
        Some(a) => oidc::subject_for(st, client, &a.id),
        None => client.client_id.clone(),
    };
    let jti = new_id(&random()?);
    let signer = |alg: &str| -> Result<&idseal_keys::SigningKey, ApiError> {
        let alg: Algorithm = alg.parse().map_err(|_| ApiError::internal("configured algorithm does not parse"))?;
        ring.signer(alg).map_err(ApiError::internal)
    };
    let at = idseal_oauth::claims::access_token_claims(&AccessTokenInput {
        issuer,
        sub: &sub,
        client_id: &client.client_id,
        jti: &jti,
        scope,
        now,
        ttl_secs: ttl,
        auth_time: grant.auth_time,
        acr: grant.acr.as_deref(),
    });
    let access_token = idseal_oauth::jwt::sign(signer(&cfg.access_token_alg)?, "at+jwt", &at)?;
    let amr: Vec<&str> = grant.amr.as_deref().unwrap_or("pwd").split_whitespace().collect();
    let id_token = match account {
        Some(a) if scope.contains("openid") => {
            let user = crate::x1280::user_info(a);
            // A per-client session id: two clients must not be able to join their pairwise
            // subjects through a shared `sid`.
            let sid = grant
                .session_id
                .as_deref()
                .map(|s| idseal_oauth::subject::pairwise(&st.oidc.pairwise, &format!("sid|{}", client.sector), s));
            let mut claims = idseal_oauth::claims::id_token_claims(&IdTokenInput {
                issuer,
                sub: &sub,
                client_id: &client.client_id,
                now,
                ttl_secs: ttl,
                auth_time: grant.auth_time.unwrap_or(now),
                nonce,
                sid: sid.as_deref(),
                acr: grant.acr.as_deref(),
                amr: &amr,
                scope,
                user: &user,
            });
            claims.extend(crate::x1280::identity_claims(st, grant, scope));
            let pq = idseal_oauth::pqsig::sign(&claims, signer(&cfg.pq_sig_alg)?)?;
            claims.insert("pq_sig".into(), pq);
            let key = ring.signer(client.id_token_alg).map_err(ApiError::internal)?;
            Some(idseal_oauth::jwt::sign(key, "JWT", &claims)?)
        }
        _ => None,
    };
    let access = AccessRow {
        jti,
        grant_id: grant.id.clone(),
        client_id: client.client_id.clone(),
        expires_at: now.saturating_add(Duration::from_secs(cfg.access_token_secs)),
    };
    let (refresh_token, refresh) = match (refresh_scope, account) {
        (Some(rs), Some(a)) => {
            let t = opaque("idr_", &random()?);
            let row = RefreshRow {
                token_hash: sha256_hex(&t),
                grant_id: grant.id.clone(),
                client_id: client.client_id.clone(),
                account_id: a.id.clone(),
                scope: rs.to_string(),
                created_at: now,
                expires_at: now.saturating_add(Duration::from_secs(cfg.refresh_token_days * 86400)),
                rotated_at: None,
                revoked_at: None,
            };
            (Some(t.to_string()), Some(row))
        }
        _ => (None, None),
    };
    Ok(Minted {
        body: TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: cfg.access_token_secs,
            id_token,
            refresh_token,
            scope: scope.to_string(),
        },
        access,
        refresh,
    })
}
