//! The chain-of-trust walk for a VDS (docs/trust.md, "Verification"): Governance List →
//! Scheme List of the seal's IAC → TSL → CA → signing certificate → VRL → seal signature.
//! Pure: the caller's [`ListSource`] supplies the lists (a cache wraps it) and `now`.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use idseal_der::{Reader, Tlv, tag};
use idseal_types::UnixTime;
use idseal_vds::{SigningCertificate, VdsError};

use crate::TrustError;
use crate::lists::{GovernanceList, ListKind, ListPointer, SchemeList, ServiceStatus, Tsl, Vrl, to_hex};
use crate::xmldsig::{Verified, verify_enveloped};

/// What the verifier trusts without a list: the Governance List's location and the
/// certificates (DER) that may sign it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustAnchors {
    /// Where the Governance List is fetched from (passed to [`ListSource::fetch`]).
    pub governance_location: String,
    /// The certificates (DER) one of which must sign the Governance List (byte equality).
    pub governance_signers: Vec<Vec<u8>>,
}

/// Where the lists come from. The caller fetches and caches (1 h TTL, sequence numbers never
/// going back: see [`check_sequence`]); this crate never does I/O.
pub trait ListSource {
    /// The document at `location` (a URL from the anchors or a parent list).
    ///
    /// # Errors
    /// Any; [`TrustError::Fetch`] is the usual one.
    fn fetch(&self, location: &str) -> Result<String, TrustError>;
}

/// One step of the walk and what it found, for display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainStep {
    /// The step name, e.g. `Governance List`.
    pub step: &'static str,
    /// What was found (sequence number, names, ids).
    pub found: String,
}

/// The result of a successful walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    /// Each step in order with what it found.
    pub steps: Vec<ChainStep>,
    /// The seal as decoded and verified.
    pub vds: idseal_vds::Vds,
    /// The seal's SHA-256 fingerprint (hex), as VRLs list it.
    pub fingerprint: String,
    /// Sequence numbers of the lists used, for the cache's rollback check.
    pub sequence_numbers: Vec<(ListKind, u64)>,
    /// The CA's TSP name.
    pub ca_name: String,
    /// The signing certificate's reference (CA id + certificate id).
    pub certificate_reference: String,
}

/// Refuses a list whose sequence number is lower than the highest already seen for the same
/// location. Equal is fine (the same list again).
///
/// # Errors
/// [`TrustError::SequenceRollback`].
pub fn check_sequence(previous: Option<u64>, new: u64) -> Result<(), TrustError> {
    match previous {
        Some(previous) if new < previous => Err(TrustError::SequenceRollback { previous, new }),
        _ => Ok(()),
    }
}

fn invalid(list: ListKind) -> impl Fn(TrustError) -> TrustError {
    move |e| TrustError::ListInvalid { list, source: Box::new(e) }
}

/// Fetches and verifies the signature of a list; `expected` is the certificate that must have
/// signed it (`None`: the caller checks).
fn fetch_verified(
    source: &dyn ListSource,
    location: &str,
    list: ListKind,
    expected: Option<&[u8]>,
) -> Result<Verified, TrustError> {
    let xml = source.fetch(location)?;
    let verified = verify_enveloped(&xml).map_err(invalid(list))?;
    if let Some(cert) = expected
        && verified.certificate_der != cert
    {
        return Err(TrustError::WrongListSigner { list });
    }
    Ok(verified)
}

/// When a list's signer certificate is valid: (notBefore, notAfter).
type SignerValidity = (UnixTime, UnixTime);

/// How far ahead of `now` a list's issue time may be (clock skew between publisher and us).
const ISSUE_SKEW: std::time::Duration = std::time::Duration::from_secs(300);

/// A list is usable now: not past NextUpdate, not issued in the future, and its signer's
/// certificate valid now.
fn usable(
    list: ListKind,
    issued_at: UnixTime,
    next_update: UnixTime,
    signer: SignerValidity,
    now: UnixTime,
) -> Result<(), TrustError> {
    fresh(list, next_update, now)?;
    if issued_at > now.saturating_add(ISSUE_SKEW) {
        return Err(TrustError::ListFromTheFuture { list, issued_at });
    }
    if now < signer.0 || now > signer.1 {
        return Err(TrustError::ListSignerNotValid { list, at: now });
    }
    Ok(())
}

/// The validity of a list's signer certificate.
fn signer_validity(list: ListKind, verified: &Verified) -> Result<SignerValidity, TrustError> {
    cert_validity(&verified.certificate_der).ok_or_else(|| TrustError::ListInvalid {
        list,
        source: Box::new(TrustError::Certificate("unreadable validity".into())),
    })
}

