//! `POST /auth/initiate` and `POST /auth/verify` (product-spec §3, §4.2): the two halves of an
//! X.1280 login. The browser (or the service's backend) starts a session and shows the code;
//! the phone answers with the code, its signature and the scopes its user granted.

use axum::Json;
use axum::extract::State;
use idseal_store::{AttemptOutcome, AuthSessionRow, EnrollmentRow};
use idseal_types::{AuditEvent, AuditEventKind};
use idseal_x1280::{Decision, DevicePublicKey, DeviceResponse, PendingSession, ScopeSet};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{ApiError, ApiJson};
use crate::routes::x1280::enroll::decode_signature;
use crate::state::AppState;
use crate::web::Meta;
use crate::x1280::{ServiceIdentity, core_error, publish_event, rfc3339, start_session, verify_seal, within};

/// The initiate request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InitiateRequest {
    /// The enrolled token id (UUID).
    pub token_id: String,
    /// A registered service id (legacy; the phone shows it unverified).
    #[serde(default)]
    pub service_id: Option<String>,
    /// The service's own seal (manifest 0A0002), verified through the chain of trust.
    #[serde(default)]
    pub service_vds: Option<String>,
    /// Identity scopes asked for; the service's default scopes when absent.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// A started login.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitiateResponse {
    /// `sess_` + 32 hex.
    pub session_id: String,
    /// The six-digit code to show; the phone shows the same one.
    pub auto_password: String,
    /// Token for `GET /ws/session/{sessionId}?token=`.
    pub ws_token: String,
    /// 16 hex characters; the result carries it back (replay and substitution check).
    pub random: String,
    /// RFC 3339; 60 s after the start.
    pub expires_at: String,
}

/// The phone's answer.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyRequest {
    /// The session id from the push.
    pub session_id: String,
    /// The device's token id.
    pub token_id: String,
    /// The six-digit code, as the user compared it.
    pub otp: String,
    /// DER ECDSA P-256 (Base64) by the enrolled key over `sessionId|otp|timestamp|grantedScopes`
    /// (scopes joined by single spaces) to approve, or `reject|sessionId|otp|timestamp` to decline.
    pub signature_base64: String,
    /// Unix seconds, within ±30 s of the server's clock.
    pub timestamp: i64,
    /// The scopes the user granted: a subset of the requested ones.
    #[serde(default)]
    pub granted_scopes: Vec<String>,
    /// `approve` (default) or `reject`.
    #[serde(default)]
    pub decision: Option<String>,
    /// The enrolled identity seal, required to approve: claims are derived from it now, and
    /// its expiry and revocation are checked at every login.
    #[serde(default)]
    pub vds_data: Option<String>,
    /// A proven SCAL3 `approve_login` challenge (base64url) for this session and exactly these
    /// granted scopes: required when the grant is high-risk (`identity:full`,
    /// `identity:full_with_photo`, photo with document) and the token has a SCAL3 credential.
    #[serde(default)]
    pub scal3_challenge_id: Option<String>,
}

/// The login's result (direct integrations; OIDC logins finish in the browser).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyResponse {
    /// `approved` or `rejected`.
    pub status: String,
    /// ES256 JWT with the granted claims only (absent when rejected or for OIDC logins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
    /// HMAC-SHA256 (hex) under the service's key over the session id, `random` and the JWT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// The session's nonce from initiate.
    pub random: String,
    /// RFC 3339: when the JWT expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

fn too_many() -> ApiError {
    ApiError::coded(429, "too_many_attempts", "this session allowed 3 attempts")
}

fn not_found() -> ApiError {
    ApiError::coded(404, "session_not_found", "no such session, or it expired or was resolved")
}

/// A token id: a lowercase hyphenated UUID (upper case accepted and lowered).
pub fn check_token_id(v: &str) -> Result<String, ApiError> {
    let t = v.to_ascii_lowercase();
    let ok = t.len() == 36
        && t.char_indices().all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() });
    if ok { Ok(t) } else { Err(ApiError::coded(400, "invalid_token_id", "tokenId must be a UUID")) }
}

