//! The X.509 pieces XML-DSig needs: the SubjectPublicKeyInfo of a signer certificate (to verify
//! SignatureValue), and a minimal self-signed certificate for a list-signing key.
//!
//! DER is read and written with `idseal-der`; only what locating the SPKI needs is read. Trust in
//! the certificate is not decided here.

use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, ECDSA_P521_SHA256_FIXED, ECDSA_P521_SHA384_FIXED,
    ECDSA_P521_SHA512_FIXED, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512,
    UnparsedPublicKey,
};
use idseal_der::{DerError, Reader, ecdsa_signature, generalized_time, seq, set, tag, tlv, uint};
use idseal_keys::{Algorithm, SigningKey};
use idseal_types::UnixTime;

use crate::TrustError;

fn cert_err(reason: &str) -> TrustError {
    TrustError::Certificate(reason.to_owned())
}

fn der_err(e: DerError) -> TrustError {
    cert_err(e.reason)
}

const OID_EC: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
const OID_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const OID_P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
const OID_P521: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x23];

/// The public key of a certificate, as the verifier needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PublicKey {
    /// EC key: curve (256, 384, 521) and the uncompressed point.
    Ec(u16, Vec<u8>),
    /// RSA key: the PKCS#1 RSAPublicKey DER.
    Rsa(Vec<u8>),
}

/// The public key of an X.509 certificate (DER). Refuses trailing bytes and unknown key types.
pub(crate) fn public_key(cert_der: &[u8]) -> Result<PublicKey, TrustError> {
    let mut outer = Reader::new(cert_der);
    let mut cert = outer.sequence("expected Certificate SEQUENCE").map_err(der_err)?;
    outer.finish("bytes after the certificate").map_err(der_err)?;
    let mut tbs = cert.sequence("expected TBSCertificate SEQUENCE").map_err(der_err)?;
    if tbs.peek_tag() == Some(0xA0) {
        tbs.read().map_err(der_err)?;
    }
    // serial, signature, issuer, validity, subject
    tbs.expect(tag::INTEGER, "expected serial").map_err(der_err)?;
    tbs.sequence("expected signature algorithm").map_err(der_err)?;
    tbs.sequence("expected issuer").map_err(der_err)?;
    tbs.sequence("expected validity").map_err(der_err)?;
    tbs.sequence("expected subject").map_err(der_err)?;
    let mut spki = tbs.sequence("expected SubjectPublicKeyInfo").map_err(der_err)?;
    let mut alg = spki.sequence("expected key algorithm").map_err(der_err)?;
    let bits = spki.expect(tag::BIT_STRING, "expected subjectPublicKey").map_err(der_err)?;
    spki.finish("bytes after subjectPublicKey").map_err(der_err)?;
    let key = match bits.split_first() {
        Some((0, key)) => key,
        _ => return Err(cert_err("subjectPublicKey has unused bits")),
    };
    let oid = alg.expect(tag::OID, "expected key algorithm OID").map_err(der_err)?;
    if oid == OID_EC {
        let curve = alg.expect(tag::OID, "expected named curve").map_err(der_err)?;
        let (bits, len) = match curve {
            c if c == OID_P256 => (256, 65),
            c if c == OID_P384 => (384, 97),
            c if c == OID_P521 => (521, 133),
            _ => return Err(cert_err("unsupported EC curve")),
        };
        if key.len() != len || key.first() != Some(&0x04) {
            return Err(cert_err("EC key is not an uncompressed point"));
        }
        Ok(PublicKey::Ec(bits, key.to_vec()))
    } else if oid == OID_RSA {
        Ok(PublicKey::Rsa(key.to_vec()))
    } else {
        Err(cert_err("unsupported key algorithm"))
    }
}

