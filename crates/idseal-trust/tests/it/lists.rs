//! The four lists: round trips through signing and strict reading.

use idseal_trust::lists::{
    ListPointer, RevokedSeal, SchemeInformation, SchemeOperator, ServiceStatus, StatusPeriod, TrustServiceProvider,
};
use idseal_trust::xmldsig::{Verified, sign_enveloped, verify_enveloped};
use idseal_trust::{GovernanceList, SchemeList, TrustError, Tsl, Vrl};
use idseal_vds::ManifestId;

use crate::chain::{list_signer, t};

fn info(seq: u64) -> SchemeInformation {
    SchemeInformation {
        sequence_number: seq,
        operator_name: "Operator & Co <test>".into(),
        issued_at: t(0),
        next_update: t(86_400),
        distribution_points: vec!["https://trust.example/list.xml".into()],
    }
}

fn governance() -> GovernanceList {
    GovernanceList {
        information: info(1),
        operators: vec![SchemeOperator {
            iac: "VDS".into(),
            name: "Otentik".into(),
            scheme_list_location: "https://trust.example/VDS/scheme.xml".into(),
            signer_certificate: vec![0x30, 0x03, 0x02, 0x01, 0x01],
        }],
    }
}

fn scheme() -> SchemeList {
    let p = |l: &str| ListPointer { location: l.into(), signer_certificate: vec![0x30, 0x00] };
    SchemeList {
        information: info(2),
        iac: "VDS".into(),
        manifest_scope: vec![ManifestId::IDENTITY, ManifestId::new(0x0A_0002).unwrap()],
        tsls: vec![p("https://trust.example/tsl.xml")],
        vrl: p("https://trust.example/vrl.xml"),
    }
}

fn tsl() -> Tsl {
    Tsl {
        information: info(3),
        iac: "VDS".into(),
        providers: vec![TrustServiceProvider {
            name: "EU VDS CA".into(),
            service_name: "EU VDS CA seal certificates".into(),
            ca_certificate: vec![1, 2, 3],
            current: StatusPeriod { status: ServiceStatus::Withdrawn, since: t(100) },
            history: vec![StatusPeriod { status: ServiceStatus::Granted, since: t(-100) }],
            signing_certificates: vec![vec![4, 5], vec![6]],
        }],
    }
}

fn vrl() -> Vrl {
    Vrl {
        sequence_number: 4,
        iac: "VDS".into(),
        issued_at: t(0),
        next_update: t(3_600),
        revoked: vec![RevokedSeal { fingerprint: [0xAB; 32], revoked_at: t(-5), reason: "stolen".into() }],
    }
}

/// A Verified whose signed content is `xml` as is (the parsers only read `signed_document`).
fn unsigned(xml: String) -> Verified {
    Verified { certificate_der: Vec::new(), signing_time: None, signed_document: xml, signature_timestamp: None }
}

#[test]
fn every_list_round_trips_through_a_signature() {
    let signer = list_signer("lists");
    let verify = |xml: String| verify_enveloped(&sign_enveloped(&xml, &signer, t(0)).unwrap()).unwrap();
    assert_eq!(GovernanceList::parse(&verify(governance().to_unsigned_xml())).unwrap(), governance());
    assert_eq!(SchemeList::parse(&verify(scheme().to_unsigned_xml())).unwrap(), scheme());
    assert_eq!(Tsl::parse(&verify(tsl().to_unsigned_xml())).unwrap(), tsl());
    assert_eq!(Vrl::parse(&verify(vrl().to_unsigned_xml())).unwrap(), vrl());
}

#[test]
fn the_xml_has_the_etsi_shape() {
    let xml = scheme().to_unsigned_xml();
    for needle in [
        "xmlns:tsl=\"http://uri.etsi.org/02231/v2#\"",
        "<tsl:TSLVersionIdentifier>5</tsl:TSLVersionIdentifier>",
        "<tsl:SchemeTerritory>VDS</tsl:SchemeTerritory>",
        "<idseal:ManifestId>0A0001</idseal:ManifestId>",
        "<idseal:ListKind>VRL</idseal:ListKind>",
        "<tsl:NextUpdate><tsl:dateTime>2027-01-16T08:00:00Z</tsl:dateTime>",
        "Operator &amp; Co &lt;test&gt;",
    ] {
        assert!(xml.contains(needle), "{needle} in {xml}");
    }
    assert!(
        tsl()
            .to_unsigned_xml()
            .contains("<tsl:ServiceStatus>http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/withdrawn")
    );
}

