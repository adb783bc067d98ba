//! Reading the lists of [`crate::lists`] from signed content, strictly: every element we do not
//! expect is refused (in any namespace), required elements appear exactly once, non-blank text
//! appears only in leaf elements, and sizes are bounded.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idseal_types::UnixTime;
use roxmltree::{Document, Node, ParsingOptions};

use crate::TrustError;
use crate::lists::{
    GovernanceList, IDSEAL_NS, ListPointer, MAX_CERTIFICATE_LEN, MAX_DOCUMENT_LEN, MAX_ENTRIES, MAX_TEXT_LEN,
    MIME_TYPE, RevokedSeal, SERVICE_TYPE_VDS_CA, SchemeInformation, SchemeList, SchemeOperator, ServiceStatus,
    StatusPeriod, TSL_NS, TSL_TYPE_GOVERNANCE, TSL_TYPE_SCHEME, TSL_TYPE_TSL, TSL_VERSION, TrustServiceProvider, Tsl,
    Vrl, is_iac, parse_datetime, parse_fingerprint, parse_manifest_id,
};

fn structure(msg: impl Into<String>) -> TrustError {
    TrustError::Structure(msg.into())
}

fn document(text: &str) -> Result<Document<'_>, TrustError> {
    if text.len() > MAX_DOCUMENT_LEN {
        return Err(TrustError::Xml("document too large".into()));
    }
    let options = ParsingOptions { allow_dtd: false, ..ParsingOptions::default() };
    Document::parse_with_options(text, options).map_err(|e| TrustError::Xml(e.to_string()))
}

fn is(node: Node<'_, '_>, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(ns) && node.tag_name().name() == name
}

fn describe(node: Node<'_, '_>) -> String {
    format!("{{{}}}{}", node.tag_name().namespace().unwrap_or_default(), node.tag_name().name())
}

/// The element children of `node`, each of which must be one of `allowed`; non-blank text is
/// refused.
fn children<'a, 'i>(node: Node<'a, 'i>, allowed: &[(&str, &str)]) -> Result<Vec<Node<'a, 'i>>, TrustError> {
    let mut out = Vec::new();
    for child in node.children() {
        if child.is_text() {
            if child.text().is_some_and(|t| !t.trim().is_empty()) {
                return Err(structure(format!("text inside {}", describe(node))));
            }
        } else if child.is_element() {
            if !allowed.iter().any(|(ns, name)| is(child, ns, name)) {
                return Err(structure(format!("unexpected {} in {}", describe(child), describe(node))));
            }
            if out.len() >= MAX_ENTRIES {
                return Err(structure(format!("too many children in {}", describe(node))));
            }
            out.push(child);
        }
    }
    Ok(out)
}

fn all<'a, 'i>(kids: &[Node<'a, 'i>], ns: &str, name: &str) -> Vec<Node<'a, 'i>> {
    kids.iter().copied().filter(|k| is(*k, ns, name)).collect()
}

fn optional<'a, 'i>(kids: &[Node<'a, 'i>], ns: &str, name: &str) -> Result<Option<Node<'a, 'i>>, TrustError> {
    match all(kids, ns, name).as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => Err(structure(format!("{name} appears more than once"))),
    }
}

fn one<'a, 'i>(kids: &[Node<'a, 'i>], ns: &str, name: &str) -> Result<Node<'a, 'i>, TrustError> {
    optional(kids, ns, name)?.ok_or_else(|| structure(format!("{name} is missing")))
}

/// The text of a leaf element (no element children), bounded by `max`.
fn text_max<'a>(node: Node<'a, '_>, max: usize) -> Result<&'a str, TrustError> {
    if node.children().any(|c| c.is_element()) {
        return Err(structure(format!("{} is not a leaf", describe(node))));
    }
    let t = node.text().unwrap_or_default().trim();
    if t.len() > max {
        return Err(structure(format!("{} is too long", describe(node))));
    }
    Ok(t)
}

fn text<'a>(node: Node<'a, '_>) -> Result<&'a str, TrustError> {
    text_max(node, MAX_TEXT_LEN)
}

