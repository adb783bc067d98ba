//! The one strict DER reader and small DER writer of idseal.
//!
//! Certificates, SubjectPublicKeyInfos and signatures are read and written by hand in a few
//! crates (`idseal-vds`, `idseal-trust`, `idseal-x1280`); they all share this crate so there is
//! one set of DER rules:
//!
//! - one-byte tags only (the high-tag-number form is refused);
//! - definite lengths only, in minimal form: the short form below 128, no leading zero length
//!   bytes, at most four length bytes;
//! - INTEGERs in minimal two's complement; OBJECT IDENTIFIER sub-identifiers without leading
//!   `0x80` bytes; BIT STRINGs read through [`Reader::bit_string`] with zero unused bits;
//! - trailing bytes refused wherever the caller asks ([`Reader::finish`]).
//!
//! Errors are one small [`DerError`] with a static reason; each caller maps it into its own
//! error type. OBJECT IDENTIFIER arcs are `u128`, so the `2.25` UUID arc fits.

#![forbid(unsafe_code)]

mod read;
mod time;
mod write;

pub use read::{Reader, Time, Tlv, oid_to_string};
pub use write::{ecdsa_signature, generalized_time, oid, oid_content, seq, set, tlv, uint, x509_time};

/// Why some bytes are not the DER the caller asked for, or why a value cannot be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
#[non_exhaustive]
pub struct DerError {
    /// A short English reason, e.g. `non-minimal DER length`, or the caller's `what` when an
    /// element had another tag than the one expected.
    pub reason: &'static str,
}

impl DerError {
    pub(crate) const fn new(reason: &'static str) -> Self {
        Self { reason }
    }
}

/// The universal (and a few context) tags the callers use.
pub mod tag {
    /// BOOLEAN.
    pub const BOOLEAN: u8 = 0x01;
    /// INTEGER.
    pub const INTEGER: u8 = 0x02;
    /// BIT STRING.
    pub const BIT_STRING: u8 = 0x03;
    /// OCTET STRING.
    pub const OCTET_STRING: u8 = 0x04;
    /// NULL.
    pub const NULL: u8 = 0x05;
    /// OBJECT IDENTIFIER.
    pub const OID: u8 = 0x06;
    /// UTF8String.
    pub const UTF8_STRING: u8 = 0x0C;
    /// PrintableString.
    pub const PRINTABLE_STRING: u8 = 0x13;
    /// UTCTime.
    pub const UTC_TIME: u8 = 0x17;
    /// GeneralizedTime.
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// SEQUENCE (constructed).
    pub const SEQUENCE: u8 = 0x30;
    /// SET (constructed).
    pub const SET: u8 = 0x31;
}

#[cfg(test)]
mod tests;
