//! The authorization endpoint (RFC 6749 §4.1, OAuth 2.1, OIDC Core §3.1.2) and the consent
//! decision. Errors reach the client's redirect URI only once the client and the redirect URI
//! are known to be valid; before that the browser gets an error page (no open redirector).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use idseal_oauth::OAuthError;
use idseal_oauth::authorize::{self, AuthorizationRequest, AuthorizeFailure, ValidatedAuthorization};
use idseal_oauth::client::Client;
use idseal_oauth::scope::ScopeSet;
use idseal_store::{CodeRow, SessionRow};
use idseal_types::{AuditEvent, AuditEventKind};

use crate::error::ApiError;
use crate::oidc::{self, random};
use crate::state::AppState;
use crate::web::{self, Meta, Page, esc, field, form_pairs, hidden, page_result};

/// eIDAS level-of-assurance URIs (design.md "OAuth 2.1": the `acr` of passwordless logins).
const EIDAS_LOA: [&str; 3] =
    ["http://eidas.europa.eu/LoA/low", "http://eidas.europa.eu/LoA/substantial", "http://eidas.europa.eu/LoA/high"];

/// `GET /oauth/authorize`.
#[utoipa::path(
    get, path = "/oauth/authorize", tag = "oauth",
    responses((status = 302, description = "To the client with `code`, `state`, `iss`, or with an RFC 6749 error"), (status = 303, description = "Redirect"), (status = 200, description = "HTML page", content_type = "text/html"), (status = 400, description = "HTML error page", content_type = "text/html"))
)]
pub async fn authorize(State(st): State<AppState>, meta: Meta, RawQuery(q): RawQuery) -> Response {
    page_result(run(&st, &meta, q.as_deref().unwrap_or(""), None).await)
}

/// `POST /oauth/authorize`: the same request as a form (OIDC Core §3.1.2.1).
#[utoipa::path(
    post, path = "/oauth/authorize", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "The authorization request"),
    responses((status = 302, description = "As for GET"), (status = 303, description = "To the login page"),
              (status = 200, description = "Consent page", content_type = "text/html"),
              (status = 400, description = "HTML error page", content_type = "text/html"))
)]
pub async fn authorize_post(
    State(st): State<AppState>,
    meta: Meta,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !web::is_form(&headers) {
        return Page::error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Sign-in request refused", "Expected a form.")
            .into_response();
    }
    match std::str::from_utf8(&body) {
        Ok(q) => page_result(run(&st, &meta, q, None).await),
        Err(_) => {
            Page::error(StatusCode::BAD_REQUEST, "Sign-in request refused", "The form is not UTF-8.").into_response()
        }
    }
}

/// `POST /oauth/authorize/decision`: the consent form's answer (`decision` = `allow` or `deny`,
/// the original request in `request`, and `csrf`).
#[utoipa::path(
    post, path = "/oauth/authorize/decision", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "HTML form fields with `csrf`"),
    responses((status = 302, description = "To the client with `code` or `access_denied`"), (status = 403, description = "CSRF token missing or wrong (HTML)", content_type = "text/html"))
)]
pub async fn decision(State(st): State<AppState>, meta: Meta, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    page_result(decide(&st, &meta, &headers, &body).await)
}

async fn decide(st: &AppState, meta: &Meta, headers: &HeaderMap, body: &[u8]) -> Result<Response, ApiError> {
    if !web::is_form(headers) {
        return Ok(
            Page::error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Request refused", "Expected a form.").into_response()
        );
    }
    let pairs = match form_pairs(body) {
        Ok(p) => p,
        Err(e) => return Ok(Page::error(StatusCode::BAD_REQUEST, "Request refused", &e).into_response()),
    };
    let session = oidc::current_session(st, meta).await?;
    if session.is_none() || !oidc::csrf_ok(st, meta, session.as_ref(), field(&pairs, "csrf")) {
        return Ok(Page::error(
            StatusCode::FORBIDDEN,
            "Request refused",
            "This form has expired or did not come from this site. Go back to the application and start again.",
        )
        .into_response());
    }
    let allow = match field(&pairs, "decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => return Ok(Page::error(StatusCode::BAD_REQUEST, "Request refused", "No decision.").into_response()),
    };
    run(st, meta, field(&pairs, "request").unwrap_or(""), Some(allow)).await
}

