//! The one error type of the log core.

/// Everything the log core can refuse. Parsers and verifiers never panic: every malformed
/// input ends in one of these variants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogError {
    /// A proof or tree operation was asked about an empty tree (size 0), which has no leaves
    /// and no proofs.
    #[error("the tree is empty")]
    EmptyTree,
    /// A leaf index is not inside the tree (`index >= size`).
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("tree size {size1} is larger than tree size {size2}")]
    SizeOrder {
        /// The first (older) tree size.
        size1: u64,
        /// The second (newer) tree size.
        size2: u64,
    },
    /// A proof has the wrong number of hashes for its sizes.
    #[error("proof has {got} hashes where {expected} are needed")]
    WrongProofLength {
        /// The number of hashes the sizes require.
        expected: usize,
        /// The number of hashes given.
        got: usize,
    },
    /// A proof is well formed but does not lead to the expected root (or roots).
    #[error("proof does not match the root hash")]
    ProofMismatch,
    /// A hash reader could not supply the hash of a complete subtree.
    #[error("no hash for the subtree at level {level}, index {index}")]
    MissingHash {
        /// Height of the subtree (0 = a leaf).
        level: u8,
        /// Index of the subtree among the subtrees of that height.
        index: u64,
    },
    /// A signed note is not well formed (layout, encoding, characters, signature lines).
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    /// A note, or one of its lines, is longer than the parser accepts.
    #[error("note or note line too long")]
    NoteTooLong,
    /// A note carries more signatures than the parser accepts.
    #[error("note has more than {max} signatures")]
    TooManySignatures {
        /// The limit.
        max: usize,
    },
    /// A signature by a known key failed to verify: the whole note is rejected.
    #[error("invalid signature by a known key")]
    InvalidSignature,
    /// No signature on the note comes from a known key.
    #[error("no signature by a known key")]
    NoKnownSignature,
    /// A key name is empty or contains a space or a plus sign.
    #[error("invalid key name")]
    InvalidKeyName,
    /// A verifier key string or public key is not well formed or not Ed25519.
    #[error("invalid verifier key: {0}")]
    InvalidVerifierKey(&'static str),
    /// The signing key handed to a note signer is unusable (wrong algorithm) or signing failed.
    #[error("signing failed: {0}")]
    Signing(&'static str),
    /// A checkpoint body is not well formed.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// A tile or entry-bundle path is not well formed.
    #[error("invalid tile path: {0}")]
    InvalidTilePath(&'static str),
    /// A tile coordinate cannot exist in any tree whose size fits in 64 bits.
    #[error("tile is out of range")]
    TileOutOfRange,
    /// An audit event cannot be encoded (a field too long, a number JCS cannot represent).
    #[error("cannot encode entry: {0}")]
    Entry(&'static str),
}
