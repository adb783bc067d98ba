//! X.509 signing certificates (P-256, ecdsa-with-SHA256) with the UsageList extension: the
//! manifest ids a seal-signing key may sign (docs/vds.md, "Signing certificate and UsageList").
//!
//! - CA subject: `CN=<common name>, serialNumber=<CA id>` (4 characters `A-Z0-9`);
//! - leaf subject: `CN=<CA id><certificate id>` (8 characters): the certificate reference of
//!   the VDS header, so a seal names its certificate;
//! - leaf UsageList (OID [`USAGE_LIST_OID`], not critical): `SEQUENCE OF OCTET STRING (SIZE(3))`,
//!   manifest ids big-endian, strictly ascending, at least one.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idseal_der::{DerError, Reader, seq, tag, tlv};
use idseal_types::UnixTime;

use crate::error::VdsError;
use crate::header::{CertificateReference, ManifestId};
use crate::seal::{LocalSigner, SealSigner};

/// The UsageList extension OID: `2.25.` + the decimal of UUID
/// `1aa37648-1ece-4e28-8635-712986de5433`.
pub const USAGE_LIST_OID: &str = "2.25.35408671316643879628698939630227969075";
const USAGE_LIST_ARC: u128 = 35_408_671_316_643_879_628_698_939_630_227_969_075;

fn usage_list_oid() -> Result<Vec<u8>, VdsError> {
    oid_content(&[2, 25, USAGE_LIST_ARC])
}
fn oid_content(arcs: &[u128]) -> Result<Vec<u8>, VdsError> {
    idseal_der::oid_content(arcs).map_err(der_err)
}
fn oid(arcs: &[u128]) -> Result<Vec<u8>, VdsError> {
    idseal_der::oid(arcs).map_err(der_err)
}
const ECDSA_SHA256: [u128; 7] = [1, 2, 840, 10045, 4, 3, 2];
const EC_PUBLIC_KEY: [u128; 6] = [1, 2, 840, 10045, 2, 1];
const PRIME256V1: [u128; 7] = [1, 2, 840, 10045, 3, 1, 7];
const CN: [u128; 4] = [2, 5, 4, 3];
const SERIAL_NUMBER: [u128; 4] = [2, 5, 4, 5];
const BASIC_CONSTRAINTS: [u128; 4] = [2, 5, 29, 19];
const KEY_USAGE: [u128; 4] = [2, 5, 29, 15];
const SKI: [u128; 4] = [2, 5, 29, 14];
const AKI: [u128; 4] = [2, 5, 29, 35];

fn bad(reason: &'static str) -> VdsError {
    VdsError::BadCertificate { reason }
}

/// A DER error as `BadCertificate` with its reason.
pub(crate) fn der_err(e: DerError) -> VdsError {
    bad(e.reason)
}

/// The DER of the UsageList extension value for `ids` (sorted, deduplicated).
pub fn usage_list_der(ids: &[ManifestId]) -> Result<Vec<u8>, VdsError> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Err(VdsError::BadUsageList { reason: "no manifest id" });
    }
    let items: Vec<Vec<u8>> = ids
        .iter()
        .map(|id| {
            let [_, a, b, c] = id.value().to_be_bytes();
            tlv(tag::OCTET_STRING, &[a, b, c])
        })
        .collect();
    Ok(tlv(tag::SEQUENCE, &items.concat()))
}

/// Parses the UsageList extension value (strict: canonical order, no duplicates, not empty).
pub fn parse_usage_list(value: &[u8]) -> Result<Vec<ManifestId>, VdsError> {
    let malformed = |reason| VdsError::BadUsageList { reason };
    let mut outer = Reader::new(value);
    let mut r = outer.sequence("UsageList").map_err(|_| malformed("not a SEQUENCE"))?;
    outer.finish("UsageList").map_err(|_| malformed("trailing bytes"))?;
    let mut ids: Vec<ManifestId> = Vec::new();
    while !r.is_empty() {
        let item = r.expect(tag::OCTET_STRING, "UsageList").map_err(|_| malformed("item is not an OCTET STRING"))?;
        let [a, b, c]: [u8; 3] = item.try_into().map_err(|_| malformed("item is not 3 bytes"))?;
        let id = ManifestId::new(u32::from_be_bytes([0, a, b, c])).ok_or(malformed("item is not 3 bytes"))?;
        if ids.last().is_some_and(|last| *last >= id) {
            return Err(malformed("ids not strictly ascending"));
        }
        ids.push(id);
    }
    if ids.is_empty() {
        return Err(malformed("no manifest id"));
    }
    Ok(ids)
}

// ---- time (RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050) ----

fn time_der(t: UnixTime) -> Result<Vec<u8>, VdsError> {
    idseal_der::x509_time(t.as_secs()).map_err(der_err)
}

