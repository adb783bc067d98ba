//! The payload: a canonical MessagePack map checked against a manifest, the typed identity
//! payload of manifest `0x0A0001`, and [`Payload`], the typed payload of any shipped manifest
//! (identity, or [`Service`] of manifest `0x0A0002`).
//!
//! Canonical form (anything else is refused, so `encode(decode(b)) == b`):
//! - one map, in the shortest map form, with one entry per present field;
//! - keys are strings (shortest form); manifest keys come in manifest order, then (only when the
//!   manifest allows them) extension keys in strictly ascending byte order;
//! - values are scalars in their shortest form: `uint`, `str` (UTF-8) or `bin`.

use idseal_types::UnixTime;

use crate::error::VdsError;
use crate::header::ManifestId;
use crate::manifest::{FieldSpec, FieldType, Format, MAX_EXTENSIONS, Manifest};
use crate::msgpack::{self, Item, Reader};
use crate::service::{self, Service};

/// The exact size of the face template.
pub const FACE_LEN: usize = 140;

/// A payload value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// An unsigned integer.
    Uint(u64),
    /// A UTF-8 string.
    Str(String),
    /// A byte string.
    Bin(Vec<u8>),
}

/// The entries of a payload map in canonical order.
pub type Fields = Vec<(String, Value)>;

pub(crate) fn wrong(key: &str, expected: &'static str) -> VdsError {
    VdsError::WrongType { key: key.to_owned(), expected }
}

pub(crate) fn bad_value(key: &str, reason: &'static str) -> VdsError {
    VdsError::BadFieldValue { key: key.to_owned(), reason }
}

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn check_date(key: &str, s: &str) -> Result<(), VdsError> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0, |acc, &d| acc * 10 + u32::from(d - b'0')))
    };
    let parsed = match (b.len(), b.get(4), b.get(7)) {
        (10, Some(b'-'), Some(b'-')) => digits(0..4).zip(digits(5..7)).zip(digits(8..10)),
        _ => None,
    };
    let Some(((y, m), d)) = parsed else { return Err(bad_value(key, "not YYYY-MM-DD")) };
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    };
    if y == 0 || d == 0 || d > days {
        return Err(bad_value(key, "not a calendar date"));
    }
    Ok(())
}

/// Checks that `photo` is a RIFF container of form `WEBP` whose RIFF size matches.
pub fn check_webp(photo: &[u8]) -> Result<(), VdsError> {
    match (photo.get(..4), photo.get(4..8), photo.get(8..12)) {
        (Some(b"RIFF"), Some(size), Some(b"WEBP")) => {
            let size = u32::from_le_bytes(size.try_into().map_err(|_| VdsError::NotWebp)?);
            if usize::try_from(size).ok().and_then(|s| s.checked_add(8)) == Some(photo.len()) {
                Ok(())
            } else {
                Err(VdsError::NotWebp)
            }
        }
        _ => Err(VdsError::NotWebp),
    }
}

/// The manifest's length rules for a field of `len` characters or bytes.
fn check_len(spec: &FieldSpec, len: usize) -> Result<(), VdsError> {
    let key = spec.key.as_str();
    if spec.min_len == spec.max_len && len != spec.min_len {
        return Err(VdsError::WrongSize { key: key.to_owned(), len, expected: spec.min_len });
    }
    if len > spec.max_len {
        return Err(VdsError::FieldTooLong { key: key.to_owned(), len, max: spec.max_len });
    }
    if len < spec.min_len {
        return Err(bad_value(key, "shorter than the manifest minimum"));
    }
    Ok(())
}

