//! The whole chain of trust, built from a description with fresh keys, and one refusal per step.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use idseal_keys::{Algorithm, SigningKey};
use idseal_trust::describe::{
    CaDescription, Description, ListDescription, RevokedDescription, SchemeDescription, StatusDescription,
};
use idseal_trust::lists::{ServiceStatus, format_datetime, to_hex};
use idseal_trust::xmldsig::{KeySigner, XmlSigner, self_signed_certificate};
use idseal_trust::{BuiltLists, ListKind, ListSource, TrustAnchors, TrustError, build, check_sequence, verify_vds};
use idseal_types::UnixTime;
use idseal_vds::certificate::from_pem_or_der;
use idseal_vds::{
    CertificateAuthority, CertificateReference, FACE_LEN, Identity, LocalSigner, ManifestId, Service,
    SigningCertificate, Transport, TrustLevel, Vds, dev_ca, encode_signed, issue, signing_certificate,
};

pub(crate) const T0: i64 = 1_800_000_000;
const DAY: Duration = Duration::from_secs(86_400);
const HOUR: Duration = Duration::from_secs(3_600);
const TINY_WEBP: [u8; 32] = [
    0x52, 0x49, 0x46, 0x46, 0x18, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4C, 0x0C, 0x00, 0x00,
    0x00, 0x2F, 0x00, 0x00, 0x00, 0x00, 0xA8, 0x59, 0x67, 0x9A, 0xD9, 0xFF, 0x00,
];

pub(crate) fn t(offset: i64) -> UnixTime {
    UnixTime::from_secs(T0 + offset)
}

fn now() -> UnixTime {
    t(0)
}

fn ago(d: Duration) -> UnixTime {
    now().saturating_sub(d)
}

pub(crate) fn list_signer(name: &str) -> KeySigner {
    let key = SigningKey::generate(Algorithm::Es256, name).unwrap();
    let certificate_der = self_signed_certificate(&key, name, ago(DAY * 30), now().saturating_add(DAY * 365)).unwrap();
    KeySigner { key, certificate_der }
}

fn identity() -> Identity {
    Identity {
        given_name: "Maëlys".into(),
        family_name: "MARTIN".into(),
        date_of_birth: "1990-02-28".into(),
        nationality: "FRA".into(),
        document_number: "X4RTBPFW4".into(),
        token_id: [7; 16],
        expires_at: now().saturating_add(DAY * 365),
        photo: TINY_WEBP.to_vec(),
        face: [1; FACE_LEN],
        trust_level: TrustLevel::OperatorVerified,
    }
}

/// A seal key and its certificate issued by `ca` with `manifests`.
fn seal_signer(ca_pem: &(String, String), cert_id: &str, manifests: &[ManifestId]) -> (LocalSigner, Vec<u8>) {
    let authority = CertificateAuthority::from_pem(&ca_pem.0, &ca_pem.1).unwrap();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
    let reference = CertificateReference::new(authority.ca_id(), cert_id).unwrap();
    let signer = LocalSigner::from_pkcs8(pkcs8.as_ref(), reference).unwrap();
    let pem =
        signing_certificate(&authority, cert_id, &signer.public_key(), manifests, ago(DAY * 9), DAY * 730).unwrap();
    (signer, from_pem_or_der(pem.as_bytes(), "CERTIFICATE").unwrap())
}

/// A seal signed by `signer` at `issued`, without the issuer's checks (so that a certificate
/// lacking the manifest can still be tried).
fn seal(signer: &LocalSigner, issued: UnixTime) -> String {
    let vds = Vds::identity(signer.certificate_reference_owned(), issued, identity());
    encode_signed(&vds, signer).unwrap().to_text(Transport::Base45)
}