pub(crate) fn parse_time(r: &mut Reader<'_>) -> Result<UnixTime, VdsError> {
    let time = r.time().map_err(der_err)?;
    // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
    if time.tag == tag::GENERALIZED_TIME && time.unix_secs < 2_524_608_000 {
        return Err(bad("GeneralizedTime before 2050"));
    }
    Ok(UnixTime::from_secs(time.unix_secs))
}

// ---- building ----

fn name(attrs: &[(&[u128], u8, &str)]) -> Result<Vec<u8>, VdsError> {
    let rdns = attrs
        .iter()
        .map(|(o, t, v)| Ok(tlv(tag::SET, &seq(&[&oid(o)?, &tlv(*t, v.as_bytes())]))))
        .collect::<Result<Vec<Vec<u8>>, VdsError>>()?;
    Ok(tlv(tag::SEQUENCE, &rdns.concat()))
}

fn spki(point: &[u8]) -> Result<Vec<u8>, VdsError> {
    let mut bits = vec![0u8];
    bits.extend_from_slice(point);
    Ok(seq(&[&seq(&[&oid(&EC_PUBLIC_KEY)?, &oid(&PRIME256V1)?]), &tlv(tag::BIT_STRING, &bits)]))
}

fn key_id(point: &[u8]) -> Vec<u8> {
    digest(&SHA256, point).as_ref().get(..20).unwrap_or_default().to_vec()
}

fn extension(o: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let crit = if critical { tlv(tag::BOOLEAN, &[0xFF]) } else { Vec::new() };
    seq(&[&tlv(tag::OID, o), &crit, &tlv(tag::OCTET_STRING, value)])
}

fn check_point(point: &[u8]) -> Result<(), VdsError> {
    ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).map(|_| ()).map_err(|_| VdsError::BadPublicKey)
}

struct TbsInput<'a> {
    issuer: &'a [u8],
    subject: &'a [u8],
    point: &'a [u8],
    extensions: Vec<Vec<u8>>,
    not_before: UnixTime,
    not_after: UnixTime,
}

fn build(input: &TbsInput<'_>, signer: &dyn SealSigner) -> Result<Vec<u8>, VdsError> {
    let mut serial = [0u8; 16];
    SystemRandom::new().fill(&mut serial).map_err(|_| VdsError::SigningFailed { reason: "no randomness".into() })?;
    if let Some(first) = serial.first_mut() {
        *first = (*first & 0x7F) | 0x40; // positive, 16 bytes, never zero
    }
    let alg = seq(&[&oid(&ECDSA_SHA256)?]);
    let ext = tlv(0xA3, &seq(&input.extensions.iter().map(Vec::as_slice).collect::<Vec<_>>()));
    let tbs = seq(&[
        &tlv(0xA0, &idseal_der::uint(&[2])),
        &idseal_der::uint(&serial),
        &alg,
        input.issuer,
        &seq(&[&time_der(input.not_before)?, &time_der(input.not_after)?]),
        input.subject,
        &spki(input.point)?,
        &ext,
    ]);
    let sig = signer.sign(&tbs)?;
    let mut bits = vec![0u8];
    bits.extend_from_slice(&idseal_der::ecdsa_signature(&sig).map_err(der_err)?);
    Ok(seq(&[&tbs, &alg, &tlv(tag::BIT_STRING, &bits)]))
}

/// PEM armour (`label` e.g. `CERTIFICATE`), 64 characters a line.
pub fn to_pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER inside PEM armour `label`, or the input itself if it is not PEM.
pub fn from_pem_or_der(input: &[u8], label: &str) -> Result<Vec<u8>, VdsError> {
    let Ok(text) = std::str::from_utf8(input) else { return Ok(input.to_vec()) };
    let begin = format!("-----BEGIN {label}-----");
    let Some(start) = text.find(&begin) else {
        return if text.trim_start().starts_with("-----") {
            Err(bad("not a PEM of the expected type"))
        } else {
            Ok(input.to_vec())
        };
    };
    let body = text.get(start + begin.len()..).unwrap_or_default();
    let end = body.find(&format!("-----END {label}-----")).ok_or(bad("PEM without END line"))?;
    let b64: String = body.get(..end).unwrap_or_default().split_whitespace().collect();
    STANDARD.decode(b64).map_err(|_| bad("PEM body is not Base64"))
}

/// A development CA: its certificate and its PKCS#8 private key, both PEM.
#[derive(Clone)]
pub struct DevCa {
    /// The self-signed CA certificate (PEM).
    pub certificate_pem: String,
    /// The CA's PKCS#8 P-256 private key (PEM `PRIVATE KEY`).
    pub key_pem: String,
}

impl std::fmt::Debug for DevCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevCa").field("certificate_pem", &self.certificate_pem).finish_non_exhaustive()
    }
}

