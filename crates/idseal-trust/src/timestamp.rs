//! RFC 3161 time-stamps for XAdES level T: building a `TimeStampReq`, reading a
//! `TimeStampResp`, and verifying a `TimeStampToken` (CMS SignedData over a TSTInfo).
//!
//! Pure: the caller sends the request to its TSA and passes the response back. A strict DER
//! reader: definite minimal lengths, low tag numbers, no trailing bytes, every length bounded.
//!
//! What [`verify_token`] checks: the CMS structure, the TSTInfo (v1, SHA-256 imprint, genTime),
//! the signed attributes (contentType = id-ct-TSTInfo, messageDigest over the encapsulated
//! TSTInfo, and ESS signingCertificate / signingCertificateV2 when present), that the TSA
//! certificate (found in SignedData.certificates by the SignerInfo's sid) has the critical
//! extendedKeyUsage timeStamping only, and the signature under its key. Trust in the TSA
//! certificate (chain, validity at genTime, revocation) is NOT decided here: the caller does it
//! with [`TimestampToken::tsa_certificate_der`].

use aws_lc_rs::digest;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA384_ASN1, ECDSA_P384_SHA256_ASN1, ECDSA_P384_SHA384_ASN1,
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512, UnparsedPublicKey,
};
use idseal_types::UnixTime;

use crate::TrustError;
use crate::xmldsig::cert::{PublicKey, public_key};

/// Largest time-stamp response or token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

const OID_SIGNED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
const OID_TST_INFO: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x01, 0x04];
const OID_CONTENT_TYPE: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x03];
const OID_MESSAGE_DIGEST: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x04];
const OID_SIGNING_CERT: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x0C];
const OID_SIGNING_CERT_V2: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x2F];
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
const OID_SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
const OID_ECDSA_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];
const OID_ECDSA_SHA384: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03];
const OID_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const OID_RSA_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B];
const OID_RSA_SHA384: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0C];
const OID_RSA_SHA512: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0D];
const OID_EKU: &[u8] = &[0x55, 0x1D, 0x25];
const OID_SKI: &[u8] = &[0x55, 0x1D, 0x0E];
const OID_TIME_STAMPING: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

/// A verified RFC 3161 time-stamp token: what the TSA vouches for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimestampToken {
    /// TSTInfo.genTime, truncated to whole seconds.
    pub gen_time: UnixTime,
    /// TSTInfo.messageImprint.hashedMessage (SHA-256).
    pub imprint: [u8; 32],
    /// The certificate (DER) whose key signed the token. Not trusted by this crate: the caller
    /// decides whether this TSA is one it trusts (and that the certificate was valid at
    /// `gen_time`).
    pub tsa_certificate_der: Vec<u8>,
    /// TSTInfo.serialNumber, the INTEGER content octets (big-endian, minimal).
    pub serial: Vec<u8>,
    /// TSTInfo.nonce if present, the INTEGER content octets (big-endian, minimal). Compare with
    /// [`TimestampToken::has_nonce`].
    pub nonce: Option<Vec<u8>>,
}

impl TimestampToken {
    /// Whether the token carries exactly the nonce `nonce` (as sent by [`request`]).
    pub fn has_nonce(&self, nonce: u64) -> bool {
        self.nonce.as_deref() == Some(integer_content(nonce).as_slice())
    }
}

fn ts_err(reason: impl Into<String>) -> TrustError {
    TrustError::Timestamp(reason.into())
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or_default());
    } else {
        let bytes = len.to_be_bytes();
        let significant: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | u8::try_from(significant.len()).unwrap_or_default());
        out.extend_from_slice(&significant);
    }
    out.extend_from_slice(content);
    out
}

/// The minimal two's-complement content octets of a non-negative INTEGER.
fn integer_content(n: u64) -> Vec<u8> {
    let mut v: Vec<u8> = n.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect();
    if v.first().is_none_or(|b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    v
}

/// A DER `TimeStampReq` (RFC 3161 §2.4.1): version 1, messageImprint {sha256, `imprint_sha256`},
/// `nonce`, certReq TRUE (the TSA must include its certificate, which [`verify_token`] needs).
pub fn request(imprint_sha256: &[u8; 32], nonce: u64) -> Vec<u8> {
    let alg = der(0x30, &[der(0x06, OID_SHA256), vec![0x05, 0x00]].concat());
    let imprint = der(0x30, &[alg, der(0x04, imprint_sha256)].concat());
    let body = [der(0x02, &[1]), imprint, der(0x02, &integer_content(nonce)), vec![0x01, 0x01, 0xFF]].concat();
    der(0x30, &body)
}

/// One DER element.
#[derive(Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    /// The whole encoding, tag and length included.
    whole: &'a [u8],
}

