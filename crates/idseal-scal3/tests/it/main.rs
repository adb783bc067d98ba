//! Integration tests of idseal-scal3: RFC 9380 / 9591 / 9180 vectors, the SCAL3 round trip and
//! its bad paths, the reference transcript format, and the independent Python verifier.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![allow(clippy::cast_possible_truncation, clippy::new_without_default, missing_docs, unreachable_pub)]

mod interop;
mod reference;
mod scheme;
mod vectors;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use idseal_scal3::{Credential, KemSecretKey, ProviderSecrets};

/// Bytes from hex.
pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// A fixed-size array from hex.
pub fn arr<const N: usize>(s: &str) -> [u8; N] {
    unhex(s).try_into().unwrap()
}

/// Lowercase hex.
pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A test data file as JSON.
pub fn data(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// SHA-256.
pub fn sha256(b: &[u8]) -> [u8; 32] {
    idseal_scal3::group::sha256(&[b])
}

/// A software stand-in for the phone's hardware ECDSA key.
pub struct Device(pub EcdsaKeyPair);

impl Device {
    pub fn new() -> Self {
        Self(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap())
    }

    /// SEC1 compressed public key.
    pub fn public_key(&self) -> [u8; 33] {
        compress(self.0.public_key().as_ref())
    }

    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.0.sign(&SystemRandom::new(), msg).unwrap().as_ref().try_into().unwrap()
    }
}

/// Compresses an uncompressed SEC1 point.
pub fn compress(pk: &[u8]) -> [u8; 33] {
    assert_eq!(pk.len(), 65);
    let mut out = [0u8; 33];
    out[0] = 0x02 | (pk[64] & 1);
    out[1..].copy_from_slice(&pk[1..33]);
    out
}

/// A provider, a device and an enrolled credential.
pub struct World {
    pub provider: ProviderSecrets,
    pub provider_pk: [u8; 65],
    pub device: Device,
    pub pin: [u8; 32],
    pub credential: Credential,
}

pub fn world(seed: u8) -> World {
    let provider = ProviderSecrets::new(KemSecretKey::derive(&[seed; 32]).unwrap(), [seed ^ 0x55; 32]);
    let provider_pk = provider.kem_public_key().unwrap();
    let device = Device::new();
    let pin = sha256(format!("pin 1234 {seed}").as_bytes());
    let credential = idseal_scal3::enrol(&provider_pk, &device.public_key(), &pin, &[seed ^ 0xaa; 32]).unwrap();
    provider.accept(&credential).unwrap();
    World { provider, provider_pk, device, pin, credential }
}
