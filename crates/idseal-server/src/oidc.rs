//! What the OAuth and account handlers share: derived secrets, clients as the core sees them,
//! subjects, browser sessions, CSRF bindings, rate limits and audit events.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::http::HeaderValue;
use idseal_keys::{Algorithm, MasterKey};
use idseal_oauth::client::{AuthMethod, Client, GrantType, SubjectType};
use idseal_oauth::scope::ScopeSet;
use idseal_oauth::session::SessionClaims;
use idseal_ratelimit::{Decision, KeyKind};
use idseal_store::{ClientRow, SessionRow};
use idseal_types::{AuditEvent, AuditSink, UnixTime};
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::state::AppState;
use crate::web::{self, CSRF_COOKIE, Meta, SESSION_COOKIE};

/// Secrets the provider derives from the master key, one per purpose.
pub struct OidcSecrets {
    /// HS256 key of session cookies.
    pub session: Zeroizing<[u8; 32]>,
    /// HMAC key of CSRF tokens.
    pub csrf: Zeroizing<[u8; 32]>,
    /// HMAC key of pairwise subjects.
    pub pairwise: Zeroizing<[u8; 32]>,
    /// An argon2id hash of nothing, verified for unknown accounts so that timing does not tell
    /// which emails exist.
    pub dummy_hash: String,
}

impl std::fmt::Debug for OidcSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OidcSecrets(<redacted>)")
    }
}

impl OidcSecrets {
    /// Derive every secret from the master key.
    pub fn derive(master: &MasterKey, argon2: &idseal_oauth::password::Argon2Params) -> Self {
        Self {
            session: master.derive("idseal/session-cookie"),
            csrf: master.derive("idseal/csrf"),
            pairwise: master.derive("idseal/oidc-pairwise"),
            dummy_hash: idseal_oauth::password::dummy_hash(argon2),
        }
    }
}

/// `N` random bytes from the system generator.
pub fn random<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut b = [0u8; N];
    SystemRandom::new().fill(&mut b).map_err(|_| ApiError::internal("no randomness"))?;
    Ok(b)
}