fn non_empty<'a>(node: Node<'a, '_>) -> Result<&'a str, TrustError> {
    let t = text(node)?;
    if t.is_empty() {
        return Err(structure(format!("{} is empty", describe(node))));
    }
    Ok(t)
}

fn number(node: Node<'_, '_>) -> Result<u64, TrustError> {
    let t = text(node)?;
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) || (t.len() > 1 && t.starts_with('0')) {
        return Err(structure(format!("{} is not a number", describe(node))));
    }
    t.parse().map_err(|_| structure(format!("{} is not a number", describe(node))))
}

fn datetime(node: Node<'_, '_>) -> Result<UnixTime, TrustError> {
    parse_datetime(text(node)?)
}

fn certificate(node: Node<'_, '_>) -> Result<Vec<u8>, TrustError> {
    let b64: String = text_max(node, MAX_CERTIFICATE_LEN)?.split_ascii_whitespace().collect();
    let der = STANDARD.decode(b64).map_err(|_| structure("certificate is not Base64"))?;
    if der.is_empty() {
        return Err(structure("empty certificate"));
    }
    Ok(der)
}

fn iac(t: &str) -> Result<String, TrustError> {
    if !is_iac(t) {
        return Err(structure(format!("not an IAC (3 characters A-Z 0-9): {t:?}")));
    }
    Ok(t.to_owned())
}

/// `<X><tsl:Name xml:lang="..">text</tsl:Name></X>`.
fn name(node: Node<'_, '_>) -> Result<String, TrustError> {
    let kids = children(node, &[(TSL_NS, "Name")])?;
    Ok(non_empty(one(&kids, TSL_NS, "Name")?)?.to_owned())
}

/// `<X><tsl:DigitalId><tsl:X509Certificate>..` (exactly one of each).
fn digital_identity(node: Node<'_, '_>) -> Result<Vec<u8>, TrustError> {
    let kids = children(node, &[(TSL_NS, "DigitalId")])?;
    let id = one(&kids, TSL_NS, "DigitalId")?;
    let inner = children(id, &[(TSL_NS, "X509Certificate")])?;
    certificate(one(&inner, TSL_NS, "X509Certificate")?)
}

fn root<'a, 'i>(doc: &'a Document<'i>, ns: &str, name: &str) -> Result<Node<'a, 'i>, TrustError> {
    let r = doc.root_element();
    if !is(r, ns, name) {
        return Err(structure(format!("root is {}, expected {name}", describe(r))));
    }
    Ok(r)
}

struct Information<'a, 'i> {
    info: SchemeInformation,
    territory: Option<String>,
    pointers: Option<Node<'a, 'i>>,
    extensions: Option<Node<'a, 'i>>,
}

const INFO_BASE: [(&str, &str); 7] = [
    (TSL_NS, "TSLVersionIdentifier"),
    (TSL_NS, "TSLSequenceNumber"),
    (TSL_NS, "TSLType"),
    (TSL_NS, "SchemeOperatorName"),
    (TSL_NS, "ListIssueDateTime"),
    (TSL_NS, "NextUpdate"),
    (TSL_NS, "DistributionPoints"),
];

/// `SchemeInformation`; `extra` names the optional parts allowed for this kind of list.
fn scheme_information<'a, 'i>(
    node: Node<'a, 'i>,
    tsl_type: &str,
    extra: &[(&str, &str)],
) -> Result<Information<'a, 'i>, TrustError> {
    let allowed: Vec<(&str, &str)> = INFO_BASE.iter().chain(extra).copied().collect();
    let kids = children(node, &allowed)?;
    if number(one(&kids, TSL_NS, "TSLVersionIdentifier")?)? != TSL_VERSION {
        return Err(structure("TSLVersionIdentifier is not 5"));
    }
    let found_type = text(one(&kids, TSL_NS, "TSLType")?)?;
    if found_type != tsl_type {
        return Err(structure(format!("TSLType is {found_type}, expected {tsl_type}")));
    }
    let next = one(&kids, TSL_NS, "NextUpdate")?;
    let next_kids = children(next, &[(TSL_NS, "dateTime")])?;
    let points = children(one(&kids, TSL_NS, "DistributionPoints")?, &[(TSL_NS, "URI")])?;
    let distribution_points = points.iter().map(|p| non_empty(*p).map(str::to_owned)).collect::<Result<Vec<_>, _>>()?;
    if distribution_points.is_empty() {
        return Err(structure("DistributionPoints has no URI"));
    }
    let info = SchemeInformation {
        sequence_number: number(one(&kids, TSL_NS, "TSLSequenceNumber")?)?,
        operator_name: name(one(&kids, TSL_NS, "SchemeOperatorName")?)?,
        issued_at: datetime(one(&kids, TSL_NS, "ListIssueDateTime")?)?,
        next_update: datetime(one(&next_kids, TSL_NS, "dateTime")?)?,
        distribution_points,
    };
    if info.next_update <= info.issued_at {
        return Err(structure("NextUpdate is not after ListIssueDateTime"));
    }
    let territory = optional(&kids, TSL_NS, "SchemeTerritory")?.map(|t| text(t).and_then(iac)).transpose()?;
    Ok(Information {
        info,
        territory,
        pointers: optional(&kids, TSL_NS, "PointersToOtherTSL")?,
        extensions: optional(&kids, TSL_NS, "SchemeExtensions")?,
    })
}

