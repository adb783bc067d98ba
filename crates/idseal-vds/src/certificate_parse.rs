//! Parsing of the signing certificates of [`crate::certificate`] (strict DER, P-256 only).

use idseal_types::UnixTime;

use idseal_der::{Reader, tag};

use crate::certificate::{
    der_err, from_pem_or_der, oid_to_string, parse_time as read_time, parse_usage_list, usage_list_oid_bytes,
};
use crate::error::VdsError;
use crate::header::{CertificateReference, ManifestId};

fn bad(reason: &'static str) -> VdsError {
    VdsError::BadCertificate { reason }
}

const CN: &str = "2.5.4.3";
const SERIAL_NUMBER: &str = "2.5.4.5";

/// The fields of a certificate that the issuer and verifier use.
#[derive(Clone, Debug)]
pub(crate) struct Parsed {
    pub(crate) serial: Vec<u8>,
    pub(crate) issuer: String,
    pub(crate) subject: String,
    pub(crate) subject_der: Vec<u8>,
    pub(crate) subject_cn: Option<String>,
    pub(crate) subject_serial_number: Option<String>,
    pub(crate) not_before: UnixTime,
    pub(crate) not_after: UnixTime,
    pub(crate) public_key: Vec<u8>,
    pub(crate) usage_list: Option<Result<Vec<ManifestId>, VdsError>>,
    pub(crate) issuer_serial_number: Option<String>,
    /// basicConstraints says cA = TRUE.
    pub(crate) is_ca: bool,
    /// keyUsage content (BIT STRING bytes), when present.
    pub(crate) key_usage: Option<Vec<u8>>,
}

/// Extensions this parser understands; any other one marked critical makes the certificate
/// unusable (RFC 5280 §4.2).
const KNOWN_EXTENSIONS: [&str; 5] = ["2.5.29.19", "2.5.29.15", "2.5.29.14", "2.5.29.35", "2.5.29.37"];

fn parse_name(der: &[u8]) -> Result<(String, Option<String>, Option<String>), VdsError> {
    let mut r = Reader::new(der).sequence("Name").map_err(der_err)?;
    let (mut parts, mut cn, mut sn) = (Vec::new(), None, None);
    while !r.is_empty() {
        let mut set = Reader::new(r.expect(tag::SET, "RDN").map_err(der_err)?);
        while !set.is_empty() {
            let mut atv = set.sequence("AttributeTypeAndValue").map_err(der_err)?;
            let o = oid_to_string(atv.expect(tag::OID, "attribute type").map_err(der_err)?).ok_or(bad("bad OID"))?;
            let value = atv.read().map_err(der_err)?.content;
            let value = std::str::from_utf8(value).map_err(|_| bad("name is not UTF-8"))?.to_owned();
            match o.as_str() {
                CN => {
                    parts.push(format!("CN={value}"));
                    cn = Some(value);
                }
                SERIAL_NUMBER => {
                    parts.push(format!("serialNumber={value}"));
                    sn = Some(value);
                }
                other => parts.push(format!("{other}={value}")),
            }
        }
    }
    Ok((parts.join(", "), cn, sn))
}