/// The enrollment behind a token id, usable for a login now: 404 when absent, 403 when revoked
/// or its seal has expired.
pub async fn usable_enrollment(st: &AppState, token_id: &str) -> Result<EnrollmentRow, ApiError> {
    let Some(e) = st.store.enrollment(token_id).await.map_err(ApiError::internal)? else {
        return Err(ApiError::coded(404, "enrollment_not_found", "no enrollment for this token id"));
    };
    if e.is_revoked {
        return Err(ApiError::coded(403, "enrollment_revoked", "this enrollment has been revoked"));
    }
    if e.vds_expires_at <= st.clock.now() {
        return Err(ApiError::coded(403, "enrollment_expired", "the identity seal of this enrollment has expired"));
    }
    Ok(e)
}

fn parse_scopes(scopes: &[String], code: &'static str) -> Result<ScopeSet, ApiError> {
    ScopeSet::parse(scopes).map_err(|e| ApiError::coded(400, code, e.to_string()))
}

/// Who is asking, from a Service VDS (verified through the chain, and registered) or a
/// registered service id.
async fn identify_service(st: &AppState, meta: &Meta, req: &InitiateRequest) -> Result<ServiceIdentity, ApiError> {
    let registered = |id: &str| {
        let id = id.to_owned();
        async move { st.store.service(&id).await.map_err(ApiError::internal) }
    };
    match (&req.service_id, &req.service_vds) {
        (Some(id), None) => {
            crate::routes::x1280::enroll::check_ident("serviceId", id, 64)?;
            let Some(s) = registered(id).await? else {
                return Err(ApiError::coded(400, "unknown_service", "no service is registered under this id"));
            };
            let ceiling = ScopeSet::parse_space_separated(&s.allowed_scopes).map_err(ApiError::internal)?;
            let defaults = ScopeSet::parse_space_separated(&s.default_scopes).map_err(ApiError::internal)?;
            Ok(ServiceIdentity { id: s.service_id, name: s.name, url: s.url, verified: false, ceiling, defaults })
        }
        (None, Some(text)) => {
            let report = match verify_seal(st, text.trim(), "invalid_service_vds").await {
                Ok(r) => r,
                Err(e) => {
                    let ev = AuditEvent::new(AuditEventKind::VdsVerifyFail, st.clock.now(), "anonymous")
                        .request(meta.ip, meta.user_agent.clone())
                        .details(json!({"step": "auth_initiate", "seal": "service"}));
                    crate::oidc::audit(st, meta, ev).await?;
                    return Err(e);
                }
            };
            let Some(svc) = report.vds.payload.as_service() else {
                return Err(ApiError::coded(400, "invalid_service_vds", "not a service seal (manifest 0A0002)"));
            };
            let Some(s) = registered(&svc.service_id).await? else {
                return Err(ApiError::coded(403, "service_not_registered", "this service is not registered here"));
            };
            // The seal must be the registered one (when one was registered) and name the
            // registered origin: another issuer's seal for the same id cannot show another origin.
            let fingerprint_ok = s.vds_fingerprint.as_deref().is_none_or(|fp| {
                aws_lc_rs::constant_time::verify_slices_are_equal(fp.as_bytes(), report.fingerprint.as_bytes()).is_ok()
            });
            if !fingerprint_ok || svc.url != s.url {
                return Err(ApiError::coded(
                    403,
                    "service_vds_mismatch",
                    "this seal is not the one registered for the service",
                ));
            }
            // The seal's scopes and the registry's both bound the request.
            let seal_scopes =
                ScopeSet::parse(&svc.scopes).map_err(|e| ApiError::coded(400, "invalid_service_vds", e.to_string()))?;
            let allowed = ScopeSet::parse_space_separated(&s.allowed_scopes).map_err(ApiError::internal)?;
            let ceiling = within(&allowed, &seal_scopes);
            let defaults = ScopeSet::parse_space_separated(&s.default_scopes).map_err(ApiError::internal)?;
            let defaults = within(&defaults, &ceiling);
            Ok(ServiceIdentity {
                id: svc.service_id.clone(),
                name: svc.name.clone(),
                url: svc.url.clone(),
                verified: true,
                ceiling,
                defaults,
            })
        }
        _ => Err(ApiError::InvalidRequest("give exactly one of serviceId and serviceVds".into())),
    }
}

