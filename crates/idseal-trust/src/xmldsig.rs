//! XML-DSig enveloped signatures in the XAdES baseline B-B form the lists use: signing
//! ([`sign_enveloped`]) and strict verification ([`verify_enveloped`]).
//!
//! We sign with exclusive c14n, an `enveloped-signature` + exc-c14n whole-document reference and a
//! SignedProperties reference. We verify exactly that shape, plus the EU DSS variant whose
//! whole-document reference uses XPath Filter 2.0 `subtract /descendant::ds:Signature`. Anything
//! else (other transforms, XPath, SHA-1, several signatures, unsigned look-alike content) is
//! refused. The caller must parse [`Verified::signed_document`], never the input string.
//!
//! Trust in the signing certificate is not decided here: the chain walk does it.
//!
//! XAdES level T: [`signature_value_imprint`] gives what to time-stamp (SHA-256 of the exclusive
//! c14n of ds:SignatureValue), [`add_signature_timestamp`] adds the RFC 3161 token as an unsigned
//! `xades:SignatureTimeStamp`, and [`verify_enveloped`] verifies one when present
//! ([`Verified::signature_timestamp`]). Whether the TSA is trusted is the caller's decision.

#[path = "xmldsig_c14n.rs"]
mod c14n;
#[path = "xmldsig_cert.rs"]
pub(crate) mod cert;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use idseal_types::UnixTime;
use roxmltree::{Document, Node, NodeType};

use crate::TrustError;
use crate::timestamp::{self, MAX_TOKEN_BYTES, TimestampToken};
use c14n::{C14n, EXC_C14N, canonicalize};
pub use cert::self_signed_certificate;

/// The XML-DSig namespace.
pub const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// The XAdES 1.3.2 namespace.
pub const XADES_NS: &str = "http://uri.etsi.org/01903/v1.3.2#";
/// SignatureMethod ECDSA with SHA-256 (RFC 4051 / xmldsig-more).
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
/// SignatureMethod RSASSA-PKCS1-v1_5 with SHA-256.
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const FILTER2: &str = "http://www.w3.org/2002/06/xmldsig-filter2";
const SHA256_URI: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const SIGNED_PROPERTIES_TYPE: &str = "http://uri.etsi.org/01903#SignedProperties";

/// Largest document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;
/// Deepest element nesting accepted (the root element is at depth 1).
pub const MAX_DEPTH: usize = 64;

/// Something that signs list XML: the algorithm and the signer's certificate.
pub trait XmlSigner {
    /// The XML-DSig SignatureMethod URI (`http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256` or `#rsa-sha256`).
    fn signature_method(&self) -> &'static str;
    /// Sign the canonical SignedInfo bytes (ECDSA: raw r||s).
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, TrustError>;
    /// The signer's X.509 certificate, DER.
    fn certificate_der(&self) -> &[u8];
}

/// An idseal-keys key (ES256 or RS256) with its certificate.
#[derive(Debug)]
pub struct KeySigner {
    /// The private key: ES256 or RS256.
    pub key: idseal_keys::SigningKey,
    /// The certificate of the key, DER.
    pub certificate_der: Vec<u8>,
}

impl XmlSigner for KeySigner {
    fn signature_method(&self) -> &'static str {
        match self.key.alg() {
            idseal_keys::Algorithm::Es256 => ECDSA_SHA256,
            // Other algorithms are refused by `sign`; the URI is never used with them.
            _ => RSA_SHA256,
        }
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, TrustError> {
        match self.key.alg() {
            idseal_keys::Algorithm::Es256 | idseal_keys::Algorithm::Rs256 => {
                self.key.sign(data).map_err(|e| TrustError::Signing(e.to_string()))
            }
            other => Err(TrustError::Signing(format!("{other} keys cannot sign XML lists"))),
        }
    }

    fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }
}

/// What a verified signature vouches for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The signer's certificate (DER), from KeyInfo, already checked to be the one SigningCertificateV2 names.
    pub certificate_der: Vec<u8>,
    /// xades:SigningTime, if present.
    pub signing_time: Option<UnixTime>,
    /// The signed content: the canonical bytes of the document without its signature, exactly
    /// what the `URI=""` reference digested (exclusive c14n when we signed). Callers parse THIS
    /// (never the original string), so that nothing unsigned can be read (signature-wrapping
    /// defence).
    pub signed_document: String,
    /// The verified XAdES SignatureTimeStamp (level T), if the signature has one: its token
    /// signature verifies and its imprint is the hash of this signature's SignatureValue. The
    /// TSA certificate in it is not trusted here: the caller decides.
    pub signature_timestamp: Option<TimestampToken>,
}

fn form(reason: impl Into<String>) -> TrustError {
    TrustError::SignatureForm(reason.into())
}

