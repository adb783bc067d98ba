//! SCAL3 over HTTP (docs/scal3.md, "Integration plan"), on both backends: a phone enrols a
//! credential, authorises a high-risk instruction with device key and PIN, the record lands in
//! the log before the instruction runs and verifies with the public parts only; wrong PINs are
//! counted and lock; challenges are single use; high-risk approvals and self-revocation need
//! SCAL3 once a credential exists.

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64U};
use idseal_scal3::{Challenge, Credential};
use idseal_x1280::DeviceKey;
use serde_json::{Value, json};

use crate::passwordless_support::{Phone, Pl, approve, server};
use crate::support::{T0, TestDb, get, post};

both_backends!(scal3_authorises_high_risk_instructions, scal3_wrong_pins_lock);

/// SEC1 compressed form of the phone's key (the last 65 bytes of its SPKI are the point).
fn compressed(key: &DeviceKey) -> [u8; 33] {
    let spki = key.public_key().spki_der();
    let point = &spki[spki.len() - 65..];
    let mut out = [0u8; 33];
    out[0] = 2 + (point[64] & 1);
    out[1..].copy_from_slice(&point[1..33]);
    out
}

/// The raw `r || s` of a DER ECDSA signature.
fn raw_signature(der: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    let mut i = 2; // SEQUENCE, length (short form for P-256)
    for half in 0..2 {
        assert_eq!(der[i], 0x02);
        let len = usize::from(der[i + 1]);
        let int = &der[i + 2..i + 2 + len];
        let int = &int[int.len().saturating_sub(32)..];
        out[half * 32 + 32 - int.len()..half * 32 + 32].copy_from_slice(int);
        i += 2 + len;
    }
    out
}

struct Scal3Phone<'a> {
    pl: &'a Pl,
    phone: &'a Phone,
    kem: [u8; 65],
    credential: Credential,
}

impl Scal3Phone<'_> {
    /// Challenge, then [`Self::prove`]; also returns the challenge id.
    async fn authorize(&self, instruction: Value, pin: &[u8; 32]) -> (crate::support::Resp, String) {
        let body = json!({"tokenId": self.phone.token_id, "instruction": instruction});
        let r = post("/scal3/challenge").json(&body.to_string()).send(&self.pl.s.app).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let c = r.json();
        (self.prove(&c, pin).await, c["challengeId"].as_str().unwrap().to_owned())
    }

    /// Authenticate with `pin` to the challenge `c`, device signature, pass, prove.
    async fn prove(&self, c: &Value, pin: &[u8; 32]) -> crate::support::Resp {
        let challenge = Challenge::from_bytes(&B64U.decode(c["challenge"].as_str().unwrap()).unwrap()).unwrap();
        let text = c["instruction"].as_str().unwrap();
        let hash: [u8; 32] =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes()).as_ref().try_into().unwrap();
        let mut randomness = [0u8; 32];
        aws_lc_rs::rand::fill(&mut randomness).unwrap();
        let auth =
            idseal_scal3::authenticate(&self.credential, &self.kem, pin, &challenge, &hash, &randomness).unwrap();
        let sig = raw_signature(&self.phone.key.sign(&auth.device_message()).unwrap());
        let pass = auth.pass(&sig).unwrap();
        let body = json!({"challengeId": c["challengeId"], "pass": B64U.encode(pass.to_bytes())});
        post("/scal3/prove").json(&body.to_string()).send(&self.pl.s.app).await
    }
}