impl Parsed {
    pub(crate) fn from_der(der: &[u8]) -> Result<Self, VdsError> {
        let mut outer = Reader::new(der);
        let mut cert = outer.sequence("Certificate").map_err(der_err)?;
        outer.finish("bytes after the certificate").map_err(der_err)?;
        let mut tbs = cert.sequence("TBSCertificate").map_err(der_err)?;
        if tbs.expect(0xA0, "not an X.509 v3 certificate").map_err(der_err)? != [0x02, 0x01, 0x02] {
            return Err(bad("not an X.509 v3 certificate"));
        }
        let serial = tbs.integer("serial").map_err(der_err)?.to_vec();
        let _alg = tbs.sequence("signature algorithm").map_err(der_err)?;
        let issuer_der = tbs.read().map_err(der_err)?.encoding;
        let (issuer, _, issuer_serial_number) = parse_name(issuer_der)?;
        let mut validity = tbs.sequence("validity").map_err(der_err)?;
        let not_before = read_time(&mut validity)?;
        let not_after = read_time(&mut validity)?;
        validity.finish("bytes after the validity").map_err(der_err)?;
        if not_before > not_after {
            return Err(bad("notBefore is after notAfter"));
        }
        let subject_der = tbs.read().map_err(der_err)?.encoding;
        let (subject, subject_cn, subject_serial_number) = parse_name(subject_der)?;
        let mut spki = tbs.sequence("SubjectPublicKeyInfo").map_err(der_err)?;
        let mut alg = spki.sequence("key algorithm").map_err(der_err)?;
        let key_oid = oid_to_string(alg.expect(tag::OID, "key algorithm").map_err(der_err)?);
        let curve = oid_to_string(alg.expect(tag::OID, "not a named-curve EC key").map_err(der_err)?);
        if key_oid.as_deref() != Some("1.2.840.10045.2.1") || curve.as_deref() != Some("1.2.840.10045.3.1.7") {
            return Err(VdsError::BadPublicKey);
        }
        let bits = spki.expect(tag::BIT_STRING, "public key").map_err(der_err)?;
        let public_key = match bits.split_first() {
            Some((0, point)) if point.len() == 65 && point.first() == Some(&0x04) => point.to_vec(),
            _ => return Err(VdsError::BadPublicKey),
        };
        let (mut usage_list, mut is_ca, mut key_usage) = (None, false, None);
        let usage_list_oid = usage_list_oid_bytes()?;
        while let Some(t) = tbs.peek_tag() {
            let ext_tlv = tbs.read().map_err(der_err)?;
            let (t2, content) = (ext_tlv.tag, ext_tlv.content);
            if t == 0xA3 && t2 == 0xA3 {
                let mut exts = Reader::new(content).sequence("extensions").map_err(der_err)?;
                while !exts.is_empty() {
                    let mut ext = exts.sequence("extension").map_err(der_err)?;
                    let id = ext.expect(tag::OID, "extension id").map_err(der_err)?;
                    let critical = if ext.peek_tag() == Some(tag::BOOLEAN) {
                        match ext.expect(tag::BOOLEAN, "critical").map_err(der_err)? {
                            [0xFF] => true,
                            // DER encodes the default (FALSE) by omission.
                            _ => return Err(bad("extension criticality is not DER")),
                        }
                    } else {
                        false
                    };
                    let value = ext.expect(tag::OCTET_STRING, "extension value").map_err(der_err)?;
                    ext.finish("bytes after an extension").map_err(der_err)?;
                    let name = oid_to_string(id).ok_or(bad("bad OID"))?;
                    if critical && id != usage_list_oid.as_slice() && !KNOWN_EXTENSIONS.contains(&name.as_str()) {
                        return Err(bad("unknown critical extension"));
                    }
                    if name == "2.5.29.19" {
                        let mut bc = Reader::new(value).sequence("basicConstraints").map_err(der_err)?;
                        is_ca = bc.peek_tag() == Some(tag::BOOLEAN)
                            && bc.expect(tag::BOOLEAN, "cA").map_err(der_err)? == [0xFF];
                    }
                    if name == "2.5.29.15" {
                        key_usage =
                            Some(Reader::new(value).expect(tag::BIT_STRING, "keyUsage").map_err(der_err)?.to_vec());
                    }
                    if id == usage_list_oid.as_slice() {
                        if usage_list.is_some() {
                            return Err(VdsError::BadUsageList { reason: "extension appears twice" });
                        }
                        usage_list = Some(parse_usage_list(value));
                    }
                }
            }
        }
        // The rest of the certificate: its signature algorithm and value, and nothing after.
        let mut sig_alg = cert.sequence("signatureAlgorithm").map_err(der_err)?;
        if oid_to_string(sig_alg.expect(tag::OID, "signature algorithm").map_err(der_err)?).as_deref()
            != Some("1.2.840.10045.4.3.2")
        {
            return Err(bad("signature algorithm is not ecdsa-with-SHA256"));
        }
        cert.expect(tag::BIT_STRING, "signature value").map_err(der_err)?;
        cert.finish("bytes after the signature value").map_err(der_err)?;
        Ok(Self {
            issuer_serial_number,
            is_ca,
            key_usage,
            serial,
            issuer,
            subject,
            subject_der: subject_der.to_vec(),
            subject_cn,
            subject_serial_number,
            not_before,
            not_after,
            public_key,
            usage_list,
        })
    }
}

