//! Passwordless login (docs/passwordless.md) end to end over HTTP and WebSockets, on both
//! backends: enrollment, initiate, the browser's socket and the phone's channel, verify with
//! every refusal, revocation, the admin API, and the direct-integration result.

use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
use idseal_x1280::DeviceKey;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::passwordless_support::{approve, claims, enroll_body, reject, server};
use crate::support::{T0, TestDb, get, post};

both_backends!(
    direct_login_end_to_end,
    enrollment_refusals,
    initiate_refusals,
    verify_refusals,
    attempts_are_counted_atomically,
    revocation_ends_everything,
    socket_close_codes,
    socket_limits,
    admin_api,
);

pub type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A WebSocket client over plain TCP (`ws://127.0.0.1:port/...`).
pub async fn connect(url: &str) -> Ws {
    let addr = url.trim_start_matches("ws://").split('/').next().unwrap().to_owned();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio_tungstenite::client_async(url, tcp).await.unwrap().0
}

/// The next JSON text message, or the close code.
pub async fn next(ws: &mut Ws) -> Result<Value, u16> {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a WebSocket message in time");
        match m {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(f))) => return Err(f.map_or(1005, |f| u16::from(f.code))),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("WebSocket error: {e}"),
            None => return Err(1006),
        }
    }
}

/// Opens the phone's channel and answers the challenge with `key`.
pub async fn channel(pl_ws: &str, token_id: &str, key: &DeviceKey) -> Ws {
    let mut ws = connect(&format!("{pl_ws}/ws/device/{token_id}")).await;
    let challenge = next(&mut ws).await.unwrap();
    assert_eq!(challenge["type"], "challenge");
    let msg = idseal_x1280::channel_message(token_id, challenge["nonce"].as_str().unwrap());
    let sig = base64::engine::general_purpose::STANDARD.encode(key.sign(msg.as_bytes()).unwrap());
    ws.send(Message::Text(json!({"type": "auth", "signatureBase64": sig}).to_string().into())).await.unwrap();
    ws
}

const SCOPES: [&str; 4] = ["identity:name", "identity:age_over_18", "identity:date_of_birth", "identity:trust_level"];

