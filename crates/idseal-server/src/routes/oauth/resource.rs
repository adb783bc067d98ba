//! Endpoints that take tokens back: userinfo (OIDC Core §5.3), revocation (RFC 7009) and
//! introspection (RFC 7662).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idseal_oauth::OAuthError;
use idseal_oauth::scope::ScopeSet;
use idseal_oauth::token::sha256_hex;
use idseal_store::{AccessStatus, GrantRow};
use idseal_types::{AuditEvent, AuditEventKind};
use serde_json::{Map, Value, json};

use super::token::{authenticate_client, read_form};
use crate::error::ApiError;
use crate::oidc;
use crate::state::AppState;
use crate::web::{Meta, field};

/// A verified, live access token.
struct Access {
    claims: Map<String, Value>,
    status: AccessStatus,
}

/// Verify an access token: signature by a published key, `typ: at+jwt`, our issuer, not
/// expired, and its grant and itself not revoked.
async fn check_access(st: &AppState, token: &str) -> Result<Access, ApiError> {
    let ring = st.key_ring();
    let v = idseal_oauth::jwt::verify(
        token,
        ring.verifying_keys(),
        Some("at+jwt"),
        &st.settings.issuer,
        st.clock.now(),
        true,
    )?;
    let invalid = || ApiError::from(OAuthError::InvalidToken("the access token is revoked".into()));
    let jti = v.claims.get("jti").and_then(Value::as_str).ok_or_else(invalid)?;
    let status = st.store.access_status(jti).await.map_err(ApiError::internal)?.ok_or_else(invalid)?;
    if status.access_revoked || status.grant.revoked_at.is_some() {
        return Err(invalid());
    }
    Ok(Access { claims: v.claims, status })
}

fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .and_then(|(scheme, t)| scheme.eq_ignore_ascii_case("bearer").then_some(t.trim()))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::InvalidToken("a bearer access token is required".into()).into())
}

/// `GET|POST /oauth/userinfo`: the claims the grant's scope allows, read fresh from the
/// account.
#[utoipa::path(
    get, path = "/oauth/userinfo", tag = "oauth",
    responses(
        (status = 200, description = "Claims of the token's user", body = Object),
        (status = 401, description = "invalid_token", body = crate::error::ErrorBody),
        (status = 403, description = "insufficient_scope", body = crate::error::ErrorBody),
    )
)]
pub async fn userinfo(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let a = check_access(&st, bearer(&headers)?).await?;
    let scope = grant_scope(&a.status.grant)?;
    let token_scope = a.claims.get("scope").and_then(Value::as_str).map(ScopeSet::parse).transpose()?;
    let scope = token_scope.map_or(scope.clone(), |t| t.intersection(&scope));
    if !scope.contains("openid") {
        return Err(OAuthError::InsufficientScope("the token was not granted `openid`".into()).into());
    }
    let account_id = a
        .status
        .grant
        .account_id
        .as_deref()
        .ok_or_else(|| OAuthError::InsufficientScope("the token has no user".into()))?;
    let account = st
        .store
        .account(account_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| OAuthError::InvalidToken("the account no longer exists".into()))?;
    let user = crate::x1280::user_info(&account);
    let mut out = Map::new();
    out.insert("sub".into(), a.claims.get("sub").cloned().unwrap_or(Value::Null));
    out.extend(idseal_oauth::claims::scope_claims(&scope, &user));
    out.extend(crate::x1280::identity_claims(&st, &a.status.grant, &scope));
    Ok(Json(Value::Object(out)))
}

/// `POST /oauth/userinfo` (OIDC Core §5.3.1 allows both methods).
#[utoipa::path(
    post, path = "/oauth/userinfo", tag = "oauth",
    responses(
        (status = 200, description = "Claims of the token's user", body = Object),
        (status = 401, description = "invalid_token", body = crate::error::ErrorBody),
        (status = 403, description = "insufficient_scope", body = crate::error::ErrorBody),
    )
)]
pub async fn userinfo_post(st: State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    userinfo(st, headers).await
}

fn grant_scope(g: &GrantRow) -> Result<ScopeSet, ApiError> {
    ScopeSet::parse(&g.scope).map_err(|_| ApiError::internal("stored grant scope is invalid"))
}

