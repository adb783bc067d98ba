//! The one error enum of the trust crate: each variant names what failed.

/// Why a list or a chain was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The document is not acceptable XML (malformed, a DTD or entity declaration, too large,
    /// too deep).
    #[error("malformed XML: {0}")]
    Xml(String),
    /// The document does not have the list structure expected.
    #[error("not a valid list: {0}")]
    Structure(String),
    /// The XML signature is missing, malformed, uses an algorithm or transform we refuse, or
    /// does not cover the document read (signature wrapping).
    #[error("signature refused: {0}")]
    SignatureForm(String),
    /// A digest of the signed content does not match: the content was altered.
    #[error("signed content altered: {0}")]
    DigestMismatch(String),
    /// The signature value does not verify under the signing certificate.
    #[error("signature does not verify")]
    BadSignature,
    /// A certificate cannot be parsed or used.
    #[error("certificate: {0}")]
    Certificate(String),
    /// A signing operation failed.
    #[error("signing failed: {0}")]
    Signing(String),
    /// A list could not be fetched by the caller's [`ListSource`](crate::ListSource).
    #[error("cannot fetch {location}: {reason}")]
    Fetch {
        /// Where the list was looked for.
        location: String,
        /// Why it could not be had.
        reason: String,
    },
    /// A list in the chain failed its signature check or is not a well-formed list of its kind.
    #[error("{list}: {source}")]
    ListInvalid {
        /// Which list.
        list: crate::ListKind,
        /// What was wrong with it.
        source: Box<TrustError>,
    },
    /// Step 3: the Governance List is not signed by one of the trust anchors.
    #[error("the Governance List is not signed by a trust anchor")]
    UntrustedGovernanceSigner,
    /// A list is past its NextUpdate: stale lists fail closed.
    #[error("the {list} is past its NextUpdate ({next_update})")]
    ListExpired {
        /// Which list.
        list: crate::ListKind,
        /// Its NextUpdate, Unix seconds.
        next_update: idseal_types::UnixTime,
    },
    /// Step 4: the Governance List names no Scheme Operator for the VDS's issuing authority.
    #[error("no Scheme Operator is authorised for IAC {iac}")]
    SchemeNotAuthorised {
        /// The issuing authority code of the VDS.
        iac: String,
    },
    /// Step 4: the Scheme List is for another issuing authority than the one it was looked up for.
    #[error("the Scheme List is for IAC {found}, expected {expected}")]
    SchemeMismatch {
        /// The IAC looked up.
        expected: String,
        /// The SchemeTerritory found.
        found: String,
    },
    /// Step 4: the manifest of the VDS is not in the Scheme List's ManifestScope.
    #[error("manifest {manifest} is not in the scheme's ManifestScope")]
    ManifestNotInScope {
        /// The manifest id (6 hex digits).
        manifest: String,
    },
    /// A list is signed by another certificate than the one its parent list names.
    #[error("the {list} is not signed by the certificate its parent list names")]
    WrongListSigner {
        /// Which list.
        list: crate::ListKind,
    },
    /// Steps 5-6: no TSL of the scheme lists a CA with the VDS's CA id.
    #[error("no TSL lists CA {ca_id}")]
    CaNotListed {
        /// The CA id of the VDS certificate reference.
        ca_id: String,
    },
    /// Step 6: the CA's service status is not granted at the VDS issue time or now.
    #[error("CA {ca_id} is not granted at {at}")]
    CaNotGranted {
        /// The CA id.
        ca_id: String,
        /// The time at which it is not granted (issue time or now), Unix seconds.
        at: idseal_types::UnixTime,
    },
    /// Step 7: the CA's entry publishes no signing certificate with the VDS's reference.
    #[error("signing certificate {reference} is not published under its CA")]
    SigningCertificateNotListed {
        /// The certificate reference (CA id + certificate id).
        reference: String,
    },
    /// Step 7: the signing certificate cannot be parsed, or was not issued by the listed CA.
    #[error("signing certificate: {0}")]
    SigningCertificate(String),
    /// Step 7: the signing certificate is not valid at the VDS issue time or now.
    #[error("signing certificate not valid at {at}")]
    SigningCertificateNotValid {
        /// The time checked (issue time or now), Unix seconds.
        at: idseal_types::UnixTime,
    },
    /// Step 7: the signing certificate's UsageList lacks the VDS's manifest id.
    #[error("the signing certificate's UsageList does not include manifest {manifest}")]
    UsageListMissing {
        /// The manifest id (6 hex digits).
        manifest: String,
    },
    /// The VRL lists the VDS fingerprint.
    #[error("the VDS was revoked at {revoked_at}: {reason}")]
    Revoked {
        /// When it was revoked, Unix seconds.
        revoked_at: idseal_types::UnixTime,
        /// The reason published.
        reason: String,
    },
    /// Step 8: the seal signature (or the seal's own validity) does not verify.
    #[error("seal: {0}")]
    Seal(String),
    /// Steps 1-2: the VDS text cannot be decoded.
    #[error("VDS: {0}")]
    Vds(String),
    /// A list's sequence number is lower than one already seen (rollback).
    #[error("sequence number {new} is lower than {previous} already seen")]
    SequenceRollback {
        /// The highest sequence number seen before.
        previous: u64,
        /// The sequence number offered.
        new: u64,
    },
    /// A list description cannot be built (unknown signer or certificate, bad value).
    #[error("description: {0}")]
    Description(String),
    /// Step 6: the CA certificate listed is not valid at the VDS issue time or now.
    #[error("the certificate of CA {ca_id} is not valid at {at}")]
    CaCertificateNotValid {
        /// The CA id.
        ca_id: String,
        /// The time checked (issue time or now), Unix seconds.
        at: idseal_types::UnixTime,
    },
    /// An RFC 3161 time-stamp (XAdES SignatureTimeStamp) is malformed, does not verify, or does
    /// not cover the signature it is attached to.
    #[error("time-stamp: {0}")]
    Timestamp(String),
    /// A list's signer certificate is not valid now (expired or not yet valid).
    #[error("the {list}'s signer certificate is not valid at {at}")]
    ListSignerNotValid {
        /// Which list.
        list: crate::ListKind,
        /// The time checked, Unix seconds.
        at: idseal_types::UnixTime,
    },
    /// A list claims to be issued in the future (more than 5 minutes ahead of now).
    #[error("the {list} is dated in the future ({issued_at})")]
    ListFromTheFuture {
        /// Which list.
        list: crate::ListKind,
        /// Its ListIssueDateTime, Unix seconds.
        issued_at: idseal_types::UnixTime,
    },
}