/// The whole authorization request, with the consent decision when the form gave one.
async fn run(st: &AppState, meta: &Meta, query: &str, decision: Option<bool>) -> Result<Response, ApiError> {
    let pairs = match form_pairs(query.as_bytes()) {
        Ok(p) => p,
        Err(e) => return Ok(Page::error(StatusCode::BAD_REQUEST, "Sign-in request refused", &e).into_response()),
    };
    let req = parse_request(&pairs);
    let client = match &req.client_id {
        Some(id) => oidc::load_client(st, id).await?,
        None => None,
    };
    let (client, v) = match (client, authorize::validate(&req, None)) {
        // `validate` with no client reports the first error that does not need one.
        (None, Err(AuthorizeFailure::Show(e) | AuthorizeFailure::Redirect { error: e, .. })) => {
            return Ok(Page::error(StatusCode::BAD_REQUEST, "Sign-in request refused", e.description()).into_response());
        }
        (None, Ok(_)) => {
            return Ok(
                Page::error(StatusCode::BAD_REQUEST, "Sign-in request refused", "unknown client").into_response()
            );
        }
        (Some(c), _) => match authorize::validate(&req, Some(&c)) {
            Ok(v) => (c, v),
            Err(AuthorizeFailure::Show(e)) => {
                return Ok(
                    Page::error(StatusCode::BAD_REQUEST, "Sign-in request refused", e.description()).into_response()
                );
            }
            Err(AuthorizeFailure::Redirect { redirect_uri, state, error }) => {
                return Ok(error_redirect(st, &redirect_uri, state.as_deref(), &error));
            }
        },
    };
    if needs_phone(&v) {
        // Identity claims and eIDAS levels come only from a phone login approved for this
        // request (docs/passwordless.md, "OIDC"): the sign-in page, phone form first.
        if v.prompt.none {
            let e = OAuthError::LoginRequired("this request needs an approval on the phone".into());
            return Ok(error_redirect(st, &v.redirect_uri, v.state.as_deref(), &e));
        }
        let again = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter().filter(|(k, _)| k != LOGIN_AFTER).map(|(k, v)| (k.as_str(), v.as_str())))
            .finish();
        let return_to = format!("/oauth/authorize?{again}");
        let login = format!(
            "/login?{}",
            form_urlencoded::Serializer::new(String::new()).append_pair("return_to", &return_to).finish()
        );
        return Ok(web::see_other(&login, Vec::new()));
    }
    let now = st.clock.now();
    let session = oidc::current_session(st, meta).await?;
    // After a login this request demanded (`prompt=login`, `max_age`), `login_after` carries the
    // time of the demand under our MAC: the session must be from a login at or after it.
    let login_after = field(&pairs, LOGIN_AFTER).and_then(|v| check_login_after(st, &client.client_id, v));
    let fresh_enough = |s: &SessionRow| match login_after {
        Some(t) => s.auth_time.as_secs() >= t,
        None => {
            !v.prompt.login
                && v.max_age.is_none_or(|max| {
                    now.as_secs().saturating_sub(s.auth_time.as_secs()) <= i64::try_from(max).unwrap_or(i64::MAX)
                })
        }
    };
    let session = match session {
        Some(s) if fresh_enough(&s) => s,
        _ => {
            if v.prompt.none {
                let e = OAuthError::LoginRequired("the user is not signed in".into());
                return Ok(error_redirect(st, &v.redirect_uri, v.state.as_deref(), &e));
            }
            let mut again = form_urlencoded::Serializer::new(String::new());
            again.extend_pairs(pairs.iter().filter(|(k, _)| k != LOGIN_AFTER).map(|(k, v)| (k.as_str(), v.as_str())));
            if v.prompt.login || v.max_age.is_some() {
                again.append_pair(LOGIN_AFTER, &login_after_value(st, &client.client_id, now.as_secs()));
            }
            let return_to = format!("/oauth/authorize?{}", again.finish());
            let login = format!(
                "/login?{}",
                form_urlencoded::Serializer::new(String::new()).append_pair("return_to", &return_to).finish()
            );
            return Ok(web::see_other(&login, Vec::new()));
        }
    };
    let Some(account) = st.store.account(&session.account_id).await.map_err(ApiError::internal)? else {
        let e = OAuthError::LoginRequired("the account no longer exists".into());
        return Ok(error_redirect(st, &v.redirect_uri, v.state.as_deref(), &e));
    };
    let remembered = st
        .store
        .consent(&account.id, &client.client_id)
        .await
        .map_err(ApiError::internal)?
        .and_then(|s| ScopeSet::parse(&s).ok())
        .unwrap_or_default();
    match decision {
        Some(false) => {
            let e = OAuthError::AccessDenied("the user denied the request".into());
            return Ok(error_redirect(st, &v.redirect_uri, v.state.as_deref(), &e));
        }
        Some(true) => {
            let granted = remembered.union(&v.scope);
            st.store
                .grant_consent(&account.id, &client.client_id, &granted.to_string(), now)
                .await
                .map_err(ApiError::internal)?;
            let ev = AuditEvent::new(AuditEventKind::ConsentGrant, now, account.id.clone())
                .subject(account.id.clone())
                .details(serde_json::json!({"client_id": client.client_id, "scope": v.scope.to_string()}));
            oidc::audit(st, meta, ev).await?;
        }
        None if v.prompt.consent || !v.scope.is_subset(&remembered) => {
            if v.prompt.none {
                let e = OAuthError::ConsentRequired("the user has not consented to these scopes".into());
                return Ok(error_redirect(st, &v.redirect_uri, v.state.as_deref(), &e));
            }
            return consent_page(st, meta, &session, &client, &v, query, &account.email);
        }
        None => {}
    }
    issue_code(st, &client, &v, &session, None).await
}