async fn direct_login_end_to_end(db: &TestDb) {
    let pl = server(db, |_| {}).await;
    let (svc, hash_key) = pl.service("bar-le-central", &SCOPES).await;
    let phone = pl.phone(3).await;
    let mut device = channel(&pl.ws(""), &phone.token_id, &phone.key).await;
    assert_eq!(next(&mut device).await.unwrap()["type"], "ready");

    let started = pl.initiate(&phone, &svc, &["identity:name", "identity:age_over_18", "identity:date_of_birth"]).await;
    let session = started["sessionId"].as_str().unwrap();
    let otp = started["autoPassword"].as_str().unwrap();
    assert!(session.starts_with("sess_") && otp.len() == 6 && started["random"].as_str().unwrap().len() == 16);
    let mut browser =
        connect(&pl.ws(&format!("/ws/session/{session}?token={}", started["wsToken"].as_str().unwrap()))).await;
    let ready = next(&mut browser).await.unwrap();
    assert_eq!((ready["type"].as_str(), ready["autoPassword"].as_str()), (Some("otp_ready"), Some(otp)));

    // The phone learns of the login with the verified service and the same code.
    let push = next(&mut device).await.unwrap();
    assert_eq!(push["type"], "login_request");
    assert_eq!(push["sessionId"], session);
    assert_eq!(push["autoPassword"], otp);
    assert_eq!(push["serviceName"], "Bar Le Central");
    assert_eq!(push["serviceVerified"], "true");
    assert_eq!(push["serviceUrl"], "https://bar.example");

    // The user shares less than asked: no date of birth.
    let body = approve(&phone, &phone.key, session, otp, T0, &["identity:name", "identity:age_over_18"]);
    let r = pl.verify(&body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let out = r.json();
    let jwt = out["jwt"].as_str().unwrap();
    let event = next(&mut browser).await.unwrap();
    assert_eq!(event["type"], "approved");
    assert_eq!(event["jwt"], jwt);
    assert_eq!(event["hash"], out["hash"]);
    assert_eq!(next(&mut browser).await, Err(1000));

    // What the relying service checks: signature (JWKS), audience, nonce, hash under its key.
    let ring = pl.s.state.key_ring();
    let issuer = pl.s.state.settings.issuer.clone();
    let now = idseal_types::UnixTime::from_secs(T0);
    let verified = idseal_oauth::jwt::verify(jwt, ring.verifying_keys(), Some("JWT"), &issuer, now, true).unwrap();
    assert_eq!(verified.header["alg"], "ES256");
    assert_eq!(claims(jwt)["aud"], "bar-le-central");
    let c = verified.claims;
    assert_eq!(c["aud"], "bar-le-central");
    assert_eq!(c["nonce"], started["random"]);
    assert_eq!(c["sid"], session);
    assert_eq!(c["acr"], "http://eidas.europa.eu/LoA/high");
    assert_eq!(c["given_name"], "Maëlys");
    assert_eq!(c["age_over_18"], true);
    assert!(c.get("birthdate").is_none(), "not granted: {c:?}");
    assert!(c.get("picture").is_none() && c.get("document_number").is_none());
    assert_ne!(c["sub"], phone.token_id.as_str(), "pairwise subject");
    let key = idseal_x1280::MacKey::from_base64url(&hash_key).unwrap();
    assert!(idseal_x1280::response_hash_ok(
        &key,
        session,
        out["random"].as_str().unwrap(),
        jwt,
        out["hash"].as_str().unwrap()
    ));
    assert!(!idseal_x1280::response_hash_ok(&key, session, "0000000000000000", jwt, out["hash"].as_str().unwrap()));

    // Single use: the same answer again is a 404.
    pl.verify(&body).await.assert_error(StatusCode::NOT_FOUND, "session_not_found");
    for kind in ["ENROLL", "AUTH_INITIATE", "AUTH_APPROVE", "SERVICE_REGISTER"] {
        assert_eq!(pl.s.audit_count(kind).await, 1, "{kind}");
    }
    let approve_entry = &pl.s.audit("AUTH_APPROVE").await[0];
    let details = approve_entry.details.to_string();
    assert!(details.contains("identity:age_over_18"), "{details}");
    assert!(!details.contains(otp), "the code is never logged");
}

async fn enrollment_refusals(db: &TestDb) {
    let pl = server(db, |_| {}).await;
    let (vds, _) = pl.seal(2, "1990-02-28");
    let key = DeviceKey::generate().unwrap();
    let pem = key.public_key().to_pem();
    let send = |body: String, ip: &'static str| {
        let app = pl.s.app.clone();
        async move { post("/enroll").json(&body).from(ip).send(&app).await }
    };
    // Malformed bodies and keys: 400, nothing stored.
    send("{}".into(), "10.0.0.1").await.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    send(enroll_body(&vds, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "d"), "10.0.0.1")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_public_key");
    send(enroll_body(&vds, &pem, "bad device id!"), "10.0.0.1")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let mut forged = vds.clone();
    forged.replace_range(40..41, if &vds[40..41] == "A" { "B" } else { "A" });
    let r = send(enroll_body(&forged, &pem, "d"), "10.0.0.2").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_vds");
    // A service seal is not an identity.
    let svc = pl.demo.issue_service(
        "svc",
        "Svc",
        "https://svc.example",
        &["identity:name"],
        idseal_types::UnixTime::from_secs(T0 - 60),
    );
    send(enroll_body(&svc, &pem, "d"), "10.0.0.2").await.assert_error(StatusCode::BAD_REQUEST, "invalid_vds");
    assert_eq!(pl.s.state.store.list_enrollments(&filter()).await.unwrap().1, 0);

    // Enrolled once; the same token again, the same key for another token: 409.
    let r = send(enroll_body(&vds, &pem, "d"), "10.0.0.3").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["trustLevel"], 2);
    send(enroll_body(&vds, &DeviceKey::generate().unwrap().public_key().to_pem(), "d"), "10.0.0.3")
        .await
        .assert_error(StatusCode::CONFLICT, "already_enrolled");
    let (other, _) = pl.seal(2, "1990-02-28");
    send(enroll_body(&other, &pem, "d"), "10.0.0.3").await.assert_error(StatusCode::CONFLICT, "key_in_use");
    assert!(pl.s.audit_count("ENROLL_FAIL").await >= 2);
    assert!(pl.s.audit_count("VDS_VERIFY_FAIL").await >= 1);

    // 5 per hour per IP.
    for i in 0..2 {
        let (v, _) = pl.seal(1, "1990-02-28");
        let k = DeviceKey::generate().unwrap().public_key().to_pem();
        assert_eq!(send(enroll_body(&v, &k, &format!("d{i}")), "10.0.0.3").await.status, StatusCode::OK);
    }
    let (v, _) = pl.seal(1, "1990-02-28");
    let k = DeviceKey::generate().unwrap().public_key().to_pem();
    let r = send(enroll_body(&v, &k, "d9"), "10.0.0.3").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
}

