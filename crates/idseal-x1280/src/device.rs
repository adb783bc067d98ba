//! The enrolled device key (ECDSA P-256) and the exact messages the device signs.
//!
//! Signatures are ECDSA P-256 with SHA-256 in ASN.1 DER form (`SEQUENCE { r INTEGER, s INTEGER }`,
//! what Android Keystore, the iOS Secure Enclave and WebCrypto-to-DER produce), over the UTF-8
//! bytes of one of these messages:
//!
//! | action | message |
//! |---|---|
//! | approve a login | `{sessionId}\|{otp}\|{timestamp}\|{grantedScopes joined by one space, in the order sent}` |
//! | decline a login | `reject\|{sessionId}\|{otp}\|{timestamp}` |
//! | open the device channel (WebSocket challenge) | `idseal-device-channel\|{tokenId}\|{nonce}` |
//! | revoke one's own enrollment | `revoke\|{tokenId}\|{timestamp}` |
//!
//! `timestamp` is Unix seconds in decimal without leading zeros or `+`. An approval with no
//! granted scope ends with a `|`. The four forms cannot be confused: an approval starts with
//! `sess_`, the others with their fixed words.

use std::fmt;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _, ParsedPublicKey,
};
use zeroize::Zeroizing;

use crate::error::X1280Error;
use crate::prim::hex;
use crate::spki;

/// An enrolled device's public key: ECDSA P-256, uncompressed point, from a SubjectPublicKeyInfo.
#[derive(Clone)]
pub struct DevicePublicKey {
    spki: Vec<u8>,
    parsed: ParsedPublicKey,
}

impl DevicePublicKey {
    /// Parses a PEM `PUBLIC KEY` block (see the crate docs for what is refused).
    pub fn from_pem(pem: &str) -> Result<Self, X1280Error> {
        Self::from_spki_der(&spki::pem_decode(pem)?)
    }

    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, X1280Error> {
        let point = spki::parse_spki(der)?;
        Self::from_point(&point)
    }

    fn from_point(point: &[u8; 65]) -> Result<Self, X1280Error> {
        let parsed = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point.as_slice())
            .map_err(|_| X1280Error::BadPublicKey("point is not on P-256".into()))?;
        Ok(Self { spki: spki::spki_der(point), parsed })
    }

    /// The key as PEM (`-----BEGIN PUBLIC KEY-----`, 64-character lines, LF, final newline).
    pub fn to_pem(&self) -> String {
        spki::pem_encode(&self.spki)
    }

    /// The canonical SubjectPublicKeyInfo DER (91 bytes).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// Lowercase hex SHA-256 of the SPKI DER: a stable key identifier for logs and storage.
    pub fn thumbprint(&self) -> String {
        hex(digest(&SHA256, &self.spki).as_ref())
    }

    /// Verifies a DER ECDSA P-256 SHA-256 signature over `message`.
    pub fn verify(&self, message: &[u8], signature_der: &[u8]) -> Result<(), X1280Error> {
        self.parsed.verify_sig(message, signature_der).map_err(|_| X1280Error::InvalidSignature)
    }
}

impl PartialEq for DevicePublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.spki == other.spki
    }
}

impl Eq for DevicePublicKey {}

impl fmt::Debug for DevicePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevicePublicKey").field("thumbprint", &self.thumbprint()).finish()
    }
}

/// The message a device signs to approve a login with the scopes it grants.
pub fn approve_message(session_id: &str, otp: &str, timestamp: i64, granted: &[String]) -> String {
    format!("{session_id}|{otp}|{timestamp}|{}", granted.join(" "))
}

/// The message a device signs to decline a login.
pub fn reject_message(session_id: &str, otp: &str, timestamp: i64) -> String {
    format!("reject|{session_id}|{otp}|{timestamp}")
}

/// The message a device signs to answer the device-channel WebSocket challenge.
pub fn channel_message(token_id: &str, nonce: &str) -> String {
    format!("idseal-device-channel|{token_id}|{nonce}")
}

/// The message a device signs to revoke its own enrollment.
pub fn revoke_message(token_id: &str, timestamp: i64) -> String {
    format!("revoke|{token_id}|{timestamp}")
}

