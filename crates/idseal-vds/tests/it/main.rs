//! Integration tests of idseal-vds: the bad-input matrix, golden files, whole-seal property
//! tests and the independent Python verifier.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![allow(clippy::cast_possible_truncation)] // the hand-made MessagePack writer in matrix.rs

mod golden;
mod interop;
mod issuer;
mod matrix;
mod roundtrip;
mod service;

use idseal_types::UnixTime;
use idseal_vds::{CertificateReference, DecodedVds, FACE_LEN, Identity, LocalSigner, TrustLevel, Vds, encode_signed};

/// A P-256 key generated once for these tests (PKCS#8 v1, hex). Test material only.
pub const TEST_PKCS8_HEX: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b02010104204f80d678c15fc76a0fe6225d8385157286674e8d3457ac251ab079bf68ac93a6a1440342000485465803f24b6b68a7aaa8bcf3e778f6dc9334485032e9cf6f81ce01673f55a82cdcc9723f87cd58f8604708b6e00d5bac9b99078ead38199c06a1974e03ba8c";
/// Its public key, uncompressed.
pub const TEST_PUBLIC_HEX: &str = "0485465803f24b6b68a7aaa8bcf3e778f6dc9334485032e9cf6f81ce01673f55a82cdcc9723f87cd58f8604708b6e00d5bac9b99078ead38199c06a1974e03ba8c";

/// A 1×1 lossless WEBP built by hand (tests/data/README.md).
pub const TINY_WEBP: [u8; 32] = [
    0x52, 0x49, 0x46, 0x46, 0x18, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4C, 0x0C, 0x00, 0x00,
    0x00, 0x2F, 0x00, 0x00, 0x00, 0x00, 0xA8, 0x59, 0x67, 0x9A, 0xD9, 0xFF, 0x00,
];

/// The issue time of the fixed seal.
pub const ISSUED: i64 = 1_800_000_000;

/// Bytes from hex.
pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Lowercase hex of bytes.
pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The certificate reference of the test signer.
pub fn cert_ref() -> CertificateReference {
    CertificateReference::new("FR05", "0001").unwrap()
}

/// The local signer with the fixed test key.
pub fn signer() -> LocalSigner {
    LocalSigner::from_pkcs8(&hex(TEST_PKCS8_HEX), cert_ref()).unwrap()
}

/// The fixed test public key.
pub fn public_key() -> Vec<u8> {
    hex(TEST_PUBLIC_HEX)
}

/// The fixed identity of the golden seal.
pub fn identity() -> Identity {
    let mut face = [0u8; FACE_LEN];
    for (i, b) in face.iter_mut().enumerate() {
        *b = u8::try_from(i * 7 % 256).unwrap();
    }
    Identity {
        given_name: "Maëlys-Gaëlle".into(),
        family_name: "MARTIN".into(),
        date_of_birth: "1990-02-28".into(),
        nationality: "FRA".into(),
        document_number: "X4RTBPFW4".into(),
        token_id: [0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0x4d, 0x2a, 0xa6, 0xd2, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf],
        expires_at: UnixTime::from_secs(ISSUED + 2 * 365 * 86_400),
        photo: TINY_WEBP.to_vec(),
        face,
        trust_level: TrustLevel::OperatorVerified,
    }
}

/// The fixed seal content.
pub fn vds() -> Vds {
    Vds::identity(cert_ref(), UnixTime::from_secs(ISSUED), identity())
}

/// The fixed seal, freshly signed (the signature differs on each call).
pub fn sealed() -> DecodedVds {
    encode_signed(&vds(), &signer()).unwrap()
}
