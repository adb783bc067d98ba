//! The session cookie: an HS256 JWT (RFC 7519, RFC 7518 §3.2) under a key derived from the
//! master key. The JWT alone never authenticates: the server also checks the session row.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use idseal_types::UnixTime;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::OAuthError;

/// Largest cookie value [`verify`] looks at, in bytes.
const MAX_LEN: usize = 4096;
/// The only header we issue.
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// The claims of a session cookie.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// Session id (the session row's key).
    pub sid: String,
    /// Account id.
    pub sub: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// When the user last entered a password, Unix seconds.
    pub auth_time: i64,
}

/// Issue a session cookie value for `claims`.
pub fn issue(key: &[u8; 32], claims: &SessionClaims) -> String {
    // Serialising plain strings and integers cannot fail; an empty payload would not verify.
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let input = format!("{}.{}", B64.encode(HEADER), B64.encode(payload));
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), input.as_bytes());
    format!("{input}.{}", B64.encode(tag))
}

/// Verify a session cookie value: at most 4 KiB, header `alg` exactly `HS256` (no `none`, no
/// other algorithm), a valid HMAC (constant-time), and `exp` after `now`.
///
/// # Errors
///
/// [`OAuthError::InvalidToken`] for every failure.
pub fn verify(key: &[u8; 32], token: &str, now: UnixTime) -> Result<SessionClaims, OAuthError> {
    let fail = || OAuthError::InvalidToken("invalid session".into());
    if token.len() > MAX_LEN {
        return Err(fail());
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(fail());
    };
    let header: Map<String, Value> =
        B64.decode(h).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or_else(fail)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256")
        || header.keys().any(|k| k != "alg" && k != "typ")
        || header.get("typ").is_some_and(|t| t.as_str() != Some("JWT"))
    {
        return Err(fail());
    }
    let tag = B64.decode(s).map_err(|_| fail())?;
    let input = token.get(..h.len() + 1 + p.len()).ok_or_else(fail)?;
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key), input.as_bytes(), &tag).map_err(|_| fail())?;
    let claims: SessionClaims = B64.decode(p).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or_else(fail)?;
    if claims.exp <= now.as_secs() {
        return Err(fail());
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [3; 32];

    fn claims() -> SessionClaims {
        SessionClaims { sid: "sid".into(), sub: "acct".into(), iat: 100, exp: 200, auth_time: 90 }
    }

    #[test]
    fn round_trip() {
        let t = issue(&KEY, &claims());
        assert_eq!(verify(&KEY, &t, UnixTime::from_secs(150)).unwrap(), claims());
    }

    #[test]
    fn refusals() {
        let t = issue(&KEY, &claims());
        let now = UnixTime::from_secs(150);
        let parts: Vec<&str> = t.split('.').collect();
        let bad = |tok: &str| verify(&KEY, tok, now).is_err();
        // Expired.
        assert!(verify(&KEY, &t, UnixTime::from_secs(200)).is_err());
        // Wrong key.
        assert!(verify(&[4; 32], &t, now).is_err());
        // Tampered payload.
        let mut c = claims();
        c.sub = "admin".into();
        let forged = B64.encode(serde_json::to_vec(&c).unwrap());
        assert!(bad(&format!("{}.{}.{}", parts[0], forged, parts[2])));
        // alg none, with and without a signature.
        let none = B64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert!(bad(&format!("{none}.{}.", parts[1])));
        assert!(bad(&format!("{none}.{}.{}", parts[1], parts[2])));
        // Another algorithm, correctly MACed: the header is refused before the MAC.
        for header in [
            r#"{"alg":"HS512","typ":"JWT"}"#,
            r#"{"alg":"HS256","typ":"JWT","kid":"x"}"#,
            r#"{"alg":"HS256","typ":"at+jwt"}"#,
        ] {
            let input = format!("{}.{}", B64.encode(header), parts[1]);
            let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &KEY), input.as_bytes());
            assert!(bad(&format!("{input}.{}", B64.encode(tag))), "{header}");
        }
        // Garbage and oversize.
        for junk in ["", "..", "a.b.c", "a.b.c.d", &t[..t.len() - 2]] {
            assert!(bad(junk), "{junk}");
        }
        assert!(bad(&format!("{t}{}", "A".repeat(4096))));
    }
}
