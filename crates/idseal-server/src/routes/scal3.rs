//! SCAL3 sole-control evidence (docs/scal3.md, "Integration plan"; behind the `scal3` cargo
//! feature). A phone enrols a SCAL3 credential beside its device key; high-risk instructions
//! then need the device key **and** the PIN: the server issues a single-use challenge for the
//! canonical instruction, the phone answers with a pass, the server completes the joint
//! signature, appends the record to the tamper-evident log, and only then executes.
//!
//! **Legal notice**: the SCAL3 method is covered by granted patent NL2037022B1 (see NOTICE).

use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use idseal_scal3::{ChallengeId, Credential, Pass, ProviderSecrets, Scal3Error};
use idseal_store::{Scal3ChallengeRow, Scal3CredentialRow, Scal3PinOutcome};
use idseal_types::{AuditEvent, AuditEventKind};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiJson};
use crate::routes::x1280::auth::{check_token_id, usable_enrollment};
use crate::routes::x1280::enroll::decode_signature;
use crate::state::AppState;
use crate::web::Meta;
use crate::x1280::rfc3339;

/// Seconds a challenge can be answered.
const CHALLENGE_SECS: u64 = 120;
/// Largest instruction accepted (canonical JSON bytes).
const MAX_INSTRUCTION: usize = 2048;

/// The provider's SCAL3 keys, derived from the master key.
pub fn provider(master: &idseal_keys::MasterKey) -> Result<ProviderSecrets, String> {
    let kem = idseal_scal3::KemSecretKey::derive(master.derive("idseal/scal3/kem/v1").as_ref())
        .map_err(|e| format!("SCAL3 provider key: {e}"))?;
    Ok(ProviderSecrets::new(kem, *master.derive("idseal/scal3/nonce/v1")))
}

fn b64u(v: &[u8]) -> String {
    B64U.encode(v)
}

fn from_b64u(name: &str, v: &str, max: usize) -> Result<Vec<u8>, ApiError> {
    if v.len() > max * 2 {
        return Err(ApiError::InvalidRequest(format!("{name} is too long")));
    }
    B64U.decode(v.trim()).map_err(|_| ApiError::InvalidRequest(format!("{name} is not base64url")))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha256(b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b).as_ref());
    out
}

/// `GET /scal3/provider-key`.
#[utoipa::path(get, path = "/scal3/provider-key", tag = "scal3",
    responses((status = 200, description = "`{kemPublicKey}`: the provider's HPKE key (P-256, uncompressed, base64url)")))]
pub async fn provider_key(State(st): State<AppState>) -> Result<Json<Value>, ApiError> {
    let pk = st.scal3.kem_public_key().map_err(ApiError::internal)?;
    Ok(Json(json!({"kemPublicKey": b64u(&pk)})))
}

/// The enrolment request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrolRequest {
    /// The token id.
    pub token_id: String,
    /// `Credential::to_bytes`, base64url.
    pub credential: String,
    /// Unix seconds, ±30 s.
    pub timestamp: i64,
    /// DER ECDSA (Base64) by the enrolled device key over
    /// `scal3-enrol|{tokenId}|{timestamp}|{hex SHA-256 of the credential}`.
    pub signature_base64: String,
}

/// The device key of an enrollment in SEC1 compressed form (the credential's form).
fn compressed_device_key(pem: &str) -> Result<[u8; 33], ApiError> {
    let key = idseal_x1280::DevicePublicKey::from_pem(pem).map_err(ApiError::internal)?;
    let spki = key.spki_der();
    let point = spki.get(spki.len().saturating_sub(65)..).ok_or_else(|| ApiError::internal("short SPKI"))?;
    let (x, y) = (point.get(1..33).unwrap_or_default(), point.get(33..65).unwrap_or_default());
    let mut out = [0u8; 33];
    out[0] = if y.last().is_some_and(|b| b & 1 == 1) { 3 } else { 2 };
    out.get_mut(1..).unwrap_or_default().copy_from_slice(x);
    Ok(out)
}