fn check_str(spec: &FieldSpec, s: &str) -> Result<(), VdsError> {
    let key = spec.key.as_str();
    let len = s.chars().count();
    check_len(spec, len)?;
    match spec.format {
        Some(Format::Name) => {
            if s.chars().any(char::is_control) {
                return Err(bad_value(key, "control character"));
            }
            if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
                return Err(bad_value(key, "leading or trailing white space"));
            }
        }
        Some(Format::Date) => check_date(key, s)?,
        Some(Format::Alpha3) => {
            let b = s.as_bytes();
            let ok = b.len() == 3
                && b.first().is_some_and(u8::is_ascii_uppercase)
                && b.iter().all(|&c| c.is_ascii_uppercase() || c == b'<');
            if !ok {
                return Err(bad_value(key, "not a 3-letter code A-Z (filler <)"));
            }
        }
        Some(Format::DocNum) => {
            let ok = s.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'<')
                && !s.starts_with('<')
                && !s.ends_with('<');
            if !ok {
                return Err(bad_value(key, "not A-Z 0-9 < (no leading or trailing <)"));
            }
        }
        Some(Format::ServiceId) => service::check_service_id(key, s)?,
        Some(Format::Label) => service::check_label(key, s)?,
        Some(Format::Origin) => service::check_origin(key, s)?,
        Some(Format::Scopes) => service::check_scopes(key, s)?,
        _ => {}
    }
    Ok(())
}

fn check_bin(spec: &FieldSpec, b: &[u8]) -> Result<(), VdsError> {
    let len = b.len();
    if spec.format == Some(Format::Webp) {
        if len > spec.max_len {
            return Err(VdsError::PhotoTooLarge { len, max: spec.max_len });
        }
        if len < spec.min_len {
            return Err(VdsError::NotWebp);
        }
        return check_webp(b);
    }
    check_len(spec, len)
}

fn check_uint(spec: &FieldSpec, v: u64) -> Result<(), VdsError> {
    let in_range = (spec.min..=spec.max).contains(&v);
    match spec.format {
        Some(Format::TrustLevel) if !in_range || !(1..=3).contains(&v) => Err(VdsError::BadTrustLevel { value: v }),
        Some(Format::UnixTime) if i64::try_from(v).is_err() => Err(VdsError::TimeOutOfRange { what: "expiry" }),
        _ if !in_range => Err(bad_value(&spec.key, "outside the manifest range")),
        _ => Ok(()),
    }
}

/// Converts one item into a value of the field's type, checking it against the field.
fn field_value(spec: &FieldSpec, item: Item<'_>) -> Result<Value, VdsError> {
    let key = spec.key.as_str();
    let value = match (spec.kind, item) {
        (_, Item::Array | Item::Map(_)) => return Err(VdsError::NestingTooDeep { key: key.to_owned() }),
        (FieldType::Uint, Item::Uint(v)) => Value::Uint(v),
        (FieldType::Str, Item::Str(s)) => {
            Value::Str(std::str::from_utf8(s).map_err(|_| VdsError::InvalidUtf8 { field: key.to_owned() })?.to_owned())
        }
        (FieldType::Bin, Item::Bin(b)) => Value::Bin(b.to_vec()),
        (FieldType::Uint, _) => return Err(wrong(key, "uint")),
        (FieldType::Str, _) => return Err(wrong(key, "str")),
        (FieldType::Bin, _) => return Err(wrong(key, "bin")),
    };
    check_value(spec, &value)?;
    Ok(value)
}

fn check_value(spec: &FieldSpec, value: &Value) -> Result<(), VdsError> {
    match value {
        Value::Uint(v) => check_uint(spec, *v),
        Value::Str(s) => check_str(spec, s),
        Value::Bin(b) => check_bin(spec, b),
    }
}

