//! A development chain of trust built in-process from [`idseal_trust::describe`]: fresh ES256
//! list signers with self-signed certificates, a development VDS CA, one seal-signing
//! certificate whose UsageList holds manifests 0A0001 (identity) and 0A0002 (service), and the
//! four signed lists (Governance List, Scheme List with both manifests in scope, TSL, VRL) of one
//! scheme (IAC `VDS`). Used by `idseal demo` and `idseal bench --suite trust`.
//!
//! Nothing here is for production: every key is generated on the spot and lives in memory only.

use std::collections::BTreeMap;
use std::path::Path;
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
    CertificateAuthority, CertificateReference, Identity, LocalSigner, ManifestId, Payload, Service,
    SigningCertificate, dev_ca, issue, issue_payload, signing_certificate,
};
use zeroize::Zeroizing;

const DAY: Duration = Duration::from_secs(86_400);

/// The file names of the four lists under the chain's base URL.
pub(crate) const LIST_FILES: [&str; 4] = ["governance.xml", "scheme.xml", "tsl.xml", "vrl.xml"];

/// The demo chain: its signed lists, the trust anchors, and the seal signer to mint seals with.
pub(crate) struct DemoChain {
    /// The four signed lists.
    pub(crate) lists: BuiltLists,
    /// The Governance List's location and its signer's certificate.
    pub(crate) anchors: TrustAnchors,
    /// The seal-signing certificate (DER), as published on the TSL.
    pub(crate) leaf: Vec<u8>,
    seal_signer: LocalSigner,
    seal_certificate: SigningCertificate,
    seal_pkcs8: Zeroizing<Vec<u8>>,
}

fn list_signer(name: &str, now: UnixTime) -> anyhow::Result<KeySigner> {
    let key = SigningKey::generate(Algorithm::Es256, name)?;
    let certificate_der =
        self_signed_certificate(&key, name, now.saturating_sub(DAY * 30), now.saturating_add(DAY * 365))?;
    Ok(KeySigner { key, certificate_der })
}

fn list(location: String, signer: &str, validity: Duration) -> ListDescription {
    ListDescription { sequence_number: 1, location, signer: signer.into(), validity_seconds: validity.as_secs() }
}

impl DemoChain {
    /// A chain whose lists live at `<base>/governance.xml`, `<base>/scheme.xml`,
    /// `<base>/tsl.xml` and `<base>/vrl.xml`, issued an hour before `now` and valid for
    /// `validity`; the CA and the signing certificate were made some days before `now`.
    pub(crate) fn new(base: &str, now: UnixTime, validity: Duration) -> anyhow::Result<Self> {
        let base = base.trim_end_matches('/');
        let ago = |d: Duration| now.saturating_sub(d);
        let mut signers = Vec::new();
        for name in ["governance", "scheme", "tsl", "vrl"] {
            signers.push((name.to_owned(), list_signer(name, now)?));
        }
        let ca = dev_ca("idseal demo CA", "DEMO", ago(DAY * 10), DAY * 1000)?;
        let authority = CertificateAuthority::from_pem(&ca.certificate_pem, &ca.key_pem)?;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| anyhow::anyhow!("aws-lc-rs: key generation failed"))?;
        let seal_pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        let reference = CertificateReference::new(authority.ca_id(), "0001")?;
        let seal_signer = LocalSigner::from_pkcs8(&seal_pkcs8, reference)?;
        let pem = signing_certificate(
            &authority,
            "0001",
            &seal_signer.public_key(),
            &[ManifestId::IDENTITY, ManifestId::SERVICE],
            ago(DAY * 9),
            DAY * 730,
        )?;
        let leaf = from_pem_or_der(pem.as_bytes(), "CERTIFICATE")?;
        let seal_certificate = SigningCertificate::parse(&leaf)?;

