//! The account page: the user's sessions (revocable), the consents they gave (revocable),
//! password change and sign-out; and the same sessions as JSON.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use idseal_store::SessionRow;
use idseal_types::{AuditEvent, AuditEventKind};
use serde::Serialize;

use super::{check_password, posted_form};
use crate::error::ApiError;
use crate::oidc;
use crate::state::AppState;
use crate::web::{self, Meta, Page, SESSION_COOKIE, esc, field, hidden, page_result};

fn fmt_time(t: idseal_types::UnixTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(t.as_secs())
        .ok()
        .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| t.as_secs().to_string())
}

/// `GET /account`.
#[utoipa::path(
    get, path = "/account", tag = "account",
    responses((status = 200, description = "HTML page", content_type = "text/html"), (status = 303, description = "Redirect"))
)]
pub async fn page(State(st): State<AppState>, meta: Meta) -> Response {
    page_result(render(&st, &meta, None).await)
}

async fn render(st: &AppState, meta: &Meta, notice: Option<&str>) -> Result<Response, ApiError> {
    let Some(session) = oidc::current_session(st, meta).await? else {
        return Ok(web::see_other("/login?return_to=%2Faccount", Vec::new()));
    };
    let Some(account) = st.store.account(&session.account_id).await.map_err(ApiError::internal)? else {
        return Ok(web::see_other("/login", vec![web::clear_cookie(SESSION_COOKIE)]));
    };
    let now = st.clock.now();
    let (binding, _) = oidc::csrf_binding(meta, Some(&session))?;
    let csrf = hidden("csrf", &oidc::csrf_token(st, &binding));
    let sessions = st.store.list_sessions(&account.id, now).await.map_err(ApiError::internal)?;
    let mut rows = String::new();
    for s in &sessions {
        let current = if s.id == session.id { " (this browser)" } else { "" };
        rows.push_str(&format!(
            "<tr><td>{}{current}</td><td>{}</td><td>{}</td><td>{}</td><td><form class=\"inline\" method=\"post\" \
             action=\"/account/sessions/{}/revoke\">{csrf}<button type=\"submit\">Sign out</button></form></td></tr>",
            esc(&fmt_time(s.created_at)),
            esc(&fmt_time(s.last_seen)),
            esc(s.ip.as_deref().unwrap_or("-")),
            esc(s.user_agent.as_deref().unwrap_or("-")),
            esc(&s.id),
        ));
    }
    let consents = st.store.list_consents(&account.id).await.map_err(ApiError::internal)?;
    let mut grants = String::new();
    for c in &consents {
        let name = match oidc::load_client(st, &c.client_id).await? {
            Some(cl) => cl.name,
            None => c.client_id.clone(),
        };
        let id: String = form_urlencoded::byte_serialize(c.client_id.as_bytes()).collect();
        grants.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><form class=\"inline\" method=\"post\" \
             action=\"/account/consents/{}/revoke\">{csrf}<button type=\"submit\">Withdraw</button></form></td></tr>",
            esc(&name),
            esc(&c.scope),
            esc(&fmt_time(c.granted_at)),
            esc(&id),
        ));
    }
    let notice = notice.map(|n| format!("<p><strong>{}</strong></p>", esc(n))).unwrap_or_default();
    let who = if account.kind == "device" {
        format!("with your phone (IDToken <strong>{}</strong>)", esc(&account.id))
    } else {
        let verified = if account.email_verified { "verified" } else { "not verified" };
        format!("as <strong>{}</strong> ({verified})", esc(&account.email))
    };
    // A phone identity has no password to change.
    let password = if account.kind == "device" {
        String::new()
    } else {
        format!(
            "<h2>Change password</h2><form method=\"post\" action=\"/account/password\">{csrf}\
             <label for=\"current\">Current password</label><input id=\"current\" type=\"password\" name=\"current_password\" autocomplete=\"current-password\" required>\
             <label for=\"new\">New password</label><input id=\"new\" type=\"password\" name=\"new_password\" minlength=\"10\" autocomplete=\"new-password\" required>\
             <button type=\"submit\">Change password</button></form>"
        )
    };
    let body = format!(
        "{notice}<p>Signed in {who}.</p>\
         <h2>Sessions</h2><table><tr><th>Started</th><th>Last seen</th><th>IP</th><th>Browser</th><th></th></tr>{rows}</table>\
         <h2>Applications you allowed</h2><table><tr><th>Application</th><th>Scopes</th><th>Since</th><th></th></tr>{grants}</table>\
         {password}<h2>Your audit record</h2><p><a href=\"/account/audit\">Every audit-log entry about you</a>, with \
         the proofs that it is in the signed log (JSON).</p>\
         <form method=\"post\" action=\"/account/logout\">{csrf}<button type=\"submit\">Sign out</button></form>",
    );
    Ok(Page::new("Your account", body).into_response())
}

