//! Admin API of passwordless login (product-spec §3 "Admin API", §4.6, §4.9): the services that
//! may start logins and their allowed scopes, enrollments (list, detail, revoke) and login
//! sessions (history and live). Every change is audited.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use idseal_store::{AuthSessionRow, EnrollmentFilter, EnrollmentRow, ServiceRow, SessionFilter};
use idseal_types::{AuditEvent, AuditEventKind};
use idseal_x1280::ScopeSet;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{ApiError, ApiJson};
use crate::routes::admin::Admin;
use crate::routes::x1280::auth::check_token_id;
use crate::routes::x1280::enroll::check_ident;
use crate::state::AppState;
use crate::web::Meta;
use crate::x1280::verify_seal;

/// A service registration.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceRequest {
    /// Service id (1 to 64 of `a-z 0-9 . _ -`); must equal the Service VDS's `sid` when one is given.
    pub service_id: String,
    /// Display name (1 to 64 characters, no control characters).
    pub name: String,
    /// Origin, `https://host[:port]` (or loopback `http://`).
    pub url: String,
    /// The most it may ask for (identity scopes).
    pub allowed_scopes: Vec<String>,
    /// What it gets when a request names none (a subset of the allowed ones).
    #[serde(default)]
    pub default_scopes: Vec<String>,
    /// Show a consent screen on the phone (default true).
    #[serde(default)]
    pub consent_required: Option<bool>,
    /// The service's seal (manifest 0A0002), verified through the chain now; its fingerprint is kept.
    #[serde(default)]
    pub service_vds: Option<String>,
}

/// A service as the admin API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceInfo {
    /// Service id.
    pub service_id: String,
    /// Display name.
    pub name: String,
    /// Origin.
    pub url: String,
    /// Allowed scopes.
    pub allowed_scopes: Vec<String>,
    /// Default scopes.
    pub default_scopes: Vec<String>,
    /// Consent screen on the phone.
    pub consent_required: bool,
    /// SHA-256 (hex) of the registered Service VDS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vds_fingerprint: Option<String>,
    /// The key (base64url) the service checks result `hash` values with: HMAC-SHA256 key
    /// derived for this service id. Shown on registration only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash_key: Option<String>,
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

fn service_info(r: ServiceRow, hash_key: Option<String>) -> ServiceInfo {
    ServiceInfo {
        allowed_scopes: words(&r.allowed_scopes),
        default_scopes: words(&r.default_scopes),
        service_id: r.service_id,
        name: r.name,
        url: r.url,
        consent_required: r.consent_required,
        vds_fingerprint: r.vds_fingerprint,
        hash_key,
    }
}

fn check_url(url: &str) -> Result<(), ApiError> {
    let ok = url::Url::parse(url).ok().is_some_and(|u| {
        let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        (u.scheme() == "https" || (u.scheme() == "http" && loopback))
            && u.username().is_empty()
            && u.password().is_none()
            && u.path() == "/"
            && u.query().is_none()
            && u.fragment().is_none()
            && !url.ends_with('/')
    });
    if ok { Ok(()) } else { Err(ApiError::InvalidRequest("url must be an origin: https://host[:port]".into())) }
}

/// `POST /admin/services`: register (or replace) a service.
#[utoipa::path(post, path = "/admin/services", tag = "admin", request_body = ServiceRequest, security(("bearer" = [])),
    responses((status = 201, body = ServiceInfo), (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody)))]
