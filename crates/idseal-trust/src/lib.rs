//! The chain of trust through which any VDS is verified (docs/trust.md): the Governance List
//! (authorised Scheme Operators), Scheme Lists (per IAC, with the manifests they may
//! authorise), TSLs (CAs with status and history) and VRLs (revoked seals), in the ETSI TS
//! 119 612 XML shape, signed as XAdES baseline B (exclusive c14n, enveloped signature); and
//! the verification walk with one typed error per failed step.
//!
//! Pure: no network, no files, no clocks. The caller fetches lists (a cache wraps it) and
//! passes the time.

pub mod chain;
pub mod describe;
mod error;
pub mod lists;
mod lists_parse;
mod lists_xml;
pub mod timestamp;
pub mod xmldsig;

pub use chain::{
    ChainReport, ChainStep, ListSource, TrustAnchors, VerifiedChain, check_sequence, verify_vds, verify_vds_with,
};
pub use describe::{BuiltLists, Description, PublishedList, build};
pub use error::TrustError;
pub use lists::{GovernanceList, ListKind, SchemeList, Tsl, Vrl};