/// Reads a payload map from the start of `buf` (which may continue with the signature),
/// enforcing `manifest` and the canonical form. Returns the entries and the map's length.
pub fn decode_fields(buf: &[u8], manifest: &Manifest) -> Result<(Fields, usize), VdsError> {
    let mut r = Reader::new(buf);
    let count = match r.next()? {
        Item::Map(n) => n,
        _ => return Err(VdsError::PayloadNotMap),
    };
    let extra = if manifest.allow_unknown { MAX_EXTENSIONS } else { 0 };
    if count > manifest.fields.len() + extra {
        return Err(VdsError::TooManyFields { count });
    }
    let mut fields: Fields = Vec::with_capacity(count);
    // bit i: manifest field i seen (a manifest has at most MAX_FIELDS = 32 fields); extension
    // keys are looked up in `fields` (at most MAX_EXTENSIONS of them)
    let mut seen: u64 = 0;
    let bit = |index: usize| u32::try_from(index).ok().and_then(|i| 1u64.checked_shl(i)).unwrap_or(0);
    let mut last_known: Option<usize> = None;
    let mut last_extension: Option<String> = None;
    for _ in 0..count {
        let key = match r.next()? {
            Item::Str(k) => {
                std::str::from_utf8(k).map_err(|_| VdsError::InvalidUtf8 { field: "map key".to_owned() })?.to_owned()
            }
            Item::Array | Item::Map(_) => return Err(VdsError::NestingTooDeep { key: "map key".to_owned() }),
            _ => return Err(wrong("map key", "str")),
        };
        let known = manifest.field(&key);
        let duplicate = match known {
            Some((index, _)) => seen & bit(index) != 0,
            None => fields.iter().any(|(k, _)| *k == key),
        };
        if duplicate {
            return Err(VdsError::DuplicateKey { key });
        }
        let value = match known {
            Some((index, spec)) => {
                seen |= bit(index);
                if last_extension.is_some() || last_known.is_some_and(|l| l >= index) {
                    return Err(VdsError::KeyOrder { key });
                }
                last_known = Some(index);
                field_value(spec, r.next()?)?
            }
            None if !manifest.allow_unknown => return Err(VdsError::UnknownKey { key }),
            None => {
                if last_extension.as_ref().is_some_and(|l| l.as_bytes() >= key.as_bytes()) {
                    return Err(VdsError::KeyOrder { key });
                }
                last_extension = Some(key.clone());
                match r.next()? {
                    Item::Uint(v) => Value::Uint(v),
                    Item::Str(s) => Value::Str(
                        std::str::from_utf8(s).map_err(|_| VdsError::InvalidUtf8 { field: key.clone() })?.to_owned(),
                    ),
                    Item::Bin(b) => Value::Bin(b.to_vec()),
                    Item::Array | Item::Map(_) => return Err(VdsError::NestingTooDeep { key }),
                    Item::Other => return Err(wrong(&key, "uint, str or bin")),
                }
            }
        };
        fields.push((key, value));
    }
    if let Some((_, missing)) = manifest.fields.iter().enumerate().find(|(i, f)| f.required && seen & bit(*i) == 0) {
        return Err(VdsError::MissingField { key: missing.key.clone() });
    }
    Ok((fields, r.position()))
}

/// Writes `fields` as a payload map and checks the result against `manifest` (so nothing is
/// written that the decoder would refuse, including a wrong order).
pub fn encode_fields(fields: &[(String, Value)], manifest: &Manifest) -> Result<Vec<u8>, VdsError> {
    let mut out = Vec::new();
    msgpack::write_map(&mut out, fields.len());
    for (key, value) in fields {
        msgpack::write_str(&mut out, key);
        match value {
            Value::Uint(v) => msgpack::write_uint(&mut out, *v),
            Value::Str(s) => msgpack::write_str(&mut out, s),
            Value::Bin(b) => msgpack::write_bin(&mut out, b),
        }
    }
    let (_, used) = decode_fields(&out, manifest)?;
    if used != out.len() {
        return Err(VdsError::LengthMismatch { declared: out.len(), actual: used });
    }
    Ok(out)
}

/// The trust level of the identity behind a seal (signed, in the payload as `tl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TrustLevel {
    /// 1: selfie and document photo, no NFC (low).
    SelfIssued = 1,
    /// 2: NFC read with an operator present (eIDAS substantial).
    OperatorVerified = 2,
    /// 3: NFC with Active Authentication and a 1:1 biometric match (eIDAS high).
    NfcBiometric = 3,
}

impl TrustLevel {
    /// The level from its number.
    pub fn from_u64(v: u64) -> Result<Self, VdsError> {
        match v {
            1 => Ok(Self::SelfIssued),
            2 => Ok(Self::OperatorVerified),
            3 => Ok(Self::NfcBiometric),
            _ => Err(VdsError::BadTrustLevel { value: v }),
        }
    }