        let mut certificates = BTreeMap::new();
        certificates.insert("ca".to_owned(), from_pem_or_der(ca.certificate_pem.as_bytes(), "CERTIFICATE")?);
        certificates.insert("leaf".to_owned(), leaf.clone());
        let [governance, scheme, tsl, vrl] = LIST_FILES.map(|f| format!("{base}/{f}"));
        let description = Description {
            governance_operator: "idseal demo governance (development only)".into(),
            governance: list(governance, "governance", validity),
            schemes: vec![SchemeDescription {
                iac: idseal_vds::header::IAC.into(),
                operator_name: "idseal demo scheme operator".into(),
                manifests: vec!["0A0001".into(), "0A0002".into()],
                scheme: list(scheme, "scheme", validity),
                tsl: list(tsl, "tsl", validity),
                vrl: list(vrl, "vrl", validity),
                cas: vec![CaDescription {
                    name: "idseal demo CA".into(),
                    certificate: "ca".into(),
                    signing_certificates: vec!["leaf".into()],
                    status: StatusDescription { status: ServiceStatus::Granted, since: format_datetime(ago(DAY * 10)) },
                    history: Vec::new(),
                }],
                revoked: Vec::new(),
            }],
        };
        let by_name: BTreeMap<String, &dyn XmlSigner> =
            signers.iter().map(|(n, s)| (n.clone(), s as &dyn XmlSigner)).collect();
        let lists = build(&description, &by_name, &certificates, ago(Duration::from_secs(3_600)))?;
        let governance_signer = signers
            .iter()
            .find(|(n, _)| n == "governance")
            .map(|(_, s)| s.certificate_der.clone())
            .ok_or_else(|| anyhow::anyhow!("no governance signer"))?;
        let anchors = TrustAnchors {
            governance_location: description.governance.location.clone(),
            governance_signers: vec![governance_signer],
        };
        Ok(Self { lists, anchors, leaf, seal_signer, seal_certificate, seal_pkcs8 })
    }

    /// The certificate (DER) whose key signed the Governance List: the trust anchor.
    pub(crate) fn governance_signer(&self) -> &[u8] {
        self.anchors.governance_signers.first().map(Vec::as_slice).unwrap_or_default()
    }

    /// The seal-signing key (PKCS#8), for raw-signature figures.
    pub(crate) fn seal_pkcs8(&self) -> &[u8] {
        &self.seal_pkcs8
    }

    /// An identity seal (Base45 text) of `identity`, issued at `at`.
    pub(crate) fn issue_identity(&self, identity: &Identity, at: UnixTime) -> anyhow::Result<String> {
        Ok(issue(identity, &self.seal_signer, &self.seal_certificate, ManifestId::IDENTITY, at)?)
    }

    /// A Service VDS (Base45 text) issued at `at`, expiring a year later.
    pub(crate) fn issue_service(
        &self,
        service_id: &str,
        name: &str,
        url: &str,
        scopes: &[&str],
        at: UnixTime,
    ) -> anyhow::Result<String> {
        let service = Service {
            service_id: service_id.into(),
            name: name.into(),
            url: url.into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expires_at: at.saturating_add(DAY * 365),
        };
        Ok(issue_payload(&Payload::Service(service), &self.seal_signer, &self.seal_certificate, at)?)
    }

    /// Writes the four lists into `dir` under their file names (the last segment of their
    /// location), as `trust.publish_dir` serves them.
    pub(crate) fn write_lists(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        for doc in &self.lists.documents {
            let name = doc.location.rsplit('/').next().unwrap_or_default();
            if !LIST_FILES.contains(&name) {
                anyhow::bail!("unexpected list location {}", doc.location);
            }
            std::fs::write(dir.join(name), doc.xml.as_bytes())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use idseal_trust::verify_vds;

    use super::*;

    fn person(now: UnixTime) -> Identity {
        let mut id = crate::bench_vds::sample_identity(now.saturating_add(DAY * 30));
        id.family_name = "SPECIMEN".into();
        id
    }

    #[test]
    fn identity_and_service_seals_verify_and_a_foreign_anchor_does_not() {
        let now = UnixTime::from_secs(1_800_000_000);
        let chain = DemoChain::new("https://trust.example/demo/", now, DAY).unwrap();
        assert_eq!(chain.anchors.governance_location, "https://trust.example/demo/governance.xml");
        let id = chain.issue_identity(&person(now), now).unwrap();
        let report = verify_vds(&id, &chain.anchors, &chain.lists, now).unwrap();
        assert_eq!(report.vds.payload.as_identity().unwrap().family_name, "SPECIMEN");
        let svc = chain.issue_service("shop", "Demo Shop", "https://shop.example", &["identity:name"], now).unwrap();
        let report = verify_vds(&svc, &chain.anchors, &chain.lists, now).unwrap();
        assert_eq!(report.vds.payload.as_service().unwrap().name, "Demo Shop");

        // Another chain's anchor does not accept these lists.
        let other = DemoChain::new("https://trust.example/demo", now, DAY).unwrap();
        assert!(verify_vds(&id, &other.anchors, &chain.lists, now).is_err());
        assert_ne!(other.governance_signer(), chain.governance_signer());
        // Lists past their validity are refused.
        let late = now.saturating_add(DAY * 2);
        assert!(verify_vds(&id, &chain.anchors, &chain.lists, late).is_err());
    }

    #[test]
    fn lists_are_written_under_their_file_names() {
        let now = UnixTime::from_secs(1_800_000_000);
        let chain = DemoChain::new("http://127.0.0.1:1/trust", now, DAY).unwrap();
        let dir = tempfile::tempdir().unwrap();
        chain.write_lists(dir.path()).unwrap();
        for f in LIST_FILES {
            let xml = std::fs::read_to_string(dir.path().join(f)).unwrap();
            assert!(xml.contains("Signature"), "{f}");
        }
        assert!(!chain.seal_pkcs8().is_empty());
    }
}