fn fresh(list: ListKind, next_update: UnixTime, now: UnixTime) -> Result<(), TrustError> {
    if next_update <= now {
        return Err(TrustError::ListExpired { list, next_update });
    }
    Ok(())
}

/// Verifies a VDS through the whole chain of trust (the eight steps of docs/trust.md):
/// [`VerifiedChain::load`] then [`verify_vds_with`].
///
/// # Errors
/// One [`TrustError`] variant per failed step (see docs/trust.md).
pub fn verify_vds(
    vds_text: &str,
    anchors: &TrustAnchors,
    source: &dyn ListSource,
    now: UnixTime,
) -> Result<ChainReport, TrustError> {
    verify_vds_with(&VerifiedChain::load(anchors, source), vds_text, now)
}

/// A TSL as loaded: verified, parsed, each CA's certificate read and each published signing
/// certificate's CA signature checked once.
struct LoadedTsl {
    tsl: Tsl,
    signer: SignerValidity,
    cas: Vec<LoadedCa>,
}

struct LoadedCa {
    provider: crate::lists::TrustServiceProvider,
    facts: Result<CaFacts, TrustError>,
    /// Each published signing certificate parsed once, and whether the CA's key verifies its
    /// signature.
    published: Vec<(Result<SigningCertificate, VdsError>, bool)>,
}

struct LoadedScheme {
    scheme: SchemeList,
    signer: SignerValidity,
    tsls: Vec<Result<LoadedTsl, TrustError>>,
    vrl: Result<(Vrl, SignerValidity), TrustError>,
}

/// Every list of the chain, fetched, signature-checked and parsed once, with the expensive
/// certificate checks done: what a warm cache keeps, so that each seal costs only its own
/// checks (docs/trust.md, "Warm verification"). Failures are kept where they occurred and
/// reported by [`verify_vds_with`] at the step a seal reaches them, exactly as a fresh walk
/// would. Freshness (NextUpdate) is checked per seal, against the time given then.
pub struct VerifiedChain {
    governance: Result<(GovernanceList, SignerValidity), TrustError>,
    /// Per IAC of the Governance List's operators.
    schemes: Vec<(String, Result<LoadedScheme, TrustError>)>,
}

impl VerifiedChain {
    /// Fetch and check every list reachable from the anchors.
    pub fn load(anchors: &TrustAnchors, source: &dyn ListSource) -> Self {
        let governance =
            fetch_verified(source, &anchors.governance_location, ListKind::Governance, None).and_then(|verified| {
                if !anchors.governance_signers.contains(&verified.certificate_der) {
                    return Err(TrustError::UntrustedGovernanceSigner);
                }
                let list = GovernanceList::parse(&verified).map_err(invalid(ListKind::Governance))?;
                Ok((list, signer_validity(ListKind::Governance, &verified)?))
            });
        let schemes = match &governance {
            Ok((g, _)) => g.operators.iter().map(|o| (o.iac.clone(), load_scheme(source, o))).collect(),
            Err(_) => Vec::new(),
        };
        Self { governance, schemes }
    }

    /// The sequence numbers of the lists loaded (for the cache's rollback check).
    pub fn sequence_numbers(&self) -> Vec<(ListKind, u64)> {
        let mut out = Vec::new();
        if let Ok((g, _)) = &self.governance {
            out.push((ListKind::Governance, g.information.sequence_number));
        }
        for (_, s) in &self.schemes {
            let Ok(s) = s else { continue };
            out.push((ListKind::Scheme, s.scheme.information.sequence_number));
            out.extend(s.tsls.iter().flatten().map(|t| (ListKind::Tsl, t.tsl.information.sequence_number)));
            if let Ok((v, _)) = &s.vrl {
                out.push((ListKind::Vrl, v.sequence_number));
            }
        }
        out
    }
}

fn load_scheme(source: &dyn ListSource, operator: &crate::lists::SchemeOperator) -> Result<LoadedScheme, TrustError> {
    let verified =
        fetch_verified(source, &operator.scheme_list_location, ListKind::Scheme, Some(&operator.signer_certificate))?;
    let scheme = SchemeList::parse(&verified).map_err(invalid(ListKind::Scheme))?;
    let signer = signer_validity(ListKind::Scheme, &verified)?;
    let tsls = scheme.tsls.iter().map(|p| load_tsl(source, p)).collect();
    let vrl = fetch_verified(source, &scheme.vrl.location, ListKind::Vrl, Some(&scheme.vrl.signer_certificate))
        .and_then(|verified| {
            let vrl = Vrl::parse(&verified).map_err(invalid(ListKind::Vrl))?;
            Ok((vrl, signer_validity(ListKind::Vrl, &verified)?))
        });
    Ok(LoadedScheme { scheme, signer, tsls, vrl })
}

