//! The independent Python checker (tests/interop/check_proofs.py) verifies proofs and a
//! signed checkpoint made here, and refuses tampered ones.
//!
//! Needs Python 3 with the packages of `tests/interop/requirements.txt`; the test fails,
//! never skips, when they are missing. `IDSEAL_INTEROP_PYTHON` overrides the interpreter.

use std::path::Path;
use std::process::Command;

use idseal_keys::{Algorithm, SigningKey};
use idseal_tlog::hash::leaf_hash;
use idseal_tlog::proof::{consistency_proof, inclusion_proof};
use idseal_tlog::{Checkpoint, Ed25519NoteSigner, Hash, HashReader, Subtree};
use serde_json::{Value, json};

use crate::{to_hex, tree};

const INSTALL_HINT: &str = "pip install -r crates/idseal-tlog/tests/interop/requirements.txt";
const ORIGIN: &str = "idseal.example/audit";

fn hexes(p: &[Hash]) -> Vec<String> {
    p.iter().map(|h| to_hex(h)).collect()
}

fn flipped(p: &[Hash]) -> Vec<Hash> {
    let mut p = p.to_vec();
    if let Some(first) = p.first_mut() {
        first[0] ^= 1;
    }
    p
}

fn cases() -> Value {
    let n = 37u64;
    let t = tree(n);
    let leaf = |i: u64| t.subtree_hash(Subtree { level: 0, index: i }).unwrap();
    let root = |s: u64| t.root_at(s).unwrap();
    let mut inclusion = Vec::new();
    for size in [1u64, 2, 7, 8, 9, 16, 37] {
        for index in 0..size {
            let proof = inclusion_proof(&t, index, size).unwrap();
            let base = json!({"leaf": to_hex(&leaf(index)), "index": index, "size": size, "root": to_hex(&root(size))});
            let mut ok = base.clone();
            ok["proof"] = json!(hexes(&proof));
            ok["valid"] = json!(true);
            inclusion.push(ok);
            if !proof.is_empty() {
                let mut bad = base.clone();
                bad["proof"] = json!(hexes(&flipped(&proof)));
                bad["valid"] = json!(false);
                inclusion.push(bad);
                let mut short = base;
                short["proof"] = json!(hexes(&proof[1..]));
                short["valid"] = json!(false);
                inclusion.push(short);
            }
        }
    }
    let mut consistency = Vec::new();
    for size2 in 1..=n {
        for size1 in 1..=size2 {
            let proof = consistency_proof(&t, size1, size2).unwrap();
            let base =
                json!({"size1": size1, "size2": size2, "root1": to_hex(&root(size1)), "root2": to_hex(&root(size2))});
            let mut ok = base.clone();
            ok["proof"] = json!(hexes(&proof));
            ok["valid"] = json!(true);
            consistency.push(ok);
            if !proof.is_empty() {
                let mut bad = base;
                bad["proof"] = json!(hexes(&flipped(&proof)));
                bad["valid"] = json!(false);
                consistency.push(bad);
            }
        }
    }
    let signer = Ed25519NoteSigner::new(ORIGIN, SigningKey::generate(Algorithm::EdDsa, "log").unwrap()).unwrap();
    let other = Ed25519NoteSigner::new(ORIGIN, SigningKey::generate(Algorithm::EdDsa, "log2").unwrap()).unwrap();
    let vkey = signer.verifier().vkey();
    let cp = Checkpoint::new(ORIGIN, n, root(n)).unwrap();
    let signed = cp.sign(&[&signer]).unwrap();
    let tampered = signed.replacen(&format!("\n{n}\n"), &format!("\n{}\n", n + 1), 1);
    let by_other = cp.sign(&[&other]).unwrap();
    let forked = Checkpoint::new(ORIGIN, n, leaf_hash(b"fork")).unwrap().sign(&[&signer]).unwrap();
    let r = to_hex(&root(n));
    let checkpoints = json!([
        {"note": signed, "vkey": vkey, "origin": ORIGIN, "size": n, "root": r, "valid": true},
        {"note": tampered, "vkey": vkey, "origin": ORIGIN, "size": n, "root": r, "valid": false},
        {"note": by_other, "vkey": vkey, "origin": ORIGIN, "size": n, "root": r, "valid": false},
        {"note": forked, "vkey": vkey, "origin": ORIGIN, "size": n, "root": r, "valid": false},
        {"note": signed, "vkey": vkey, "origin": "other.example/log", "size": n, "root": r, "valid": false},
    ]);
    json!({"inclusion": inclusion, "consistency": consistency, "checkpoints": checkpoints})
}

#[test]
fn independent_checker_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cases.json");
    std::fs::write(&file, serde_json::to_vec(&cases()).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/check_proofs.py");
    let python = std::env::var("IDSEAL_INTEROP_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let out = Command::new(&python).arg(&script).arg(&file).output().unwrap_or_else(|e| {
        panic!("cannot run `{python}` ({e}): the interop test needs Python 3 with `{INSTALL_HINT}`")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("--- {python} {} ---\n{stdout}{stderr}", script.display());
    match out.status.code() {
        Some(0) => assert!(stdout.contains("0 disagreements")),
        Some(3) => panic!("Python packages for the interop test are missing; run `{INSTALL_HINT}`\n{stderr}"),
        _ => panic!("the independent checker disagreed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status),
    }
}