/// A parsed seal-signing certificate: subject, issuer, validity, serial, P-256 key, the
/// certificate reference (from the subject CN) and the UsageList.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningCertificate {
    /// Subject DN, e.g. `CN=IDSL0001`.
    pub subject: String,
    /// Issuer DN, e.g. `CN=idseal dev CA, serialNumber=IDSL`.
    pub issuer: String,
    /// Start of validity.
    pub not_before: UnixTime,
    /// End of validity (inclusive).
    pub not_after: UnixTime,
    /// Serial number (DER INTEGER content bytes).
    pub serial: Vec<u8>,
    /// Uncompressed P-256 public key, 65 bytes.
    pub public_key: Vec<u8>,
    /// The certificate reference (subject CN `<CA id><cert id>`).
    pub certificate_reference: CertificateReference,
    /// The manifest ids this key may sign (strictly ascending).
    pub manifest_ids: Vec<ManifestId>,
    /// The certificate DER.
    pub der: Vec<u8>,
}

impl SigningCertificate {
    /// Parses a certificate from PEM or DER. Errors: `BadCertificate`, `BadPublicKey`,
    /// `BadCertificateReference`, `MissingUsageList`, `BadUsageList`.
    pub fn parse(pem_or_der: &[u8]) -> Result<Self, VdsError> {
        let der = from_pem_or_der(pem_or_der, "CERTIFICATE")?;
        let p = Parsed::from_der(&der)?;
        let cn = p.subject_cn.ok_or(VdsError::BadCertificateReference { reason: "subject has no CN" })?;
        let certificate_reference = match (cn.get(..4), cn.get(4..)) {
            (Some(ca), Some(id)) => CertificateReference::new(ca, id)?,
            _ => return Err(VdsError::BadCertificateReference { reason: "subject CN is not 8 characters" }),
        };
        // The CA id in the reference must be the issuing CA's (its subject serialNumber), so a
        // CA cannot mint references in another CA's name.
        if p.issuer_serial_number.as_deref() != Some(certificate_reference.ca_id()) {
            return Err(VdsError::BadCertificateReference { reason: "CA id differs from the issuer's serialNumber" });
        }
        // A seal-signing certificate is an end-entity certificate with digitalSignature.
        if p.is_ca {
            return Err(VdsError::BadCertificate { reason: "a CA certificate cannot sign seals" });
        }
        if let Some(ku) = &p.key_usage
            && ku.get(1).is_none_or(|b| b & 0x80 == 0)
        {
            return Err(VdsError::BadCertificate { reason: "keyUsage lacks digitalSignature" });
        }
        let manifest_ids = p.usage_list.ok_or(VdsError::MissingUsageList)??;
        Ok(Self {
            subject: p.subject,
            issuer: p.issuer,
            not_before: p.not_before,
            not_after: p.not_after,
            serial: p.serial,
            public_key: p.public_key,
            certificate_reference,
            manifest_ids,
            der,
        })
    }

    /// Whether `t` lies in `[not_before, not_after]`.
    pub fn is_valid_at(&self, t: UnixTime) -> bool {
        self.not_before <= t && t <= self.not_after
    }
}
