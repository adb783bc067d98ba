//! A demo chain of trust for tests: fresh ES256 list signers with self-signed certificates, a
//! VDS CA and a signing certificate for manifests 0A0001 (identity) and 0A0002 (service), a
//! description of one scheme (IAC `VDS`, both manifests in scope) whose lists live under a base
//! URL, and an identity seal issued under it. More identity and service seals can be minted
//! with [`TrustDemo::issue_identity`] and [`TrustDemo::issue_service`].

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use idseal_keys::{Algorithm, SigningKey};
use idseal_trust::describe::{CaDescription, Description, ListDescription, SchemeDescription, StatusDescription};
use idseal_trust::lists::{ServiceStatus, format_datetime};
use idseal_trust::xmldsig::{KeySigner, XmlSigner, self_signed_certificate};
use idseal_trust::{BuiltLists, TrustAnchors, build};
use idseal_types::UnixTime;
use idseal_vds::certificate::from_pem_or_der;
use idseal_vds::{
    CertificateAuthority, CertificateReference, FACE_LEN, Identity, LocalSigner, ManifestId, Payload, Service,
    SigningCertificate, TrustLevel, dev_ca, issue, issue_payload, signing_certificate,
};

const DAY: Duration = Duration::from_secs(86_400);
/// The smallest lossless WebP (1×1), as the identity photo.
const TINY_WEBP: [u8; 32] = [
    0x52, 0x49, 0x46, 0x46, 0x18, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4C, 0x0C, 0x00, 0x00,
    0x00, 0x2F, 0x00, 0x00, 0x00, 0x00, 0xA8, 0x59, 0x67, 0x9A, 0xD9, 0xFF, 0x00,
];

/// The demo chain.
pub struct TrustDemo {
    pub signers: Vec<(String, KeySigner)>,
    pub certificates: BTreeMap<String, Vec<u8>>,
    pub description: Description,
    /// An identity seal ([`TrustDemo::identity_template`] of `now`) issued a day before `now`.
    pub vds: String,
    pub now: UnixTime,
    /// The seal-signing key (certificate reference `EUCA0001`), for minting more seals.
    pub seal_signer: LocalSigner,
    /// Its certificate (the `leaf` of `certificates`), UsageList 0A0001 and 0A0002.
    pub seal_certificate: SigningCertificate,
}

fn list(seq: u64, location: String, signer: &str, validity_seconds: u64) -> ListDescription {
    ListDescription { sequence_number: seq, location, signer: signer.into(), validity_seconds }
}

impl TrustDemo {
    /// A chain whose lists are published under `base` (`<base>/governance.xml`, `<base>/scheme.xml`,
    /// `<base>/tsl.xml`, `<base>/vrl.xml`), valid for `validity` from `now`, and a seal issued a day before `now`.
    pub fn new(base: &str, now: UnixTime, validity: Duration) -> Self {
        let ago = |d: Duration| now.saturating_sub(d);
        let signers: Vec<(String, KeySigner)> = ["governance", "scheme", "tsl", "vrl"]
            .iter()
            .map(|n| {
                let key = SigningKey::generate(Algorithm::Es256, *n).unwrap();
                let cert = self_signed_certificate(&key, n, ago(DAY * 30), now.saturating_add(DAY * 365)).unwrap();
                ((*n).to_owned(), KeySigner { key, certificate_der: cert })
            })
            .collect();
        let ca = dev_ca("EU VDS CA", "EUCA", ago(DAY * 10), DAY * 1000).unwrap();
        let authority = CertificateAuthority::from_pem(&ca.certificate_pem, &ca.key_pem).unwrap();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        let reference = CertificateReference::new(authority.ca_id(), "0001").unwrap();
        let seal_signer = LocalSigner::from_pkcs8(pkcs8.as_ref(), reference).unwrap();
        let leaf_pem = signing_certificate(
            &authority,
            "0001",
            &seal_signer.public_key(),
            &[ManifestId::IDENTITY, ManifestId::SERVICE],
            ago(DAY * 9),
            DAY * 730,
        )
        .unwrap();
        let leaf = from_pem_or_der(leaf_pem.as_bytes(), "CERTIFICATE").unwrap();
        let identity = Self::identity_template(now);
        let cert = SigningCertificate::parse(&leaf).unwrap();
        let vds = issue(&identity, &seal_signer, &cert, ManifestId::IDENTITY, ago(DAY)).unwrap();
        let mut certificates = BTreeMap::new();
        certificates.insert("ca".to_owned(), from_pem_or_der(ca.certificate_pem.as_bytes(), "CERTIFICATE").unwrap());
        certificates.insert("leaf".to_owned(), leaf);
        let v = validity.as_secs();
        let description = Description {
            governance_operator: "VDSIC Governance Board".into(),
            governance: list(1, format!("{base}/governance.xml"), "governance", v),
            schemes: vec![SchemeDescription {
                iac: "VDS".into(),
                operator_name: "Otentik".into(),
                manifests: vec!["0A0001".into(), "0A0002".into()],
                scheme: list(1, format!("{base}/scheme.xml"), "scheme", v),
                tsl: list(1, format!("{base}/tsl.xml"), "tsl", v),
                vrl: list(1, format!("{base}/vrl.xml"), "vrl", v),
                cas: vec![CaDescription {
                    name: "EU VDS CA".into(),
                    certificate: "ca".into(),
                    signing_certificates: vec!["leaf".into()],
                    status: StatusDescription { status: ServiceStatus::Granted, since: format_datetime(ago(DAY * 10)) },
                    history: Vec::new(),
                }],
                revoked: Vec::new(),
            }],
        };
        Self { signers, certificates, description, vds, now, seal_signer, seal_certificate: cert }
    }