fn load_tsl(source: &dyn ListSource, pointer: &ListPointer) -> Result<LoadedTsl, TrustError> {
    let verified = fetch_verified(source, &pointer.location, ListKind::Tsl, Some(&pointer.signer_certificate))?;
    let tsl = Tsl::parse(&verified).map_err(invalid(ListKind::Tsl))?;
    let signer = signer_validity(ListKind::Tsl, &verified)?;
    let cas = tsl
        .providers
        .iter()
        .map(|provider| {
            let facts = ca_facts(&provider.ca_certificate).map_err(invalid(ListKind::Tsl));
            let published = match &facts {
                Ok(f) => provider
                    .signing_certificates
                    .iter()
                    .map(|der| (SigningCertificate::parse(der), issued_by(der, &f.public_key)))
                    .collect(),
                Err(_) => Vec::new(),
            };
            LoadedCa { provider: provider.clone(), facts, published }
        })
        .collect();
    Ok(LoadedTsl { tsl, signer, cas })
}

/// Verifies a VDS against an already loaded chain: the same steps, checks and errors as
/// [`verify_vds`], without re-verifying the lists' signatures.
///
/// # Errors
/// One [`TrustError`] variant per failed step (see docs/trust.md).
pub fn verify_vds_with(chain: &VerifiedChain, vds_text: &str, now: UnixTime) -> Result<ChainReport, TrustError> {
    let mut steps = Vec::new();
    let mut sequence_numbers = Vec::new();
    // 1-2. Decode and read the header.
    let decoded = idseal_vds::decode(vds_text).map_err(|e| TrustError::Vds(e.to_string()))?;
    let header = decoded.header().clone();
    let iac = idseal_vds::header::IAC;
    let reference = header.certificate_reference.clone();
    let manifest = header.manifest_id;
    steps.push(ChainStep {
        step: "VDS header",
        found: format!("IAC {iac}, certificate {reference}, manifest {manifest}, issued {}", header.issued_at),
    });

    // 3. Governance List: signed by an anchor, fresh.
    let (governance, signer) = chain.governance.as_ref().map_err(Clone::clone)?;
    let info = &governance.information;
    usable(ListKind::Governance, info.issued_at, info.next_update, *signer, now)?;
    sequence_numbers.push((ListKind::Governance, governance.information.sequence_number));
    let operator = governance
        .operators
        .iter()
        .find(|o| o.iac == iac)
        .ok_or_else(|| TrustError::SchemeNotAuthorised { iac: iac.to_owned() })?;
    steps.push(ChainStep {
        step: "Governance List",
        found: format!(
            "sequence {}, Scheme Operator {} for IAC {iac}",
            governance.information.sequence_number, operator.name
        ),
    });

    // 4. Scheme List: signed by the certificate the Governance List names, fresh, in scope.
    let loaded = chain
        .schemes
        .iter()
        .find(|(i, _)| i == iac)
        .map(|(_, s)| s)
        .ok_or_else(|| TrustError::SchemeNotAuthorised { iac: iac.to_owned() })?
        .as_ref()
        .map_err(Clone::clone)?;
    let scheme = &loaded.scheme;
    usable(ListKind::Scheme, scheme.information.issued_at, scheme.information.next_update, loaded.signer, now)?;
    if scheme.iac != iac {
        return Err(TrustError::SchemeMismatch { expected: iac.to_owned(), found: scheme.iac.clone() });
    }
    if !scheme.manifest_scope.contains(&manifest) {
        return Err(TrustError::ManifestNotInScope { manifest: manifest.to_string() });
    }
    sequence_numbers.push((ListKind::Scheme, scheme.information.sequence_number));
    steps.push(ChainStep {
        step: "Scheme List",
        found: format!("sequence {}, manifest {manifest} in scope", scheme.information.sequence_number),
    });

    // 5-6. TSL and CA: the CA whose certificate's CA id is the seal's, granted then and now.
    let (tsl_seq, ca) = find_ca(&loaded.tsls, iac, reference.ca_id(), now)?;
    let (provider, facts) = (&ca.provider, ca.facts.as_ref().map_err(Clone::clone)?);
    sequence_numbers.push((ListKind::Tsl, tsl_seq));
    for at in [header.issued_at, now] {
        if provider.status_at(at) != Some(ServiceStatus::Granted) {
            return Err(TrustError::CaNotGranted { ca_id: reference.ca_id().to_owned(), at });
        }
        if at < facts.not_before || at > facts.not_after {
            return Err(TrustError::CaCertificateNotValid { ca_id: reference.ca_id().to_owned(), at });
        }
    }
    steps.push(ChainStep { step: "TSL", found: format!("sequence {tsl_seq}") });
    steps.push(ChainStep {
        step: "CA",
        found: format!("{} (CA id {}), granted at issue and now", provider.name, reference.ca_id()),
    });

    // 7. Signing certificate: published under the CA, issued by it, valid, UsageList.
    let cert = signing_certificate(&provider.signing_certificates, &ca.published, &reference)?;
    for at in [header.issued_at, now] {
        if !cert.is_valid_at(at) {
            return Err(TrustError::SigningCertificateNotValid { at });
        }
    }
    if !cert.manifest_ids.contains(&manifest) {
        return Err(TrustError::UsageListMissing { manifest: manifest.to_string() });
    }
    steps.push(ChainStep {
        step: "Signing certificate",
        found: format!("{} issued by {}, valid, UsageList has {manifest}", cert.subject, cert.issuer),
    });

    // VRL: signed by the certificate the Scheme List names, fresh, seal not listed.
    let (vrl, vrl_signer) = loaded.vrl.as_ref().map_err(Clone::clone)?;
    usable(ListKind::Vrl, vrl.issued_at, vrl.next_update, *vrl_signer, now)?;
    if vrl.iac != iac {
        return Err(TrustError::SchemeMismatch { expected: iac.to_owned(), found: vrl.iac.clone() });
    }
    let fingerprint = decoded.fingerprint();
    if let Some(r) = vrl.find(&fingerprint) {
        return Err(TrustError::Revoked { revoked_at: r.revoked_at, reason: r.reason.clone() });
    }
    sequence_numbers.push((ListKind::Vrl, vrl.sequence_number));
    steps.push(ChainStep { step: "VRL", found: format!("sequence {}, seal not revoked", vrl.sequence_number) });

    // 8. The seal signature.
    let vds = idseal_vds::verify_with_certificate(vds_text, &cert, now).map_err(|e| TrustError::Seal(e.to_string()))?;
    steps.push(ChainStep { step: "Seal signature", found: "ECDSA P-256 verifies".to_owned() });
    Ok(ChainReport {
        steps,
        vds,
        fingerprint: to_hex(&fingerprint),
        sequence_numbers,
        ca_name: provider.name.clone(),
        certificate_reference: reference.to_string(),
    })
}

