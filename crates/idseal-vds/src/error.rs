//! The one error type of the codec: every way a seal can be refused has its own variant.

use thiserror::Error;

/// Which ECDSA scalar of a signature a [`VdsError::BadSignatureEncoding`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    /// The first half of the raw signature.
    R,
    /// The second half of the raw signature.
    S,
}

/// Why a Visible Digital Seal could not be built, parsed or verified.
///
/// Each failure has its own variant so that callers and tests can tell them apart; none of them
/// carries secret material.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum VdsError {
    /// The input ended before a complete structure (`what` names the structure).
    #[error("truncated input: incomplete {what}")]
    Truncated {
        /// The structure that was cut short.
        what: &'static str,
    },
    /// Bytes follow the 64-byte signature.
    #[error("{count} trailing byte(s) after the signature")]
    TrailingBytes {
        /// How many bytes follow the signature.
        count: usize,
    },
    /// The text does not start with the `VDSEUA` prefix.
    #[error("the text does not start with the VDSEUA prefix")]
    BadPrefix,
    /// No transport encoding (Base45, hex, Base64) turns the text into a VDS binary.
    #[error("the text is not Base45, hex or Base64 of a VDS")]
    UnknownTransport,
    /// The text was detected as Base45 but is not valid RFC 9285 Base45.
    #[error("invalid Base45: {reason}")]
    BadBase45 {
        /// What is wrong with the text.
        reason: &'static str,
    },
    /// The text was detected as hex but is not valid hex.
    #[error("invalid hex")]
    BadHex,
    /// The text was detected as Base64 but is neither strict padded Base64 nor strict unpadded
    /// URL-safe Base64.
    #[error("invalid Base64")]
    BadBase64,
    /// The first byte is not the marker 0xDE.
    #[error("bad marker byte 0x{found:02X}, expected 0xDE")]
    BadMarker {
        /// The byte found.
        found: u8,
    },
    /// The version byte is not 0x03.
    #[error("unsupported version 0x{found:02X}, expected 0x03")]
    UnsupportedVersion {
        /// The byte found.
        found: u8,
    },
    /// Bytes or characters that are not canonical C40 (or a character outside the C40 set).
    #[error("invalid C40: {reason}")]
    BadC40 {
        /// What is wrong.
        reason: &'static str,
    },
    /// The issuing authority code in the header is not `VDS`.
    #[error("unknown issuing authority code {found:?}, expected \"VDS\"")]
    UnknownIac {
        /// The decoded code.
        found: String,
    },
    /// A certificate reference that is not 4 + 4 characters of `A-Z0-9`.
    #[error("invalid certificate reference: {reason}")]
    BadCertificateReference {
        /// What is wrong.
        reason: &'static str,
    },
    /// The manifest id in the header names no manifest this codec knows.
    #[error("unknown manifest id 0x{id:06X}")]
    UnknownManifest {
        /// The manifest id (24 bits).
        id: u32,
    },
    /// The seal's manifest is not the one the caller asked for (for example
    /// `DecodedVds::identity` on a service seal), or a payload was put under another
    /// manifest's header.
    #[error("manifest 0x{found:06X} where 0x{expected:06X} was expected")]
    WrongManifest {
        /// The manifest id asked for (24 bits).
        expected: u32,
        /// The manifest id found (24 bits).
        found: u32,
    },
    /// The payload length uses an unsupported DER length form (indefinite 0x80, or more than
    /// three length bytes).
    #[error("unsupported DER length form 0x{first:02X}")]
    BadLengthForm {
        /// The first length byte.
        first: u8,
    },
    /// The payload length is not in its shortest DER form (for example `0x81 0x05`).
    #[error("payload length not in minimal DER form")]
    NonCanonicalLength,
    /// The declared payload is larger than the codec accepts.
    #[error("payload of {len} bytes exceeds the {max}-byte limit")]
    PayloadTooLarge {
        /// The declared or encoded length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The header's payload length differs from the length of the MessagePack map that follows.
    #[error("payload length field says {declared} but the payload is {actual} bytes")]
    LengthMismatch {
        /// The length in the header.
        declared: usize,
        /// The length of the MessagePack map.
        actual: usize,
    },
    /// The payload is not a MessagePack map.
    #[error("the payload is not a MessagePack map")]
    PayloadNotMap,
    /// A MessagePack item does not use its shortest encoding (or uses a signed-int form for an
    /// unsigned value).
    #[error("non-canonical MessagePack encoding of {what}")]
    NonCanonicalEncoding {
        /// The item.
        what: &'static str,
    },
    /// The map holds more entries than the manifest has fields (plus allowed extensions).
    #[error("the payload map has too many entries ({count})")]
    TooManyFields {
        /// Number of entries declared.
        count: usize,
    },
    /// A key or a string value is not valid UTF-8.
    #[error("invalid UTF-8 in {field}")]
    InvalidUtf8 {
        /// The key of the value, or `map key`.
        field: String,
    },
    /// A key appears twice in the payload map.
    #[error("duplicate key {key:?}")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// A key the manifest does not define (and the manifest does not allow extensions).
    #[error("unknown key {key:?}")]
    UnknownKey {
        /// The key.
        key: String,
    },
    /// Keys are not in canonical order (manifest order, then extension keys ascending).
    #[error("key {key:?} is out of canonical order")]
    KeyOrder {
        /// The first key found out of order.
        key: String,
    },
    /// A value (or a map key) has the wrong MessagePack type.
    #[error("{key:?} must be {expected}")]
    WrongType {
        /// The key whose value is wrong, or `map key`.
        key: String,
        /// The expected type.
        expected: &'static str,
    },
    /// A container (array or map) appears inside the payload map, which is flat.
    #[error("nested container under {key:?}: the payload map is flat")]
    NestingTooDeep {
        /// The key whose value is a container.
        key: String,
    },
    /// A string or binary value is longer than the manifest allows.
    #[error("{key:?} is {len} long, at most {max} allowed")]
    FieldTooLong {
        /// The key.
        key: String,
        /// The actual length (characters for strings, bytes for binaries).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A fixed-size binary value has the wrong size.
    #[error("{key:?} is {len} bytes, exactly {expected} required")]
    WrongSize {
        /// The key.
        key: String,
        /// The actual size.
        len: usize,
        /// The required size.
        expected: usize,
    },
    /// A field the manifest requires is absent.
    #[error("missing required field {key:?}")]
    MissingField {
        /// The key.
        key: String,
    },
    /// A value has the right type and size but an invalid content (date, nationality, document
    /// number, name characters, integer range).
    #[error("invalid value for {key:?}: {reason}")]
    BadFieldValue {
        /// The key.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The trust level is not 1, 2 or 3.
    #[error("trust level {value} is not 1, 2 or 3")]
    BadTrustLevel {
        /// The value found.
        value: u64,
    },
    /// The photo is larger than the manifest allows.
    #[error("photo of {len} bytes exceeds {max}")]
    PhotoTooLarge {
        /// The photo size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The photo is not a RIFF/WEBP container of consistent size.
    #[error("the photo is not a WEBP image")]
    NotWebp,
    /// The expiry is not after the issue time.
    #[error("the expiry is not after the issue time")]
    ExpiryBeforeIssue,
    /// A time does not fit the field (issue time: u32 Unix seconds; expiry: non-negative).
    #[error("{what} is out of range")]
    TimeOutOfRange {
        /// The time field.
        what: &'static str,
    },
    /// The manifest XML is malformed or inconsistent.
    #[error("invalid manifest: {reason}")]
    BadManifest {
        /// What is wrong.
        reason: String,
    },
    /// A public key that is not an uncompressed P-256 point (65 bytes, 0x04 || X || Y).
    #[error("not an uncompressed P-256 public key")]
    BadPublicKey,
    /// A private key that is not a PKCS#8 P-256 key.
    #[error("not a PKCS#8 P-256 private key")]
    BadSigningKey,
    /// A signing backend failed (local key or, later, PKCS#11).
    #[error("signing failed: {reason}")]
    SigningFailed {
        /// The backend's reason.
        reason: String,
    },
    /// A signature scalar is zero or not below the group order n.
    #[error("signature {which:?} is out of range: {reason}")]
    BadSignatureEncoding {
        /// The scalar.
        which: Scalar,
        /// `zero` or `not below n`.
        reason: &'static str,
    },
    /// The signature's s is above n/2; only the low-S form is canonical.
    #[error("signature s is high (above n/2); only low-S signatures are accepted")]
    HighS,
    /// The signature does not verify under the given key.
    #[error("the signature does not verify")]
    InvalidSignature,
    /// A certificate that is not the strict DER X.509 v3 P-256 certificate this crate reads
    /// and writes.
    #[error("invalid certificate: {reason}")]
    BadCertificate {
        /// What is wrong.
        reason: &'static str,
    },
    /// The certificate has no UsageList extension.
    #[error("the certificate has no UsageList extension")]
    MissingUsageList,
    /// The UsageList extension is malformed.
    #[error("invalid UsageList: {reason}")]
    BadUsageList {
        /// What is wrong.
        reason: &'static str,
    },
    /// The certificate's UsageList does not list this manifest id.
    #[error("manifest 0x{id:06X} is not in the certificate's UsageList")]
    ManifestNotAllowed {
        /// The manifest id.
        id: u32,
    },
    /// The certificate is not valid at this time (Unix seconds).
    #[error("the certificate is not valid at {at}")]
    CertificateNotValid {
        /// The time checked.
        at: i64,
    },
    /// The seal's own expiry (`exp`) is not after the time checked (Unix seconds).
    #[error("the seal expired at {expired_at}")]
    Expired {
        /// The seal's `exp`.
        expired_at: i64,
    },
    /// The seal or signer names another certificate.
    #[error("the certificate reference does not match the certificate")]
    CertificateMismatch,
    /// The signer's key is not the certificate's key.
    #[error("the signing key does not match the certificate's public key")]
    SignerKeyMismatch,
}