pub async fn register_service(
    State(st): State<AppState>,
    admin: Admin,
    ApiJson(req): ApiJson<ServiceRequest>,
) -> Result<Response, ApiError> {
    if req.service_id.starts_with("oidc:") {
        return Err(ApiError::InvalidRequest("serviceId must not start with oidc: (OAuth clients)".into()));
    }
    check_ident("serviceId", &req.service_id, 64)?;
    if req.service_id.bytes().any(|b| b.is_ascii_uppercase() || b == b':') {
        return Err(ApiError::InvalidRequest("serviceId is lower case a-z 0-9 . _ -".into()));
    }
    if req.name.trim().is_empty() || req.name.chars().count() > 64 || req.name.chars().any(char::is_control) {
        return Err(ApiError::InvalidRequest("name must be 1 to 64 characters without control characters".into()));
    }
    check_url(&req.url)?;
    let allowed = ScopeSet::parse(&req.allowed_scopes).map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    let defaults = ScopeSet::parse(&req.default_scopes).map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    if !defaults.is_subset_of(&allowed) {
        return Err(ApiError::InvalidRequest("defaultScopes must be within allowedScopes".into()));
    }
    let vds_fingerprint = match &req.service_vds {
        Some(text) => {
            let report = verify_seal(&st, text.trim(), "invalid_service_vds").await?;
            match report.vds.payload.as_service() {
                Some(s) if s.service_id == req.service_id && s.url == req.url => Some(report.fingerprint.clone()),
                _ => {
                    return Err(ApiError::coded(
                        400,
                        "invalid_service_vds",
                        "the seal is not a service seal for this serviceId and url",
                    ));
                }
            }
        }
        None => None,
    };
    let now = st.clock.now();
    let row = ServiceRow {
        service_id: req.service_id.clone(),
        name: req.name.trim().to_owned(),
        url: req.url.clone(),
        allowed_scopes: allowed.to_space_separated(),
        default_scopes: defaults.to_space_separated(),
        consent_required: req.consent_required.unwrap_or(true),
        vds_fingerprint,
        created_at: now,
        updated_at: now,
    };
    st.store.upsert_service(&row).await.map_err(ApiError::internal)?;
    let ev = AuditEvent::new(AuditEventKind::ServiceRegister, st.clock.now(), admin.actor.clone())
        .subject(row.service_id.clone())
        .request(admin.ip, admin.user_agent.clone())
        .details(json!({"name": row.name, "url": row.url, "allowed_scopes": row.allowed_scopes,
                        "vds_fingerprint": row.vds_fingerprint}));
    crate::oidc::audit(&st, &Meta::none(), ev).await?;
    let key = idseal_x1280::service_hash_key(&st.x1280.hash, &row.service_id);
    let info = service_info(row, Some(B64.encode(key.as_bytes())));
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// `GET /admin/services`.
#[utoipa::path(get, path = "/admin/services", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [ServiceInfo]), (status = 401, body = crate::error::ErrorBody)))]
pub async fn list_services(State(st): State<AppState>, _admin: Admin) -> Result<Json<Vec<ServiceInfo>>, ApiError> {
    let rows = st.store.list_services().await.map_err(ApiError::internal)?;
    Ok(Json(rows.into_iter().map(|r| service_info(r, None)).collect()))
}

/// `DELETE /admin/services/{id}`.
#[utoipa::path(delete, path = "/admin/services/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Service id")),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)))]
pub async fn delete_service(
    State(st): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !st.store.delete_service(&id).await.map_err(ApiError::internal)? {
        return Err(ApiError::NotFound);
    }
    let ev = AuditEvent::new(AuditEventKind::ServiceRemove, st.clock.now(), admin.actor.clone())
        .subject(id)
        .request(admin.ip, admin.user_agent.clone());
    crate::oidc::audit(&st, &Meta::none(), ev).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An enrollment as the admin API shows it (no identity data exists to show).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnrollmentInfo {
    /// Token id.
    pub token_id: String,
    /// Device id.
    pub device_id: String,
    /// 1 to 3.
    pub trust_level: i64,
    /// Revoked.
    pub is_revoked: bool,
    /// Why, when revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_reason: Option<String>,
    /// SHA-256 (hex) of the device key's SubjectPublicKeyInfo.
    pub key_thumbprint: String,
    /// SHA-256 (hex) of the seal.
    pub vds_fingerprint: String,
    /// `fcm` or `channel`.
    pub push: String,
    /// Seal expiry, Unix seconds.
    pub vds_expires_at: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl From<EnrollmentRow> for EnrollmentInfo {
    fn from(r: EnrollmentRow) -> Self {
        Self {
            token_id: r.token_id,
            device_id: r.device_id,
            trust_level: r.trust_level,
            is_revoked: r.is_revoked,
            revoked_reason: r.revoked_reason,
            key_thumbprint: r.key_thumbprint,
            vds_fingerprint: r.vds_fingerprint,
            push: r.push_kind,
            vds_expires_at: r.vds_expires_at.as_secs(),
            created_at: r.created_at.as_secs(),
            updated_at: r.updated_at.as_secs(),
        }
    }
}

/// A login session record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// Session id.
    pub session_id: String,
    /// Token id.
    pub token_id: String,
    /// Service id.
    pub service_id: String,
    /// `pending`, `approved`, `rejected`, `expired`.
    pub status: String,
    /// Requested scopes.
    pub requested_scopes: String,
    /// Granted scopes, when approved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_scopes: Option<String>,
    /// Verify attempts used.
    pub attempts: i64,
    /// Unix seconds.
    pub initiated_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<i64>,
}

impl From<AuthSessionRow> for SessionInfo {
    fn from(r: AuthSessionRow) -> Self {
        Self {
            session_id: r.session_id,
            token_id: r.token_id,
            service_id: r.service_id,
            status: r.status,
            requested_scopes: r.requested_scopes,
            granted_scopes: r.granted_scopes,
            attempts: r.attempts,
            initiated_at: r.initiated_at.as_secs(),
            expires_at: r.expires_at.as_secs(),
            resolved_at: r.resolved_at.map(|t| t.as_secs()),
        }
    }
}

/// Filters of `GET /admin/enrollments`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EnrollmentQuery {
    /// Page, from 1.
    pub page: Option<u32>,
    /// Page size, 1 to 100 (20).
    pub limit: Option<u32>,
    /// Part of a token id.
    pub token_id: Option<String>,
    /// 1, 2 or 3.
    pub trust_level: Option<i64>,
    /// Revoked or not.
    pub is_revoked: Option<bool>,
    /// Created at or after (Unix seconds).
    pub from: Option<i64>,
    /// Created before (Unix seconds).
    pub to: Option<i64>,
}

fn paging(page: Option<u32>, limit: Option<u32>) -> Result<(u32, u32), ApiError> {
    let page = page.unwrap_or(1);
    let limit = limit.unwrap_or(20);
    if page == 0 || !(1..=100).contains(&limit) {
        return Err(ApiError::InvalidRequest("page starts at 1; limit is 1 to 100".into()));
    }
    Ok((page, limit))
}

/// `GET /admin/enrollments`.
#[utoipa::path(get, path = "/admin/enrollments", tag = "admin", security(("bearer" = [])), params(EnrollmentQuery),
    responses((status = 200, description = "`{enrollments, total, page, limit}`"), (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody)))]