/// Parse with the limits: size, no DTD, depth.
fn parse(xml: &str) -> Result<Document<'_>, TrustError> {
    if xml.len() > MAX_DOCUMENT_BYTES {
        return Err(TrustError::Xml("document larger than 10 MiB".into()));
    }
    let opt = roxmltree::ParsingOptions { allow_dtd: false, nodes_limit: 2_000_000, ..Default::default() };
    let doc = Document::parse_with_options(xml, opt).map_err(|e| TrustError::Xml(e.to_string()))?;
    let mut depth = vec![0usize; doc.descendants().count() + 1];
    for n in doc.descendants() {
        let d = n.parent().and_then(|p| depth.get(p.id().get_usize()).copied()).unwrap_or(0) + 1;
        if n.is_element() && d > MAX_DEPTH + 1 {
            return Err(TrustError::Xml(format!("elements nested deeper than {MAX_DEPTH}")));
        }
        if let Some(slot) = depth.get_mut(n.id().get_usize()) {
            *slot = d;
        }
    }
    Ok(doc)
}

fn is(node: Node<'_, '_>, ns: &str, local: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(ns) && node.tag_name().name() == local
}

/// The element children of `node`; any non-whitespace text is refused.
fn elements<'a, 'i>(node: Node<'a, 'i>) -> Result<Vec<Node<'a, 'i>>, TrustError> {
    let mut out = Vec::new();
    for c in node.children() {
        match c.node_type() {
            NodeType::Element => out.push(c),
            NodeType::Text if c.text().is_some_and(|t| t.trim().is_empty()) => {}
            NodeType::Comment => {}
            _ => return Err(form(format!("unexpected content in {}", node.tag_name().name()))),
        }
    }
    Ok(out)
}

/// Exactly the listed attributes (by local name, unqualified) may appear; returns them in order.
fn attrs<'a>(node: Node<'a, '_>, allowed: &[&str]) -> Result<Vec<Option<&'a str>>, TrustError> {
    for a in node.attributes() {
        if a.namespace().is_some() || !allowed.contains(&a.name()) {
            return Err(form(format!("unexpected attribute {} on {}", a.name(), node.tag_name().name())));
        }
    }
    Ok(allowed.iter().map(|n| node.attribute(*n)).collect())
}

fn algorithm<'a>(node: Node<'a, '_>) -> Result<&'a str, TrustError> {
    let a = attrs(node, &["Algorithm"])?;
    a.first().copied().flatten().ok_or_else(|| form(format!("{} without Algorithm", node.tag_name().name())))
}

fn expect_ds<'a, 'i>(node: Option<&Node<'a, 'i>>, local: &str) -> Result<Node<'a, 'i>, TrustError> {
    match node {
        Some(n) if is(*n, DS_NS, local) => Ok(*n),
        _ => Err(form(format!("expected ds:{local}"))),
    }
}

fn b64_decode(text: &str) -> Result<Vec<u8>, TrustError> {
    let compact: String = text.chars().filter(|c| !matches!(c, ' ' | '\t' | '\n' | '\r')).collect();
    STANDARD.decode(compact).map_err(|_| form("invalid base64"))
}

fn text_of(node: Node<'_, '_>) -> Result<String, TrustError> {
    let mut s = String::new();
    for c in node.children() {
        match c.node_type() {
            NodeType::Text => s.push_str(c.text().unwrap_or("")),
            NodeType::Comment => {}
            _ => return Err(form(format!("{} must contain only text", node.tag_name().name()))),
        }
    }
    Ok(s)
}

fn digest_alg(uri: &str) -> Result<&'static aws_lc_rs::digest::Algorithm, TrustError> {
    match uri {
        SHA256_URI => Ok(&aws_lc_rs::digest::SHA256),
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => Ok(&aws_lc_rs::digest::SHA384),
        "http://www.w3.org/2001/04/xmlenc#sha512" => Ok(&aws_lc_rs::digest::SHA512),
        "http://www.w3.org/2000/09/xmldsig#sha1" => Err(form("SHA-1 digests are refused")),
        other => Err(form(format!("unsupported DigestMethod {other}"))),
    }
}

/// (ECDSA?, hash bits) of a SignatureMethod URI.
fn signature_alg(uri: &str) -> Result<(bool, u16), TrustError> {
    let rest = uri.strip_prefix("http://www.w3.org/2001/04/xmldsig-more#").unwrap_or("");
    let (ecdsa, hash) = match rest {
        "ecdsa-sha256" => (true, 256),
        "ecdsa-sha384" => (true, 384),
        "ecdsa-sha512" => (true, 512),
        "rsa-sha256" => (false, 256),
        "rsa-sha384" => (false, 384),
        "rsa-sha512" => (false, 512),
        _ => return Err(form(format!("unsupported SignatureMethod {uri}"))),
    };
    Ok((ecdsa, hash))
}