/// Whether the request can only be answered after a phone login: it asks for identity claims
/// or an eIDAS level of assurance.
pub fn needs_phone(v: &ValidatedAuthorization) -> bool {
    v.scope.iter().any(|s| s.starts_with("identity:")) || v.acr_values.iter().any(|a| EIDAS_LOA.contains(&a.as_str()))
}

/// The authorization request behind a sign-in page's `return_to` (its query), validated again:
/// the client, the redirect URI and every parameter. `Err` is a message for an error page.
pub async fn revalidate(st: &AppState, query: &str) -> Result<(Client, ValidatedAuthorization), String> {
    let pairs = form_pairs(query.as_bytes())?;
    let req = parse_request(&pairs);
    let Some(id) = &req.client_id else { return Err("unknown client".into()) };
    let client = oidc::load_client(st, id).await.map_err(|_| "the request cannot be checked now".to_owned())?;
    let Some(client) = client else { return Err("unknown client".into()) };
    match authorize::validate(&req, Some(&client)) {
        Ok(v) => Ok((client, v)),
        Err(AuthorizeFailure::Show(e) | AuthorizeFailure::Redirect { error: e, .. }) => Err(e.description().to_owned()),
    }
}

/// An approved phone login, as the browser collected it.
#[derive(Debug)]
pub struct PhoneLogin {
    /// The eIDAS level of the seal.
    pub acr: Option<String>,
    /// The granted identity claims.
    pub claims: serde_json::Value,
    /// The granted identity scopes (space-separated).
    pub granted: String,
    /// When the phone approved.
    pub auth_time: idseal_types::UnixTime,
}

/// Completes the authorization request after a phone login: the consent the user gave on the
/// phone is recorded, and the code carries the granted scopes, `acr`, `amr` and the identity
/// claims (sealed).
pub async fn finish_phone_login(
    st: &AppState,
    meta: &Meta,
    client: &Client,
    v: &ValidatedAuthorization,
    session: &SessionRow,
    login: &PhoneLogin,
    cookies: Vec<axum::http::HeaderValue>,
) -> Result<Response, ApiError> {
    // The identity scopes exactly as granted on the phone (they may narrow the request, e.g.
    // `identity:given_name` for `identity:name`), `openid`, and the other requested scopes only
    // where the user consented to them before: the phone showed the identity scopes only.
    let remembered = st
        .store
        .consent(&session.account_id, &client.client_id)
        .await
        .map_err(ApiError::internal)?
        .and_then(|s| ScopeSet::parse(&s).ok())
        .unwrap_or_default();
    let scope: ScopeSet = v
        .scope
        .iter()
        .filter(|s| *s == "openid" || (!s.starts_with("identity:") && remembered.contains(s)))
        .map(str::to_owned)
        .chain(login.granted.split_whitespace().map(str::to_owned))
        .collect();
    let now = st.clock.now();
    st.store
        .grant_consent(&session.account_id, &client.client_id, &remembered.union(&scope).to_string(), now)
        .await
        .map_err(ApiError::internal)?;
    let ev = AuditEvent::new(AuditEventKind::ConsentGrant, now, session.account_id.clone())
        .subject(session.account_id.clone())
        .details(serde_json::json!({"client_id": client.client_id, "scope": scope.to_string(), "via": "phone"}));
    oidc::audit(st, meta, ev).await?;
    let released = serde_json::json!({"scopes": login.granted, "claims": login.claims});
    let sealed = st.x1280.seal(
        &crate::x1280::identity_purpose(&client.client_id, &session.account_id),
        released.to_string().as_bytes(),
    )?;
    let issued = IssuedFrom {
        acr: login.acr.clone(),
        amr: Some(idseal_x1280::session::AMR.join(" ")),
        identity_sealed: Some(sealed),
        auth_time: login.auth_time,
    };
    let v = ValidatedAuthorization { scope, ..v.clone() };
    let mut r = issue_code(st, client, &v, session, Some(issued)).await?;
    for c in cookies {
        r.headers_mut().append(axum::http::header::SET_COOKIE, c);
    }
    Ok(r)
}

/// What a code records about the login behind it, when it is not a password session.
struct IssuedFrom {
    acr: Option<String>,
    amr: Option<String>,
    identity_sealed: Option<Vec<u8>>,
    auth_time: idseal_types::UnixTime,
}

