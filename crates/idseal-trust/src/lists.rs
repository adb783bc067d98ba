//! The four lists of the chain of trust (docs/trust.md) as Rust types: the Governance List,
//! the Scheme Lists (one per IAC), the TSLs (CAs with status and history) and the VRLs (revoked
//! seals). The first three have the ETSI TS 119 612 shape (namespace [`TSL_NS`]); our additions
//! live in [`IDSEAL_NS`]. Writing is in `lists_xml`, reading in `lists_parse`: every `parse` reads
//! only [`Verified::signed_document`], the bytes the signature covers.

use std::fmt;

use idseal_types::UnixTime;
use idseal_vds::ManifestId;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::TrustError;
use crate::xmldsig::Verified;

/// The ETSI TS 119 612 namespace.
pub const TSL_NS: &str = "http://uri.etsi.org/02231/v2#";
/// Our namespace, for the extensions and the VRL.
pub const IDSEAL_NS: &str = "urn:idseal:trust:1";
/// `TSLVersionIdentifier` of every list we write and accept.
pub const TSL_VERSION: u64 = 5;
/// `TSLType` of the Governance List (our list of the lists).
pub const TSL_TYPE_GOVERNANCE: &str = "urn:idseal:trust:1:TSLType:governance";
/// `TSLType` of a Scheme List.
pub const TSL_TYPE_SCHEME: &str = "urn:idseal:trust:1:TSLType:scheme";
/// `TSLType` of a TSL.
pub const TSL_TYPE_TSL: &str = "urn:idseal:trust:1:TSLType:tsl";
/// `ServiceTypeIdentifier` of a VDS certification authority.
pub const SERVICE_TYPE_VDS_CA: &str = "urn:idseal:trust:1:Svctype:VDS-CA";
/// `ServiceStatus` granted.
pub const STATUS_GRANTED: &str = "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/granted";
/// `ServiceStatus` withdrawn.
pub const STATUS_WITHDRAWN: &str = "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/withdrawn";
/// `MimeType` of the pointed-to lists.
pub const MIME_TYPE: &str = "application/vnd.etsi.tsl+xml";

/// Upper bound on a signed document we parse.
pub const MAX_DOCUMENT_LEN: usize = 8 * 1024 * 1024;
/// Upper bound on the number of repeated entries (operators, CAs, certificates, revocations).
pub const MAX_ENTRIES: usize = 100_000;
/// Upper bound on a short text (names, URIs, reasons).
pub const MAX_TEXT_LEN: usize = 2048;
/// Upper bound on a Base64 certificate.
pub const MAX_CERTIFICATE_LEN: usize = 16 * 1024;

/// Which list of the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListKind {
    /// The Governance List (the list of the Scheme Operators).
    Governance,
    /// A Scheme List (one per IAC).
    Scheme,
    /// A Trust Service List (the CAs).
    Tsl,
    /// A VDS Revocation List.
    Vrl,
}

impl fmt::Display for ListKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Governance => "Governance List",
            Self::Scheme => "Scheme List",
            Self::Tsl => "TSL",
            Self::Vrl => "VRL",
        })
    }
}

/// The `SchemeInformation` fields common to the three ETSI-shaped lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemeInformation {
    /// `TSLSequenceNumber`: grows with every issue; a cache never accepts a lower one.
    pub sequence_number: u64,
    /// `SchemeOperatorName/Name`.
    pub operator_name: String,
    /// `ListIssueDateTime`.
    pub issued_at: UnixTime,
    /// `NextUpdate/dateTime`: past it, the list is stale and verification fails closed.
    pub next_update: UnixTime,
    /// `DistributionPoints/URI`: where the list is published (at least one).
    pub distribution_points: Vec<String>,
}

/// An authorised Scheme Operator, as the Governance List names it (`OtherTSLPointer`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemeOperator {
    /// Its issuing authority code (3 characters), `AdditionalInformation/SchemeTerritory`.
    pub iac: String,
    /// Its name, `AdditionalInformation/SchemeOperatorName`.
    pub name: String,
    /// `TSLLocation`: the URL of its Scheme List.
    pub scheme_list_location: String,
    /// The DER of the only certificate that may sign its Scheme List.
    pub signer_certificate: Vec<u8>,
}

/// The Governance List: the Scheme Operators authorised, each with its list-signing certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GovernanceList {
    /// Sequence number, operator, dates, distribution points.
    pub information: SchemeInformation,
    /// The authorised Scheme Operators (IACs unique).
    pub operators: Vec<SchemeOperator>,
}

/// A pointer from a Scheme List to a TSL or VRL: where it is and who signs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListPointer {
    /// `TSLLocation`.
    pub location: String,
    /// The DER of the only certificate that may sign the list.
    pub signer_certificate: Vec<u8>,
}