/// Makes a self-signed development CA with a fresh local P-256 key (for demos and tests).
pub fn dev_ca(common_name: &str, ca_id: &str, now: UnixTime, validity: std::time::Duration) -> Result<DevCa, VdsError> {
    let reference = CertificateReference::new(ca_id, "0000")?;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map_err(|_| VdsError::SigningFailed { reason: "key generation failed".into() })?;
    let signer = LocalSigner::from_pkcs8(pkcs8.as_ref(), reference)?;
    let certificate_pem = dev_ca_with_signer(common_name, ca_id, &signer.public_key(), &signer, now, validity)?;
    Ok(DevCa { certificate_pem, key_pem: to_pem("PRIVATE KEY", pkcs8.as_ref()) })
}

/// Makes a self-signed CA certificate (PEM) for a key held elsewhere, e.g. on a PKCS#11 token
/// through [`Pkcs11SealSigner`](crate::Pkcs11SealSigner): the same certificate as [`dev_ca`]
/// (subject `CN=<common_name>, serialNumber=<ca_id>`, CA basic constraints, keyCertSign and
/// cRLSign) for `public_key` (uncompressed P-256, 65 bytes), signed by `signer`. Pass the
/// certificate and the signer to [`CertificateAuthority::new`] to issue signing certificates.
///
/// Refuses a malformed `ca_id` or `public_key` and a `signer` whose key is not `public_key`
/// ([`VdsError::SignerKeyMismatch`]).
pub fn dev_ca_with_signer(
    common_name: &str,
    ca_id: &str,
    public_key: &[u8],
    signer: &dyn SealSigner,
    now: UnixTime,
    validity: std::time::Duration,
) -> Result<String, VdsError> {
    CertificateReference::new(ca_id, "0000")?;
    check_point(public_key)?;
    if public_key.len() != 65 {
        return Err(VdsError::BadPublicKey);
    }
    let probe = b"idseal CA key check";
    ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key)
        .map_err(|_| VdsError::BadPublicKey)?
        .verify_sig(probe, &signer.sign(probe)?)
        .map_err(|_| VdsError::SignerKeyMismatch)?;
    let subject = name(&[(&CN, tag::UTF8_STRING, common_name), (&SERIAL_NUMBER, tag::PRINTABLE_STRING, ca_id)])?;
    let ski = key_id(public_key);
    let extensions = vec![
        extension(&oid_content(&BASIC_CONSTRAINTS)?, true, &seq(&[&tlv(tag::BOOLEAN, &[0xFF])])),
        extension(&oid_content(&KEY_USAGE)?, true, &tlv(tag::BIT_STRING, &[0x01, 0x06])),
        extension(&oid_content(&SKI)?, false, &tlv(tag::OCTET_STRING, &ski)),
    ];
    let input = TbsInput {
        issuer: &subject,
        subject: &subject,
        point: public_key,
        extensions,
        not_before: now,
        not_after: now.saturating_add(validity),
    };
    Ok(to_pem("CERTIFICATE", &build(&input, signer)?))
}

/// A CA ready to issue signing certificates: its parsed certificate and a signer for its key
/// (local or PKCS#11).
pub struct CertificateAuthority<'a> {
    subject: Vec<u8>,
    not_before: UnixTime,
    not_after: UnixTime,
    ca_id: String,
    key_id: Vec<u8>,
    signer: Box<dyn SealSigner + 'a>,
}

impl<'a> CertificateAuthority<'a> {
    /// A CA from its certificate (PEM or DER) and a signer for its key. The signer is checked
    /// against the certificate's public key by a test signature.
    pub fn new(certificate: &[u8], signer: Box<dyn SealSigner + 'a>) -> Result<Self, VdsError> {
        let parsed = crate::certificate_parse::Parsed::from_der(&from_pem_or_der(certificate, "CERTIFICATE")?)?;
        let ca_id = parsed.subject_serial_number.clone().ok_or(bad("CA subject has no serialNumber (CA id)"))?;
        CertificateReference::new(&ca_id, "0000")?;
        if !parsed.is_ca {
            return Err(bad("not a CA certificate (basicConstraints cA is not TRUE)"));
        }
        let probe = b"idseal CA key check";
        let sig = signer.sign(probe)?;
        ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &parsed.public_key)
            .map_err(|_| VdsError::BadPublicKey)?
            .verify_sig(probe, &sig)
            .map_err(|_| VdsError::SignerKeyMismatch)?;
        Ok(Self {
            subject: parsed.subject_der,
            not_before: parsed.not_before,
            not_after: parsed.not_after,
            ca_id,
            key_id: key_id(&parsed.public_key),
            signer,
        })
    }

    /// A CA from its certificate and PKCS#8 key, both PEM (as [`dev_ca`] writes them).
    pub fn from_pem(certificate_pem: &str, key_pem: &str) -> Result<Self, VdsError> {
        let pkcs8 = from_pem_or_der(key_pem.as_bytes(), "PRIVATE KEY")?;
        let signer = LocalSigner::from_pkcs8(&pkcs8, CertificateReference::new("CA00", "0000")?)?;
        Self::new(certificate_pem.as_bytes(), Box::new(signer))
    }

    /// The CA id (4 characters).
    pub fn ca_id(&self) -> &str {
        &self.ca_id
    }
}

