//! Manifests: XML files that define a payload (keys, types, limits, visibility).
//!
//! The identity manifest `0x0A0001` and the service manifest `0x0A0002` ship in the crate
//! (`manifests/0A0001.xml`, `manifests/0A0002.xml`). The payload
//! codec enforces a manifest: key order, required fields, types, lengths, integer ranges, content
//! formats, and whether keys outside the manifest are allowed.

use std::collections::HashSet;
use std::sync::OnceLock;

use crate::error::VdsError;
use crate::header::ManifestId;

/// The XML namespace of manifest files.
pub const NAMESPACE: &str = "urn:idseal:vds:manifest:1";
/// The identity manifest as shipped.
pub const IDENTITY_XML: &str = include_str!("../manifests/0A0001.xml");
/// The service manifest as shipped.
pub const SERVICE_XML: &str = include_str!("../manifests/0A0002.xml");
/// The most fields a manifest may define.
pub const MAX_FIELDS: usize = 32;
/// The most extension (unknown) keys a payload may carry when its manifest allows them.
pub const MAX_EXTENSIONS: usize = 8;

/// The MessagePack type of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// A UTF-8 string (lengths count characters).
    Str,
    /// A byte string (lengths count bytes).
    Bin,
    /// An unsigned integer.
    Uint,
}

/// An extra content rule of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A person's name: no control characters, no leading or trailing space.
    Name,
    /// A calendar date `YYYY-MM-DD` (years 0001-9999, proleptic Gregorian).
    Date,
    /// An ICAO 9303 three-letter code: `A-Z` then `A-Z` or the filler `<` (e.g. `FRA`, `D<<`).
    Alpha3,
    /// A document number: `A-Z`, `0-9`, `<`, not starting or ending with `<`.
    DocNum,
    /// A UUID as 16 raw bytes.
    Uuid,
    /// Unix seconds that fit a signed 64-bit integer.
    UnixTime,
    /// A WEBP image (RIFF container, `WEBP` form, consistent RIFF size).
    Webp,
    /// The trust level 1..=3.
    TrustLevel,
    /// A service id: `a-z`, `0-9`, `.`, `_`, `-`.
    ServiceId,
    /// A display name: no control, bidirectional or invisible format characters, no leading or
    /// trailing white space.
    Label,
    /// A web origin: `https://host[:port]` or `http://localhost|127.0.0.1[:port]`, canonical
    /// (lowercase, no default port), without path, query, fragment or userinfo.
    Origin,
    /// Space-separated `identity:[a-z0-9_]+` scopes: at least one, no duplicates.
    Scopes,
}

/// Whether a field may be shown to people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// May always be displayed.
    Always,
    /// Displayed only after the holder consents.
    Consent,
    /// Never displayed (for example the face template).
    Never,
}

/// One field of a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    /// The map key.
    pub key: String,
    /// A human name.
    pub name: String,
    /// The MessagePack type.
    pub kind: FieldType,
    /// Smallest length (str, bin).
    pub min_len: usize,
    /// Largest length (str, bin).
    pub max_len: usize,
    /// Smallest value (uint).
    pub min: u64,
    /// Largest value (uint).
    pub max: u64,
    /// The content rule, if any.
    pub format: Option<Format>,
    /// Whether the field must be present.
    pub required: bool,
    /// Whether it may be shown.
    pub visibility: Visibility,
}

/// A parsed manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// Its id (the header's manifest id).
    pub id: ManifestId,
    /// A human name.
    pub name: String,
    /// Whether keys outside the manifest are kept (true) or refused (false).
    pub allow_unknown: bool,
    /// The fields, in canonical key order.
    pub fields: Vec<FieldSpec>,
}

fn bad(reason: impl Into<String>) -> VdsError {
    VdsError::BadManifest { reason: reason.into() }
}

fn parse_num(node: roxmltree::Node<'_, '_>, attr: &str) -> Result<Option<u64>, VdsError> {
    node.attribute(attr)
        .map(|v| {
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!("{attr}={v:?} is not a number")));
            }
            v.parse::<u64>().map_err(|_| bad(format!("{attr}={v:?} is out of range")))
        })
        .transpose()
}

