//! Inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4): generation from the hashes
//! of complete subtrees, and verification.
//!
//! Generation follows the RFC's recursive `PATH` and `SUBPROOF` definitions. Every hash a
//! proof carries is the Merkle Tree Hash of a range of leaves; such a range is made of
//! complete subtrees (power-of-two aligned blocks), whose hashes come from a [`HashReader`]:
//! the store implements it over its tables or tiles, [`MemoryTree`] in memory.
//!
//! Verification follows the RFC's iterative algorithms (§2.1.3.2, §2.1.4.2), after a strict
//! check of the sizes and of the proof length, so that a wrong proof is refused with a typed
//! error and never a panic, whatever its sizes or length.

use crate::TlogError;
use crate::hash::{Hash, empty_root, leaf_hash, node_hash, split_point};

/// A complete subtree: the `2^level` leaves `[index << level, (index + 1) << level)`.
/// Level 0 is a single leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subtree {
    /// Height of the subtree (0 = a leaf, at most 63).
    pub level: u8,
    /// Index among the subtrees of that height, counted from the left.
    pub index: u64,
}

/// Supplies the hash of any complete subtree of the log. The store implements it later; its
/// error type must be able to carry the core's errors.
pub trait HashReader {
    /// What a failed read reports.
    type Error: From<TlogError>;

    /// The Merkle Tree Hash of `subtree` (the leaf hash when `subtree.level == 0`).
    fn subtree_hash(&self, subtree: Subtree) -> Result<Hash, Self::Error>;
}

/// The complete subtrees, left to right, whose hashes make up the Merkle Tree Hash of the
/// leaves `[lo, hi)`, following the RFC's split at the largest power of two.
fn range_subtrees(lo: u64, hi: u64, out: &mut Vec<Subtree>) {
    let n = hi.saturating_sub(lo);
    if n == 0 {
        return;
    }
    if n.is_power_of_two() && lo.is_multiple_of(n) {
        let level = n.trailing_zeros();
        out.push(Subtree { level: u8::try_from(level).unwrap_or(u8::MAX), index: lo >> level });
        return;
    }
    let k = split_point(n).unwrap_or(1);
    range_subtrees(lo, lo + k, out);
    range_subtrees(lo + k, hi, out);
}

/// The Merkle Tree Hash of the leaves `[lo, hi)`, `lo < hi`, read through `reader`.
fn range_hash<R: HashReader + ?Sized>(reader: &R, lo: u64, hi: u64) -> Result<Hash, R::Error> {
    let n = hi.saturating_sub(lo);
    if n == 0 {
        return Err(TlogError::EmptyTree.into());
    }
    if n.is_power_of_two() && lo.is_multiple_of(n) {
        let level = n.trailing_zeros();
        let subtree = Subtree { level: u8::try_from(level).unwrap_or(u8::MAX), index: lo >> level };
        return reader.subtree_hash(subtree);
    }
    let k = split_point(n).unwrap_or(1);
    let left = range_hash(reader, lo, lo + k)?;
    let right = range_hash(reader, lo + k, hi)?;
    Ok(node_hash(&left, &right))
}

/// The leaf ranges whose hashes form the inclusion proof of `index` in a tree of `size`,
/// in proof order (nearest the leaf first).
fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<(u64, u64)>, TlogError> {
    if size == 0 {
        return Err(TlogError::EmptyTree);
    }
    if index >= size {
        return Err(TlogError::IndexOutOfRange { index, size });
    }
    let (mut lo, mut hi) = (0u64, size);
    let mut ranges = Vec::new();
    while let Some(k) = split_point(hi - lo) {
        let mid = lo + k;
        if index < mid {
            ranges.push((mid, hi));
            hi = mid;
        } else {
            ranges.push((lo, mid));
            lo = mid;
        }
    }
    ranges.reverse();
    Ok(ranges)
}