    /// The level's number.
    pub fn as_u64(self) -> u64 {
        self as u64
    }
}

/// The identity payload (manifest `0x0A0001`). Its `Debug` shows only the token id, expiry and
/// trust level: names, dates, document number and biometrics never reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    /// `gn`: given name(s), up to 39 characters (may be empty).
    pub given_name: String,
    /// `fn`: family name, 1 to 39 characters.
    pub family_name: String,
    /// `dob`: date of birth `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// `nat`: ICAO 9303 three-letter nationality code.
    pub nationality: String,
    /// `doc`: document number, `A-Z0-9<`, 1 to 20 characters.
    pub document_number: String,
    /// `tid`: the token id, a UUID as 16 bytes.
    pub token_id: [u8; 16],
    /// `exp`: expiry, Unix seconds.
    pub expires_at: UnixTime,
    /// `photo`: WEBP portrait, at most 2048 bytes.
    pub photo: Vec<u8>,
    /// `face`: face template, exactly 140 bytes; never displayed.
    pub face: [u8; FACE_LEN],
    /// `tl`: trust level.
    pub trust_level: TrustLevel,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("token_id", &self.token_id_string())
            .field("expires_at", &self.expires_at)
            .field("trust_level", &self.trust_level)
            .field("personal_data", &"<redacted>")
            .field("photo_len", &self.photo.len())
            .field("face", &"<never shown>")
            .finish()
    }
}

pub(crate) fn take_str(fields: &mut Fields, key: &str) -> Result<String, VdsError> {
    match take(fields, key)? {
        Value::Str(s) => Ok(s),
        _ => Err(wrong(key, "str")),
    }
}

pub(crate) fn take_bin(fields: &mut Fields, key: &str) -> Result<Vec<u8>, VdsError> {
    match take(fields, key)? {
        Value::Bin(b) => Ok(b),
        _ => Err(wrong(key, "bin")),
    }
}

pub(crate) fn take_uint(fields: &mut Fields, key: &str) -> Result<u64, VdsError> {
    match take(fields, key)? {
        Value::Uint(v) => Ok(v),
        _ => Err(wrong(key, "uint")),
    }
}

pub(crate) fn take(fields: &mut Fields, key: &str) -> Result<Value, VdsError> {
    let pos =
        fields.iter().position(|(k, _)| k == key).ok_or_else(|| VdsError::MissingField { key: key.to_owned() })?;
    Ok(fields.remove(pos).1)
}

impl Identity {
    /// The token id as a lowercase hyphenated UUID string.
    pub fn token_id_string(&self) -> String {
        let h: String = self.token_id.iter().map(|b| format!("{b:02x}")).collect();
        let part = |r: std::ops::Range<usize>| h.get(r).unwrap_or_default().to_owned();
        format!("{}-{}-{}-{}-{}", part(0..8), part(8..12), part(12..16), part(16..20), part(20..32))
    }

    /// The map entries in manifest order.
    pub fn to_fields(&self) -> Fields {
        let exp = u64::try_from(self.expires_at.as_secs()).unwrap_or(u64::MAX);
        vec![
            ("gn".into(), Value::Str(self.given_name.clone())),
            ("fn".into(), Value::Str(self.family_name.clone())),
            ("dob".into(), Value::Str(self.date_of_birth.clone())),
            ("nat".into(), Value::Str(self.nationality.clone())),
            ("doc".into(), Value::Str(self.document_number.clone())),
            ("tid".into(), Value::Bin(self.token_id.to_vec())),
            ("exp".into(), Value::Uint(exp)),
            ("photo".into(), Value::Bin(self.photo.clone())),
            ("face".into(), Value::Bin(self.face.to_vec())),
            ("tl".into(), Value::Uint(self.trust_level.as_u64())),
        ]
    }

