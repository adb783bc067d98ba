//! The error type of this crate.

/// What can go wrong with keys. Signature failures are deliberately opaque.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The algorithm name is not one idseal supports.
    #[error("unsupported algorithm `{0}`")]
    UnsupportedAlgorithm(String),
    /// Key generation failed in the crypto library.
    #[error("key generation failed")]
    GenerationFailed,
    /// Stored key material could not be parsed for its algorithm.
    #[error("key material for `{kid}` is malformed")]
    MalformedKey {
        /// The key id.
        kid: String,
    },
    /// A sealed key did not open under this master key: wrong master key or altered record.
    #[error("sealed key `{kid}` does not open under this master key")]
    UnsealFailed {
        /// The key id.
        kid: String,
    },
    /// The master key is malformed (it must be 32 bytes, hex or base64url).
    #[error("master key is malformed: {0}")]
    MalformedMasterKey(&'static str),
    /// Signing failed in the crypto library.
    #[error("signing failed")]
    SigningFailed,
    /// A signature or token did not verify.
    #[error("invalid signature")]
    InvalidSignature,
    /// A compact JWS is not well formed.
    #[error("malformed JWS")]
    MalformedJws,
    /// The key store failed.
    #[error("key store failed")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database holds keys sealed under a different master key.
    #[error("the stored keys were sealed under a different master key (check value {stored}, this key {ours})")]
    MasterKeyMismatch {
        /// Check value recorded in the store.
        stored: String,
        /// Check value of the master key in use.
        ours: String,
    },
    /// There is no active key for the algorithm.
    #[error("no active key for {0}")]
    NoActiveKey(&'static str),
}