/// The leaf ranges whose hashes form the consistency proof from `size1` to `size2`, in
/// proof order.
fn consistency_ranges(size1: u64, size2: u64) -> Result<Vec<(u64, u64)>, TlogError> {
    if size1 == 0 || size2 == 0 {
        return Err(TlogError::EmptyTree);
    }
    if size1 > size2 {
        return Err(TlogError::SizeOrder { size1, size2 });
    }
    let (mut lo, mut hi) = (0u64, size2);
    let mut whole_old_tree = true;
    let mut ranges = Vec::new();
    loop {
        if size1 == hi {
            // SUBPROOF(m, D[m], b): the old subtree itself, unless it is the whole old tree.
            if !whole_old_tree {
                ranges.push((lo, hi));
            }
            break;
        }
        let Some(k) = split_point(hi - lo) else { break };
        let mid = lo + k;
        if size1 <= mid {
            ranges.push((mid, hi));
            hi = mid;
        } else {
            ranges.push((lo, mid));
            lo = mid;
            whole_old_tree = false;
        }
    }
    ranges.reverse();
    Ok(ranges)
}

fn subtrees_of(ranges: &[(u64, u64)]) -> Vec<Subtree> {
    let mut out = Vec::new();
    for &(lo, hi) in ranges {
        range_subtrees(lo, hi, &mut out);
    }
    out
}

/// The number of hashes in the inclusion proof of `index` in a tree of `size`.
pub fn inclusion_proof_len(index: u64, size: u64) -> Result<usize, TlogError> {
    inclusion_ranges(index, size).map(|r| r.len())
}

/// The number of hashes in the consistency proof from `size1` to `size2`.
pub fn consistency_proof_len(size1: u64, size2: u64) -> Result<usize, TlogError> {
    consistency_ranges(size1, size2).map(|r| r.len())
}

/// Every complete subtree whose hash the inclusion proof of `index` in `size` is built from.
pub fn inclusion_subtrees(index: u64, size: u64) -> Result<Vec<Subtree>, TlogError> {
    inclusion_ranges(index, size).map(|r| subtrees_of(&r))
}

/// Every complete subtree whose hash the consistency proof from `size1` to `size2` is built
/// from.
pub fn consistency_subtrees(size1: u64, size2: u64) -> Result<Vec<Subtree>, TlogError> {
    consistency_ranges(size1, size2).map(|r| subtrees_of(&r))
}

/// The complete subtrees whose hashes make up the root of a tree of `size` (none when empty).
pub fn root_subtrees(size: u64) -> Vec<Subtree> {
    let mut out = Vec::new();
    range_subtrees(0, size, &mut out);
    out
}

/// The root hash of the tree of `size` leaves.
pub fn root<R: HashReader + ?Sized>(reader: &R, size: u64) -> Result<Hash, R::Error> {
    if size == 0 { Ok(empty_root()) } else { range_hash(reader, 0, size) }
}

/// The inclusion proof (RFC 9162 `PATH`) of leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof<R: HashReader + ?Sized>(reader: &R, index: u64, size: u64) -> Result<Vec<Hash>, R::Error> {
    inclusion_ranges(index, size)?.into_iter().map(|(lo, hi)| range_hash(reader, lo, hi)).collect()
}

/// The consistency proof (RFC 9162 `PROOF`) from the tree of `size1` leaves to the tree of
/// `size2` leaves. Empty when the sizes are equal.
pub fn consistency_proof<R: HashReader + ?Sized>(reader: &R, size1: u64, size2: u64) -> Result<Vec<Hash>, R::Error> {
    consistency_ranges(size1, size2)?.into_iter().map(|(lo, hi)| range_hash(reader, lo, hi)).collect()
}