/// The scheme's TSLs in order, for the CA with `ca_id`: the TSL sequence number and the CA.
fn find_ca<'a>(
    tsls: &'a [Result<LoadedTsl, TrustError>],
    iac: &str,
    ca_id: &str,
    now: UnixTime,
) -> Result<(u64, &'a LoadedCa), TrustError> {
    for loaded in tsls {
        let loaded = loaded.as_ref().map_err(Clone::clone)?;
        let tsl = &loaded.tsl;
        usable(ListKind::Tsl, tsl.information.issued_at, tsl.information.next_update, loaded.signer, now)?;
        if tsl.iac != iac {
            return Err(TrustError::SchemeMismatch { expected: iac.to_owned(), found: tsl.iac.clone() });
        }
        for ca in &loaded.cas {
            let facts = ca.facts.as_ref().map_err(Clone::clone)?;
            if facts.ca_id == ca_id {
                return Ok((tsl.information.sequence_number, ca));
            }
        }
    }
    Err(TrustError::CaNotListed { ca_id: ca_id.to_owned() })
}

fn signing_certificate(
    ders: &[Vec<u8>],
    published: &[(Result<SigningCertificate, VdsError>, bool)],
    reference: &idseal_vds::CertificateReference,
) -> Result<SigningCertificate, TrustError> {
    for (der, (parsed, signed_by_ca)) in ders.iter().zip(published) {
        let cert = match parsed {
            Ok(cert) => cert,
            Err(VdsError::MissingUsageList) => {
                // Only an error if it is the one we look for: its reference is in the subject.
                if subject_names(der, reference) {
                    return Err(TrustError::UsageListMissing { manifest: "any".to_owned() });
                }
                continue;
            }
            Err(e) => return Err(TrustError::SigningCertificate(e.to_string())),
        };
        if &cert.certificate_reference != reference {
            continue;
        }
        if !signed_by_ca {
            return Err(TrustError::SigningCertificate("not issued by the listed CA".to_owned()));
        }
        return Ok(cert.clone());
    }
    Err(TrustError::SigningCertificateNotListed { reference: reference.to_string() })
}

