//! The X.509 pieces XML-DSig needs: the SubjectPublicKeyInfo of a signer certificate (to verify
//! SignatureValue), and a minimal self-signed certificate for a list-signing key.
//!
//! A small strict DER reader: only what locating the SPKI needs. Trust in the certificate is not
//! decided here.

use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, ECDSA_P521_SHA256_FIXED, ECDSA_P521_SHA384_FIXED,
    ECDSA_P521_SHA512_FIXED, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512,
    UnparsedPublicKey,
};
use idseal_keys::{Algorithm, SigningKey};
use idseal_types::UnixTime;

use crate::TrustError;

fn cert_err(reason: &str) -> TrustError {
    TrustError::Certificate(reason.to_owned())
}

/// One DER TLV: (tag, content, rest). Definite lengths only, minimal encoding.
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), TrustError> {
    let (&tag, rest) = input.split_first().ok_or_else(|| cert_err("truncated DER"))?;
    let (&first, rest) = rest.split_first().ok_or_else(|| cert_err("truncated DER"))?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            return Err(cert_err("unsupported DER length"));
        }
        let bytes = rest.get(..n).ok_or_else(|| cert_err("truncated DER"))?;
        if bytes.first() == Some(&0) {
            return Err(cert_err("non-minimal DER length"));
        }
        let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        if len < 0x80 {
            return Err(cert_err("non-minimal DER length"));
        }
        (len, rest.get(n..).unwrap_or_default())
    };
    let content = rest.get(..len).ok_or_else(|| cert_err("truncated DER"))?;
    Ok((tag, content, rest.get(len..).unwrap_or_default()))
}

fn expect<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<(&'a [u8], &'a [u8]), TrustError> {
    let (t, content, rest) = tlv(input)?;
    if t != tag {
        return Err(TrustError::Certificate(format!("expected {what}")));
    }
    Ok((content, rest))
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
    let (cert, rest) = expect(cert_der, 0x30, "Certificate SEQUENCE")?;
    if !rest.is_empty() {
        return Err(cert_err("bytes after the certificate"));
    }
    let (mut tbs, _) = expect(cert, 0x30, "TBSCertificate SEQUENCE")?;
    if tbs.first() == Some(&0xA0) {
        tbs = tlv(tbs)?.2;
    }
    // serial, signature, issuer, validity, subject
    let (_, tbs) = expect(tbs, 0x02, "serial")?;
    let (_, tbs) = expect(tbs, 0x30, "signature algorithm")?;
    let (_, tbs) = expect(tbs, 0x30, "issuer")?;
    let (_, tbs) = expect(tbs, 0x30, "validity")?;
    let (_, tbs) = expect(tbs, 0x30, "subject")?;
    let (spki, _) = expect(tbs, 0x30, "SubjectPublicKeyInfo")?;
    let (alg, spki_rest) = expect(spki, 0x30, "key algorithm")?;
    let (bits, after) = expect(spki_rest, 0x03, "subjectPublicKey")?;
    if !after.is_empty() {
        return Err(cert_err("bytes after subjectPublicKey"));
    }
    let key = match bits.split_first() {
        Some((0, key)) => key,
        _ => return Err(cert_err("subjectPublicKey has unused bits")),
    };
    let (oid, params) = expect(alg, 0x06, "key algorithm OID")?;
    if oid == OID_EC {
        let (curve, _) = expect(params, 0x06, "named curve")?;
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

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or_default());
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | u8::try_from(significant.len()).unwrap_or_default());
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

fn der_seq(parts: &[&[u8]]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

fn generalized_time(t: UnixTime) -> Result<Vec<u8>, TrustError> {
    let dt = time::OffsetDateTime::from_unix_timestamp(t.as_secs()).map_err(|_| cert_err("time out of range"))?;
    let s = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    Ok(der(0x18, s.as_bytes()))
}

/// DER ECDSA-Sig-Value from raw r||s.
fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    let (r, s) = raw.split_at(raw.len() / 2);
    let int = |v: &[u8]| {
        let v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
        let mut c = Vec::with_capacity(v.len() + 1);
        if v.first().is_none_or(|b| b & 0x80 != 0) {
            c.push(0);
        }
        c.extend_from_slice(&v);
        der(0x02, &c)
    };
    der_seq(&[&int(r), &int(s)])
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
            (spki.as_ref().to_vec(), der_seq(&[&der(0x06, &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02])]))
        }
        Algorithm::Rs256 => {
            let kp = signature::RsaKeyPair::from_pkcs8(&pkcs8).map_err(|e| signing(&e))?;
            let spki: PublicKeyX509Der<'_> = kp.public_key().as_der().map_err(|e| signing(&e))?;
            // sha256WithRSAEncryption, NULL parameters
            let oid = der(0x06, &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B]);
            (spki.as_ref().to_vec(), der_seq(&[&oid, &[0x05, 0x00]]))
        }
        other => return Err(TrustError::Signing(format!("{other} keys cannot sign lists"))),
    };
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &spki);
    let mut serial = digest.as_ref().get(..16).unwrap_or_default().to_vec();
    if let Some(b) = serial.first_mut() {
        *b &= 0x7F;
        *b |= 0x01;
    }
    let cn = der_seq(&[&der(0x06, &[0x55, 0x04, 0x03]), &der(0x0C, common_name.as_bytes())]);
    let name = der_seq(&[&der(0x31, &cn)]);
    let validity = der_seq(&[&generalized_time(not_before)?, &generalized_time(not_after)?]);
    let tbs = der_seq(&[&der(0xA0, &der(0x02, &[2])), &der(0x02, &serial), &sig_alg, &name, &validity, &name, &spki]);
    let raw = key.sign(&tbs).map_err(|e| signing(&e))?;
    let sig = if key.alg() == Algorithm::Es256 { ecdsa_der(&raw) } else { raw };
    let mut bits = vec![0u8];
    bits.extend_from_slice(&sig);
    Ok(der_seq(&[&tbs, &sig_alg, &der(0x03, &bits)]))
}
