//! Accounts in the browser: sign-in, registration, email verification (this file), password
//! recovery (`recovery`) and the account page with sessions and consents (`manage`).
//!
//! Every form is CSRF-protected (docs/design/oauth.md "CSRF") and works without JavaScript.
//! Registration and recovery answer the same whether an email is known or not.

pub mod manage;
pub mod phone;
pub mod recovery;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use idseal_ratelimit::KeyKind;
use idseal_store::{AccountRow, StoreError};
use idseal_types::{AuditEvent, AuditEventKind};
use serde::Deserialize;
use std::time::Duration;

use crate::error::ApiError;
use crate::oidc::{self, random};
use crate::state::AppState;
use crate::web::{self, Meta, Page, esc, field, form_pairs, hidden, page_result};

/// Where a sign-in may send the browser afterwards: an authorization request or the account
/// page, never another site.
pub fn safe_return(r: Option<&str>) -> String {
    match r {
        Some(r) if r.starts_with("/oauth/authorize?") && !r.contains(['\r', '\n', '\\']) => r.to_owned(),
        _ => "/account".to_owned(),
    }
}

/// Query of the sign-in and registration pages.
#[derive(Debug, Deserialize)]
pub struct ReturnTo {
    return_to: Option<String>,
}

/// Parse a posted form and check its CSRF token against this browser. `Err` is the page to
/// answer with.
pub async fn posted_form(
    st: &AppState,
    meta: &Meta,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Vec<(String, String)>, Option<idseal_store::SessionRow>), Response> {
    if !web::is_form(headers) {
        return Err(
            Page::error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Request refused", "Expected a form.").into_response()
        );
    }
    let pairs =
        form_pairs(body).map_err(|e| Page::error(StatusCode::BAD_REQUEST, "Request refused", &e).into_response())?;
    let session = oidc::current_session(st, meta).await.map_err(|e| page_result(Err(e)))?;
    if !oidc::csrf_ok(st, meta, session.as_ref(), field(&pairs, "csrf")) {
        return Err(Page::error(
            StatusCode::FORBIDDEN,
            "Request refused",
            "This form has expired or did not come from this site. Reload the page and try again.",
        )
        .into_response());
    }
    Ok((pairs, session))
}

/// The CSRF hidden field for this browser, and the pre-session cookie to set when it is new.
pub async fn csrf_field(st: &AppState, meta: &Meta) -> Result<(String, Option<HeaderValue>), ApiError> {
    let session = oidc::current_session(st, meta).await?;
    let (binding, cookie) = oidc::csrf_binding(meta, session.as_ref())?;
    Ok((hidden("csrf", &oidc::csrf_token(st, &binding)), cookie))
}

/// A page with a CSRF-protected form: `form` gets the hidden CSRF field and returns the form's
/// HTML; an `error` is shown above it and answered with `status`, else 200.
pub async fn form_page(
    st: &AppState,
    meta: &Meta,
    title: &str,
    error: Option<&str>,
    status: StatusCode,
    form: impl FnOnce(&str) -> String,
) -> Result<Response, ApiError> {
    let (csrf, cookie) = csrf_field(st, meta).await?;
    let err = error.map(|e| format!("<p class=\"error\">{}</p>", esc(e))).unwrap_or_default();
    let mut page = Page::new(title, format!("{err}{}", form(&csrf)));
    if error.is_some() {
        page = page.status(status);
    }
    if let Some(c) = cookie {
        page = page.cookie(c);
    }
    Ok(page.into_response())
}

async fn login_page(
    st: &AppState,
    meta: &Meta,
    return_to: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let q = form_urlencoded::Serializer::new(String::new()).append_pair("return_to", return_to).finish();
    let phone_note = match return_to.strip_prefix("/oauth/authorize?") {
        Some(query) => match crate::routes::oauth::authorize::revalidate(st, query).await {
            Ok((_, v)) if crate::routes::oauth::authorize::needs_phone(&v) => {
                Some("This application asks for your verified identity: sign in with your phone.")
            }
            _ => None,
        },
        None => None,
    };
    form_page(st, meta, "Sign in", error, status, |csrf| format!(
        "<form method=\"post\" action=\"/login\">{csrf}{rt}\
         <label for=\"email\">Email</label><input id=\"email\" type=\"email\" name=\"email\" autocomplete=\"username\" required>\
         <label for=\"password\">Password</label><input id=\"password\" type=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>\
         <p class=\"muted\"><a href=\"/register?{q}\">Create an account</a> · <a href=\"/account/forgot\">Forgot your password?</a></p>{phone}",
        rt = hidden("return_to", return_to),
        q = esc(&q),
        phone = phone::form(csrf, return_to, phone_note),
    ))
    .await
}

