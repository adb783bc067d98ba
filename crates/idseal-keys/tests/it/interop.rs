//! Interop with independent implementations: Python's jwcrypto (pyca/cryptography) and
//! dilithium-py must accept our JWK Set and compact JWS, and we must accept theirs.
//!
//! Needs Python 3 with the packages pinned in `tests/interop/requirements.txt`; the test fails,
//! never skips, when they are missing. `IDSEAL_INTEROP_PYTHON` overrides the interpreter.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use idseal_keys::{
    Algorithm, JwkSet, KeyError, KeyRing, MasterKey, VerifyingKey, new_record, sign_compact, verify_compact,
};
use idseal_types::UnixTime;
use serde_json::{Map, Value, json};

const INSTALL_HINT: &str = "pip install -r crates/idseal-keys/tests/interop/requirements.txt";

/// The same token with one payload character changed.
fn tamper(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWS: {token}");
    let p = parts[1];
    let i = p.len() / 2;
    let c = if &p[i..=i] == "A" { "B" } else { "A" };
    let changed = format!("{}.{}{c}{}.{}", parts[0], &p[..i], &p[i + 1..], parts[2]);
    assert_ne!(changed, token);
    changed
}

fn run_python(dir: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/verify_jws.py");
    let python = std::env::var("IDSEAL_INTEROP_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let out = Command::new(&python).arg(&script).arg(dir).output().unwrap_or_else(|e| {
        panic!("cannot run `{python}` ({e}): the interop test needs Python 3 with the packages of `{INSTALL_HINT}`")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("--- {} {} ---\n{stdout}{stderr}", python, script.display());
    match out.status.code() {
        Some(0) => {}
        Some(3) => panic!("Python packages for the interop test are missing; run `{INSTALL_HINT}`\n{stderr}"),
        _ => panic!(
            "the Python interop check failed ({}); if packages are missing or outdated, run `{INSTALL_HINT}`\n\
             stdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        ),
    }
}

#[test]
fn independent_implementations_accept_our_jwks_and_jws_and_we_accept_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours");
    std::fs::create_dir(&ours).unwrap();

    // Keys as production makes them: kid = RFC 7638 thumbprint, loaded through the ring.
    let master = MasterKey::generate().unwrap();
    let now = UnixTime::from_secs(1_800_000_000);
    let records = Algorithm::ALL.iter().map(|&alg| new_record(&master, alg, now).unwrap()).collect();
    let ring = KeyRing::load(records, &master, now).unwrap();
    let signers: Vec<_> = Algorithm::ALL.iter().map(|&alg| ring.signer(alg).unwrap()).collect();
    let jwks = JwkSet { keys: signers.iter().map(|k| k.verifying_key().to_jwk()).collect() };
    assert_eq!(jwks, ring.jwks(), "the published JWK Set is built from the signers' public keys");

    let mut extra = Map::new();
    extra.insert("typ".into(), "JWT".into());
    let tokens: Vec<Value> = signers
        .iter()
        .map(|k| {
            let payload =
                json!({"iss": "https://idseal.test", "sub": format!("interop-{}", k.alg()), "note": "héllo ✓"})
                    .to_string();
            let token = sign_compact(k, &extra, payload.as_bytes()).unwrap();
            json!({"alg": k.alg().as_str(), "token": token, "payload": payload})
        })
        .collect();
    std::fs::write(ours.join("jwks.json"), serde_json::to_vec_pretty(&jwks).unwrap()).unwrap();
    std::fs::write(ours.join("tokens.json"), serde_json::to_vec_pretty(&tokens).unwrap()).unwrap();

    run_python(dir.path());

    // Their keys, in our JWK format (AKP for ML-DSA), through our parser.
    let theirs = dir.path().join("theirs");
    let their_jwks: JwkSet = serde_json::from_slice(&std::fs::read(theirs.join("jwks.json")).unwrap()).unwrap();
    let keys: Vec<VerifyingKey> = their_jwks
        .keys
        .iter()
        .map(|j| VerifyingKey::from_jwk(j).unwrap_or_else(|| panic!("we refuse their JWK {j:?}")))
        .collect();
    let their_tokens: Vec<Value> = serde_json::from_slice(&std::fs::read(theirs.join("tokens.json")).unwrap()).unwrap();
    assert_eq!(their_tokens.len(), 5, "4 jwcrypto tokens and 1 dilithium-py token");

    let mut covered = BTreeSet::new();
    for t in &their_tokens {
        let (label, token) = (t["label"].as_str().unwrap(), t["token"].as_str().unwrap());
        let (header, payload) =
            verify_compact(token, &keys).unwrap_or_else(|e| panic!("{label}: our verifier refused their token: {e}"));
        assert_eq!(payload, t["payload"].as_str().unwrap().as_bytes(), "{label}");
        assert_eq!(header["alg"], t["alg"], "{label}");
        assert_eq!(header["kid"], t["kid"], "{label}");
        let tampered = tamper(token);
        assert!(
            matches!(verify_compact(&tampered, &keys), Err(KeyError::InvalidSignature)),
            "{label}: our verifier ACCEPTED a tampered token"
        );
        covered.insert(header["alg"].as_str().unwrap().parse::<Algorithm>().unwrap());
        eprintln!("ok: theirs {label} verifies with idseal, tampered one fails");
    }
    assert_eq!(covered, Algorithm::ALL.into_iter().collect(), "every algorithm is exercised");
}
