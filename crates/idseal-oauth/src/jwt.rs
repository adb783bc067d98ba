//! Signed JWTs (RFC 7519) over `idseal_keys` compact JWS: ID tokens and RFC 9068 access tokens.

use idseal_keys::{SigningKey, VerifyingKey, sign_compact, verify_compact};
use idseal_types::UnixTime;
use serde_json::{Map, Value};

use crate::error::OAuthError;

/// Largest token [`verify`] looks at, in bytes (an ML-DSA-65 signature alone is 4.4 KiB in base64url).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Sign `claims` as a compact JWS with header `{"typ": typ, "alg", "kid"}` (alg and kid from the key).
///
/// # Errors
///
/// [`OAuthError::ServerError`] when the claims do not serialise or the key fails to sign.
pub fn sign(key: &SigningKey, typ: &str, claims: &Map<String, Value>) -> Result<String, OAuthError> {
    let mut header = Map::new();
    header.insert("typ".into(), typ.into());
    let payload = serde_json::to_vec(claims).map_err(|_| OAuthError::ServerError("claims do not serialise".into()))?;
    sign_compact(key, &header, &payload).map_err(|_| OAuthError::ServerError("token signing failed".into()))
}

/// A verified JWT.
#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
}

/// Verify a compact JWT signed by one of `keys` (RFC 7519 §7.2).
///
/// The header's `kid` picks the key and its `alg` must be that key's algorithm. When
/// `expected_typ` is given the header's `typ` must equal it, case-insensitively, with or
/// without the `application/` prefix (RFC 7515 §4.1.9; RFC 9068 §4). `iss` must equal
/// `issuer`. When `check_exp`, `exp` must be an integer after `now` (no leeway); `id_token_hint`
/// at logout passes `false`.
///
/// # Errors
///
/// [`OAuthError::InvalidToken`] with a short reason for every failure.
pub fn verify(
    token: &str,
    keys: &[VerifyingKey],
    expected_typ: Option<&str>,
    issuer: &str,
    now: UnixTime,
    check_exp: bool,
) -> Result<Verified, OAuthError> {
    let fail = |m: &str| OAuthError::InvalidToken(m.to_owned());
    if token.len() > MAX_TOKEN_LEN {
        return Err(fail("token too large"));
    }
    let (header, payload) = verify_compact(token, keys).map_err(|_| fail("invalid token signature"))?;
    if let Some(expected) = expected_typ {
        let typ = header.get("typ").and_then(Value::as_str).unwrap_or("");
        if !typ_matches(typ, expected) {
            return Err(fail("wrong token type"));
        }
    }
    let claims: Map<String, Value> = serde_json::from_slice(&payload).map_err(|_| fail("malformed claims"))?;
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(fail("wrong issuer"));
    }
    if check_exp {
        let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(|| fail("missing exp"))?;
        if exp <= now.as_secs() {
            return Err(fail("token expired"));
        }
    }
    Ok(Verified { header, claims })
}

/// `typ` comparison: case-insensitive, and `application/` may be left out (RFC 7515 §4.1.9).
fn typ_matches(typ: &str, expected: &str) -> bool {
    let strip = |s: &str| -> String {
        let lower = s.to_ascii_lowercase();
        lower.strip_prefix("application/").map(str::to_owned).unwrap_or(lower)
    };
    strip(typ) == strip(expected)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use idseal_keys::Algorithm;
    use serde_json::json;

    use super::*;

    const ISS: &str = "https://id.example";

    fn claims(exp: i64) -> Map<String, Value> {
        let Value::Object(m) = json!({"iss": ISS, "sub": "s", "exp": exp}) else { unreachable!() };
        m
    }

    #[test]
    fn round_trips_for_every_algorithm() {
        for alg in Algorithm::ALL {
            let k = SigningKey::generate(alg, format!("k-{alg}")).unwrap();
            let keys = [k.verifying_key()];
            let t = sign(&k, "at+jwt", &claims(200)).unwrap();
            let v = verify(&t, &keys, Some("at+jwt"), ISS, UnixTime::from_secs(100), true).unwrap();
            assert_eq!(v.claims, claims(200));
            assert_eq!(v.header["alg"], alg.as_str());
            assert_eq!(v.header["kid"], k.kid());
            assert_eq!(v.header["typ"], "at+jwt");
            verify(&t, &keys, Some("application/AT+JWT"), ISS, UnixTime::from_secs(100), true).unwrap();
            verify(&t, &keys, None, ISS, UnixTime::from_secs(100), true).unwrap();
        }
    }

    #[test]
    fn failures() {
        let k = SigningKey::generate(Algorithm::Es256, "k1").unwrap();
        let keys = [k.verifying_key()];
        let now = UnixTime::from_secs(100);
        let t = sign(&k, "JWT", &claims(200)).unwrap();
        let bad = |r: Result<Verified, OAuthError>| matches!(r, Err(OAuthError::InvalidToken(_)));

        // Tampered payload.
        let parts: Vec<&str> = t.split('.').collect();
        let forged = B64.encode(serde_json::to_vec(&claims(9999)).unwrap());
        let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
        assert!(bad(verify(&tampered, &keys, Some("JWT"), ISS, now, true)));
        // Wrong kid: a key with the same algorithm under another kid.
        let other = SigningKey::generate(Algorithm::Es256, "k2").unwrap();
        assert!(bad(verify(&t, &[other.verifying_key()], Some("JWT"), ISS, now, true)));
        // Right kid, other key material.
        let same_kid = SigningKey::generate(Algorithm::Es256, "k1").unwrap();
        assert!(bad(verify(&t, &[same_kid.verifying_key()], Some("JWT"), ISS, now, true)));
        // Wrong typ.
        assert!(bad(verify(&t, &keys, Some("at+jwt"), ISS, now, true)));
        // Wrong issuer.
        assert!(bad(verify(&t, &keys, Some("JWT"), "https://other.example", now, true)));
        // Expired (exp == now counts as expired), but accepted without the exp check.
        assert!(bad(verify(&t, &keys, Some("JWT"), ISS, UnixTime::from_secs(200), true)));
        verify(&t, &keys, Some("JWT"), ISS, UnixTime::from_secs(5000), false).unwrap();
        // Missing or non-integer exp.
        let mut c = claims(0);
        c.remove("exp");
        let t2 = sign(&k, "JWT", &c).unwrap();
        assert!(bad(verify(&t2, &keys, None, ISS, now, true)));
        c.insert("exp".into(), json!("300"));
        let t3 = sign(&k, "JWT", &c).unwrap();
        assert!(bad(verify(&t3, &keys, None, ISS, now, true)));
        // Too large, garbage, alg none.
        assert!(bad(verify(&"a".repeat(MAX_TOKEN_LEN + 1), &keys, None, ISS, now, true)));
        assert!(bad(verify("a.b.c", &keys, None, ISS, now, true)));
        let none = format!("{}.{}.", B64.encode(br#"{"alg":"none","kid":"k1"}"#), parts[1]);
        assert!(bad(verify(&none, &keys, None, ISS, now, true)));
        // Claims that are not an object.
        let arr = sign_compact(&k, &Map::new(), b"[1]").unwrap();
        assert!(bad(verify(&arr, &keys, None, ISS, now, true)));
    }
}
