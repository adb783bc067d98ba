//! Password recovery: "forgot password" mails a single-use link (1 h); the reset sets the new
//! password and, in the same transaction, revokes every session and every grant of the account.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use idseal_ratelimit::KeyKind;
use idseal_types::{AuditEvent, AuditEventKind};
use std::time::Duration;

use super::{TokenQuery, form_page, mail_later, posted_form};
use crate::error::ApiError;
use crate::oidc::{self, random};
use crate::state::AppState;
use crate::web::{self, Meta, Page, SESSION_COOKIE, field, hidden, page_result};

/// `GET /account/forgot`.
#[utoipa::path(
    get, path = "/account/forgot", tag = "account",
    responses((status = 200, description = "HTML page", content_type = "text/html"))
)]
pub async fn forgot_form(State(st): State<AppState>, meta: Meta) -> Response {
    page_result(forgot_page(&st, &meta, None).await)
}

async fn forgot_page(st: &AppState, meta: &Meta, error: Option<&str>) -> Result<Response, ApiError> {
    form_page(st, meta, "Reset your password", error, StatusCode::BAD_REQUEST, |csrf| {
        format!(
            "<form method=\"post\" action=\"/account/forgot\">{csrf}\
             <label for=\"email\">Email</label><input id=\"email\" type=\"email\" name=\"email\" required>\
             <button type=\"submit\">Send a reset link</button></form>"
        )
    })
    .await
}

/// `POST /account/forgot`: counts against `password_reset` per account (and so per address
/// asked for, known or not); the answer does not say whether the address is known.
#[utoipa::path(
    post, path = "/account/forgot", tag = "account",
    request_body(content_type = "application/x-www-form-urlencoded", description = "HTML form fields with `csrf`"),
    responses((status = 200, description = "HTML page", content_type = "text/html"), (status = 403, description = "CSRF token missing or wrong (HTML)", content_type = "text/html"), (status = 429, description = "Rate limited (HTML)", content_type = "text/html"))
)]
pub async fn forgot(State(st): State<AppState>, meta: Meta, headers: HeaderMap, body: Bytes) -> Response {
    let (pairs, _) = match posted_form(&st, &meta, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    page_result(do_forgot(&st, &meta, &pairs).await)
}

async fn do_forgot(st: &AppState, meta: &Meta, pairs: &[(String, String)]) -> Result<Response, ApiError> {
    oidc::limit(st, "password_reset_ip", KeyKind::Ip, &meta.ip_key()).await?;
    let Some(email) = field(pairs, "email").and_then(oidc::normalise_email) else {
        return forgot_page(st, meta, Some("Enter a valid email address.")).await;
    };
    oidc::limit(st, "password_reset", KeyKind::Account, &email).await?;
    // Everything that depends on whether the address is known happens after the answer, so
    // that neither the answer nor its timing tells.
    let (st2, meta2) = (st.clone(), meta.clone());
    tokio::spawn(async move {
        if let Err(e) = send_reset(&st2, &meta2, &email).await {
            tracing::error!(error = %e, "password-reset mail not prepared");
        }
    });
    Ok(Page::new(
        "Check your email",
        "<p>If an account uses this address, we sent it a link to reset the password. The link works for an hour.</p>",
    )
    .into_response())
}

async fn send_reset(st: &AppState, meta: &Meta, email: &str) -> Result<(), ApiError> {
    let Some(account) = st.store.account_by_email(email).await.map_err(ApiError::internal)? else { return Ok(()) };
    let now = st.clock.now();
    let token = idseal_oauth::token::opaque("", &random()?);
    let hash = idseal_oauth::token::sha256_hex(&token);
    let expires = now.saturating_add(Duration::from_secs(3600));
    st.store.insert_email_token(&hash, &account.id, "reset", now, expires).await.map_err(ApiError::internal)?;
    let ev = AuditEvent::new(AuditEventKind::PasswordResetRequest, now, account.id.clone()).subject(account.id.clone());
    oidc::audit(st, meta, ev).await?;
    let body = format!(
        "To choose a new idseal password, open this link within an hour:\n\n{}/account/reset?token={}\n\n\
         Every session of your account will be signed out. If you did not ask for this, ignore this message.\n",
        st.settings.issuer,
        token.as_str()
    );
    mail_later(st, &account.email, "Reset your password", body);
    Ok(())
}

/// `GET /account/reset?token=`: the new-password form.
#[utoipa::path(
    get, path = "/account/reset", tag = "account",
    responses((status = 200, description = "HTML page", content_type = "text/html"))
)]
pub async fn reset_form(State(st): State<AppState>, meta: Meta, Query(q): Query<TokenQuery>) -> Response {
    page_result(reset_page(&st, &meta, q.token.as_deref().unwrap_or(""), None).await)
}