/// Whether `xpath` is `/descendant::P:Signature` with P bound to the ds namespace at `at`.
fn is_subtract_signatures(at: Node<'_, '_>, xpath: &str) -> bool {
    let Some(rest) = xpath.trim().strip_prefix("/descendant::") else { return false };
    let Some((prefix, local)) = rest.split_once(':') else { return false };
    local == "Signature" && !prefix.is_empty() && at.lookup_namespace_uri(Some(prefix)) == Some(DS_NS)
}

/// The c14n of a whole-document reference's transforms: [enveloped, c14n] or [filter2, c14n].
fn whole_document_transforms(transforms: Option<Node<'_, '_>>) -> Result<C14n, TrustError> {
    let transforms = transforms.ok_or_else(|| form("whole-document reference without transforms"))?;
    let list = elements(transforms)?;
    let [first, second] = list.as_slice() else {
        return Err(form("whole-document reference must have exactly two transforms"));
    };
    let first = expect_ds(Some(first), "Transform")?;
    let second = expect_ds(Some(second), "Transform")?;
    match algorithm(first)? {
        ENVELOPED => {
            if !elements(first)?.is_empty() {
                return Err(form("enveloped-signature transform with content"));
            }
        }
        FILTER2 => {
            let xp = elements(first)?;
            let [xpath] = xp.as_slice() else { return Err(form("filter2 transform needs exactly one XPath")) };
            if !is(*xpath, FILTER2, "XPath")
                || attrs(*xpath, &["Filter"])?.first().copied().flatten() != Some("subtract")
            {
                return Err(form("only filter2 subtract is accepted"));
            }
            if !is_subtract_signatures(*xpath, &text_of(*xpath)?) {
                return Err(form("only the XPath /descendant::ds:Signature is accepted"));
            }
        }
        other => return Err(form(format!("transform {other} refused"))),
    }
    let c = C14n::from_uri(algorithm(second)?).ok_or_else(|| form("second transform must be c14n"))?;
    if !elements(second)?.is_empty() {
        return Err(form("c14n transform parameters (InclusiveNamespaces) refused"));
    }
    Ok(c)
}

/// The c14n of a same-document reference: no transforms (c14n 1.0) or exactly one c14n.
fn same_document_transforms(transforms: Option<Node<'_, '_>>) -> Result<C14n, TrustError> {
    let Some(transforms) = transforms else { return Ok(C14n::Inclusive10) };
    let list = elements(transforms)?;
    let [t] = list.as_slice() else { return Err(form("SignedProperties reference needs exactly one transform")) };
    let t = expect_ds(Some(t), "Transform")?;
    if !elements(t)?.is_empty() {
        return Err(form("c14n transform parameters refused"));
    }
    C14n::from_uri(algorithm(t)?).ok_or_else(|| form("SignedProperties transform must be c14n"))
}

/// Every element carrying an Id-like attribute with `value`.
fn elements_with_id<'a, 'i>(doc: &'a Document<'i>, value: &str) -> Vec<Node<'a, 'i>> {
    doc.descendants()
        .filter(|n| {
            n.is_element()
                && n.attributes().any(|a| {
                    matches!(a.name(), "Id" | "ID" | "id")
                        && (a.namespace().is_none() || a.namespace() == Some("http://www.w3.org/XML/1998/namespace"))
                        && a.value() == value
                })
        })
        .collect()
}

struct Reference<'a, 'i> {
    uri: &'a str,
    kind: Option<&'a str>,
    transforms: Option<Node<'a, 'i>>,
    digest: &'static aws_lc_rs::digest::Algorithm,
    value: Vec<u8>,
}

fn reference<'a, 'i>(node: Node<'a, 'i>) -> Result<Reference<'a, 'i>, TrustError> {
    let a = attrs(node, &["URI", "Type", "Id"])?;
    let uri = a.first().copied().flatten().ok_or_else(|| form("Reference without URI"))?;
    let kind = a.get(1).copied().flatten();
    let kids = elements(node)?;
    let (transforms, rest) = match kids.split_first() {
        Some((t, rest)) if is(*t, DS_NS, "Transforms") => (Some(*t), rest),
        _ => (None, kids.as_slice()),
    };
    let [dm, dv] = rest else { return Err(form("Reference must end with DigestMethod, DigestValue")) };
    let dm = expect_ds(Some(dm), "DigestMethod")?;
    let dv = expect_ds(Some(dv), "DigestValue")?;
    if !elements(dm)?.is_empty() {
        return Err(form("DigestMethod with content"));
    }
    let digest = digest_alg(algorithm(dm)?)?;
    attrs(dv, &[])?;
    let value = b64_decode(&text_of(dv)?)?;
    Ok(Reference { uri, kind, transforms, digest, value })
}

fn check_digest(r: &Reference<'_, '_>, bytes: &[u8], which: &str) -> Result<(), TrustError> {
    if aws_lc_rs::digest::digest(r.digest, bytes).as_ref() != r.value.as_slice() {
        return Err(TrustError::DigestMismatch(format!("{which} reference")));
    }
    Ok(())
}

