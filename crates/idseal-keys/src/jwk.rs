//! Public JWKs (RFC 7517, RFC 7518 §6, RFC 8037) and the JWK Set we publish.
//!
//! ML-DSA keys follow the JOSE ML-DSA specification (draft-ietf-cose-dilithium): `kty: "AKP"`,
//! `alg: "ML-DSA-65"`, and the raw public key, base64url without padding, in `pub`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};

use crate::algorithm::Algorithm;

/// One public JWK. Only public members exist on this type: it cannot carry private material.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `RSA`, `EC`, `OKP` or `AKP`.
    pub kty: String,
    /// Key id.
    pub kid: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// The JWS algorithm the key is for.
    pub alg: String,
    /// Curve for `EC` and `OKP`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crv: Option<String>,
    /// RSA modulus.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub n: Option<String>,
    /// RSA exponent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub e: Option<String>,
    /// EC x coordinate or OKP public key.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub x: Option<String>,
    /// EC y coordinate.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub y: Option<String>,
    /// AKP public key.
    #[serde(rename = "pub", skip_serializing_if = "Option::is_none", default)]
    pub pub_: Option<String>,
}

pub(crate) enum PublicParts {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Raw(Vec<u8>),
}

impl Jwk {
    fn base(kty: &str, kid: &str, alg: Algorithm) -> Self {
        Self {
            kty: kty.into(),
            kid: kid.into(),
            use_: "sig".into(),
            alg: alg.as_str().into(),
            crv: None,
            n: None,
            e: None,
            x: None,
            y: None,
            pub_: None,
        }
    }

    pub(crate) fn rsa(kid: &str, n: &[u8], e: &[u8]) -> Self {
        Self { n: Some(B64.encode(n)), e: Some(B64.encode(e)), ..Self::base("RSA", kid, Algorithm::Rs256) }
    }

    pub(crate) fn ec_p256(kid: &str, x: &[u8], y: &[u8]) -> Self {
        Self {
            crv: Some("P-256".into()),
            x: Some(B64.encode(x)),
            y: Some(B64.encode(y)),
            ..Self::base("EC", kid, Algorithm::Es256)
        }
    }

    pub(crate) fn okp_ed25519(kid: &str, x: &[u8]) -> Self {
        Self { crv: Some("Ed25519".into()), x: Some(B64.encode(x)), ..Self::base("OKP", kid, Algorithm::EdDsa) }
    }

    pub(crate) fn akp_ml_dsa_65(kid: &str, public: &[u8]) -> Self {
        Self { pub_: Some(B64.encode(public)), ..Self::base("AKP", kid, Algorithm::MlDsa65) }
    }

    pub(crate) fn to_verifying_parts(&self) -> Option<(Algorithm, PublicParts)> {
        let d = |v: &Option<String>| v.as_deref().and_then(|s| B64.decode(s).ok());
        let alg: Algorithm = self.alg.parse().ok()?;
        match (self.kty.as_str(), alg, self.crv.as_deref()) {
            ("RSA", Algorithm::Rs256, None) => Some((alg, PublicParts::Rsa { n: d(&self.n)?, e: d(&self.e)? })),
            ("EC", Algorithm::Es256, Some("P-256")) => {
                let (x, y) = (d(&self.x)?, d(&self.y)?);
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Some((alg, PublicParts::Raw(point)))
            }
            ("OKP", Algorithm::EdDsa, Some("Ed25519")) => Some((alg, PublicParts::Raw(d(&self.x)?))),
            ("AKP", Algorithm::MlDsa65, None) => Some((alg, PublicParts::Raw(d(&self.pub_)?))),
            _ => None,
        }
    }
}

/// A JWK Set (RFC 7517 §5).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningKey;

    #[test]
    fn jwk_members_follow_the_specs() {
        let jwk = |alg| serde_json::to_value(SigningKey::generate(alg, "k").unwrap().verifying_key().to_jwk()).unwrap();
        let rsa = jwk(Algorithm::Rs256);
        assert_eq!(rsa["kty"], "RSA");
        assert_eq!(rsa["e"], "AQAB");
        assert_eq!(B64.decode(rsa["n"].as_str().unwrap()).unwrap().len(), 256);
        let ec = jwk(Algorithm::Es256);
        assert_eq!((ec["kty"].as_str(), ec["crv"].as_str()), (Some("EC"), Some("P-256")));
        let ed = jwk(Algorithm::EdDsa);
        assert_eq!((ed["kty"].as_str(), ed["crv"].as_str()), (Some("OKP"), Some("Ed25519")));
        let ml = jwk(Algorithm::MlDsa65);
        assert_eq!((ml["kty"].as_str(), ml["alg"].as_str()), (Some("AKP"), Some("ML-DSA-65")));
        assert_eq!(B64.decode(ml["pub"].as_str().unwrap()).unwrap().len(), 1952);
        for v in [rsa, ec, ed, ml] {
            assert_eq!(v["use"], "sig");
            for private in ["d", "p", "q", "dp", "dq", "qi", "priv"] {
                assert!(v.get(private).is_none());
            }
        }
    }

    #[test]
    fn malformed_jwks_are_refused() {
        let mut j = SigningKey::generate(Algorithm::Es256, "k").unwrap().verifying_key().to_jwk();
        j.x = Some("AAAA".into());
        assert!(crate::VerifyingKey::from_jwk(&j).is_none());
        j.alg = "none".into();
        assert!(crate::VerifyingKey::from_jwk(&j).is_none());
    }
}
