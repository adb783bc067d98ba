//! The master key and sealing of private keys at rest.
//!
//! Private keys are sealed with AES-256-GCM under a key derived from the master key by
//! HKDF-SHA256. The associated data binds each sealed blob to its key id and algorithm, so a
//! sealed key copied onto another record does not open.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, KeyType, Salt};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use zeroize::Zeroizing;

use crate::algorithm::Algorithm;
use crate::error::KeyError;

const SEAL_VERSION: u8 = 1;
const HKDF_SALT: &[u8] = b"idseal master key v1";

/// The 256-bit master key from which every at-rest and server secret is derived.
/// Zeroized on drop; `Debug` prints `<redacted>`.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

struct Len32;
impl KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

impl MasterKey {
    /// A new random master key.
    pub fn generate() -> Result<Self, KeyError> {
        let mut k = Zeroizing::new([0u8; 32]);
        SystemRandom::new().fill(k.as_mut()).map_err(|_| KeyError::GenerationFailed)?;
        Ok(Self(k))
    }

    /// Parse a master key written as 64 hex digits or 43 base64url characters
    /// (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let t = text.trim();
        let bytes = Zeroizing::new(if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| t.get(2 * i..2 * i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                .collect::<Option<Vec<u8>>>()
                .ok_or(KeyError::MalformedMasterKey("invalid hex"))?
        } else {
            B64.decode(t)
                .map_err(|_| KeyError::MalformedMasterKey("expected 64 hex digits or 43 base64url characters"))?
        });
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::MalformedMasterKey("a master key is exactly 32 bytes"))?;
        Ok(Self(Zeroizing::new(arr)))
    }

    /// The key as 64 hex digits, for writing a new key file.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// A 32-byte subkey for `purpose` (HKDF-SHA256, info = purpose).
    pub fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        let prk = Salt::new(HKDF_SHA256, HKDF_SALT).extract(self.0.as_ref());
        let info = [purpose.as_bytes()];
        // HKDF-Expand of 32 bytes from SHA-256 cannot fail (limit is 255 * 32).
        if let Ok(okm) = prk.expand(&info, Len32) {
            let _ = okm.fill(out.as_mut());
        }
        out
    }

    /// A public check value that tells whether two master keys are the same without revealing
    /// either (the first 16 bytes of a derived subkey, hex).
    pub fn check_value(&self) -> String {
        self.derive("idseal/master-key-check").iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    fn aead_key(&self) -> Result<LessSafeKey, KeyError> {
        let k = self.derive("idseal/key-encryption");
        UnboundKey::new(&AES_256_GCM, k.as_ref()).map(LessSafeKey::new).map_err(|_| KeyError::GenerationFailed)
    }

    /// Seal a private key for storage.
    pub fn seal(&self, kid: &str, alg: Algorithm, private_pkcs8: &[u8]) -> Result<SealedKey, KeyError> {
        let key = self.aead_key()?;
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| KeyError::GenerationFailed)?;
        let mut buf = private_pkcs8.to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad(kid, alg)), &mut buf)
            .map_err(|_| KeyError::SigningFailed)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(SEAL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(SealedKey(out))
    }

    /// Open a sealed private key; fails on a wrong master key or any change to the blob,
    /// its key id or its algorithm.
    pub fn open(&self, kid: &str, alg: Algorithm, sealed: &SealedKey) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let fail = || KeyError::UnsealFailed { kid: kid.to_owned() };
        let (version, rest) = sealed.0.split_first().ok_or_else(fail)?;
        if *version != SEAL_VERSION || rest.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
        let mut buf = Zeroizing::new(ct.to_vec());
        let key = self.aead_key()?;
        let plain_len =
            key.open_in_place(nonce, Aad::from(aad(kid, alg)), buf.as_mut_slice()).map_err(|_| fail())?.len();
        buf.truncate(plain_len);
        Ok(buf)
    }
}

fn aad(kid: &str, alg: Algorithm) -> Vec<u8> {
    let mut a = b"idseal sealed signing key v1\0".to_vec();
    a.extend_from_slice(alg.as_str().as_bytes());
    a.push(0);
    a.extend_from_slice(kid.as_bytes());
    a
}

/// A private key sealed for storage: version (1) || nonce (12) || AES-256-GCM ciphertext and tag.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedKey(pub Vec<u8>);

impl fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedKey({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_every_tamper_fails() {
        let m = MasterKey::generate().unwrap();
        let s = m.seal("k1", Algorithm::EdDsa, b"secret pkcs8").unwrap();
        assert_eq!(m.open("k1", Algorithm::EdDsa, &s).unwrap().as_slice(), b"secret pkcs8");
        assert!(m.open("k2", Algorithm::EdDsa, &s).is_err(), "kid is bound");
        assert!(m.open("k1", Algorithm::Es256, &s).is_err(), "alg is bound");
        let other = MasterKey::generate().unwrap();
        assert!(other.open("k1", Algorithm::EdDsa, &s).is_err(), "other master key");
        for i in 0..s.0.len() {
            let mut t = s.clone();
            t.0[i] ^= 1;
            assert!(m.open("k1", Algorithm::EdDsa, &t).is_err(), "flip at {i}");
        }
        assert!(m.open("k1", Algorithm::EdDsa, &SealedKey(vec![])).is_err());
        assert!(m.open("k1", Algorithm::EdDsa, &SealedKey(vec![1, 2, 3])).is_err());
    }

    #[test]
    fn parse_accepts_hex_and_base64url_only_of_32_bytes() {
        let m = MasterKey::generate().unwrap();
        let hex = m.to_hex();
        let again = MasterKey::parse(&format!("  {}\n", hex.as_str())).unwrap();
        assert_eq!(again.check_value(), m.check_value());
        let b64 = B64.encode(*m.0);
        assert_eq!(MasterKey::parse(&b64).unwrap().check_value(), m.check_value());
        for bad in ["", "abcd", &"0".repeat(63), &"g".repeat(64), &B64.encode([0u8; 31])] {
            assert!(MasterKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn derived_subkeys_are_separated_by_purpose() {
        let m = MasterKey::generate().unwrap();
        assert_ne!(*m.derive("a"), *m.derive("b"));
        assert_eq!(*m.derive("a"), *m.derive("a"));
        assert_eq!(format!("{m:?}"), "MasterKey(<redacted>)");
    }
}
