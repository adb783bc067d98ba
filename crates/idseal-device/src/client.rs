//! The phone's HTTP side: `POST /enroll`, `POST /auth/verify`, `POST /enroll/revoke`.

use std::fmt;
use std::sync::{Arc, Once};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idseal_types::Clock;
use idseal_x1280::{DeviceKey, DevicePublicKey};
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use crate::error::{DeviceError, Result};
use crate::request::{LoginRequest, is_uuid};
use crate::state::DeviceState;

static PROVIDER: Once = Once::new();

/// Installs aws-lc-rs as the process-wide rustls provider (once; a provider installed by someone
/// else is fine). reqwest and the device channel's TLS then use it: no `ring`.
pub(crate) fn install_crypto_provider() {
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

/// The result of `POST /enroll`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollResult {
    /// The token id the key is now bound to.
    pub token_id: String,
    /// When the enrollment stops working (the seal's expiry), RFC 3339.
    pub expires_at: String,
    /// The eIDAS trust level of the seal (1 to 3).
    pub trust_level: u8,
}

/// The user's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Approve, granting scopes.
    Approve,
    /// Decline.
    Reject,
}

impl Decision {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
        }
    }
}

/// The result of `POST /auth/verify`. `Debug` hides the JWT.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// `approved` or `rejected`.
    pub status: String,
    /// The result JWT (direct integrations; absent when rejected and for OIDC logins).
    #[serde(default)]
    pub jwt: Option<String>,
    /// The response hash for the service.
    #[serde(default)]
    pub hash: Option<String>,
    /// The session's nonce.
    #[serde(default)]
    pub random: String,
    /// When the JWT expires, RFC 3339.
    #[serde(default)]
    pub expires_at: Option<String>,
}

impl fmt::Debug for Approval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Approval")
            .field("status", &self.status)
            .field("jwt", &self.jwt.as_ref().map(|_| "<redacted>"))
            .field("hash", &self.hash)
            .field("random", &self.random)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Everything one `POST /auth/verify` sends. [`Device::verify_call`] fills it honestly; tests
/// change fields (a wrong OTP, a stale timestamp, scopes beyond the request, another device's
/// signature) before [`Device::send_verify`].
#[derive(Clone)]
pub struct VerifyCall {
    /// The session id.
    pub session_id: String,
    /// The token id.
    pub token_id: String,
    /// The code sent (and signed).
    pub otp: Zeroizing<String>,
    /// Unix seconds (signed).
    pub timestamp: i64,
    /// The granted scopes (signed, in this order).
    pub granted: Vec<String>,
    /// Approve or reject.
    pub decision: Decision,
    /// The identity seal (required by the server to approve).
    pub vds_data: Option<String>,
    /// A DER signature to send instead of the device's own over [`VerifyCall::message`].
    pub signature: Option<Vec<u8>>,
}

impl VerifyCall {
    /// The message the device signs for this call (`approve_message` or `reject_message`).
    pub fn message(&self) -> String {
        match self.decision {
            Decision::Approve => {
                idseal_x1280::approve_message(&self.session_id, &self.otp, self.timestamp, &self.granted)
            }
            Decision::Reject => idseal_x1280::reject_message(&self.session_id, &self.otp, self.timestamp),
        }
    }
}

impl fmt::Debug for VerifyCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyCall")
            .field("session_id", &self.session_id)
            .field("token_id", &self.token_id)
            .field("otp", &"<redacted>")
            .field("timestamp", &self.timestamp)
            .field("granted", &self.granted)
            .field("decision", &self.decision)
            .field("signature", &self.signature.as_ref().map(|_| "<custom>"))
            .finish()
    }
}

/// The simulated phone: its state, its key, an HTTP client and a clock.
pub struct Device {
    pub(crate) state: DeviceState,
    pub(crate) key: DeviceKey,
    http: reqwest::Client,
    pub(crate) clock: Arc<dyn Clock>,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device").field("state", &self.state).finish_non_exhaustive()
    }
}

