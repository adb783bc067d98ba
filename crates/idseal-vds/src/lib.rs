//! The Visible Digital Seal (VDS) codec of idseal: a pure library (no I/O, no clock).
//!
//! A seal is `VDSEUA` + the transport encoding (Base45 by default, hex or Base64) of
//! `header || payload || signature`; see `docs/vds.md` for the byte-level specification.
//!
//! - [`c40`], [`base45`]: the character codecs;
//! - [`header`]: the 18-21 byte signed header;
//! - [`payload`]: the canonical MessagePack payload, the typed [`Identity`] and [`Payload`];
//! - [`service`]: the typed [`Service`] payload of manifest `0x0A0002`;
//! - [`manifest`]: the XML manifests the payload is checked against;
//! - [`transport`]: the text form and transport detection;
//! - [`seal`]: signing ([`SealSigner`], [`LocalSigner`]), decoding and verification;
//! - [`certificate`], [`issuer`]: signing certificates with the UsageList, issuing and
//!   verifying against a certificate, PKCS#11 signing.

pub mod base45;
pub mod c40;
pub mod certificate;
mod certificate_parse;
mod error;
pub mod header;
pub mod issuer;
pub mod manifest;
mod msgpack;
pub mod payload;
pub mod seal;
pub mod service;
pub mod transport;

pub use certificate::{CertificateAuthority, DevCa, USAGE_LIST_OID, dev_ca, signing_certificate};
pub use certificate_parse::SigningCertificate;
pub use error::{Scalar, VdsError};
pub use header::{CertificateReference, Header, ManifestId};
pub use issuer::{Pkcs11SealSigner, issue, issue_payload, verify_with_certificate};
pub use manifest::Manifest;
pub use payload::{FACE_LEN, Identity, Payload, TrustLevel, Value};
pub use seal::{DecodedVds, LocalSigner, SealSigner, Vds, decode, decode_binary, encode_signed, verify};
pub use service::Service;
pub use transport::Transport;
