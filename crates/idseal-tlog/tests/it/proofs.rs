//! Inclusion and consistency proofs: every pair up to 64 leaves, tampering, bad sizes, and
//! random trees up to 10 000 leaves.

use std::sync::OnceLock;

use idseal_tlog::hash::{leaf_hash, root_from_leaf_hashes};
use idseal_tlog::proof::{
    consistency_proof, consistency_proof_len, inclusion_proof, inclusion_proof_len, root, verify_consistency,
    verify_inclusion,
};
use idseal_tlog::{Hash, MemoryTree, TlogError};
use proptest::prelude::*;

use crate::tree;

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(format!("entry {i}").as_bytes())).collect()
}

/// Every proof obtained from `proof` by flipping one bit of one hash, dropping one hash, or
/// adding one hash at any position.
fn tampered(proof: &[Hash]) -> Vec<Vec<Hash>> {
    let mut out = Vec::new();
    for i in 0..proof.len() {
        let mut p = proof.to_vec();
        p[i][i % 32] ^= 1 << (i % 8);
        out.push(p);
        let mut p = proof.to_vec();
        p.remove(i);
        out.push(p);
    }
    for i in 0..=proof.len() {
        let mut p = proof.to_vec();
        p.insert(i, leaf_hash(b"intruder"));
        out.push(p);
        if let Some(&dup) = proof.get(i.saturating_sub(1)) {
            let mut p = proof.to_vec();
            p.insert(i, dup);
            out.push(p);
        }
    }
    out
}

#[test]
fn every_inclusion_proof_up_to_64_leaves() {
    let all = leaves(64);
    let t = tree(64);
    for size in 1..=64u64 {
        let r = root_from_leaf_hashes(&all[..size as usize]);
        assert_eq!(root(&t, size).unwrap(), r);
        for index in 0..size {
            let leaf = all[index as usize];
            let proof = inclusion_proof(&t, index, size).unwrap();
            assert_eq!(proof.len(), inclusion_proof_len(index, size).unwrap());
            verify_inclusion(&leaf, index, size, &proof, &r).unwrap();
            for bad in tampered(&proof) {
                assert!(verify_inclusion(&leaf, index, size, &bad, &r).is_err(), "tampered ({index}, {size})");
            }
            // The right proof for another index, size, leaf or root fails.
            if size > 1 {
                let other = (index + 1) % size;
                assert!(verify_inclusion(&leaf, other, size, &proof, &r).is_err());
                assert!(verify_inclusion(&all[other as usize], index, size, &proof, &r).is_err());
            }
            assert!(verify_inclusion(&leaf, index, size, &proof, &leaf_hash(b"root")).is_err());
        }
    }
}

#[test]
fn every_consistency_proof_up_to_64_leaves() {
    let all = leaves(64);
    let t = tree(64);
    let roots: Vec<Hash> = (0..=64).map(|n| root_from_leaf_hashes(&all[..n])).collect();
    for size2 in 1..=64u64 {
        for size1 in 1..=size2 {
            let (r1, r2) = (&roots[size1 as usize], &roots[size2 as usize]);
            let proof = consistency_proof(&t, size1, size2).unwrap();
            assert_eq!(proof.len(), consistency_proof_len(size1, size2).unwrap());
            verify_consistency(size1, size2, &proof, r1, r2).unwrap();
            for bad in tampered(&proof) {
                assert!(verify_consistency(size1, size2, &bad, r1, r2).is_err(), "tampered ({size1}, {size2})");
            }
            if size1 != size2 {
                assert!(verify_consistency(size1, size2, &proof, r2, r1).is_err());
                assert!(verify_consistency(size1, size2, &proof, r1, &roots[size2 as usize - 1]).is_err());
                assert!(verify_consistency(size1, size2, &[], r1, r2).is_err());
            } else {
                assert!(verify_consistency(size1, size2, &[], r1, &leaf_hash(b"fork")).is_err());
            }
        }
    }
}

