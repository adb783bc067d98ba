//! RFC 6962 / RFC 9162 known answers (tests/data/merkle-vectors.json).

use idseal_tlog::hash::{empty_root, leaf_hash, root_from_entries};
use idseal_tlog::proof::{consistency_proof, inclusion_proof, verify_consistency, verify_inclusion};
use idseal_tlog::{Hash, MemoryTree};

use crate::{data, h, unhex};

fn reference() -> (Vec<Vec<u8>>, Vec<Hash>, serde_json::Value) {
    let v = data("merkle-vectors.json");
    let leaves = v["leaves"].as_array().unwrap().iter().map(|l| unhex(l.as_str().unwrap())).collect();
    let roots = v["roots"].as_array().unwrap().iter().map(|r| h(r.as_str().unwrap())).collect();
    (leaves, roots, v)
}

fn hashes(v: &serde_json::Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(|x| h(x.as_str().unwrap())).collect()
}

#[test]
fn roots_of_the_reference_tree() {
    let (leaves, roots, v) = reference();
    assert_eq!(empty_root(), h(v["empty_root"].as_str().unwrap()));
    assert_eq!(root_from_entries::<Vec<u8>>(&[]), empty_root());
    // The root of a one-leaf tree is its leaf hash: SHA-256(0x00).
    assert_eq!(leaf_hash(&leaves[0]), roots[0]);
    let mut tree = MemoryTree::new();
    for (n, leaf) in leaves.iter().enumerate() {
        tree.append(leaf);
        assert_eq!(root_from_entries(&leaves[..=n]), roots[n], "list MTH, size {}", n + 1);
        assert_eq!(tree.root_at(n as u64 + 1).unwrap(), roots[n], "tree root, size {}", n + 1);
    }
}

#[test]
fn known_inclusion_proofs() {
    let (leaves, roots, v) = reference();
    let mut tree = MemoryTree::new();
    leaves.iter().for_each(|l| {
        tree.append(l);
    });
    for case in v["inclusion"].as_array().unwrap() {
        let index = case["index"].as_u64().unwrap();
        let size = case["size"].as_u64().unwrap();
        let proof = hashes(&case["proof"]);
        assert_eq!(inclusion_proof(&tree, index, size).unwrap(), proof, "generate ({index}, {size})");
        let leaf = leaf_hash(&leaves[index as usize]);
        verify_inclusion(&leaf, index, size, &proof, &roots[size as usize - 1]).unwrap();
    }
}

#[test]
fn known_consistency_proofs() {
    let (leaves, roots, v) = reference();
    let mut tree = MemoryTree::new();
    leaves.iter().for_each(|l| {
        tree.append(l);
    });
    for case in v["consistency"].as_array().unwrap() {
        let s1 = case["size1"].as_u64().unwrap();
        let s2 = case["size2"].as_u64().unwrap();
        let proof = hashes(&case["proof"]);
        assert_eq!(consistency_proof(&tree, s1, s2).unwrap(), proof, "generate ({s1}, {s2})");
        verify_consistency(s1, s2, &proof, &roots[s1 as usize - 1], &roots[s2 as usize - 1]).unwrap();
    }
}