/// One session as `GET /account/sessions` lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// Session id.
    pub id: String,
    /// Started (Unix seconds).
    pub created_at: i64,
    /// Last request (Unix seconds, to the minute).
    pub last_seen: i64,
    /// Ends (Unix seconds).
    pub expires_at: i64,
    /// IP address at sign-in.
    pub ip: Option<String>,
    /// User agent at sign-in.
    pub user_agent: Option<String>,
    /// Whether this is the session making the request.
    pub current: bool,
}

/// `GET /account/sessions`: the caller's live sessions (session cookie).
#[utoipa::path(
    get, path = "/account/sessions", tag = "account",
    responses((status = 200, body = [SessionInfo]), (status = 401, body = crate::error::ErrorBody))
)]
pub async fn sessions_json(State(st): State<AppState>, meta: Meta) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    let session = oidc::current_session(&st, &meta).await?.ok_or(ApiError::Unauthorized)?;
    let list = st.store.list_sessions(&session.account_id, st.clock.now()).await.map_err(ApiError::internal)?;
    Ok(Json(
        list.into_iter()
            .map(|s: SessionRow| SessionInfo {
                current: s.id == session.id,
                created_at: s.created_at.as_secs(),
                last_seen: s.last_seen.as_secs(),
                expires_at: s.expires_at.as_secs(),
                ip: s.ip,
                user_agent: s.user_agent,
                id: s.id,
            })
            .collect(),
    ))
}

/// Query of the account's audit export.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// Continue from this log index.
    from_index: Option<u64>,
}

