//! Push through the FCM HTTP v1 client against the fake FCM server of idseal-testkit, which verifies the
//! assertion's RS256 signature and claims and answers like FCM.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use idseal_keys::{Algorithm, SigningKey};
use idseal_server::push::{FcmSender, PushConfig, PushError, PushSender, RetryPolicy};
use idseal_testkit::FcmServer;
use idseal_testkit::fcm::PROJECT_ID;
use idseal_types::{FixedClock, UnixTime};
use serde_json::{Value, json};

const T0: i64 = 1_800_000_000;
const OTP: &str = "493817";

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(UnixTime::from_secs(T0)))
}

fn http() -> reqwest::Client {
    idseal_server::http::client_builder().timeout(Duration::from_secs(5)).build().unwrap()
}

fn sender(json: &str, fcm: &FcmServer, clock: &Arc<FixedClock>) -> FcmSender {
    FcmSender::from_service_account_json(json, &fcm.endpoint(), http(), clock.clone()).unwrap()
}

fn start() -> (FcmServer, FcmSender, Arc<FixedClock>) {
    let clock = clock();
    let (fcm, json) = FcmServer::start(clock.clone()).unwrap();
    let s = sender(&json, &fcm, &clock);
    (fcm, s, clock)
}

fn data() -> BTreeMap<String, String> {
    [("type", "auth"), ("sessionId", "s-1"), ("autoPassword", OTP), ("scopes", "openid profile")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[tokio::test]
async fn data_messages_arrive_with_one_token_fetch() {
    let (fcm, s, clock) = start();
    let d = data();
    let (a, b, c) = tokio::join!(s.send("tok-a", &d, 60), s.send("tok-b", &d, 60), s.send("tok-c", &d, 60));
    a.unwrap();
    b.unwrap();
    c.unwrap();
    assert_eq!(fcm.token_requests(), 1, "concurrent sends share one access token");
    let got = fcm.wait_for(3, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 3);
    let mut tokens: Vec<_> = got.iter().map(|m| m.token.as_str()).collect();
    tokens.sort_unstable();
    assert_eq!(tokens, ["tok-a", "tok-b", "tok-c"]);
    for m in &got {
        assert!(m.delivered);
        assert!(!m.has_notification);
        assert_eq!(m.data, d);
        assert_eq!(m.android_priority.as_deref(), Some("high"));
        assert_eq!(m.android_ttl.as_deref(), Some("60s"));
        assert_eq!(m.apns_headers["apns-push-type"], "background");
        assert_eq!(m.apns_headers["apns-priority"], "5");
        assert_eq!(m.apns_headers["apns-expiration"], (T0 + 60).to_string());
        assert_eq!(m.content_available, Some(1));
    }
    // The token (valid 3599 s) is reused until 60 s before its expiry, then replaced.
    clock.advance(Duration::from_secs(3500));
    s.send("tok-a", &d, 60).await.unwrap();
    assert_eq!(fcm.token_requests(), 1);
    clock.advance(Duration::from_secs(40));
    s.send("tok-a", &d, 60).await.unwrap();
    assert_eq!(fcm.token_requests(), 2);
    assert_eq!(fcm.received().len(), 5);
}

#[tokio::test]
async fn an_unregistered_token_is_dead_and_others_still_work() {
    let (fcm, s, _) = start();
    fcm.mark_unregistered("gone");
    let err = s.send("gone", &data(), 60).await.unwrap_err();
    assert!(matches!(err, PushError::TokenDead), "{err:?}");
    assert_eq!(fcm.send_requests(), 1, "a dead token is not retried");
    s.send("alive", &data(), 60).await.unwrap();
    let got = fcm.received();
    assert_eq!((got[0].delivered, got[1].delivered), (false, true));
    // FCM's "invalid registration token" answer is a dead token too.
    fcm.fail_next(1, 400, None);
    assert!(matches!(s.send("malformed", &data(), 60).await, Err(PushError::TokenDead)));
}

#[tokio::test]
async fn retry_after_is_honoured_then_the_message_goes_through() {
    let (fcm, s, _) = start();
    fcm.fail_next(1, 503, Some(1));
    s.send("tok", &data(), 60).await.unwrap();
    assert_eq!(fcm.send_requests(), 2);
    assert_eq!(fcm.received().len(), 1);
    assert_eq!(fcm.token_requests(), 1);
}

#[tokio::test]
async fn quota_exceeded_twice_then_success() {
    let (fcm, s, _) = start();
    let s = s.with_retry_policy(RetryPolicy { base_delay: Duration::from_millis(50), ..RetryPolicy::default() });
    fcm.fail_next(2, 429, None);
    s.send("tok", &data(), 60).await.unwrap();
    assert_eq!(fcm.send_requests(), 3);
    assert_eq!(fcm.received().len(), 1);
}

#[tokio::test]
async fn three_failures_are_unavailable() {
    let (fcm, s, _) = start();
    let s = s.with_retry_policy(RetryPolicy { base_delay: Duration::from_millis(20), ..RetryPolicy::default() });
    fcm.fail_next(3, 503, None);
    let err = s.send("tok", &data(), 60).await.unwrap_err();
    assert!(matches!(&err, PushError::Unavailable(m) if m.contains("3 attempts")), "{err}");
    assert_eq!(fcm.send_requests(), 3, "at most two retries");
    // The next send is not affected.
    s.send("tok", &data(), 60).await.unwrap();
}

#[tokio::test]
async fn a_retry_after_past_the_budget_gives_up_at_once() {
    let (fcm, s, _) = start();
    fcm.fail_next(1, 429, Some(30));
    let err = s.send("tok", &data(), 60).await.unwrap_err();
    assert!(matches!(&err, PushError::Unavailable(m) if m.contains("budget")), "{err}");
    assert_eq!(fcm.send_requests(), 1);
    // The budget never exceeds the message's TTL either.
    fcm.fail_next(1, 503, Some(3));
    let err = s.send("tok", &data(), 2).await.unwrap_err();
    assert!(matches!(err, PushError::Unavailable(_)), "{err}");
    assert_eq!(fcm.send_requests(), 2);
}

#[tokio::test]
async fn a_revoked_access_token_is_refetched_once() {
    let (fcm, s, _) = start();
    s.send("tok", &data(), 60).await.unwrap();
    fcm.expire_access_tokens();
    s.send("tok", &data(), 60).await.unwrap();
    assert_eq!(fcm.token_requests(), 2);
    assert_eq!(fcm.send_requests(), 3);
    // A 401 that persists with a fresh token is a credentials problem, after exactly one refetch.
    fcm.fail_next(2, 401, None);
    let err = s.send("tok", &data(), 60).await.unwrap_err();
    assert!(matches!(err, PushError::Credentials(_)), "{err:?}");
    assert_eq!(fcm.token_requests(), 3);
    assert_eq!(fcm.send_requests(), 5);
}

#[tokio::test]
async fn other_refusals_are_rejected_without_retry() {
    let (fcm, s, _) = start();
    fcm.fail_next(1, 403, None);
    let err = s.send("tok", &data(), 60).await.unwrap_err();
    match &err {
        PushError::Rejected { status: 403, reason } => assert_eq!(reason, "PERMISSION_DENIED/SENDER_ID_MISMATCH"),
        other => panic!("{other:?}"),
    }
    assert_eq!(fcm.send_requests(), 1);
    // Refused before sending: nothing reaches FCM.
    let reserved: BTreeMap<String, String> = [("from".to_owned(), "x".to_owned())].into();
    assert!(matches!(s.send("tok", &reserved, 60).await, Err(PushError::InvalidMessage(_))));
    assert!(matches!(s.send("", &data(), 60).await, Err(PushError::InvalidMessage(_))));
    assert_eq!(fcm.send_requests(), 1);
}

#[tokio::test]
async fn an_assertion_signed_by_another_key_is_refused() {
    let clock = clock();
    let (fcm, _json) = FcmServer::start(clock.clone()).unwrap();
    let impostor = sender(&fcm.impostor_service_account().unwrap(), &fcm, &clock);
    let err = impostor.send("tok", &data(), 60).await.unwrap_err();
    assert!(matches!(&err, PushError::Credentials(m) if m.contains("invalid_grant")), "{err}");
    assert_eq!(fcm.token_requests(), 1);
    assert_eq!(fcm.send_requests(), 0);
}

#[tokio::test]
async fn an_assertion_from_a_skewed_clock_is_refused() {
    let clock = clock();
    let (fcm, json) = FcmServer::start(clock.clone()).unwrap();
    let ahead = Arc::new(FixedClock::new(UnixTime::from_secs(T0 + 7200)));
    let s = sender(&json, &fcm, &ahead);
    let err = s.send("tok", &data(), 60).await.unwrap_err();
    assert!(matches!(&err, PushError::Credentials(m) if m.contains("invalid_grant")), "{err}");
}

/// Sign an assertion with the service account's own key, as the sender does, with claims changed by `edit`.
async fn token_request(fcm: &FcmServer, json: &str, edit: impl FnOnce(&mut Value)) -> reqwest::Response {
    let sa: Value = serde_json::from_str(json).unwrap();
    let pem = sa["private_key"].as_str().unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    let key = SigningKey::from_pkcs8(Algorithm::Rs256, sa["private_key_id"].as_str().unwrap(), &der).unwrap();
    let mut claims = json!({
        "iss": sa["client_email"], "aud": sa["token_uri"], "iat": T0, "exp": T0 + 3600,
        "scope": "https://www.googleapis.com/auth/firebase.messaging",
    });
    edit(&mut claims);
    let assertion = idseal_keys::sign_compact(&key, &serde_json::Map::new(), claims.to_string().as_bytes()).unwrap();
    let form = format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}");
    http()
        .post(format!("{}/token", fcm.endpoint()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_fake_checks_claims_and_refuses_notifications() {
    let clock = clock();
    let (fcm, json) = FcmServer::start(clock.clone()).unwrap();
    type Edit = (&'static str, fn(&mut Value));
    let edits: [Edit; 4] = [
        ("aud", |c| c["aud"] = json!("https://oauth2.googleapis.com/token")),
        ("iss", |c| c["iss"] = json!("someone@else.iam.gserviceaccount.com")),
        ("scope", |c| c["scope"] = json!("https://www.googleapis.com/auth/cloud-platform")),
        ("exp", |c| c["exp"] = json!(T0 - 1)),
    ];
    for (what, edit) in edits {
        let r = token_request(&fcm, &json, edit).await;
        assert_eq!(r.status(), 400, "{what}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant", "{what}");
    }
    let r = token_request(&fcm, &json, |_| {}).await;
    assert_eq!(r.status(), 200);
    let access = r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let url = format!("{}/v1/projects/{PROJECT_ID}/messages:send", fcm.endpoint());
    let with_notification = json!({"message": {"token": "t", "notification": {"title": "x"}, "data": {"a": "b"}}});
    let r = http().post(&url).bearer_auth(&access).json(&with_notification).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["status"], "INVALID_ARGUMENT");
    let got = fcm.received();
    assert!(got[0].has_notification && !got[0].delivered);
    let r = http().post(&url).bearer_auth("not-issued").json(&json!({"message": {"token": "t"}})).send().await;
    assert_eq!(r.unwrap().status(), 401);
}

fn edited(json: &str, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut v: Value = serde_json::from_str(json).unwrap();
    edit(v.as_object_mut().unwrap());
    v.to_string()
}

fn pem(der: &[u8], label: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN {label}-----\n{b64}\n-----END {label}-----\n")
}

#[tokio::test]
async fn bad_service_accounts_are_refused_with_clear_errors() {
    let clock = clock();
    let (fcm, json) = FcmServer::start(clock.clone()).unwrap();
    let sa: Value = serde_json::from_str(&json).unwrap();
    let key_b64: String =
        sa["private_key"].as_str().unwrap().lines().filter(|l| !l.starts_with("-----")).collect::<String>();
    let ec = SigningKey::generate(Algorithm::Es256, "k").unwrap().to_pkcs8().unwrap();
    let s = |v: &str| Value::from(v);
    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "not JSON"),
        ("[1, 2]".into(), "not an object"),
        (edited(&json, |o| drop(o.insert("type".into(), s("authorized_user")))), "`type`"),
        (edited(&json, |o| drop(o.remove("project_id"))), "`project_id`"),
        (edited(&json, |o| drop(o.insert("project_id".into(), s("../evil")))), "`project_id`"),
        (edited(&json, |o| drop(o.insert("client_email".into(), s("")))), "`client_email`"),
        (edited(&json, |o| drop(o.insert("client_email".into(), s("nobody")))), "`client_email`"),
        (edited(&json, |o| drop(o.insert("private_key_id".into(), Value::from(7)))), "`private_key_id`"),
        (edited(&json, |o| drop(o.remove("private_key"))), "`private_key`"),
        (edited(&json, |o| drop(o.insert("private_key".into(), s("MIIE")))), "PKCS#8"),
        (edited(&json, |o| drop(o.insert("private_key".into(), s(&pem(b"x", "RSA PRIVATE KEY"))))), "PKCS#8"),
        (edited(&json, |o| drop(o.insert("private_key".into(), s(&pem(&ec, "PRIVATE KEY"))))), "RSA"),
        (edited(&json, |o| drop(o.insert("token_uri".into(), s("http://oauth.example.org/token")))), "`token_uri`"),
        (edited(&json, |o| drop(o.insert("token_uri".into(), s("token")))), "`token_uri`"),
    ];
    for (bad, expect) in cases {
        let err = FcmSender::from_service_account_json(&bad, &fcm.endpoint(), http(), clock.clone()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, PushError::Credentials(_)), "{msg}");
        assert!(msg.contains(expect), "expected {expect:?} in {msg:?}");
        assert!(!msg.contains(&key_b64[40..80]), "key material in {msg:?}");
    }
    let err = FcmSender::from_service_account_json(&json, "http://fcm.example.org", http(), clock.clone());
    assert!(err.unwrap_err().to_string().contains("push.fcm_endpoint"));
}

#[tokio::test]
async fn secrets_stay_out_of_debug_and_errors() {
    let clock = clock();
    let (fcm, json) = FcmServer::start(clock.clone()).unwrap();
    let s = sender(&json, &fcm, &clock);
    let sa: Value = serde_json::from_str(&json).unwrap();
    let key_b64: String = sa["private_key"].as_str().unwrap().lines().filter(|l| !l.starts_with("-----")).collect();
    let debug = format!("{s:?}");
    assert!(debug.contains(PROJECT_ID) && debug.contains("push@"), "{debug}");
    assert!(!debug.contains("PRIVATE") && !debug.contains(&key_b64[100..140]), "{debug}");
    let mut errors = Vec::new();
    for (status, n) in [(400, 1), (403, 1), (401, 2), (503, 3), (500, 3)] {
        fcm.fail_next(n, status, Some(0));
        errors.push(s.send("tok", &data(), 60).await.unwrap_err());
    }
    fcm.mark_unregistered("gone");
    errors.push(s.send("gone", &data(), 60).await.unwrap_err());
    let impostor = sender(&fcm.impostor_service_account().unwrap(), &fcm, &clock);
    errors.push(impostor.send("tok", &data(), 60).await.unwrap_err());
    for e in &errors {
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains(OTP) && !text.contains("Bearer ") && !text.contains("eyJ"), "{text}");
            assert!(!text.contains(&key_b64[100..140]), "{text}");
        }
    }
}

#[tokio::test]
async fn from_config_reads_a_private_file_only() {
    let clock = clock();
    let (fcm, json) = FcmServer::start(clock.clone()).unwrap();
    assert!(FcmSender::from_config(&PushConfig::default(), clock.clone()).unwrap().is_none());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sa.json");
    std::fs::write(&path, &json).unwrap();
    let cfg =
        PushConfig { fcm_service_account_file: Some(path.clone()), fcm_endpoint: fcm.endpoint(), timeout_secs: 5 };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = FcmSender::from_config(&cfg, clock.clone()).unwrap_err();
        assert!(err.to_string().contains("readable by group or others"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let s = FcmSender::from_config(&cfg, clock.clone()).unwrap().unwrap();
    s.send("tok", &data(), 60).await.unwrap();
    assert_eq!(fcm.received().len(), 1);
    let missing = PushConfig { fcm_service_account_file: Some(dir.path().join("nope.json")), ..cfg };
    assert!(matches!(FcmSender::from_config(&missing, clock), Err(PushError::Credentials(_))));
}