/// A device's private key, for tests and the device simulator (the real key lives in the phone's
/// secure hardware). `Debug` shows only the public thumbprint.
pub struct DeviceKey {
    pair: EcdsaKeyPair,
    public: DevicePublicKey,
}

impl DeviceKey {
    /// A new key. Uses aws-lc's system RNG: key generation cannot take caller randomness in
    /// aws-lc-rs, and this helper is never on the server's verification path.
    pub fn generate() -> Result<Self, X1280Error> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).map_err(|_| X1280Error::Crypto)?;
        Self::from_pair(pair)
    }

    /// The key from PKCS#8 (v1 or v2) DER.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, X1280Error> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der)
            .map_err(|_| X1280Error::BadRequest("not a P-256 PKCS#8 private key".into()))?;
        Self::from_pair(pair)
    }

    fn from_pair(pair: EcdsaKeyPair) -> Result<Self, X1280Error> {
        let point: [u8; 65] = pair.public_key().as_ref().try_into().map_err(|_| X1280Error::Crypto)?;
        let public = DevicePublicKey::from_point(&point)?;
        Ok(Self { pair, public })
    }

    /// The private key as PKCS#8 v1 DER, zeroized on drop.
    pub fn pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, X1280Error> {
        let doc = self.pair.to_pkcs8v1().map_err(|_| X1280Error::Crypto)?;
        Ok(Zeroizing::new(doc.as_ref().to_vec()))
    }

    /// The public key.
    pub fn public_key(&self) -> &DevicePublicKey {
        &self.public
    }

    /// A DER ECDSA P-256 SHA-256 signature over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, X1280Error> {
        let sig = self.pair.sign(&SystemRandom::new(), message).map_err(|_| X1280Error::Crypto)?;
        Ok(sig.as_ref().to_vec())
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKey").field("public", &self.public).field("private", &"<redacted>").finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let granted = vec!["identity:name".to_owned(), "identity:age_over_18".to_owned()];
        assert_eq!(
            approve_message("sess_ab", "048291", 1_711_929_600, &granted),
            "sess_ab|048291|1711929600|identity:name identity:age_over_18"
        );
        assert_eq!(approve_message("sess_ab", "048291", -5, &[]), "sess_ab|048291|-5|");
        assert_eq!(reject_message("sess_ab", "048291", 7), "reject|sess_ab|048291|7");
        assert_eq!(channel_message("tid", "n0"), "idseal-device-channel|tid|n0");
        assert_eq!(revoke_message("tid", 9), "revoke|tid|9");
    }

    #[test]
    fn sign_verify_round_trip() {
        let key = DeviceKey::generate().unwrap();
        let sig = key.sign(b"hello").unwrap();
        key.public_key().verify(b"hello", &sig).unwrap();
        assert_eq!(key.public_key().verify(b"hellp", &sig), Err(X1280Error::InvalidSignature));
        let other = DeviceKey::generate().unwrap();
        assert_eq!(other.public_key().verify(b"hello", &sig), Err(X1280Error::InvalidSignature));
        assert_eq!(key.public_key().verify(b"hello", &[]), Err(X1280Error::InvalidSignature));
    }

    #[test]
    fn pkcs8_and_pem_round_trip() {
        let key = DeviceKey::generate().unwrap();
        let again = DeviceKey::from_pkcs8(&key.pkcs8().unwrap()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let pem = key.public_key().to_pem();
        let parsed = DevicePublicKey::from_pem(&pem).unwrap();
        assert_eq!(&parsed, key.public_key());
        assert_eq!(parsed.spki_der().len(), 91);
        assert_eq!(parsed.thumbprint().len(), 64);
        assert!(DeviceKey::from_pkcs8(b"nope").is_err());
    }

    #[test]
    fn debug_shows_no_private_material() {
        let key = DeviceKey::generate().unwrap();
        let pkcs8 = key.pkcs8().unwrap();
        let dbg = format!("{key:?}");
        assert!(dbg.contains("<redacted>"));
        assert!(!dbg.contains(&hex(&pkcs8)));
    }

    #[test]
    fn point_off_the_curve_is_refused() {
        let mut point = [0x11; 65];
        point[0] = 0x04;
        let err = DevicePublicKey::from_spki_der(&spki::spki_der(&point)).unwrap_err();
        assert_eq!(err, X1280Error::BadPublicKey("point is not on P-256".into()));
    }
}
