//! The signed header: marker, version, IAC, certificate reference, manifest id, issue time and
//! the payload length (18 to 21 bytes).
//!
//! ```text
//! off len field
//! 0   1   marker 0xDE
//! 1   1   version 0x03
//! 2   2   IAC "VDS" as C40 (0xDD 0x89)
//! 4   6   certificate reference: C40 of CA id (4 chars) + certificate id (4 chars)
//! 10  3   manifest id, big-endian (0x0A0001 = identity, 0x0A0002 = service)
//! 13  4   issue time, Unix seconds, u32 big-endian
//! 17  1-4 payload length, DER length form, minimal
//! ```

use std::fmt;

use idseal_types::UnixTime;

use crate::c40;
use crate::error::VdsError;

/// The marker byte that starts every seal of this profile.
pub const MARKER: u8 = 0xDE;
/// The format version this codec reads and writes.
pub const VERSION: u8 = 0x03;
/// The issuing authority code, in the header as C40 and in the text prefix.
pub const IAC: &str = "VDS";
/// The largest payload accepted (a QR code of version 40 holds fewer bytes than this).
pub const MAX_PAYLOAD_LEN: usize = 4096;
/// The shortest header (one-byte length form).
pub const MIN_HEADER_LEN: usize = 18;
/// The longest header (four-byte length form).
pub const MAX_HEADER_LEN: usize = 21;

const IAC_C40: [u8; 2] = [0xDD, 0x89];

/// Which CA certificate signed the seal: CA id (4 characters) and certificate id (4 characters),
/// both of `A-Z0-9`, written as 6 bytes of C40.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CertificateReference {
    ca_id: String,
    cert_id: String,
}

fn is_id(s: &str) -> bool {
    s.len() == 4 && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl CertificateReference {
    /// A reference from its two 4-character parts (`A-Z0-9`).
    pub fn new(ca_id: &str, cert_id: &str) -> Result<Self, VdsError> {
        if !is_id(ca_id) || !is_id(cert_id) {
            return Err(VdsError::BadCertificateReference {
                reason: "CA id and certificate id are 4 characters A-Z 0-9",
            });
        }
        Ok(Self { ca_id: ca_id.to_owned(), cert_id: cert_id.to_owned() })
    }

    /// The CA id, e.g. `FR05`.
    pub fn ca_id(&self) -> &str {
        &self.ca_id
    }

    /// The certificate id, e.g. `0001`.
    pub fn cert_id(&self) -> &str {
        &self.cert_id
    }

    /// The six C40 bytes.
    pub fn to_bytes(&self) -> Result<[u8; 6], VdsError> {
        let bytes = c40::encode(&format!("{}{}", self.ca_id, self.cert_id))?;
        <[u8; 6]>::try_from(bytes.as_slice())
            .map_err(|_| VdsError::BadCertificateReference { reason: "does not encode to 6 bytes" })
    }

    /// Parses the six C40 bytes.
    pub fn from_bytes(bytes: &[u8; 6]) -> Result<Self, VdsError> {
        let text = c40::decode(bytes)?;
        match (text.get(..4), text.get(4..)) {
            (Some(ca), Some(cert)) => Self::new(ca, cert),
            _ => Err(VdsError::BadCertificateReference { reason: "not 8 characters" }),
        }
    }
}

impl fmt::Display for CertificateReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.ca_id, self.cert_id)
    }
}

/// A 24-bit manifest id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ManifestId(u32);

impl ManifestId {
    /// The identity manifest (`manifests/0A0001.xml`).
    pub const IDENTITY: Self = Self(0x0A_0001);
    /// The service manifest (`manifests/0A0002.xml`).
    pub const SERVICE: Self = Self(0x0A_0002);

    /// A manifest id from its 24-bit value.
    pub fn new(id: u32) -> Option<Self> {
        (id <= 0xFF_FFFF).then_some(Self(id))
    }

    /// The 24-bit value.
    pub const fn value(self) -> u32 {
        self.0
    }

    fn to_bytes(self) -> [u8; 3] {
        let [_, a, b, c] = self.0.to_be_bytes();
        [a, b, c]
    }
}

impl fmt::Display for ManifestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06X}", self.0)
    }
}

/// The header fields that vary between seals (marker, version and IAC are constants).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The signing certificate.
    pub certificate_reference: CertificateReference,
    /// The manifest that defines the payload.
    pub manifest_id: ManifestId,
    /// When the seal was issued (whole seconds, `0..=u32::MAX`).
    pub issued_at: UnixTime,
}

/// A header read from bytes, with the payload length it declares and its own length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedHeader {
    /// The fields.
    pub header: Header,
    /// The payload length the header declares.
    pub payload_len: usize,
    /// The length of the header itself (18..=21).
    pub header_len: usize,
}