/// A Scheme List: one issuing authority's scheme, the manifests it may authorise, its TSLs and
/// its VRL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemeList {
    /// Sequence number, operator, dates, distribution points.
    pub information: SchemeInformation,
    /// `SchemeTerritory`: the IAC (3 characters).
    pub iac: String,
    /// `SchemeExtensions/idseal:ManifestScope`: the manifests seals of this scheme may use.
    pub manifest_scope: Vec<ManifestId>,
    /// Pointers of kind `TSL` (at least one).
    pub tsls: Vec<ListPointer>,
    /// The pointer of kind `VRL` (exactly one).
    pub vrl: ListPointer,
}

/// A service status of a CA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceStatus {
    /// [`STATUS_GRANTED`]: seals under this CA are trusted.
    Granted,
    /// [`STATUS_WITHDRAWN`]: they are not.
    Withdrawn,
}

impl ServiceStatus {
    /// The ETSI URI.
    pub const fn uri(self) -> &'static str {
        match self {
            Self::Granted => STATUS_GRANTED,
            Self::Withdrawn => STATUS_WITHDRAWN,
        }
    }

    pub(crate) fn from_uri(uri: &str) -> Result<Self, TrustError> {
        match uri {
            STATUS_GRANTED => Ok(Self::Granted),
            STATUS_WITHDRAWN => Ok(Self::Withdrawn),
            _ => Err(TrustError::Structure(format!("unknown ServiceStatus {uri}"))),
        }
    }
}

/// A status and the time from which it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusPeriod {
    /// `ServiceStatus`.
    pub status: ServiceStatus,
    /// `StatusStartingTime`.
    pub since: UnixTime,
}

/// A CA on a TSL (one `TrustServiceProvider` with one `TSPService`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustServiceProvider {
    /// `TSPInformation/TSPName/Name`.
    pub name: String,
    /// `ServiceInformation/ServiceName/Name`.
    pub service_name: String,
    /// The CA certificate DER (`ServiceDigitalIdentity/DigitalId/X509Certificate`).
    pub ca_certificate: Vec<u8>,
    /// The current status and its starting time.
    pub current: StatusPeriod,
    /// `ServiceHistory/ServiceHistoryInstance`: earlier statuses.
    pub history: Vec<StatusPeriod>,
    /// The seal-signing certificates this CA issued, DER
    /// (`ServiceInformationExtensions/Extension/idseal:SigningCertificates`).
    pub signing_certificates: Vec<Vec<u8>>,
}

impl TrustServiceProvider {
    /// The status in force at `t`: the one with the latest starting time not after `t`
    /// (current status or history); `None` before the first.
    pub fn status_at(&self, t: UnixTime) -> Option<ServiceStatus> {
        std::iter::once(&self.current)
            .chain(&self.history)
            .filter(|p| p.since <= t)
            .max_by_key(|p| p.since)
            .map(|p| p.status)
    }
}

/// A Trust Service List: the CAs of a scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tsl {
    /// Sequence number, operator, dates, distribution points.
    pub information: SchemeInformation,
    /// `SchemeTerritory`: the IAC.
    pub iac: String,
    /// The CAs.
    pub providers: Vec<TrustServiceProvider>,
}

/// A revoked seal on a VRL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedSeal {
    /// SHA-256 of the VDS binary (`idseal_vds::DecodedVds::fingerprint`).
    pub fingerprint: [u8; 32],
    /// When it was revoked.
    pub revoked_at: UnixTime,
    /// Why (free text).
    pub reason: String,
}

/// A VDS Revocation List (ours: root `idseal:VdsRevocationList`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vrl {
    /// `SequenceNumber`.
    pub sequence_number: u64,
    /// `IAC`.
    pub iac: String,
    /// `ListIssueDateTime`.
    pub issued_at: UnixTime,
    /// `NextUpdate`.
    pub next_update: UnixTime,
    /// The revoked seals.
    pub revoked: Vec<RevokedSeal>,
}

impl Vrl {
    /// The entry for `fingerprint`, if revoked.
    pub fn find(&self, fingerprint: &[u8; 32]) -> Option<&RevokedSeal> {
        self.revoked.iter().find(|r| &r.fingerprint == fingerprint)
    }
}

macro_rules! list_io {
    ($ty:ty, $write:path, $read:path) => {
        impl $ty {
            /// The list as unsigned XML, ready for [`sign_enveloped`](crate::xmldsig::sign_enveloped).
            pub fn to_unsigned_xml(&self) -> String {
                $write(self)
            }

            /// Reads the list from the signed content of a verified document (never from the
            /// input itself). Strict: required elements exactly once, no unknown element, sizes
            /// bounded, dates `xs:dateTime` in UTC.
            ///
            /// # Errors
            /// [`TrustError::Xml`] or [`TrustError::Structure`].
            pub fn parse(verified: &Verified) -> Result<Self, TrustError> {
                $read(&verified.signed_document)
            }
        }
    };
}