/// `POST /auth/initiate`.
#[utoipa::path(post, path = "/auth/initiate", tag = "passwordless", request_body = InitiateRequest,
    responses((status = 200, body = InitiateResponse),
              (status = 400, description = "Missing or invalid tokenId, service or scopes", body = crate::error::ErrorBody),
              (status = 403, description = "Enrollment revoked or expired; service not registered", body = crate::error::ErrorBody),
              (status = 404, description = "Enrollment not found", body = crate::error::ErrorBody),
              (status = 422, description = "Scopes beyond the service's allowed scopes", body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub async fn initiate(
    State(st): State<AppState>,
    meta: Meta,
    ApiJson(req): ApiJson<InitiateRequest>,
) -> Result<Json<InitiateResponse>, ApiError> {
    let token_id = check_token_id(&req.token_id)?;
    let requested = req.scopes.as_deref().map(|s| parse_scopes(s, "invalid_scope")).transpose()?;
    let service = identify_service(&st, &meta, &req).await?;
    let requested = requested.unwrap_or_else(|| service.defaults.clone());
    if !requested.is_subset_of(&service.ceiling) {
        return Err(ApiError::coded(422, "invalid_scopes", "the scopes exceed what this service may ask for"));
    }
    let enrollment = usable_enrollment(&st, &token_id).await?;
    let started = start_session(&st, &meta, &enrollment, &service, &requested, None).await?;
    Ok(Json(InitiateResponse {
        session_id: started.row.session_id.clone(),
        auto_password: started.otp.as_str().to_owned(),
        ws_token: started.ws_token,
        random: started.row.random.clone(),
        expires_at: rfc3339(started.row.expires_at),
    }))
}

/// `POST /auth/verify`.
#[utoipa::path(post, path = "/auth/verify", tag = "passwordless", request_body = VerifyRequest,
    responses((status = 200, body = VerifyResponse),
              (status = 400, description = "Malformed body, scopes not requested, seal mismatch", body = crate::error::ErrorBody),
              (status = 401, description = "Invalid OTP, signature or timestamp", body = crate::error::ErrorBody),
              (status = 403, description = "Enrollment revoked or seal revoked", body = crate::error::ErrorBody),
              (status = 404, description = "Session not found, expired or already resolved", body = crate::error::ErrorBody),
              (status = 429, description = "Too many attempts (3 per session)", body = crate::error::ErrorBody)))]
pub async fn verify(
    State(st): State<AppState>,
    meta: Meta,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> Result<Json<VerifyResponse>, ApiError> {
    if !idseal_x1280::is_session_id(&req.session_id) {
        return Err(ApiError::coded(404, "session_not_found", "no such session"));
    }
    let token_id = check_token_id(&req.token_id)?;
    if req.otp.len() != 6 || !req.otp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::InvalidRequest("otp must be six digits".into()));
    }
    let signature_der = decode_signature(&req.signature_base64)?;
    let decision = match req.decision.as_deref() {
        None | Some("approve") => Decision::Approve { granted: parse_scopes(&req.granted_scopes, "invalid_scope")? },
        Some("reject") => Decision::Reject,
        Some(_) => return Err(ApiError::InvalidRequest("decision must be approve or reject".into())),
    };
    let now = st.clock.now();
    let session = match st
        .store
        .take_verify_attempt(&req.session_id, now, i64::from(idseal_x1280::MAX_ATTEMPTS))
        .await
        .map_err(ApiError::internal)?
    {
        AttemptOutcome::Allowed { session, .. } => session,
        AttemptOutcome::TooMany => return Err(too_many()),
        AttemptOutcome::NotPending { .. } => {
            // Ended by its third failure: still "too many attempts" to whoever tries again.
            let row = st.store.auth_session(&req.session_id).await.map_err(ApiError::internal)?;
            if row.is_some_and(|r| r.attempts >= i64::from(idseal_x1280::MAX_ATTEMPTS) && r.status == "rejected") {
                return Err(too_many());
            }
            return Err(not_found());
        }
        _ => return Err(not_found()),
    };
    let response = DeviceResponse { otp: req.otp.clone(), timestamp: req.timestamp, signature_der, decision };
    let checked = check(&st, &session, &token_id, &response).await;
    let (decision, enrollment) = match checked {
        Ok(d) => d,
        Err(e) => return Err(failed(&st, &meta, &session, e).await),
    };
    match decision {
        Decision::Reject => {
            resolve(&st, &meta, &session, "rejected", None, Some("Declined by user"), None).await?;
            Ok(Json(VerifyResponse {
                status: "rejected".into(),
                jwt: None,
                hash: None,
                random: session.random.clone(),
                expires_at: None,
            }))
        }
        Decision::Approve { granted } => {
            #[cfg(feature = "scal3")]
            if granted.is_high_risk() && crate::routes::scal3::required(&st, &session.token_id).await? {
                let challenge = req.scal3_challenge_id.as_deref();
                let scopes = granted.as_slice();
                crate::routes::scal3::take_login_authorization(
                    &st,
                    &session.token_id,
                    &session.session_id,
                    scopes,
                    challenge,
                )
                .await?;
            }
            approve(&st, &meta, &session, &enrollment, &granted, req.vds_data.as_deref()).await
        }
    }
}

