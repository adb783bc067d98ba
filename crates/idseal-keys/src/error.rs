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
    /// A PKCS#11 URI is malformed or uses an unsupported attribute.
    #[error("invalid PKCS#11 URI: {0}")]
    Pkcs11Uri(&'static str),
    /// No PIN was given: neither `pin-value` in the URI nor the `IDSEAL_PKCS11_PIN` variable.
    #[error("no PKCS#11 PIN: set pin-value or IDSEAL_PKCS11_PIN")]
    Pkcs11PinMissing,
    /// The PKCS#11 module could not be loaded.
    #[error("cannot load PKCS#11 module {path}: {reason}")]
    Pkcs11Library {
        /// The module path.
        path: String,
        /// Why loading failed.
        reason: String,
    },
    /// No token with this label is present.
    #[error("no PKCS#11 token labelled {label:?}")]
    Pkcs11TokenNotFound {
        /// The token label.
        label: String,
    },
    /// The token refused the user PIN.
    #[error("the PKCS#11 token refused the PIN")]
    Pkcs11PinIncorrect,
    /// The token's user PIN is locked.
    #[error("the PKCS#11 user PIN is locked")]
    Pkcs11PinLocked,
    /// No key (private and public object) matches the label or id.
    #[error("no PKCS#11 EC key {name:?} on the token")]
    Pkcs11KeyNotFound {
        /// The key label or hex id.
        name: String,
    },
    /// Key generation refused: a key with this label or id is already on the token.
    #[error("a PKCS#11 key {name:?} already exists on the token")]
    Pkcs11KeyExists {
        /// The key label or hex id.
        name: String,
    },
    /// Another PKCS#11 call failed.
    #[error("PKCS#11 {operation} failed: {reason}")]
    Pkcs11 {
        /// The PKCS#11 function or step.
        operation: &'static str,
        /// The module's return value or the problem found.
        reason: String,
    },
}
