//! Integration tests of idseal-tlog: known-answer vectors, exhaustive and property tests of
//! the proofs, signed notes and checkpoints, tiles, entries, and the independent Python
//! checker.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![allow(clippy::cast_possible_truncation)]

mod entry;
mod interop;
mod note;
mod proofs;
mod tiles;
mod vectors;

use idseal_tlog::Hash;

/// Bytes from hex.
pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// A hash from hex.
pub fn h(s: &str) -> Hash {
    unhex(s).try_into().unwrap()
}

/// Lowercase hex.
pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A test data file as JSON.
pub fn data(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A tree of `n` distinct entries.
pub fn tree(n: u64) -> idseal_tlog::MemoryTree {
    let mut t = idseal_tlog::MemoryTree::new();
    for i in 0..n {
        t.append(format!("entry {i}").as_bytes());
    }
    t
}