    /// The identity from checked entries (see [`decode_fields`]).
    pub fn from_fields(mut fields: Fields) -> Result<Self, VdsError> {
        let token_id = take_bin(&mut fields, "tid")?;
        let face = take_bin(&mut fields, "face")?;
        let exp = take_uint(&mut fields, "exp")?;
        let identity = Self {
            given_name: take_str(&mut fields, "gn")?,
            family_name: take_str(&mut fields, "fn")?,
            date_of_birth: take_str(&mut fields, "dob")?,
            nationality: take_str(&mut fields, "nat")?,
            document_number: take_str(&mut fields, "doc")?,
            token_id: token_id.as_slice().try_into().map_err(|_| VdsError::WrongSize {
                key: "tid".into(),
                len: token_id.len(),
                expected: 16,
            })?,
            expires_at: UnixTime::from_secs(
                i64::try_from(exp).map_err(|_| VdsError::TimeOutOfRange { what: "expiry" })?,
            ),
            photo: take_bin(&mut fields, "photo")?,
            face: face.as_slice().try_into().map_err(|_| VdsError::WrongSize {
                key: "face".into(),
                len: face.len(),
                expected: FACE_LEN,
            })?,
            trust_level: TrustLevel::from_u64(take_uint(&mut fields, "tl")?)?,
        };
        if let Some((key, _)) = fields.into_iter().next() {
            return Err(VdsError::UnknownKey { key });
        }
        Ok(identity)
    }

    /// The canonical payload bytes under the identity manifest.
    pub fn encode(&self) -> Result<Vec<u8>, VdsError> {
        if self.expires_at.as_secs() < 0 {
            return Err(VdsError::TimeOutOfRange { what: "expiry" });
        }
        encode_fields(&self.to_fields(), Manifest::identity()?)
    }

    /// Reads an identity payload from the start of `buf`; returns it and the payload length.
    pub fn decode(buf: &[u8]) -> Result<(Self, usize), VdsError> {
        let (fields, used) = decode_fields(buf, Manifest::identity()?)?;
        Ok((Self::from_fields(fields)?, used))
    }
}

/// The typed payload of a seal, by its manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "identity seals are the common case and were held inline before; boxing would only move 300 bytes"
)]
pub enum Payload {
    /// An identity seal (manifest `0x0A0001`).
    Identity(Identity),
    /// A service seal (manifest `0x0A0002`).
    Service(Service),
}

impl From<Identity> for Payload {
    fn from(identity: Identity) -> Self {
        Self::Identity(identity)
    }
}

impl From<Service> for Payload {
    fn from(service: Service) -> Self {
        Self::Service(service)
    }
}

impl Payload {
    /// The manifest this payload is written under.
    pub fn manifest_id(&self) -> ManifestId {
        match self {
            Self::Identity(_) => ManifestId::IDENTITY,
            Self::Service(_) => ManifestId::SERVICE,
        }
    }

    /// The seal's own expiry (`exp`).
    pub fn expires_at(&self) -> UnixTime {
        match self {
            Self::Identity(p) => p.expires_at,
            Self::Service(p) => p.expires_at,
        }
    }

    /// The identity, if this is an identity payload.
    pub fn as_identity(&self) -> Option<&Identity> {
        match self {
            Self::Identity(p) => Some(p),
            Self::Service(_) => None,
        }
    }

    /// The service, if this is a service payload.
    pub fn as_service(&self) -> Option<&Service> {
        match self {
            Self::Service(p) => Some(p),
            Self::Identity(_) => None,
        }
    }

    /// The canonical payload bytes under its manifest.
    pub fn encode(&self) -> Result<Vec<u8>, VdsError> {
        match self {
            Self::Identity(p) => p.encode(),
            Self::Service(p) => p.encode(),
        }
    }

    /// The typed payload of manifest `id` from entries checked against that manifest (see
    /// [`decode_fields`]).
    pub fn from_fields(id: ManifestId, fields: Fields) -> Result<Self, VdsError> {
        match id {
            ManifestId::IDENTITY => Identity::from_fields(fields).map(Self::Identity),
            ManifestId::SERVICE => Service::from_fields(fields).map(Self::Service),
            _ => Err(VdsError::UnknownManifest { id: id.value() }),
        }
    }
}

#[cfg(test)]
#[path = "payload_tests.rs"]
pub(crate) mod tests;