/// Verify the one enveloped signature of `xml`.
pub fn verify_enveloped(xml: &str) -> Result<Verified, TrustError> {
    let doc = parse(xml)?;
    let root = doc.root_element();
    let sigs: Vec<_> = doc.descendants().filter(|n| is(*n, DS_NS, "Signature")).collect();
    let [sig] = sigs.as_slice() else {
        return Err(form(format!("expected exactly one ds:Signature, found {}", sigs.len())));
    };
    let sig = *sig;
    if sig.parent() != Some(root) {
        return Err(form("ds:Signature is not a child of the root element"));
    }
    let sig_id = attrs(sig, &["Id"])?.first().copied().flatten();
    let parts = elements(sig)?;
    let signed_info = expect_ds(parts.first(), "SignedInfo")?;
    let signature_value = expect_ds(parts.get(1), "SignatureValue")?;
    let key_info = expect_ds(parts.get(2), "KeyInfo")?;
    let objects = parts.get(3..).unwrap_or_default();
    if let Some(o) = objects.iter().find(|o| !is(**o, DS_NS, "Object")) {
        return Err(form(format!("unexpected {} in ds:Signature", o.tag_name().name())));
    }

    // SignedInfo.
    attrs(signed_info, &["Id"])?;
    let si = elements(signed_info)?;
    let cm = expect_ds(si.first(), "CanonicalizationMethod")?;
    let sm = expect_ds(si.get(1), "SignatureMethod")?;
    if !elements(cm)?.is_empty() || !elements(sm)?.is_empty() {
        return Err(form("CanonicalizationMethod / SignatureMethod with parameters"));
    }
    let si_c14n = C14n::from_uri(algorithm(cm)?).ok_or_else(|| form("unsupported CanonicalizationMethod"))?;
    let (ecdsa, hash) = signature_alg(algorithm(sm)?)?;
    let mut whole = None;
    let mut props = None;
    for r in si.get(2..).unwrap_or_default() {
        let r = reference(expect_ds(Some(r), "Reference")?)?;
        if r.uri.is_empty() {
            if whole.replace(r).is_some() {
                return Err(form("more than one whole-document reference"));
            }
        } else if r.uri.starts_with('#') {
            if props.replace(r).is_some() {
                return Err(form("more than one same-document reference"));
            }
        } else {
            return Err(form(format!("reference URI {} refused", r.uri)));
        }
    }
    let whole = whole.ok_or_else(|| form("no whole-document reference (URI=\"\")"))?;

    // The whole document minus the signature.
    let mode = whole_document_transforms(whole.transforms)?;
    let signed = canonicalize(doc.root(), Some(sig), mode)?;
    check_digest(&whole, &signed, "whole-document")?;

    // SignedProperties, by Id, inside this signature's QualifyingProperties.
    let mut signed_props = None;
    if let Some(p) = &props {
        if p.kind.is_some_and(|k| k != SIGNED_PROPERTIES_TYPE) {
            return Err(form("same-document reference is not to SignedProperties"));
        }
        let id = p.uri.get(1..).unwrap_or_default();
        let targets = elements_with_id(&doc, id);
        let [target] = targets.as_slice() else {
            return Err(form(format!("Id {id} does not name exactly one element")));
        };
        let qp = target.parent().filter(|q| is(*q, XADES_NS, "QualifyingProperties"));
        let object = qp.and_then(|q| q.parent()).filter(|o| is(*o, DS_NS, "Object"));
        if !is(*target, XADES_NS, "SignedProperties") || object.and_then(|o| o.parent()) != Some(sig) {
            return Err(form("reference is not to this signature's xades:SignedProperties"));
        }
        if let (Some(qp), Some(sig_id)) = (qp, sig_id)
            && qp.attribute("Target") != Some(format!("#{sig_id}").as_str())
        {
            return Err(form("QualifyingProperties Target does not name this signature"));
        }
        let mode = same_document_transforms(p.transforms)?;
        check_digest(p, &canonicalize(*target, None, mode)?, "SignedProperties")?;
        signed_props = Some(*target);
    }

    // KeyInfo: exactly one X509Certificate.
    let mut certs = Vec::new();
    for k in elements(key_info)? {
        if !is(k, DS_NS, "X509Data") {
            return Err(form(format!("KeyInfo child {} refused", k.tag_name().name())));
        }
        for x in elements(k)? {
            if is(x, DS_NS, "X509Certificate") {
                certs.push(b64_decode(&text_of(x)?)?);
            } else if !(is(x, DS_NS, "X509IssuerSerial") || is(x, DS_NS, "X509SubjectName") || is(x, DS_NS, "X509SKI"))
            {
                return Err(form(format!("X509Data child {} refused", x.tag_name().name())));
            }
        }
    }
    let [certificate_der] =
        <[Vec<u8>; 1]>::try_from(certs).map_err(|_| form("KeyInfo must hold exactly one certificate"))?;
    let key = cert::public_key(&certificate_der)?;

    // SignatureValue over the canonical SignedInfo.
    attrs(signature_value, &["Id"])?;
    let value = b64_decode(&text_of(signature_value)?)?;
    cert::verify(&key, ecdsa, hash, &canonicalize(signed_info, None, si_c14n)?, &value)?;

    let (signing_time, _) = match signed_props {
        Some(sp) => signed_properties(sp, &certificate_der)?,
        None => (None, ()),
    };
    let signature_timestamp = signature_timestamp(sig, signature_value)?;
    let signed_document =
        String::from_utf8(signed).map_err(|_| TrustError::Xml("canonical form is not UTF-8".into()))?;
    Ok(Verified { certificate_der, signing_time, signed_document, signature_timestamp })
}

