//! The issuer: signs a VDS with a key bound to a [`SigningCertificate`], and verifies a VDS
//! against such a certificate. Also the [`SealSigner`] for PKCS#11 keys.

use idseal_keys::Pkcs11Signer;
use idseal_types::UnixTime;

use crate::certificate_parse::SigningCertificate;
use crate::error::VdsError;
use crate::header::{CertificateReference, Header, ManifestId};
use crate::payload::{Identity, Payload};
use crate::seal::{SIGNATURE_LEN, SealSigner, Vds, decode, encode_signed, verify};
use crate::transport::Transport;

/// A [`SealSigner`] whose key is on a PKCS#11 token.
#[derive(Debug)]
pub struct Pkcs11SealSigner {
    key: Pkcs11Signer,
    certificate_reference: CertificateReference,
}

impl Pkcs11SealSigner {
    /// Wraps an opened PKCS#11 key with the certificate reference of its certificate.
    pub fn new(key: Pkcs11Signer, certificate_reference: CertificateReference) -> Self {
        Self { key, certificate_reference }
    }

    /// The public key (uncompressed P-256 point, 65 bytes).
    pub fn public_key(&self) -> &[u8; 65] {
        self.key.public_key()
    }
}

impl SealSigner for Pkcs11SealSigner {
    fn certificate_reference(&self) -> &CertificateReference {
        &self.certificate_reference
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], VdsError> {
        self.key.sign_p256_sha256(message).map_err(|e| VdsError::SigningFailed { reason: e.to_string() })
    }
}

fn check_certificate(cert: &SigningCertificate, manifest_id: ManifestId, at: UnixTime) -> Result<(), VdsError> {
    if !cert.manifest_ids.contains(&manifest_id) {
        return Err(VdsError::ManifestNotAllowed { id: manifest_id.value() });
    }
    if !cert.is_valid_at(at) {
        return Err(VdsError::CertificateNotValid { at: at.as_secs() });
    }
    Ok(())
}

/// Issues an identity seal (manifest `manifest_id`, which must be the identity manifest:
/// anything else is `WrongManifest`) signed by `signer` under `cert`, as text (Base45). See
/// [`issue_payload`] for the refusals.
pub fn issue(
    identity: &Identity,
    signer: &dyn SealSigner,
    cert: &SigningCertificate,
    manifest_id: ManifestId,
    now: UnixTime,
) -> Result<String, VdsError> {
    issue_under(&Payload::Identity(identity.clone()), manifest_id, signer, cert, now)
}

/// Issues a seal of any payload (its manifest goes into the header) signed by `signer` under
/// `cert`, as text (Base45). Refuses a manifest outside the UsageList (`ManifestNotAllowed`), a
/// certificate not valid at `now` (`CertificateNotValid`), a signer whose certificate reference
/// is not the certificate's (`CertificateMismatch`), and a signer whose key is not the
/// certificate's (`SignerKeyMismatch`: the fresh seal is verified with the certificate's key).
pub fn issue_payload(
    payload: &Payload,
    signer: &dyn SealSigner,
    cert: &SigningCertificate,
    now: UnixTime,
) -> Result<String, VdsError> {
    issue_under(payload, payload.manifest_id(), signer, cert, now)
}

fn issue_under(
    payload: &Payload,
    manifest_id: ManifestId,
    signer: &dyn SealSigner,
    cert: &SigningCertificate,
    now: UnixTime,
) -> Result<String, VdsError> {
    check_certificate(cert, manifest_id, now)?;
    if signer.certificate_reference() != &cert.certificate_reference {
        return Err(VdsError::CertificateMismatch);
    }
    let vds = Vds {
        header: Header { certificate_reference: cert.certificate_reference.clone(), manifest_id, issued_at: now },
        payload: payload.clone(),
    };
    let signed = encode_signed(&vds, signer)?;
    verify(&signed, &cert.public_key).map_err(|e| match e {
        VdsError::InvalidSignature => VdsError::SignerKeyMismatch,
        other => other,
    })?;
    Ok(signed.to_text(Transport::Base45))
}

/// Verifies seal text against a signing certificate: the header's certificate reference is
/// the certificate's (`CertificateMismatch`), the signature verifies with its key, the UsageList
/// holds the header's manifest id (`ManifestNotAllowed`), and the certificate was valid at the
/// seal's issue time (`CertificateNotValid`). `now` bounds the issue time: a seal claiming to be
/// issued in the future is `CertificateNotValid` too, and a seal whose own expiry is not after
/// `now` is `Expired`. Trust in the certificate itself (chain, revocation) is not checked here.
pub fn verify_with_certificate(text: &str, cert: &SigningCertificate, now: UnixTime) -> Result<Vds, VdsError> {
    let decoded = decode(text)?;
    let header = decoded.header();
    if header.certificate_reference != cert.certificate_reference {
        return Err(VdsError::CertificateMismatch);
    }
    verify(&decoded, &cert.public_key)?;
    check_certificate(cert, header.manifest_id, header.issued_at)?;
    if header.issued_at > now {
        return Err(VdsError::CertificateNotValid { at: header.issued_at.as_secs() });
    }
    let vds = decoded.vds();
    let expires_at = vds.payload.expires_at();
    if expires_at <= now {
        return Err(VdsError::Expired { expired_at: expires_at.as_secs() });
    }
    Ok(vds.clone())
}