#[test]
fn bad_sizes_are_typed_errors() {
    let t = tree(8);
    let x = leaf_hash(b"x");
    assert_eq!(inclusion_proof(&t, 0, 0), Err(TlogError::EmptyTree));
    assert_eq!(inclusion_proof(&t, 8, 8), Err(TlogError::IndexOutOfRange { index: 8, size: 8 }));
    assert_eq!(consistency_proof(&t, 0, 8), Err(TlogError::EmptyTree));
    assert_eq!(consistency_proof(&t, 5, 4), Err(TlogError::SizeOrder { size1: 5, size2: 4 }));
    // Asking a tree for sizes it does not have is a missing hash, not a panic.
    assert!(matches!(inclusion_proof(&t, 3, 9), Err(TlogError::MissingHash { .. })));
    assert_eq!(verify_inclusion(&x, 0, 0, &[], &x), Err(TlogError::EmptyTree));
    assert_eq!(
        verify_inclusion(&x, u64::MAX, u64::MAX, &[], &x),
        Err(TlogError::IndexOutOfRange { index: u64::MAX, size: u64::MAX })
    );
    assert_eq!(verify_consistency(0, 0, &[], &x, &x), Err(TlogError::EmptyTree));
    assert_eq!(verify_consistency(3, 2, &[], &x, &x), Err(TlogError::SizeOrder { size1: 3, size2: 2 }));
    // A one-leaf tree: the root is the leaf hash and the proof is empty.
    verify_inclusion(&x, 0, 1, &[], &x).unwrap();
    assert_eq!(verify_inclusion(&x, 0, 1, &[x], &x), Err(TlogError::WrongProofLength { expected: 0, got: 1 }));
}

#[test]
fn huge_sizes_and_long_proofs_never_panic() {
    let x = leaf_hash(b"x");
    let long: Vec<Hash> = vec![x; 200];
    for &(index, size) in &[(0, u64::MAX), (u64::MAX - 1, u64::MAX), (1 << 63, u64::MAX), (12345, 1 << 63)] {
        let expected = inclusion_proof_len(index, size).unwrap();
        assert!(expected <= 64);
        for len in [0, expected, 63, 64, 65, 200] {
            let r = verify_inclusion(&x, index, size, &long[..len], &x);
            assert!(r.is_err(), "({index}, {size}) with {len} hashes");
        }
    }
    for &(s1, s2) in &[(1, u64::MAX), (u64::MAX - 1, u64::MAX), (1 << 63, u64::MAX), (3, 1 << 63), (u64::MAX, u64::MAX)]
    {
        let expected = consistency_proof_len(s1, s2).unwrap();
        assert!(expected <= 128);
        for len in [0, expected, 63, 64, 65, 200] {
            let r = verify_consistency(s1, s2, &long[..len], &x, &leaf_hash(b"y"));
            assert!(r.is_err(), "({s1}, {s2}) with {len} hashes");
        }
    }
}

fn big_tree() -> &'static (MemoryTree, Vec<Hash>) {
    static TREE: OnceLock<(MemoryTree, Vec<Hash>)> = OnceLock::new();
    TREE.get_or_init(|| {
        let all = leaves(10_000);
        let mut t = MemoryTree::new();
        for l in &all {
            t.append_leaf_hash(*l);
        }
        (t, all)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_inclusion(size in 1u64..=10_000, seed in any::<u64>(), flip in any::<(usize, u8)>()) {
        let (t, all) = big_tree();
        let index = seed % size;
        let r = root_from_leaf_hashes(&all[..size as usize]);
        let proof = inclusion_proof(t, index, size).unwrap();
        prop_assert!(verify_inclusion(&all[index as usize], index, size, &proof, &r).is_ok());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let i = flip.0 % bad.len();
            bad[i][flip.0 % 32] ^= flip.1 | 1;
            prop_assert!(verify_inclusion(&all[index as usize], index, size, &bad, &r).is_err());
        }
    }

    #[test]
    fn random_consistency(size2 in 1u64..=10_000, seed in any::<u64>(), flip in any::<(usize, u8)>()) {
        let (t, all) = big_tree();
        let size1 = seed % size2 + 1;
        let r1 = root_from_leaf_hashes(&all[..size1 as usize]);
        let r2 = root_from_leaf_hashes(&all[..size2 as usize]);
        let proof = consistency_proof(t, size1, size2).unwrap();
        prop_assert!(verify_consistency(size1, size2, &proof, &r1, &r2).is_ok());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let i = flip.0 % bad.len();
            bad[i][flip.0 % 32] ^= flip.1 | 1;
            prop_assert!(verify_consistency(size1, size2, &bad, &r1, &r2).is_err());
        }
    }
}