const DER_ENCODING: &str = "http://uri.etsi.org/01903/v1.2.2#DER";

fn sha256_array(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref());
    out
}

/// The xades:SignatureTimeStamp of `sig`, if any, verified against `signature_value`.
fn signature_timestamp(sig: Node<'_, '_>, signature_value: Node<'_, '_>) -> Result<Option<TimestampToken>, TrustError> {
    let stamps: Vec<_> = sig.descendants().filter(|n| is(*n, XADES_NS, "SignatureTimeStamp")).collect();
    let stamp = match stamps.as_slice() {
        [] => return Ok(None),
        [s] => *s,
        _ => return Err(form("more than one SignatureTimeStamp")),
    };
    let up = stamp.parent().filter(|n| is(*n, XADES_NS, "UnsignedSignatureProperties")).and_then(|n| n.parent());
    let qp = up.filter(|n| is(*n, XADES_NS, "UnsignedProperties")).and_then(|n| n.parent());
    let object = qp.filter(|n| is(*n, XADES_NS, "QualifyingProperties")).and_then(|n| n.parent());
    if object.filter(|o| is(*o, DS_NS, "Object")).and_then(|o| o.parent()) != Some(sig) {
        return Err(form("SignatureTimeStamp is not in this signature's UnsignedSignatureProperties"));
    }
    attrs(stamp, &["Id"])?;
    let kids = elements(stamp)?;
    // XAdES: without CanonicalizationMethod, the time-stamped input is canonicalized with c14n 1.0.
    let (mode, rest) = match kids.split_first() {
        Some((c, rest)) if is(*c, DS_NS, "CanonicalizationMethod") => {
            if !elements(*c)?.is_empty() {
                return Err(form("SignatureTimeStamp CanonicalizationMethod with parameters"));
            }
            (C14n::from_uri(algorithm(*c)?).ok_or_else(|| form("unsupported SignatureTimeStamp c14n"))?, rest)
        }
        _ => (C14n::Inclusive10, kids.as_slice()),
    };
    let [ets] = rest else { return Err(form("SignatureTimeStamp must hold exactly one EncapsulatedTimeStamp")) };
    if !is(*ets, XADES_NS, "EncapsulatedTimeStamp") {
        return Err(form("SignatureTimeStamp must hold exactly one EncapsulatedTimeStamp"));
    }
    if attrs(*ets, &["Id", "Encoding"])?.get(1).copied().flatten().is_some_and(|e| e != DER_ENCODING) {
        return Err(form("EncapsulatedTimeStamp Encoding is not DER"));
    }
    let text = text_of(*ets)?;
    if text.len() > 2 * MAX_TOKEN_BYTES {
        return Err(TrustError::Timestamp("EncapsulatedTimeStamp too large".into()));
    }
    let der = b64_decode(&text).map_err(|_| TrustError::Timestamp("EncapsulatedTimeStamp is not base64".into()))?;
    let token = timestamp::verify_token(&der)?;
    if token.imprint != sha256_array(&canonicalize(signature_value, None, mode)?) {
        return Err(TrustError::Timestamp("the time-stamp does not cover this SignatureValue".into()));
    }
    Ok(Some(token))
}

/// The one ds:Signature (a child of the root element) of `doc` and its ds:SignatureValue.
fn signature_parts<'a, 'i>(doc: &'a Document<'i>) -> Result<(Node<'a, 'i>, Node<'a, 'i>), TrustError> {
    let sigs: Vec<_> = doc.descendants().filter(|n| is(*n, DS_NS, "Signature")).collect();
    let [sig] = sigs.as_slice() else {
        return Err(form(format!("expected exactly one ds:Signature, found {}", sigs.len())));
    };
    if sig.parent() != Some(doc.root_element()) {
        return Err(form("ds:Signature is not a child of the root element"));
    }
    let value = expect_ds(elements(*sig)?.get(1), "SignatureValue")?;
    Ok((*sig, value))
}