/// `POST /scal3/enrol`.
#[utoipa::path(post, path = "/scal3/enrol", tag = "scal3", request_body = EnrolRequest,
    responses((status = 200, description = "`{enrolled, vk}`"), (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 409, description = "Already enrolled", body = crate::error::ErrorBody)))]
pub async fn enrol(
    State(st): State<AppState>,
    meta: Meta,
    ApiJson(req): ApiJson<EnrolRequest>,
) -> Result<Json<Value>, ApiError> {
    let token_id = check_token_id(&req.token_id)?;
    let bytes = from_b64u("credential", &req.credential, idseal_scal3::CREDENTIAL_LEN)?;
    let sig = decode_signature(&req.signature_base64)?;
    let enrollment = usable_enrollment(&st, &token_id).await?;
    let now = st.clock.now();
    let skew = now.as_secs().checked_sub(req.timestamp).map(i64::unsigned_abs);
    if skew.is_none_or(|s| s > idseal_x1280::TIMESTAMP_SKEW_SECS.unsigned_abs()) {
        return Err(ApiError::coded(401, "timestamp_skew", "the timestamp is not within 30 seconds of the server's"));
    }
    let message = format!("scal3-enrol|{token_id}|{}|{}", req.timestamp, hex(&sha256(&bytes)));
    let key = idseal_x1280::DevicePublicKey::from_pem(&enrollment.public_key_pem).map_err(ApiError::internal)?;
    key.verify(message.as_bytes(), &sig).map_err(|_| {
        ApiError::coded(401, "invalid_signature", "the signature does not verify with the enrolled key")
    })?;
    let credential = Credential::from_bytes(&bytes)
        .map_err(|e| ApiError::coded(400, "invalid_credential", format!("credential: {e}")))?;
    if credential.device_public_key() != compressed_device_key(&enrollment.public_key_pem)? {
        return Err(ApiError::coded(400, "invalid_credential", "the credential names another device key"));
    }
    st.scal3
        .accept(&credential)
        .map_err(|_| ApiError::coded(400, "invalid_credential", "the provider share does not open for this server"))?;
    let row = Scal3CredentialRow {
        token_id: token_id.clone(),
        credential: bytes,
        vk: credential.verifying_key().to_vec(),
        device_pk: credential.device_public_key().to_vec(),
        pin_failures: 0,
        locked_at: None,
        created_at: now,
    };
    if !st.store.insert_scal3_credential(&row).await.map_err(ApiError::internal)? {
        return Err(ApiError::coded(409, "already_enrolled", "this token already has a SCAL3 credential"));
    }
    let ev = AuditEvent::new(AuditEventKind::Scal3Enrol, now, token_id.clone())
        .subject(token_id)
        .request(meta.ip, meta.user_agent.clone())
        .details(json!({
            "vk": hex(&row.vk),
            "device_pk": hex(&row.device_pk),
            "credential_sha256": hex(&sha256(&row.credential)),
        }));
    crate::oidc::audit(&st, &meta, ev).await?;
    Ok(Json(json!({"enrolled": true, "vk": b64u(&row.vk)})))
}

/// The challenge request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChallengeRequest {
    /// The token id.
    pub token_id: String,
    /// `{"op": "revoke_enrollment"}` or `{"op": "approve_login", "sessionId", "grantedScopes"}`.
    #[schema(value_type = Object)]
    pub instruction: Value,
}