pub fn filter() -> idseal_store::EnrollmentFilter {
    idseal_store::EnrollmentFilter {
        token_id_contains: None,
        device_id: None,
        trust_level: None,
        is_revoked: None,
        created_from: None,
        created_to: None,
        page: 1,
        limit: 100,
    }
}

async fn initiate_refusals(db: &TestDb) {
    let pl = server(db, |_| {}).await;
    let (svc, _) = pl.service("bar-le-central", &["identity:name", "identity:age_over_18"]).await;
    let phone = pl.phone(2).await;
    let send = |body: Value| {
        let app = pl.s.app.clone();
        async move { post("/auth/initiate").json(&body.to_string()).send(&app).await }
    };
    let tid = phone.token_id.clone();
    send(json!({"tokenId": "nope", "serviceVds": svc})).await.assert_error(StatusCode::BAD_REQUEST, "invalid_token_id");
    send(json!({"tokenId": "00000000-0000-0000-0000-000000000000", "serviceVds": svc}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "enrollment_not_found");
    send(json!({"tokenId": tid, "serviceVds": svc, "scopes": ["identity:full"]}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_scopes");
    send(json!({"tokenId": tid, "serviceVds": svc, "scopes": ["identity:shoe_size"]}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_scope");
    send(json!({"tokenId": tid, "serviceId": "nobody"})).await.assert_error(StatusCode::BAD_REQUEST, "unknown_service");
    send(json!({"tokenId": tid, "serviceId": "bar-le-central", "serviceVds": svc}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    // A forged Service VDS (one character changed) and a genuine but unregistered one.
    let mut forged = svc.clone();
    forged.replace_range(30..31, if &svc[30..31] == "A" { "B" } else { "A" });
    let r = send(json!({"tokenId": tid, "serviceVds": forged})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let stranger = pl.demo.issue_service(
        "stranger",
        "Bar Le Central",
        "https://evil.example",
        &["identity:name"],
        idseal_types::UnixTime::from_secs(T0 - 60),
    );
    send(json!({"tokenId": tid, "serviceVds": stranger}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "service_not_registered");
    // A genuine seal for the registered id but another origin (or not the registered seal).
    let lookalike = pl.demo.issue_service(
        "bar-le-central",
        "Bar Le Central",
        "https://bar-login.example",
        &["identity:name"],
        idseal_types::UnixTime::from_secs(T0 - 60),
    );
    send(json!({"tokenId": tid, "serviceVds": lookalike}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "service_vds_mismatch");
    // Legacy service id: allowed, shown unverified; defaults apply.
    let r = send(json!({"tokenId": tid, "serviceId": "bar-le-central"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let row = pl.s.state.store.auth_session(r.json()["sessionId"].as_str().unwrap()).await.unwrap().unwrap();
    assert!(!row.service_verified);
    assert_eq!(row.requested_scopes, "identity:name");
    // Over the per-IP limit (10 per minute), and over the per-identity limit from many addresses
    // (10 per minute: no flood of prompts on one phone).
    let other = pl.phone(2).await;
    let mut last = StatusCode::OK;
    for _ in 0..12 {
        last = post("/auth/initiate")
            .json(&json!({"tokenId": other.token_id, "serviceVds": svc}).to_string())
            .from("10.9.9.9")
            .send(&pl.s.app)
            .await
            .status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let mut statuses = Vec::new();
    for i in 0..12 {
        let ip = format!("10.8.0.{i}");
        statuses.push(
            post("/auth/initiate")
                .json(&json!({"tokenId": tid, "serviceVds": svc}).to_string())
                .from(&ip)
                .send(&pl.s.app)
                .await
                .status,
        );
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(), 3, "{statuses:?}");
}

async fn verify_refusals(db: &TestDb) {
    let pl = server(db, |_| {}).await;
    let (svc, _) = pl.service("bar-le-central", &SCOPES).await;
    let phone = pl.phone(2).await;
    let start = |scopes: &'static [&'static str]| {
        let pl = &pl;
        let phone = &phone;
        let svc = svc.clone();
        async move {
            let s = pl.initiate(phone, &svc, scopes).await;
            (s["sessionId"].as_str().unwrap().to_owned(), s["autoPassword"].as_str().unwrap().to_owned())
        }
    };
    let err = |r: crate::support::Resp| r.json()["error"].as_str().unwrap().to_owned();
    let (sid, otp) = start(&["identity:name"]).await;
    // Malformed: 400 and no attempt used.
    let mut b = approve(&phone, &phone.key, &sid, &otp, T0, &["identity:name"]);
    b["otp"] = json!("12ab56");
    pl.verify(&b).await.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    b["otp"] = json!(otp);
    b["signatureBase64"] = json!("%%%");
    pl.verify(&b).await.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    assert_eq!(pl.s.state.store.auth_session(&sid).await.unwrap().unwrap().attempts, 0);
    // Another device's signature; a timestamp 31 s off; scopes not requested: each one attempt.
    let stranger = DeviceKey::generate().unwrap();
    assert_eq!(
        err(pl.verify(&approve(&phone, &stranger, &sid, &otp, T0, &["identity:name"])).await),
        "invalid_signature"
    );
    assert_eq!(
        err(pl.verify(&approve(&phone, &phone.key, &sid, &otp, T0 - 31, &["identity:name"])).await),
        "timestamp_skew"
    );
    let r = pl.verify(&approve(&phone, &phone.key, &sid, &otp, T0, &["identity:date_of_birth"])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    // The third failure ended the session.
    let row = pl.s.state.store.auth_session(&sid).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.reject_reason.as_deref()), ("rejected", Some("Too many attempts")));
    pl.verify(&approve(&phone, &phone.key, &sid, &otp, T0, &["identity:name"]))
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");

    // Wrong code three times, then 429 even with the right one.
    let (sid, otp) = start(&["identity:name"]).await;
    let wrong = if otp == "000000" { "000001" } else { "000000" };
    for _ in 0..3 {
        let r = pl.verify(&approve(&phone, &phone.key, &sid, wrong, T0, &["identity:name"])).await;
        r.assert_error(StatusCode::UNAUTHORIZED, "invalid_otp");
    }
    pl.verify(&approve(&phone, &phone.key, &sid, &otp, T0, &["identity:name"]))
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");

    // Expired: 61 s later.
    let (sid, otp) = start(&["identity:name"]).await;
    pl.s.advance(61);
    let r = pl.verify(&approve(&phone, &phone.key, &sid, &otp, T0 + 61, &["identity:name"])).await;
    r.assert_error(StatusCode::NOT_FOUND, "session_not_found");
    assert_eq!(idseal_server::x1280::expire_sessions(&pl.s.state).await.unwrap(), 1);
    assert_eq!(pl.s.audit_count("AUTH_EXPIRE").await, 1);
    let now = T0 + 61;

    // Approving needs the enrolled seal; another person's seal is refused.
    let (sid, otp) = start(&["identity:name"]).await;
    let mut b = approve(&phone, &phone.key, &sid, &otp, now, &["identity:name"]);
    b.as_object_mut().unwrap().remove("vdsData");
    pl.verify(&b).await.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let (other, _) = pl.seal(2, "1990-02-28");
    b["vdsData"] = json!(other);
    pl.verify(&b).await.assert_error(StatusCode::BAD_REQUEST, "vds_mismatch");
    // Unknown and made-up sessions.
    b["sessionId"] = json!("sess_00000000000000000000000000000000");
    pl.verify(&b).await.assert_error(StatusCode::NOT_FOUND, "session_not_found");

    // Declined on the phone: resolved; the browser hears "rejected".
    let (sid, otp) = start(&["identity:name"]).await;
    let r = pl.verify(&reject(&phone, &sid, &otp, now)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["status"], "rejected");
    pl.verify(&approve(&phone, &phone.key, &sid, &otp, now, &["identity:name"]))
        .await
        .assert_error(StatusCode::NOT_FOUND, "session_not_found");
    // An approval signature does not pass as a refusal.
    let (sid, otp) = start(&["identity:name"]).await;
    let mut b = approve(&phone, &phone.key, &sid, &otp, now, &[]);
    b["decision"] = json!("reject");
    pl.verify(&b).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_signature");
}

async fn attempts_are_counted_atomically(db: &TestDb) {
    let pl = server(db, |_| {}).await;
    let (svc, _) = pl.service("bar-le-central", &SCOPES).await;
    let phone = pl.phone(2).await;
    let s = pl.initiate(&phone, &svc, &["identity:name"]).await;
    let sid = s["sessionId"].as_str().unwrap();
    let otp = s["autoPassword"].as_str().unwrap();
    let wrong = if otp == "999999" { "999998" } else { "999999" };
    let body = approve(&phone, &phone.key, sid, wrong, T0, &["identity:name"]);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let app = pl.s.app.clone();
        let b = body.to_string();
        tasks.push(tokio::spawn(async move { post("/auth/verify").json(&b).send(&app).await.status }));
    }
    let mut counted = 0;
    for t in tasks {
        let status = t.await.unwrap();
        assert!(
            status == StatusCode::UNAUTHORIZED
                || status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::NOT_FOUND,
            "{status}"
        );
        counted += usize::from(status == StatusCode::UNAUTHORIZED);
    }
    assert_eq!(counted, 3, "exactly three attempts were checked");
    // Concurrent right answers: one approval.
    let s = pl.initiate(&phone, &svc, &["identity:name"]).await;
    let body = approve(
        &phone,
        &phone.key,
        s["sessionId"].as_str().unwrap(),
        s["autoPassword"].as_str().unwrap(),
        T0,
        &["identity:name"],
    );
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let app = pl.s.app.clone();
        let b = body.to_string();
        tasks.push(tokio::spawn(async move { post("/auth/verify").json(&b).send(&app).await.status }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap() == StatusCode::OK);
    }
    assert_eq!(ok, 1);
}

async fn revocation_ends_everything(db: &TestDb) {
    let pl = server(db, |_| {}).await;
    let (svc, _) = pl.service("bar-le-central", &SCOPES).await;
    let phone = pl.phone(2).await;
    let mut device = channel(&pl.ws(""), &phone.token_id, &phone.key).await;
    assert_eq!(next(&mut device).await.unwrap()["type"], "ready");
    let pending = pl.initiate(&phone, &svc, &["identity:name"]).await;
    assert_eq!(next(&mut device).await.unwrap()["type"], "login_request");
    // A signature by another key does not revoke; the phone's own does.
    let ts = T0;
    let signed = |k: &DeviceKey| {
        let sig = base64::engine::general_purpose::STANDARD
            .encode(k.sign(idseal_x1280::revoke_message(&phone.token_id, ts).as_bytes()).unwrap());
        json!({"tokenId": phone.token_id, "timestamp": ts, "signatureBase64": sig}).to_string()
    };
    let stranger = DeviceKey::generate().unwrap();
    post("/enroll/revoke")
        .json(&signed(&stranger))
        .send(&pl.s.app)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_signature");
    let r = post("/enroll/revoke").json(&signed(&phone.key)).send(&pl.s.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(next(&mut device).await, Err(4004), "the channel closes");
    post("/enroll/revoke")
        .json(&signed(&phone.key))
        .send(&pl.s.app)
        .await
        .assert_error(StatusCode::CONFLICT, "already_revoked");
    // Pending login gone, new ones refused, re-enrollment refused.
    let body = approve(
        &phone,
        &phone.key,
        pending["sessionId"].as_str().unwrap(),
        pending["autoPassword"].as_str().unwrap(),
        T0,
        &["identity:name"],
    );
    assert_eq!(pl.verify(&body).await.status, StatusCode::NOT_FOUND);
    let r = post("/auth/initiate")
        .json(&json!({"tokenId": phone.token_id, "serviceVds": svc}).to_string())
        .send(&pl.s.app)
        .await;
    r.assert_error(StatusCode::FORBIDDEN, "enrollment_revoked");
    let r = post("/enroll")
        .json(&enroll_body(&phone.vds, &DeviceKey::generate().unwrap().public_key().to_pem(), "x"))
        .send(&pl.s.app)
        .await;
    r.assert_error(StatusCode::CONFLICT, "token_revoked");
    // A revoked phone cannot open its channel.
    let mut again = connect(&pl.ws(&format!("/ws/device/{}", phone.token_id))).await;
    assert_eq!(next(&mut again).await, Err(4004));
    assert_eq!(pl.s.audit_count("REVOKE").await, 1);
}

async fn socket_close_codes(db: &TestDb) {
    let pl = server(db, |_| {}).await;
    let (svc, _) = pl.service("bar-le-central", &SCOPES).await;
    let phone = pl.phone(2).await;
    let s = pl.initiate(&phone, &svc, &["identity:name"]).await;
    let sid = s["sessionId"].as_str().unwrap();
    let token = s["wsToken"].as_str().unwrap();
    // Wrong token: 4001. Another session's token: 4001. A valid token of an unknown session: 4004.
    let mut ws = connect(&pl.ws(&format!("/ws/session/{sid}?token=AAAA"))).await;
    assert_eq!(next(&mut ws).await, Err(4001));
    let other = pl.initiate(&phone, &svc, &["identity:name"]).await;
    let mut ws = connect(&pl.ws(&format!("/ws/session/{sid}?token={}", other["wsToken"].as_str().unwrap()))).await;
    assert_eq!(next(&mut ws).await, Err(4001));
    let ghost = "sess_0123456789abcdef0123456789abcdef";
    let ghost_token = idseal_x1280::ws_token(&pl.s.state.x1280.ws, ghost);
    let mut ws = connect(&pl.ws(&format!("/ws/session/{ghost}?token={ghost_token}"))).await;
    assert_eq!(next(&mut ws).await, Err(4004));
    // A second socket replaces the first (4009).
    let mut first = connect(&pl.ws(&format!("/ws/session/{sid}?token={token}"))).await;
    assert_eq!(next(&mut first).await.unwrap()["type"], "otp_ready");
    let mut second = connect(&pl.ws(&format!("/ws/session/{sid}?token={token}"))).await;
    assert_eq!(next(&mut second).await.unwrap()["type"], "otp_ready");
    assert_eq!(next(&mut first).await, Err(4009));
    // Expiry reaches the open socket.
    pl.s.advance(61);
    idseal_server::x1280::expire_sessions(&pl.s.state).await.unwrap();
    assert_eq!(next(&mut second).await.unwrap()["type"], "expired");
    assert_eq!(next(&mut second).await, Err(1000));
    // The phone's channel: a bad challenge answer is 4001, a second channel replaces the first.
    let stranger = DeviceKey::generate().unwrap();
    let mut bad = channel(&pl.ws(""), &phone.token_id, &stranger).await;
    assert_eq!(next(&mut bad).await, Err(4001));
    let mut one = channel(&pl.ws(""), &phone.token_id, &phone.key).await;
    assert_eq!(next(&mut one).await.unwrap()["type"], "ready");
    let mut two = channel(&pl.ws(""), &phone.token_id, &phone.key).await;
    assert_eq!(next(&mut two).await.unwrap()["type"], "ready");
    assert_eq!(next(&mut one).await, Err(4009));
}

async fn socket_limits(db: &TestDb) {
    let pl = server(db, |c| c.passwordless.max_sockets_per_ip = 2).await;
    let (svc, _) = pl.service("bar-le-central", &SCOPES).await;
    let phone = pl.phone(2).await;
    let s = pl.initiate(&phone, &svc, &["identity:name"]).await;
    let url =
        pl.ws(&format!("/ws/session/{}?token={}", s["sessionId"].as_str().unwrap(), s["wsToken"].as_str().unwrap()));
    let mut one = connect(&url).await;
    assert_eq!(next(&mut one).await.unwrap()["type"], "otp_ready");
    let mut two = channel(&pl.ws(""), &phone.token_id, &phone.key).await;
    assert_eq!(next(&mut two).await.unwrap()["type"], "ready");
    // A third socket from the same address is refused before the upgrade.
    let addr = pl.base.trim_start_matches("http://").to_owned();
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    match tokio_tungstenite::client_async(url.as_str(), tcp).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 429),
        other => panic!("expected 429, got {:?}", other.map(|_| ())),
    }
    // Closing one frees its place.
    drop(two);
    for _ in 0..100 {
        if pl.s.state.sockets.open() < 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut again = connect(&url).await;
    assert_eq!(next(&mut again).await.unwrap()["type"], "otp_ready");
}

async fn admin_api(db: &TestDb) {
    let pl = server(db, |_| {}).await;
    let token = pl.s.token().to_owned();
    let app = pl.s.app.clone();
    // Unauthenticated: 401.
    assert_eq!(get("/admin/enrollments").send(&app).await.status, StatusCode::UNAUTHORIZED);
    let bad_service =
        json!({"serviceId": "Bad Id", "name": "x", "url": "https://x.example", "allowedScopes": ["identity:name"]});
    post("/admin/services")
        .bearer(&token)
        .json(&bad_service.to_string())
        .send(&app)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let bad_url =
        json!({"serviceId": "x", "name": "x", "url": "https://x.example/path", "allowedScopes": ["identity:name"]});
    post("/admin/services")
        .bearer(&token)
        .json(&bad_url.to_string())
        .send(&app)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let (svc, _) = pl.service("bar-le-central", &SCOPES).await;
    let list = get("/admin/services").bearer(&token).send(&app).await.json();
    assert_eq!(list[0]["serviceId"], "bar-le-central");
    assert!(list[0].get("hashKey").is_none(), "the key is shown once");

    let a = pl.phone(3).await;
    let b = pl.phone(1).await;
    pl.initiate(&a, &svc, &["identity:name"]).await;
    let r = get("/admin/enrollments?trust_level=3").bearer(&token).send(&app).await.json();
    assert_eq!((r["total"].as_u64(), r["enrollments"][0]["token_id"].as_str()), (Some(1), Some(a.token_id.as_str())));
    let r = get(&format!("/admin/enrollments?token_id={}", &b.token_id[..8])).bearer(&token).send(&app).await.json();
    assert_eq!(r["enrollments"][0]["token_id"], b.token_id.as_str());
    let r = get(&format!("/admin/enrollments/{}", a.token_id)).bearer(&token).send(&app).await.json();
    assert_eq!(r["recentSessions"].as_array().unwrap().len(), 1);
    assert!(!r.to_string().contains("MARTIN"), "no identity data at rest");
    let r = get("/admin/sessions/live").bearer(&token).send(&app).await.json();
    assert_eq!(r["sessions"].as_array().unwrap().len(), 1);
    get("/admin/enrollments?limit=1000")
        .bearer(&token)
        .send(&app)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let revoke = |reason: &str| json!({"reason": reason}).to_string();
    let uri = format!("/admin/enrollments/{}/revoke", a.token_id);
    post(&uri)
        .bearer(&token)
        .json(&revoke("bored"))
        .send(&app)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    assert_eq!(post(&uri).bearer(&token).json(&revoke("lost_device")).send(&app).await.status, StatusCode::OK);
    post(&uri)
        .bearer(&token)
        .json(&revoke("lost_device"))
        .send(&app)
        .await
        .assert_error(StatusCode::CONFLICT, "already_revoked");
    let r = get("/admin/enrollments?is_revoked=true").bearer(&token).send(&app).await.json();
    assert_eq!(r["enrollments"][0]["revoked_reason"], "lost_device");
    let del = crate::support::Req::new(axum::http::Method::DELETE, "/admin/services/bar-le-central")
        .bearer(&token)
        .send(&app)
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let r =
        post("/auth/initiate").json(&json!({"tokenId": b.token_id, "serviceVds": svc}).to_string()).send(&app).await;
    r.assert_error(StatusCode::FORBIDDEN, "service_not_registered");
}
