//! A declarative description of a whole chain of trust (TOML-friendly) and [`build`], which
//! turns it into the four kinds of signed lists. `idseal trust publish` reads the description
//! and the certificates and keys it names, and calls [`build`]; this crate does no I/O.

use std::collections::BTreeMap;

use idseal_types::UnixTime;
use serde::{Deserialize, Serialize};

use crate::TrustError;
use crate::chain::ListSource;
use crate::lists::{
    GovernanceList, ListKind, ListPointer, RevokedSeal, SchemeInformation, SchemeList, SchemeOperator, ServiceStatus,
    StatusPeriod, TrustServiceProvider, Tsl, Vrl, is_iac, parse_datetime, parse_fingerprint, parse_manifest_id,
};
use crate::xmldsig::{XmlSigner, sign_enveloped};

/// The whole chain: the Governance List and every scheme under it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Description {
    /// Name of the governance body (`SchemeOperatorName` of the Governance List).
    pub governance_operator: String,
    /// The Governance List itself.
    pub governance: ListDescription,
    /// One per authorised Scheme Operator.
    #[serde(default)]
    pub schemes: Vec<SchemeDescription>,
}

/// What every list needs: its number, where it is published, who signs it, how long it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListDescription {
    /// `TSLSequenceNumber` / `SequenceNumber`: raise it on every publication.
    pub sequence_number: u64,
    /// The URL it is published at (its distribution point and the pointer in its parent).
    pub location: String,
    /// The name of its signer in the `signers` map given to [`build`].
    pub signer: String,
    /// `NextUpdate` is the build time plus this many seconds.
    pub validity_seconds: u64,
}

/// A Scheme Operator, its Scheme List, TSL and VRL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemeDescription {
    /// The issuing authority code (3 characters `A-Z0-9`), e.g. `VDS`.
    pub iac: String,
    /// The Scheme Operator's name.
    pub operator_name: String,
    /// The manifest ids seals of this scheme may use (6 hex digits, e.g. `0A0001`).
    pub manifests: Vec<String>,
    /// The Scheme List.
    pub scheme: ListDescription,
    /// The TSL.
    pub tsl: ListDescription,
    /// The VRL.
    pub vrl: ListDescription,
    /// The CAs on the TSL.
    #[serde(default)]
    pub cas: Vec<CaDescription>,
    /// The revoked seals on the VRL.
    #[serde(default)]
    pub revoked: Vec<RevokedDescription>,
}

/// A CA on a TSL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaDescription {
    /// TSP and service name.
    pub name: String,
    /// The name of its certificate in the `certificates` map given to [`build`].
    pub certificate: String,
    /// The names of the seal-signing certificates it issued (same map).
    #[serde(default)]
    pub signing_certificates: Vec<String>,
    /// The current status.
    pub status: StatusDescription,
    /// Earlier statuses.
    #[serde(default)]
    pub history: Vec<StatusDescription>,
}

/// A status and its starting time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusDescription {
    /// `granted` or `withdrawn`.
    pub status: ServiceStatus,
    /// `xs:dateTime` in UTC, e.g. `2026-01-01T00:00:00Z`.
    pub since: String,
}

/// A revoked seal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedDescription {
    /// SHA-256 of the VDS binary, 64 hex digits.
    pub fingerprint: String,
    /// `xs:dateTime` in UTC.
    pub revoked_at: String,
    /// Why.
    pub reason: String,
}

/// One signed list and where it is to be published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedList {
    /// Which list.
    pub kind: ListKind,
    /// Its URL.
    pub location: String,
    /// The signed XML.
    pub xml: String,
}

/// Every list of a description, signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltLists {
    /// The Governance List first, then per scheme its Scheme List, TSL and VRL.
    pub documents: Vec<PublishedList>,
}

impl ListSource for BuiltLists {
    fn fetch(&self, location: &str) -> Result<String, TrustError> {
        self.documents.iter().find(|d| d.location == location).map(|d| d.xml.clone()).ok_or_else(|| TrustError::Fetch {
            location: location.to_owned(),
            reason: "not among the built lists".to_owned(),
        })
    }
}

fn describe_err(msg: String) -> TrustError {
    TrustError::Description(msg)
}

fn signer<'a>(signers: &BTreeMap<String, &'a dyn XmlSigner>, name: &str) -> Result<&'a dyn XmlSigner, TrustError> {
    signers.get(name).copied().ok_or_else(|| describe_err(format!("no signer named {name:?}")))
}

fn certificate(certificates: &BTreeMap<String, Vec<u8>>, name: &str) -> Result<Vec<u8>, TrustError> {
    certificates.get(name).cloned().ok_or_else(|| describe_err(format!("no certificate named {name:?}")))
}