/// The core's checks against the enrolled key; a token id that is not the session's counts as
/// a wrong signature. Returns the decision and the enrollment it was checked against.
async fn check(
    st: &AppState,
    session: &AuthSessionRow,
    token_id: &str,
    resp: &DeviceResponse,
) -> Result<(Decision, EnrollmentRow), ApiError> {
    let now = st.clock.now();
    if token_id != session.token_id {
        return Err(core_error(&idseal_x1280::X1280Error::InvalidSignature));
    }
    let enrollment = usable_enrollment(st, token_id).await?;
    let key = DevicePublicKey::from_pem(&enrollment.public_key_pem).map_err(ApiError::internal)?;
    let pending = PendingSession {
        session_id: session.session_id.clone(),
        token_id: session.token_id.clone(),
        requested: ScopeSet::parse_space_separated(&session.requested_scopes).map_err(ApiError::internal)?,
        expires_at: session.expires_at,
    };
    let expected = crate::x1280::otp(st, session)?;
    let decision = idseal_x1280::check_response(&pending, &expected, &key, resp, now).map_err(|e| core_error(&e))?;
    Ok((decision, enrollment))
}

/// A failed attempt: recorded; the third one ends the session ("Too many attempts").
async fn failed(st: &AppState, meta: &Meta, session: &AuthSessionRow, e: ApiError) -> ApiError {
    let attempt = session.attempts;
    let reason = match &e {
        ApiError::Coded { error: "invalid_otp", .. } => "Invalid OTP",
        ApiError::Coded { error: "invalid_signature", .. } => "Invalid signature",
        ApiError::Coded { error, .. } => error,
        _ => "error",
    };
    let last = attempt >= i64::from(idseal_x1280::MAX_ATTEMPTS);
    let outcome = if last {
        resolve(st, meta, session, "rejected", None, Some("Too many attempts"), None).await.map(|_| ())
    } else {
        let ev = AuditEvent::new(AuditEventKind::AuthReject, st.clock.now(), session.token_id.clone())
            .subject(session.token_id.clone())
            .request(meta.ip, meta.user_agent.clone())
            .details(json!({"session_id": session.session_id, "reason": reason, "attempt": attempt, "final": false}));
        crate::oidc::audit(st, meta, ev).await
    };
    match outcome {
        Ok(()) => e,
        Err(internal) => internal,
    }
}

/// Resolves the session once (a lost race is a 404), tells the browser, records it.
async fn resolve(
    st: &AppState,
    meta: &Meta,
    session: &AuthSessionRow,
    status: &str,
    granted: Option<&ScopeSet>,
    reason: Option<&str>,
    result: Option<(serde_json::Value, Option<Vec<u8>>)>,
) -> Result<bool, ApiError> {
    let now = st.clock.now();
    let granted_s = granted.map(ScopeSet::to_space_separated);
    let (event, sealed) = match result {
        Some((ev, sealed)) => (ev, sealed),
        None => (json!({"type": "rejected", "reason": reason.unwrap_or("rejected")}), None),
    };
    let won = st
        .store
        .resolve_auth_session(&session.session_id, status, granted_s.as_deref(), reason, sealed.as_deref(), now)
        .await
        .map_err(ApiError::internal)?;
    if !won {
        return Err(ApiError::coded(404, "session_not_found", "the session was already resolved or expired"));
    }
    // The resolution is committed: a lost event must not lose the phone's answer or its audit
    // entry (the browser's socket reads the row when its deadline passes).
    if let Err(e) = publish_event(st, &session.session_id, &event).await {
        tracing::warn!(error = ?e, "login event not published");
    }
    let kind = if status == "approved" { AuditEventKind::AuthApprove } else { AuditEventKind::AuthReject };
    let ev = AuditEvent::new(kind, now, session.token_id.clone())
        .subject(session.token_id.clone())
        .request(meta.ip, meta.user_agent.clone())
        .details(json!({
            "session_id": session.session_id,
            "service_id": session.service_id,
            "requested": session.requested_scopes,
            "granted": granted_s,
            "reason": reason,
            "final": true,
        }));
    crate::oidc::audit(st, meta, ev).await?;
    st.metrics.x1280(kind.as_str());
    Ok(true)
}

