//! The independent Python verifier (tests/interop/verify_scal3.py: its own P-256 arithmetic and
//! RFC 9380 hash_to_field, `cryptography` for ECDSA) accepts records made here and rejects
//! tampered ones, in both formats.
//!
//! Needs Python 3 with the packages of `tests/interop/requirements.txt`; the test fails, never
//! skips, when they are missing. `IDSEAL_INTEROP_PYTHON` overrides the interpreter.

use std::process::Command;

use idseal_scal3::ChallengeId;
use serde_json::{Value, json};

use crate::reference::reference_transcript;
use crate::{sha256, to_hex, world};

const INSTALL_HINT: &str = "pip install -r crates/idseal-scal3/tests/interop/requirements.txt";

fn flip(b: &[u8], at: usize) -> String {
    let mut b = b.to_vec();
    b[at] ^= 1;
    to_hex(&b)
}

fn cases() -> Value {
    let mut out = Vec::new();
    for seed in [21u8, 22, 23] {
        let w = world(seed);
        let hash = sha256(format!("instruction {seed}").as_bytes());
        let id = ChallengeId([seed; 32]);
        let ch = w.provider.challenge(&w.credential, id, &hash).unwrap();
        let auth = idseal_scal3::authenticate(&w.credential, &w.provider_pk, &w.pin, &ch, &hash, &[seed; 32]).unwrap();
        let sig = w.device.sign(&auth.device_message());
        let p = auth.pass(&sig).unwrap();
        let mut ledger = |_: &ChallengeId| true;
        let rec = w.provider.prove(&w.credential, &id, &hash, &p, &mut ledger).unwrap().to_bytes();
        let base = json!({
            "format": "idseal-v1",
            "vk": to_hex(&w.credential.verifying_key()),
            "device_pk": to_hex(&w.credential.device_public_key()),
            "client_data_hash": to_hex(&hash),
        });
        let mut push = |name: &str, record: String, hash: String, valid: bool| {
            let mut c = base.clone();
            c["name"] = json!(format!("{name} ({seed})"));
            c["record"] = json!(record);
            c["client_data_hash"] = json!(hash);
            c["valid"] = json!(valid);
            out.push(c);
        };
        push("good", to_hex(&rec), to_hex(&hash), true);
        push("other instruction", to_hex(&rec), to_hex(&sha256(b"x")), false);
        push("tampered c", flip(&rec, 3), to_hex(&hash), false);
        push("tampered z", flip(&rec, 40), to_hex(&hash), false);
        push("tampered tag", flip(&rec, 100), to_hex(&hash), false);
        push("tampered enc hash", flip(&rec, 120), to_hex(&hash), false);
        push("tampered device sig", flip(&rec, 150), to_hex(&hash), false);
        push("tampered binding sig", flip(&rec, 260), to_hex(&hash), false);
        push("truncated", to_hex(&rec[..273]), to_hex(&hash), false);
        let t = reference_transcript(seed);
        let rbase = json!({
            "format": "reference-v0.2",
            "vk": to_hex(&t.vk),
            "device_pk": to_hex(&t.device_pk),
            "authenticator": to_hex(&t.authenticator),
            "proof": to_hex(&t.proof),
            "client": to_hex(&t.client),
            "client_data_hash": to_hex(&t.hash),
        });
        let mut good = rbase.clone();
        good["name"] = json!(format!("reference good ({seed})"));
        good["valid"] = json!(true);
        out.push(good);
        let mut bad = rbase.clone();
        bad["name"] = json!(format!("reference tampered z ({seed})"));
        bad["client"] = json!(flip(&t.client, 120));
        bad["valid"] = json!(false);
        out.push(bad);
        let mut bad = rbase;
        bad["name"] = json!(format!("reference tampered tag ({seed})"));
        bad["authenticator"] = json!(flip(&t.authenticator, 40));
        bad["valid"] = json!(false);
        out.push(bad);
    }
    json!({ "cases": out })
}

#[test]
fn python_verifier_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cases.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&cases()).unwrap()).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/verify_scal3.py");
    let python = std::env::var("IDSEAL_INTEROP_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let out = Command::new(&python)
        .arg(&script)
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} ({e}); install Python 3 and {INSTALL_HINT}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "verifier failed ({INSTALL_HINT}):\n{stdout}\n{stderr}");
    // The script prints one line per case; make sure it really checked all of them.
    let n = cases()["cases"].as_array().unwrap().len();
    assert!(stdout.contains(&format!("{n} cases ok")), "unexpected output:\n{stdout}\n{stderr}");
}
