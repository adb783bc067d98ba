//! `POST /enroll` (product-spec §3, §4.1): a phone binds its hardware key to a document-anchored
//! identity, and `POST /enroll/revoke`: the phone's user revokes that binding.

use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idseal_store::{EnrollOutcome, EnrollmentRow};
use idseal_types::{AuditEvent, AuditEventKind};
use idseal_x1280::DevicePublicKey;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{ApiError, ApiJson};
use crate::state::AppState;
use crate::web::Meta;
use crate::x1280::{rfc3339, verify_seal};

/// The enrollment request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollRequest {
    /// The identity seal (`VDSEUA` + Base45, Base64 or hex).
    pub vds_data: String,
    /// The device's P-256 public key, PEM SubjectPublicKeyInfo.
    pub public_key_pem: String,
    /// The device's own identifier (1 to 128 of `A-Z a-z 0-9 . _ : -`).
    pub device_id: String,
    /// The FCM registration token; without one, pushes go through the device channel only.
    #[serde(default)]
    pub fcm_token: Option<String>,
}

/// The enrollment result.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrollResponse {
    /// Always true.
    pub enrolled: bool,
    /// The token id of the seal, now bound to the device key.
    pub token_id: String,
    /// The seal's expiry (RFC 3339): the enrollment stops working then.
    pub expires_at: String,
    /// The eIDAS trust level of the seal (1 to 3).
    pub trust_level: u8,
}

/// A device's request to revoke its own enrollment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfRevokeRequest {
    /// The token id.
    pub token_id: String,
    /// Unix seconds, within ±30 s of the server's clock.
    pub timestamp: i64,
    /// DER ECDSA P-256 signature (Base64) by the enrolled key over `revoke|{tokenId}|{timestamp}`.
    pub signature_base64: String,
}

/// Checks an identifier-like field: 1 to `max` of `A-Z a-z 0-9 . _ : -`.
pub fn check_ident(name: &str, v: &str, max: usize) -> Result<(), ApiError> {
    if v.is_empty() || v.len() > max || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b)) {
        return Err(ApiError::InvalidRequest(format!("{name} must be 1 to {max} of A-Z a-z 0-9 . _ : -")));
    }
    Ok(())
}

/// `POST /enroll`.
#[utoipa::path(post, path = "/enroll", tag = "passwordless", request_body = EnrollRequest,
    responses((status = 200, body = EnrollResponse),
              (status = 400, description = "Invalid seal, key or field", body = crate::error::ErrorBody),
              (status = 403, description = "The seal is on the revocation list", body = crate::error::ErrorBody),
              (status = 409, description = "Token already enrolled or revoked, or key already bound", body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody),
              (status = 503, description = "Trust lists unavailable", body = crate::error::ErrorBody)))]
pub async fn enroll(
    State(st): State<AppState>,
    meta: Meta,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> Result<Json<EnrollResponse>, ApiError> {
    let checked = check_ident("deviceId", &req.device_id, 128)
        .and_then(|()| req.fcm_token.as_deref().map_or(Ok(()), |t| check_ident("fcmToken", t, 4096)))
        .and_then(|()| {
            DevicePublicKey::from_pem(&req.public_key_pem)
                .map_err(|e| ApiError::coded(400, "invalid_public_key", e.to_string()))
        });
    let key = match checked {
        Ok(k) => k,
        Err(e) => return Err(refused(&st, &meta, "request", e).await),
    };
    let report = match verify_seal(&st, req.vds_data.trim(), "invalid_vds").await {
        Ok(r) => r,
        Err(e) => return Err(refused(&st, &meta, "seal", e).await),
    };
    let Some(identity) = report.vds.payload.as_identity() else {
        let e = ApiError::coded(400, "invalid_vds", "not an identity seal (manifest 0A0001)");
        return Err(refused(&st, &meta, "seal", e).await);
    };
    let now = st.clock.now();
    let token_id = identity.token_id_string();
    let row = EnrollmentRow {
        token_id: token_id.clone(),
        device_id: req.device_id.clone(),
        public_key_pem: key.to_pem(),
        key_thumbprint: key.thumbprint(),
        vds_fingerprint: report.fingerprint.clone(),
        trust_level: i64::try_from(identity.trust_level.as_u64()).unwrap_or(1),
        vds_expires_at: identity.expires_at,
        push_kind: if req.fcm_token.is_some() { "fcm".into() } else { "channel".into() },
        push_token: req.fcm_token.clone(),
        is_revoked: false,
        revoked_at: None,
        revoked_reason: None,
        revoked_by: None,
        created_at: now,
        updated_at: now,
    };
    let conflict = match st.store.insert_enrollment(&row).await.map_err(ApiError::internal)? {
        EnrollOutcome::Inserted => None,
        EnrollOutcome::TokenExists { revoked: true } => Some(("token_revoked", "this token id has been revoked")),
        EnrollOutcome::TokenExists { revoked: false } => {
            Some(("already_enrolled", "this token id is already enrolled"))
        }
        EnrollOutcome::KeyInUse => Some(("key_in_use", "this device key is already bound to a token")),
        EnrollOutcome::VdsInUse => Some(("already_enrolled", "this seal is already enrolled")),
    };
    if let Some((code, why)) = conflict {
        return Err(refused(&st, &meta, code, ApiError::coded(409, code, why)).await);
    }
    let ev = AuditEvent::new(AuditEventKind::Enroll, now, token_id.clone())
        .subject(token_id.clone())
        .request(meta.ip, meta.user_agent.clone())
        .details(json!({
            "device_id": req.device_id,
            "key_thumbprint": row.key_thumbprint,
            "vds_fingerprint": row.vds_fingerprint,
            "trust_level": row.trust_level,
            "certificate": report.certificate_reference,
            "push": row.push_kind,
        }));
    crate::oidc::audit(&st, &meta, ev).await?;
    st.metrics.x1280(AuditEventKind::Enroll.as_str());
    Ok(Json(EnrollResponse {
        enrolled: true,
        token_id,
        expires_at: rfc3339(identity.expires_at),
        trust_level: u8::try_from(row.trust_level).unwrap_or(1),
    }))
}

/// Records a refused enrollment and passes the error on.
async fn refused(st: &AppState, meta: &Meta, reason: &str, e: ApiError) -> ApiError {
    let kind = if reason == "seal" { AuditEventKind::VdsVerifyFail } else { AuditEventKind::EnrollFail };
    let detail = match &e {
        ApiError::Coded { error, description, .. } => json!({"step": "enroll", "error": error, "why": description}),
        _ => json!({"step": "enroll"}),
    };
    let ev =
        AuditEvent::new(kind, st.clock.now(), "anonymous").request(meta.ip, meta.user_agent.clone()).details(detail);
    if let Err(audit) = crate::oidc::audit(st, meta, ev).await {
        return audit;
    }
    st.metrics.x1280(kind.as_str());
    e
}

/// `POST /enroll/revoke`: the phone revokes its own enrollment (lost trust in the device, new
/// phone). Proven by the enrolled key; sessions, grants and pending logins of the identity end.
#[utoipa::path(post, path = "/enroll/revoke", tag = "passwordless", request_body = SelfRevokeRequest,
    responses((status = 200, description = "`{\"revoked\": true}`"),
              (status = 400, body = crate::error::ErrorBody),
              (status = 401, description = "Signature or timestamp refused", body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody),
              (status = 409, description = "Already revoked", body = crate::error::ErrorBody)))]
