//! Compact JWS (RFC 7515 §7.1) signing and verification.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Map, Value};

use crate::algorithm::{SigningKey, VerifyingKey};
use crate::error::KeyError;

/// Sign `payload` as a compact JWS with header `{"alg", "kid", ..extra}`.
pub fn sign_compact(key: &SigningKey, extra_header: &Map<String, Value>, payload: &[u8]) -> Result<String, KeyError> {
    let mut header = extra_header.clone();
    header.insert("alg".into(), Value::from(key.alg().as_str()));
    header.insert("kid".into(), Value::from(key.kid()));
    let header = serde_json::to_vec(&header).map_err(|_| KeyError::SigningFailed)?;
    let signing_input = format!("{}.{}", B64.encode(header), B64.encode(payload));
    let sig = key.sign(signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", B64.encode(sig)))
}

/// Verify a compact JWS with the key its header names, returning the header and payload.
///
/// `keys` is the caller's set of keys valid for verification now. The header's `alg` must
/// equal the key's algorithm: no `none`, no algorithm confusion.
pub fn verify_compact<'k>(
    token: &str,
    keys: impl IntoIterator<Item = &'k VerifyingKey>,
) -> Result<(Map<String, Value>, Vec<u8>), KeyError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(KeyError::MalformedJws);
    };
    let header: Map<String, Value> =
        B64.decode(h).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(KeyError::MalformedJws)?;
    let payload = B64.decode(p).map_err(|_| KeyError::MalformedJws)?;
    let sig = B64.decode(s).map_err(|_| KeyError::MalformedJws)?;
    // RFC 7515 §4.1.11: we understand no extension, so any `crit` makes the token unusable.
    if header.contains_key("crit") {
        return Err(KeyError::MalformedJws);
    }
    let kid = header.get("kid").and_then(Value::as_str).ok_or(KeyError::InvalidSignature)?;
    let alg = header.get("alg").and_then(Value::as_str).ok_or(KeyError::InvalidSignature)?;
    let key = keys.into_iter().find(|k| k.kid() == kid && k.alg().as_str() == alg).ok_or(KeyError::InvalidSignature)?;
    let signing_input_len = h.len() + 1 + p.len();
    let signing_input = token.get(..signing_input_len).ok_or(KeyError::MalformedJws)?;
    key.verify(signing_input.as_bytes(), &sig)?;
    Ok((header, payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;

    #[test]
    fn round_trip_and_tamper() {
        for alg in Algorithm::ALL {
            let k = SigningKey::generate(alg, format!("kid-{alg}")).unwrap();
            let vk = k.verifying_key();
            let mut extra = Map::new();
            extra.insert("typ".into(), "JWT".into());
            let t = sign_compact(&k, &extra, br#"{"sub":"x"}"#).unwrap();
            let (h, p) = verify_compact(&t, [&vk]).unwrap();
            assert_eq!(h["typ"], "JWT");
            assert_eq!(p, br#"{"sub":"x"}"#);
            // Changed payload.
            let mut parts: Vec<&str> = t.split('.').collect();
            let other = B64.encode(br#"{"sub":"y"}"#);
            parts[1] = &other;
            assert!(verify_compact(&parts.join("."), [&vk]).is_err());
        }
    }

    #[test]
    fn refuses_none_confusion_and_garbage() {
        let k = SigningKey::generate(Algorithm::EdDsa, "a").unwrap();
        let vk = k.verifying_key();
        let none = format!("{}.{}.", B64.encode(br#"{"alg":"none","kid":"a"}"#), B64.encode(b"{}"));
        assert!(verify_compact(&none, [&vk]).is_err());
        let confused = format!("{}.{}.AAAA", B64.encode(br#"{"alg":"RS256","kid":"a"}"#), B64.encode(b"{}"));
        assert!(verify_compact(&confused, [&vk]).is_err());
        for junk in ["", ".", "..", "a.b.c.d", "!!.!!.!!", "e30.e30"] {
            assert!(verify_compact(junk, [&vk]).is_err(), "{junk}");
        }
        let mut crit = Map::new();
        crit.insert("crit".into(), serde_json::json!(["exp"]));
        let t = sign_compact(&k, &crit, b"{}").unwrap();
        assert!(matches!(verify_compact(&t, [&vk]), Err(KeyError::MalformedJws)), "crit must be refused");
        let other = SigningKey::generate(Algorithm::EdDsa, "a").unwrap();
        let t = sign_compact(&other, &Map::new(), b"{}").unwrap();
        assert!(verify_compact(&t, [&vk]).is_err());
    }
}
