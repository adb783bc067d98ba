//! The hybrid `pq_sig` claim of ID tokens: an ML-DSA-65 (or Ed25519) signature over the RFC 8785
//! (JCS) canonical form of the other claims. Verification procedure: docs/oauth.md.
//!
//! The JCS implementation covers the JSON our claims use: objects, arrays, strings, booleans,
//! null and integers. Non-integer numbers are refused (RFC 8785 §3.2.2.3 would need the
//! ECMAScript number-to-string algorithm), which is fine because no claim we sign has one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use idseal_keys::{Algorithm, SigningKey, VerifyingKey};
use serde_json::{Map, Value};

use crate::error::OAuthError;

/// The claim name.
pub const CLAIM: &str = "pq_sig";

/// RFC 8785 canonical JSON of `value`.
///
/// # Errors
///
/// [`OAuthError::InvalidRequest`] when `value` holds a number JCS cannot represent exactly.
pub fn jcs(value: &Value) -> Result<Vec<u8>, OAuthError> {
    idseal_types::jcs::canonical_json(value)
        .map(String::into_bytes)
        .map_err(|e| OAuthError::InvalidRequest(format!("pq_sig: {e}")))
}

/// Whether `pq_sig` may use `alg`: ML-DSA-65 (the default) or Ed25519.
fn allowed(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::MlDsa65 | Algorithm::EdDsa)
}

/// The `pq_sig` value for `claims`: `{"alg", "kid", "sig"}`, `sig` being the base64url
/// signature of `jcs(claims)`. Add it to the claims before the JWS is signed.
///
/// # Errors
///
/// [`OAuthError::ServerError`] when the claims already hold `pq_sig`, hold a non-integer
/// number, the key is neither ML-DSA-65 nor Ed25519, or signing fails.
pub fn sign(claims: &Map<String, Value>, key: &SigningKey) -> Result<Value, OAuthError> {
    let fail = |m: &str| OAuthError::ServerError(m.to_owned());
    if claims.contains_key(CLAIM) {
        return Err(fail("claims already contain pq_sig"));
    }
    if !allowed(key.alg()) {
        return Err(fail("pq_sig needs an ML-DSA-65 or Ed25519 key"));
    }
    let canonical = idseal_types::jcs::canonical_json(&Value::Object(claims.clone())).map_err(|e| fail(e.0))?;
    let sig = key.sign(canonical.as_bytes()).map_err(|_| fail("pq_sig signing failed"))?;
    let mut m = Map::new();
    m.insert("alg".into(), key.alg().as_str().into());
    m.insert("kid".into(), key.kid().into());
    m.insert("sig".into(), B64.encode(sig).into());
    Ok(Value::Object(m))
}