pub async fn self_revoke(
    State(st): State<AppState>,
    meta: Meta,
    ApiJson(req): ApiJson<SelfRevokeRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let token_id = crate::routes::x1280::auth::check_token_id(&req.token_id)?;
    let sig = decode_signature(&req.signature_base64)?;
    let now = st.clock.now();
    let Some(enrollment) = st.store.enrollment(&token_id).await.map_err(ApiError::internal)? else {
        return Err(ApiError::coded(404, "enrollment_not_found", "no enrollment for this token id"));
    };
    if enrollment.is_revoked {
        return Err(ApiError::coded(409, "already_revoked", "this enrollment is already revoked"));
    }
    #[cfg(feature = "scal3")]
    if crate::routes::scal3::required(&st, &token_id).await? {
        return Err(ApiError::coded(
            403,
            "scal3_required",
            "this token has a SCAL3 credential: revoke with the revoke_enrollment instruction (device and PIN)",
        ));
    }
    let skew = now.as_secs().checked_sub(req.timestamp).map(i64::unsigned_abs);
    if skew.is_none_or(|s| s > idseal_x1280::TIMESTAMP_SKEW_SECS.unsigned_abs()) {
        return Err(ApiError::coded(401, "timestamp_skew", "the timestamp is not within 30 seconds of the server's"));
    }
    let key = DevicePublicKey::from_pem(&enrollment.public_key_pem).map_err(ApiError::internal)?;
    key.verify(idseal_x1280::revoke_message(&token_id, req.timestamp).as_bytes(), &sig).map_err(|_| {
        ApiError::coded(401, "invalid_signature", "the signature does not verify with the enrolled key")
    })?;
    revoke(&st, &meta, &token_id, "user_request", &token_id).await?;
    Ok(Json(json!({"revoked": true})))
}

/// Revokes an enrollment (the store ends its sessions, grants and pending logins in the same
/// transaction), closes its device channel and records who did it.
pub async fn revoke(st: &AppState, meta: &Meta, token_id: &str, reason: &str, by: &str) -> Result<(), ApiError> {
    let now = st.clock.now();
    if !st.store.revoke_enrollment(token_id, reason, by, now).await.map_err(ApiError::internal)? {
        return Err(ApiError::coded(409, "already_revoked", "this enrollment is absent or already revoked"));
    }
    crate::x1280::publish_device_event(st, token_id, &json!({"type": "_revoked"})).await?;
    let ev = AuditEvent::new(AuditEventKind::EnrollmentRevoke, now, by.to_owned())
        .subject(token_id.to_owned())
        .request(meta.ip, meta.user_agent.clone())
        .details(json!({"reason": reason}));
    crate::oidc::audit(st, meta, ev).await?;
    st.metrics.x1280(AuditEventKind::EnrollmentRevoke.as_str());
    Ok(())
}

/// A Base64 DER signature of at most 80 bytes (a P-256 DER signature is 70 to 72).
pub fn decode_signature(b64: &str) -> Result<Vec<u8>, ApiError> {
    if b64.len() > 128 {
        return Err(ApiError::InvalidRequest("signatureBase64 is too long".into()));
    }
    STANDARD.decode(b64.trim()).map_err(|_| ApiError::InvalidRequest("signatureBase64 is not Base64".into()))
}