/// A service seal (manifest 0A0002) signed by `signer` at `issued`, without the issuer's checks.
fn service_seal(signer: &LocalSigner, issued: UnixTime, expires_at: UnixTime) -> String {
    let service = Service {
        service_id: "bar-le-central".into(),
        name: "Bar Le Central".into(),
        url: "https://bar.example".into(),
        scopes: vec!["identity:name".into(), "identity:age_over_18".into()],
        expires_at,
    };
    let vds = Vds::service(signer.certificate_reference_owned(), issued, service);
    encode_signed(&vds, signer).unwrap().to_text(Transport::Base45)
}

trait Reference {
    fn certificate_reference_owned(&self) -> CertificateReference;
}
impl Reference for LocalSigner {
    fn certificate_reference_owned(&self) -> CertificateReference {
        idseal_vds::SealSigner::certificate_reference(self).clone()
    }
}

fn list(seq: u64, location: &str, signer: &str) -> ListDescription {
    ListDescription { sequence_number: seq, location: location.into(), signer: signer.into(), validity_seconds: 86_400 }
}

fn granted_since(s: UnixTime) -> StatusDescription {
    StatusDescription { status: ServiceStatus::Granted, since: format_datetime(s) }
}

/// The demo chain: keys, certificates, a description, and a seal issued under it.
pub(crate) struct Demo {
    pub(crate) signers: Vec<(String, KeySigner)>,
    pub(crate) certificates: BTreeMap<String, Vec<u8>>,
    pub(crate) description: Description,
    pub(crate) ca: (String, String),
    pub(crate) seal_signer: LocalSigner,
    pub(crate) vds: String,
}

impl Demo {
    pub(crate) fn new() -> Self {
        let signers: Vec<(String, KeySigner)> =
            ["governance", "scheme", "tsl", "vrl", "other"].iter().map(|n| ((*n).to_owned(), list_signer(n))).collect();
        let ca = dev_ca("EU VDS CA", "EUCA", ago(DAY * 10), DAY * 1000).unwrap();
        let ca = (ca.certificate_pem, ca.key_pem);
        let (seal_signer, leaf) = seal_signer(&ca, "0001", &[ManifestId::IDENTITY]);
        let cert = SigningCertificate::parse(&leaf).unwrap();
        let vds = issue(&identity(), &seal_signer, &cert, ManifestId::IDENTITY, ago(DAY)).unwrap();
        let mut certificates = BTreeMap::new();
        certificates.insert("ca".to_owned(), from_pem_or_der(ca.0.as_bytes(), "CERTIFICATE").unwrap());
        certificates.insert("leaf".to_owned(), leaf);
        let description = Description {
            governance_operator: "VDSIC Governance Board".into(),
            governance: list(7, "https://trust.example/governance.xml", "governance"),
            schemes: vec![SchemeDescription {
                iac: "VDS".into(),
                operator_name: "Otentik".into(),
                manifests: vec!["0A0001".into()],
                scheme: list(3, "https://trust.example/VDS/scheme.xml", "scheme"),
                tsl: list(11, "https://trust.example/VDS/tsl.xml", "tsl"),
                vrl: list(42, "https://trust.example/VDS/vrl.xml", "vrl"),
                cas: vec![CaDescription {
                    name: "EU VDS CA".into(),
                    certificate: "ca".into(),
                    signing_certificates: vec!["leaf".into()],
                    status: granted_since(ago(DAY * 10)),
                    history: Vec::new(),
                }],
                revoked: Vec::new(),
            }],
        };
        Self { signers, certificates, description, ca, seal_signer, vds }
    }

    pub(crate) fn signer(&self, name: &str) -> &KeySigner {
        &self.signers.iter().find(|(n, _)| n == name).unwrap().1
    }

    pub(crate) fn build(&self) -> BuiltLists {
        self.build_with(&self.description)
    }

    pub(crate) fn build_with(&self, description: &Description) -> BuiltLists {
        let signers: BTreeMap<String, &dyn XmlSigner> =
            self.signers.iter().map(|(n, s)| (n.clone(), s as &dyn XmlSigner)).collect();
        build(description, &signers, &self.certificates, ago(HOUR)).unwrap()
    }