/// `POST /oauth/revoke` (RFC 7009): revoking a refresh token revokes its whole grant; an
/// access token is revoked alone. Unknown tokens, and tokens of other clients, are answered
/// 200 too, and nothing happens.
#[utoipa::path(
    post, path = "/oauth/revoke", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "token, token_type_hint, client authentication"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke"),
        (status = 400, description = "invalid_request", body = crate::error::ErrorBody),
        (status = 401, description = "invalid_client", body = crate::error::ErrorBody),
    )
)]
pub async fn revoke(
    State(st): State<AppState>,
    meta: Meta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let pairs = read_form(&headers, &body)?;
    let client = authenticate_client(&st, &headers, &pairs).await?;
    let token = field(&pairs, "token").ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?;
    let now = st.clock.now();
    let hash = sha256_hex(token);
    let mut revoked = None;
    if let Some((row, grant)) = st.store.refresh_token(&hash).await.map_err(ApiError::internal)?
        && row.client_id == client.client_id
    {
        st.store.revoke_grant(&grant.id, now).await.map_err(ApiError::internal)?;
        revoked = Some(json!({"token_type": "refresh_token", "grant_id": grant.id, "token_sha256": hash}));
    } else if let Ok(v) = idseal_oauth::jwt::verify(
        token,
        st.key_ring().verifying_keys(),
        Some("at+jwt"),
        &st.settings.issuer,
        now,
        false,
    ) && let Some(jti) = v.claims.get("jti").and_then(Value::as_str)
        && st.store.revoke_access(jti, &client.client_id, now).await.map_err(ApiError::internal)?
    {
        revoked = Some(json!({"token_type": "access_token", "jti": jti}));
    }
    if let Some(details) = revoked {
        let ev =
            AuditEvent::new(AuditEventKind::TokenRevoke, now, format!("client:{}", client.client_id)).details(details);
        oidc::audit(&st, &meta, ev).await?;
    }
    Ok(StatusCode::OK.into_response())
}

/// `POST /oauth/introspect` (RFC 7662), for confidential clients. Access tokens of any client
/// are described (resource servers introspect tokens issued to their callers); refresh
/// tokens only to the client that holds them. Anything else is `{"active": false}`.
#[utoipa::path(
    post, path = "/oauth/introspect", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "token, token_type_hint, client authentication"),
    responses(
        (status = 200, description = "Token state", body = Object),
        (status = 401, description = "invalid_client", body = crate::error::ErrorBody),
    )
)]
pub async fn introspect(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Json<Value>, ApiError> {
    let pairs = read_form(&headers, &body)?;
    let client = authenticate_client(&st, &headers, &pairs).await?;
    if !client.is_confidential() {
        return Err(OAuthError::InvalidClient("introspection needs a confidential client".into()).into());
    }
    let token = field(&pairs, "token").ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?;
    let now = st.clock.now();
    if let Some((row, grant)) = st.store.refresh_token(&sha256_hex(token)).await.map_err(ApiError::internal)? {
        let active = row.client_id == client.client_id
            && row.rotated_at.is_none()
            && row.revoked_at.is_none()
            && grant.revoked_at.is_none()
            && row.expires_at > now;
        if !active {
            return Ok(Json(json!({"active": false})));
        }
        let sub = match oidc::load_client(&st, &row.client_id).await? {
            Some(c) => oidc::subject_for(&st, &c, &row.account_id),
            None => return Ok(Json(json!({"active": false}))),
        };
        return Ok(Json(json!({
            "active": true, "token_type": "refresh_token", "client_id": row.client_id, "scope": row.scope,
            "sub": sub, "iss": st.settings.issuer, "iat": row.created_at.as_secs(), "exp": row.expires_at.as_secs(),
        })));
    }
    match check_access(&st, token).await {
        Ok(a) => {
            let mut out = Map::new();
            out.insert("active".into(), Value::Bool(true));
            out.insert("token_type".into(), Value::String("Bearer".into()));
            for k in ["scope", "client_id", "sub", "exp", "iat", "iss", "aud", "jti", "auth_time", "acr"] {
                if let Some(v) = a.claims.get(k) {
                    out.insert(k.into(), v.clone());
                }
            }
            Ok(Json(Value::Object(out)))
        }
        Err(_) => Ok(Json(json!({"active": false}))),
    }
}
