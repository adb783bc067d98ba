//! Admin API (bearer token): list and rotate signing keys.
//!
//! Until operators log in through idseal itself, the admin API accepts the bootstrap token
//! printed once at first start (stored only as a SHA-256 hash).

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use idseal_keys::{Algorithm, KeyState, RotationPolicy};
use idseal_types::{AuditEvent, AuditEventKind, AuditSink, UnixTime};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::error::{ApiError, ApiJson};
use crate::middleware::client_ip;
use crate::state::{AppState, token_hash};

/// An authenticated admin caller.
#[derive(Debug)]
pub struct Admin {
    /// Who, for the audit log (`admin:<label>`).
    pub actor: String,
    /// Client IP.
    pub ip: Option<IpAddr>,
    /// User agent.
    pub user_agent: Option<String>,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        let ip = client_ip(st, &parts.headers, peer);
        let user_agent =
            parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|s| s.chars().take(256).collect());
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            // The scheme is case-insensitive (RFC 9110 §11.1).
            .and_then(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer").then_some(token))
            .map(str::trim);
        let label = match token {
            Some(t) if !t.is_empty() && t.len() <= 512 => {
                st.store.admin_token(&token_hash(t)).await.map_err(ApiError::internal)?
            }
            _ => None,
        };
        match label {
            Some(l) => Ok(Self { actor: format!("admin:{l}"), ip, user_agent }),
            None => {
                let ev =
                    AuditEvent::new(AuditEventKind::AdminAuthFail, st.clock.now(), "anonymous").request(ip, user_agent);
                st.store.record(&ev).await.map_err(ApiError::internal)?;
                Err(ApiError::Unauthorized)
            }
        }
    }
}

/// A signing key as the admin API shows it (no private material, ever).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyInfo {
    /// Key id (RFC 7638 thumbprint).
    pub kid: String,
    /// JWS algorithm.
    pub alg: String,
    /// `active`, `grace` or `deactivated`.
    pub state: String,
    /// Unix seconds.
    pub created_at: i64,
    /// End of the grace period, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_until: Option<i64>,
}

/// The key list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyList {
    /// All keys, oldest first.
    pub keys: Vec<KeyInfo>,
}

/// Every signing key in the database, in any state.
#[utoipa::path(get, path = "/admin/keys", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = KeyList), (status = 401, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub async fn list_keys(State(st): State<AppState>, _admin: Admin) -> Result<Json<KeyList>, ApiError> {
    use idseal_keys::KeyStore as _;
    let recs = st.store.load_keys().await.map_err(ApiError::internal)?;
    Ok(Json(KeyList {
        keys: recs
            .into_iter()
            .map(|r| KeyInfo {
                kid: r.kid,
                alg: r.alg.as_str().into(),
                state: r.state.as_str().into(),
                created_at: r.created_at.as_secs(),
                grace_until: r.grace_until.filter(|_| r.state != KeyState::Active).map(UnixTime::as_secs),
            })
            .collect(),
    }))
}

/// A rotation request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// The algorithm whose key to rotate: `RS256`, `ES256`, `EdDSA` or `ML-DSA-65`.
    pub alg: String,
    /// Hours the old key stays valid (default from configuration, 24).
    #[serde(default)]
    pub grace_hours: Option<u32>,
}

/// The result of a rotation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RotateResponse {
    /// The new active key.
    pub kid: String,
    /// Its algorithm.
    pub alg: String,
    /// The key that went into its grace period, if there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_kid: Option<String>,
    /// When the previous key stops verifying, Unix seconds.
    pub grace_until: i64,
}

/// Rotate one algorithm's signing key. The old key stays published and valid for the grace
/// period, then is deactivated.
#[utoipa::path(post, path = "/admin/keys/rotate", tag = "admin", security(("bearer" = [])),
    request_body = RotateRequest,
    responses((status = 200, body = RotateResponse), (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody),
              (status = 415, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn rotate_key(
    State(st): State<AppState>,
    admin: Admin,
    ApiJson(req): ApiJson<RotateRequest>,
) -> Result<Json<RotateResponse>, ApiError> {
    let alg: Algorithm = req
        .alg
        .parse()
        .map_err(|_| ApiError::InvalidRequest("alg must be one of RS256, ES256, EdDSA, ML-DSA-65".into()))?;
    if !st.settings.algorithms.contains(&alg) {
        return Err(ApiError::InvalidRequest(format!("{alg} is not enabled on this server")));
    }
    let hours = req.grace_hours.unwrap_or(st.settings.config.keys.grace_hours);
    if !(1..=24 * 90).contains(&hours) {
        return Err(ApiError::InvalidRequest("grace_hours must be between 1 and 2160".into()));
    }
    let now = st.clock.now();
    let policy = RotationPolicy { grace: Duration::from_secs(u64::from(hours) * 3600) };
    let (rec, previous) =
        idseal_keys::rotate(&st.store, &st.master, alg, policy, now).await.map_err(ApiError::internal)?;
    let ev = AuditEvent::new(AuditEventKind::KeyRotate, now, admin.actor)
        .subject(rec.kid.clone())
        .request(admin.ip, admin.user_agent)
        .details(serde_json::json!({"alg": alg.as_str(), "previous_kid": previous, "grace_hours": hours}));
    st.store.record(&ev).await.map_err(ApiError::internal)?;
    st.refresh_keys().await.map_err(ApiError::internal)?;
    Ok(Json(RotateResponse {
        kid: rec.kid,
        alg: alg.as_str().into(),
        previous_kid: previous,
        grace_until: now.saturating_add(policy.grace).as_secs(),
    }))
}
