//! "Sign in with your phone" (docs/passwordless.md, "OIDC"): the browser side of an X.1280
//! login for the OIDC provider and the account pages. No JavaScript: the waiting page refreshes
//! itself until the phone has answered.
//!
//! `POST /login/phone` starts a login session for the token id typed in, on behalf of the OAuth
//! client of the pending authorization request (the phone shows the client's name and origin and
//! the identity scopes it asks for), and binds the session to this browser with a random cookie
//! whose MAC is stored with the session. `GET /login/phone/wait` shows the code; once the phone
//! approves, the same browser (cookie) collects the result exactly once, gets a session, and
//! the authorization request completes with the claims the user granted on the phone.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use idseal_oauth::authorize::ValidatedAuthorization;
use idseal_oauth::client::Client;
use idseal_types::{AuditEvent, AuditEventKind};
use idseal_x1280::ScopeSet;
use serde::Deserialize;

use crate::error::ApiError;
use crate::oidc::{self, random};
use crate::routes::account::{posted_form, safe_return};
use crate::routes::oauth::authorize::{self as authz, PhoneLogin};
use crate::routes::x1280::auth::{check_token_id, usable_enrollment};
use crate::state::AppState;
use crate::web::{self, Meta, Page, esc, field, page_result};
use crate::x1280::{ServiceIdentity, start_session};

/// The cookie that ties a phone login to the browser that started it.
pub const PHONE_COOKIE: &str = "__Host-idseal_phone";

/// The form shown on the sign-in page.
pub fn form(csrf: &str, return_to: &str, note: Option<&str>) -> String {
    let note = note.map(|n| format!("<p>{}</p>", esc(n))).unwrap_or_default();
    format!(
        "<h2>Sign in with your phone</h2>{note}<form method=\"post\" action=\"/login/phone\">{csrf}{rt}\
         <label for=\"token_id\">Your IDToken id (shown in the app)</label>\
         <input id=\"token_id\" name=\"token_id\" autocomplete=\"username\" required \
         pattern=\"[0-9a-fA-F-]{{36}}\" size=\"40\">\
         <button type=\"submit\">Send a sign-in request to my phone</button></form>",
        rt = web::hidden("return_to", return_to),
    )
}

/// The MAC stored with the login session: it binds the session to this browser's cookie and to
/// the exact request it was started for (`return_to`), so that an approval cannot be collected
/// for another client or another authorization request.
fn binding_mac(st: &AppState, cookie: &str, return_to: &str) -> String {
    let request = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, return_to.as_bytes());
    let request: String = request.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let mac = idseal_x1280::ws_token(&st.x1280.binding, &format!("phone-binding|{cookie}|{request}"));
    format!("b2.{mac}")
}

/// The service id a phone login for `return_to` runs under.
fn service_id_for(pending: Option<&(Client, ValidatedAuthorization)>) -> String {
    pending.map_or_else(|| "idseal".to_owned(), |(c, _)| format!("oidc:{}", c.client_id))
}

fn error_page(title: &str, message: &str, retry: &str) -> Response {
    let body = format!("<p>{}</p><p><a href=\"{}\">Try again</a></p>", esc(message), esc(retry));
    Page::new(title, body).status(StatusCode::BAD_REQUEST).into_response()
}

fn login_link(return_to: &str) -> String {
    format!("/login?{}", form_urlencoded::Serializer::new(String::new()).append_pair("return_to", return_to).finish())
}

/// The authorization request behind `return_to`, validated again (it came through the browser).
async fn pending_request(st: &AppState, return_to: &str) -> Result<Option<(Client, ValidatedAuthorization)>, String> {
    let Some(query) = return_to.strip_prefix("/oauth/authorize?") else { return Ok(None) };
    authz::revalidate(st, query).await.map(Some)
}

/// Who asks, as the phone shows it: the OAuth client, or this server's own account pages.
fn service_for(st: &AppState, pending: Option<&(Client, ValidatedAuthorization)>) -> Result<ServiceIdentity, String> {
    match pending {
        Some((client, v)) => {
            let identity: Vec<String> =
                v.scope.iter().filter(|s| s.starts_with("identity:")).map(str::to_owned).collect();
            let ceiling = ScopeSet::parse(&identity).map_err(|e| e.to_string())?;
            let url = url::Url::parse(&v.redirect_uri)
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_else(|_| v.redirect_uri.clone());
            Ok(ServiceIdentity {
                id: service_id_for(pending),
                name: client.name.clone(),
                url,
                verified: false,
                defaults: ceiling.clone(),
                ceiling,
            })
        }
        None => Ok(ServiceIdentity {
            id: service_id_for(None),
            name: "Your account".into(),
            url: st.settings.issuer.clone(),
            verified: true,
            ceiling: ScopeSet::default(),
            defaults: ScopeSet::default(),
        }),
    }
}

