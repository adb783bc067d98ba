//! wsToken and response hash: round trip and tampering.

use idseal_x1280::tokens::is_nonce;
use idseal_x1280::{
    MacKey, is_session_id, nonce, response_hash, response_hash_ok, service_hash_key, session_id, ws_token, ws_token_ok,
};

fn flip_char(s: &str, i: usize) -> String {
    let mut b = s.as_bytes().to_vec();
    b[i] = if b[i] == b'a' { b'b' } else { b'a' };
    String::from_utf8(b).unwrap()
}

#[test]
fn ws_token_round_trip_and_tamper() {
    let key = MacKey::from_bytes([0x33; 32]);
    let sid = session_id([0x10; 16]);
    assert!(is_session_id(&sid));
    let token = ws_token(&key, &sid);
    assert!(ws_token_ok(&key, &sid, &token));
    for i in 0..token.len() {
        assert!(!ws_token_ok(&key, &sid, &flip_char(&token, i)), "tampered at {i}");
    }
    assert!(!ws_token_ok(&key, &session_id([0x11; 16]), &token));
    assert!(!ws_token_ok(&MacKey::from_bytes([0x34; 32]), &sid, &token));
    assert!(!ws_token_ok(&key, &sid, &format!("{token}=")));
    assert!(!ws_token_ok(&key, &sid, &token.to_uppercase()));
}

#[test]
fn response_hash_round_trip_and_tamper() {
    let master = MacKey::from_bytes([0x44; 32]);
    let service_key = service_hash_key(&master, "bar-le-central");
    // What the service receives at registration, and uses later.
    let given = MacKey::from_base64url(&service_key.to_base64url()).unwrap();
    let sid = session_id([0xab; 16]);
    let random = nonce([1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(is_nonce(&random));
    let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ0In0.c2ln";
    let hash = response_hash(&service_key, &sid, &random, jwt);
    assert!(response_hash_ok(&given, &sid, &random, jwt, &hash));
    for i in 0..hash.len() {
        assert!(!response_hash_ok(&given, &sid, &random, jwt, &flip_char(&hash, i)), "tampered at {i}");
    }
    assert!(!response_hash_ok(&given, &sid, &nonce([1, 2, 3, 4, 5, 6, 7, 9]), jwt, &hash));
    assert!(!response_hash_ok(&given, &sid, &random, "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln", &hash));
    assert!(!response_hash_ok(&given, &session_id([0xac; 16]), &random, jwt, &hash));
    // Another service's key, and the master key itself, do not verify.
    assert!(!response_hash_ok(&service_hash_key(&master, "other"), &sid, &random, jwt, &hash));
    assert!(!response_hash_ok(&master, &sid, &random, jwt, &hash));
    assert!(!response_hash_ok(&given, &sid, &random, jwt, &hash.to_uppercase()));
}
