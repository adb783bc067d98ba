//! The crate's one error type.

/// Everything that can go wrong in SCAL3. Crypto failures stay opaque: the variants name
/// *which check* failed, never secret values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Scal3Error {
    /// Input bytes have the wrong length, version or structure.
    #[error("malformed input: {0}")]
    Malformed(&'static str),
    /// An encoded point is not on P-256.
    #[error("invalid point")]
    InvalidPoint,
    /// A point is the identity where that is not allowed.
    #[error("identity point")]
    IdentityPoint,
    /// An encoded scalar is `>= n`, or zero where zero is not allowed.
    #[error("invalid scalar")]
    InvalidScalar,
    /// An HPKE ciphertext did not open (tampered ciphertext, `enc` or associated data).
    #[error("decryption failed")]
    Decryption,
    /// The sealed provider share did not open or does not match its VSS commitments.
    #[error("sealed provider share rejected")]
    SealedShare,
    /// The sealed subscriber signature share did not open although the device signed it.
    #[error("sealed subscriber share rejected")]
    SealedZ2,
    /// The binding signature (ephemeral key D_B over the device signature) is invalid.
    #[error("binding signature invalid")]
    BindingSignature,
    /// The device (possession factor) signature is invalid.
    #[error("device signature invalid")]
    DeviceSignature,
    /// The joint Schnorr signature failed *after* the device signature verified: the knowledge
    /// factor (PIN) was wrong. The only error a server should count as a PIN attempt.
    #[error("knowledge factor rejected")]
    PinMismatch,
    /// The joint Schnorr signature of a record is invalid.
    #[error("joint signature invalid")]
    JointSignature,
    /// The challenge was already used (refused by the caller's ledger).
    #[error("challenge already used")]
    ChallengeReused,
    /// An internal failure of the crypto backend.
    #[error("crypto backend failure")]
    Crypto,
}

impl Scal3Error {
    /// True only for [`Scal3Error::PinMismatch`]: the one outcome that should consume a PIN
    /// attempt (the device signature had verified, so the pass is the device's own).
    pub fn counts_as_pin_attempt(&self) -> bool {
        matches!(self, Self::PinMismatch)
    }
}
