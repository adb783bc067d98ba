//! XML-DSig / XAdES B-B: round trips and the refusals (tampering, wrapping, algorithms, hostile XML).

use idseal_keys::{Algorithm, SigningKey};
use idseal_trust::TrustError;
use idseal_trust::xmldsig::{KeySigner, XmlSigner, self_signed_certificate, sign_enveloped, verify_enveloped};
use idseal_types::UnixTime;

pub(crate) const LIST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<TrustServiceStatusList xmlns="http://uri.etsi.org/02231/v2#" TSLTag="http://uri.etsi.org/02231/TSLTag" Id="tsl">
  <SchemeInformation>
    <TSLSequenceNumber>7</TSLSequenceNumber>
    <SchemeName><Name xml:lang="en">idseal scheme</Name></SchemeName>
  </SchemeInformation>
  <TrustServiceProviderList>
    <TrustServiceProvider><TSPInformation><TSPName><Name xml:lang="en">Good CA</Name></TSPName></TSPInformation></TrustServiceProvider>
  </TrustServiceProviderList>
</TrustServiceStatusList>
"#;

pub(crate) fn signer(alg: Algorithm) -> KeySigner {
    let key = SigningKey::generate(alg, "list-signer").unwrap();
    let certificate_der =
        self_signed_certificate(&key, "idseal list signer", UnixTime::from_secs(0), UnixTime::from_secs(4_000_000_000))
            .unwrap();
    KeySigner { key, certificate_der }
}

const AT: UnixTime = UnixTime::from_secs(1_790_000_000);

fn signed(alg: Algorithm) -> String {
    sign_enveloped(LIST, &signer(alg), AT).unwrap()
}

#[test]
fn round_trip_es256_rs256() {
    for alg in [Algorithm::Es256, Algorithm::Rs256] {
        let s = signer(alg);
        let doc = sign_enveloped(LIST, &s, AT).unwrap();
        assert!(doc.contains("<ds:Signature"));
        let v = verify_enveloped(&doc).unwrap();
        assert_eq!(v.certificate_der, s.certificate_der());
        assert_eq!(v.signing_time, Some(AT));
        assert!(!v.signed_document.contains("Signature"));
        assert!(v.signed_document.contains("<Name xml:lang=\"en\">Good CA</Name>"));
        roxmltree::Document::parse(&v.signed_document).unwrap();
    }
}

#[test]
fn idseal_dev_ca_certificate_signs_too() {
    let ca = idseal_vds::dev_ca(
        "idseal list CA",
        "LIST",
        UnixTime::from_secs(0),
        std::time::Duration::from_secs(4_000_000_000),
    )
    .unwrap();
    let key_der = idseal_vds::certificate::from_pem_or_der(ca.key_pem.as_bytes(), "PRIVATE KEY").unwrap();
    let cert_der = idseal_vds::certificate::from_pem_or_der(ca.certificate_pem.as_bytes(), "CERTIFICATE").unwrap();
    let s =
        KeySigner { key: SigningKey::from_pkcs8(Algorithm::Es256, "ca", &key_der).unwrap(), certificate_der: cert_der };
    let v = verify_enveloped(&sign_enveloped(LIST, &s, AT).unwrap()).unwrap();
    assert_eq!(v.certificate_der, s.certificate_der);
}

#[test]
fn tampered_text_and_attribute() {
    let doc = signed(Algorithm::Es256);
    let t = doc.replace("Good CA", "Evil CA");
    assert!(matches!(verify_enveloped(&t), Err(TrustError::DigestMismatch(m)) if m.contains("whole-document")));
    let t = doc.replace("Id=\"tsl\"", "Id=\"tsl2\"");
    assert!(matches!(verify_enveloped(&t), Err(TrustError::DigestMismatch(_))));
    let t = doc.replace("xml:lang=\"en\">Good", "xml:lang=\"de\">Good");
    assert!(matches!(verify_enveloped(&t), Err(TrustError::DigestMismatch(_))));
}

#[test]
fn tampered_signed_properties_and_signature_value() {
    let doc = signed(Algorithm::Es256);
    let start = doc.find("<xades:SigningTime>").unwrap() + "<xades:SigningTime>".len();
    let end = doc[start..].find('<').unwrap() + start;
    let t = format!("{}2030-01-01T00:00:00Z{}", &doc[..start], &doc[end..]);
    assert!(matches!(verify_enveloped(&t), Err(TrustError::DigestMismatch(m)) if m.contains("SignedProperties")));
    // Flip one character of the SignatureValue's base64.
    let start = doc.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let c = &doc[start + 4..start + 5];
    let flipped = if c == "A" { "B" } else { "A" };
    let t = format!("{}{}{}", &doc[..start + 4], flipped, &doc[start + 5..]);
    assert_eq!(verify_enveloped(&t), Err(TrustError::BadSignature));
    // Unsigned SignedInfo change: a different c14n URI is refused or breaks the signature.
    let t = doc.replacen("<ds:Reference URI=\"\">", "<ds:Reference Id=\"x\" URI=\"\">", 1);
    assert_eq!(verify_enveloped(&t), Err(TrustError::BadSignature));
}