    pub(crate) fn anchors(&self) -> TrustAnchors {
        TrustAnchors {
            governance_location: self.description.governance.location.clone(),
            governance_signers: vec![self.signer("governance").certificate_der.clone()],
        }
    }

    fn verify(&self, lists: &BuiltLists) -> Result<idseal_trust::ChainReport, TrustError> {
        verify_vds(&self.vds, &self.anchors(), lists, now())
    }

    fn scheme_mut(&mut self) -> &mut SchemeDescription {
        &mut self.description.schemes[0]
    }
}

/// Replaces the document of `kind` in `lists` by the one in `from`.
fn swap(lists: &mut BuiltLists, from: &BuiltLists, kind: ListKind) {
    let doc = from.documents.iter().find(|d| d.kind == kind).unwrap().clone();
    let slot = lists.documents.iter_mut().find(|d| d.kind == kind).unwrap();
    *slot = doc;
}

#[test]
fn a_seal_verifies_through_the_whole_chain() {
    let demo = Demo::new();
    let lists = demo.build();
    assert_eq!(lists.documents.len(), 4);
    let report = demo.verify(&lists).unwrap();
    assert_eq!(report.ca_name, "EU VDS CA");
    assert_eq!(report.certificate_reference, "EUCA0001");
    assert_eq!(
        report.sequence_numbers,
        vec![(ListKind::Governance, 7), (ListKind::Scheme, 3), (ListKind::Tsl, 11), (ListKind::Vrl, 42)]
    );
    let names: Vec<&str> = report.steps.iter().map(|s| s.step).collect();
    assert_eq!(
        names,
        ["VDS header", "Governance List", "Scheme List", "TSL", "CA", "Signing certificate", "VRL", "Seal signature"]
    );
    assert_eq!(report.vds.payload.as_identity().unwrap().family_name, "MARTIN");
    let fingerprint = idseal_vds::decode(&demo.vds).unwrap().fingerprint();
    assert_eq!(report.fingerprint, to_hex(&fingerprint));
}

#[test]
fn an_untrusted_governance_signer_is_refused() {
    let demo = Demo::new();
    let lists = demo.build();
    let anchors = TrustAnchors {
        governance_location: demo.description.governance.location.clone(),
        governance_signers: vec![demo.signer("other").certificate_der.clone()],
    };
    assert_eq!(verify_vds(&demo.vds, &anchors, &lists, now()).unwrap_err(), TrustError::UntrustedGovernanceSigner);
}

#[test]
fn a_tampered_list_is_refused() {
    let demo = Demo::new();
    let mut lists = demo.build();
    let gov = &mut lists.documents[0];
    gov.xml = gov.xml.replace("Otentik", "Mallory");
    assert!(matches!(demo.verify(&lists), Err(TrustError::ListInvalid { list: ListKind::Governance, .. })));
}

#[test]
fn an_iac_without_scheme_operator_is_refused() {
    let mut demo = Demo::new();
    demo.scheme_mut().iac = "XYZ".into();
    let lists = demo.build();
    assert_eq!(demo.verify(&lists).unwrap_err(), TrustError::SchemeNotAuthorised { iac: "VDS".into() });
}

#[test]
fn a_manifest_outside_the_scope_is_refused() {
    let mut demo = Demo::new();
    demo.scheme_mut().manifests = vec!["0A0002".into()];
    let lists = demo.build();
    assert_eq!(demo.verify(&lists).unwrap_err(), TrustError::ManifestNotInScope { manifest: "0A0001".into() });
}

#[test]
fn each_list_must_be_signed_by_the_certificate_its_parent_names() {
    let demo = Demo::new();
    for kind in [ListKind::Scheme, ListKind::Tsl, ListKind::Vrl] {
        let mut other = demo.description.clone();
        let s = &mut other.schemes[0];
        match kind {
            ListKind::Scheme => s.scheme.signer = "other".into(),
            ListKind::Tsl => s.tsl.signer = "other".into(),
            _ => s.vrl.signer = "other".into(),
        }
        let mut lists = demo.build();
        swap(&mut lists, &demo.build_with(&other), kind);
        assert_eq!(demo.verify(&lists).unwrap_err(), TrustError::WrongListSigner { list: kind }, "{kind}");
    }
}