/// An `OtherTSLPointer`: location, signer certificate, and the single element inside each
/// `OtherInformation` (MimeType checked here).
fn pointer<'a, 'i>(
    node: Node<'a, 'i>,
    info_allowed: &[(&str, &str)],
) -> Result<(ListPointer, Vec<Node<'a, 'i>>), TrustError> {
    let kids = children(
        node,
        &[(TSL_NS, "ServiceDigitalIdentities"), (TSL_NS, "TSLLocation"), (TSL_NS, "AdditionalInformation")],
    )?;
    let ids = children(one(&kids, TSL_NS, "ServiceDigitalIdentities")?, &[(TSL_NS, "ServiceDigitalIdentity")])?;
    let signer_certificate = digital_identity(one(&ids, TSL_NS, "ServiceDigitalIdentity")?)?;
    let location = non_empty(one(&kids, TSL_NS, "TSLLocation")?)?.to_owned();
    let mut allowed = vec![(TSL_NS, "MimeType")];
    allowed.extend_from_slice(info_allowed);
    let mut items = Vec::new();
    for other in children(one(&kids, TSL_NS, "AdditionalInformation")?, &[(TSL_NS, "OtherInformation")])? {
        match children(other, &allowed)?.as_slice() {
            [item] => items.push(*item),
            _ => return Err(structure("OtherInformation must hold exactly one element")),
        }
    }
    if text(one(&items, TSL_NS, "MimeType")?)? != MIME_TYPE {
        return Err(structure("unexpected MimeType"));
    }
    Ok((ListPointer { location, signer_certificate }, items))
}

pub(crate) fn governance(xml: &str) -> Result<GovernanceList, TrustError> {
    let doc = document(xml)?;
    let r = root(&doc, TSL_NS, "TrustServiceStatusList")?;
    let kids = children(r, &[(TSL_NS, "SchemeInformation")])?;
    let info = scheme_information(
        one(&kids, TSL_NS, "SchemeInformation")?,
        TSL_TYPE_GOVERNANCE,
        &[(TSL_NS, "PointersToOtherTSL")],
    )?;
    let pointers = info.pointers.ok_or_else(|| structure("PointersToOtherTSL is missing"))?;
    let mut operators: Vec<SchemeOperator> = Vec::new();
    for p in children(pointers, &[(TSL_NS, "OtherTSLPointer")])? {
        let (ptr, items) = pointer(p, &[(TSL_NS, "SchemeTerritory"), (TSL_NS, "SchemeOperatorName")])?;
        let op = SchemeOperator {
            iac: iac(text(one(&items, TSL_NS, "SchemeTerritory")?)?)?,
            name: name(one(&items, TSL_NS, "SchemeOperatorName")?)?,
            scheme_list_location: ptr.location,
            signer_certificate: ptr.signer_certificate,
        };
        if operators.iter().any(|o| o.iac == op.iac) {
            return Err(structure(format!("two Scheme Operators for IAC {}", op.iac)));
        }
        operators.push(op);
    }
    Ok(GovernanceList { information: info.info, operators })
}