/// Verify the `pq_sig` of a full claim set (as read from a verified ID token): remove `pq_sig`,
/// find its key by `kid`, check that the key's algorithm is `pq_sig.alg`, and verify `sig`
/// over the JCS form of the remaining claims.
///
/// # Errors
///
/// [`OAuthError::InvalidToken`] for every failure.
pub fn verify(claims: &Map<String, Value>, keys: &[VerifyingKey]) -> Result<(), OAuthError> {
    let fail = |m: &str| OAuthError::InvalidToken(m.to_owned());
    let pq = claims.get(CLAIM).and_then(Value::as_object).ok_or_else(|| fail("missing pq_sig"))?;
    let field = |name: &str| pq.get(name).and_then(Value::as_str).ok_or_else(|| fail("malformed pq_sig"));
    let (alg, kid, sig) = (field("alg")?, field("kid")?, field("sig")?);
    let key = keys
        .iter()
        .find(|k| k.kid() == kid && k.alg().as_str() == alg && allowed(k.alg()))
        .ok_or_else(|| fail("unknown pq_sig key"))?;
    let sig = B64.decode(sig).map_err(|_| fail("malformed pq_sig"))?;
    let mut rest = claims.clone();
    rest.remove(CLAIM);
    let canonical =
        idseal_types::jcs::canonical_json(&Value::Object(rest)).map_err(|_| fail("claims cannot be canonicalised"))?;
    key.verify(canonical.as_bytes(), &sig).map_err(|_| fail("invalid pq_sig"))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn canon(v: &Value) -> String {
        String::from_utf8(jcs(v).unwrap()).unwrap()
    }

    #[test]
    fn rfc8785_strings_and_literals() {
        // RFC 8785 §3.2.2.2 / Appendix: the string escaping example (numbers left out).
        let v = json!({"string": "\u{20ac}$\u{f}\nA'B\"\\\\\"/", "literals": [null, true, false]});
        assert_eq!(
            canon(&v),
            "{\"literals\":[null,true,false],\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
        );
        assert_eq!(canon(&json!("\u{1}\u{8}\u{c}\t\r\u{1f}\u{7f}")), "\"\\u0001\\b\\f\\t\\r\\u001f\u{7f}\"");
        assert_eq!(
            canon(&json!([1, -5, 0, 9_007_199_254_740_991_i64, -9_007_199_254_740_991_i64, 1.5])),
            "[1,-5,0,9007199254740991,-9007199254740991,1.5]"
        );
        // Beyond 2^53 a double cannot hold the integer exactly: refused, not mis-written.
        for big in [json!(9_007_199_254_740_992_i64), json!(u64::MAX), json!(-9_007_199_254_740_993_i64), json!(1e300)]
        {
            assert!(jcs(&big).is_err(), "{big}");
        }
        assert_eq!(canon(&json!({})), "{}");
        assert_eq!(canon(&json!([])), "[]");
    }

    #[test]
    fn rfc8785_sorting_example() {
        // RFC 8785 §3.2.3, with the number values replaced by strings.
        let v = json!({
            "\u{20ac}": "Euro Sign",
            "\r": "Carriage Return",
            "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\u{1f600}": "Emoji: Grinning Face",
            "\u{80}": "Control",
            "\u{f6}": "Latin Small Letter O With Diaeresis"
        });
        let out = canon(&v);
        let order: Vec<&str> =
            ["Carriage Return", "One", "Control", "Latin Small", "Euro Sign", "Emoji", "Hebrew"].to_vec();
        let positions: Vec<usize> = order.iter().map(|s| out.find(s).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{out}");
        // U+1D11E (surrogates D834 DD1E) sorts before U+FB33 by UTF-16, after it by code point.
        let v = json!({"\u{fb33}": 1, "\u{1d11e}": 2});
        assert_eq!(canon(&v), "{\"\u{1d11e}\":2,\"\u{fb33}\":1}");
        // Nested objects are sorted too.
        assert_eq!(
            canon(&json!({"b": {"z": 1, "a": [ {"y": 0, "x": 0} ]}, "a": null})),
            r#"{"a":null,"b":{"a":[{"x":0,"y":0}],"z":1}}"#
        );
    }

    #[test]
    fn numbers_follow_ecmascript_or_are_refused() {
        // The shared JCS writes doubles in their ECMAScript form where that needs no exponent,
        // and refuses what a double cannot hold exactly.
        assert_eq!(jcs(&json!({"a": 1.5, "b": 1.0})).unwrap(), br#"{"a":1.5,"b":1}"#);
        assert!(matches!(jcs(&json!({"a": 1e300})), Err(OAuthError::InvalidRequest(_))));
        assert!(jcs(&json!([1e-7])).is_err());
    }

    fn id_claims() -> Map<String, Value> {
        let Value::Object(m) = json!({"iss": "https://id.example", "sub": "s", "aud": "c", "exp": 2, "iat": 1,
            "name": "Zoë", "amr": ["pwd"], "email_verified": true})
        else {
            unreachable!()
        };
        m
    }

    #[test]
    fn sign_and_verify() {
        for alg in [Algorithm::MlDsa65, Algorithm::EdDsa] {
            let k = SigningKey::generate(alg, format!("pq-{alg}")).unwrap();
            let keys = [SigningKey::generate(alg, "other").unwrap().verifying_key(), k.verifying_key()];
            let mut claims = id_claims();
            let pq = sign(&claims, &k).unwrap();
            assert_eq!(pq["alg"], alg.as_str());
            assert_eq!(pq["kid"], k.kid());
            assert!(
                sign(
                    &{
                        let mut c = claims.clone();
                        c.insert(CLAIM.into(), pq.clone());
                        c
                    },
                    &k
                )
                .is_err()
            );
            claims.insert(CLAIM.into(), pq.clone());
            verify(&claims, &keys).unwrap();

            let bad = |c: &Map<String, Value>, keys: &[VerifyingKey]| {
                matches!(verify(c, keys), Err(OAuthError::InvalidToken(_)))
            };
            let mut t = claims.clone();
            t.insert("sub".into(), "other".into());
            assert!(bad(&t, &keys), "tampered claim");
            let mut t = claims.clone();
            t.insert("extra".into(), 1.into());
            assert!(bad(&t, &keys), "added claim");
            let mut t = claims.clone();
            t.remove("name");
            assert!(bad(&t, &keys), "removed claim");
            let mut t = claims.clone();
            t.insert(CLAIM.into(), json!({"alg": "RS256", "kid": pq["kid"], "sig": pq["sig"]}));
            assert!(bad(&t, &keys), "alg mismatch");
            let mut t = claims.clone();
            t.insert(CLAIM.into(), json!({"alg": pq["alg"], "kid": "nope", "sig": pq["sig"]}));
            assert!(bad(&t, &keys), "unknown kid");
            let mut t = claims.clone();
            t.insert(CLAIM.into(), json!({"alg": pq["alg"], "kid": pq["kid"], "sig": "!!"}));
            assert!(bad(&t, &keys), "bad base64");
            let mut t = claims.clone();
            t.insert(CLAIM.into(), json!("x"));
            assert!(bad(&t, &keys), "not an object");
            assert!(bad(&id_claims(), &keys), "missing");
            assert!(bad(&claims, &keys[..1]), "key not in set");
        }
        let rsa = SigningKey::generate(Algorithm::Es256, "ec").unwrap();
        assert!(matches!(sign(&id_claims(), &rsa), Err(OAuthError::ServerError(_))));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-(1_i64 << 53) + 1..(1_i64 << 53)).prop_map(Value::from),
            (0_u64..(1_u64 << 53)).prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                proptest::collection::btree_map(any::<String>(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn jcs_parses_back_and_is_stable(v in json_value()) {
            let out = jcs(&v).unwrap();
            let back: Value = serde_json::from_slice(&out).unwrap();
            prop_assert_eq!(&back, &v);
            prop_assert_eq!(jcs(&back).unwrap(), out);
        }
    }
}
