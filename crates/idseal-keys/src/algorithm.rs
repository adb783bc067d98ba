//! Signing algorithms, key pairs and public keys.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
    ML_DSA_65, ML_DSA_65_SIGNING, PqdsaKeyPair, RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey,
};
use zeroize::Zeroizing;

use crate::error::KeyError;
use crate::jwk::Jwk;

/// A JWS signing algorithm that idseal can hold keys for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, RSA 2048 (RFC 7518 §3.3).
    Rs256,
    /// ECDSA P-256 with SHA-256, raw r||s (RFC 7518 §3.4).
    Es256,
    /// Ed25519 (RFC 8037).
    EdDsa,
    /// ML-DSA-65 (FIPS 204), pure mode with the empty context, as the JOSE ML-DSA draft uses it.
    MlDsa65,
}

impl Algorithm {
    /// Every supported algorithm, in the order keys are generated.
    pub const ALL: [Self; 4] = [Self::Rs256, Self::Es256, Self::EdDsa, Self::MlDsa65];

    /// The JOSE `alg` name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
            Self::MlDsa65 => "ML-DSA-65",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| KeyError::UnsupportedAlgorithm(s.chars().take(32).collect()))
    }
}

enum Inner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    MlDsa(PqdsaKeyPair),
}

/// A private signing key with its key id. Its `Debug` never shows key material.
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    inner: Inner,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private", &"<redacted>")
            .finish()
    }
}

impl SigningKey {
    /// Generate a new key for `alg` with key id `kid`, from the operating system's CSPRNG.
    pub fn generate(alg: Algorithm, kid: impl Into<String>) -> Result<Self, KeyError> {
        let inner = match alg {
            Algorithm::Rs256 => {
                Inner::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::GenerationFailed)?)
            }
            Algorithm::Es256 => Inner::Ec(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| KeyError::GenerationFailed)?,
            ),
            Algorithm::EdDsa => Inner::Ed(Ed25519KeyPair::generate().map_err(|_| KeyError::GenerationFailed)?),
            Algorithm::MlDsa65 => {
                Inner::MlDsa(PqdsaKeyPair::generate(&ML_DSA_65_SIGNING).map_err(|_| KeyError::GenerationFailed)?)
            }
        };
        Ok(Self { kid: kid.into(), alg, inner })
    }

    /// A deterministic Ed25519 (`EdDsa`) key from a 32-byte seed (RFC 8032 private key), for
    /// keys that must stay the same across restarts and rotations, such as the audit log's
    /// checkpoint key derived from the master key.
    pub fn ed25519_from_seed(kid: impl Into<String>, seed: &[u8; 32]) -> Result<Self, KeyError> {
        let kid = kid.into();
        let k = Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| KeyError::MalformedKey { kid: kid.clone() })?;
        Ok(Self { kid, alg: Algorithm::EdDsa, inner: Inner::Ed(k) })
    }

    /// Load a key from its PKCS#8 DER encoding.
    pub fn from_pkcs8(alg: Algorithm, kid: impl Into<String>, der: &[u8]) -> Result<Self, KeyError> {
        let kid = kid.into();
        let bad = |_| KeyError::MalformedKey { kid: kid.clone() };
        let inner = match alg {
            Algorithm::Rs256 => {
                let k = RsaKeyPair::from_pkcs8(der).map_err(bad)?;
                if k.public_modulus_len() < 256 {
                    return Err(KeyError::MalformedKey { kid });
                }
                Inner::Rsa(k)
            }
            Algorithm::Es256 => {
                Inner::Ec(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(bad)?)
            }
            Algorithm::EdDsa => Inner::Ed(Ed25519KeyPair::from_pkcs8(der).map_err(bad)?),
            Algorithm::MlDsa65 => Inner::MlDsa(PqdsaKeyPair::from_pkcs8(&ML_DSA_65_SIGNING, der).map_err(bad)?),
        };
        Ok(Self { kid, alg, inner })
    }

    /// The PKCS#8 DER encoding of the private key, zeroized on drop.
    pub fn to_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let err = |_| KeyError::MalformedKey { kid: self.kid.clone() };
        let der = match &self.inner {
            Inner::Rsa(k) => AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(k).map_err(err)?.as_ref().to_vec(),
            Inner::Ec(k) => k.to_pkcs8v1().map_err(err)?.as_ref().to_vec(),
            Inner::Ed(k) => k.to_pkcs8v1().map_err(err)?.as_ref().to_vec(),
            Inner::MlDsa(k) => k.to_pkcs8v1().map_err(err)?.as_ref().to_vec(),
        };
        Ok(Zeroizing::new(der))
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// Sign `msg`. ES256 signatures are raw r||s, as JWS requires.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.inner {
            Inner::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig).map_err(|_| KeyError::SigningFailed)?;
                Ok(sig)
            }
            Inner::Ec(k) => {
                Ok(k.sign(&SystemRandom::new(), msg).map_err(|_| KeyError::SigningFailed)?.as_ref().to_vec())
            }
            Inner::Ed(k) => Ok(k.sign(msg).as_ref().to_vec()),
            Inner::MlDsa(k) => {
                let mut sig = vec![0; ML_DSA_65_SIGNING.signature_len()];
                let n = k.sign(msg, &mut sig).map_err(|_| KeyError::SigningFailed)?;
                sig.truncate(n);
                Ok(sig)
            }
        }
    }

    /// The public half.
    pub fn verifying_key(&self) -> VerifyingKey {
        let public = match &self.inner {
            Inner::Rsa(k) => {
                let p = k.public_key();
                PublicMaterial::Rsa {
                    n: p.modulus().big_endian_without_leading_zero().to_vec(),
                    e: p.exponent().big_endian_without_leading_zero().to_vec(),
                }
            }
            Inner::Ec(k) => PublicMaterial::Raw(k.public_key().as_ref().to_vec()),
            Inner::Ed(k) => PublicMaterial::Raw(k.public_key().as_ref().to_vec()),
            Inner::MlDsa(k) => PublicMaterial::Raw(k.public_key().as_ref().to_vec()),
        };
        VerifyingKey { kid: self.kid.clone(), alg: self.alg, public }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum PublicMaterial {
    /// RSA modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// EC uncompressed point, Ed25519 public key, or ML-DSA public key.
    Raw(Vec<u8>),
}

/// A public key that verifies signatures of one algorithm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyingKey {
    kid: String,
    alg: Algorithm,
    public: PublicMaterial,
}