/// Appends `len` in minimal DER length form (1 to 4 bytes).
pub(crate) fn push_der_len(out: &mut Vec<u8>, len: usize) -> Result<(), VdsError> {
    let v = u32::try_from(len).ok().filter(|&v| v <= 0xFF_FFFF);
    let Some(v) = v else { return Err(VdsError::PayloadTooLarge { len, max: MAX_PAYLOAD_LEN }) };
    let [_, b1, b2, b3] = v.to_be_bytes();
    match v {
        0..=0x7F => out.push(b3),
        0x80..=0xFF => out.extend_from_slice(&[0x81, b3]),
        0x100..=0xFFFF => out.extend_from_slice(&[0x82, b2, b3]),
        _ => out.extend_from_slice(&[0x83, b1, b2, b3]),
    }
    Ok(())
}

/// Reads a minimal DER length; returns the length and the number of bytes used.
pub(crate) fn read_der_len(bytes: &[u8]) -> Result<(usize, usize), VdsError> {
    let truncated = VdsError::Truncated { what: "payload length" };
    let &first = bytes.first().ok_or(truncated.clone())?;
    if first < 0x80 {
        return Ok((usize::from(first), 1));
    }
    let n = usize::from(first & 0x7F);
    if n == 0 || n > 3 {
        return Err(VdsError::BadLengthForm { first });
    }
    let body = bytes.get(1..=n).ok_or(truncated)?;
    let value = body.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    let minimal = match n {
        1 => value >= 0x80,
        _ => body.first().is_some_and(|&b| b != 0),
    };
    if !minimal {
        return Err(VdsError::NonCanonicalLength);
    }
    Ok((value, n + 1))
}

impl Header {
    /// The header bytes for a payload of `payload_len` bytes.
    pub fn encode(&self, payload_len: usize) -> Result<Vec<u8>, VdsError> {
        if payload_len > MAX_PAYLOAD_LEN {
            return Err(VdsError::PayloadTooLarge { len: payload_len, max: MAX_PAYLOAD_LEN });
        }
        let time =
            u32::try_from(self.issued_at.as_secs()).map_err(|_| VdsError::TimeOutOfRange { what: "issue time" })?;
        let mut out = Vec::with_capacity(MAX_HEADER_LEN);
        out.push(MARKER);
        out.push(VERSION);
        out.extend_from_slice(&IAC_C40);
        out.extend_from_slice(&self.certificate_reference.to_bytes()?);
        out.extend_from_slice(&self.manifest_id.to_bytes());
        out.extend_from_slice(&time.to_be_bytes());
        push_der_len(&mut out, payload_len)?;
        Ok(out)
    }