pub async fn list_enrollments(
    State(st): State<AppState>,
    _admin: Admin,
    Query(q): Query<EnrollmentQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (page, limit) = paging(q.page, q.limit)?;
    if q.trust_level.is_some_and(|t| !(1..=3).contains(&t)) {
        return Err(ApiError::InvalidRequest("trust_level is 1, 2 or 3".into()));
    }
    if q.token_id.as_ref().is_some_and(|t| t.len() > 64) {
        return Err(ApiError::InvalidRequest("token_id filter is too long".into()));
    }
    let filter = EnrollmentFilter {
        token_id_contains: q.token_id,
        device_id: None,
        trust_level: q.trust_level,
        is_revoked: q.is_revoked,
        created_from: q.from.map(idseal_types::UnixTime::from_secs),
        created_to: q.to.map(idseal_types::UnixTime::from_secs),
        page,
        limit,
    };
    let (rows, total) = st.store.list_enrollments(&filter).await.map_err(ApiError::internal)?;
    let list: Vec<EnrollmentInfo> = rows.into_iter().map(Into::into).collect();
    Ok(Json(json!({"enrollments": list, "total": total, "page": page, "limit": limit})))
}

/// `GET /admin/enrollments/{tokenId}`: the enrollment and its recent sessions.
#[utoipa::path(get, path = "/admin/enrollments/{token_id}", tag = "admin", security(("bearer" = [])),
    params(("token_id" = String, Path, description = "Token id")),
    responses((status = 200, description = "`{enrollment, recentSessions}`"), (status = 404, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody)))]