/// Checks an instruction's shape and returns its canonical text (RFC 8785).
fn canonical_instruction(v: &Value) -> Result<String, ApiError> {
    let bad = |m: &str| ApiError::coded(400, "invalid_instruction", m.to_owned());
    let obj = v.as_object().ok_or_else(|| bad("the instruction is a JSON object"))?;
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    match obj.get("op").and_then(Value::as_str) {
        Some("revoke_enrollment") if keys == ["op"] => {}
        Some("approve_login") => {
            let mut k = keys.clone();
            k.sort_unstable();
            if k != ["grantedScopes", "op", "sessionId"] {
                return Err(bad("approve_login has exactly op, sessionId and grantedScopes"));
            }
            if !obj.get("sessionId").and_then(Value::as_str).is_some_and(idseal_x1280::is_session_id) {
                return Err(bad("sessionId is not a session id"));
            }
            let scopes: Vec<String> = obj
                .get("grantedScopes")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("grantedScopes is a list"))?
                .iter()
                .map(|s| s.as_str().map(str::to_owned).ok_or_else(|| bad("grantedScopes are strings")))
                .collect::<Result<_, _>>()?;
            idseal_x1280::ScopeSet::parse(&scopes).map_err(|e| bad(&e.to_string()))?;
        }
        _ => return Err(bad("unknown instruction (revoke_enrollment, approve_login)")),
    }
    let text = idseal_types::jcs::canonical_json(v).map_err(|e| bad(&e.to_string()))?;
    if text.len() > MAX_INSTRUCTION {
        return Err(bad("the instruction is too long"));
    }
    Ok(text)
}

async fn credential_of(st: &AppState, token_id: &str) -> Result<(Scal3CredentialRow, Credential), ApiError> {
    let Some(row) = st.store.scal3_credential(token_id).await.map_err(ApiError::internal)? else {
        return Err(ApiError::coded(404, "not_enrolled", "this token has no SCAL3 credential"));
    };
    if row.locked_at.is_some() {
        return Err(ApiError::coded(423, "locked", "too many wrong PINs: the credential is locked"));
    }
    let credential = Credential::from_bytes(&row.credential).map_err(ApiError::internal)?;
    Ok((row, credential))
}

/// `POST /scal3/challenge`.
#[utoipa::path(post, path = "/scal3/challenge", tag = "scal3", request_body = ChallengeRequest,
    responses((status = 200, description = "`{challengeId, challenge, instruction, instructionHash, expiresAt}`"),
              (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 423, description = "Locked", body = crate::error::ErrorBody)))]
pub async fn challenge(
    State(st): State<AppState>,
    ApiJson(req): ApiJson<ChallengeRequest>,
) -> Result<Json<Value>, ApiError> {
    let token_id = check_token_id(&req.token_id)?;
    let instruction = canonical_instruction(&req.instruction)?;
    usable_enrollment(&st, &token_id).await?;
    crate::oidc::limit(&st, "login_token", idseal_ratelimit::KeyKind::Account, &token_id).await?;
    let (_, credential) = credential_of(&st, &token_id).await?;
    let hash = sha256(instruction.as_bytes());
    let id = ChallengeId(crate::oidc::random::<32>()?);
    let challenge = st.scal3.challenge(&credential, id, &hash).map_err(ApiError::internal)?;
    let now = st.clock.now();
    let row = Scal3ChallengeRow {
        challenge_id: id.0.to_vec(),
        token_id,
        instruction: instruction.clone(),
        instruction_hash: hex(&hash),
        created_at: now,
        expires_at: now.saturating_add(std::time::Duration::from_secs(CHALLENGE_SECS)),
        used_at: None,
        authorized_at: None,
        record: None,
    };
    st.store.insert_scal3_challenge(&row).await.map_err(ApiError::internal)?;
    Ok(Json(json!({
        "challengeId": b64u(&id.0),
        "challenge": b64u(&challenge.to_bytes().map_err(ApiError::internal)?),
        "instruction": instruction,
        "instructionHash": row.instruction_hash,
        "expiresAt": rfc3339(row.expires_at),
    })))
}

/// The answer to a challenge.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProveRequest {
    /// From `/scal3/challenge`.
    pub challenge_id: String,
    /// `Pass::to_bytes`, base64url.
    pub pass: String,
}

