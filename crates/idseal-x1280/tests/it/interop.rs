//! The autoPassword, wsToken, service key and response hash checked against
//! `tests/interop/otp_vectors.py`, an independent implementation on the Python 3.11 standard
//! library (HKDF written from RFC 5869). Fails, never skips, when `python3` is missing;
//! `IDSEAL_INTEROP_PYTHON` overrides the interpreter.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use idseal_x1280::{MacKey, OtpSecret, auto_password, response_hash, service_hash_key, ws_token};
use serde_json::{Value, json};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn python(request: &Value) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/otp_vectors.py");
    let interpreter = std::env::var("IDSEAL_INTEROP_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let mut child = Command::new(&interpreter)
        .arg(&script)
        .arg("--json")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {interpreter} (Python 3.11+ is required for this test): {e}"));
    child.stdin.take().unwrap().write_all(request.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "otp_vectors.py failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn secrets() -> Vec<[u8; 32]> {
    let mut counting = [0u8; 32];
    for (i, b) in counting.iter_mut().enumerate() {
        *b = u8::try_from(i).unwrap().wrapping_mul(37).wrapping_add(11);
    }
    vec![[0x00; 32], [0xff; 32], counting, [0x42; 32]]
}

const IDS: [(&str, &str); 6] = [
    ("6f1c8c4e-2b7a-4d1e-9a43-0c2f6b8d9e10", "sess_0123456789abcdef0123456789abcdef"),
    ("VDS-FR-0042-2025-00001", "sess_ffffffffffffffffffffffffffffffff"),
    ("", ""),
    ("ab", "c"),
    ("a", "bc"),
    ("tökén-ünïcode-✓", "sess_00000000000000000000000000000000"),
];

#[test]
fn otp_matches_python() {
    let mut cases = Vec::new();
    for s in secrets() {
        for (t, sid) in IDS {
            cases.push((s, t, sid));
        }
    }
    // Up to the longest identifier the 16-bit length prefix allows.
    let long: Vec<String> = [300, 65_535].iter().map(|n| "x".repeat(*n)).collect();
    for l in &long {
        cases.push(([7; 32], l.as_str(), "sess_11111111111111111111111111111111"));
        cases.push(([7; 32], "t", l.as_str()));
    }
    let request = json!({
        "otp": cases.iter().map(|(s, t, sid)| json!({"secret": hex(s), "token_id": t, "session_id": sid})).collect::<Vec<_>>()
    });
    let answer = python(&request);
    let theirs = answer["otp"].as_array().unwrap();
    assert_eq!(theirs.len(), cases.len());
    for ((s, t, sid), want) in cases.iter().zip(theirs) {
        let ours = auto_password(&OtpSecret::from_bytes(*s), t, sid).unwrap();
        assert_eq!(ours.as_str(), want.as_str().unwrap(), "secret {} token {t:?} session {sid:?}", hex(s));
    }
}

#[test]
fn macs_match_python() {
    let keys: Vec<[u8; 32]> = secrets();
    let sids = ["sess_0123456789abcdef0123456789abcdef", "", "sess_x|y"];
    let services = ["bar-le-central", "", "svc-ünïcode"];
    let jwts = ["eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ0In0.c2ln", "", "a|b"];
    let mut ws = Vec::new();
    let mut svc = Vec::new();
    let mut resp = Vec::new();
    for k in &keys {
        for sid in sids {
            ws.push(json!({"key": hex(k), "session_id": sid}));
        }
        for s in services {
            svc.push(json!({"key": hex(k), "service_id": s}));
        }
        for (sid, jwt) in sids.iter().zip(jwts) {
            resp.push(json!({"service_key": hex(k), "session_id": sid, "random": "a1b2c3d4e5f67890", "jwt": jwt}));
        }
    }
    let answer = python(&json!({"ws_token": ws, "service_key": svc, "response_hash": resp}));

    let mut i = 0;
    for k in &keys {
        let key = MacKey::from_bytes(*k);
        for sid in sids {
            assert_eq!(answer["ws_token"][i], ws_token(&key, sid).as_str(), "ws_token {sid:?}");
            i += 1;
        }
    }
    let mut i = 0;
    for k in &keys {
        let key = MacKey::from_bytes(*k);
        for s in services {
            assert_eq!(answer["service_key"][i], hex(service_hash_key(&key, s).as_bytes()).as_str(), "service {s:?}");
            i += 1;
        }
    }
    let mut i = 0;
    for k in &keys {
        let key = MacKey::from_bytes(*k);
        for (sid, jwt) in sids.iter().zip(jwts) {
            assert_eq!(answer["response_hash"][i], response_hash(&key, sid, "a1b2c3d4e5f67890", jwt).as_str());
            i += 1;
        }
    }
}