/// `GET /login`.
#[utoipa::path(
    get, path = "/login", tag = "account",
    responses((status = 200, description = "HTML page", content_type = "text/html"))
)]
pub async fn login_form(State(st): State<AppState>, meta: Meta, Query(q): Query<ReturnTo>) -> Response {
    page_result(login_page(&st, &meta, &safe_return(q.return_to.as_deref()), None, StatusCode::OK).await)
}

/// `POST /login`: email and password. Counts against `login_ip` and `login_email` before the
/// password is checked; unknown emails cost the same as wrong passwords.
#[utoipa::path(
    post, path = "/login", tag = "account",
    request_body(content_type = "application/x-www-form-urlencoded", description = "HTML form fields with `csrf`"),
    responses((status = 303, description = "Redirect"), (status = 401, description = "Wrong email or password (HTML)", content_type = "text/html"), (status = 403, description = "CSRF token missing or wrong (HTML)", content_type = "text/html"), (status = 429, description = "Rate limited or locked out (HTML, Retry-After)", content_type = "text/html"))
)]
pub async fn login(State(st): State<AppState>, meta: Meta, headers: HeaderMap, body: Bytes) -> Response {
    let (pairs, old) = match posted_form(&st, &meta, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    page_result(do_login(&st, &meta, &pairs, old).await)
}

async fn do_login(
    st: &AppState,
    meta: &Meta,
    pairs: &[(String, String)],
    old: Option<idseal_store::SessionRow>,
) -> Result<Response, ApiError> {
    let return_to = safe_return(field(pairs, "return_to"));
    let password = field(pairs, "password").unwrap_or("");
    let Some(email) = field(pairs, "email").and_then(oidc::normalise_email) else {
        return login_page(st, meta, &return_to, Some("Enter a valid email address."), StatusCode::BAD_REQUEST).await;
    };
    let Some(account) = check_password(st, meta, &email, password).await? else {
        return login_page(st, meta, &return_to, Some("Wrong email or password."), StatusCode::UNAUTHORIZED).await;
    };
    if st.settings.config.oauth.require_verified_email && !account.email_verified {
        // A new link, counted like a registration (it sends a mail).
        oidc::limit(st, "registration", KeyKind::Ip, &meta.ip_key()).await?;
        send_verification(st, &account).await?;
        return Ok(Page::new(
            "Verify your email first",
            "<p>We sent you a new verification link. Follow it, then sign in again.</p>",
        )
        .status(StatusCode::FORBIDDEN)
        .into_response());
    }
    let now = st.clock.now();
    if let Some(o) = old {
        // A new sign-in replaces the browser's previous session (no session fixation).
        st.store.revoke_session(&o.account_id, &o.id, now).await.map_err(ApiError::internal)?;
    }
    let (session, cookie) = oidc::create_session(st, meta, &account.id).await?;
    let ev = AuditEvent::new(AuditEventKind::SessionCreate, now, account.id.clone())
        .subject(account.id.clone())
        .details(serde_json::json!({"session": session.id, "method": "password"}));
    oidc::audit(st, meta, ev).await?;
    Ok(web::see_other(&return_to, vec![cookie]))
}

/// Check an account's password, on every path that checks one: every try counts against
/// `login_ip`; failures count against `login_email`, which refuses every try once full or locked
/// (lockouts are durable rows, so they hold across instances and restarts); audits success and
/// failure; upgrades an outdated hash. `None`: wrong.
pub async fn check_password(
    st: &AppState,
    meta: &Meta,
    email: &str,
    password: &str,
) -> Result<Option<AccountRow>, ApiError> {
    oidc::limit(st, "login_ip", KeyKind::Ip, &meta.ip_key()).await?;
    // Per account, failures are counted (below) but every try is refused once the limit is
    // reached or the account is locked: the owner's own successful logins never lock them out.
    oidc::limit_peek(st, "login_email", KeyKind::Account, email).await?;
    let account = st.store.account_by_email(email).await.map_err(ApiError::internal)?;
    let ok = match account.as_ref().and_then(|a| a.password_hash.as_deref()) {
        Some(phc) => oidc::verify_password(st, password, phc).await?,
        None => {
            let _ = oidc::verify_password(st, password, &st.oidc.dummy_hash).await?;
            false
        }
    };
    let now = st.clock.now();
    let actor = account.as_ref().map_or_else(|| "anonymous".to_owned(), |a| a.id.clone());
    let kind = if ok { AuditEventKind::LoginSuccess } else { AuditEventKind::LoginFailure };
    let mut ev =
        AuditEvent::new(kind, now, actor).details(serde_json::json!({"email_sha256": oidc::email_hash(email)}));
    if let Some(a) = &account {
        ev = ev.subject(a.id.clone());
    }
    oidc::audit(st, meta, ev).await?;
    if !ok {
        // Count the failure; a lockout it starts applies from the next try (this one is
        // answered as the wrong password it is).
        match oidc::limit(st, "login_email", KeyKind::Account, email).await {
            Ok(()) | Err(ApiError::TooManyRequests { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let Some(account) = account.filter(|_| ok) else { return Ok(None) };
    if let Some(phc) = &account.password_hash
        && idseal_oauth::password::needs_rehash(phc, &st.settings.config.oauth.argon2)
    {
        let new = oidc::hash_password(st, password).await?;
        st.store.set_password(&account.id, &new, now).await.map_err(ApiError::internal)?;
    }
    Ok(Some(account))
}

/// `GET /register`.
#[utoipa::path(
    get, path = "/register", tag = "account",
    responses((status = 200, description = "HTML page", content_type = "text/html"))
)]
pub async fn register_form(State(st): State<AppState>, meta: Meta, Query(q): Query<ReturnTo>) -> Response {
    page_result(register_page(&st, &meta, &safe_return(q.return_to.as_deref()), None).await)
}

async fn register_page(st: &AppState, meta: &Meta, return_to: &str, error: Option<&str>) -> Result<Response, ApiError> {
    form_page(st, meta, "Create an account", error, StatusCode::BAD_REQUEST, |csrf| format!(
        "<form method=\"post\" action=\"/register\">{csrf}{rt}\
         <label for=\"name\">Name (optional)</label><input id=\"name\" type=\"text\" name=\"name\" maxlength=\"100\" autocomplete=\"name\">\
         <label for=\"email\">Email</label><input id=\"email\" type=\"email\" name=\"email\" autocomplete=\"username\" required>\
         <label for=\"password\">Password (at least 10 characters)</label>\
         <input id=\"password\" type=\"password\" name=\"password\" minlength=\"10\" autocomplete=\"new-password\" required>\
         <button type=\"submit\">Create account</button></form>",
        rt = hidden("return_to", return_to),
    ))
    .await
}

/// `POST /register`: email, password, optional name. Counts against `registration` per IP.
/// The answer is the same for a new and a known email; the owner of a known one gets a
/// notice by mail instead of a second account.
#[utoipa::path(
    post, path = "/register", tag = "account",
    request_body(content_type = "application/x-www-form-urlencoded", description = "HTML form fields with `csrf`"),
    responses((status = 200, description = "HTML page", content_type = "text/html"), (status = 400, description = "HTML error page", content_type = "text/html"), (status = 403, description = "CSRF token missing or wrong (HTML)", content_type = "text/html"), (status = 429, description = "Rate limited (HTML)", content_type = "text/html"))
)]
pub async fn register(State(st): State<AppState>, meta: Meta, headers: HeaderMap, body: Bytes) -> Response {
    let (pairs, _) = match posted_form(&st, &meta, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    page_result(do_register(&st, &meta, &pairs).await)
}

async fn do_register(st: &AppState, meta: &Meta, pairs: &[(String, String)]) -> Result<Response, ApiError> {
    let return_to = safe_return(field(pairs, "return_to"));
    oidc::limit(st, "registration", KeyKind::Ip, &meta.ip_key()).await?;
    let Some(email) = field(pairs, "email").and_then(oidc::normalise_email) else {
        return register_page(st, meta, &return_to, Some("Enter a valid email address.")).await;
    };
    let password = field(pairs, "password").unwrap_or("");
    if let Err(e) = idseal_oauth::password::check_policy(password) {
        return register_page(st, meta, &return_to, Some(e.description())).await;
    }
    let name = field(pairs, "name").map(str::trim).filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.chars().count() > 100 || n.chars().any(char::is_control)) {
        return register_page(st, meta, &return_to, Some("The name is too long.")).await;
    }
    let now = st.clock.now();
    let existing = st.store.account_by_email(&email).await.map_err(ApiError::internal)?;
    // Hash even for a known email, so that both answers take as long.
    let hash = oidc::hash_password(st, password).await?;
    match existing {
        None => {
            let account = AccountRow {
                id: idseal_oauth::token::uuid_v4(&random()?),
                email: email.clone(),
                password_hash: Some(hash),
                email_verified: false,
                name: name.map(str::to_owned),
                kind: "password".into(),
                created_at: now,
                updated_at: now,
            };
            match st.store.insert_account(&account).await {
                Ok(()) => {
                    let ev = AuditEvent::new(AuditEventKind::AccountRegister, now, account.id.clone())
                        .subject(account.id.clone())
                        .details(serde_json::json!({"email_sha256": oidc::email_hash(&email)}));
                    oidc::audit(st, meta, ev).await?;
                    send_verification(st, &account).await?;
                }
                Err(StoreError::Conflict(_)) => notify_existing(st, &email),
                Err(e) => return Err(ApiError::internal(e)),
            }
        }
        Some(_) => notify_existing(st, &email),
    }
    Ok(Page::new(
        "Check your email",
        format!(
            "<p>We sent a message to <strong>{}</strong>. Follow the link in it to finish, then \
             <a href=\"/login?{}\">sign in</a>.</p>",
            esc(&email),
            esc(&form_urlencoded::Serializer::new(String::new()).append_pair("return_to", &return_to).finish())
        ),
    )
    .into_response())
}

/// Mail `to` in the background, so that whether and how fast a mail goes out never shows in
/// the answer. Failures are logged without the content (it holds a link with a token).
pub fn mail_later(st: &AppState, to: &str, subject: &'static str, body: String) {
    let mailer = st.mailer.clone();
    let to = to.to_owned();
    tokio::spawn(async move {
        if let Err(e) = mailer.send(&to, subject, &body).await {
            tracing::warn!(error = %e, subject, "mail not sent");
        }
    });
}

fn notify_existing(st: &AppState, email: &str) {
    let body = format!(
        "Someone tried to create an idseal account with this address, which already has one.\n\n\
         If it was you, sign in at {0}/login or reset your password at {0}/account/forgot.\n\
         If it was not you, you can ignore this message.\n",
        st.settings.issuer
    );
    mail_later(st, email, "You already have an account", body);
}

/// Issue an email-verification token (24 h) and mail its link.
pub async fn send_verification(st: &AppState, account: &AccountRow) -> Result<(), ApiError> {
    let now = st.clock.now();
    let token = idseal_oauth::token::opaque("", &random()?);
    let hash = idseal_oauth::token::sha256_hex(&token);
    let expires = now.saturating_add(Duration::from_secs(24 * 3600));
    st.store.insert_email_token(&hash, &account.id, "verify", now, expires).await.map_err(ApiError::internal)?;
    let body = format!(
        "Confirm your email address for idseal by opening this link within 24 hours:\n\n{}/account/verify?token={}\n\n\
         If you did not create an account, ignore this message.\n",
        st.settings.issuer,
        token.as_str()
    );
    mail_later(st, &account.email, "Confirm your email address", body);
    Ok(())
}

/// Query of the verification link.
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// `GET /account/verify?token=`: mark the email verified (single use).
#[utoipa::path(
    get, path = "/account/verify", tag = "account",
    responses((status = 200, description = "HTML page", content_type = "text/html"), (status = 400, description = "HTML error page", content_type = "text/html"))
)]
pub async fn verify_email(State(st): State<AppState>, meta: Meta, Query(q): Query<TokenQuery>) -> Response {
    page_result(do_verify(&st, &meta, q.token.as_deref()).await)
}

async fn do_verify(st: &AppState, meta: &Meta, token: Option<&str>) -> Result<Response, ApiError> {
    let now = st.clock.now();
    let hash = idseal_oauth::token::sha256_hex(token.unwrap_or(""));
    match st.store.verify_email(&hash, now).await.map_err(ApiError::internal)? {
        Some(account_id) => {
            let ev = AuditEvent::new(AuditEventKind::EmailVerify, now, account_id.clone()).subject(account_id);
            oidc::audit(st, meta, ev).await?;
            Ok(Page::new("Email verified", "<p>Your email address is verified. <a href=\"/account\">Continue</a></p>")
                .into_response())
        }
        None => Ok(Page::error(StatusCode::BAD_REQUEST, "Link not valid", "This link is invalid, used or expired.")
            .into_response()),
    }
}