/// A stored client as the core sees it. A row that does not parse is corrupt: 500.
pub fn client_from_row(r: ClientRow) -> Result<Client, ApiError> {
    let bad = |what: &str| ApiError::internal(format!("client {}: stored {what} is invalid", r.client_id));
    let grant_types = r
        .grant_types
        .iter()
        .map(|g| GrantType::parse(g).ok_or_else(|| bad("grant type")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Client {
        scopes: ScopeSet::parse(&r.scopes).map_err(|_| bad("scope"))?,
        auth_method: AuthMethod::parse(&r.auth_method).ok_or_else(|| bad("auth method"))?,
        id_token_alg: r.id_token_alg.parse::<Algorithm>().map_err(|_| bad("algorithm"))?,
        subject_type: SubjectType::parse(&r.subject_type).ok_or_else(|| bad("subject type"))?,
        grant_types,
        client_id: r.client_id,
        name: r.name,
        secret_hash: r.secret_hash,
        redirect_uris: r.redirect_uris,
        post_logout_redirect_uris: r.post_logout_redirect_uris,
        sector: r.sector,
    })
}

/// A client as a row to store.
pub fn client_to_row(c: &Client, dynamic: bool, now: UnixTime) -> ClientRow {
    ClientRow {
        client_id: c.client_id.clone(),
        name: c.name.clone(),
        secret_hash: c.secret_hash.clone(),
        redirect_uris: c.redirect_uris.clone(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        scopes: c.scopes.to_string(),
        auth_method: c.auth_method.as_str().to_owned(),
        grant_types: c.grant_types.iter().map(|g| g.as_str().to_owned()).collect(),
        id_token_alg: c.id_token_alg.as_str().to_owned(),
        subject_type: c.subject_type.as_str().to_owned(),
        sector: c.sector.clone(),
        dynamic,
        created_at: now,
    }
}

/// The client with this id, if registered.
pub async fn load_client(st: &AppState, client_id: &str) -> Result<Option<Client>, ApiError> {
    if client_id.is_empty() || client_id.len() > 128 {
        return Ok(None);
    }
    match st.store.client(client_id).await.map_err(ApiError::internal)? {
        Some(r) => client_from_row(r).map(Some),
        None => Ok(None),
    }
}

/// The `sub` this client sees for an account: pairwise unless the client is public.
pub fn subject_for(st: &AppState, client: &Client, account_id: &str) -> String {
    match client.subject_type {
        SubjectType::Public => account_id.to_owned(),
        SubjectType::Pairwise => idseal_oauth::subject::pairwise(&st.oidc.pairwise, &client.sector, account_id),
    }
}

/// Count one attempt against the named policy; `Err` is the 429 to answer. A policy missing
/// from the configuration is not applied. Fails closed when the counters cannot be read.
pub async fn limit(st: &AppState, policy: &str, kind: KeyKind, value: &str) -> Result<(), ApiError> {
    let Some((p, _, _)) = st.settings.policies.get(policy) else { return Ok(()) };
    match idseal_ratelimit::check(&st.store, &st.bucket_key, p, kind, value, st.clock.now()).await {
        Ok(Decision::Allowed { .. }) => Ok(()),
        Ok(Decision::Limited { retry_after, new_lockout, .. }) => {
            st.metrics.rate_limited.get_or_create(&crate::metrics::PolicyLabels { policy: policy.to_owned() }).inc();
            if new_lockout {
                crate::audit::lockout(st, policy, None).await;
            }
            Err(ApiError::TooManyRequests { retry_after: retry_after.as_secs().max(1) })
        }
        Err(e) => Err(ApiError::Unavailable(format!("rate-limit store: {e}"))),
    }
}

/// Whether the named policy lets `value` try now, without counting the try (see
/// `idseal_ratelimit::peek`); `Err` is the 429 to answer. A try refused because a window is
/// full is counted, so that the policy's lockout ladder starts as it would with [`limit`].
/// Fails closed.
pub async fn limit_peek(st: &AppState, policy: &str, kind: KeyKind, value: &str) -> Result<(), ApiError> {
    let Some((p, _, _)) = st.settings.policies.get(policy) else { return Ok(()) };
    match idseal_ratelimit::peek(&st.store, &st.bucket_key, p, kind, value, st.clock.now()).await {
        Ok(Decision::Allowed { .. }) => Ok(()),
        Ok(Decision::Limited { locked: false, .. }) => match limit(st, policy, kind, value).await {
            Ok(()) => Err(ApiError::TooManyRequests { retry_after: 1 }),
            Err(e) => Err(e),
        },
        Ok(Decision::Limited { retry_after, .. }) => {
            st.metrics.rate_limited.get_or_create(&crate::metrics::PolicyLabels { policy: policy.to_owned() }).inc();
            Err(ApiError::TooManyRequests { retry_after: retry_after.as_secs().max(1) })
        }
        Err(e) => Err(ApiError::Unavailable(format!("rate-limit store: {e}"))),
    }
}

/// Record an audit event with the request's context; the action is not reported done unless
/// this succeeds.
pub async fn audit(st: &AppState, meta: &Meta, ev: AuditEvent) -> Result<(), ApiError> {
    let ev = ev.request(meta.ip, meta.user_agent.clone());
    st.store.record(&ev).await.map_err(ApiError::internal)
}

/// The browser's live session: the cookie verifies and its row exists, is not revoked and has
/// not expired.
pub async fn current_session(st: &AppState, meta: &Meta) -> Result<Option<SessionRow>, ApiError> {
    let Some(cookie) = meta.cookies.get(SESSION_COOKIE) else { return Ok(None) };
    let now = st.clock.now();
    let Ok(claims) = idseal_oauth::session::verify(&st.oidc.session, cookie, now) else { return Ok(None) };
    let Some(row) = st.store.session(&claims.sid).await.map_err(ApiError::internal)? else { return Ok(None) };
    if row.revoked_at.is_some() || row.expires_at <= now || row.account_id != claims.sub {
        return Ok(None);
    }
    st.store.touch_session(&row.id, now).await.map_err(ApiError::internal)?;
    Ok(Some(row))
}

/// Start a session for `account_id`: the row and the cookie that names it.
pub async fn create_session(
    st: &AppState,
    meta: &Meta,
    account_id: &str,
) -> Result<(SessionRow, HeaderValue), ApiError> {
    let now = st.clock.now();
    let ttl = st.settings.config.oauth.session_hours * 3600;
    let row = SessionRow {
        id: idseal_oauth::token::new_id(&random()?),
        account_id: account_id.to_owned(),
        ip: meta.ip.map(|i| i.to_string()),
        user_agent: meta.user_agent.clone(),
        created_at: now,
        last_seen: now,
        expires_at: now.saturating_add(std::time::Duration::from_secs(ttl)),
        auth_time: now,
        revoked_at: None,
    };
    st.store.insert_session(&row).await.map_err(ApiError::internal)?;
    let claims = SessionClaims {
        sid: row.id.clone(),
        sub: account_id.to_owned(),
        iat: now.as_secs(),
        exp: row.expires_at.as_secs(),
        auth_time: now.as_secs(),
    };
    let token = idseal_oauth::session::issue(&st.oidc.session, &claims);
    Ok((row, web::set_cookie(SESSION_COOKIE, &token, "Lax", ttl)))
}

/// The CSRF binding of a browser: its session id when signed in, else its pre-session cookie
/// (a new one is returned to set when it has none).
pub fn csrf_binding(meta: &Meta, session: Option<&SessionRow>) -> Result<(String, Option<HeaderValue>), ApiError> {
    if let Some(s) = session {
        return Ok((format!("s:{}", s.id), None));
    }
    match meta.cookies.get(CSRF_COOKIE).filter(|v| v.len() == 43) {
        Some(v) => Ok((format!("p:{v}"), None)),
        None => {
            let v = idseal_oauth::token::opaque("", &random()?);
            Ok((format!("p:{}", v.as_str()), Some(web::set_cookie(CSRF_COOKIE, &v, "Strict", 86400))))
        }
    }
}

/// The CSRF token for a binding.
pub fn csrf_token(st: &AppState, binding: &str) -> String {
    idseal_oauth::csrf::token(&st.oidc.csrf, binding)
}

/// Whether `presented` is the CSRF token of this browser.
pub fn csrf_ok(st: &AppState, meta: &Meta, session: Option<&SessionRow>, presented: Option<&str>) -> bool {
    let binding = match session {
        Some(s) => format!("s:{}", s.id),
        None => match meta.cookies.get(CSRF_COOKIE) {
            Some(v) => format!("p:{v}"),
            None => return false,
        },
    };
    presented.is_some_and(|p| idseal_oauth::csrf::check(&st.oidc.csrf, &binding, p))
}

/// Normalise an email address for lookup: trimmed and lower-cased; `None` when it is not a
/// plausible address (one `@`, something on each side, at most 254 bytes, no spaces).
pub fn normalise_email(raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';'));
    ok.then_some(e)
}