pub(crate) fn scheme(xml: &str) -> Result<SchemeList, TrustError> {
    let doc = document(xml)?;
    let r = root(&doc, TSL_NS, "TrustServiceStatusList")?;
    let kids = children(r, &[(TSL_NS, "SchemeInformation")])?;
    let info = scheme_information(
        one(&kids, TSL_NS, "SchemeInformation")?,
        TSL_TYPE_SCHEME,
        &[(TSL_NS, "SchemeTerritory"), (TSL_NS, "PointersToOtherTSL"), (TSL_NS, "SchemeExtensions")],
    )?;
    let territory = info.territory.ok_or_else(|| structure("SchemeTerritory is missing"))?;
    let ext = info.extensions.ok_or_else(|| structure("SchemeExtensions is missing"))?;
    let ext_kids = children(ext, &[(IDSEAL_NS, "ManifestScope")])?;
    let mut manifest_scope = Vec::new();
    for m in children(one(&ext_kids, IDSEAL_NS, "ManifestScope")?, &[(IDSEAL_NS, "ManifestId")])? {
        manifest_scope.push(parse_manifest_id(text(m)?)?);
    }
    if manifest_scope.is_empty() {
        return Err(structure("ManifestScope is empty"));
    }
    let pointers = info.pointers.ok_or_else(|| structure("PointersToOtherTSL is missing"))?;
    let (mut tsls, mut vrls) = (Vec::new(), Vec::new());
    for p in children(pointers, &[(TSL_NS, "OtherTSLPointer")])? {
        let (ptr, items) = pointer(p, &[(IDSEAL_NS, "ListKind")])?;
        match text(one(&items, IDSEAL_NS, "ListKind")?)? {
            "TSL" => tsls.push(ptr),
            "VRL" => vrls.push(ptr),
            other => return Err(structure(format!("unknown ListKind {other:?}"))),
        }
    }
    if tsls.is_empty() {
        return Err(structure("no TSL pointer"));
    }
    let vrl = match <[ListPointer; 1]>::try_from(vrls) {
        Ok([vrl]) => vrl,
        Err(_) => return Err(structure("there must be exactly one VRL pointer")),
    };
    Ok(SchemeList { information: info.info, iac: territory, manifest_scope, tsls, vrl })
}

const SERVICE_CORE: [(&str, &str); 5] = [
    (TSL_NS, "ServiceTypeIdentifier"),
    (TSL_NS, "ServiceName"),
    (TSL_NS, "ServiceDigitalIdentity"),
    (TSL_NS, "ServiceStatus"),
    (TSL_NS, "StatusStartingTime"),
];

/// The parts shared by `ServiceInformation` and `ServiceHistoryInstance`.
fn service_core(kids: &[Node<'_, '_>]) -> Result<(String, Vec<u8>, StatusPeriod), TrustError> {
    if text(one(kids, TSL_NS, "ServiceTypeIdentifier")?)? != SERVICE_TYPE_VDS_CA {
        return Err(structure("ServiceTypeIdentifier is not a VDS CA"));
    }
    let period = StatusPeriod {
        status: ServiceStatus::from_uri(text(one(kids, TSL_NS, "ServiceStatus")?)?)?,
        since: datetime(one(kids, TSL_NS, "StatusStartingTime")?)?,
    };
    Ok((
        name(one(kids, TSL_NS, "ServiceName")?)?,
        digital_identity(one(kids, TSL_NS, "ServiceDigitalIdentity")?)?,
        period,
    ))
}

