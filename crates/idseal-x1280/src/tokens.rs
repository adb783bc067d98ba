//! Session identifiers, the response nonce, the WebSocket token and the response hash.
//!
//! ```text
//! sessionId    = "sess_" || hex(random 16 bytes)                      (37 chars, lowercase hex)
//! random       = hex(random 8 bytes)                                  (16 chars, lowercase hex)
//! wsToken      = base64url-nopad(HMAC-SHA256(wsKey, "idseal/x1280/ws/v1|" || sessionId))   (43 chars)
//! serviceKey   = HKDF-SHA256(salt = "idseal/x1280/service-hash/v1", ikm = hashKey, info = serviceId), 32 bytes
//! hash         = hex(HMAC-SHA256(serviceKey, "idseal/x1280/response/v1|" || sessionId || "|" || random || "|" || jwt))
//! ```
//!
//! `serviceKey` is handed to the service once, at registration, as base64url without padding;
//! with it the service recomputes `hash` over the `sessionId` it started, the `random` that
//! `/auth/initiate` returned and the `jwt` it received, and compares.

use std::fmt;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::error::X1280Error;
use crate::prim::{hex, hkdf_sha256_32, hmac_sha256, is_lower_hex};

/// The prefix of a session id.
pub const SESSION_PREFIX: &str = "sess_";
/// The HMAC prefix of the WebSocket token.
pub const WS_LABEL: &[u8] = b"idseal/x1280/ws/v1|";
/// The HKDF salt of the per-service hash key.
pub const SERVICE_HASH_SALT: &[u8] = b"idseal/x1280/service-hash/v1";
/// The HMAC prefix of the response hash.
pub const RESPONSE_LABEL: &str = "idseal/x1280/response/v1|";

/// A new session id from 16 random bytes: `sess_` and 32 lowercase hex digits.
pub fn session_id(random: [u8; 16]) -> String {
    format!("{SESSION_PREFIX}{}", hex(&random))
}

/// True when `s` has exactly the shape [`session_id`] produces.
pub fn is_session_id(s: &str) -> bool {
    s.strip_prefix(SESSION_PREFIX).is_some_and(|h| is_lower_hex(h, 32))
}

/// A new response nonce (`random`) from 8 random bytes: 16 lowercase hex digits.
pub fn nonce(random: [u8; 8]) -> String {
    hex(&random)
}

/// True when `s` has exactly the shape [`nonce`] produces.
pub fn is_nonce(s: &str) -> bool {
    is_lower_hex(s, 16)
}

/// A 256-bit MAC key (the server's wsToken key, its response-hash master key, or one service's
/// hash key). Zeroized on drop; `Debug` prints `<redacted>`.
#[derive(Clone)]
pub struct MacKey(Zeroizing<[u8; 32]>);

impl MacKey {
    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as base64url without padding (43 characters), the form given to a service.
    pub fn to_base64url(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(self.0.as_ref()))
    }

    /// The key from base64url without padding (exactly 32 bytes).
    pub fn from_base64url(s: &str) -> Result<Self, X1280Error> {
        let bytes = Zeroizing::new(
            URL_SAFE_NO_PAD.decode(s).map_err(|_| X1280Error::BadRequest("key is not base64url".into()))?,
        );
        let arr: [u8; 32] =
            bytes.as_slice().try_into().map_err(|_| X1280Error::BadRequest("key must be 32 bytes".into()))?;
        Ok(Self::from_bytes(arr))
    }
}

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKey(<redacted>)")
    }
}

/// The WebSocket token of `session_id`.
pub fn ws_token(key: &MacKey, session_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(hmac_sha256(key.0.as_ref(), &[WS_LABEL, session_id.as_bytes()]))
}

/// Checks a presented WebSocket token in constant time (the comparison of the MAC strings).
pub fn ws_token_ok(key: &MacKey, session_id: &str, presented: &str) -> bool {
    verify_slices_are_equal(ws_token(key, session_id).as_bytes(), presented.as_bytes()).is_ok()
}

