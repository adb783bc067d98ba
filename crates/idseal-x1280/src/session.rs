//! The pure verification step of `/auth/verify` and the claims of the direct-integration JWT.
//!
//! [`check_response`] runs its checks in this order and stops at the first failure:
//!
//! 1. `now >= expires_at` → [`X1280Error::Expired`] (404);
//! 2. `|timestamp - now| > 30` → [`X1280Error::TimestampSkew`] (401);
//! 3. the presented OTP differs (constant-time) → [`X1280Error::InvalidOtp`] (401);
//! 4. the signature does not verify over the approve or reject message (by the decision the
//!    device sent) → [`X1280Error::InvalidSignature`] (401);
//! 5. for an approval, granted scopes not covered by the requested ones →
//!    [`X1280Error::ScopesNotRequested`] (400).
//!
//! Attempt counting (at most [`MAX_ATTEMPTS`]) and single use are the store's: one conditional
//! update per attempt, so that two instances can never both accept.

use idseal_types::UnixTime;
use serde_json::{Map, Value};

use crate::device::{DevicePublicKey, approve_message, reject_message};
use crate::error::X1280Error;
use crate::otp::AutoPassword;
use crate::scopes::ScopeSet;

/// Seconds a login session lives after `/auth/initiate`.
pub const SESSION_TTL_SECS: i64 = 60;
/// Verify attempts per session before it is invalidated.
pub const MAX_ATTEMPTS: u32 = 3;
/// Largest allowed distance between the device timestamp and the server time, in seconds.
pub const TIMESTAMP_SKEW_SECS: i64 = 30;
/// The RFC 8176 `amr` values of an X.1280 login: hardware-bound key, one-time password and
/// multiple-channel authentication.
pub const AMR: [&str; 3] = ["hwk", "otp", "mca"];

/// A login session waiting for the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingSession {
    /// `sess_...`.
    pub session_id: String,
    /// The enrollment the login is for.
    pub token_id: String,
    /// The scopes the service asked for.
    pub requested: ScopeSet,
    /// When the session stops accepting answers.
    pub expires_at: UnixTime,
}

/// What the user decided on the phone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Approve, releasing `granted` (a subset of the requested scopes).
    Approve {
        /// The scopes the user granted, in the order the device signed them.
        granted: ScopeSet,
    },
    /// Decline.
    Reject,
}

/// A device's answer to a login, as `/auth/verify` received it (the body already parsed: OTP as
/// sent, signature base64-decoded, `grantedScopes` parsed into a [`ScopeSet`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceResponse {
    /// The OTP the device shows and signs.
    pub otp: String,
    /// The device's Unix time when it signed.
    pub timestamp: i64,
    /// DER ECDSA P-256 SHA-256 signature.
    pub signature_der: Vec<u8>,
    /// Approve (with the grant) or reject.
    pub decision: Decision,
}

/// The message the device must have signed for `resp`.
pub fn signed_message(session_id: &str, resp: &DeviceResponse) -> String {
    match &resp.decision {
        Decision::Approve { granted } => approve_message(session_id, &resp.otp, resp.timestamp, granted.as_slice()),
        Decision::Reject => reject_message(session_id, &resp.otp, resp.timestamp),
    }
}

/// Checks a device answer against the pending session (see the module docs for the order) and
/// returns the verified decision.
pub fn check_response(
    session: &PendingSession,
    expected: &AutoPassword,
    key: &DevicePublicKey,
    resp: &DeviceResponse,
    now: UnixTime,
) -> Result<Decision, X1280Error> {
    if now >= session.expires_at {
        return Err(X1280Error::Expired);
    }
    let skew = resp.timestamp.checked_sub(now.as_secs()).map(i64::unsigned_abs);
    if skew.is_none_or(|s| s > TIMESTAMP_SKEW_SECS.unsigned_abs()) {
        return Err(X1280Error::TimestampSkew);
    }
    if !expected.ct_eq(&resp.otp) {
        return Err(X1280Error::InvalidOtp);
    }
    key.verify(signed_message(&session.session_id, resp).as_bytes(), &resp.signature_der)?;
    if let Decision::Approve { granted } = &resp.decision
        && !granted.is_subset_of(&session.requested)
    {
        return Err(X1280Error::ScopesNotRequested(granted.not_within(&session.requested).join(" ")));
    }
    Ok(resp.decision.clone())
}