fn information(list: &ListDescription, operator: &str, now: UnixTime) -> SchemeInformation {
    SchemeInformation {
        sequence_number: list.sequence_number,
        operator_name: operator.to_owned(),
        issued_at: now,
        next_update: now.saturating_add(std::time::Duration::from_secs(list.validity_seconds)),
        distribution_points: vec![list.location.clone()],
    }
}

fn period(s: &StatusDescription) -> Result<StatusPeriod, TrustError> {
    Ok(StatusPeriod { status: s.status, since: parse_datetime(&s.since)? })
}

/// Builds and signs every list of `description` at time `now`. `signers` and `certificates`
/// map the names the description uses to list signers and to certificate DER (CA and
/// seal-signing certificates); the pointer to each list carries its signer's certificate.
///
/// # Errors
/// [`TrustError::Description`] for an unknown name or a bad value, or the signer's error.
pub fn build(
    description: &Description,
    signers: &BTreeMap<String, &dyn XmlSigner>,
    certificates: &BTreeMap<String, Vec<u8>>,
    now: UnixTime,
) -> Result<BuiltLists, TrustError> {
    let mut documents = Vec::new();
    let mut operators = Vec::new();
    for s in &description.schemes {
        if !is_iac(&s.iac) {
            return Err(describe_err(format!("not an IAC: {:?}", s.iac)));
        }
        let scheme_signer = signer(signers, &s.scheme.signer)?;
        let tsl_signer = signer(signers, &s.tsl.signer)?;
        let vrl_signer = signer(signers, &s.vrl.signer)?;
        operators.push(SchemeOperator {
            iac: s.iac.clone(),
            name: s.operator_name.clone(),
            scheme_list_location: s.scheme.location.clone(),
            signer_certificate: scheme_signer.certificate_der().to_vec(),
        });
        let manifest_scope = s.manifests.iter().map(|m| parse_manifest_id(m)).collect::<Result<Vec<_>, _>>()?;
        let scheme = SchemeList {
            information: information(&s.scheme, &s.operator_name, now),
            iac: s.iac.clone(),
            manifest_scope,
            tsls: vec![ListPointer {
                location: s.tsl.location.clone(),
                signer_certificate: tsl_signer.certificate_der().to_vec(),
            }],
            vrl: ListPointer {
                location: s.vrl.location.clone(),
                signer_certificate: vrl_signer.certificate_der().to_vec(),
            },
        };
        let mut providers = Vec::new();
        for ca in &s.cas {
            providers.push(TrustServiceProvider {
                name: ca.name.clone(),
                service_name: ca.name.clone(),
                ca_certificate: certificate(certificates, &ca.certificate)?,
                current: period(&ca.status)?,
                history: ca.history.iter().map(period).collect::<Result<Vec<_>, _>>()?,
                signing_certificates: ca
                    .signing_certificates
                    .iter()
                    .map(|c| certificate(certificates, c))
                    .collect::<Result<Vec<_>, _>>()?,
            });
        }
        let tsl = Tsl { information: information(&s.tsl, &s.operator_name, now), iac: s.iac.clone(), providers };
        let revoked = s
            .revoked
            .iter()
            .map(|r| {
                Ok(RevokedSeal {
                    fingerprint: parse_fingerprint(&r.fingerprint)?,
                    revoked_at: parse_datetime(&r.revoked_at)?,
                    reason: r.reason.clone(),
                })
            })
            .collect::<Result<Vec<_>, TrustError>>()?;
        let vrl = Vrl {
            sequence_number: s.vrl.sequence_number,
            iac: s.iac.clone(),
            issued_at: now,
            next_update: now.saturating_add(std::time::Duration::from_secs(s.vrl.validity_seconds)),
            revoked,
        };
        documents.push(PublishedList {
            kind: ListKind::Scheme,
            location: s.scheme.location.clone(),
            xml: sign_enveloped(&scheme.to_unsigned_xml(), scheme_signer, now)?,
        });
        documents.push(PublishedList {
            kind: ListKind::Tsl,
            location: s.tsl.location.clone(),
            xml: sign_enveloped(&tsl.to_unsigned_xml(), tsl_signer, now)?,
        });
        documents.push(PublishedList {
            kind: ListKind::Vrl,
            location: s.vrl.location.clone(),
            xml: sign_enveloped(&vrl.to_unsigned_xml(), vrl_signer, now)?,
        });
    }
    let governance = GovernanceList {
        information: information(&description.governance, &description.governance_operator, now),
        operators,
    };
    let xml = sign_enveloped(&governance.to_unsigned_xml(), signer(signers, &description.governance.signer)?, now)?;
    documents.insert(
        0,
        PublishedList { kind: ListKind::Governance, location: description.governance.location.clone(), xml },
    );
    Ok(BuiltLists { documents })
}