#[test]
fn a_list_past_next_update_fails_closed() {
    let demo = Demo::new();
    let lists = demo.build();
    let late = now().saturating_add(DAY);
    let err = verify_vds(&demo.vds, &demo.anchors(), &lists, late).unwrap_err();
    assert!(matches!(err, TrustError::ListExpired { list: ListKind::Governance, .. }), "{err:?}");
    for kind in [ListKind::Scheme, ListKind::Tsl, ListKind::Vrl] {
        let mut demo = Demo::new();
        let s = demo.scheme_mut();
        let l = match kind {
            ListKind::Scheme => &mut s.scheme,
            ListKind::Tsl => &mut s.tsl,
            _ => &mut s.vrl,
        };
        l.validity_seconds = 3_600; // built an hour ago: NextUpdate is now
        let lists = demo.build();
        assert_eq!(demo.verify(&lists).unwrap_err(), TrustError::ListExpired { list: kind, next_update: now() });
    }
}

#[test]
fn a_list_whose_signer_certificate_expired_is_refused() {
    for (name, kind) in [("governance", ListKind::Governance), ("tsl", ListKind::Tsl), ("vrl", ListKind::Vrl)] {
        let mut demo = Demo::new();
        let key = SigningKey::generate(Algorithm::Es256, name).unwrap();
        // Valid for a month, ended a day ago.
        let certificate_der = self_signed_certificate(&key, name, ago(DAY * 31), ago(DAY)).unwrap();
        let slot = demo.signers.iter_mut().find(|(n, _)| n == name).unwrap();
        slot.1 = KeySigner { key, certificate_der };
        let lists = demo.build();
        let err = demo.verify(&lists).unwrap_err();
        assert_eq!(err, TrustError::ListSignerNotValid { list: kind, at: now() }, "{name}");
    }
}

#[test]
fn a_list_dated_in_the_future_is_refused() {
    let demo = Demo::new();
    let signers: BTreeMap<String, &dyn XmlSigner> =
        demo.signers.iter().map(|(n, s)| (n.clone(), s as &dyn XmlSigner)).collect();
    let lists = build(&demo.description, &signers, &demo.certificates, now().saturating_add(HOUR)).unwrap();
    let err = demo.verify(&lists).unwrap_err();
    assert!(matches!(err, TrustError::ListFromTheFuture { list: ListKind::Governance, .. }), "{err:?}");
    // Within the five-minute skew it is fine.
    let lists =
        build(&demo.description, &signers, &demo.certificates, now().saturating_add(Duration::from_secs(240))).unwrap();
    let err = demo.verify(&lists);
    assert!(err.is_ok(), "{err:?}");
}

#[test]
fn a_ca_not_on_the_tsl_is_refused() {
    let mut demo = Demo::new();
    demo.scheme_mut().cas.clear();
    let lists = demo.build();
    assert_eq!(demo.verify(&lists).unwrap_err(), TrustError::CaNotListed { ca_id: "EUCA".into() });
}

#[test]
fn a_ca_withdrawn_now_is_refused() {
    let mut demo = Demo::new();
    let ca = &mut demo.scheme_mut().cas[0];
    ca.history = vec![granted_since(ago(DAY * 10))];
    ca.status = StatusDescription { status: ServiceStatus::Withdrawn, since: format_datetime(ago(HOUR * 12)) };
    let lists = demo.build();
    assert_eq!(demo.verify(&lists).unwrap_err(), TrustError::CaNotGranted { ca_id: "EUCA".into(), at: now() });
}