/// `GET /account/audit`: the signed-in user's right of access (GDPR art. 15) to the audit
/// log: every entry about their account, each with an inclusion proof against a checkpoint
/// signed now, and that checkpoint (docs/audit-log.md explains how to check them offline).
#[utoipa::path(
    get, path = "/account/audit", tag = "account",
    params(("from_index" = Option<u64>, Query, description = "Continue from this log index")),
    responses(
        (status = 200, description = "Entries about the caller with proofs", body = crate::routes::log::Export),
        (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
    )
)]
pub async fn audit_export(
    State(st): State<AppState>,
    meta: Meta,
    q: Result<axum::extract::Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<crate::routes::log::Export>, ApiError> {
    let session = oidc::current_session(&st, &meta).await?.ok_or(ApiError::Unauthorized)?;
    let from = q.map_err(|e| ApiError::InvalidRequest(e.body_text()))?.0.from_index.unwrap_or(0);
    crate::routes::log::subject_export(&st, &session.account_id, from).await.map(Json)
}

/// Run a signed-in, CSRF-checked form action.
async fn signed_in_form(
    st: &AppState,
    meta: &Meta,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Vec<(String, String)>, SessionRow), Response> {
    let (pairs, session) = posted_form(st, meta, headers, body).await?;
    match session {
        Some(s) => Ok((pairs, s)),
        None => Err(web::see_other("/login?return_to=%2Faccount", Vec::new())),
    }
}

/// `POST /account/sessions/{id}/revoke`.
#[utoipa::path(
    post, path = "/account/sessions/{id}/revoke", tag = "account",
    request_body(content_type = "application/x-www-form-urlencoded", description = "HTML form fields with `csrf`"),
    responses((status = 303, description = "Redirect"), (status = 403, description = "CSRF token missing or wrong (HTML)", content_type = "text/html"), (status = 404, description = "No such session of this user (HTML)", content_type = "text/html"))
)]
pub async fn revoke_session(
    State(st): State<AppState>,
    meta: Meta,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (_, session) = match signed_in_form(&st, &meta, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    page_result(
        async {
            let now = st.clock.now();
            if !st.store.revoke_session(&session.account_id, &id, now).await.map_err(ApiError::internal)? {
                return Ok(Page::error(StatusCode::NOT_FOUND, "Not found", "No such session.").into_response());
            }
            let ev = AuditEvent::new(AuditEventKind::SessionRevoke, now, session.account_id.clone())
                .subject(session.account_id.clone())
                .details(serde_json::json!({"session": id, "by": "user"}));
            oidc::audit(&st, &meta, ev).await?;
            if id == session.id {
                return Ok(web::see_other("/login", vec![web::clear_cookie(SESSION_COOKIE)]));
            }
            Ok(web::see_other("/account", Vec::new()))
        }
        .await,
    )
}

/// `POST /account/consents/{client_id}/revoke`: withdraw consent; the client's grants for
/// this user are revoked with it.
#[utoipa::path(
    post, path = "/account/consents/{client_id}/revoke", tag = "account",
    request_body(content_type = "application/x-www-form-urlencoded", description = "HTML form fields with `csrf`"),
    responses((status = 303, description = "Redirect"), (status = 403, description = "CSRF token missing or wrong (HTML)", content_type = "text/html"), (status = 404, description = "No such consent (HTML)", content_type = "text/html"))
)]
pub async fn revoke_consent(
    State(st): State<AppState>,
    meta: Meta,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (_, session) = match signed_in_form(&st, &meta, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    page_result(
        async {
            let now = st.clock.now();
            if !st.store.revoke_consent(&session.account_id, &client_id, now).await.map_err(ApiError::internal)? {
                return Ok(Page::error(StatusCode::NOT_FOUND, "Not found", "No such consent.").into_response());
            }
            let ev = AuditEvent::new(AuditEventKind::ConsentRevoke, now, session.account_id.clone())
                .subject(session.account_id.clone())
                .details(serde_json::json!({"client_id": client_id}));
            oidc::audit(&st, &meta, ev).await?;
            Ok(web::see_other("/account", Vec::new()))
        }
        .await,
    )
}

/// `POST /account/password`: current and new password. The current one is checked like a
/// sign-in (same rate limits and lockouts); every session and every grant of the account is
/// revoked, and this browser gets a new session.
#[utoipa::path(
    post, path = "/account/password", tag = "account",
    request_body(content_type = "application/x-www-form-urlencoded", description = "HTML form fields with `csrf`"),
    responses((status = 303, description = "Redirect"), (status = 401, description = "Wrong current password (HTML)", content_type = "text/html"), (status = 403, description = "CSRF token missing or wrong (HTML)", content_type = "text/html"))
)]
pub async fn change_password(State(st): State<AppState>, meta: Meta, headers: HeaderMap, body: Bytes) -> Response {
    let (pairs, session) = match signed_in_form(&st, &meta, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    page_result(
        async {
            let Some(account) = st.store.account(&session.account_id).await.map_err(ApiError::internal)? else {
                return Ok(web::see_other("/login", vec![web::clear_cookie(SESSION_COOKIE)]));
            };
            let new = field(&pairs, "new_password").unwrap_or("");
            if let Err(e) = idseal_oauth::password::check_policy(new) {
                return Ok(
                    Page::error(StatusCode::BAD_REQUEST, "Password not changed", e.description()).into_response()
                );
            }
            if check_password(&st, &meta, &account.email, field(&pairs, "current_password").unwrap_or(""))
                .await?
                .is_none()
            {
                return Ok(Page::error(
                    StatusCode::UNAUTHORIZED,
                    "Password not changed",
                    "The current password is wrong.",
                )
                .into_response());
            }
            let hash = oidc::hash_password(&st, new).await?;
            let now = st.clock.now();
            // One transaction: the password, every session and every grant (tokens a thief may
            // hold die with the old password).
            let revoked = st.store.change_password(&account.id, &hash, now).await.map_err(ApiError::internal)?;
            let ev = AuditEvent::new(AuditEventKind::PasswordChange, now, account.id.clone())
                .subject(account.id.clone())
                .details(serde_json::json!({"sessions_revoked": revoked, "grants_revoked": "all"}));
            oidc::audit(&st, &meta, ev).await?;
            let (_, cookie) = oidc::create_session(&st, &meta, &account.id).await?;
            Ok(web::see_other("/account", vec![cookie]))
        }
        .await,
    )
}

/// `POST /account/logout`.
#[utoipa::path(
    post, path = "/account/logout", tag = "account",
    request_body(content_type = "application/x-www-form-urlencoded", description = "HTML form fields with `csrf`"),
    responses((status = 200, description = "HTML page", content_type = "text/html"), (status = 403, description = "CSRF token missing or wrong (HTML)", content_type = "text/html"))
)]
pub async fn logout(State(st): State<AppState>, meta: Meta, headers: HeaderMap, body: Bytes) -> Response {
    let (_, session) = match signed_in_form(&st, &meta, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    page_result(
        async {
            let now = st.clock.now();
            st.store.revoke_session(&session.account_id, &session.id, now).await.map_err(ApiError::internal)?;
            let ev = AuditEvent::new(AuditEventKind::SessionRevoke, now, session.account_id.clone())
                .subject(session.account_id.clone())
                .details(serde_json::json!({"session": session.id, "by": "logout"}));
            oidc::audit(&st, &meta, ev).await?;
            Ok(Page::new("Signed out", "<p>You are signed out. <a href=\"/login\">Sign in again</a></p>")
                .cookie(web::clear_cookie(SESSION_COOKIE))
                .into_response())
        }
        .await,
    )
}