fn refused<T: std::fmt::Debug>(r: Result<T, TrustError>) -> String {
    match r {
        Err(TrustError::Structure(m) | TrustError::Xml(m)) => m,
        other => panic!("expected a structure error, got {other:?}"),
    }
}

#[test]
fn a_list_of_another_kind_is_refused() {
    let m = refused(SchemeList::parse(&unsigned(governance().to_unsigned_xml())));
    assert!(m.contains("TSLType"), "{m}");
    refused(SchemeList::parse(&unsigned(tsl().to_unsigned_xml())));
    refused(GovernanceList::parse(&unsigned(scheme().to_unsigned_xml())));
    refused(Vrl::parse(&unsigned(governance().to_unsigned_xml())));
}

#[test]
fn unknown_or_repeated_elements_are_refused() {
    let xml = scheme().to_unsigned_xml();
    let unknown = xml.replace("<idseal:ManifestScope>", "<idseal:ManifestScope><idseal:Wildcard/>");
    assert!(refused(SchemeList::parse(&unsigned(unknown))).contains("Wildcard"));
    let extra = xml.replace("</tsl:SchemeExtensions>", "<idseal:Extra/></tsl:SchemeExtensions>");
    refused(SchemeList::parse(&unsigned(extra)));
    let twice = xml.replace(
        "<tsl:TSLSequenceNumber>2</tsl:TSLSequenceNumber>",
        "<tsl:TSLSequenceNumber>2</tsl:TSLSequenceNumber><tsl:TSLSequenceNumber>9</tsl:TSLSequenceNumber>",
    );
    assert!(refused(SchemeList::parse(&unsigned(twice))).contains("more than once"));
    let missing = xml.replace("<tsl:SchemeTerritory>VDS</tsl:SchemeTerritory>", "");
    refused(SchemeList::parse(&unsigned(missing)));
    let two_vrls = xml.replace("<idseal:ListKind>TSL</idseal:ListKind>", "<idseal:ListKind>VRL</idseal:ListKind>");
    refused(SchemeList::parse(&unsigned(two_vrls)));
    let text = vrl().to_unsigned_xml().replace("<idseal:IAC>", "stray<idseal:IAC>");
    refused(Vrl::parse(&unsigned(text)));
}

#[test]
fn bad_values_are_refused() {
    let g = governance().to_unsigned_xml();
    refused(GovernanceList::parse(&unsigned(g.replace("2027-01-16T08:00:00Z", "2027-01-16T08:00:00+01:00"))));
    refused(GovernanceList::parse(&unsigned(g.replace("<tsl:TSLSequenceNumber>1<", "<tsl:TSLSequenceNumber>-1<"))));
    refused(GovernanceList::parse(&unsigned(g.replace(">VDS<", ">VD<"))));
    refused(GovernanceList::parse(&unsigned(
        g.replace(">5</tsl:TSLVersionIdentifier>", ">6</tsl:TSLVersionIdentifier>"),
    )));
    let s = scheme().to_unsigned_xml();
    refused(SchemeList::parse(&unsigned(s.replace(">0A0001<", ">0a0001<"))));
    let v = vrl().to_unsigned_xml();
    refused(Vrl::parse(&unsigned(v.replace(&"ab".repeat(32), &"ab".repeat(31)))));
    let t = tsl().to_unsigned_xml();
    refused(Tsl::parse(&unsigned(t.replace("Svcstatus/granted", "Svcstatus/recognisedatnationallevel"))));
    refused(Tsl::parse(&unsigned(t.replace("Critical=\"true\"", "Critical=\"false\""))));
    // A DTD is refused outright.
    let dtd =
        format!("<!DOCTYPE x [<!ENTITY e \"x\">]>{}", v.replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", ""));
    refused(Vrl::parse(&unsigned(dtd)));
}

#[test]
fn status_history_must_precede_the_current_status() {
    let mut list = tsl();
    if let Some(p) = list.providers.first_mut() {
        p.history = vec![StatusPeriod { status: ServiceStatus::Granted, since: t(200) }];
    }
    refused(Tsl::parse(&unsigned(list.to_unsigned_xml())));
}
