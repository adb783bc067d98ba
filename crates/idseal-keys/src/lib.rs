//! The signing boundary of idseal: the only crate that holds private keys.
//!
//! It generates and loads signing keys for RS256 (RSA 2048), ES256 (P-256), EdDSA (Ed25519)
//! and ML-DSA-65 through aws-lc-rs, seals private keys under a master key for storage, signs
//! and verifies compact JWS, and publishes public keys as a JWK Set (ML-DSA as `kty: "AKP"`).
//!
//! It does no I/O: it never reads files, never talks to a database and knows nothing of HTTP.
//! Storage comes in through the [`KeyStore`] trait, time as a [`UnixTime`] parameter.
//!
//! [`UnixTime`]: idseal_types::UnixTime

mod algorithm;
mod error;
mod jwk;
mod jws;
mod master;
mod pkcs11;
mod ring;

pub use algorithm::{Algorithm, SigningKey, VerifyingKey};
pub use error::KeyError;
pub use jwk::{Jwk, JwkSet};
pub use jws::{sign_compact, verify_compact};
pub use master::{MasterKey, SealedKey};
pub use pkcs11::{PIN_ENV, Pkcs11Config, Pkcs11Signer};
pub use ring::{KeyRecord, KeyRing, KeyState, KeyStore, RotationPolicy, new_record, rotate};