list_io!(GovernanceList, crate::lists_xml::governance, crate::lists_parse::governance);
list_io!(SchemeList, crate::lists_xml::scheme, crate::lists_parse::scheme);
list_io!(Tsl, crate::lists_xml::tsl, crate::lists_parse::tsl);
list_io!(Vrl, crate::lists_xml::vrl, crate::lists_parse::vrl);

/// `xs:dateTime` in UTC with whole seconds: `2026-11-25T14:42:03Z`.
pub fn format_datetime(t: UnixTime) -> String {
    OffsetDateTime::from_unix_timestamp(t.as_secs())
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds, nothing else).
///
/// # Errors
/// [`TrustError::Structure`] for any other form.
pub fn parse_datetime(text: &str) -> Result<UnixTime, TrustError> {
    let bad = || TrustError::Structure(format!("not an xs:dateTime in UTC: {text:?}"));
    let shape = text.len() == 20
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            19 => b == b'Z',
            _ => b.is_ascii_digit(),
        });
    if !shape {
        return Err(bad());
    }
    let parsed = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| bad())?;
    Ok(UnixTime::from_secs(parsed.unix_timestamp()))
}

/// Parses a manifest id written as 6 hex digits (`0A0001`).
///
/// # Errors
/// [`TrustError::Structure`].
pub fn parse_manifest_id(text: &str) -> Result<ManifestId, TrustError> {
    let bad = || TrustError::Structure(format!("not a manifest id (6 hex digits): {text:?}"));
    if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)) {
        return Err(bad());
    }
    u32::from_str_radix(text, 16).ok().and_then(ManifestId::new).ok_or_else(bad)
}

/// Lower-case hex.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A SHA-256 fingerprint from 64 hex digits (either case).
///
/// # Errors
/// [`TrustError::Structure`].
pub fn parse_fingerprint(text: &str) -> Result<[u8; 32], TrustError> {
    let bad = || TrustError::Structure(format!("not a SHA-256 fingerprint (64 hex digits): {text:?}"));
    if text.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        let pair = text.get(2 * i..2 * i + 2).ok_or_else(bad)?;
        *o = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// Whether `iac` is an issuing authority code: 3 characters `A-Z0-9`.
pub fn is_iac(iac: &str) -> bool {
    iac.len() == 3 && iac.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_are_strict_utc() {
        let t = parse_datetime("2026-11-25T14:42:03Z").unwrap();
        assert_eq!(format_datetime(t), "2026-11-25T14:42:03Z");
        for bad in
            ["2026-11-25T14:42:03+00:00", "2026-11-25T14:42:03.5Z", "2026-11-25 14:42:03Z", "2026-02-30T00:00:00Z"]
        {
            assert!(parse_datetime(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_follows_history() {
        let p = |status, s| StatusPeriod { status, since: UnixTime::from_secs(s) };
        let tsp = TrustServiceProvider {
            name: "CA".into(),
            service_name: "CA".into(),
            ca_certificate: Vec::new(),
            current: p(ServiceStatus::Withdrawn, 200),
            history: vec![p(ServiceStatus::Granted, 100)],
            signing_certificates: Vec::new(),
        };
        assert_eq!(tsp.status_at(UnixTime::from_secs(50)), None);
        assert_eq!(tsp.status_at(UnixTime::from_secs(150)), Some(ServiceStatus::Granted));
        assert_eq!(tsp.status_at(UnixTime::from_secs(250)), Some(ServiceStatus::Withdrawn));
    }
}

/// What a cache needs of any list: its kind, sequence number and NextUpdate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListSummary {
    /// Which list.
    pub kind: ListKind,
    /// Its sequence number (never accepted lower than one seen before for the same location).
    pub sequence_number: u64,
    /// Past this time the list is stale and must not be used.
    pub next_update: UnixTime,
}

/// The summary of a verified list of any kind (each kind has its own root or `TSLType`, so at
/// most one parser accepts it).
///
/// # Errors
/// [`TrustError::Structure`] when no list kind parses.
pub fn summary(verified: &Verified) -> Result<ListSummary, TrustError> {
    let info = |kind, i: &SchemeInformation| ListSummary {
        kind,
        sequence_number: i.sequence_number,
        next_update: i.next_update,
    };
    if let Ok(l) = GovernanceList::parse(verified) {
        return Ok(info(ListKind::Governance, &l.information));
    }
    if let Ok(l) = SchemeList::parse(verified) {
        return Ok(info(ListKind::Scheme, &l.information));
    }
    if let Ok(l) = Tsl::parse(verified) {
        return Ok(info(ListKind::Tsl, &l.information));
    }
    match Vrl::parse(verified) {
        Ok(l) => {
            Ok(ListSummary { kind: ListKind::Vrl, sequence_number: l.sequence_number, next_update: l.next_update })
        }
        Err(_) => Err(TrustError::Structure("not a Governance List, Scheme List, TSL or VRL".into())),
    }
}
