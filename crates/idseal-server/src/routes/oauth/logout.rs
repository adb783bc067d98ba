//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at `/oauth/logout`.
//!
//! With a valid `id_token_hint` for the signed-in user the session ends at once; otherwise the
//! user confirms with a CSRF-protected form, so that a third-party page cannot sign them out.
//! `post_logout_redirect_uri` is followed only when registered exactly for the client.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use idseal_oauth::client::Client;
use idseal_types::{AuditEvent, AuditEventKind};
use serde_json::Value;

use crate::error::ApiError;
use crate::oidc;
use crate::state::AppState;
use crate::web::{self, Meta, Page, SESSION_COOKIE, field, form_pairs, hidden, page_result};

/// `GET /oauth/logout`.
#[utoipa::path(
    get, path = "/oauth/logout", tag = "oauth",
    responses((status = 302, description = "To the registered post_logout_redirect_uri"), (status = 200, description = "HTML page", content_type = "text/html"), (status = 400, description = "HTML error page", content_type = "text/html"))
)]
pub async fn logout_get(State(st): State<AppState>, meta: Meta, RawQuery(q): RawQuery) -> Response {
    page_result(run(&st, &meta, q.as_deref().unwrap_or("").as_bytes(), false).await)
}

/// `POST /oauth/logout` (form: the same parameters, plus `csrf` when confirming).
#[utoipa::path(
    post, path = "/oauth/logout", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "HTML form fields with `csrf`"),
    responses((status = 302, description = "To the registered post_logout_redirect_uri"), (status = 200, description = "HTML page", content_type = "text/html"), (status = 400, description = "HTML error page", content_type = "text/html"))
)]
pub async fn logout_post(State(st): State<AppState>, meta: Meta, headers: HeaderMap, body: Bytes) -> Response {
    if !web::is_form(&headers) {
        return Page::error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Sign-out refused", "Expected a form.").into_response();
    }
    page_result(run(&st, &meta, &body, true).await)
}

async fn run(st: &AppState, meta: &Meta, params: &[u8], posted: bool) -> Result<Response, ApiError> {
    let bad = |m: &str| Ok(Page::error(StatusCode::BAD_REQUEST, "Sign-out refused", m).into_response());
    let pairs = match form_pairs(params) {
        Ok(p) => p,
        Err(e) => return bad(&e),
    };
    let session = oidc::current_session(st, meta).await?;
    // The hint's signature is checked; its expiry is not (it is usually expired by now).
    let hint = match field(&pairs, "id_token_hint") {
        Some(t) => match idseal_oauth::jwt::verify(
            t,
            st.key_ring().verifying_keys(),
            // An ID token, not an access token (which carries the same `aud` and `sub`).
            Some("JWT"),
            &st.settings.issuer,
            st.clock.now(),
            false,
        ) {
            Ok(v) => Some(v.claims),
            Err(_) => return bad("id_token_hint is not an ID token of this provider"),
        },
        None => None,
    };
    let hint_aud = hint.as_ref().and_then(|c| c.get("aud")).and_then(Value::as_str);
    let client_id = match (field(&pairs, "client_id"), hint_aud) {
        (Some(a), Some(b)) if a != b => return bad("client_id does not match id_token_hint"),
        (Some(a), _) => Some(a),
        (None, b) => b,
    };
    let client: Option<Client> = match client_id {
        Some(id) => match oidc::load_client(st, id).await? {
            Some(c) => Some(c),
            None => return bad("unknown client"),
        },
        None => None,
    };
    let redirect = match field(&pairs, "post_logout_redirect_uri") {
        Some(uri) => match &client {
            Some(c) if c.post_logout_redirect_uris.iter().any(|u| u == uri) => Some(uri.to_owned()),
            _ => return bad("post_logout_redirect_uri is not registered for this client"),
        },
        None => None,
    };
    let state = field(&pairs, "state").filter(|s| s.len() <= 512);
    if let Some(s) = &session {
        let hinted_user = match (&hint, &client) {
            (Some(h), Some(c)) => {
                h.get("sub").and_then(Value::as_str) == Some(&oidc::subject_for(st, c, &s.account_id))
            }
            _ => false,
        };
        let confirmed = posted && oidc::csrf_ok(st, meta, Some(s), field(&pairs, "csrf"));
        if !hinted_user && !confirmed {
            return confirm_page(st, meta, s, &pairs, client.as_ref());
        }
        let now = st.clock.now();
        if st.store.revoke_session(&s.account_id, &s.id, now).await.map_err(ApiError::internal)? {
            let ev = AuditEvent::new(AuditEventKind::Logout, now, s.account_id.clone())
                .subject(s.account_id.clone())
                .details(
                    serde_json::json!({"session": s.id, "client_id": client.as_ref().map(|c| c.client_id.clone())}),
                );
            oidc::audit(st, meta, ev).await?;
        }
    }
    let clear = vec![web::clear_cookie(SESSION_COOKIE)];
    match redirect {
        Some(uri) => {
            let params: Vec<(&str, &str)> = state.map(|s| vec![("state", s)]).unwrap_or_default();
            Ok(web::redirect(StatusCode::FOUND, &idseal_oauth::authorize::redirect_with(&uri, &params), clear))
        }
        None => {
            let mut r = Page::new("Signed out", "<p>You are signed out.</p>").into_response();
            for c in clear {
                r.headers_mut().append(axum::http::header::SET_COOKIE, c);
            }
            Ok(r)
        }
    }
}

fn confirm_page(
    st: &AppState,
    meta: &Meta,
    s: &idseal_store::SessionRow,
    pairs: &[(String, String)],
    client: Option<&Client>,
) -> Result<Response, ApiError> {
    let (binding, _) = oidc::csrf_binding(meta, Some(s))?;
    let keep: String = pairs
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "id_token_hint" | "client_id" | "post_logout_redirect_uri" | "state"))
        .map(|(k, v)| hidden(k, v))
        .collect();
    let who = client.map(|c| format!(" from {}", web::esc(&c.name))).unwrap_or_default();
    let body = format!(
        "<p>Sign out{who}?</p><form method=\"post\" action=\"/oauth/logout\">{}{keep}<button type=\"submit\">Sign out</button></form>",
        hidden("csrf", &oidc::csrf_token(st, &binding))
    );
    Ok(Page::new("Sign out", body).into_response())
}