#[test]
fn other_certificate_in_key_info() {
    let doc = signed(Algorithm::Es256);
    let other = signer(Algorithm::Es256);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&other.certificate_der);
    let start = doc.find("<ds:X509Certificate>").unwrap() + "<ds:X509Certificate>".len();
    let end = doc.find("</ds:X509Certificate>").unwrap();
    let t = format!("{}{}{}", &doc[..start], b64, &doc[end..]);
    assert_eq!(verify_enveloped(&t), Err(TrustError::BadSignature));
}

fn signature_element(doc: &str) -> &str {
    let start = doc.find("<ds:Signature ").unwrap();
    let end = doc.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    &doc[start..end]
}

#[test]
fn moved_or_duplicated_signature() {
    let doc = signed(Algorithm::Es256);
    let sig = signature_element(&doc);
    let without = doc.replace(sig, "");
    // Moved into a child element.
    let moved = without.replace("</SchemeInformation>", &format!("{sig}</SchemeInformation>"));
    assert!(matches!(verify_enveloped(&moved), Err(TrustError::SignatureForm(_))));
    // Duplicated.
    let dup = doc.replace(sig, &format!("{sig}{sig}"));
    assert!(matches!(verify_enveloped(&dup), Err(TrustError::SignatureForm(_))));
    // Removed.
    assert!(matches!(verify_enveloped(&without), Err(TrustError::SignatureForm(_))));
}