/// A cursor over consecutive DER elements.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn any(&mut self) -> Result<Tlv<'a>, TrustError> {
        let input = self.0;
        let (&tag, rest) = input.split_first().ok_or_else(|| ts_err("truncated DER"))?;
        if tag & 0x1F == 0x1F {
            return Err(ts_err("high tag numbers are not used in time-stamps"));
        }
        let (&first, rest) = rest.split_first().ok_or_else(|| ts_err("truncated DER"))?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 {
                return Err(ts_err("indefinite length (BER) refused"));
            }
            if n > 3 {
                return Err(ts_err("DER length too large"));
            }
            let bytes = rest.get(..n).ok_or_else(|| ts_err("truncated DER"))?;
            if bytes.first() == Some(&0) {
                return Err(ts_err("non-minimal DER length"));
            }
            let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            if len < 0x80 {
                return Err(ts_err("non-minimal DER length"));
            }
            (len, rest.get(n..).unwrap_or_default())
        };
        let content = rest.get(..len).ok_or_else(|| ts_err("truncated DER"))?;
        let header = input.len() - rest.len();
        let whole = input.get(..header + len).ok_or_else(|| ts_err("truncated DER"))?;
        self.0 = rest.get(len..).unwrap_or_default();
        Ok(Tlv { tag, content, whole })
    }

    fn take(&mut self, tag: u8, what: &str) -> Result<Tlv<'a>, TrustError> {
        let t = self.any().map_err(|e| ts_err(format!("{what}: {e}")))?;
        if t.tag != tag {
            return Err(ts_err(format!("expected {what}")));
        }
        Ok(t)
    }

    fn content(&mut self, tag: u8, what: &str) -> Result<&'a [u8], TrustError> {
        Ok(self.take(tag, what)?.content)
    }

    fn optional(&mut self, tag: u8, what: &str) -> Result<Option<Tlv<'a>>, TrustError> {
        if self.peek() == Some(tag) { self.take(tag, what).map(Some) } else { Ok(None) }
    }

    fn end(&self, what: &str) -> Result<(), TrustError> {
        if self.0.is_empty() { Ok(()) } else { Err(ts_err(format!("unexpected data after {what}"))) }
    }
}

/// A whole input that must be exactly one element with `tag`.
fn single<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<&'a [u8], TrustError> {
    let mut r = Reader(input);
    let c = r.content(tag, what)?;
    r.end(what)?;
    Ok(c)
}

/// Check INTEGER content octets are minimal; returns them.
fn integer<'a>(r: &mut Reader<'a>, what: &str) -> Result<&'a [u8], TrustError> {
    let c = r.content(0x02, what)?;
    match c {
        [] => return Err(ts_err(format!("{what}: empty INTEGER"))),
        [0, b, ..] if b & 0x80 == 0 => return Err(ts_err(format!("{what}: non-minimal INTEGER"))),
        [0xFF, b, ..] if b & 0x80 != 0 => return Err(ts_err(format!("{what}: non-minimal INTEGER"))),
        _ => {}
    }
    Ok(c)
}

fn small_integer(r: &mut Reader<'_>, what: &str) -> Result<u8, TrustError> {
    match integer(r, what)? {
        [v] if v & 0x80 == 0 => Ok(*v),
        _ => Err(ts_err(format!("{what} out of range"))),
    }
}

/// AlgorithmIdentifier with absent or NULL parameters: the OID.
fn algorithm<'a>(r: &mut Reader<'a>, what: &str) -> Result<&'a [u8], TrustError> {
    let mut a = Reader(r.content(0x30, what)?);
    let oid = a.content(0x06, what)?;
    if a.peek().is_some() {
        if !a.content(0x05, what)?.is_empty() {
            return Err(ts_err(format!("{what}: bad NULL parameters")));
        }
        a.end(what)?;
    }
    Ok(oid)
}

