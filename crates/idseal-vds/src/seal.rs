//! The whole seal: `header || payload || signature`, signing, decoding and verification.
//!
//! The signature is raw `r || s` (32 + 32 bytes) of ECDSA P-256 with SHA-256 whose *message* is
//! `header || SHA-256(payload)`: the ECDSA-SHA256 primitive hashes that message once more, so the
//! signed digest is `SHA-256(header || SHA-256(payload))`. Only low-S signatures are canonical:
//! signing normalises `s` to `min(s, n - s)` and decoding refuses `s > n/2`
//! ([`VdsError::HighS`]), so one signed content has one accepted binary and one fingerprint.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, ParsedPublicKey,
};
use idseal_types::UnixTime;

use crate::error::{Scalar, VdsError};
use crate::header::{CertificateReference, Header, ManifestId};
use crate::manifest::Manifest;
use crate::payload::{Identity, Payload, decode_fields};
use crate::service::Service;
use crate::transport::{self, Transport};

/// Length of a raw P-256 signature.
pub const SIGNATURE_LEN: usize = 64;

/// The P-256 group order n.
const N: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xBC, 0xE6, 0xFA,
    0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
];
/// floor(n / 2): the largest low-S value.
const HALF_N: [u8; 32] = [
    0x7F, 0xFF, 0xFF, 0xFF, 0x80, 0x00, 0x00, 0x00, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xDE, 0x73, 0x7D,
    0x56, 0xD3, 0x8B, 0xCF, 0x42, 0x79, 0xDC, 0xE5, 0x61, 0x7E, 0x31, 0x92, 0xA8,
];

/// A signing backend: a local key here, a PKCS#11 key later.
pub trait SealSigner {
    /// The certificate reference that goes into the header.
    fn certificate_reference(&self) -> &CertificateReference;

    /// ECDSA P-256 with SHA-256 over `message` (the backend hashes it), as raw `r || s`.
    /// Either S form may be returned; [`encode_signed`] normalises to low S.
    fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], VdsError>;
}

/// A signer holding a P-256 private key in memory (from PKCS#8).
pub struct LocalSigner {
    key: EcdsaKeyPair,
    certificate_reference: CertificateReference,
}

impl std::fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSigner")
            .field("certificate_reference", &self.certificate_reference)
            .finish_non_exhaustive()
    }
}

impl LocalSigner {
    /// A signer from an unencrypted PKCS#8 v1 P-256 private key.
    pub fn from_pkcs8(pkcs8: &[u8], certificate_reference: CertificateReference) -> Result<Self, VdsError> {
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).map_err(|_| VdsError::BadSigningKey)?;
        Ok(Self { key, certificate_reference })
    }

    /// The public key as an uncompressed point (65 bytes, `0x04 || X || Y`).
    pub fn public_key(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }
}

impl SealSigner for LocalSigner {
    fn certificate_reference(&self) -> &CertificateReference {
        &self.certificate_reference
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], VdsError> {
        let sig = self
            .key
            .sign(&SystemRandom::new(), message)
            .map_err(|_| VdsError::SigningFailed { reason: "aws-lc ECDSA signing failed".into() })?;
        sig.as_ref().try_into().map_err(|_| VdsError::SigningFailed { reason: "signature is not 64 bytes".into() })
    }
}

/// The content of a seal: header fields and typed payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vds {
    /// The header fields.
    pub header: Header,
    /// The payload; its manifest must be the header's.
    pub payload: Payload,
}

impl Vds {
    /// An identity seal (manifest `0x0A0001`).
    pub fn identity(certificate_reference: CertificateReference, issued_at: UnixTime, payload: Identity) -> Self {
        Self {
            header: Header { certificate_reference, manifest_id: ManifestId::IDENTITY, issued_at },
            payload: Payload::Identity(payload),
        }
    }

    /// A service seal (manifest `0x0A0002`).
    pub fn service(certificate_reference: CertificateReference, issued_at: UnixTime, payload: Service) -> Self {
        Self {
            header: Header { certificate_reference, manifest_id: ManifestId::SERVICE, issued_at },
            payload: Payload::Service(payload),
        }
    }

