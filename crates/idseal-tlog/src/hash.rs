//! RFC 9162 §2.1 Merkle tree hashing with SHA-256.
//!
//! * leaf hash: `SHA-256(0x00 || data)`
//! * interior node hash: `SHA-256(0x01 || left || right)`
//! * the Merkle Tree Hash (MTH) of `n > 1` leaves splits at `k`, the largest power of two
//!   strictly smaller than `n`: `MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n]))`
//! * the hash of the empty tree is `SHA-256("")`.

use aws_lc_rs::digest::{Context, SHA256, digest};

/// Length of every hash in the log, in bytes.
pub const HASH_LEN: usize = 32;

/// A SHA-256 hash: a leaf hash, an interior node hash or a root.
pub type Hash = [u8; HASH_LEN];

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

fn finish(ctx: Context) -> Hash {
    let mut out = [0u8; HASH_LEN];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The leaf hash of an entry: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut ctx = Context::new(&SHA256);
    ctx.update(&[LEAF_PREFIX]);
    ctx.update(data);
    finish(ctx)
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut ctx = Context::new(&SHA256);
    ctx.update(&[NODE_PREFIX]);
    ctx.update(left);
    ctx.update(right);
    finish(ctx)
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    let mut out = [0u8; HASH_LEN];
    out.copy_from_slice(digest(&SHA256, b"").as_ref());
    out
}

/// The largest power of two strictly smaller than `n`; `None` when `n < 2` (no split).
pub fn split_point(n: u64) -> Option<u64> {
    if n < 2 {
        return None;
    }
    // n - 1 >= 1, so its highest set bit is the answer.
    Some(1u64 << (63 - (n - 1).leading_zeros()))
}

/// The Merkle Tree Hash of a list of leaf hashes, by the RFC's recursive definition.
pub fn root_from_leaf_hashes(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            let n = leaves.len() as u64;
            let k = split_point(n).map_or(0, |k| usize::try_from(k).unwrap_or(leaves.len()));
            let (left, right) = leaves.split_at(k.min(leaves.len()));
            node_hash(&root_from_leaf_hashes(left), &root_from_leaf_hashes(right))
        }
    }
}

/// The Merkle Tree Hash of a list of entries (each hashed as a leaf first).
pub fn root_from_entries<T: AsRef<[u8]>>(entries: &[T]) -> Hash {
    let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e.as_ref())).collect();
    root_from_leaf_hashes(&leaves)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_points() {
        assert_eq!(split_point(0), None);
        assert_eq!(split_point(1), None);
        assert_eq!(split_point(2), Some(1));
        assert_eq!(split_point(3), Some(2));
        assert_eq!(split_point(4), Some(2));
        assert_eq!(split_point(5), Some(4));
        assert_eq!(split_point(8), Some(4));
        assert_eq!(split_point(9), Some(8));
        assert_eq!(split_point(u64::MAX), Some(1 << 63));
        assert_eq!(split_point((1 << 63) + 1), Some(1 << 63));
        assert_eq!(split_point(1 << 63), Some(1 << 62));
    }

    #[test]
    fn prefixes_separate_leaves_from_nodes() {
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        let mut concat = Vec::new();
        concat.extend_from_slice(&a);
        concat.extend_from_slice(&b);
        assert_ne!(leaf_hash(&concat), node_hash(&a, &b));
    }
}
