#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use super::*;
use idseal_keys::{Algorithm, SigningKey};

const LIST: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- a list -->\n\
<tsl:TrustServiceStatusList xmlns:tsl=\"http://uri.etsi.org/02231/v2#\" Id=\"list\">\n  \
<tsl:SchemeInformation><tsl:TSLSequenceNumber>7</tsl:TSLSequenceNumber>\
<tsl:SchemeName xml:lang=\"en\">a &amp; b</tsl:SchemeName></tsl:SchemeInformation>\n\
</tsl:TrustServiceStatusList>\n";

fn signer(alg: Algorithm) -> KeySigner {
    let key = SigningKey::generate(alg, "k").unwrap();
    let cert = self_signed_certificate(&key, "list signer", UnixTime::from_secs(0), UnixTime::from_secs(4_000_000_000))
        .unwrap();
    KeySigner { key, certificate_der: cert }
}

#[test]
fn round_trip_es256_and_rs256() {
    for alg in [Algorithm::Es256, Algorithm::Rs256] {
        let s = signer(alg);
        let signed = sign_enveloped(LIST, &s, UnixTime::from_secs(1_800_000_000)).unwrap();
        let v = verify_enveloped(&signed).unwrap();
        assert_eq!(v.certificate_der, s.certificate_der);
        assert_eq!(v.signing_time, Some(UnixTime::from_secs(1_800_000_000)));
        assert!(v.signed_document.starts_with("<tsl:TrustServiceStatusList"), "{}", v.signed_document);
        assert!(!v.signed_document.contains("Signature"));
        assert!(v.signed_document.contains("a &amp; b"));
    }
}

#[test]
fn tampering_is_detected() {
    let signed = sign_enveloped(LIST, &signer(Algorithm::Es256), UnixTime::from_secs(1)).unwrap();
    let t = signed.replace(">7<", ">8<");
    assert!(matches!(verify_enveloped(&t), Err(TrustError::DigestMismatch(_))));
    let t = signed.replace("xml:lang=\"en\"", "xml:lang=\"fr\"");
    assert!(matches!(verify_enveloped(&t), Err(TrustError::DigestMismatch(_))));
}

#[test]
fn other_signer_is_refused() {
    let signed = sign_enveloped(LIST, &signer(Algorithm::Es256), UnixTime::from_secs(1)).unwrap();
    assert!(sign_enveloped(&signed, &signer(Algorithm::Es256), UnixTime::from_secs(1)).is_err());
}

#[test]
fn limits() {
    assert!(matches!(verify_enveloped("<a>"), Err(TrustError::Xml(_))));
    let deep = format!("{}{}", "<a>".repeat(70), "</a>".repeat(70));
    assert!(matches!(verify_enveloped(&deep), Err(TrustError::Xml(_))));
    let ok_depth = format!("{}{}", "<a>".repeat(64), "</a>".repeat(64));
    assert!(matches!(verify_enveloped(&ok_depth), Err(TrustError::SignatureForm(_))));
    let dtd = "<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>";
    assert!(matches!(verify_enveloped(dtd), Err(TrustError::Xml(_))));
}

#[test]
fn root_end_tag_search() {
    assert_eq!(root_end_tag("<a><b/></a>"), Some(7));
    assert_eq!(root_end_tag("<a><b/></a>\n<!-- x --> <?p q?>\n"), Some(7));
    assert_eq!(root_end_tag("<a/>"), None);
}