    /// The signed bytes: header and payload (the signature input is built from them). Refuses
    /// a payload whose manifest is not the header's (`WrongManifest`).
    pub fn to_be_signed(&self) -> Result<(Vec<u8>, Vec<u8>), VdsError> {
        Manifest::for_id(self.header.manifest_id)?;
        let found = self.payload.manifest_id();
        if found != self.header.manifest_id {
            return Err(VdsError::WrongManifest { expected: self.header.manifest_id.value(), found: found.value() });
        }
        if self.payload.expires_at() <= self.header.issued_at {
            return Err(VdsError::ExpiryBeforeIssue);
        }
        let payload = self.payload.encode()?;
        let header = self.header.encode(payload.len())?;
        Ok((header, payload))
    }
}

/// The ECDSA message: `header || SHA-256(payload)`.
pub fn signature_message(header: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(header.len() + 32);
    m.extend_from_slice(header);
    m.extend_from_slice(digest(&SHA256, payload).as_ref());
    m
}

fn is_zero(x: &[u8; 32]) -> bool {
    x.iter().all(|&b| b == 0)
}

/// `n - s` for `0 < s < n`.
fn n_minus(s: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0u16;
    for ((o, &a), &b) in out.iter_mut().zip(N.iter()).zip(s.iter()).rev() {
        let d = u16::from(a).wrapping_sub(u16::from(b)).wrapping_sub(borrow);
        *o = d.to_be_bytes()[1];
        borrow = u16::from(d > 0xFF);
    }
    out
}

fn split(sig: &[u8; SIGNATURE_LEN]) -> ([u8; 32], [u8; 32]) {
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    let (a, b) = sig.split_at(32);
    r.copy_from_slice(a);
    s.copy_from_slice(b);
    (r, s)
}

/// Checks `0 < r < n`, `0 < s < n` and `s <= n/2`.
pub fn check_signature_scalars(sig: &[u8; SIGNATURE_LEN]) -> Result<(), VdsError> {
    let (r, s) = split(sig);
    for (which, x) in [(Scalar::R, &r), (Scalar::S, &s)] {
        if is_zero(x) {
            return Err(VdsError::BadSignatureEncoding { which, reason: "zero" });
        }
        if *x >= N {
            return Err(VdsError::BadSignatureEncoding { which, reason: "not below n" });
        }
    }
    if s > HALF_N {
        return Err(VdsError::HighS);
    }
    Ok(())
}

/// The same signature in low-S form.
pub fn normalize_low_s(sig: &[u8; SIGNATURE_LEN]) -> [u8; SIGNATURE_LEN] {
    let (r, s) = split(sig);
    let mut out = *sig;
    if s > HALF_N && s < N {
        let low = n_minus(&s);
        if let Some(tail) = out.get_mut(32..) {
            tail.copy_from_slice(&low);
        }
    }
    debug_assert_eq!(out.get(..32), Some(&r[..]));
    out
}

/// A seal with the exact bytes it was read from (or written as).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedVds {
    vds: Vds,
    header_bytes: Vec<u8>,
    payload_bytes: Vec<u8>,
    signature: [u8; SIGNATURE_LEN],
    transport: Option<Transport>,
}

impl DecodedVds {
    /// The decoded content.
    pub fn vds(&self) -> &Vds {
        &self.vds
    }

    /// The header fields.
    pub fn header(&self) -> &Header {
        &self.vds.header
    }

    /// The typed payload.
    pub fn payload(&self) -> &Payload {
        &self.vds.payload
    }

    /// The identity payload, or `WrongManifest` if this is not an identity seal.
    pub fn identity(&self) -> Result<&Identity, VdsError> {
        self.vds.payload.as_identity().ok_or(VdsError::WrongManifest {
            expected: ManifestId::IDENTITY.value(),
            found: self.vds.header.manifest_id.value(),
        })
    }

