//! Client registration: the admin API (`/admin/clients`) and RFC 7591 dynamic registration
//! (`POST /oauth/register`, behind `oauth.dynamic_registration`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idseal_oauth::OAuthError;
use idseal_oauth::client::{Client, ClientMetadata, NewClient};
use idseal_ratelimit::KeyKind;
use idseal_store::StoreError;
use idseal_types::{AuditEvent, AuditEventKind, AuditSink};
use serde::Serialize;

use crate::error::{ApiError, ApiJson};
use crate::oidc::{self, random};
use crate::routes::admin::Admin;
use crate::state::AppState;
use crate::web::Meta;

/// A registered client as the APIs show it (RFC 7591 §3.2.1 names). The secret appears only in
/// the answer to the registration.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientInfo {
    /// The client id.
    pub client_id: String,
    /// The secret, once, for confidential clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// `0`: the secret does not expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    /// Display name.
    pub client_name: String,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// `client_secret_basic`, `client_secret_post` or `none`.
    pub token_endpoint_auth_method: String,
    /// Allowed grant types.
    pub grant_types: Vec<String>,
    /// Always `["code"]`.
    pub response_types: Vec<String>,
    /// Allowed scopes, space-separated.
    pub scope: String,
    /// ID token signature algorithm.
    pub id_token_signed_response_alg: String,
    /// `pairwise` or `public`.
    pub subject_type: String,
}

impl ClientInfo {
    fn new(c: &Client, secret: Option<String>) -> Self {
        Self {
            client_secret_expires_at: secret.as_ref().map(|_| 0),
            client_secret: secret,
            client_id: c.client_id.clone(),
            client_name: c.name.clone(),
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            token_endpoint_auth_method: c.auth_method.as_str().to_owned(),
            grant_types: c.grant_types.iter().map(|g| g.as_str().to_owned()).collect(),
            response_types: vec!["code".into()],
            scope: c.scopes.to_string(),
            id_token_signed_response_alg: c.id_token_alg.as_str().to_owned(),
            subject_type: c.subject_type.as_str().to_owned(),
        }
    }
}

/// Validate and store a new client; the store refuses a duplicate id (128 random bits make one
/// practically impossible, but it is not silently overwritten).
pub async fn register_client(st: &AppState, meta: &ClientMetadata, dynamic: bool) -> Result<NewClient, ApiError> {
    let new = idseal_oauth::client::register(meta, &random()?)?;
    let alg = new.client.id_token_alg;
    if !st.settings.algorithms.contains(&alg) {
        return Err(OAuthError::InvalidClientMetadata(format!(
            "id_token_signed_response_alg {} is not enabled on this server",
            alg.as_str()
        ))
        .into());
    }
    match st.store.insert_client(&oidc::client_to_row(&new.client, dynamic, st.clock.now())).await {
        Ok(()) => Ok(new),
        Err(StoreError::Conflict(_)) => Err(ApiError::internal("client id collision")),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// `POST /admin/clients`: register a client (RFC 7591 metadata). 201 with the secret, once.
#[utoipa::path(
    post, path = "/admin/clients", tag = "admin",
    request_body = Object,
    responses(
        (status = 201, description = "Registered", body = ClientInfo),
        (status = 400, description = "invalid_redirect_uri or invalid_client_metadata", body = crate::error::ErrorBody),
        (status = 401, description = "Bad admin token", body = crate::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn admin_create(
    State(st): State<AppState>,
    admin: Admin,
    ApiJson(meta): ApiJson<ClientMetadata>,
) -> Result<Response, ApiError> {
    let new = register_client(&st, &meta, false).await?;
    let ev = AuditEvent::new(AuditEventKind::ClientRegister, st.clock.now(), admin.actor.clone())
        .subject(new.client.client_id.clone())
        .request(admin.ip, admin.user_agent.clone())
        .details(serde_json::json!({"name": new.client.name, "redirect_uris": new.client.redirect_uris}));
    st.store.record(&ev).await.map_err(ApiError::internal)?;
    let info = ClientInfo::new(&new.client, new.secret.as_ref().map(|s| s.to_string()));
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// `GET /admin/clients`.
#[utoipa::path(
    get, path = "/admin/clients", tag = "admin",
    responses((status = 200, description = "Every client", body = [ClientInfo])),
    security(("bearer" = []))
)]
pub async fn admin_list(State(st): State<AppState>, _admin: Admin) -> Result<Json<Vec<ClientInfo>>, ApiError> {
    let rows = st.store.list_clients().await.map_err(ApiError::internal)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(ClientInfo::new(&oidc::client_from_row(r)?, None));
    }
    Ok(Json(out))
}

/// `GET /admin/clients/{id}`.
#[utoipa::path(
    get, path = "/admin/clients/{id}", tag = "admin",
    responses((status = 200, body = ClientInfo), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn admin_get(
    State(st): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<ClientInfo>, ApiError> {
    let c = oidc::load_client(&st, &id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(ClientInfo::new(&c, None)))
}

/// `DELETE /admin/clients/{id}`: remove a client; its grants are revoked and its consents
/// dropped in the same transaction.
#[utoipa::path(
    delete, path = "/admin/clients/{id}", tag = "admin",
    responses((status = 204, description = "Removed"), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn admin_delete(
    State(st): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let now = st.clock.now();
    if id.len() > 128 || !st.store.delete_client(&id, now).await.map_err(ApiError::internal)? {
        return Err(ApiError::NotFound);
    }
    let ev = AuditEvent::new(AuditEventKind::ClientRemove, now, admin.actor.clone())
        .subject(id)
        .request(admin.ip, admin.user_agent.clone());
    st.store.record(&ev).await.map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /oauth/register` (RFC 7591), when `oauth.dynamic_registration` is on; rate-limited
/// per IP by the `registration` policy.
#[utoipa::path(
    post, path = "/oauth/register", tag = "oauth",
    request_body = Object,
    responses(
        (status = 201, description = "Registered", body = ClientInfo),
        (status = 400, description = "invalid_redirect_uri or invalid_client_metadata", body = crate::error::ErrorBody),
        (status = 404, description = "Dynamic registration is off", body = crate::error::ErrorBody),
        (status = 429, description = "Rate limited", body = crate::error::ErrorBody),
    )
)]
pub async fn dynamic(
    State(st): State<AppState>,
    meta: Meta,
    ApiJson(md): ApiJson<ClientMetadata>,
) -> Result<Response, ApiError> {
    if !st.settings.config.oauth.dynamic_registration {
        return Err(ApiError::NotFound);
    }
    oidc::limit(&st, "registration", KeyKind::Ip, &meta.ip_key()).await?;
    if md.subject_type.as_deref() == Some("public") {
        // Public subjects are the account id: only an operator may hand them out.
        return Err(
            OAuthError::InvalidClientMetadata("subject_type public needs an operator's registration".into()).into()
        );
    }
    let new = register_client(&st, &md, true).await?;
    let ev = AuditEvent::new(AuditEventKind::ClientRegister, st.clock.now(), "dynamic-registration")
        .subject(new.client.client_id.clone())
        .details(
            serde_json::json!({"name": new.client.name, "redirect_uris": new.client.redirect_uris, "dynamic": true}),
        );
    oidc::audit(&st, &meta, ev).await?;
    let info = ClientInfo::new(&new.client, new.secret.as_ref().map(|s| s.to_string()));
    Ok((StatusCode::CREATED, Json(info)).into_response())
}