/// What a XAdES SignatureTimeStamp must time-stamp (XAdES §5.2.8 / EN 319 132-1 §5.3): the
/// SHA-256 of the exclusive c14n of the ds:SignatureValue element of the one signature of
/// `signed_xml`. Send it to the TSA with [`timestamp::request`]. Does not verify the signature.
pub fn signature_value_imprint(signed_xml: &str) -> Result<[u8; 32], TrustError> {
    let doc = parse(signed_xml)?;
    let (_, value) = signature_parts(&doc)?;
    Ok(sha256_array(&canonicalize(value, None, C14n::Exclusive)?))
}

/// The prefix bound to `uri` in scope at `node`, or `wanted` with a declaration to add.
fn prefix_in_scope<'a>(node: Node<'a, '_>, uri: &str, wanted: &'a str) -> (&'a str, String) {
    match node.namespaces().find(|ns| ns.uri() == uri && ns.name().is_some()).and_then(|ns| ns.name()) {
        Some(p) => (p, String::new()),
        None => (wanted, format!(" xmlns:{wanted}=\"{uri}\"")),
    }
}

/// Upgrade a XAdES B-B signed document (as [`sign_enveloped`] makes) to level T: add
/// `xades:UnsignedProperties/UnsignedSignatureProperties/SignatureTimeStamp` holding an
/// exc-c14n `ds:CanonicalizationMethod` and `xades:EncapsulatedTimeStamp` (`token_der`, the
/// ContentInfo [`timestamp::parse_response`] returns, base64) at the end of the signature's
/// `xades:QualifyingProperties`. Unsigned properties are outside SignedInfo and the
/// whole-document reference, so the B-B signature stays valid. The document must verify, have
/// no UnsignedProperties yet, and the token must verify and cover its SignatureValue
/// ([`signature_value_imprint`]). Returns the new document, after verifying it.
pub fn add_signature_timestamp(signed_xml: &str, token_der: &[u8]) -> Result<String, TrustError> {
    verify_enveloped(signed_xml)?;
    let token = timestamp::verify_token(token_der)?;
    if token.imprint != signature_value_imprint(signed_xml)? {
        return Err(TrustError::Timestamp("the token does not cover this document's SignatureValue".into()));
    }
    let doc = parse(signed_xml)?;
    let (sig, _) = signature_parts(&doc)?;
    let qps: Vec<_> = elements(sig)?
        .into_iter()
        .filter(|o| is(*o, DS_NS, "Object"))
        .flat_map(|o| o.children().filter(|q| is(*q, XADES_NS, "QualifyingProperties")))
        .collect();
    let [qp] = qps.as_slice() else { return Err(form("expected exactly one xades:QualifyingProperties")) };
    if qp.children().any(|n| is(n, XADES_NS, "UnsignedProperties")) {
        return Err(form("the signature already has UnsignedProperties"));
    }
    let (xa, xa_decl) = prefix_in_scope(*qp, XADES_NS, "xades");
    let (ds, ds_decl) = prefix_in_scope(*qp, DS_NS, "ds");
    let b64 = STANDARD.encode(token_der);
    let unsigned = format!(
        "<{xa}:UnsignedProperties{xa_decl}{ds_decl}><{xa}:UnsignedSignatureProperties><{xa}:SignatureTimeStamp>\
<{ds}:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/><{xa}:EncapsulatedTimeStamp>{b64}</{xa}:EncapsulatedTimeStamp>\
</{xa}:SignatureTimeStamp></{xa}:UnsignedSignatureProperties></{xa}:UnsignedProperties>"
    );
    // Without node positions, try each `</…QualifyingProperties>` end tag from the last: the
    // self-check (the time-stamp found where it belongs, the signature still valid) picks the
    // real one (not one in a comment or CDATA section).
    let mut last = Err(TrustError::Signing("cannot find the QualifyingProperties end tag".into()));
    for end in end_tags(signed_xml, "QualifyingProperties").into_iter().rev() {
        let mut out = String::with_capacity(signed_xml.len() + unsigned.len());
        out.push_str(signed_xml.get(..end).unwrap_or_default());
        out.push_str(&unsigned);
        out.push_str(signed_xml.get(end..).unwrap_or_default());
        match verify_enveloped(&out) {
            Ok(v) if v.signature_timestamp.as_ref() == Some(&token) => return Ok(out),
            Ok(_) => last = Err(TrustError::Signing("self-check failed: the time-stamp was not found".into())),
            Err(e) => last = Err(TrustError::Signing(format!("self-check failed: {e}"))),
        }
    }
    last
}