/// Verify `sig` over `msg` with `key` for the XML-DSig SignatureMethod `(family, hash bits)`.
/// An algorithm the key cannot do is [`TrustError::SignatureForm`]; a bad signature
/// [`TrustError::BadSignature`].
pub(crate) fn verify(key: &PublicKey, ecdsa: bool, hash: u16, msg: &[u8], sig: &[u8]) -> Result<(), TrustError> {
    let alg: &'static dyn signature::VerificationAlgorithm = match (key, ecdsa, hash) {
        (PublicKey::Ec(256, _), true, 256) => &ECDSA_P256_SHA256_FIXED,
        (PublicKey::Ec(384, _), true, 384) => &ECDSA_P384_SHA384_FIXED,
        (PublicKey::Ec(521, _), true, 256) => &ECDSA_P521_SHA256_FIXED,
        (PublicKey::Ec(521, _), true, 384) => &ECDSA_P521_SHA384_FIXED,
        (PublicKey::Ec(521, _), true, 512) => &ECDSA_P521_SHA512_FIXED,
        (PublicKey::Rsa(_), false, 256) => &RSA_PKCS1_2048_8192_SHA256,
        (PublicKey::Rsa(_), false, 384) => &RSA_PKCS1_2048_8192_SHA384,
        (PublicKey::Rsa(_), false, 512) => &RSA_PKCS1_2048_8192_SHA512,
        _ => return Err(TrustError::SignatureForm("SignatureMethod does not fit the certificate key".into())),
    };
    let raw = match key {
        PublicKey::Ec(_, p) | PublicKey::Rsa(p) => p,
    };
    UnparsedPublicKey::new(alg, raw).verify(msg, sig).map_err(|_| TrustError::BadSignature)
}

/// A minimal self-signed X.509 v3 certificate (DER) for an ES256 or RS256 list-signing key:
/// subject = issuer = `CN=<common_name>`, validity `[not_before, not_after]`, serial derived from
/// the key, no extensions. For tests and development lists; production signers bring a CA-issued
/// certificate.
pub fn self_signed_certificate(
    key: &SigningKey,
    common_name: &str,
    not_before: UnixTime,
    not_after: UnixTime,
) -> Result<Vec<u8>, TrustError> {
    use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
    use aws_lc_rs::signature::KeyPair;
    let signing = |e: &dyn std::fmt::Display| TrustError::Signing(e.to_string());
    let pkcs8 = key.to_pkcs8().map_err(|e| signing(&e))?;
    let (spki, sig_alg) = match key.alg() {
        Algorithm::Es256 => {
            let kp = signature::EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
                .map_err(|e| signing(&e))?;
            let spki: PublicKeyX509Der<'_> = kp.public_key().as_der().map_err(|e| signing(&e))?;
            // ecdsa-with-SHA256, no parameters
            (spki.as_ref().to_vec(), seq(&[&tlv(tag::OID, &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02])]))
        }
        Algorithm::Rs256 => {
            let kp = signature::RsaKeyPair::from_pkcs8(&pkcs8).map_err(|e| signing(&e))?;
            let spki: PublicKeyX509Der<'_> = kp.public_key().as_der().map_err(|e| signing(&e))?;
            // sha256WithRSAEncryption, NULL parameters
            let oid = tlv(tag::OID, &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B]);
            (spki.as_ref().to_vec(), seq(&[&oid, &tlv(tag::NULL, &[])]))
        }
        other => return Err(TrustError::Signing(format!("{other} keys cannot sign lists"))),
    };
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &spki);
    let mut serial = digest.as_ref().get(..16).unwrap_or_default().to_vec();
    if let Some(b) = serial.first_mut() {
        *b &= 0x7F;
        *b |= 0x01;
    }
    let cn = seq(&[&tlv(tag::OID, &[0x55, 0x04, 0x03]), &tlv(tag::UTF8_STRING, common_name.as_bytes())]);
    let name = seq(&[&set(&[&cn])]);
    let time = |t: UnixTime| generalized_time(t.as_secs()).map_err(der_err);
    let validity = seq(&[&time(not_before)?, &time(not_after)?]);
    let tbs = seq(&[&tlv(0xA0, &uint(&[2])), &tlv(tag::INTEGER, &serial), &sig_alg, &name, &validity, &name, &spki]);
    let raw = key.sign(&tbs).map_err(|e| signing(&e))?;
    let sig = if key.alg() == Algorithm::Es256 { ecdsa_signature(&raw).map_err(|e| signing(&e))? } else { raw };
    let mut bits = vec![0u8];
    bits.extend_from_slice(&sig);
    Ok(seq(&[&tbs, &sig_alg, &tlv(tag::BIT_STRING, &bits)]))
}