pub async fn enrollment_detail(
    State(st): State<AppState>,
    _admin: Admin,
    Path(token_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let token_id = check_token_id(&token_id)?;
    let Some(row) = st.store.enrollment(&token_id).await.map_err(ApiError::internal)? else {
        return Err(ApiError::NotFound);
    };
    let recent = st.store.recent_sessions(&token_id, 20).await.map_err(ApiError::internal)?;
    let recent: Vec<SessionInfo> = recent.into_iter().map(Into::into).collect();
    Ok(Json(json!({"enrollment": EnrollmentInfo::from(row), "recentSessions": recent})))
}

/// The revocation reason.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// `lost_device`, `compromised`, `expired_document` or `user_request`.
    pub reason: String,
}

/// `POST /admin/enrollments/{tokenId}/revoke`.
#[utoipa::path(post, path = "/admin/enrollments/{token_id}/revoke", tag = "admin", security(("bearer" = [])),
    params(("token_id" = String, Path, description = "Token id")), request_body = RevokeRequest,
    responses((status = 200, description = "`{\"revoked\": true}`"), (status = 400, body = crate::error::ErrorBody),
              (status = 409, description = "Absent or already revoked", body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody)))]
pub async fn revoke_enrollment(
    State(st): State<AppState>,
    admin: Admin,
    Path(token_id): Path<String>,
    ApiJson(req): ApiJson<RevokeRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let token_id = check_token_id(&token_id)?;
    if !["lost_device", "compromised", "expired_document", "user_request"].contains(&req.reason.as_str()) {
        return Err(ApiError::InvalidRequest(
            "reason is lost_device, compromised, expired_document or user_request".into(),
        ));
    }
    let meta = Meta { ip: admin.ip, user_agent: admin.user_agent.clone(), ..Meta::none() };
    crate::routes::x1280::enroll::revoke(&st, &meta, &token_id, &req.reason, &admin.actor).await?;
    Ok(Json(json!({"revoked": true})))
}

/// Filters of `GET /admin/sessions`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SessionQuery {
    /// Page, from 1.
    pub page: Option<u32>,
    /// Page size, 1 to 100 (20).
    pub limit: Option<u32>,
    /// Exact token id.
    pub token_id: Option<String>,
    /// `pending`, `approved`, `rejected` or `expired`.
    pub status: Option<String>,
}

/// `GET /admin/sessions`: login session records.
#[utoipa::path(get, path = "/admin/sessions", tag = "admin", security(("bearer" = [])), params(SessionQuery),
    responses((status = 200, description = "`{sessions, total, page, limit}`"), (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody)))]
pub async fn list_sessions(
    State(st): State<AppState>,
    _admin: Admin,
    Query(q): Query<SessionQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (page, limit) = paging(q.page, q.limit)?;
    if q.status.as_deref().is_some_and(|s| !["pending", "approved", "rejected", "expired"].contains(&s)) {
        return Err(ApiError::InvalidRequest("status is pending, approved, rejected or expired".into()));
    }
    let token_id = q.token_id.as_deref().map(check_token_id).transpose()?;
    let filter = SessionFilter { token_id, status: q.status, page, limit };
    let (rows, total) = st.store.list_auth_sessions(&filter).await.map_err(ApiError::internal)?;
    let list: Vec<SessionInfo> = rows.into_iter().map(Into::into).collect();
    Ok(Json(json!({"sessions": list, "total": total, "page": page, "limit": limit})))
}

/// `GET /admin/sessions/live`: pending sessions now.
#[utoipa::path(get, path = "/admin/sessions/live", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "`{sessions}`"), (status = 401, body = crate::error::ErrorBody)))]
pub async fn live_sessions(State(st): State<AppState>, _admin: Admin) -> Result<Json<serde_json::Value>, ApiError> {
    let rows = st.store.live_auth_sessions(st.clock.now(), 500).await.map_err(ApiError::internal)?;
    let list: Vec<SessionInfo> = rows.into_iter().map(Into::into).collect();
    Ok(Json(json!({"sessions": list})))
}