fn parse_len(node: roxmltree::Node<'_, '_>, attr: &str) -> Result<Option<usize>, VdsError> {
    parse_num(node, attr)?.map(|v| usize::try_from(v).map_err(|_| bad(format!("{attr} too large")))).transpose()
}

const FIELD_ATTRS: [&str; 11] =
    ["key", "name", "type", "length", "minLength", "maxLength", "min", "max", "format", "required", "visibility"];

fn parse_field(node: roxmltree::Node<'_, '_>) -> Result<FieldSpec, VdsError> {
    for a in node.attributes() {
        if !FIELD_ATTRS.contains(&a.name()) || a.namespace().is_some() {
            return Err(bad(format!("unknown Field attribute {:?}", a.name())));
        }
    }
    let key = node.attribute("key").ok_or_else(|| bad("Field without key"))?.to_owned();
    if key.is_empty() || key.len() > 16 || !key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
        return Err(bad(format!("key {key:?} is not 1-16 characters a-z 0-9")));
    }
    let kind = match node.attribute("type") {
        Some("str") => FieldType::Str,
        Some("bin") => FieldType::Bin,
        Some("uint") => FieldType::Uint,
        other => return Err(bad(format!("field {key}: unknown type {other:?}"))),
    };
    let format = match node.attribute("format") {
        None => None,
        Some("name") => Some(Format::Name),
        Some("date") => Some(Format::Date),
        Some("alpha3") => Some(Format::Alpha3),
        Some("docnum") => Some(Format::DocNum),
        Some("uuid") => Some(Format::Uuid),
        Some("unixtime") => Some(Format::UnixTime),
        Some("webp") => Some(Format::Webp),
        Some("trustlevel") => Some(Format::TrustLevel),
        Some("serviceid") => Some(Format::ServiceId),
        Some("label") => Some(Format::Label),
        Some("origin") => Some(Format::Origin),
        Some("scopes") => Some(Format::Scopes),
        Some(other) => return Err(bad(format!("field {key}: unknown format {other:?}"))),
    };
    let required = match node.attribute("required") {
        Some("true") => true,
        Some("false") | None => false,
        Some(other) => return Err(bad(format!("field {key}: required={other:?}"))),
    };
    let visibility = match node.attribute("visibility") {
        Some("ALWAYS") => Visibility::Always,
        Some("CONSENT") => Visibility::Consent,
        Some("NEVER") => Visibility::Never,
        other => return Err(bad(format!("field {key}: visibility {other:?}"))),
    };
    let length = parse_len(node, "length")?;
    let (min_len, max_len) = match (kind, length, parse_len(node, "minLength")?, parse_len(node, "maxLength")?) {
        (FieldType::Uint, None, None, None) => (0, 0),
        (FieldType::Uint, ..) => return Err(bad(format!("field {key}: uint fields have no length"))),
        (_, Some(n), None, None) => (n, n),
        (_, None, min, Some(max)) => (min.unwrap_or(0), max),
        _ => return Err(bad(format!("field {key}: give either length or maxLength (and minLength)"))),
    };
    if min_len > max_len || max_len > crate::header::MAX_PAYLOAD_LEN {
        return Err(bad(format!("field {key}: bad length bounds")));
    }
    let (min, max) = match (kind, parse_num(node, "min")?, parse_num(node, "max")?) {
        (FieldType::Uint, min, max) => (min.unwrap_or(0), max.unwrap_or(u64::MAX)),
        (_, None, None) => (0, 0),
        _ => return Err(bad(format!("field {key}: min/max only apply to uint"))),
    };
    if min > max {
        return Err(bad(format!("field {key}: min > max")));
    }
    let fits = match format {
        None => true,
        Some(
            Format::Name
            | Format::Date
            | Format::Alpha3
            | Format::DocNum
            | Format::ServiceId
            | Format::Label
            | Format::Origin
            | Format::Scopes,
        ) => kind == FieldType::Str,
        Some(Format::Uuid) => kind == FieldType::Bin && min_len == 16 && max_len == 16,
        Some(Format::Webp) => kind == FieldType::Bin,
        Some(Format::UnixTime | Format::TrustLevel) => kind == FieldType::Uint,
    };
    if !fits {
        return Err(bad(format!("field {key}: format does not fit the type")));
    }
    let name = node.attribute("name").unwrap_or(&key).to_owned();
    Ok(FieldSpec { key, name, kind, min_len, max_len, min, max, format, required, visibility })
}