    /// Reads a header from the start of `bytes` (which may continue with the payload).
    pub fn decode(bytes: &[u8]) -> Result<ParsedHeader, VdsError> {
        let take = |from: usize, len: usize| bytes.get(from..from + len).ok_or(VdsError::Truncated { what: "header" });
        let &[marker] = take(0, 1)? else { return Err(VdsError::Truncated { what: "header" }) };
        if marker != MARKER {
            return Err(VdsError::BadMarker { found: marker });
        }
        let &[version] = take(1, 1)? else { return Err(VdsError::Truncated { what: "header" }) };
        if version != VERSION {
            return Err(VdsError::UnsupportedVersion { found: version });
        }
        let iac = c40::decode(take(2, 2)?)?;
        if iac != IAC {
            return Err(VdsError::UnknownIac { found: iac });
        }
        let cert: [u8; 6] = take(4, 6)?.try_into().map_err(|_| VdsError::Truncated { what: "header" })?;
        let certificate_reference = CertificateReference::from_bytes(&cert)?;
        let &[m1, m2, m3] = take(10, 3)? else { return Err(VdsError::Truncated { what: "header" }) };
        let manifest_id = ManifestId(u32::from_be_bytes([0, m1, m2, m3]));
        let t: [u8; 4] = take(13, 4)?.try_into().map_err(|_| VdsError::Truncated { what: "header" })?;
        let issued_at = UnixTime::from_secs(i64::from(u32::from_be_bytes(t)));
        let (payload_len, len_len) = read_der_len(bytes.get(17..).unwrap_or_default())?;
        if payload_len > MAX_PAYLOAD_LEN {
            return Err(VdsError::PayloadTooLarge { len: payload_len, max: MAX_PAYLOAD_LEN });
        }
        Ok(ParsedHeader {
            header: Header { certificate_reference, manifest_id, issued_at },
            payload_len,
            header_len: 17 + len_len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Header {
        Header {
            certificate_reference: CertificateReference::new("FR05", "0001").unwrap(),
            manifest_id: ManifestId::IDENTITY,
            issued_at: UnixTime::from_secs(1_800_000_000),
        }
    }

    #[test]
    fn layout() {
        let b = sample().encode(0x105).unwrap();
        assert_eq!(
            b,
            [
                0xDE, 0x03, 0xDD, 0x89, 0x7B, 0x9D, 0x38, 0xE5, 0x19, 0xC9, 0x0A, 0x00, 0x01, 0x6B, 0x49, 0xD2, 0x00,
                0x82, 0x01, 0x05
            ]
        );
        let p = Header::decode(&b).unwrap();
        assert_eq!((p.header, p.payload_len, p.header_len), (sample(), 0x105, 20));
    }

    #[test]
    fn der_length_forms() {
        for (len, want) in [
            (0usize, &[0x00][..]),
            (0x7F, &[0x7F]),
            (0x80, &[0x81, 0x80]),
            (0xFF, &[0x81, 0xFF]),
            (0x100, &[0x82, 0x01, 0x00]),
            (0xFFFF, &[0x82, 0xFF, 0xFF]),
            (0x1_0000, &[0x83, 0x01, 0x00, 0x00]),
        ] {
            let mut out = Vec::new();
            push_der_len(&mut out, len).unwrap();
            assert_eq!(out, want);
            assert_eq!(read_der_len(&out).unwrap(), (len, want.len()));
        }
        for bad in [&[0x81, 0x05][..], &[0x82, 0x00, 0xFF], &[0x83, 0x00, 0xFF, 0xFF], &[0x81, 0x7F]] {
            assert_eq!(read_der_len(bad), Err(VdsError::NonCanonicalLength), "{bad:02X?}");
        }
        for bad in [&[0x80][..], &[0x84, 1, 0, 0, 0], &[0xFF]] {
            assert!(matches!(read_der_len(bad), Err(VdsError::BadLengthForm { .. })), "{bad:02X?}");
        }
        assert!(matches!(read_der_len(&[0x82, 0x01]), Err(VdsError::Truncated { .. })));
    }

    #[test]
    fn header_sizes_and_limits() {
        assert_eq!(sample().encode(5).unwrap().len(), MIN_HEADER_LEN);
        assert_eq!(sample().encode(MAX_PAYLOAD_LEN).unwrap().len(), 20);
        assert!(matches!(sample().encode(MAX_PAYLOAD_LEN + 1), Err(VdsError::PayloadTooLarge { .. })));
        let mut h = sample();
        h.issued_at = UnixTime::from_secs(-1);
        assert!(matches!(h.encode(1), Err(VdsError::TimeOutOfRange { .. })));
        let mut b = sample().encode(5).unwrap();
        b.truncate(17);
        b.extend_from_slice(&[0x83, 0x01, 0x00, 0x00]);
        assert!(matches!(Header::decode(&b), Err(VdsError::PayloadTooLarge { .. })));
        assert!(matches!(CertificateReference::new("FR5", "0001"), Err(VdsError::BadCertificateReference { .. })));
        assert!(matches!(CertificateReference::new("fr05", "0001"), Err(VdsError::BadCertificateReference { .. })));
        assert!(matches!(CertificateReference::new("FR<5", "0001"), Err(VdsError::BadCertificateReference { .. })));
    }

    #[test]
    fn bad_headers() {
        let good = sample().encode(5).unwrap();
        for n in 0..good.len() {
            assert!(matches!(Header::decode(&good[..n]), Err(VdsError::Truncated { .. })), "{n}");
        }
        let mut b = good.clone();
        b[0] = 0xDC;
        assert_eq!(Header::decode(&b), Err(VdsError::BadMarker { found: 0xDC }));
        let mut b = good.clone();
        b[1] = 0x02;
        assert_eq!(Header::decode(&b), Err(VdsError::UnsupportedVersion { found: 0x02 }));
        let mut b = good.clone();
        b[2..4].copy_from_slice(&[0xD9, 0xC5]); // "UTO"
        assert_eq!(Header::decode(&b), Err(VdsError::UnknownIac { found: "UTO".into() }));
        let mut b = good.clone();
        b[2..4].copy_from_slice(&[0xFF, 0xFF]);
        assert!(matches!(Header::decode(&b), Err(VdsError::BadC40 { .. })));
        let mut b = good;
        b[8..10].copy_from_slice(&[0xFE, 0x42]); // 7 characters
        assert!(matches!(Header::decode(&b), Err(VdsError::BadCertificateReference { .. })));
    }

    proptest! {
        #[test]
        fn round_trip(ca in "[A-Z0-9]{4}", cert in "[A-Z0-9]{4}", m in 0u32..=0xFF_FFFF, t in any::<u32>(), len in 0usize..=MAX_PAYLOAD_LEN) {
            let h = Header {
                certificate_reference: CertificateReference::new(&ca, &cert).unwrap(),
                manifest_id: ManifestId::new(m).unwrap(),
                issued_at: UnixTime::from_secs(i64::from(t)),
            };
            let b = h.encode(len).unwrap();
            prop_assert!((MIN_HEADER_LEN..=MAX_HEADER_LEN).contains(&b.len()));
            let p = Header::decode(&b).unwrap();
            prop_assert_eq!(&p.header, &h);
            prop_assert_eq!(p.payload_len, len);
            prop_assert_eq!(p.header_len, b.len());
        }

        #[test]
        fn accepted_bytes_are_canonical(mut b in proptest::collection::vec(any::<u8>(), 17..22)) {
            b[0] = MARKER;
            b[1] = VERSION;
            b[2] = 0xDD;
            b[3] = 0x89;
            if let Ok(p) = Header::decode(&b) {
                prop_assert_eq!(p.header.encode(p.payload_len).unwrap(), &b[..p.header_len]);
            }
        }
    }
}