/// The root an inclusion proof leads to (RFC 9162 §2.1.3.2), after checking the sizes and the
/// proof length.
pub fn root_from_inclusion_proof(leaf: &Hash, index: u64, size: u64, proof: &[Hash]) -> Result<Hash, TlogError> {
    let expected = inclusion_proof_len(index, size)?;
    if proof.len() != expected {
        return Err(TlogError::WrongProofLength { expected, got: proof.len() });
    }
    let mut f_n = index;
    let mut s_n = size - 1;
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(TlogError::WrongProofLength { expected, got: proof.len() });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(TlogError::WrongProofLength { expected, got: proof.len() });
    }
    Ok(r)
}

/// Verify that the leaf with hash `leaf` is at `index` in the tree of `size` with `root`.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> Result<(), TlogError> {
    let computed = root_from_inclusion_proof(leaf, index, size, proof)?;
    if ct_eq(&computed, root) { Ok(()) } else { Err(TlogError::ProofMismatch) }
}

/// Verify that the tree of `size2` leaves with `root2` extends the tree of `size1` leaves
/// with `root1` (RFC 9162 §2.1.4.2). Sizes must satisfy `0 < size1 <= size2`.
pub fn verify_consistency(size1: u64, size2: u64, proof: &[Hash], root1: &Hash, root2: &Hash) -> Result<(), TlogError> {
    let expected = consistency_proof_len(size1, size2)?;
    if proof.len() != expected {
        return Err(TlogError::WrongProofLength { expected, got: proof.len() });
    }
    if size1 == size2 {
        return if ct_eq(root1, root2) { Ok(()) } else { Err(TlogError::ProofMismatch) };
    }
    // When size1 is a power of two the old root is a node of the new tree and the proof
    // leaves it out: start from it.
    let (first, rest) = if size1.is_power_of_two() {
        (root1, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (first, rest),
            None => return Err(TlogError::WrongProofLength { expected, got: 0 }),
        }
    };
    let mut f_n = size1 - 1;
    let mut s_n = size2 - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut f_r = *first;
    let mut s_r = *first;
    for c in rest {
        if s_n == 0 {
            return Err(TlogError::WrongProofLength { expected, got: proof.len() });
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(TlogError::WrongProofLength { expected, got: proof.len() });
    }
    if ct_eq(&f_r, root1) && ct_eq(&s_r, root2) { Ok(()) } else { Err(TlogError::ProofMismatch) }
}

/// Hash comparison that does not stop at the first difference.
fn ct_eq(a: &Hash, b: &Hash) -> bool {
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An in-memory log that keeps the hash of every complete subtree: the reference
/// [`HashReader`] for tests and for building tiles.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    /// `levels[h][i]` is the hash of the complete subtree of height `h` and index `i`.
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append an entry (hashed as a leaf) and return its index.
    pub fn append(&mut self, entry: &[u8]) -> u64 {
        self.append_leaf_hash(leaf_hash(entry))
    }

    /// Append a leaf hash and return its index.
    pub fn append_leaf_hash(&mut self, leaf: Hash) -> u64 {
        let index = self.size();
        let mut carry = leaf;
        let mut h = 0usize;
        loop {
            if self.levels.len() <= h {
                self.levels.push(Vec::new());
            }
            let Some(level) = self.levels.get_mut(h) else { break };
            level.push(carry);
            if level.len() % 2 == 1 {
                break;
            }
            match level.get(level.len() - 2) {
                Some(left) => carry = node_hash(left, &carry),
                None => break,
            }
            h += 1;
        }
        index
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// The root of the tree of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, TlogError> {
        if size > self.size() {
            return Err(TlogError::IndexOutOfRange { index: size, size: self.size() });
        }
        root(self, size)
    }
}

impl HashReader for MemoryTree {
    type Error = TlogError;

    fn subtree_hash(&self, subtree: Subtree) -> Result<Hash, TlogError> {
        let missing = TlogError::MissingHash { level: subtree.level, index: subtree.index };
        let level = self.levels.get(usize::from(subtree.level)).ok_or(missing.clone())?;
        let i = usize::try_from(subtree.index).map_err(|_| missing.clone())?;
        level.get(i).copied().ok_or(missing)
    }
}