/// A digest algorithm and its output size in bits.
type Hash = (&'static digest::Algorithm, u16);

fn hash_of(oid: &[u8]) -> Result<Hash, TrustError> {
    match oid {
        OID_SHA256 => Ok((&digest::SHA256, 256)),
        OID_SHA384 => Ok((&digest::SHA384, 384)),
        OID_SHA512 => Ok((&digest::SHA512, 512)),
        _ => Err(ts_err("unsupported digest algorithm")),
    }
}

/// Read a `TimeStampResp` (RFC 3161 §2.4.2): the status must be granted (0) or
/// grantedWithMods (1). Returns the `TimeStampToken` (ContentInfo, DER), still unverified:
/// pass it to [`verify_token`].
pub fn parse_response(der: &[u8]) -> Result<Vec<u8>, TrustError> {
    if der.len() > MAX_TOKEN_BYTES {
        return Err(ts_err("response too large"));
    }
    let mut resp = Reader(single(der, 0x30, "TimeStampResp")?);
    let mut status = Reader(resp.content(0x30, "PKIStatusInfo")?);
    let code = small_integer(&mut status, "PKIStatus")?;
    if code > 1 {
        let mut text = String::new();
        if let Some(t) = status.optional(0x30, "statusString")? {
            let mut strings = Reader(t.content);
            if let Some(s) = strings.optional(0x0C, "statusString")? {
                text = String::from_utf8_lossy(s.content).chars().take(200).collect();
            }
        }
        return Err(ts_err(format!("the TSA refused the request: status {code} {text}")));
    }
    let token = resp.take(0x30, "timeStampToken").map_err(|_| ts_err("granted response without a token"))?;
    resp.end("TimeStampResp")?;
    Ok(token.whole.to_vec())
}

/// What the TSTInfo says.
struct TstInfo {
    gen_time: UnixTime,
    imprint: [u8; 32],
    serial: Vec<u8>,
    nonce: Option<Vec<u8>>,
}

fn tst_info(der: &[u8]) -> Result<TstInfo, TrustError> {
    let mut r = Reader(single(der, 0x30, "TSTInfo")?);
    if small_integer(&mut r, "TSTInfo version")? != 1 {
        return Err(ts_err("TSTInfo version is not 1"));
    }
    r.content(0x06, "TSTInfo policy")?;
    let mut mi = Reader(r.content(0x30, "messageImprint")?);
    if algorithm(&mut mi, "messageImprint hashAlgorithm")? != OID_SHA256 {
        return Err(ts_err("messageImprint is not SHA-256"));
    }
    let imprint = <[u8; 32]>::try_from(mi.content(0x04, "hashedMessage")?)
        .map_err(|_| ts_err("hashedMessage is not 32 bytes"))?;
    mi.end("messageImprint")?;
    let serial = integer(&mut r, "TSTInfo serialNumber")?.to_vec();
    let gen_time = generalized_time(r.content(0x18, "genTime")?)?;
    r.optional(0x30, "accuracy")?;
    if let Some(o) = r.optional(0x01, "ordering")?
        && o.content != [0xFF]
    {
        return Err(ts_err("ordering must be encoded TRUE or absent"));
    }
    let nonce = r.optional(0x02, "nonce")?.map(|n| n.content.to_vec());
    r.optional(0xA0, "tsa")?;
    r.optional(0xA1, "extensions")?;
    r.end("TSTInfo")?;
    Ok(TstInfo { gen_time, imprint, serial, nonce })
}

/// DER GeneralizedTime `YYYYMMDDHHMMSS[.f*]Z` (fraction without trailing zeros), truncated to seconds.
fn generalized_time(bytes: &[u8]) -> Result<UnixTime, TrustError> {
    let bad = || ts_err("genTime is not a DER GeneralizedTime");
    let s = std::str::from_utf8(bytes).map_err(|_| bad())?;
    let main = s.get(..14).ok_or_else(bad)?;
    let rest = s.get(14..).ok_or_else(bad)?;
    if !main.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match rest.strip_suffix('Z').ok_or_else(bad)? {
        "" => {}
        f => {
            let digits = f.strip_prefix('.').ok_or_else(bad)?;
            if digits.is_empty() || digits.ends_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
        }
    }
    let num = |a: usize, b: usize| main.get(a..b).and_then(|x| x.parse::<u16>().ok()).ok_or_else(bad);
    let month = time::Month::try_from(u8::try_from(num(4, 6)?).map_err(|_| bad())?).map_err(|_| bad())?;
    let small = |a| u8::try_from(num(a, a + 2)?).map_err(|_| bad());
    let date = time::Date::from_calendar_date(i32::from(num(0, 4)?), month, small(6)?).map_err(|_| bad())?;
    let t = time::Time::from_hms(small(8)?, small(10)?, small(12)?).map_err(|_| bad())?;
    Ok(UnixTime::from_secs(time::PrimitiveDateTime::new(date, t).assume_utc().unix_timestamp()))
}

/// The parts of the TSA certificate the token check needs.
struct CertInfo<'a> {
    issuer: &'a [u8],
    serial: &'a [u8],
    ski: Option<&'a [u8]>,
    /// extendedKeyUsage is present, critical, and exactly [timeStamping] (RFC 3161 §2.3).
    eku_time_stamping: bool,
}

