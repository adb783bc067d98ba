//! The pure core of idseal's ITU-T X.1280 mutual out-of-band login ("autoPassword"): a browser
//! shows a 6-digit code, the enrolled phone shows the same code, the user approves on the phone,
//! and the phone's hardware key signs the approval.
//!
//! No I/O, no clock, no randomness of its own: time ([`idseal_types::UnixTime`], [`time::Date`])
//! and random bytes come in as parameters. The one exception is [`DeviceKey::generate`], a test
//! and simulator helper that uses aws-lc's RNG because aws-lc-rs cannot generate a key from
//! caller bytes. Storage (single use, the attempt counter) and HTTP are the server's.
//!
//! # Flow and formats
//!
//! **Initiate.** The server makes
//! - `sessionId` = `"sess_"` + 32 lowercase hex digits from 16 random bytes ([`session_id`]);
//! - `autoPassword` = 6 digits ([`auto_password`]):
//!   ```text
//!   info = u16be(len tokenId) || tokenId || u16be(len sessionId) || sessionId      (UTF-8;
//!          an identifier over 65535 bytes is refused)
//!   K    = HKDF-SHA256(salt = "idseal/x1280/otp/v1", ikm = 32-byte master secret, info)  (32 bytes)
//!   M    = HMAC-SHA256(K, "autoPassword")
//!   otp  = RFC 4226 §5.3 dynamic truncation of M (offset = M[31] & 0x0f,
//!          31-bit big-endian word at the offset) mod 10^6, zero-padded to 6 digits
//!   ```
//!   The server stores only an HMAC of the code.
//! - `wsToken` = base64url without padding of HMAC-SHA256(wsKey, `"idseal/x1280/ws/v1|"` + sessionId),
//!   43 characters, checked in constant time ([`ws_token`], [`ws_token_ok`]);
//! - `random` = 16 lowercase hex digits from 8 random bytes ([`nonce`]);
//! - `expiresAt` = now + [`SESSION_TTL_SECS`] (60 s).
//!
//! Requested scopes are checked against the service's ceiling with [`ScopeSet::is_subset_of`].
//!
//! **Device.** The device signs, with ECDSA P-256 / SHA-256, DER signature, one of
//! ([`device`] module):
//! - approve: `{sessionId}|{otp}|{timestamp}|{grantedScopes joined by single spaces, in the order sent}`;
//! - reject: `reject|{sessionId}|{otp}|{timestamp}`;
//! - device-channel challenge: `idseal-device-channel|{tokenId}|{nonce}`;
//! - self-revocation: `revoke|{tokenId}|{timestamp}`.
//!
//! `timestamp` is decimal Unix seconds. The enrolled key is a PEM `PUBLIC KEY`
//! (SubjectPublicKeyInfo, `id-ecPublicKey` + `prime256v1`, uncompressed point on the curve);
//! [`DevicePublicKey::from_pem`] refuses other algorithms and curves, compressed points,
//! non-DER lengths, trailing bytes, PEM headers, text around the block, more than one block and
//! input over 4 KiB. [`DevicePublicKey::thumbprint`] is the lowercase hex SHA-256 of the SPKI DER.
//!
//! **Verify.** [`check_response`]: not expired → timestamp within ±[`TIMESTAMP_SKEW_SECS`] →
//! OTP (constant time) → signature → granted ⊆ requested (by expanded atoms). The caller counts
//! attempts ([`MAX_ATTEMPTS`] = 3) and deletes the session on the first resolution.
//!
//! **Result.** An ES256 JWT with [`result_claims`] (`iss`, `sub` (the tokenId in the product
//! docs, or a pairwise value the server derives), `aud` = serviceId,
//! `iat`, `exp`, `jti`, `sid` = sessionId, `nonce` = random, `scope`, `acr` = eIDAS LoA URI from
//! the trust level ([`eidas_acr`]), `amr` = `["hwk","otp","mca"]`) and the claims
//! [`disclose`] releases for the grant, plus
//! ```text
//! serviceKey = HKDF-SHA256(salt = "idseal/x1280/service-hash/v1", ikm = hashKey, info = serviceId)
//! hash       = lowercase hex HMAC-SHA256(serviceKey, "idseal/x1280/response/v1|" + sessionId + "|" + random + "|" + jwt)
//! ```
//! The service receives `serviceKey` once at registration (base64url, [`MacKey::to_base64url`])
//! and checks `hash` ([`response_hash_ok`]), the JWT against the JWKS, and that `random` is the
//! value `/auth/initiate` gave it.
//!
//! # Scopes and claims
//!
//! See [`scopes`] for the scope names, composites and the ceiling rule, and [`claims`] for the
//! claim each scope releases (OIDC snake_case names, with the product docs' camelCase names).
//!
//! # Errors
//!
//! [`X1280Error`] carries the HTTP status and code of each failure; messages never contain the
//! OTP, keys, tokens or personal data.

pub mod claims;
pub mod device;
pub mod error;
pub mod otp;
mod prim;
pub mod scopes;
pub mod session;
mod spki;
pub mod tokens;

pub use claims::{acr_rank, claim_names, disclose, eidas_acr, restrict};
pub use device::{DeviceKey, DevicePublicKey, approve_message, channel_message, reject_message, revoke_message};
pub use error::X1280Error;
pub use otp::{AutoPassword, OtpSecret, auto_password};
pub use scopes::{IdentityScope, ScopeSet, all_scope_names};
pub use session::{
    Decision, DeviceResponse, MAX_ATTEMPTS, PendingSession, ResultClaims, SESSION_TTL_SECS, TIMESTAMP_SKEW_SECS,
    check_response, result_claims,
};
pub use tokens::{
    MacKey, is_session_id, nonce, response_hash, response_hash_ok, service_hash_key, session_id, ws_token, ws_token_ok,
};
