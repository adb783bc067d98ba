#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use base64::Engine as _;
use idseal_keys::{Algorithm, SigningKey, sign_compact};

use super::*;

const ISSUER: &str = "http://127.0.0.1:1";
const SESSION: &str = "sess_0123456789abcdef0123456789abcdef";
const RANDOM: &str = "a1b2c3d4e5f67890";
const NOW: i64 = 1_800_000_000;

fn mac(byte: u8) -> MacKey {
    MacKey::from_base64url(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([byte; 32])).unwrap()
}

fn jwt(key: &SigningKey, change: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut claims = json!({"iss": ISSUER, "aud": SERVICE_ID, "sub": "pairwise", "iat": NOW, "exp": NOW + 3600,
                            "nonce": RANDOM, "sid": SESSION, "age_over_18": true})
    .as_object()
    .cloned()
    .unwrap();
    change(&mut claims);
    let header = json!({"typ": "JWT"}).as_object().cloned().unwrap();
    sign_compact(key, &header, &serde_json::to_vec(&claims).unwrap()).unwrap()
}

fn check(token: &str, hash: &str, keys: &[VerifyingKey], key: &MacKey) -> anyhow::Result<Map<String, Value>> {
    let e = Expected { issuer: ISSUER, audience: SERVICE_ID, session: SESSION, random: RANDOM, hash_key: key };
    check_result(token, hash, keys, &e, UnixTime::from_secs(NOW))
}

#[test]
fn a_genuine_result_passes_and_every_substitution_is_refused() {
    let signer = SigningKey::generate(Algorithm::Es256, "es").unwrap();
    let keys = [signer.verifying_key()];
    let service = mac(1);
    let good = jwt(&signer, |_| {});
    let hash = idseal_x1280::response_hash(&service, SESSION, RANDOM, &good);
    assert_eq!(check(&good, &hash, &keys, &service).unwrap()["age_over_18"], true);

    let fails = |token: &str, hash: &str, keys: &[VerifyingKey], key: &MacKey, why: &str| {
        let err = check(token, hash, keys, key).unwrap_err().to_string();
        assert!(err.contains(why), "{err} lacks {why}");
    };
    // hash under another service's key, or for another JWT
    fails(&good, &hash, &keys, &mac(2), "hash");
    let other = jwt(&signer, |c| {
        c.insert("age_over_18".into(), false.into());
    });
    fails(&other, &hash, &keys, &service, "hash");
    // someone else's login: another random, session or audience
    for (k, v, why) in [("nonce", "0000000000000000", "nonce"), ("sid", "sess_other", "sid"), ("aud", "evil", "aud")] {
        let t = jwt(&signer, |c| {
            c.insert(k.into(), v.into());
        });
        let h = idseal_x1280::response_hash(&service, SESSION, RANDOM, &t);
        fails(&t, &h, &keys, &service, why);
    }
    // expired, or from another issuer
    for (k, v) in [("exp", json!(NOW - 1)), ("iss", json!("http://evil.example"))] {
        let t = jwt(&signer, |c| {
            c.insert(k.into(), v);
        });
        let h = idseal_x1280::response_hash(&service, SESSION, RANDOM, &t);
        fails(&t, &h, &keys, &service, "does not verify");
    }
    // signed by a key not in the JWKS
    let stranger = SigningKey::generate(Algorithm::Es256, "es").unwrap();
    let forged = jwt(&stranger, |_| {});
    let h = idseal_x1280::response_hash(&service, SESSION, RANDOM, &forged);
    fails(&forged, &h, &keys, &service, "does not verify");
    // a valid signature of another algorithm
    let ed = SigningKey::generate(Algorithm::EdDsa, "ed").unwrap();
    let t = jwt(&ed, |_| {});
    let h = idseal_x1280::response_hash(&service, SESSION, RANDOM, &t);
    fails(&t, &h, &[ed.verifying_key()], &service, "not ES256");
    // a tampered payload
    let mut parts: Vec<&str> = good.split('.').collect();
    let tampered_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"{\"aud\":\"demo-shop\"}");
    parts[1] = &tampered_payload;
    let t = parts.join(".");
    fails(&t, &idseal_x1280::response_hash(&service, SESSION, RANDOM, &t), &keys, &service, "does not verify");
}

#[test]
fn the_demo_refuses_a_used_directory() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(WorkDir::open(Some(dir.path())).unwrap(), WorkDir::Given(_)));
    let fresh = dir.path().join("new/nested");
    assert_eq!(WorkDir::open(Some(&fresh)).unwrap().path(), fresh.as_path());
    std::fs::write(dir.path().join("idseal.db"), b"x").unwrap();
    let err = WorkDir::open(Some(dir.path())).err().unwrap().to_string();
    assert!(err.contains("not empty"), "{err}");
}

#[test]
fn chain_only_writes_a_verifiable_seal_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let v = write_chain("http://127.0.0.1:9/trust", dir.path(), 3).unwrap();
    assert_eq!(v["governanceLocation"], "http://127.0.0.1:9/trust/governance.xml");
    let seal = std::fs::read_to_string(dir.path().join("identity.vds")).unwrap();
    let decoded = idseal_vds::decode(&seal).unwrap();
    let id = decoded.vds().payload.as_identity().unwrap();
    assert_eq!((id.family_name.as_str(), id.trust_level), ("SPECIMEN", TrustLevel::NfcBiometric));
    assert_eq!(v["tokenId"], id.token_id_string());
    for f in crate::demo_chain::LIST_FILES {
        assert!(dir.path().join("trust").join(f).is_file(), "{f}");
    }
    assert!(write_chain("ftp://x", dir.path(), 2).is_err());
    assert!(write_chain("http://127.0.0.1:9/trust", dir.path(), 4).is_err());
}