fn cert_info(der: &[u8]) -> Result<CertInfo<'_>, TrustError> {
    let mut c = Reader(single(der, 0x30, "TSA Certificate")?);
    let mut tbs = Reader(c.content(0x30, "TBSCertificate")?);
    tbs.optional(0xA0, "version")?;
    let serial = integer(&mut tbs, "certificate serialNumber")?;
    tbs.take(0x30, "signature")?;
    let issuer = tbs.take(0x30, "issuer")?.whole;
    tbs.take(0x30, "validity")?;
    tbs.take(0x30, "subject")?;
    tbs.take(0x30, "subjectPublicKeyInfo")?;
    tbs.optional(0x81, "issuerUniqueID")?;
    tbs.optional(0x82, "subjectUniqueID")?;
    let mut ski = None;
    let mut eku = None;
    if let Some(ext) = tbs.optional(0xA3, "extensions")? {
        let mut list = Reader(single(ext.content, 0x30, "Extensions")?);
        while list.peek().is_some() {
            let mut e = Reader(list.content(0x30, "Extension")?);
            let oid = e.content(0x06, "extnID")?;
            let critical = e.optional(0x01, "critical")?.is_some_and(|b| b.content == [0xFF]);
            let value = e.content(0x04, "extnValue")?;
            e.end("Extension")?;
            if oid == OID_SKI {
                if ski.replace(single(value, 0x04, "subjectKeyIdentifier")?).is_some() {
                    return Err(ts_err("duplicate subjectKeyIdentifier"));
                }
            } else if oid == OID_EKU {
                let mut purposes = Reader(single(value, 0x30, "extendedKeyUsage")?);
                let only = purposes.content(0x06, "KeyPurposeId")? == OID_TIME_STAMPING && purposes.0.is_empty();
                if eku.replace(critical && only).is_some() {
                    return Err(ts_err("duplicate extendedKeyUsage"));
                }
            }
        }
    }
    Ok(CertInfo { issuer, serial, ski, eku_time_stamping: eku == Some(true) })
}

/// The signer identifier of the SignerInfo.
enum Sid<'a> {
    IssuerSerial(&'a [u8], &'a [u8]),
    KeyId(&'a [u8]),
}

/// The certificate among `certs` (the SignedData `[0]` content) that `sid` names.
fn find_certificate<'a>(certs: Option<&'a [u8]>, sid: &Sid<'_>) -> Result<&'a [u8], TrustError> {
    let certs = certs.ok_or_else(|| ts_err("the token does not include the TSA certificate (certReq)"))?;
    let mut r = Reader(certs);
    let mut found = None;
    while r.peek().is_some() {
        let t = r.any()?;
        if t.tag != 0x30 {
            continue; // other CertificateChoices (attribute certificates): not signers.
        }
        let info = cert_info(t.whole)?;
        let matches = match sid {
            Sid::IssuerSerial(issuer, serial) => info.issuer == *issuer && info.serial == *serial,
            Sid::KeyId(id) => info.ski == Some(*id),
        };
        if matches && found.replace(t.whole).is_some() {
            return Err(ts_err("the signer identifier names several certificates"));
        }
    }
    found.ok_or_else(|| ts_err("no certificate in the token matches the signer identifier"))
}