/// Issues a seal-signing certificate for `public_key` (uncompressed P-256, 65 bytes) with
/// subject `CN=<CA id><cert_id>` and a UsageList of `manifest_ids`; returns PEM.
pub fn signing_certificate(
    ca: &CertificateAuthority<'_>,
    cert_id: &str,
    public_key: &[u8],
    manifest_ids: &[ManifestId],
    now: UnixTime,
    validity: std::time::Duration,
) -> Result<String, VdsError> {
    let reference = CertificateReference::new(&ca.ca_id, cert_id)?;
    // A CA issues only while it is valid itself, and never beyond its own end of validity.
    if now < ca.not_before || now > ca.not_after {
        return Err(VdsError::CertificateNotValid { at: now.as_secs() });
    }
    check_point(public_key)?;
    if public_key.len() != 65 {
        return Err(VdsError::BadPublicKey);
    }
    let subject = name(&[(&CN, tag::UTF8_STRING, &reference.to_string())])?;
    let extensions = vec![
        extension(&oid_content(&BASIC_CONSTRAINTS)?, true, &seq(&[])),
        extension(&oid_content(&KEY_USAGE)?, true, &tlv(tag::BIT_STRING, &[0x07, 0x80])),
        extension(&oid_content(&SKI)?, false, &tlv(tag::OCTET_STRING, &key_id(public_key))),
        extension(&oid_content(&AKI)?, false, &seq(&[&tlv(0x80, &ca.key_id)])),
        extension(&usage_list_oid()?, false, &usage_list_der(manifest_ids)?),
    ];
    let input = TbsInput {
        issuer: &ca.subject,
        subject: &subject,
        point: public_key,
        extensions,
        not_before: now,
        not_after: now.saturating_add(validity).min(ca.not_after),
    };
    Ok(to_pem("CERTIFICATE", &build(&input, ca.signer.as_ref())?))
}

/// The dotted form of OID content octets, `None` if they are not a well-formed OID.
pub(crate) fn oid_to_string(content: &[u8]) -> Option<String> {
    idseal_der::oid_to_string(content).ok()
}

/// The encoded UsageList OID (content bytes), for the parser.
pub(crate) fn usage_list_oid_bytes() -> Result<Vec<u8>, VdsError> {
    usage_list_oid()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(t: u8, text: &str) -> Result<UnixTime, VdsError> {
        let der = tlv(t, text.as_bytes());
        parse_time(&mut Reader::new(&der))
    }

    #[test]
    fn times_are_real_dates_in_the_right_form() {
        assert_eq!(time(tag::UTC_TIME, "700101000000Z").unwrap().as_secs(), 0);
        assert_eq!(time(tag::UTC_TIME, "240229000000Z").unwrap().as_secs(), 1_709_164_800);
        for bad in ["250229000000Z", "260231000000Z", "260431000000Z", "261301000000Z", "260100000000Z", "2601010000Z"]
        {
            assert!(time(tag::UTC_TIME, bad).is_err(), "{bad}");
        }
        assert!(time(tag::GENERALIZED_TIME, "20300101000000Z").is_err(), "GeneralizedTime before 2050");
        assert!(time(tag::GENERALIZED_TIME, "20500101000000Z").is_ok());
    }

    #[test]
    fn a_ca_issues_only_while_valid_and_never_beyond_itself() {
        let t0 = UnixTime::from_secs(1_800_000_000);
        let day = std::time::Duration::from_secs(86_400);
        let ca = dev_ca("test CA", "TEST", t0, day * 10).unwrap();
        let authority = CertificateAuthority::from_pem(&ca.certificate_pem, &ca.key_pem).unwrap();
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = aws_lc_rs::signature::KeyPair::public_key(&key).as_ref().to_vec();
        let ids = [ManifestId::IDENTITY];
        let leaf = signing_certificate(&authority, "0001", &point, &ids, t0, day * 365).unwrap();
        let parsed = crate::SigningCertificate::parse(leaf.as_bytes()).unwrap();
        assert_eq!(parsed.not_after, t0.saturating_add(day * 10), "clamped to the CA's end");
        let late = t0.saturating_add(day * 11);
        assert!(matches!(
            signing_certificate(&authority, "0002", &point, &ids, late, day),
            Err(VdsError::CertificateNotValid { .. })
        ));
    }
}
