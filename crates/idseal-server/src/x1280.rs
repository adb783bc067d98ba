//! Passwordless login (ITU-T X.1280, docs/passwordless.md): what the enrollment, login, socket
//! and admin handlers share. The protocol decisions are `idseal-x1280`'s; this module holds the
//! server's secrets for it, the trust-chain checks of identity and service seals, the start of
//! a login session (row, code, push) and the events that reach WebSockets on any instance.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, RandomizedNonceKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use idseal_keys::MasterKey;
use idseal_store::{AuthSessionRow, EnrollmentRow};
use idseal_types::{AuditEvent, AuditEventKind, UnixTime};
use idseal_x1280::{AutoPassword, MacKey, OtpSecret, ScopeSet, X1280Error};
use serde_json::json;

use crate::error::ApiError;
use crate::oidc::random;
use crate::state::AppState;
use crate::web::Meta;

/// Bus topic prefix of a login session's browser events.
pub const SESSION_TOPIC: &str = "session:";
/// Bus topic prefix of an enrolled device's channel.
pub const DEVICE_TOPIC: &str = "device:";
/// Seconds a login session lives.
const SESSION_TTL: u64 = 60;
/// Seconds the browser has to collect an approved OIDC login.
pub const RESULT_COLLECT_SECS: i64 = 300;

/// The keys of passwordless login, each derived from the master key under its own purpose.
pub struct X1280Secrets {
    /// The autoPassword master secret (HKDF input).
    pub otp: OtpSecret,
    /// wsToken MACs.
    pub ws: MacKey,
    /// Parent of the per-service response-hash keys.
    pub hash: MacKey,
    /// Browser-binding MACs of the phone login page.
    pub binding: MacKey,
    /// Seals events on the bus and identity claims kept with codes and grants.
    seal: RandomizedNonceKey,
}

impl std::fmt::Debug for X1280Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("X1280Secrets(<redacted>)")
    }
}

impl X1280Secrets {
    /// Derive every key from the master key.
    ///
    /// # Errors
    /// When the AEAD key cannot be built (never with a 32-byte key).
    pub fn derive(master: &MasterKey) -> Result<Self, String> {
        let seal = master.derive("idseal/x1280/seal/v1");
        Ok(Self {
            otp: OtpSecret::from_bytes(*master.derive("idseal/x1280/otp/v1")),
            ws: MacKey::from_bytes(*master.derive("idseal/x1280/ws/v1")),
            hash: MacKey::from_bytes(*master.derive("idseal/x1280/hash/v1")),
            binding: MacKey::from_bytes(*master.derive("idseal/x1280/binding/v1")),
            seal: RandomizedNonceKey::new(&AES_256_GCM, seal.as_ref()).map_err(|_| "AES-256-GCM key".to_owned())?,
        })
    }

    /// AES-256-GCM under the seal key: `nonce || ciphertext || tag`, `purpose` as associated data.
    ///
    /// # Errors
    /// Only if the AEAD fails (it does not for these sizes).
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<Vec<u8>, ApiError> {
        let mut buf = plaintext.to_vec();
        let nonce = self
            .seal
            .seal_in_place_append_tag(Aad::from(purpose.as_bytes()), &mut buf)
            .map_err(|_| ApiError::internal("AEAD seal failed"))?;
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Opens what [`Self::seal`] made under the same `purpose`; `None` when it was altered.
    pub fn open(&self, purpose: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce, ct) = sealed.split_at_checked(12)?;
        let nonce = aws_lc_rs::aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = ct.to_vec();
        let plain = self.seal.open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut buf).ok()?;
        Some(plain.to_vec())
    }
}

/// `ApiError` for a core refusal, at the status the product docs give.
pub fn core_error(e: &X1280Error) -> ApiError {
    ApiError::coded(e.status(), e.code(), e.to_string())
}