    /// The demo identity (Maëlys MARTIN, FRA, token id `07…07`, trust level 2, a 1×1 WEBP
    /// portrait), expiring a year after `now`. Change its fields to mint distinct seals.
    pub fn identity_template(now: UnixTime) -> Identity {
        Identity {
            given_name: "Maëlys".into(),
            family_name: "MARTIN".into(),
            date_of_birth: "1990-02-28".into(),
            nationality: "FRA".into(),
            document_number: "X4RTBPFW4".into(),
            token_id: [7; 16],
            expires_at: now.saturating_add(DAY * 365),
            photo: TINY_WEBP.to_vec(),
            face: [1; FACE_LEN],
            trust_level: TrustLevel::OperatorVerified,
        }
    }

    /// An identity seal (Base45 text) of `identity`, issued at `now` under the demo's signing
    /// certificate (panics if the codec refuses it, e.g. `now` outside the certificate's
    /// validity or an expiry not after `now`).
    pub fn issue_identity(&self, identity: &Identity, now: UnixTime) -> String {
        issue(identity, &self.seal_signer, &self.seal_certificate, ManifestId::IDENTITY, now).unwrap()
    }

    /// A service seal (Base45 text) issued at `now`, expiring a year later, under the demo's
    /// signing certificate (panics if the codec refuses a field).
    pub fn issue_service(&self, service_id: &str, name: &str, url: &str, scopes: &[&str], now: UnixTime) -> String {
        let service = Service {
            service_id: service_id.into(),
            name: name.into(),
            url: url.into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expires_at: now.saturating_add(DAY * 365),
        };
        issue_payload(&Payload::Service(service), &self.seal_signer, &self.seal_certificate, now).unwrap()
    }

    /// The signed lists of `description` (this demo's, or a changed copy), issued at `at`.
    pub fn build_with(&self, description: &Description, at: UnixTime) -> BuiltLists {
        let signers: BTreeMap<String, &dyn XmlSigner> =
            self.signers.iter().map(|(n, s)| (n.clone(), s as &dyn XmlSigner)).collect();
        build(description, &signers, &self.certificates, at).unwrap()
    }

    /// The anchors: the Governance List's location and signer.
    pub fn anchors(&self) -> TrustAnchors {
        let governance = &self.signers.iter().find(|(n, _)| n == "governance").unwrap().1;
        TrustAnchors {
            governance_location: self.description.governance.location.clone(),
            governance_signers: vec![governance.certificate_der.clone()],
        }
    }

    /// The seal's fingerprint (hex), as a VRL lists it.
    pub fn fingerprint(&self) -> String {
        idseal_trust::lists::to_hex(&idseal_vds::decode(&self.vds).unwrap().fingerprint())
    }
}

#[cfg(test)]
mod tests {
    use idseal_trust::{TrustError, verify_vds};

    use super::*;

    #[test]
    fn minted_seals_verify_through_the_demo_chain() {
        let now = UnixTime::from_secs(1_800_000_000);
        let demo = TrustDemo::new("https://trust.example", now, DAY);
        let lists = demo.build_with(&demo.description, now);
        let report = verify_vds(&demo.vds, &demo.anchors(), &lists, now).unwrap();
        assert_eq!(report.vds.payload.as_identity(), Some(&TrustDemo::identity_template(now)));

        let mut other = TrustDemo::identity_template(now);
        other.token_id = [9; 16];
        other.family_name = "DUPONT".into();
        other.trust_level = TrustLevel::NfcBiometric;
        let text = demo.issue_identity(&other, now);
        let report = verify_vds(&text, &demo.anchors(), &lists, now).unwrap();
        assert_eq!(report.vds.payload.as_identity(), Some(&other));
        assert_ne!(text, demo.vds);

        let text = demo.issue_service("bar", "Bar Le Central", "https://bar.example", &["identity:name"], now);
        let report = verify_vds(&text, &demo.anchors(), &lists, now).unwrap();
        let service = report.vds.payload.as_service().unwrap();
        assert_eq!(
            (service.name.as_str(), service.scopes.as_slice()),
            ("Bar Le Central", &["identity:name".to_owned()][..])
        );

        // the scheme's scope is what admits service seals
        let mut narrow = demo.description.clone();
        narrow.schemes[0].manifests = vec!["0A0001".into()];
        let lists = demo.build_with(&narrow, now);
        assert_eq!(
            verify_vds(&text, &demo.anchors(), &lists, now).unwrap_err(),
            TrustError::ManifestNotInScope { manifest: "0A0002".into() }
        );
    }
}