/// Check the signed attributes; returns nothing, refuses on any mismatch.
fn check_signed_attributes(attrs: &[u8], (hash, _): Hash, tst_der: &[u8], cert_der: &[u8]) -> Result<(), TrustError> {
    let mut r = Reader(attrs);
    let (mut content_type, mut message_digest, mut ess) = (false, false, false);
    while r.peek().is_some() {
        let mut a = Reader(r.content(0x30, "Attribute")?);
        let oid = a.content(0x06, "attrType")?;
        let mut values = Reader(a.content(0x31, "attrValues")?);
        a.end("Attribute")?;
        let once = |seen: &mut bool, name: &str| {
            if std::mem::replace(seen, true) { Err(ts_err(format!("duplicate {name} attribute"))) } else { Ok(()) }
        };
        if oid == OID_CONTENT_TYPE {
            once(&mut content_type, "contentType")?;
            if values.content(0x06, "contentType")? != OID_TST_INFO {
                return Err(ts_err("contentType attribute is not id-ct-TSTInfo"));
            }
            values.end("contentType")?;
        } else if oid == OID_MESSAGE_DIGEST {
            once(&mut message_digest, "messageDigest")?;
            if values.content(0x04, "messageDigest")? != digest::digest(hash, tst_der).as_ref() {
                return Err(ts_err("messageDigest does not match the TSTInfo"));
            }
            values.end("messageDigest")?;
        } else if oid == OID_SIGNING_CERT || oid == OID_SIGNING_CERT_V2 {
            once(&mut ess, "signingCertificate")?;
            let mut sc = Reader(single(values.0, 0x30, "SigningCertificate")?);
            let mut ids = Reader(sc.content(0x30, "certs")?);
            let mut id = Reader(ids.content(0x30, "ESSCertID")?);
            let alg = if oid == OID_SIGNING_CERT {
                &digest::SHA1_FOR_LEGACY_USE_ONLY
            } else if id.peek() == Some(0x30) {
                hash_of(algorithm(&mut id, "ESSCertIDv2 hashAlgorithm")?)?.0
            } else {
                &digest::SHA256
            };
            if id.content(0x04, "certHash")? != digest::digest(alg, cert_der).as_ref() {
                return Err(ts_err("ESS signingCertificate does not name the TSA certificate"));
            }
        }
    }
    if !content_type || !message_digest {
        return Err(ts_err("signed attributes lack contentType or messageDigest"));
    }
    Ok(())
}

fn verify_signature(key: &PublicKey, sig_alg: &[u8], (_, h): Hash, msg: &[u8], sig: &[u8]) -> Result<(), TrustError> {
    let alg: &'static dyn signature::VerificationAlgorithm = match (key, sig_alg, h) {
        (PublicKey::Ec(256, _), OID_ECDSA_SHA256, 256) => &ECDSA_P256_SHA256_ASN1,
        (PublicKey::Ec(256, _), OID_ECDSA_SHA384, 384) => &ECDSA_P256_SHA384_ASN1,
        (PublicKey::Ec(384, _), OID_ECDSA_SHA256, 256) => &ECDSA_P384_SHA256_ASN1,
        (PublicKey::Ec(384, _), OID_ECDSA_SHA384, 384) => &ECDSA_P384_SHA384_ASN1,
        (PublicKey::Rsa(_), OID_RSA | OID_RSA_SHA256, 256) => &RSA_PKCS1_2048_8192_SHA256,
        (PublicKey::Rsa(_), OID_RSA | OID_RSA_SHA384, 384) => &RSA_PKCS1_2048_8192_SHA384,
        (PublicKey::Rsa(_), OID_RSA | OID_RSA_SHA512, 512) => &RSA_PKCS1_2048_8192_SHA512,
        _ => return Err(ts_err("unsupported signature algorithm for the TSA key and digest")),
    };
    let raw = match key {
        PublicKey::Ec(_, p) | PublicKey::Rsa(p) => p,
    };
    UnparsedPublicKey::new(alg, raw)
        .verify(msg, sig)
        .map_err(|_| ts_err("the token signature does not verify under the TSA certificate"))
}