/// The RFC 3339 form of a time.
pub fn rfc3339(t: UnixTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(t.as_secs())
        .ok()
        .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// The trust anchors, or 503 when this server has none configured.
fn anchors(st: &AppState) -> Result<&idseal_trust::TrustAnchors, ApiError> {
    st.anchors.as_deref().ok_or_else(|| {
        ApiError::coded(503, "trust_not_configured", "this server has no trust anchors (trust.governance_location)")
    })
}

/// Verifies a seal through the chain of trust (warm cache). A refused seal is a 400 with the
/// step that refused it; lists that cannot be fetched are a 503.
pub async fn verify_seal(st: &AppState, text: &str, code: &'static str) -> Result<idseal_trust::ChainReport, ApiError> {
    if text.len() > 16 * 1024 {
        return Err(ApiError::coded(400, code, "the seal is too long"));
    }
    let anchors = anchors(st)?;
    match st.trust.verify_vds(anchors, text, st.clock.now(), &st.metrics, &st.store).await {
        Ok(r) => Ok(r),
        Err(idseal_trust::TrustError::Fetch { .. }) => {
            Err(ApiError::coded(503, "trust_unavailable", "the trust lists cannot be fetched; try again later"))
        }
        Err(e @ idseal_trust::TrustError::Revoked { .. }) => Err(ApiError::coded(403, "vds_revoked", e.to_string())),
        Err(e) => Err(ApiError::coded(400, code, e.to_string())),
    }
}

/// Who asks for a login, as the phone shows it.
#[derive(Clone, Debug)]
pub struct ServiceIdentity {
    /// Service id (`oidc:<client_id>` for OIDC clients).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Origin.
    pub url: String,
    /// Identified by a Service VDS that verified through the chain (or an admin-registered client).
    pub verified: bool,
    /// The most it may ask for.
    pub ceiling: ScopeSet,
    /// What it asks for when a request names no scopes.
    pub defaults: ScopeSet,
}

/// A login session that started.
#[derive(Debug)]
pub struct Started {
    /// The row as stored.
    pub row: AuthSessionRow,
    /// The code the browser shows.
    pub otp: AutoPassword,
    /// The browser's socket token.
    pub ws_token: String,
}

/// Starts a login session: the row (60 s), the code, the push to the phone, the audit entry.
pub async fn start_session(
    st: &AppState,
    meta: &Meta,
    enrollment: &EnrollmentRow,
    service: &ServiceIdentity,
    requested: &ScopeSet,
    browser_binding: Option<String>,
) -> Result<Started, ApiError> {
    // Login requests per identity, from any address: no flood of prompts on one phone.
    crate::oidc::limit(st, "login_token", idseal_ratelimit::KeyKind::Account, &enrollment.token_id).await?;
    let now = st.clock.now();
    let session_id = idseal_x1280::session_id(random()?);
    let row = AuthSessionRow {
        session_id: session_id.clone(),
        token_id: enrollment.token_id.clone(),
        service_id: service.id.clone(),
        service_name: service.name.clone(),
        service_verified: service.verified,
        requested_scopes: requested.to_space_separated(),
        granted_scopes: None,
        random: idseal_x1280::nonce(random()?),
        status: "pending".into(),
        reject_reason: None,
        attempts: 0,
        initiated_at: now,
        expires_at: now.saturating_add(std::time::Duration::from_secs(SESSION_TTL)),
        resolved_at: None,
        client_ip: meta.ip.map(|i| i.to_string()),
        browser_binding,
        service_url: service.url.clone(),
    };
    st.store.insert_auth_session(&row).await.map_err(ApiError::internal)?;
    let otp = otp(st, &row)?;
    let ws_token = idseal_x1280::ws_token(&st.x1280.ws, &row.session_id);
    push(st, enrollment, &row)?;
    let ev = AuditEvent::new(AuditEventKind::AuthInitiate, now, service.id.clone())
        .subject(row.token_id.clone())
        .request(meta.ip, meta.user_agent.clone())
        .details(json!({
            "session_id": row.session_id,
            "service_id": service.id,
            "service_verified": service.verified,
            "scopes": row.requested_scopes,
        }));
    crate::oidc::audit(st, meta, ev).await?;
    st.metrics.x1280(AuditEventKind::AuthInitiate.as_str());
    Ok(Started { row, otp, ws_token })
}

/// The code of a session, derived again (it is never stored).
pub fn otp(st: &AppState, row: &AuthSessionRow) -> Result<AutoPassword, ApiError> {
    idseal_x1280::auto_password(&st.x1280.otp, &row.token_id, &row.session_id).map_err(ApiError::internal)
}

/// The data a phone receives for a login (FCM data message and device channel alike).
pub fn push_data(st: &AppState, row: &AuthSessionRow) -> Result<BTreeMap<String, String>, ApiError> {
    let otp = otp(st, row)?;
    Ok(BTreeMap::from([
        ("type".into(), "login_request".into()),
        ("sessionId".into(), row.session_id.clone()),
        ("tokenId".into(), row.token_id.clone()),
        ("autoPassword".into(), otp.as_str().to_owned()),
        ("serviceId".into(), row.service_id.clone()),
        ("serviceName".into(), row.service_name.clone()),
        ("serviceUrl".into(), row.service_url.clone()),
        ("serviceVerified".into(), row.service_verified.to_string()),
        ("scopes".into(), row.requested_scopes.clone()),
        ("expiresAt".into(), rfc3339(row.expires_at)),
    ]))
}

/// Tells the phone: through its device channel (on whichever instance holds it: only the
/// session id travels, the holder derives the rest) and through FCM when it registered a token.
/// Delivery failures are logged and counted; the login can still be approved from the channel.
fn push(st: &AppState, enrollment: &EnrollmentRow, row: &AuthSessionRow) -> Result<(), ApiError> {
    let topic = format!("{DEVICE_TOPIC}{}", row.token_id);
    let payload = seal_device_event(st, &row.token_id, &json!({"sessionId": row.session_id}))?;
    let st2 = st.clone();
    let fcm = match (&st.push, enrollment.push_kind.as_str(), &enrollment.push_token) {
        (Some(sender), "fcm", Some(token)) => Some((sender.clone(), token.clone(), push_data(st, row)?)),
        _ => None,
    };
    let token_id = row.token_id.clone();
    tokio::spawn(async move {
        if let Err(e) = st2.store.bus().publish(&topic, &payload).await {
            tracing::warn!(error = %e, "device channel event not published");
        }
        if let Some((sender, token, data)) = fcm {
            let ttl = u32::try_from(idseal_x1280::SESSION_TTL_SECS).unwrap_or(60);
            match sender.send(&token, &data, ttl).await {
                Ok(()) => st2.metrics.push("fcm", "sent"),
                Err(crate::push::PushError::TokenDead) => {
                    st2.metrics.push("fcm", "token_dead");
                    let now = st2.clock.now();
                    if let Err(e) = st2.store.set_push_target(&token_id, "channel", None, now).await {
                        tracing::warn!(error = %e, "dead FCM token not cleared");
                    }
                }
                Err(e) => {
                    st2.metrics.push("fcm", "failed");
                    tracing::warn!(error = %e, "FCM push failed");
                }
            }
        }
    });
    Ok(())
}

/// A device-channel event sealed for the bus (the token id as associated data): whoever can
/// `NOTIFY` on the database cannot forge a revocation or a replacement notice, and whoever can
/// `LISTEN` learns nothing of the logins.
pub fn seal_device_event(st: &AppState, token_id: &str, event: &serde_json::Value) -> Result<String, ApiError> {
    Ok(B64.encode(st.x1280.seal(&format!("device|{token_id}"), event.to_string().as_bytes())?))
}

/// Publishes a device-channel event of `token_id`.
pub async fn publish_device_event(st: &AppState, token_id: &str, event: &serde_json::Value) -> Result<(), ApiError> {
    let payload = seal_device_event(st, token_id, event)?;
    st.store.bus().publish(&format!("{DEVICE_TOPIC}{token_id}"), &payload).await.map_err(ApiError::internal)
}

/// Opens a device-channel event published by [`publish_device_event`].
pub fn open_device_event(st: &AppState, token_id: &str, payload: &str) -> Option<serde_json::Value> {
    let sealed = B64.decode(payload).ok()?;
    let plain = st.x1280.open(&format!("device|{token_id}"), &sealed)?;
    serde_json::from_slice(&plain).ok()
}

/// Publishes a browser event of a session (sealed: it may carry the result JWT).
pub async fn publish_event(st: &AppState, session_id: &str, event: &serde_json::Value) -> Result<(), ApiError> {
    let sealed = st.x1280.seal(&format!("bus|{session_id}"), event.to_string().as_bytes())?;
    st.store
        .bus()
        .publish(&format!("{SESSION_TOPIC}{session_id}"), &B64.encode(sealed))
        .await
        .map_err(ApiError::internal)
}

/// Opens a browser event published by [`publish_event`].
pub fn open_event(st: &AppState, session_id: &str, payload: &str) -> Option<serde_json::Value> {
    let sealed = B64.decode(payload).ok()?;
    let plain = st.x1280.open(&format!("bus|{session_id}"), &sealed)?;
    serde_json::from_slice(&plain).ok()
}

/// Marks sessions past their 60 s as expired and tells their browsers (each expiry is
/// announced by the one instance whose update flipped the row).
pub async fn expire_sessions(st: &AppState) -> Result<usize, ApiError> {
    let now = st.clock.now();
    let rows = st.store.expire_auth_sessions(now, 500).await.map_err(ApiError::internal)?;
    for r in &rows {
        publish_event(st, &r.session_id, &json!({"type": "expired"})).await?;
        let ev = AuditEvent::new(AuditEventKind::AuthExpire, now, "system")
            .subject(r.token_id.clone())
            .details(json!({"session_id": r.session_id, "service_id": r.service_id}));
        crate::oidc::audit(st, &Meta::none(), ev).await?;
    }
    Ok(rows.len())
}

/// A shared handle to the push sender.
pub type Push = Arc<dyn crate::push::PushSender>;

/// `a`'s scopes that lie within `ceiling` (composites only when wholly within).
pub fn within(a: &ScopeSet, ceiling: &ScopeSet) -> ScopeSet {
    let kept: Vec<String> = a
        .as_slice()
        .iter()
        .filter(|s| ScopeSet::parse(std::slice::from_ref(*s)).is_ok_and(|one| one.is_subset_of(ceiling)))
        .cloned()
        .collect();
    ScopeSet::parse(&kept).unwrap_or_default()
}

/// The associated data of identity claims sealed with a code and its grant.
pub fn identity_purpose(client_id: &str, account_id: &str) -> String {
    format!("identity-claims|{client_id}|{account_id}")
}

/// The standard claims source of an account: a passwordless identity has no email.
pub fn user_info(a: &idseal_store::AccountRow) -> idseal_oauth::claims::UserInfo {
    idseal_oauth::claims::UserInfo {
        name: a.name.clone(),
        email: (a.kind != "device").then(|| a.email.clone()),
        email_verified: a.kind != "device" && a.email_verified,
        updated_at: Some(a.updated_at.as_secs()),
    }
}

/// The identity claims a phone login released to this grant (opened from their seal), limited
/// to what the token's scope still holds: each claim only if an identity scope of the token
/// releases it (a refresh asking for less gets less; a grant without identity scopes gets none).
pub fn identity_claims(
    st: &AppState,
    grant: &idseal_store::GrantRow,
    scope: &idseal_oauth::scope::ScopeSet,
) -> serde_json::Map<String, serde_json::Value> {
    let (Some(sealed), Some(account)) = (&grant.identity_sealed, &grant.account_id) else { return Default::default() };
    let Some(released) = st
        .x1280
        .open(&identity_purpose(&grant.client_id, account), sealed)
        .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok())
    else {
        return Default::default();
    };
    let Some(claims) = released.get("claims").and_then(|c| c.as_object()) else { return Default::default() };
    let granted = released.get("scopes").and_then(|s| s.as_str()).unwrap_or("");
    // The token's identity scopes, within what was granted on the phone.
    let allowed: Vec<String> = scope
        .iter()
        .filter(|s| s.starts_with("identity:") && granted.split_whitespace().any(|g| g == *s))
        .map(str::to_owned)
        .collect();
    ScopeSet::parse(&allowed).map(|set| idseal_x1280::restrict(claims, &set)).unwrap_or_default()
}