#[test]
fn a_ca_withdrawn_when_the_seal_was_issued_is_refused() {
    let mut demo = Demo::new();
    let ca = &mut demo.scheme_mut().cas[0];
    ca.history = vec![
        granted_since(ago(DAY * 10)),
        StatusDescription { status: ServiceStatus::Withdrawn, since: format_datetime(ago(DAY * 5)) },
    ];
    ca.status = granted_since(ago(HOUR * 12));
    let lists = demo.build();
    assert_eq!(demo.verify(&lists).unwrap_err(), TrustError::CaNotGranted { ca_id: "EUCA".into(), at: ago(DAY) });
}

#[test]
fn a_signing_certificate_not_published_is_refused() {
    let mut demo = Demo::new();
    demo.scheme_mut().cas[0].signing_certificates.clear();
    let lists = demo.build();
    assert_eq!(
        demo.verify(&lists).unwrap_err(),
        TrustError::SigningCertificateNotListed { reference: "EUCA0001".into() }
    );
}

#[test]
fn a_certificate_without_the_manifest_in_its_usage_list_is_refused() {
    let mut demo = Demo::new();
    let (signer, leaf) = seal_signer(&demo.ca, "0002", &[ManifestId::new(0x0A_0002).unwrap()]);
    demo.certificates.insert("leaf2".into(), leaf);
    demo.scheme_mut().cas[0].signing_certificates.push("leaf2".into());
    demo.vds = seal(&signer, ago(DAY));
    let lists = demo.build();
    assert_eq!(demo.verify(&lists).unwrap_err(), TrustError::UsageListMissing { manifest: "0A0001".into() });
}

#[test]
fn a_certificate_issued_by_another_ca_is_refused() {
    let mut demo = Demo::new();
    // A rogue CA with the same CA id issues EUCA0001; its certificate is published under the
    // real CA's entry.
    let rogue = dev_ca("Rogue CA", "EUCA", ago(DAY * 10), DAY * 1000).unwrap();
    let (signer, leaf) = seal_signer(&(rogue.certificate_pem, rogue.key_pem), "0001", &[ManifestId::IDENTITY]);
    demo.certificates.insert("leaf".into(), leaf);
    demo.vds = seal(&signer, ago(DAY));
    let lists = demo.build();
    assert!(matches!(demo.verify(&lists), Err(TrustError::SigningCertificate(_))));
}

#[test]
fn a_signing_certificate_not_valid_at_issue_time_is_refused() {
    let mut demo = Demo::new();
    // Signed 9.5 days ago: after the CA's start (10 days ago), before the certificate's (9).
    let issued = ago(DAY * 9 + HOUR * 12);
    demo.scheme_mut().cas[0].status = granted_since(ago(DAY * 30));
    demo.vds = seal(&demo.seal_signer, issued);
    let lists = demo.build();
    assert_eq!(demo.verify(&lists).unwrap_err(), TrustError::SigningCertificateNotValid { at: issued });
}

#[test]
fn a_ca_certificate_not_valid_at_issue_time_is_refused() {
    let mut demo = Demo::new();
    // Signed 20 days ago: before the CA certificate (10 days ago).
    demo.scheme_mut().cas[0].status = granted_since(ago(DAY * 30));
    demo.vds = seal(&demo.seal_signer, ago(DAY * 20));
    let lists = demo.build();
    assert_eq!(
        demo.verify(&lists).unwrap_err(),
        TrustError::CaCertificateNotValid { ca_id: "EUCA".into(), at: ago(DAY * 20) }
    );
}

#[test]
fn a_revoked_seal_is_refused() {
    let mut demo = Demo::new();
    let fingerprint = idseal_vds::decode(&demo.vds).unwrap().fingerprint();
    demo.scheme_mut().revoked.push(RevokedDescription {
        fingerprint: to_hex(&fingerprint),
        revoked_at: format_datetime(ago(HOUR * 2)),
        reason: "document reported stolen".into(),
    });
    let lists = demo.build();
    assert_eq!(
        demo.verify(&lists).unwrap_err(),
        TrustError::Revoked { revoked_at: ago(HOUR * 2), reason: "document reported stolen".into() }
    );
}

