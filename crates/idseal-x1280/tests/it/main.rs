//! Integration tests of idseal-x1280: the autoPassword against an independent Python
//! implementation, token and hash tamper checks, the device-key PEM matrix, the verify-step
//! matrix and selective disclosure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod claims;
mod interop;
mod otp;
mod pem;
mod session;
mod tokens;

use idseal_types::UnixTime;
use idseal_vds::{FACE_LEN, Identity, TrustLevel};
use idseal_x1280::ScopeSet;

/// A scope set from string literals (must parse).
pub fn scopes(names: &[&str]) -> ScopeSet {
    ScopeSet::parse(&names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
}

/// A tiny valid RIFF/WEBP container (24 bytes).
pub const TINY_WEBP: [u8; 24] = *b"RIFF\x10\x00\x00\x00WEBPVP8L\x04\x00\x00\x00\x2f\x00\x00\x00";

/// An identity with the given personal data; the rest fixed.
pub fn identity(given: &str, family: &str, dob: &str, nat: &str) -> Identity {
    Identity {
        given_name: given.to_owned(),
        family_name: family.to_owned(),
        date_of_birth: dob.to_owned(),
        nationality: nat.to_owned(),
        document_number: "C01X00T47".to_owned(),
        token_id: [0x6f; 16],
        expires_at: UnixTime::from_secs(2_000_000_000),
        photo: TINY_WEBP.to_vec(),
        face: [0x5a; FACE_LEN],
        trust_level: TrustLevel::NfcBiometric,
    }
}