/// The WebSockets an instance holds open, counted in all and per client IP: a socket beyond
/// either limit is refused with 429 before the upgrade (a phone's channel or a browser's view
/// costs a task and a bus subscription each, so they are bounded like any other resource).
#[derive(Debug)]
pub struct SocketSlots {
    max_total: usize,
    max_per_ip: usize,
    open: std::sync::Mutex<std::collections::HashMap<Option<std::net::IpAddr>, usize>>,
}

/// One open socket's place; given back when dropped.
#[derive(Debug)]
pub struct SocketSlot {
    slots: Arc<SocketSlots>,
    ip: Option<std::net::IpAddr>,
}

impl SocketSlots {
    /// Limits: `max_total` sockets, `max_per_ip` from one address.
    pub fn new(max_total: usize, max_per_ip: usize) -> Self {
        Self { max_total, max_per_ip, open: std::sync::Mutex::default() }
    }

    /// A place for a socket from `ip`, or `None` when a limit is reached.
    pub fn take(self: &Arc<Self>, ip: Option<std::net::IpAddr>) -> Option<SocketSlot> {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let total: usize = open.values().sum();
        let mine = open.get(&ip).copied().unwrap_or(0);
        if total >= self.max_total || mine >= self.max_per_ip {
            return None;
        }
        open.insert(ip, mine + 1);
        Some(SocketSlot { slots: self.clone(), ip })
    }

    /// Sockets open now.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner).values().sum()
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}