/// The outcome of a proof.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProveResponse {
    /// `authorized`.
    pub status: String,
    /// The canonical instruction.
    pub instruction: String,
    /// The record (base64url, 274 bytes).
    pub record: String,
    /// Its audit-log entry.
    pub log_index: u64,
}

/// `POST /scal3/prove`.
#[utoipa::path(post, path = "/scal3/prove", tag = "scal3", request_body = ProveRequest,
    responses((status = 200, body = ProveResponse), (status = 400, body = crate::error::ErrorBody),
              (status = 401, description = "Device or binding signature refused", body = crate::error::ErrorBody),
              (status = 403, description = "Wrong PIN (counted)", body = crate::error::ErrorBody),
              (status = 404, description = "Unknown, used or expired challenge", body = crate::error::ErrorBody),
              (status = 423, description = "Locked", body = crate::error::ErrorBody)))]
pub async fn prove(
    State(st): State<AppState>,
    meta: Meta,
    ApiJson(req): ApiJson<ProveRequest>,
) -> Result<Json<ProveResponse>, ApiError> {
    let id_bytes = from_b64u("challengeId", &req.challenge_id, 32)?;
    let id: [u8; 32] = id_bytes.as_slice().try_into().map_err(|_| ApiError::InvalidRequest("challengeId".into()))?;
    let pass_bytes = from_b64u("pass", &req.pass, idseal_scal3::PASS_LEN)?;
    let pass = Pass::from_bytes(&pass_bytes).map_err(|e| ApiError::coded(400, "invalid_pass", e.to_string()))?;
    let now = st.clock.now();
    let gone = || ApiError::coded(404, "challenge_not_found", "no such challenge, or it was used or expired");
    let Some(ch) = st.store.scal3_challenge(&id).await.map_err(ApiError::internal)? else { return Err(gone()) };
    if ch.used_at.is_some() || ch.expires_at <= now {
        return Err(gone());
    }
    let (_, credential) = credential_of(&st, &ch.token_id).await?;
    let hash = sha256(ch.instruction.as_bytes());
    // The ledger answers yes here; single use is the database's conditional UPDATE below, done
    // before any result leaves: a concurrent second proof of one challenge is dropped unseen.
    let mut ledger = |_: &ChallengeId| true;
    let outcome = st.scal3.prove(&credential, &ChallengeId(id), &hash, &pass, &mut ledger);
    match outcome {
        Err(Scal3Error::BindingSignature | Scal3Error::DeviceSignature) => {
            Err(ApiError::coded(401, "invalid_signature", "the pass is not signed by the enrolled device"))
        }
        Err(e) if e.counts_as_pin_attempt() => {
            if st.store.consume_scal3_challenge(&id, now).await.map_err(ApiError::internal)?.is_none() {
                return Err(gone());
            }
            let max = i64::from(st.settings.config.scal3.max_pin_attempts);
            let out = st.store.scal3_pin_failure(&ch.token_id, max, now).await.map_err(ApiError::internal)?;
            let ev = AuditEvent::new(AuditEventKind::Scal3PinFailure, now, ch.token_id.clone())
                .subject(ch.token_id.clone())
                .request(meta.ip, meta.user_agent.clone())
                .details(json!({"instruction_hash": ch.instruction_hash, "locked": out == Scal3PinOutcome::Locked}));
            crate::oidc::audit(&st, &meta, ev).await?;
            match out {
                Scal3PinOutcome::Locked => Err(ApiError::coded(423, "locked", "too many wrong PINs: locked")),
                Scal3PinOutcome::Counted { failures } => Err(ApiError::coded(
                    403,
                    "pin_mismatch",
                    format!("wrong PIN ({} attempts left)", max.saturating_sub(failures)),
                )),
            }
        }
        Err(e) => Err(ApiError::coded(400, "invalid_pass", e.to_string())),
        Ok(record) => {
            if st.store.consume_scal3_challenge(&id, now).await.map_err(ApiError::internal)?.is_none() {
                return Err(gone());
            }
            st.store.scal3_pin_success(&ch.token_id).await.map_err(ApiError::internal)?;
            let record = record.to_bytes();
            // The evidence goes into the log before the instruction runs.
            let ev = AuditEvent::new(AuditEventKind::Scal3Authorize, now, ch.token_id.clone())
                .subject(ch.token_id.clone())
                .request(meta.ip, meta.user_agent.clone())
                .details(json!({
                    "record": hex(&record),
                    "vk": hex(&credential.verifying_key()),
                    "device_pk": hex(&credential.device_public_key()),
                    "instruction": ch.instruction,
                    "instruction_hash": ch.instruction_hash,
                }));
            let before = st.store.tlog_size().await.map_err(ApiError::internal)?;
            crate::oidc::audit(&st, &meta, ev).await?;
            let log_index = find_entry(&st, &ch.token_id, before, &hex(&record)).await?;
            st.store.authorize_scal3_challenge(&id, &record, now).await.map_err(ApiError::internal)?;
            execute(&st, &meta, &ch).await?;
            Ok(Json(ProveResponse {
                status: "authorized".into(),
                instruction: ch.instruction.clone(),
                record: b64u(&record),
                log_index,
            }))
        }
    }
}