/// Whether the certificate DER contains the reference as text (its subject CN): used only to
/// attribute an unparseable certificate to the seal.
fn subject_names(der: &[u8], reference: &idseal_vds::CertificateReference) -> bool {
    let needle = reference.to_string().into_bytes();
    der.windows(needle.len()).any(|w| w == needle.as_slice())
}

// ---- the little X.509 reading the walk needs (the CA's id and key, a signature check) ----

/// The fields of a certificate's TBSCertificate (`Certificate` and `TBSCertificate` must be
/// SEQUENCEs; every field must be well-formed DER).
fn tbs_fields(der: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut cert = Reader::new(der).sequence("Certificate").ok()?;
    let mut tbs = cert.sequence("TBSCertificate").ok()?;
    let mut fields = Vec::new();
    while !tbs.is_empty() {
        fields.push(tbs.read().ok()?);
    }
    Some(fields)
}

/// The facts of a CA certificate the walk needs.
struct CaFacts {
    /// Subject serialNumber: the CA id of certificate references.
    ca_id: String,
    /// Uncompressed P-256 public key.
    public_key: Vec<u8>,
    /// Start of validity.
    not_before: UnixTime,
    /// End of validity (inclusive).
    not_after: UnixTime,
}

/// The (notBefore, notAfter) of a Validity's content: UTCTime `YYMMDDHHMMSSZ` or
/// GeneralizedTime `YYYYMMDDHHMMSSZ`, either for any year.
fn validity_times(validity: &[u8]) -> Option<(UnixTime, UnixTime)> {
    let mut r = Reader::new(validity);
    let not_before = r.time().ok()?.unix_secs;
    let not_after = r.time().ok()?.unix_secs;
    Some((UnixTime::from_secs(not_before), UnixTime::from_secs(not_after)))
}

/// The (notBefore, notAfter) of any X.509 certificate.
fn cert_validity(der: &[u8]) -> Option<(UnixTime, UnixTime)> {
    match tbs_fields(der)?.as_slice() {
        [Tlv { tag: 0xA0, .. }, _, _, _, Tlv { tag: tag::SEQUENCE, content: validity, .. }, ..] => {
            validity_times(validity)
        }
        _ => None,
    }
}

fn ca_facts(der: &[u8]) -> Result<CaFacts, TrustError> {
    let bad = || TrustError::Certificate("CA certificate is not the expected X.509".to_owned());
    let fields = tbs_fields(der).ok_or_else(bad)?;
    // [0] version, serial, signature algorithm, issuer, validity, subject, SPKI, ...
    let (validity, subject, spki) = match fields.as_slice() {
        [
            Tlv { tag: 0xA0, .. },
            _,
            _,
            _,
            Tlv { tag: tag::SEQUENCE, content: validity, .. },
            Tlv { tag: tag::SEQUENCE, content: subject, .. },
            Tlv { tag: tag::SEQUENCE, content: spki, .. },
            ..,
        ] => (*validity, *subject, *spki),
        _ => return Err(bad()),
    };
    let (not_before, not_after) = validity_times(validity).ok_or_else(bad)?;
    let mut ca_id = None;
    let mut rdns = Reader::new(subject);
    while !rdns.is_empty() {
        let mut set = Reader::new(rdns.read().map_err(|_| bad())?.content);
        if set.is_empty() {
            continue;
        }
        let mut atv = Reader::new(set.read().map_err(|_| bad())?.content);
        if let Ok(Tlv { tag: tag::OID, content: oid, .. }) = atv.read()
            && oid == [0x55, 0x04, 0x05]
            && let Ok(value) = atv.read()
        {
            ca_id = std::str::from_utf8(value.content).ok().map(str::to_owned);
        }
    }
    let mut spki = Reader::new(spki);
    spki.read().map_err(|_| bad())?;
    let public_key = match spki.bit_string("subjectPublicKey") {
        Ok(point) if point.len() == 65 => point.to_vec(),
        _ => return Err(bad()),
    };
    Ok(CaFacts { ca_id: ca_id.ok_or_else(bad)?, public_key, not_before, not_after })
}

/// Whether the certificate's signature (ecdsa-with-SHA256) verifies under `ca_public_key`.
fn issued_by(der: &[u8], ca_public_key: &[u8]) -> bool {
    let Ok(mut cert) = Reader::new(der).sequence("Certificate") else { return false };
    let Ok(tbs) = cert.read() else { return false };
    if cert.read().is_err() {
        return false;
    }
    let Ok(sig) = cert.bit_string("signatureValue") else { return false };
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, ca_public_key).verify(tbs.encoding, sig).is_ok()
}