/// The parameter that marks a request sent to the login page because it demanded a fresh login.
const LOGIN_AFTER: &str = "login_after";

/// `<unix seconds>.<MAC>`, the MAC binding the time to the client (a CSRF-key HMAC under its own
/// binding prefix, so it can never pass as a CSRF token or the other way round).
fn login_after_value(st: &AppState, client_id: &str, at: i64) -> String {
    format!("{at}.{}", oidc::csrf_token(st, &format!("la:{client_id}:{at}")))
}

/// The time in a `login_after` value, when its MAC is ours for this client.
fn check_login_after(st: &AppState, client_id: &str, v: &str) -> Option<i64> {
    let (at, mac) = v.split_once('.')?;
    let t: i64 = at.parse().ok()?;
    idseal_oauth::csrf::check(&st.oidc.csrf, &format!("la:{client_id}:{t}"), mac).then_some(t)
}

/// The request's parameters as the core reads them (later values cannot exist: repeats were
/// refused).
fn parse_request(pairs: &[(String, String)]) -> AuthorizationRequest {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    AuthorizationRequest {
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        response_type: get("response_type"),
        scope: get("scope"),
        state: get("state"),
        nonce: get("nonce"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        prompt: get("prompt"),
        max_age: get("max_age"),
        response_mode: get("response_mode"),
        acr_values: get("acr_values"),
        login_hint: get("login_hint"),
        request: get("request"),
        request_uri: get("request_uri"),
    }
}

async fn issue_code(
    st: &AppState,
    client: &Client,
    v: &ValidatedAuthorization,
    session: &SessionRow,
    from: Option<IssuedFrom>,
) -> Result<Response, ApiError> {
    let now = st.clock.now();
    let code = idseal_oauth::token::opaque("", &random()?);
    let row = CodeRow {
        code_hash: idseal_oauth::token::sha256_hex(&code),
        client_id: client.client_id.clone(),
        account_id: session.account_id.clone(),
        session_id: Some(session.id.clone()),
        redirect_uri: v.redirect_uri.clone(),
        scope: v.scope.to_string(),
        nonce: v.nonce.clone(),
        code_challenge: v.code_challenge.clone(),
        auth_time: from.as_ref().map_or(session.auth_time, |f| f.auth_time),
        acr: from.as_ref().and_then(|f| f.acr.clone()),
        amr: Some(from.as_ref().and_then(|f| f.amr.clone()).unwrap_or_else(|| "pwd".into())),
        identity_sealed: from.and_then(|f| f.identity_sealed),
        created_at: now,
        expires_at: now.saturating_add(std::time::Duration::from_secs(st.settings.config.oauth.code_secs)),
    };
    st.store.insert_code(&row).await.map_err(ApiError::internal)?;
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = &v.state {
        params.push(("state", s));
    }
    params.push(("iss", &st.settings.issuer));
    Ok(web::redirect(StatusCode::FOUND, &authorize::redirect_with(&v.redirect_uri, &params), Vec::new()))
}

/// Send an error to the (validated) redirect URI, with `state` and `iss` (RFC 9207).
pub fn error_redirect(st: &AppState, redirect_uri: &str, state: Option<&str>, e: &OAuthError) -> Response {
    let mut params = vec![("error", e.code()), ("error_description", e.description())];
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", &st.settings.issuer));
    web::redirect(StatusCode::FOUND, &authorize::redirect_with(redirect_uri, &params), Vec::new())
}

fn scope_label(s: &str) -> &str {
    match s {
        "openid" => "Know who you are (a stable identifier for this application)",
        "profile" => "Your name",
        "email" => "Your email address and whether it is verified",
        "offline_access" => "Stay connected when you are not using it (refresh tokens)",
        other => other,
    }
}

fn consent_page(
    st: &AppState,
    meta: &Meta,
    session: &SessionRow,
    client: &Client,
    v: &ValidatedAuthorization,
    query: &str,
    email: &str,
) -> Result<Response, ApiError> {
    let (binding, _) = oidc::csrf_binding(meta, Some(session))?;
    let items: String = v.scope.iter().map(|s| format!("<li>{}</li>", esc(scope_label(s)))).collect();
    let host = idseal_oauth::subject::sector_of(&v.redirect_uri).unwrap_or_default();
    let body = format!(
        "<p><strong>{name}</strong> ({host}) asks to:</p><ul>{items}</ul>\
         <p class=\"muted\">Signed in as {email}. You can withdraw this at any time from your account page.</p>\
         <form method=\"post\" action=\"/oauth/authorize/decision\">{csrf}{req}\
         <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button> \
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
        name = esc(&client.name),
        host = esc(&host),
        email = esc(email),
        csrf = hidden("csrf", &oidc::csrf_token(st, &binding)),
        req = hidden("request", query),
    );
    Ok(Page::new("Allow access?", body).into_response())
}