async fn scal3_authorises_high_risk_instructions(db: &TestDb) {
    let pl = server(db, |c| c.scal3.max_pin_attempts = 2).await;
    let scopes = ["identity:full", "identity:name"];
    let (svc, _) = pl.service("bar-le-central", &scopes).await;
    let phone = pl.phone(3).await;
    let pin = [7u8; 32];

    // Enrolment: signed by the enrolled key, the credential must name it.
    let kem: [u8; 65] = B64U
        .decode(get("/scal3/provider-key").send(&pl.s.app).await.json()["kemPublicKey"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let mut randomness = [0u8; 32];
    aws_lc_rs::rand::fill(&mut randomness).unwrap();
    let credential = idseal_scal3::enrol(&kem, &compressed(&phone.key), &pin, &randomness).unwrap();
    let bytes = credential.to_bytes();
    let enrol = |key: &DeviceKey, bytes: &[u8]| {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        let msg = format!("scal3-enrol|{}|{T0}|{hex}", phone.token_id);
        json!({"tokenId": phone.token_id, "credential": B64U.encode(bytes), "timestamp": T0,
               "signatureBase64": STANDARD.encode(key.sign(msg.as_bytes()).unwrap())})
        .to_string()
    };
    let stranger = DeviceKey::generate().unwrap();
    post("/scal3/enrol")
        .json(&enrol(&stranger, &bytes))
        .send(&pl.s.app)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_signature");
    let other = idseal_scal3::enrol(&kem, &compressed(&stranger), &pin, &randomness).unwrap();
    post("/scal3/enrol")
        .json(&enrol(&phone.key, &other.to_bytes()))
        .send(&pl.s.app)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_credential");
    let mut tampered = bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    post("/scal3/enrol")
        .json(&enrol(&phone.key, &tampered))
        .send(&pl.s.app)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_credential");
    let r = post("/scal3/enrol").json(&enrol(&phone.key, &bytes)).send(&pl.s.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    post("/scal3/enrol")
        .json(&enrol(&phone.key, &bytes))
        .send(&pl.s.app)
        .await
        .assert_error(StatusCode::CONFLICT, "already_enrolled");
    let p = Scal3Phone { pl: &pl, phone: &phone, kem, credential };

    // A high-risk approval now needs a SCAL3 authorisation for exactly this session and grant.
    let s = pl.initiate(&phone, &svc, &scopes).await;
    let sid = s["sessionId"].as_str().unwrap();
    let otp = s["autoPassword"].as_str().unwrap();
    pl.verify(&approve(&phone, &phone.key, sid, otp, T0, &["identity:full"]))
        .await
        .assert_error(StatusCode::FORBIDDEN, "scal3_required");
    let body = json!({"tokenId": phone.token_id,
                      "instruction": {"op": "approve_login", "sessionId": sid, "grantedScopes": ["identity:full"]}});
    let c = post("/scal3/challenge").json(&body.to_string()).send(&pl.s.app).await.json();
    let challenge = c["challengeId"].as_str().unwrap().to_owned();
    let r = p.prove(&c, &pin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let proved = r.json();
    // A challenge is proved once: a second pass for it (new subscriber nonces) is refused, so
    // the provider never signs twice with the same nonces.
    p.prove(&c, &pin).await.assert_error(StatusCode::NOT_FOUND, "challenge_not_found");
    let mut body = approve(&phone, &phone.key, sid, otp, T0, &["identity:full"]);
    body["scal3ChallengeId"] = json!(challenge);
    let r = pl.verify(&body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // The record is in the log and verifies with the public parts only.
    let index = proved["logIndex"].as_u64().unwrap();
    let entry = pl.s.state.store.tlog_entry(index).await.unwrap().unwrap();
    let record = B64U.decode(proved["record"].as_str().unwrap()).unwrap();
    let hex: String = record.iter().map(|b| format!("{b:02x}")).collect();
    assert!(String::from_utf8_lossy(&entry.data).contains(&hex));
    let text = proved["instruction"].as_str().unwrap();
    let hash: [u8; 32] =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes()).as_ref().try_into().unwrap();
    p.credential.verify_record(&record, &hash).unwrap();
    let other_hash = [0u8; 32];
    assert!(
        p.credential.verify_record(&record, &other_hash).is_err(),
        "a record does not pass for another instruction"
    );

    // Self-revocation by plain signature is refused; a wrong PIN is counted, then locks.
    let sig = STANDARD.encode(phone.key.sign(idseal_x1280::revoke_message(&phone.token_id, T0).as_bytes()).unwrap());
    let plain = json!({"tokenId": phone.token_id, "timestamp": T0, "signatureBase64": sig}).to_string();
    post("/enroll/revoke").json(&plain).send(&pl.s.app).await.assert_error(StatusCode::FORBIDDEN, "scal3_required");
    let wrong = [8u8; 32];
    let (r, _) = p.authorize(json!({"op": "revoke_enrollment"}), &wrong).await;
    r.assert_error(StatusCode::FORBIDDEN, "pin_mismatch");
    // The right PIN resets the count; the revocation runs after its record is logged.
    let (r, _) = p.authorize(json!({"op": "revoke_enrollment"}), &pin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(pl.s.state.store.enrollment(&phone.token_id).await.unwrap().unwrap().is_revoked);
    assert_eq!(pl.s.audit_count("SCAL3_AUTHORIZE").await, 2);
    assert_eq!(pl.s.audit_count("SCAL3_PIN_FAILURE").await, 1);
    // Bad instructions and unknown challenges.
    let bad = json!({"tokenId": phone.token_id, "instruction": {"op": "transfer_all_money"}}).to_string();
    assert_eq!(post("/scal3/challenge").json(&bad).send(&pl.s.app).await.status, StatusCode::BAD_REQUEST);
}

async fn scal3_wrong_pins_lock(db: &TestDb) {
    let pl = server(db, |c| c.scal3.max_pin_attempts = 2).await;
    let phone = pl.phone(2).await;
    let kem: [u8; 65] = B64U
        .decode(get("/scal3/provider-key").send(&pl.s.app).await.json()["kemPublicKey"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let pin = [1u8; 32];
    let credential = idseal_scal3::enrol(&kem, &compressed(&phone.key), &pin, &[3u8; 32]).unwrap();
    let bytes = credential.to_bytes();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let msg = format!("scal3-enrol|{}|{T0}|{hex}", phone.token_id);
    let body = json!({"tokenId": phone.token_id, "credential": B64U.encode(&bytes), "timestamp": T0,
                      "signatureBase64": STANDARD.encode(phone.key.sign(msg.as_bytes()).unwrap())});
    assert_eq!(post("/scal3/enrol").json(&body.to_string()).send(&pl.s.app).await.status, StatusCode::OK);
    let p = Scal3Phone { pl: &pl, phone: &phone, kem, credential };
    let (r, _) = p.authorize(json!({"op": "revoke_enrollment"}), &[9u8; 32]).await;
    r.assert_error(StatusCode::FORBIDDEN, "pin_mismatch");
    let (r, _) = p.authorize(json!({"op": "revoke_enrollment"}), &[9u8; 32]).await;
    r.assert_error(StatusCode::LOCKED, "locked");
    // Locked: even the right PIN gets no challenge.
    let body = json!({"tokenId": phone.token_id, "instruction": {"op": "revoke_enrollment"}}).to_string();
    post("/scal3/challenge").json(&body).send(&pl.s.app).await.assert_error(StatusCode::LOCKED, "locked");
    assert!(!pl.s.state.store.enrollment(&phone.token_id).await.unwrap().unwrap().is_revoked);
}