/// Verify a `TimeStampToken` (ContentInfo DER, as [`parse_response`] returns it or as found in
/// `xades:EncapsulatedTimeStamp`): structure, TSTInfo, signed attributes, TSA certificate usage
/// and signature (see the module documentation). Does not decide whether the TSA is trusted.
pub fn verify_token(token_der: &[u8]) -> Result<TimestampToken, TrustError> {
    if token_der.len() > MAX_TOKEN_BYTES {
        return Err(ts_err("token too large"));
    }
    let mut ci = Reader(single(token_der, 0x30, "ContentInfo")?);
    if ci.content(0x06, "contentType")? != OID_SIGNED_DATA {
        return Err(ts_err("the token is not CMS SignedData"));
    }
    let sd = single(ci.content(0xA0, "content")?, 0x30, "SignedData")?;
    ci.end("ContentInfo")?;
    let mut sd = Reader(sd);
    if small_integer(&mut sd, "SignedData version")? != 3 {
        return Err(ts_err("SignedData version is not 3"));
    }
    let digest_algorithms = sd.content(0x31, "digestAlgorithms")?;
    let mut encap = Reader(sd.content(0x30, "encapContentInfo")?);
    if encap.content(0x06, "eContentType")? != OID_TST_INFO {
        return Err(ts_err("encapsulated content is not id-ct-TSTInfo"));
    }
    let tst_der = single(encap.content(0xA0, "eContent")?, 0x04, "eContent OCTET STRING")?;
    encap.end("encapContentInfo")?;
    let certs = sd.optional(0xA0, "certificates")?.map(|c| c.content);
    sd.optional(0xA1, "crls")?;
    let mut signers = Reader(sd.content(0x31, "signerInfos")?);
    sd.end("SignedData")?;
    let mut si = Reader(signers.content(0x30, "SignerInfo")?);
    if signers.peek().is_some() {
        return Err(ts_err("the token has more than one SignerInfo"));
    }
    let sid = match small_integer(&mut si, "SignerInfo version")? {
        1 => {
            let mut ias = Reader(si.content(0x30, "issuerAndSerialNumber")?);
            let issuer = ias.take(0x30, "issuer")?.whole;
            let serial = integer(&mut ias, "serialNumber")?;
            ias.end("issuerAndSerialNumber")?;
            Sid::IssuerSerial(issuer, serial)
        }
        3 => Sid::KeyId(si.content(0x80, "subjectKeyIdentifier")?),
        _ => return Err(ts_err("SignerInfo version is not 1 or 3")),
    };
    let digest_oid = algorithm(&mut si, "digestAlgorithm")?;
    let hash = hash_of(digest_oid)?;
    let mut listed = Reader(digest_algorithms);
    let mut found = false;
    while listed.peek().is_some() {
        found |= algorithm(&mut listed, "digestAlgorithms")? == digest_oid;
    }
    if !found {
        return Err(ts_err("the signer's digest algorithm is not in SignedData.digestAlgorithms"));
    }
    let signed_attrs = si.take(0xA0, "signedAttrs")?;
    let sig_alg = algorithm(&mut si, "signatureAlgorithm")?;
    let sig = si.content(0x04, "signature")?;
    si.optional(0xA1, "unsignedAttrs")?;
    si.end("SignerInfo")?;

    let tst = tst_info(tst_der)?;
    let cert_der = find_certificate(certs, &sid)?;
    if !cert_info(cert_der)?.eku_time_stamping {
        return Err(ts_err("the TSA certificate lacks a critical extendedKeyUsage of timeStamping only"));
    }
    let key = public_key(cert_der).map_err(|e| ts_err(format!("TSA certificate: {e}")))?;
    check_signed_attributes(signed_attrs.content, hash, tst_der, cert_der)?;
    // The signature covers the DER of the attributes as a SET OF (RFC 5652 §5.4).
    let mut msg = signed_attrs.whole.to_vec();
    if let Some(t) = msg.first_mut() {
        *t = 0x31;
    }
    verify_signature(&key, sig_alg, hash, &msg, sig)?;
    Ok(TimestampToken {
        gen_time: tst.gen_time,
        imprint: tst.imprint,
        tsa_certificate_der: cert_der.to_vec(),
        serial: tst.serial,
        nonce: tst.nonce,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn generalized_time_forms() {
        assert_eq!(generalized_time(b"19700101000000Z").unwrap(), UnixTime::from_secs(0));
        assert_eq!(generalized_time(b"20261125151534.25Z").unwrap(), UnixTime::from_secs(1_795_619_734));
        for bad in
            [&b"20261125151534.250Z"[..], b"20261125151534.Z", b"20261125151534", b"2026112515153Z", b"20261325151534Z"]
        {
            assert!(generalized_time(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn nonce_encoding() {
        assert_eq!(integer_content(0), vec![0]);
        assert_eq!(integer_content(0x7F), vec![0x7F]);
        assert_eq!(integer_content(0x80), vec![0, 0x80]);
        assert_eq!(integer_content(u64::MAX), vec![0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
}