impl VerifyingKey {
    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// Verify `sig` over `msg`; opaque on failure.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), KeyError> {
        let bad = |_| KeyError::InvalidSignature;
        match (&self.public, self.alg) {
            (PublicMaterial::Rsa { n, e }, Algorithm::Rs256) => {
                signature::RsaPublicKeyComponents { n: n.as_slice(), e: e.as_slice() }
                    .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
                    .map_err(bad)
            }
            (PublicMaterial::Raw(p), Algorithm::Es256) => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, p).verify(msg, sig).map_err(bad)
            }
            (PublicMaterial::Raw(p), Algorithm::EdDsa) => {
                UnparsedPublicKey::new(&ED25519, p).verify(msg, sig).map_err(bad)
            }
            (PublicMaterial::Raw(p), Algorithm::MlDsa65) => {
                UnparsedPublicKey::new(&ML_DSA_65, p).verify(msg, sig).map_err(bad)
            }
            _ => Err(KeyError::InvalidSignature),
        }
    }

    /// The public JWK (RFC 7517; ML-DSA per the JOSE ML-DSA draft, `kty: "AKP"`).
    pub fn to_jwk(&self) -> Jwk {
        match &self.public {
            PublicMaterial::Rsa { n, e } => Jwk::rsa(&self.kid, n, e),
            PublicMaterial::Raw(p) => match self.alg {
                Algorithm::Es256 => {
                    // Uncompressed SEC1 point: 0x04 || x (32) || y (32).
                    let (x, y) = p.get(1..).unwrap_or_default().split_at(32.min(p.len().saturating_sub(1)));
                    Jwk::ec_p256(&self.kid, x, y)
                }
                Algorithm::EdDsa => Jwk::okp_ed25519(&self.kid, p),
                _ => Jwk::akp_ml_dsa_65(&self.kid, p),
            },
        }
    }

    /// Rebuild a verifying key from a public JWK; `None` when the JWK is not one we publish.
    pub fn from_jwk(jwk: &Jwk) -> Option<Self> {
        jwk.to_verifying_parts().map(|(alg, parts)| {
            let public = match parts {
                crate::jwk::PublicParts::Rsa { n, e } => PublicMaterial::Rsa { n, e },
                crate::jwk::PublicParts::Raw(p) => PublicMaterial::Raw(p),
            };
            Self { kid: jwk.kid.clone(), alg, public }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_verifies_and_survives_pkcs8() {
        for alg in Algorithm::ALL {
            let k = SigningKey::generate(alg, format!("k-{alg}")).unwrap();
            let sig = k.sign(b"hello").unwrap();
            let vk = k.verifying_key();
            vk.verify(b"hello", &sig).unwrap();
            assert!(vk.verify(b"hellO", &sig).is_err(), "{alg} accepted a changed message");
            let der = k.to_pkcs8().unwrap();
            let k2 = SigningKey::from_pkcs8(alg, k.kid(), &der).unwrap();
            assert_eq!(k2.verifying_key(), vk);
            // Through the JWK and back.
            let vk2 = VerifyingKey::from_jwk(&vk.to_jwk()).unwrap();
            vk2.verify(b"hello", &sig).unwrap();
        }
    }

    #[test]
    fn signature_lengths_match_the_algorithms() {
        let lens =
            [(Algorithm::Rs256, 256), (Algorithm::Es256, 64), (Algorithm::EdDsa, 64), (Algorithm::MlDsa65, 3309)];
        for (alg, len) in lens {
            let k = SigningKey::generate(alg, "k").unwrap();
            assert_eq!(k.sign(b"m").unwrap().len(), len, "{alg}");
        }
    }

    #[test]
    fn wrong_algorithm_material_is_rejected_not_panicking() {
        let ed = SigningKey::generate(Algorithm::EdDsa, "e").unwrap();
        let der = ed.to_pkcs8().unwrap();
        for alg in [Algorithm::Rs256, Algorithm::Es256, Algorithm::MlDsa65] {
            assert!(SigningKey::from_pkcs8(alg, "e", &der).is_err());
        }
        assert!(SigningKey::from_pkcs8(Algorithm::EdDsa, "e", b"\x30\x03\x02\x01").is_err());
    }

    #[test]
    fn algorithm_names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>().unwrap(), alg);
        }
        assert!("none".parse::<Algorithm>().is_err());
        assert!("HS256".parse::<Algorithm>().is_err());
    }

    #[test]
    fn debug_never_shows_key_material() {
        let k = SigningKey::generate(Algorithm::EdDsa, "kid1").unwrap();
        let s = format!("{k:?}");
        assert!(s.contains("<redacted>") && s.contains("kid1"));
    }
}