/// The offsets of every `</local>` or `</prefix:local>` end tag in `xml` (candidates only).
fn end_tags(xml: &str, local: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for (at, _) in xml.match_indices(local) {
        let before = xml.get(..at).unwrap_or_default();
        let Some(open) = before.rfind("</") else { continue };
        let prefix = before.get(open + 2..).unwrap_or_default();
        let prefix_ok = prefix.is_empty()
            || prefix.strip_suffix(':').is_some_and(|p| {
                !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
            });
        let after = xml.get(at + local.len()..).unwrap_or_default();
        if prefix_ok && after.trim_start().starts_with('>') {
            out.push(open);
        }
    }
    out
}

/// SigningTime, and the SigningCertificate(V2) check against `cert_der`.
fn signed_properties(sp: Node<'_, '_>, cert_der: &[u8]) -> Result<(Option<UnixTime>, ()), TrustError> {
    let ssp = sp.children().find(|n| is(*n, XADES_NS, "SignedSignatureProperties"));
    let Some(ssp) = ssp else { return Ok((None, ())) };
    let mut signing_time = None;
    for child in elements(ssp)? {
        if is(child, XADES_NS, "SigningTime") {
            let t = text_of(child)?;
            let dt = time::OffsetDateTime::parse(t.trim(), &time::format_description::well_known::Rfc3339)
                .map_err(|_| form("SigningTime is not an xs:dateTime with a time zone"))?;
            signing_time = Some(UnixTime::from_secs(dt.unix_timestamp()));
        } else if is(child, XADES_NS, "SigningCertificateV2") || is(child, XADES_NS, "SigningCertificate") {
            let mut matched = false;
            for c in elements(child)? {
                if !is(c, XADES_NS, "Cert") {
                    return Err(form("SigningCertificate holds something other than Cert"));
                }
                let Some(cd) = c.children().find(|n| is(*n, XADES_NS, "CertDigest")) else {
                    return Err(form("Cert without CertDigest"));
                };
                let kids = elements(cd)?;
                let dm = expect_ds(kids.first(), "DigestMethod")?;
                let dv = expect_ds(kids.get(1), "DigestValue")?;
                let alg = digest_alg(algorithm(dm)?)?;
                if aws_lc_rs::digest::digest(alg, cert_der).as_ref() == b64_decode(&text_of(dv)?)?.as_slice() {
                    matched = true;
                }
            }
            if !matched {
                return Err(TrustError::Certificate("SigningCertificate does not name the KeyInfo certificate".into()));
            }
        }
    }
    Ok((signing_time, ()))
}

/// Where the root element's end tag starts in `xml` (after it only comments, PIs, whitespace).
fn root_end_tag(xml: &str) -> Option<usize> {
    let mut end = xml.len();
    loop {
        let t = xml.get(..end)?.trim_end();
        end = t.len();
        if t.ends_with("-->") {
            end = t.rfind("<!--")?;
        } else if t.ends_with("?>") {
            end = t.rfind("<?")?;
        } else {
            break;
        }
    }
    let t = xml.get(..end)?;
    if !t.ends_with('>') || t.ends_with("/>") {
        return None;
    }
    t.rfind("</")
}

/// The prefix to use for `uri` inside the root element, and whether to declare it.
fn prefix_for<'a>(root: Node<'a, '_>, uri: &str, wanted: &'a str) -> Result<(&'a str, bool), TrustError> {
    match root.namespaces().find(|ns| ns.uri() == uri) {
        Some(ns) => match ns.name() {
            Some(p) => Ok((p, false)),
            None => Err(TrustError::Signing(format!("{uri} as the default namespace is not supported"))),
        },
        // Declared on the element itself, so an outer binding of `wanted` does not matter.
        None => Ok((wanted, true)),
    }
}