/// Inputs of the direct-integration JWT claims.
#[derive(Clone, Copy, Debug)]
pub struct ResultClaims<'a> {
    /// `iss`: the server's issuer URL.
    pub issuer: &'a str,
    /// `sub`: the subject the service sees (the tokenId in the product docs; the server may
    /// pass a pairwise value instead).
    pub token_id: &'a str,
    /// `aud`: the service id.
    pub service_id: &'a str,
    /// `sid`: the session id.
    pub session_id: &'a str,
    /// `nonce`: the `random` from `/auth/initiate`.
    pub random: &'a str,
    /// `scope`: the granted scopes.
    pub granted: &'a ScopeSet,
    /// `acr`: the eIDAS level URI.
    pub acr: &'a str,
    /// `iat`.
    pub now: UnixTime,
    /// `exp - iat`.
    pub ttl_secs: i64,
    /// `jti`: a unique token id.
    pub jti: &'a str,
}

/// The claims of the ES256 JWT returned by `/auth/verify`:
/// `iss, sub, aud (= serviceId), iat, exp (= iat + ttl_secs), jti, sid (= sessionId),
/// nonce (= random), scope (granted, space-joined as given), acr, amr ["hwk","otp","mca"]`,
/// then the `disclosed` claims of [`crate::disclose`] (which never override these).
pub fn result_claims(input: &ResultClaims<'_>, disclosed: Map<String, Value>) -> Map<String, Value> {
    let iat = input.now.as_secs();
    let mut claims = Map::new();
    claims.insert("iss".into(), Value::from(input.issuer));
    claims.insert("sub".into(), Value::from(input.token_id));
    claims.insert("aud".into(), Value::from(input.service_id));
    claims.insert("iat".into(), Value::from(iat));
    claims.insert("exp".into(), Value::from(iat.saturating_add(input.ttl_secs)));
    claims.insert("jti".into(), Value::from(input.jti));
    claims.insert("sid".into(), Value::from(input.session_id));
    claims.insert("nonce".into(), Value::from(input.random));
    claims.insert("scope".into(), Value::from(input.granted.to_space_separated()));
    claims.insert("acr".into(), Value::from(input.acr));
    claims.insert("amr".into(), Value::from(AMR.to_vec()));
    for (k, v) in disclosed {
        claims.entry(k).or_insert(v);
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DeviceKey;

    fn scopes(names: &[&str]) -> ScopeSet {
        ScopeSet::parse(&names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn happy_path_and_order() {
        let key = DeviceKey::generate().unwrap();
        let otp = AutoPassword::parse("123456").unwrap();
        let session = PendingSession {
            session_id: "sess_1".into(),
            token_id: "tid".into(),
            requested: scopes(&["identity:basic"]),
            expires_at: UnixTime::from_secs(1060),
        };
        let granted = scopes(&["identity:name"]);
        let msg = approve_message("sess_1", "123456", 1000, granted.as_slice());
        let mut resp = DeviceResponse {
            otp: "123456".into(),
            timestamp: 1000,
            signature_der: key.sign(msg.as_bytes()).unwrap(),
            decision: Decision::Approve { granted: granted.clone() },
        };
        let now = UnixTime::from_secs(1010);
        assert_eq!(check_response(&session, &otp, key.public_key(), &resp, now), Ok(Decision::Approve { granted }));
        // Expiry wins over everything else.
        resp.otp = "000000".into();
        let late = UnixTime::from_secs(1060);
        assert_eq!(check_response(&session, &otp, key.public_key(), &resp, late), Err(X1280Error::Expired));
        assert_eq!(check_response(&session, &otp, key.public_key(), &resp, now), Err(X1280Error::InvalidOtp));
        // Timestamp comes before the OTP.
        resp.timestamp = i64::MIN;
        assert_eq!(check_response(&session, &otp, key.public_key(), &resp, now), Err(X1280Error::TimestampSkew));
    }

    #[test]
    fn claims_shape() {
        let granted = scopes(&["identity:name", "identity:age_over_18"]);
        let mut disclosed = Map::new();
        disclosed.insert("given_name".into(), Value::from("J"));
        disclosed.insert("sub".into(), Value::from("evil"));
        let input = ResultClaims {
            issuer: "https://idseal.example",
            token_id: "tid",
            service_id: "svc",
            session_id: "sess_1",
            random: "0011223344556677",
            granted: &granted,
            acr: "http://eidas.europa.eu/LoA/high",
            now: UnixTime::from_secs(1_711_929_600),
            ttl_secs: 3600,
            jti: "j1",
        };
        let c = result_claims(&input, disclosed);
        assert_eq!(c["sub"], "tid");
        assert_eq!(c["aud"], "svc");
        assert_eq!(c["exp"], 1_711_933_200_i64);
        assert_eq!(c["scope"], "identity:name identity:age_over_18");
        assert_eq!(c["amr"], serde_json::json!(["hwk", "otp", "mca"]));
        assert_eq!(c["given_name"], "J");
        assert_eq!(c["nonce"], "0011223344556677");
        assert_eq!(c.len(), 12);
    }
}