/// `POST /login/phone`.
#[utoipa::path(post, path = "/login/phone", tag = "account",
    request_body(content_type = "application/x-www-form-urlencoded", description = "`token_id`, `return_to`, `csrf`"),
    responses((status = 303, description = "To the waiting page"), (status = 302, description = "To the client with access_denied (level of assurance too low)"),
              (status = 400, description = "HTML error page", content_type = "text/html"), (status = 403, description = "CSRF (HTML)", content_type = "text/html")))]
pub async fn start(State(st): State<AppState>, meta: Meta, headers: HeaderMap, body: Bytes) -> Response {
    let (pairs, _) = match posted_form(&st, &meta, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    page_result(start_inner(&st, &meta, &pairs).await)
}

async fn start_inner(st: &AppState, meta: &Meta, pairs: &[(String, String)]) -> Result<Response, ApiError> {
    let return_to = safe_return(field(pairs, "return_to"));
    let retry = login_link(&return_to);
    let Ok(token_id) = check_token_id(field(pairs, "token_id").unwrap_or("").trim()) else {
        return Ok(error_page(
            "Sign-in refused",
            "That is not a token id (it looks like 8-4-4-4-12 hex digits).",
            &retry,
        ));
    };
    let pending = match pending_request(st, &return_to).await {
        Ok(p) => p,
        Err(why) => return Ok(error_page("Sign-in refused", &why, "/account")),
    };
    let service = match service_for(st, pending.as_ref()) {
        Ok(s) => s,
        Err(why) => return Ok(error_page("Sign-in refused", &why, &retry)),
    };
    let enrollment = match usable_enrollment(st, &token_id).await {
        Ok(e) => e,
        Err(ApiError::Coded { description, .. }) => return Ok(error_page("Sign-in refused", &description, &retry)),
        Err(e) => return Err(e),
    };
    if let Some((_, v)) = &pending {
        // `acr_values`: the lowest level the client accepts is the minimum.
        let minimum = v.acr_values.iter().filter_map(|a| idseal_x1280::acr_rank(a)).min();
        if minimum.is_some_and(|m| i64::from(m) > enrollment.trust_level) {
            let e = idseal_oauth::OAuthError::AccessDenied("the credential's level of assurance is too low".into());
            return Ok(authz::error_redirect(st, &v.redirect_uri, v.state.as_deref(), &e));
        }
    }
    let cookie = B64.encode(random::<32>()?);
    let binding = binding_mac(st, &cookie, &return_to);
    let started = start_session(st, meta, &enrollment, &service, &service.defaults, Some(binding)).await?;
    let wait = format!(
        "/login/phone/wait?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("session", &started.row.session_id)
            .append_pair("return_to", &return_to)
            .finish()
    );
    let cookie = web::set_cookie(PHONE_COOKIE, &cookie, "Lax", 600);
    Ok(web::see_other(&wait, vec![cookie]))
}

/// Query of the waiting page.
#[derive(Debug, Deserialize)]
pub struct WaitQuery {
    session: String,
    return_to: Option<String>,
}

/// `GET /login/phone/wait`.
#[utoipa::path(get, path = "/login/phone/wait", tag = "account",
    params(("session" = String, Query, description = "The login session"), ("return_to" = Option<String>, Query, description = "Where to go after")),
    responses((status = 200, description = "The code, refreshing (HTML)", content_type = "text/html"),
              (status = 302, description = "To the client with a code"), (status = 303, description = "To the account page"),
              (status = 400, description = "Declined or expired (HTML)", content_type = "text/html"),
              (status = 403, description = "Another browser (HTML)", content_type = "text/html")))]
pub async fn wait(State(st): State<AppState>, meta: Meta, Query(q): Query<WaitQuery>) -> Response {
    page_result(wait_inner(&st, &meta, &q).await)
}