/// Sign `unsigned_xml` (a whole document whose root element has no ds:Signature) as XAdES
/// baseline B-B: appends to the root element one ds:Signature (Id `sig-<hex>`, derived from the
/// content, the time and the certificate) with an exc-c14n SignedInfo, a `URI=""` reference
/// [enveloped-signature, exc-c14n] and a SignedProperties reference (exc-c14n), both SHA-256,
/// the SignatureValue, KeyInfo/X509Data/X509Certificate and
/// `ds:Object/xades:QualifyingProperties/SignedProperties/SignedSignatureProperties/{SigningTime,
/// SigningCertificateV2}`. Returns the signed document (the input with the signature spliced in
/// before the root end tag), after verifying it.
pub fn sign_enveloped(
    unsigned_xml: &str,
    signer: &dyn XmlSigner,
    signing_time: UnixTime,
) -> Result<String, TrustError> {
    let doc = parse(unsigned_xml)?;
    if doc.descendants().any(|n| is(n, DS_NS, "Signature")) {
        return Err(form("the document is already signed"));
    }
    let root = doc.root_element();
    let sha256 = |b: &[u8]| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b);
    let method = signer.signature_method();
    signature_alg(method)?;
    let content_digest = STANDARD.encode(sha256(&canonicalize(doc.root(), None, C14n::Exclusive)?));
    let cert_der = signer.certificate_der();
    cert::public_key(cert_der)?;
    let cert_b64 = STANDARD.encode(cert_der);
    let cert_digest = STANDARD.encode(sha256(cert_der));
    let time = time::OffsetDateTime::from_unix_timestamp(signing_time.as_secs())
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .ok_or_else(|| TrustError::Signing("signing time out of range".into()))?;
    let seed = sha256(format!("{content_digest}|{time}|{cert_digest}").as_bytes());
    let hex: String = seed.as_ref().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let id = format!("sig-{hex}");
    let sp_id = format!("{id}-signedprops");
    let (ds, ds_decl) = prefix_for(root, DS_NS, "ds")?;
    let (xa, xa_decl) = prefix_for(root, XADES_NS, "xades")?;
    let ds_decl = if ds_decl { format!(" xmlns:{ds}=\"{DS_NS}\"") } else { String::new() };
    let xa_decl = if xa_decl { format!(" xmlns:{xa}=\"{XADES_NS}\"") } else { String::new() };
    let build = |sp_digest: &str, value: &str| {
        format!(
            "<{ds}:Signature{ds_decl} Id=\"{id}\"><{ds}:SignedInfo>\
<{ds}:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/><{ds}:SignatureMethod Algorithm=\"{method}\"/>\
<{ds}:Reference URI=\"\"><{ds}:Transforms><{ds}:Transform Algorithm=\"{ENVELOPED}\"/>\
<{ds}:Transform Algorithm=\"{EXC_C14N}\"/></{ds}:Transforms><{ds}:DigestMethod Algorithm=\"{SHA256_URI}\"/>\
<{ds}:DigestValue>{content_digest}</{ds}:DigestValue></{ds}:Reference>\
<{ds}:Reference Type=\"{SIGNED_PROPERTIES_TYPE}\" URI=\"#{sp_id}\"><{ds}:Transforms>\
<{ds}:Transform Algorithm=\"{EXC_C14N}\"/></{ds}:Transforms><{ds}:DigestMethod Algorithm=\"{SHA256_URI}\"/>\
<{ds}:DigestValue>{sp_digest}</{ds}:DigestValue></{ds}:Reference></{ds}:SignedInfo>\
<{ds}:SignatureValue>{value}</{ds}:SignatureValue><{ds}:KeyInfo><{ds}:X509Data>\
<{ds}:X509Certificate>{cert_b64}</{ds}:X509Certificate></{ds}:X509Data></{ds}:KeyInfo>\
<{ds}:Object><{xa}:QualifyingProperties{xa_decl} Target=\"#{id}\"><{xa}:SignedProperties Id=\"{sp_id}\">\
<{xa}:SignedSignatureProperties><{xa}:SigningTime>{time}</{xa}:SigningTime><{xa}:SigningCertificateV2>\
<{xa}:Cert><{xa}:CertDigest><{ds}:DigestMethod Algorithm=\"{SHA256_URI}\"/>\
<{ds}:DigestValue>{cert_digest}</{ds}:DigestValue></{xa}:CertDigest></{xa}:Cert></{xa}:SigningCertificateV2>\
</{xa}:SignedSignatureProperties></{xa}:SignedProperties></{xa}:QualifyingProperties></{ds}:Object></{ds}:Signature>"
        )
    };
    let at = root_end_tag(unsigned_xml)
        .ok_or_else(|| TrustError::Structure("cannot find the root element's end tag (empty root?)".into()))?;
    let splice = |sig: &str| {
        let mut s = String::with_capacity(unsigned_xml.len() + sig.len());
        s.push_str(unsigned_xml.get(..at).unwrap_or_default());
        s.push_str(sig);
        s.push_str(unsigned_xml.get(at..).unwrap_or_default());
        s
    };
    let find = |doc: &Document<'_>, local: &str, ns: &str| -> Result<Vec<u8>, TrustError> {
        let sig = doc.root_element().children().find(|n| is(*n, DS_NS, "Signature"));
        let node = sig
            .and_then(|s| s.descendants().find(|n| is(*n, ns, local)))
            .ok_or_else(|| TrustError::Signing(format!("spliced signature lacks {local}")))?;
        canonicalize(node, None, C14n::Exclusive)
    };
    let draft = splice(&build("", ""));
    let sp_digest = STANDARD.encode(sha256(&find(&parse(&draft)?, "SignedProperties", XADES_NS)?));
    let draft = splice(&build(&sp_digest, ""));
    let signed_info = find(&parse(&draft)?, "SignedInfo", DS_NS)?;
    let value = STANDARD.encode(signer.sign(&signed_info)?);
    let signed = splice(&build(&sp_digest, &value));
    verify_enveloped(&signed).map_err(|e| TrustError::Signing(format!("self-check failed: {e}")))?;
    Ok(signed)
}

#[cfg(test)]
#[path = "xmldsig_tests.rs"]
mod tests;