async fn reset_page(st: &AppState, meta: &Meta, token: &str, error: Option<&str>) -> Result<Response, ApiError> {
    form_page(st, meta, "Choose a new password", error, StatusCode::BAD_REQUEST, |csrf| format!(
        "<form method=\"post\" action=\"/account/reset\">{csrf}{t}\
         <label for=\"password\">New password (at least 10 characters)</label>\
         <input id=\"password\" type=\"password\" name=\"password\" minlength=\"10\" autocomplete=\"new-password\" required>\
         <button type=\"submit\">Set password</button></form>",
        t = hidden("token", token),
    ))
    .await
}

/// `POST /account/reset`: token and new password.
#[utoipa::path(
    post, path = "/account/reset", tag = "account",
    request_body(content_type = "application/x-www-form-urlencoded", description = "HTML form fields with `csrf`"),
    responses((status = 200, description = "HTML page", content_type = "text/html"), (status = 400, description = "HTML error page", content_type = "text/html"), (status = 403, description = "CSRF token missing or wrong (HTML)", content_type = "text/html"))
)]
pub async fn reset(State(st): State<AppState>, meta: Meta, headers: HeaderMap, body: Bytes) -> Response {
    let (pairs, _) = match posted_form(&st, &meta, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    page_result(do_reset(&st, &meta, &pairs).await)
}

async fn do_reset(st: &AppState, meta: &Meta, pairs: &[(String, String)]) -> Result<Response, ApiError> {
    oidc::limit(st, "password_reset_ip", KeyKind::Ip, &meta.ip_key()).await?;
    let token = field(pairs, "token").unwrap_or("");
    let password = field(pairs, "password").unwrap_or("");
    if let Err(e) = idseal_oauth::password::check_policy(password) {
        return reset_page(st, meta, token, Some(e.description())).await;
    }
    let invalid = || {
        Page::error(StatusCode::BAD_REQUEST, "Link not valid", "This link is invalid, used or expired.").into_response()
    };
    let token_hash = idseal_oauth::token::sha256_hex(token);
    // A bad link is refused before any hashing (argon2id is the expensive part).
    if st.store.email_token_account(&token_hash, "reset", st.clock.now()).await.map_err(ApiError::internal)?.is_none() {
        return Ok(invalid());
    }
    let hash = oidc::hash_password(st, password).await?;
    let now = st.clock.now();
    // One transaction: the token, the password, every session, grant, pending code and link;
    // the address counts as verified.
    let Some(account_id) = st.store.reset_password(&token_hash, &hash, now).await.map_err(ApiError::internal)? else {
        return Ok(invalid());
    };
    // The owner proved control of the mailbox: attempts by others no longer lock them out.
    if let Some(account) = st.store.account(&account_id).await.map_err(ApiError::internal)?
        && let Some((policy, _, _)) = st.settings.policies.get("login_email")
    {
        let bucket = idseal_ratelimit::bucket(&st.bucket_key, policy, KeyKind::Account, &account.email);
        st.store.clear_rate_limit(&bucket).await.map_err(ApiError::internal)?;
    }
    let ev = AuditEvent::new(AuditEventKind::PasswordReset, now, account_id.clone())
        .subject(account_id)
        .details(serde_json::json!({"sessions_revoked": "all", "grants_revoked": "all"}));
    oidc::audit(st, meta, ev).await?;
    Ok(Page::new(
        "Password changed",
        "<p>Your password is changed and every session is signed out. <a href=\"/login\">Sign in</a></p>",
    )
    .cookie(web::clear_cookie(SESSION_COOKIE))
    .into_response())
}