#[test]
fn wrapping_with_an_unsigned_copy_is_refused() {
    let doc = signed(Algorithm::Es256);
    let evil = "<TrustServiceProviderList><TrustServiceProvider><TSPInformation><TSPName><Name xml:lang=\"en\">Evil CA</Name></TSPName></TSPInformation></TrustServiceProvider></TrustServiceProviderList>";
    // Next to the signed list element, and inside the signature's Object.
    let next_to = doc.replacen("<TrustServiceProviderList>", &format!("{evil}<TrustServiceProviderList>"), 1);
    assert!(matches!(verify_enveloped(&next_to), Err(TrustError::DigestMismatch(_))));
    let in_object = doc.replacen("<ds:Object>", &format!("<ds:Object>{evil}</ds:Object><ds:Object>"), 1);
    match verify_enveloped(&in_object) {
        Ok(v) => assert!(!v.signed_document.contains("Evil CA")),
        Err(e) => assert!(matches!(e, TrustError::SignatureForm(_) | TrustError::DigestMismatch(_)), "{e:?}"),
    }
    // A second whole list as a new root wrapper around the signed one.
    let wrapped =
        format!("<Wrapper>{}{evil}</Wrapper>", doc.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
    assert!(matches!(verify_enveloped(&wrapped), Err(TrustError::SignatureForm(_))));
}

#[test]
fn duplicated_id_is_refused() {
    let doc = signed(Algorithm::Es256);
    let sp_id = {
        let i = doc.find("SignedProperties Id=\"").unwrap() + "SignedProperties Id=\"".len();
        doc[i..i + doc[i..].find('"').unwrap()].to_owned()
    };
    // In unsigned space (another ds:Object of the signature): the reference no longer resolves.
    let t = doc.replacen("</ds:Object>", &format!("</ds:Object><ds:Object><Evil Id=\"{sp_id}\"/></ds:Object>"), 1);
    assert!(matches!(verify_enveloped(&t), Err(TrustError::SignatureForm(m)) if m.contains("exactly one")));
    // In the signed content: refused as well (the content digest changes first).
    let t = doc.replace("<SchemeInformation>", &format!("<SchemeInformation Id=\"{sp_id}\">"));
    assert!(verify_enveloped(&t).is_err());
}

/// Replace the whole-document reference's transforms (the signature then no longer matters:
/// the form is refused before).
fn with_transforms(doc: &str, transforms: &str) -> String {
    let start = doc.find("<ds:Transforms>").unwrap();
    let end = doc.find("</ds:Transforms>").unwrap() + "</ds:Transforms>".len();
    format!("{}{}{}", &doc[..start], transforms, &doc[end..])
}

#[test]
fn algorithms_and_transforms_refused() {
    let doc = signed(Algorithm::Es256);
    let sha1 = doc.replacen("http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2000/09/xmldsig#sha1", 1);
    assert!(matches!(verify_enveloped(&sha1), Err(TrustError::SignatureForm(m)) if m.contains("SHA-1")));
    let rsa_sha1 = doc.replace("xmldsig-more#ecdsa-sha256", "xmldsig#rsa-sha1");
    assert!(matches!(verify_enveloped(&rsa_sha1), Err(TrustError::SignatureForm(_))));
    let unknown = with_transforms(
        &doc,
        "<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"/><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>",
    );
    assert!(matches!(verify_enveloped(&unknown), Err(TrustError::SignatureForm(_))));
    let only_c14n = with_transforms(
        &doc,
        "<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>",
    );
    assert!(matches!(verify_enveloped(&only_c14n), Err(TrustError::SignatureForm(_))));
    let xpath = |expr: &str, filter: &str| {
        with_transforms(
            &doc,
            &format!(
                "<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2002/06/xmldsig-filter2\"><f:XPath xmlns:f=\"http://www.w3.org/2002/06/xmldsig-filter2\" Filter=\"{filter}\">{expr}</f:XPath></ds:Transform><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>"
            ),
        )
    };
    for (expr, filter) in [
        ("/descendant::ds:Signature | /descendant::TrustServiceProviderList", "subtract"),
        ("/descendant::ds:Signature", "intersect"),
        ("/descendant::ds:Signature", "union"),
        ("/descendant::x:Signature", "subtract"),
        ("//ds:Signature", "subtract"),
    ] {
        assert!(matches!(verify_enveloped(&xpath(expr, filter)), Err(TrustError::SignatureForm(_))), "{expr} {filter}");
    }
    // The accepted filter2 expression gets past the form checks (then the SignedInfo changed,
    // so the signature no longer verifies).
    assert_eq!(verify_enveloped(&xpath(" /descendant::ds:Signature ", "subtract")), Err(TrustError::BadSignature));
    let with_comments = doc.replace(
        "CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"",
        "CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#WithComments\"",
    );
    assert!(matches!(verify_enveloped(&with_comments), Err(TrustError::SignatureForm(_))));
    let other_uri = doc.replacen("URI=\"\"", "URI=\"http://example.org/list.xml\"", 1);
    assert!(matches!(verify_enveloped(&other_uri), Err(TrustError::SignatureForm(_))));
}

#[test]
fn hostile_xml_is_refused() {
    let doc = signed(Algorithm::Es256);
    let body = doc.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let entity = format!("<!DOCTYPE TrustServiceStatusList [<!ENTITY e \"x\">]>{body}");
    assert!(matches!(verify_enveloped(&entity), Err(TrustError::Xml(_))));
    let external = format!("<!DOCTYPE TrustServiceStatusList [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{body}");
    assert!(matches!(verify_enveloped(&external), Err(TrustError::Xml(_))));
    let laughs = "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"lol\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;\">]><l>&c;</l>";
    assert!(matches!(verify_enveloped(laughs), Err(TrustError::Xml(_))));
    let deep = format!("<a>{}{}</a>", "<b>".repeat(100), "</b>".repeat(100));
    assert!(matches!(verify_enveloped(&deep), Err(TrustError::Xml(m)) if m.contains("deeper")));
    let oversize = format!("<a>{}</a>", "x".repeat(10 * 1024 * 1024));
    assert!(matches!(verify_enveloped(&oversize), Err(TrustError::Xml(m)) if m.contains("10 MiB")));
    for garbage in ["", "not xml", "<a><b></a>", "\u{0}\u{1}", "<a/><b/>"] {
        assert!(matches!(verify_enveloped(garbage), Err(TrustError::Xml(_))), "{garbage:?}");
    }
    assert!(matches!(verify_enveloped("<a/>"), Err(TrustError::SignatureForm(_))));
    // Truncations of a signed document never panic.
    for cut in (0..doc.len()).step_by(97) {
        if let Some(prefix) = doc.get(..cut) {
            assert!(verify_enveloped(prefix).is_err());
        }
    }
}

#[test]
fn signing_refusals() {
    let s = signer(Algorithm::Es256);
    let doc = sign_enveloped(LIST, &s, AT).unwrap();
    assert!(matches!(sign_enveloped(&doc, &s, AT), Err(TrustError::SignatureForm(_))));
    assert!(matches!(sign_enveloped("<a/>", &s, AT), Err(TrustError::Structure(_))));
    let ed = KeySigner {
        key: SigningKey::generate(Algorithm::EdDsa, "ed").unwrap(),
        certificate_der: s.certificate_der.clone(),
    };
    assert!(sign_enveloped(LIST, &ed, AT).is_err());
}