/// The per-service key with which a service checks the response `hash`, derived from the
/// server's response-hash master key.
pub fn service_hash_key(key: &MacKey, service_id: &str) -> MacKey {
    let k = hkdf_sha256_32(SERVICE_HASH_SALT, key.0.as_ref(), &[service_id.as_bytes()]);
    MacKey(k)
}

/// The response `hash`: lowercase hex HMAC-SHA256 over the session id, the nonce and the JWT.
pub fn response_hash(service_key: &MacKey, session_id: &str, random: &str, jwt: &str) -> String {
    let mac = hmac_sha256(
        service_key.0.as_ref(),
        &[RESPONSE_LABEL.as_bytes(), session_id.as_bytes(), b"|", random.as_bytes(), b"|", jwt.as_bytes()],
    );
    hex(&mac)
}

/// Checks a response `hash` in constant time (what a service, or a test peer, does).
pub fn response_hash_ok(service_key: &MacKey, session_id: &str, random: &str, jwt: &str, presented: &str) -> bool {
    verify_slices_are_equal(response_hash(service_key, session_id, random, jwt).as_bytes(), presented.as_bytes())
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_id_shape() {
        let id = session_id([0xab; 16]);
        assert_eq!(id, format!("sess_{}", "ab".repeat(16)));
        assert!(is_session_id(&id));
        assert!(!is_session_id(&id.to_uppercase()));
        assert!(!is_session_id(&format!("sess_{}", "AB".repeat(16))));
        assert!(!is_session_id(&id[..36]));
        assert!(!is_session_id(&format!("{id}0")));
        assert!(!is_session_id(&id.replacen("sess_", "sesn_", 1)));
        assert!(!is_session_id(&format!("sess_{}g", "a".repeat(31))));
        assert!(!is_session_id(""));
    }

    #[test]
    fn nonce_shape() {
        let n = nonce([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
        assert_eq!(n, "0123456789abcdef");
        assert!(is_nonce(&n));
        assert!(!is_nonce("0123456789ABCDEF"));
        assert!(!is_nonce("0123456789abcde"));
    }

    #[test]
    fn ws_token_round_trip() {
        let k = MacKey::from_bytes([9; 32]);
        let t = ws_token(&k, "sess_x");
        assert_eq!(t.len(), 43);
        assert!(ws_token_ok(&k, "sess_x", &t));
        assert!(!ws_token_ok(&k, "sess_y", &t));
        assert!(!ws_token_ok(&MacKey::from_bytes([8; 32]), "sess_x", &t));
        assert!(!ws_token_ok(&k, "sess_x", &t[..42]));
        assert!(!ws_token_ok(&k, "sess_x", ""));
    }

    #[test]
    fn service_keys_differ_per_service() {
        let master = MacKey::from_bytes([1; 32]);
        let a = service_hash_key(&master, "bar-le-central");
        let b = service_hash_key(&master, "other");
        assert_ne!(a.as_bytes(), b.as_bytes());
        assert_ne!(a.as_bytes(), master.as_bytes());
        let again = MacKey::from_base64url(&a.to_base64url()).unwrap();
        assert_eq!(again.as_bytes(), a.as_bytes());
        assert!(MacKey::from_base64url("AAAA").is_err());
        assert!(MacKey::from_base64url("!!").is_err());
    }

    #[test]
    fn response_hash_round_trip() {
        let k = MacKey::from_bytes([2; 32]);
        let h = response_hash(&k, "sess_1", "0011223344556677", "a.b.c");
        assert_eq!(h.len(), 64);
        assert!(response_hash_ok(&k, "sess_1", "0011223344556677", "a.b.c", &h));
        assert!(!response_hash_ok(&k, "sess_1", "0011223344556678", "a.b.c", &h));
        assert!(!response_hash_ok(&k, "sess_1", "0011223344556677", "a.b.d", &h));
        assert!(!response_hash_ok(&k, "sess_2", "0011223344556677", "a.b.c", &h));
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(format!("{:?}", MacKey::from_bytes([5; 32])), "MacKey(<redacted>)");
    }
}