    /// The service payload, or `WrongManifest` if this is not a service seal.
    pub fn service(&self) -> Result<&Service, VdsError> {
        self.vds.payload.as_service().ok_or(VdsError::WrongManifest {
            expected: ManifestId::SERVICE.value(),
            found: self.vds.header.manifest_id.value(),
        })
    }

    /// The manifest the payload was checked against.
    pub fn manifest(&self) -> Result<&'static Manifest, VdsError> {
        Manifest::for_id(self.vds.header.manifest_id)
    }

    /// The header bytes as signed.
    pub fn header_bytes(&self) -> &[u8] {
        &self.header_bytes
    }

    /// The payload bytes as signed.
    pub fn payload_bytes(&self) -> &[u8] {
        &self.payload_bytes
    }

    /// The raw `r || s` signature (low S).
    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        &self.signature
    }

    /// The ECDSA message `header || SHA-256(payload)`.
    pub fn signature_message(&self) -> Vec<u8> {
        signature_message(&self.header_bytes, &self.payload_bytes)
    }

    /// The transport the text was read from (`None` for binary input or freshly signed seals).
    pub fn transport(&self) -> Option<Transport> {
        self.transport
    }

    /// The full binary `header || payload || signature`.
    pub fn binary(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(self.header_bytes.len() + self.payload_bytes.len() + SIGNATURE_LEN);
        b.extend_from_slice(&self.header_bytes);
        b.extend_from_slice(&self.payload_bytes);
        b.extend_from_slice(&self.signature);
        b
    }

    /// The text form: `VDSEUA` + the binary in `transport`.
    pub fn to_text(&self, transport: Transport) -> String {
        transport::to_text(&self.binary(), transport)
    }

    /// SHA-256 of the full binary: the seal's identity on revocation lists.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest(&SHA256, &self.binary()).as_ref());
        out
    }
}

/// Builds, signs and returns a seal (low-S signature).
pub fn encode_signed(vds: &Vds, signer: &dyn SealSigner) -> Result<DecodedVds, VdsError> {
    if signer.certificate_reference() != &vds.header.certificate_reference {
        return Err(VdsError::BadCertificateReference { reason: "does not match the signer's certificate" });
    }
    let (header_bytes, payload_bytes) = vds.to_be_signed()?;
    let raw = signer.sign(&signature_message(&header_bytes, &payload_bytes))?;
    let signature = normalize_low_s(&raw);
    check_signature_scalars(&signature)?;
    Ok(DecodedVds { vds: vds.clone(), header_bytes, payload_bytes, signature, transport: None })
}

/// Decodes a seal from its binary form (no signature check: see [`verify`]).
pub fn decode_binary(bytes: &[u8]) -> Result<DecodedVds, VdsError> {
    let parsed = Header::decode(bytes)?;
    let manifest = Manifest::for_id(parsed.header.manifest_id)?;
    let rest = bytes.get(parsed.header_len..).unwrap_or_default();
    let (fields, used) = decode_fields(rest, manifest)?;
    if used != parsed.payload_len {
        return Err(VdsError::LengthMismatch { declared: parsed.payload_len, actual: used });
    }
    let payload = Payload::from_fields(parsed.header.manifest_id, fields)?;
    let (payload_bytes, sig) = rest.split_at_checked(used).ok_or(VdsError::Truncated { what: "payload" })?;
    let signature: [u8; SIGNATURE_LEN] = match sig.len() {
        SIGNATURE_LEN => sig.try_into().map_err(|_| VdsError::Truncated { what: "signature" })?,
        n if n < SIGNATURE_LEN => return Err(VdsError::Truncated { what: "signature" }),
        n => return Err(VdsError::TrailingBytes { count: n - SIGNATURE_LEN }),
    };
    check_signature_scalars(&signature)?;
    if payload.expires_at() <= parsed.header.issued_at {
        return Err(VdsError::ExpiryBeforeIssue);
    }
    let header_bytes = bytes.get(..parsed.header_len).unwrap_or_default().to_vec();
    Ok(DecodedVds {
        vds: Vds { header: parsed.header, payload },
        header_bytes,
        payload_bytes: payload_bytes.to_vec(),
        signature,
        transport: None,
    })
}