async fn wait_inner(st: &AppState, meta: &Meta, q: &WaitQuery) -> Result<Response, ApiError> {
    let return_to = safe_return(q.return_to.as_deref());
    let retry = login_link(&return_to);
    let foreign = || {
        Page::error(StatusCode::FORBIDDEN, "Sign-in refused", "This sign-in was started in another browser.")
            .into_response()
    };
    let Some(cookie) = meta.cookies.get(PHONE_COOKIE) else { return Ok(foreign()) };
    let mac = binding_mac(st, cookie, &return_to);
    if !idseal_x1280::is_session_id(&q.session) {
        return Ok(foreign());
    }
    let Some(row) = st.store.auth_session(&q.session).await.map_err(ApiError::internal)? else {
        return Ok(foreign());
    };
    let bound = row
        .browser_binding
        .as_deref()
        .is_some_and(|b| aws_lc_rs::constant_time::verify_slices_are_equal(b.as_bytes(), mac.as_bytes()).is_ok());
    if !bound {
        return Ok(foreign());
    }
    let now = st.clock.now();
    match row.status.as_str() {
        "pending" if row.expires_at > now => {
            let otp = crate::x1280::otp(st, &row)?;
            let left = row.expires_at.as_secs() - now.as_secs();
            let body = format!(
                "<p>We sent a sign-in request to your phone. Check that it shows this code:</p>\
                 <p class=\"code\" style=\"font-size:2.5em;letter-spacing:.2em\"><strong id=\"code\">{code}</strong></p>\
                 <p>Approve on your phone. This page updates by itself ({left} s left).</p>\
                 <p class=\"muted\">Requested by {name}. <a href=\"{retry}\">Cancel</a></p>",
                code = esc(otp.as_str()),
                name = esc(&row.service_name),
                retry = esc(&retry),
            );
            let mut resp = Page::new("Approve on your phone", body).into_response();
            resp.headers_mut().insert(header::REFRESH, HeaderValue::from_static("2"));
            Ok(resp)
        }
        "approved" => finish(st, meta, &row, &mac, &return_to).await,
        "rejected" => Ok(error_page("Sign-in declined", "The sign-in was declined on the phone.", &retry)),
        _ => Ok(error_page("Sign-in expired", "The phone did not answer in time.", &retry)),
    }
}

/// The approved login, collected once by the browser that started it.
async fn finish(
    st: &AppState,
    meta: &Meta,
    row: &idseal_store::AuthSessionRow,
    mac: &str,
    return_to: &str,
) -> Result<Response, ApiError> {
    let retry = login_link(return_to);
    // The request must still be valid and be the one the phone approved (the binding covers
    // `return_to`; the service id is checked again), and the identity must still be usable.
    let pending = match pending_request(st, return_to).await {
        Ok(p) => p,
        Err(why) => return Ok(error_page("Sign-in refused", &why, "/account")),
    };
    if row.service_id != service_id_for(pending.as_ref()) {
        return Ok(error_page("Sign-in refused", "This approval was for another application.", &retry));
    }
    if let Err(ApiError::Coded { description, .. }) = usable_enrollment(st, &row.token_id).await {
        return Ok(error_page("Sign-in refused", &description, &retry));
    }
    let now = st.clock.now();
    let taken = st.store.take_browser_result(&row.session_id, mac, now, crate::x1280::RESULT_COLLECT_SECS).await;
    let Some(sealed) = taken.map_err(ApiError::internal)? else {
        return Ok(error_page("Sign-in already used", "This sign-in has already been used.", &retry));
    };
    let result: serde_json::Value = st
        .x1280
        .open(&format!("result|{}", row.session_id), &sealed)
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or_else(|| ApiError::internal("sealed login result does not open"))?;
    let (session, cookie) = oidc::create_session(st, meta, &row.token_id).await?;
    let ev = AuditEvent::new(AuditEventKind::SessionCreate, st.clock.now(), row.token_id.clone())
        .subject(row.token_id.clone())
        .details(serde_json::json!({"method": "x1280", "login_session": row.session_id}));
    oidc::audit(st, meta, ev).await?;
    let clear = web::clear_cookie(PHONE_COOKIE);
    let Some((client, v)) = pending else {
        return Ok(web::see_other("/account", vec![cookie, clear]));
    };
    let login = PhoneLogin {
        acr: result.get("acr").and_then(|a| a.as_str()).map(str::to_owned),
        claims: result.get("claims").cloned().unwrap_or_default(),
        granted: result.get("granted").and_then(|g| g.as_str()).unwrap_or("").to_owned(),
        auth_time: row.resolved_at.unwrap_or(row.initiated_at),
    };
    authz::finish_phone_login(st, meta, &client, &v, &session, &login, vec![cookie, clear]).await
}