#[test]
fn a_tampered_seal_is_refused() {
    let mut demo = Demo::new();
    let lists = demo.build();
    let mut binary = idseal_vds::decode(&demo.vds).unwrap().binary();
    let last = binary.last_mut().unwrap();
    *last ^= 0x01;
    demo.vds = idseal_vds::transport::to_text(&binary, Transport::Base45);
    assert!(matches!(demo.verify(&lists), Err(TrustError::Seal(_))));
    demo.vds = "VDSEUA not a seal".into();
    assert!(matches!(demo.verify(&lists), Err(TrustError::Vds(_))));
}

#[test]
fn a_missing_list_is_a_fetch_error() {
    let demo = Demo::new();
    let mut lists = demo.build();
    lists.documents.retain(|d| d.kind != ListKind::Vrl);
    assert!(matches!(demo.verify(&lists), Err(TrustError::Fetch { .. })));
    assert!(lists.fetch("https://nowhere.example/").is_err());
}

#[test]
fn sequence_numbers_never_go_back() {
    assert_eq!(check_sequence(None, 1), Ok(()));
    assert_eq!(check_sequence(Some(5), 5), Ok(()));
    assert_eq!(check_sequence(Some(5), 6), Ok(()));
    assert_eq!(check_sequence(Some(5), 4), Err(TrustError::SequenceRollback { previous: 5, new: 4 }));
}

#[test]
fn a_service_seal_verifies_when_scope_and_usage_list_hold_its_manifest() {
    let both = [ManifestId::IDENTITY, ManifestId::SERVICE];
    let mut demo = Demo::new();
    let (signer, leaf) = seal_signer(&demo.ca, "0002", &both);
    demo.certificates.insert("leaf2".into(), leaf);
    demo.scheme_mut().cas[0].signing_certificates.push("leaf2".into());
    demo.scheme_mut().manifests = vec!["0A0001".into(), "0A0002".into()];
    demo.vds = service_seal(&signer, ago(DAY), now().saturating_add(DAY * 90));
    let report = demo.verify(&demo.build()).unwrap();
    assert_eq!(report.certificate_reference, "EUCA0002");
    let service = report.vds.payload.as_service().unwrap();
    assert_eq!((service.service_id.as_str(), service.url.as_str()), ("bar-le-central", "https://bar.example"));
    assert!(report.vds.payload.as_identity().is_none());
    assert_eq!(report.vds.header.manifest_id, ManifestId::SERVICE);
    // the service seal's own expiry is checked at the last step
    let lists = demo.build();
    let short = service_seal(&signer, ago(DAY), now().saturating_add(HOUR));
    assert!(verify_vds(&short, &demo.anchors(), &lists, now()).is_ok());
    let err = verify_vds(&short, &demo.anchors(), &lists, now().saturating_add(HOUR * 2)).unwrap_err();
    assert!(matches!(&err, TrustError::Seal(m) if m.contains("expired")), "{err:?}");

    // the scheme does not authorise service seals
    demo.scheme_mut().manifests = vec!["0A0001".into()];
    assert_eq!(demo.verify(&demo.build()).unwrap_err(), TrustError::ManifestNotInScope { manifest: "0A0002".into() });

    // the certificate may sign identity seals only
    let mut demo = Demo::new();
    let (signer, leaf) = seal_signer(&demo.ca, "0003", &[ManifestId::IDENTITY]);
    demo.certificates.insert("leaf3".into(), leaf);
    demo.scheme_mut().cas[0].signing_certificates.push("leaf3".into());
    demo.scheme_mut().manifests = vec!["0A0001".into(), "0A0002".into()];
    demo.vds = service_seal(&signer, ago(DAY), now().saturating_add(DAY * 90));
    assert_eq!(demo.verify(&demo.build()).unwrap_err(), TrustError::UsageListMissing { manifest: "0A0002".into() });
}
