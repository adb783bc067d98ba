//! SCAL3 sole-control evidence, idseal's own implementation (pure: no I/O, no clock, no
//! randomness of its own).
//!
//! **Legal notice.** The SCAL3 method is covered by granted patent NL2037022B1 (Cleverbase);
//! an independent implementation such as this one is still covered. No code of the
//! CC-BY-NC-4.0 reference implementation is used here. Keep this crate behind the `scal3`
//! cargo feature of the crates that use it. See `NOTICE` and `docs/scal3.md`.
//!
//! A user authorises an instruction with two factors: a device key (possession, ECDSA P-256)
//! and a PIN (knowledge, which unblinds the subscriber's share of a 2-of-2 FROST(P-256,
//! SHA-256) key). The provider holds the other share sealed to its HPKE key. The resulting
//! [`Record`] is verifiable by anyone holding the credential's public parts with
//! [`verify_record`]: an RFC 9591 Schnorr signature plus two ECDSA signatures.
//!
//! Flow: [`enrol`] (device) → [`ProviderSecrets::accept`] → [`ProviderSecrets::challenge`] →
//! [`authenticate`] (subscriber) → device signs [`Authentication::device_message`] →
//! [`Authentication::pass`] → [`ProviderSecrets::prove`] → [`Record`].
//!
//! Modules [`group`], [`frost`] and [`hpke`] expose the building blocks (tested against the
//! RFC 9380, RFC 9591 and RFC 9180 vectors).

mod ecdsa;
mod error;
pub mod frost;
pub mod group;
pub mod hpke;
mod record;
mod scheme;

pub use ecdsa::SIG_LEN;
pub use error::Scal3Error;
pub use hpke::KemSecretKey;
pub use record::{
    DEVICE_LABEL, RECORD_LEN, REFERENCE_AUTHENTICATOR_LEN, REFERENCE_CLIENT_LEN, Record, verify_record,
    verify_reference_transcript,
};
pub use scheme::{
    Authentication, CHALLENGE_LEN, CREDENTIAL_LEN, Challenge, ChallengeId, ChallengeLedger, Credential, HPKE_INFO,
    PASS_LEN, Pass, ProviderSecrets, authenticate, enrol,
};

/// Version byte of every idseal SCAL3 v1 encoding (credential, pass, record).
pub const VERSION: u8 = 1;