impl Device {
    /// A device from its state; `clock` gives the timestamps it signs (the system clock in the
    /// CLI, the server's test clock in tests).
    pub fn new(state: DeviceState, clock: Arc<dyn Clock>) -> Result<Self> {
        install_crypto_provider();
        let key = state.device_key()?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self { state, key, http, clock })
    }

    /// The state (save it after [`Device::enroll`]).
    pub fn state(&self) -> &DeviceState {
        &self.state
    }

    /// The device's public key.
    pub fn public_key(&self) -> &DevicePublicKey {
        self.key.public_key()
    }

    /// The device's key (tests sign with it directly).
    pub fn key(&self) -> &DeviceKey {
        &self.key
    }

    /// The enrollment's token id.
    pub fn token_id(&self) -> Result<&str> {
        self.state.token_id.as_deref().ok_or(DeviceError::NotEnrolled)
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.state.server.trim_end_matches('/'))
    }

    /// `POST /enroll` with the seal and public key; on success the token id is kept in the state.
    pub async fn enroll(&mut self, fcm_token: Option<&str>) -> Result<EnrollResult> {
        let body = json!({
            "vdsData": self.state.vds,
            "publicKeyPem": self.key.public_key().to_pem(),
            "deviceId": self.state.device_id,
            "fcmToken": fcm_token,
        });
        let result: EnrollResult = self.post("/enroll", &body).await?;
        if !is_uuid(&result.token_id) {
            return Err(DeviceError::BadResponse("tokenId is not a UUID".into()));
        }
        self.state.token_id = Some(result.token_id.clone());
        Ok(result)
    }

    /// Approves `req`: first the user's comparison (`shown_code`, read from the browser, must be
    /// the code the phone received; constant time) and the grant (`granted` within the request),
    /// then signs with the current time and posts. A mismatch sends nothing.
    pub async fn approve(&self, req: &LoginRequest, shown_code: &str, granted: &[String]) -> Result<Approval> {
        req.check_code(shown_code)?;
        req.check_grant(granted)?;
        let call = self.verify_call(req, Decision::Approve, granted)?;
        self.send_verify(&call).await
    }

    /// Declines `req` (signed `reject_message`).
    pub async fn reject(&self, req: &LoginRequest) -> Result<Approval> {
        let call = self.verify_call(req, Decision::Reject, &[])?;
        self.send_verify(&call).await
    }

    /// The honest verify call for `req` at the current time: this device's token id (which must
    /// be the request's), the received code, `granted`, and the seal when approving. No checks
    /// of the code or grant: [`Device::approve`] does those.
    pub fn verify_call(&self, req: &LoginRequest, decision: Decision, granted: &[String]) -> Result<VerifyCall> {
        let token_id = self.token_id()?;
        if req.token_id != token_id {
            return Err(DeviceError::NotForThisDevice);
        }
        Ok(VerifyCall {
            session_id: req.session_id.clone(),
            token_id: token_id.to_owned(),
            otp: Zeroizing::new(req.auto_password.as_str().to_owned()),
            timestamp: self.clock.now().as_secs(),
            granted: granted.to_vec(),
            decision,
            vds_data: (decision == Decision::Approve).then(|| self.state.vds.clone()),
            signature: None,
        })
    }

    /// Sends a verify call as it is, signing [`VerifyCall::message`] with this device's key
    /// unless the call carries its own signature.
    pub async fn send_verify(&self, call: &VerifyCall) -> Result<Approval> {
        let sig = match &call.signature {
            Some(s) => s.clone(),
            None => self.key.sign(call.message().as_bytes())?,
        };
        let body = json!({
            "sessionId": call.session_id,
            "tokenId": call.token_id,
            "otp": call.otp.as_str(),
            "signatureBase64": STANDARD.encode(sig),
            "timestamp": call.timestamp,
            "grantedScopes": call.granted,
            "decision": call.decision.as_str(),
            "vdsData": call.vds_data,
        });
        self.post("/auth/verify", &body).await
    }

    /// `POST /enroll/revoke`, signed with the current time.
    pub async fn revoke(&self) -> Result<()> {
        self.revoke_at(self.clock.now().as_secs()).await
    }

    /// `POST /enroll/revoke` signed at `timestamp` (tests send stale ones).
    pub async fn revoke_at(&self, timestamp: i64) -> Result<()> {
        let token_id = self.token_id()?;
        let sig = self.key.sign(idseal_x1280::revoke_message(token_id, timestamp).as_bytes())?;
        let body = json!({"tokenId": token_id, "timestamp": timestamp, "signatureBase64": STANDARD.encode(sig)});
        #[derive(Deserialize)]
        struct Revoked {
            revoked: bool,
        }
        let r: Revoked = self.post("/enroll/revoke", &body).await?;
        if r.revoked { Ok(()) } else { Err(DeviceError::BadResponse("revoked is false".into())) }
    }

    pub(crate) async fn post<T: for<'de> Deserialize<'de>>(&self, path: &str, body: &serde_json::Value) -> Result<T> {
        let resp = self.http.post(self.url(path)).json(body).send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        if !(200..300).contains(&status) {
            return Err(server_error(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| DeviceError::BadResponse(format!("{path}: {e}")))
    }

    /// GET `path` and parse the JSON answer (as [`Device::post`]).
    #[cfg_attr(not(feature = "scal3"), allow(dead_code))]
    pub(crate) async fn get<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T> {
        let resp = self.http.get(self.url(path)).send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        if !(200..300).contains(&status) {
            return Err(server_error(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| DeviceError::BadResponse(format!("{path}: {e}")))
    }
}

/// The server's `{error, error_description}`, or `unexpected_response` with the start of the body.
pub(crate) fn server_error(status: u16, body: &[u8]) -> DeviceError {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
        #[serde(default)]
        error_description: String,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => DeviceError::Server { status, error: e.error, description: e.error_description },
        Err(_) => DeviceError::Server {
            status,
            error: "unexpected_response".into(),
            description: String::from_utf8_lossy(body).chars().take(200).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn server_errors_keep_status_and_code() {
        let e = server_error(401, br#"{"error":"invalid_otp","error_description":"wrong code"}"#);
        assert!(
            matches!(&e, DeviceError::Server { status: 401, error, description } if error == "invalid_otp" && description == "wrong code"),
            "{e:?}"
        );
        let e = server_error(502, b"<html>bad gateway</html>");
        assert!(matches!(&e, DeviceError::Server { status: 502, error, .. } if error == "unexpected_response"));
    }

    #[test]
    fn verify_call_messages_use_the_core_formats() {
        let call = VerifyCall {
            session_id: "sess_ab".into(),
            token_id: "t".into(),
            otp: Zeroizing::new("048291".into()),
            timestamp: 7,
            granted: vec!["identity:name".into(), "identity:age_over_18".into()],
            decision: Decision::Approve,
            vds_data: None,
            signature: None,
        };
        assert_eq!(call.message(), "sess_ab|048291|7|identity:name identity:age_over_18");
        let reject = VerifyCall { decision: Decision::Reject, ..call.clone() };
        assert_eq!(reject.message(), "reject|sess_ab|048291|7");
        assert!(!format!("{call:?}").contains("048291"));
    }

    #[test]
    fn approval_debug_hides_the_jwt() {
        let a = Approval {
            status: "approved".into(),
            jwt: Some("eyJsecret".into()),
            hash: None,
            random: "r".into(),
            expires_at: None,
        };
        assert!(!format!("{a:?}").contains("eyJsecret"));
    }
}