fn provider(node: Node<'_, '_>) -> Result<TrustServiceProvider, TrustError> {
    let kids = children(node, &[(TSL_NS, "TSPInformation"), (TSL_NS, "TSPServices")])?;
    let info = children(one(&kids, TSL_NS, "TSPInformation")?, &[(TSL_NS, "TSPName")])?;
    let tsp_name = name(one(&info, TSL_NS, "TSPName")?)?;
    let services = children(one(&kids, TSL_NS, "TSPServices")?, &[(TSL_NS, "TSPService")])?;
    let service =
        children(one(&services, TSL_NS, "TSPService")?, &[(TSL_NS, "ServiceInformation"), (TSL_NS, "ServiceHistory")])?;
    let mut allowed = SERVICE_CORE.to_vec();
    allowed.push((TSL_NS, "ServiceInformationExtensions"));
    let si = children(one(&service, TSL_NS, "ServiceInformation")?, &allowed)?;
    let (service_name, ca_certificate, current) = service_core(&si)?;
    let exts = children(one(&si, TSL_NS, "ServiceInformationExtensions")?, &[(TSL_NS, "Extension")])?;
    let ext = one(&exts, TSL_NS, "Extension")?;
    if ext.attribute("Critical") != Some("true") {
        return Err(structure("the SigningCertificates extension must be critical"));
    }
    let ext_kids = children(ext, &[(IDSEAL_NS, "SigningCertificates")])?;
    let certs = children(one(&ext_kids, IDSEAL_NS, "SigningCertificates")?, &[(IDSEAL_NS, "X509Certificate")])?;
    let signing_certificates = certs.iter().map(|c| certificate(*c)).collect::<Result<Vec<_>, _>>()?;
    let mut history = Vec::new();
    if let Some(h) = optional(&service, TSL_NS, "ServiceHistory")? {
        for instance in children(h, &[(TSL_NS, "ServiceHistoryInstance")])? {
            let (_, cert, period) = service_core(&children(instance, &SERVICE_CORE)?)?;
            if cert != ca_certificate {
                return Err(structure("ServiceHistoryInstance names another certificate"));
            }
            if period.since >= current.since {
                return Err(structure("ServiceHistoryInstance is not before the current status"));
            }
            history.push(period);
        }
    }
    Ok(TrustServiceProvider { name: tsp_name, service_name, ca_certificate, current, history, signing_certificates })
}

pub(crate) fn tsl(xml: &str) -> Result<Tsl, TrustError> {
    let doc = document(xml)?;
    let r = root(&doc, TSL_NS, "TrustServiceStatusList")?;
    let kids = children(r, &[(TSL_NS, "SchemeInformation"), (TSL_NS, "TrustServiceProviderList")])?;
    let info =
        scheme_information(one(&kids, TSL_NS, "SchemeInformation")?, TSL_TYPE_TSL, &[(TSL_NS, "SchemeTerritory")])?;
    let territory = info.territory.ok_or_else(|| structure("SchemeTerritory is missing"))?;
    let mut providers = Vec::new();
    if let Some(list) = optional(&kids, TSL_NS, "TrustServiceProviderList")? {
        for p in children(list, &[(TSL_NS, "TrustServiceProvider")])? {
            providers.push(provider(p)?);
        }
    }
    Ok(Tsl { information: info.info, iac: territory, providers })
}

pub(crate) fn vrl(xml: &str) -> Result<Vrl, TrustError> {
    let doc = document(xml)?;
    let r = root(&doc, IDSEAL_NS, "VdsRevocationList")?;
    let n = |name| (IDSEAL_NS, name);
    let kids =
        children(r, &[n("SequenceNumber"), n("IAC"), n("ListIssueDateTime"), n("NextUpdate"), n("RevokedSeal")])?;
    let mut revoked = Vec::new();
    for seal in all(&kids, IDSEAL_NS, "RevokedSeal") {
        let s = children(seal, &[n("Fingerprint"), n("RevocationTime"), n("Reason")])?;
        revoked.push(RevokedSeal {
            fingerprint: parse_fingerprint(text(one(&s, IDSEAL_NS, "Fingerprint")?)?)?,
            revoked_at: datetime(one(&s, IDSEAL_NS, "RevocationTime")?)?,
            reason: text(one(&s, IDSEAL_NS, "Reason")?)?.to_owned(),
        });
    }
    let list = Vrl {
        sequence_number: number(one(&kids, IDSEAL_NS, "SequenceNumber")?)?,
        iac: iac(text(one(&kids, IDSEAL_NS, "IAC")?)?)?,
        issued_at: datetime(one(&kids, IDSEAL_NS, "ListIssueDateTime")?)?,
        next_update: datetime(one(&kids, IDSEAL_NS, "NextUpdate")?)?,
        revoked,
    };
    if list.next_update <= list.issued_at {
        return Err(structure("NextUpdate is not after ListIssueDateTime"));
    }
    Ok(list)
}