/// SHA-256 (hex) of an email address, for audit details.
pub fn email_hash(email: &str) -> String {
    idseal_oauth::token::sha256_hex(email)
}

/// Verify a password against a stored argon2id hash off the async threads, at most
/// `password_slots` at a time (each hash holds `oauth.argon2.memory_kib` of memory).
pub async fn verify_password(st: &AppState, password: &str, phc: &str) -> Result<bool, ApiError> {
    let _slot = password_slot(st).await?;
    let (pw, phc) = (Zeroizing::new(password.to_owned()), phc.to_owned());
    tokio::task::spawn_blocking(move || idseal_oauth::password::verify(&pw, &phc))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// Hash a new password with the configured argon2id parameters (same bounds as verification).
pub async fn hash_password(st: &AppState, password: &str) -> Result<String, ApiError> {
    let _slot = password_slot(st).await?;
    let salt: [u8; 16] = random()?;
    let params = st.settings.config.oauth.argon2;
    let pw = Zeroizing::new(password.to_owned());
    tokio::task::spawn_blocking(move || idseal_oauth::password::hash(&pw, &salt, &params))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// A password-hashing slot, or 503 when none frees up within 5 s (the queue is deep: shed load
/// rather than let every sign-in wait behind a flood).
async fn password_slot(st: &AppState) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
    match tokio::time::timeout(std::time::Duration::from_secs(5), st.password_slots.acquire()).await {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(_)) => Err(ApiError::internal("password slots closed")),
        Err(_) => Err(ApiError::Unavailable("password hashing is saturated".into())),
    }
}