impl Manifest {
    /// Parses a manifest file. DTDs are refused (roxmltree's default).
    pub fn parse(xml: &str) -> Result<Self, VdsError> {
        let doc = roxmltree::Document::parse(xml).map_err(|e| bad(e.to_string()))?;
        let root = doc.root_element();
        if root.tag_name().name() != "Manifest" || root.tag_name().namespace() != Some(NAMESPACE) {
            return Err(bad(format!("root element must be Manifest in {NAMESPACE}")));
        }
        let id_text = root.attribute("id").ok_or_else(|| bad("Manifest without id"))?;
        let id = (id_text.len() == 6)
            .then(|| u32::from_str_radix(id_text, 16).ok())
            .flatten()
            .filter(|_| id_text.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()))
            .and_then(ManifestId::new)
            .ok_or_else(|| bad(format!("id {id_text:?} is not 6 uppercase hex digits")))?;
        let allow_unknown = match root.attribute("unknownFields") {
            Some("reject") | None => false,
            Some("keep") => true,
            Some(other) => return Err(bad(format!("unknownFields={other:?}"))),
        };
        let name = root.attribute("name").unwrap_or_default().to_owned();
        let mut payloads = root.children().filter(roxmltree::Node::is_element);
        let payload = payloads.next().filter(|p| p.has_tag_name((NAMESPACE, "Payload")));
        let Some(payload) = payload else { return Err(bad("Manifest must contain one Payload")) };
        if payloads.next().is_some() {
            return Err(bad("Manifest must contain one Payload"));
        }
        let mut fields = Vec::new();
        let mut keys = HashSet::new();
        for node in payload.children().filter(roxmltree::Node::is_element) {
            if !node.has_tag_name((NAMESPACE, "Field")) {
                return Err(bad(format!("unexpected element {:?}", node.tag_name().name())));
            }
            let field = parse_field(node)?;
            if !keys.insert(field.key.clone()) {
                return Err(bad(format!("duplicate key {:?}", field.key)));
            }
            fields.push(field);
        }
        if fields.is_empty() || fields.len() > MAX_FIELDS {
            return Err(bad(format!("a manifest has 1 to {MAX_FIELDS} fields")));
        }
        Ok(Self { id, name, allow_unknown, fields })
    }

    /// The shipped identity manifest `0x0A0001`.
    pub fn identity() -> Result<&'static Self, VdsError> {
        static IDENTITY: OnceLock<Result<Manifest, VdsError>> = OnceLock::new();
        IDENTITY.get_or_init(|| Self::parse(IDENTITY_XML)).as_ref().map_err(Clone::clone)
    }

    /// The shipped service manifest `0x0A0002`.
    pub fn service() -> Result<&'static Self, VdsError> {
        static SERVICE: OnceLock<Result<Manifest, VdsError>> = OnceLock::new();
        SERVICE.get_or_init(|| Self::parse(SERVICE_XML)).as_ref().map_err(Clone::clone)
    }

    /// The shipped manifest with this id.
    pub fn for_id(id: ManifestId) -> Result<&'static Self, VdsError> {
        match id {
            ManifestId::IDENTITY => Self::identity(),
            ManifestId::SERVICE => Self::service(),
            _ => Err(VdsError::UnknownManifest { id: id.value() }),
        }
    }

    /// The field with this key, and its position.
    pub fn field(&self, key: &str) -> Option<(usize, &FieldSpec)> {
        self.fields.iter().enumerate().find(|(_, f)| f.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_manifest_loads() {
        let m = Manifest::identity().unwrap();
        assert_eq!(m.id, ManifestId::IDENTITY);
        assert!(!m.allow_unknown);
        let keys: Vec<&str> = m.fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["gn", "fn", "dob", "nat", "doc", "tid", "exp", "photo", "face", "tl"]);
        let face = m.field("face").unwrap().1;
        assert_eq!(
            (face.kind, face.min_len, face.max_len, face.visibility),
            (FieldType::Bin, 140, 140, Visibility::Never)
        );
        let gn = m.field("gn").unwrap().1;
        assert_eq!((gn.kind, gn.max_len), (FieldType::Str, 39));
        let tl = m.field("tl").unwrap().1;
        assert_eq!((tl.min, tl.max, tl.format), (1, 3, Some(Format::TrustLevel)));
        assert!(m.fields.iter().all(|f| f.required));
        assert!(matches!(Manifest::for_id(ManifestId::new(0x0A0003).unwrap()), Err(VdsError::UnknownManifest { .. })));
    }

    #[test]
    fn service_manifest_loads() {
        let m = Manifest::service().unwrap();
        assert_eq!(m.id, ManifestId::SERVICE);
        assert_eq!(Manifest::for_id(ManifestId::SERVICE).unwrap(), m);
        assert!(!m.allow_unknown);
        let keys: Vec<&str> = m.fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["sid", "name", "url", "scp", "exp"]);
        let formats: Vec<Option<Format>> = m.fields.iter().map(|f| f.format).collect();
        assert_eq!(
            formats,
            [
                Some(Format::ServiceId),
                Some(Format::Label),
                Some(Format::Origin),
                Some(Format::Scopes),
                Some(Format::UnixTime)
            ]
        );
        let max: Vec<usize> = m.fields.iter().map(|f| f.max_len).collect();
        assert_eq!(max, [64, 64, 200, 512, 0]);
        assert!(m.fields.iter().all(|f| f.required && f.visibility == Visibility::Always));
    }

    fn wrap(fields: &str) -> String {
        format!(r#"<Manifest xmlns="{NAMESPACE}" id="0A00FF"><Payload>{fields}</Payload></Manifest>"#)
    }

    #[test]
    fn rejects_bad_manifests() {
        let ok = r#"<Field key="a" type="uint" visibility="ALWAYS"/>"#;
        assert!(Manifest::parse(&wrap(ok)).is_ok());
        for bad in [
            wrap(""),
            wrap(&format!("{ok}{ok}")),
            wrap(r#"<Field key="a" type="float" visibility="ALWAYS"/>"#),
            wrap(r#"<Field key="a" type="str" visibility="ALWAYS"/>"#),
            wrap(r#"<Field key="a" type="uint" length="3" visibility="ALWAYS"/>"#),
            wrap(r#"<Field key="a" type="uint" visibility="SOMETIMES"/>"#),
            wrap(r#"<Field key="A" type="uint" visibility="ALWAYS"/>"#),
            wrap(r#"<Field key="a" type="uint" visibility="ALWAYS" colour="red"/>"#),
            wrap(r#"<Field key="a" type="str" maxLength="3" format="webp" visibility="ALWAYS"/>"#),
            wrap(r#"<Field key="a" type="bin" maxLength="3" format="origin" visibility="ALWAYS"/>"#),
            wrap(r#"<Field key="a" type="uint" format="scopes" visibility="ALWAYS"/>"#),
            wrap(r#"<Field key="a" type="str" minLength="4" maxLength="3" visibility="ALWAYS"/>"#),
            wrap(r#"<Field key="a" type="uint" min="4" max="3" visibility="ALWAYS"/>"#),
            r#"<Manifest id="0A00FF"><Payload/></Manifest>"#.to_owned(),
            format!(r#"<Manifest xmlns="{NAMESPACE}" id="0a00ff"><Payload>{ok}</Payload></Manifest>"#),
            format!(
                r#"<!DOCTYPE m [<!ENTITY x "y">]><Manifest xmlns="{NAMESPACE}" id="0A00FF"><Payload>{ok}</Payload></Manifest>"#
            ),
            "<not xml".to_owned(),
        ] {
            assert!(matches!(Manifest::parse(&bad), Err(VdsError::BadManifest { .. })), "{bad}");
        }
    }
}