/// Decodes a seal from its text form (`VDSEUA` + Base45, hex or Base64), without checking the
/// signature (see [`verify`]).
pub fn decode(text: &str) -> Result<DecodedVds, VdsError> {
    let (binary, t) = transport::from_text(text)?;
    let mut decoded = decode_binary(&binary)?;
    decoded.transport = Some(t);
    Ok(decoded)
}

/// A P-256 public key checked and parsed once, to verify many seals (a relying party holds one
/// per signing certificate): parsing and validating the point costs about a tenth of a
/// verification, which [`verify`] pays on every call.
pub struct VerifyingKey {
    key: ParsedPublicKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey").finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// The key from an uncompressed P-256 point (`0x04 || X || Y`, 65 bytes).
    pub fn from_uncompressed(public_key: &[u8]) -> Result<Self, VdsError> {
        if public_key.len() != 65 || public_key.first() != Some(&0x04) {
            return Err(VdsError::BadPublicKey);
        }
        let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key).map_err(|_| VdsError::BadPublicKey)?;
        Ok(Self { key })
    }

    /// Verifies the signature of a decoded seal.
    pub fn verify(&self, decoded: &DecodedVds) -> Result<(), VdsError> {
        check_signature_scalars(&decoded.signature)?;
        self.key.verify_sig(&decoded.signature_message(), &decoded.signature).map_err(|_| VdsError::InvalidSignature)
    }
}

/// Verifies the signature of a decoded seal with an uncompressed P-256 public key
/// (`0x04 || X || Y`, 65 bytes). To verify many seals with one key, parse it once with
/// [`VerifyingKey`].
pub fn verify(decoded: &DecodedVds, public_key: &[u8]) -> Result<(), VdsError> {
    VerifyingKey::from_uncompressed(public_key)?.verify(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_n_is_floor_of_n_over_two() {
        // 2 * HALF_N + 1 == N
        let mut doubled = [0u8; 32];
        let mut carry = 1u16;
        for (d, &h) in doubled.iter_mut().zip(HALF_N.iter()).rev() {
            let v = u16::from(h) * 2 + carry;
            *d = v.to_be_bytes()[1];
            carry = v >> 8;
        }
        assert_eq!((doubled, carry), (N, 0));
    }

    #[test]
    fn scalar_checks() {
        let mut sig = [0x11u8; 64];
        assert_eq!(check_signature_scalars(&sig), Ok(()));
        sig[..32].fill(0);
        assert_eq!(
            check_signature_scalars(&sig),
            Err(VdsError::BadSignatureEncoding { which: Scalar::R, reason: "zero" })
        );
        sig[..32].copy_from_slice(&N);
        assert_eq!(
            check_signature_scalars(&sig),
            Err(VdsError::BadSignatureEncoding { which: Scalar::R, reason: "not below n" })
        );
        sig[..32].fill(0x11);
        sig[32..].fill(0);
        assert_eq!(
            check_signature_scalars(&sig),
            Err(VdsError::BadSignatureEncoding { which: Scalar::S, reason: "zero" })
        );
        sig[32..].fill(0xFF);
        assert_eq!(
            check_signature_scalars(&sig),
            Err(VdsError::BadSignatureEncoding { which: Scalar::S, reason: "not below n" })
        );
        let mut high = HALF_N;
        high[31] += 1;
        sig[32..].copy_from_slice(&high);
        assert_eq!(check_signature_scalars(&sig), Err(VdsError::HighS));
        let low = normalize_low_s(&sig);
        assert_eq!(&low[32..], &HALF_N[..], "n - (floor(n/2) + 1) == floor(n/2)");
        assert_eq!(check_signature_scalars(&low), Ok(()));
        assert_eq!(n_minus(&n_minus(&high)), high);
    }
}