/// The index of the log entry about `token_id` from `from` on whose bytes hold `needle` (the
/// record): appends of concurrent events may interleave, so the index is looked up, not guessed.
async fn find_entry(st: &AppState, token_id: &str, from: u64, needle: &str) -> Result<u64, ApiError> {
    let pseudonym = st.store.audit_subject_pseudonym(token_id).map_err(ApiError::internal)?;
    let size = st.store.tlog_size().await.map_err(ApiError::internal)?;
    let entries = st.store.tlog_entries_by_subject(&pseudonym, from, size, 1000).await.map_err(ApiError::internal)?;
    entries
        .iter()
        .find(|e| String::from_utf8_lossy(&e.data).contains(needle))
        .map(|e| e.index)
        .ok_or_else(|| ApiError::internal("the SCAL3 record is not in the log"))
}

/// Runs an authorised instruction (approve_login waits for `/auth/verify`).
async fn execute(st: &AppState, meta: &Meta, ch: &Scal3ChallengeRow) -> Result<(), ApiError> {
    let v: Value = serde_json::from_str(&ch.instruction).map_err(ApiError::internal)?;
    if v.get("op").and_then(Value::as_str) == Some("revoke_enrollment") {
        crate::routes::x1280::enroll::revoke(st, meta, &ch.token_id, "user_request", &ch.token_id).await?;
    }
    Ok(())
}

/// Whether a token must use SCAL3 for its high-risk instructions (it enrolled a credential).
pub async fn required(st: &AppState, token_id: &str) -> Result<bool, ApiError> {
    Ok(st.store.scal3_credential(token_id).await.map_err(ApiError::internal)?.is_some())
}

/// Takes (once) the SCAL3 authorisation of approving `session_id` with exactly `granted`.
pub async fn take_login_authorization(
    st: &AppState,
    token_id: &str,
    session_id: &str,
    granted: &[String],
    challenge_id: Option<&str>,
) -> Result<(), ApiError> {
    let required =
        || ApiError::coded(403, "scal3_required", "this approval needs a SCAL3 authorisation (device and PIN)");
    let Some(id) = challenge_id else { return Err(required()) };
    let id = from_b64u("scal3ChallengeId", id, 32)?;
    let instruction =
        canonical_instruction(&json!({"op": "approve_login", "sessionId": session_id, "grantedScopes": granted}))?;
    let now = st.clock.now();
    if st.store.take_scal3_authorization(token_id, &instruction, &id, now).await.map_err(ApiError::internal)? {
        Ok(())
    } else {
        Err(required())
    }
}