/// The identity claims the user granted, derived now from the enrolled seal (which must still
/// verify: expiry and revocation list), and the `acr` of its trust level.
pub async fn disclose(
    st: &AppState,
    enrollment: &EnrollmentRow,
    granted: &ScopeSet,
    vds_data: Option<&str>,
) -> Result<(serde_json::Map<String, serde_json::Value>, &'static str), ApiError> {
    let Some(text) = vds_data else {
        return Err(ApiError::InvalidRequest("vdsData (the enrolled seal) is required to approve".into()));
    };
    let report = verify_seal(st, text.trim(), "invalid_vds").await?;
    if aws_lc_rs::constant_time::verify_slices_are_equal(
        report.fingerprint.as_bytes(),
        enrollment.vds_fingerprint.as_bytes(),
    )
    .is_err()
    {
        return Err(ApiError::coded(400, "vds_mismatch", "this is not the enrolled seal"));
    }
    let Some(identity) = report.vds.payload.as_identity() else {
        return Err(ApiError::coded(400, "vds_mismatch", "this is not the enrolled seal"));
    };
    let today = time::OffsetDateTime::from_unix_timestamp(st.clock.now().as_secs()).map_err(ApiError::internal)?.date();
    Ok((idseal_x1280::disclose(identity, granted, today), idseal_x1280::eidas_acr(identity.trust_level)))
}

async fn approve(
    st: &AppState,
    meta: &Meta,
    session: &AuthSessionRow,
    enrollment: &EnrollmentRow,
    granted: &ScopeSet,
    vds_data: Option<&str>,
) -> Result<Json<VerifyResponse>, ApiError> {
    let (claims, acr) = disclose(st, enrollment, granted, vds_data).await?;
    if session.browser_binding.is_some() {
        // An OIDC login: the browser that started it collects the result (sealed until then).
        let result = json!({"granted": granted.to_space_separated(), "claims": claims, "acr": acr});
        let sealed = st.x1280.seal(&format!("result|{}", session.session_id), result.to_string().as_bytes())?;
        let event = json!({"type": "approved"});
        resolve(st, meta, session, "approved", Some(granted), None, Some((event, Some(sealed)))).await?;
        return Ok(Json(VerifyResponse {
            status: "approved".into(),
            jwt: None,
            hash: None,
            random: session.random.clone(),
            expires_at: None,
        }));
    }
    let now = st.clock.now();
    let ttl = i64::try_from(st.settings.config.passwordless.result_ttl_secs).unwrap_or(3600);
    let sub = idseal_oauth::subject::pairwise(
        &st.oidc.pairwise,
        &format!("service|{}", session.service_id),
        &session.token_id,
    );
    let jti = idseal_oauth::token::new_id(&crate::oidc::random()?);
    let input = idseal_x1280::ResultClaims {
        issuer: &st.settings.issuer,
        token_id: &sub,
        service_id: &session.service_id,
        session_id: &session.session_id,
        random: &session.random,
        granted,
        acr,
        now,
        ttl_secs: ttl,
        jti: &jti,
    };
    let claims = idseal_x1280::result_claims(&input, claims);
    let ring = st.key_ring();
    let key = ring.signer(idseal_keys::Algorithm::Es256).map_err(ApiError::internal)?;
    let jwt = idseal_oauth::jwt::sign(key, "JWT", &claims)?;
    let service_key = idseal_x1280::service_hash_key(&st.x1280.hash, &session.service_id);
    let hash = idseal_x1280::response_hash(&service_key, &session.session_id, &session.random, &jwt);
    let expires_at = rfc3339(now.saturating_add(std::time::Duration::from_secs(u64::try_from(ttl).unwrap_or(3600))));
    let event =
        json!({"type": "approved", "jwt": jwt, "hash": hash, "random": session.random, "expiresAt": expires_at});
    resolve(st, meta, session, "approved", Some(granted), None, Some((event, None))).await?;
    Ok(Json(VerifyResponse {
        status: "approved".into(),
        jwt: Some(jwt),
        hash: Some(hash),
        random: session.random.clone(),
        expires_at: Some(expires_at),
    }))
}
